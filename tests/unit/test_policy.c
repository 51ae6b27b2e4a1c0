/* test_policy.c — lib/policy: endorsement policies parse into their canonical text and refuse
 * bad text with a sentence naming the column. */
#include "testutil.h"

#include "base/status.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses `text`, which must be accepted, and checks its canonical text and that the canonical
 * text parses back to itself. */
static void expect_canonical(const char *text, const char *canonical)
{
    struct policy *p, *again;
    char *err = NULL, *out, *out2;
    int rc = policy_parse(text, strlen(text), &p, &err);
    if (rc != STELE_OK)
        fail_msg("%s: %s", text, err);
    assert_null(err);
    assert_int_equal(policy_format(p, &out), STELE_OK);
    assert_string_equal(out, canonical);
    assert_true(strlen(out) <= strlen(text));
    assert_int_equal(policy_parse(out, strlen(out), &again, NULL), STELE_OK);
    assert_int_equal(policy_format(again, &out2), STELE_OK);
    assert_string_equal(out2, canonical);
    free(out);
    free(out2);
    policy_destroy(p);
    policy_destroy(again);
}

/* Parses the `len` octets of `text`, which must be refused with `msg`. */
static void expect_refused_n(const char *text, size_t len, const char *msg)
{
    struct policy *p = (struct policy *)1;
    char *err = NULL;
    assert_int_equal(policy_parse(text, len, &p, &err), STELE_ERR_INVALID);
    assert_null(p);
    assert_non_null(err);
    if (strcmp(err, msg) != 0)
        fail_msg("%.60s\n  got:      %s\n  expected: %s", text, err, msg);
    free(err);
    assert_int_equal(policy_parse(text, len, &p, NULL), STELE_ERR_INVALID);
}

static void expect_refused(const char *text, const char *msg)
{
    expect_refused_n(text, strlen(text), msg);
}

static void parses_to_canonical_text(void **state)
{
    expect_canonical("Org1.peer", "Org1.peer");
    expect_canonical("AND(Org1.peer, Org2.peer)", "AND(Org1.peer,Org2.peer)");
    expect_canonical("  or ( 'Org1.admin' ,\n\tOrg2.member )  ", "OR(Org1.admin,Org2.member)");
    expect_canonical("OUTOF(2, org1.peer, org2.peer, org3.peer)",
                     "OutOf(2,org1.peer,org2.peer,org3.peer)");
    expect_canonical("outof ( 002 , a.b , c.d )", "OutOf(2,a.b,c.d)");
    expect_canonical("And(sensors-co.sensor-owner, council.juror, Org_2.booth)",
                     "AND(sensors-co.sensor-owner,council.juror,Org_2.booth)");
    expect_canonical("OutOf(1, AND(a.x, b.y), OR(c.z))", "OutOf(1,AND(a.x,b.y),OR(c.z))");
    expect_canonical("AND(a.b)", "AND(a.b)");
    /* A keyword before '.' is an organisation's name. */
    expect_canonical("OR(AND.peer, or.admin)", "OR(AND.peer,or.admin)");
    /* Quoted principals split at the last '.'; only organisations that need it stay quoted. */
    expect_canonical("'example.com.peer'", "'example.com.peer'");
    expect_canonical("OR('sensors co.sensor', 'Org1.peer')", "OR('sensors co.sensor',Org1.peer)");

    /* At the limits. */
    char name[POLICY_MAX_NAME + 8];
    memset(name, 'o', POLICY_MAX_NAME);
    snprintf(name + POLICY_MAX_NAME, 8, ".peer");
    expect_canonical(name, name);
    char deep[POLICY_MAX_DEPTH * 5 + 8] = "";
    for (int i = 0; i < POLICY_MAX_DEPTH; i++)
        strcat(deep, "OR(");
    strcat(deep, "a.b");
    for (int i = 0; i < POLICY_MAX_DEPTH; i++)
        strcat(deep, ")");
    expect_canonical(deep, deep);
    char *longest = malloc(POLICY_MAX_LEN + 1);
    memset(longest, ' ', POLICY_MAX_LEN);
    memcpy(longest, "a.b", 3);
    longest[POLICY_MAX_LEN] = 0;
    expect_canonical(longest, "a.b");
    free(longest);
}

static void refuses_with_the_column(void **state)
{
    expect_refused("", "column 1: the policy is empty");
    expect_refused(" \t\n", "column 4: the policy is empty");
    expect_refused("AND(Org1.peer, Org2.peer",
                   "column 25: expected ',' or ')' in AND( opened at column 1, found the end of "
                   "the text");
    expect_refused("OR(AND(a.b, c.d), e.f",
                   "column 22: expected ',' or ')' in OR( opened at column 1, found the end of "
                   "the text");
    expect_refused("AND()", "column 1: AND( needs at least one operand");
    expect_refused("OR( )", "column 1: OR( needs at least one operand");
    expect_refused("AND(a.b, or( ))", "column 10: OR( needs at least one operand");
    expect_refused("OutOf(0, a.b)",
                   "column 7: k must be 1..1, the number of operands of OutOf(; it is 0");
    expect_refused("OutOf(3, a.b, c.d)",
                   "column 7: k must be 1..2, the number of operands of OutOf(; it is 3");
    expect_refused("OutOf(99999999999999999999, a.b)",
                   "column 7: k must be 1..1, the number of operands of OutOf(; it is "
                   "99999999999999999999");
    expect_refused("OutOf(a.b, c.d)", "column 7: expected the number k after OutOf(, found 'a'");
    expect_refused("OutOf(1 a.b)", "column 9: expected ',' after k of OutOf(, found 'a'");
    expect_refused("OutOf(1)", "column 8: expected ',' after k of OutOf(, found ')'");
    expect_refused("Org1", "column 1: 'Org1' is neither a principal (Org.role) nor an operator");
    expect_refused("Org1.", "column 6: expected a role after 'Org1.'");
    expect_refused("AND(Org1.peer,)",
                   "column 15: expected a principal (Org.role) or AND, OR, OutOf, found ')'");
    expect_refused("AND(Org1.peer) x", "column 16: unexpected 'x' after the end of the policy");
    expect_refused("Org1.peer)", "column 10: unexpected ')' after the end of the policy");
    expect_refused("Org1.peer.x", "column 10: unexpected '.' after the end of the policy");
    expect_refused("NOT(Org1.peer)", "column 1: unknown operator 'NOT'; expected AND, OR or OutOf");
    expect_refused("AND(a.b, MAJORITY (c.d))",
                   "column 10: unknown operator 'MAJORITY'; expected AND, OR or OutOf");
    expect_refused("MAJORITY Admins",
                   "column 1: 'MAJORITY' is neither a principal (Org.role) nor an operator");
    expect_refused("Org1 .peer",
                   "column 1: 'Org1' is neither a principal (Org.role) nor an operator");
    expect_refused("\"Org1.peer\"",
                   "column 1: expected a principal (Org.role) or AND, OR, OutOf, found '\"'");
    expect_refused("'Org1.peer", "column 1: the quote opened here is not closed");
    expect_refused("'Org1peer'", "column 1: 'Org1peer' is not a principal (Org.role)");
    expect_refused("'.peer'", "column 1: '.peer' is not a principal (Org.role)");
    expect_refused("' Org1.peer'", "column 2: organisation name ' Org1' has a control character "
                                   "or a space at either end");
    expect_refused("'Org\x01.peer'", "column 2: organisation name 'Org\\x01' has a control "
                                     "character or a space at either end");
    expect_refused("'Org1.pe er'", "column 9: role 'pe er' may hold only letters, digits, _ and -");
    expect_refused("'Org1.'", "column 7: expected a role after 'Org1.'");
    expect_refused("AND(a.b, c.d\x01)",
                   "column 13: expected ',' or ')' in AND( opened at column 1, found octet 0x01");
    expect_refused_n("a.b\0", 4, "column 4: unexpected octet 0x00 after the end of the policy");
    expect_refused("a\xc3\xa9.b",
                   "column 2: unexpected octet 0xc3 after 'a'; names hold letters, digits, "
                   "_ and -");
    expect_refused("Org1:peer", "column 5: unexpected ':' after 'Org1'; names hold letters, "
                                "digits, _ and -");

    /* Limits. */
    char deep[(POLICY_MAX_DEPTH + 1) * 5 + 8] = "";
    for (int i = 0; i <= POLICY_MAX_DEPTH; i++)
        strcat(deep, "AND(");
    strcat(deep, "a.b");
    for (int i = 0; i <= POLICY_MAX_DEPTH; i++)
        strcat(deep, ")");
    expect_refused(deep, "column 65: operators nested more than 16 deep");

    char *text = malloc(POLICY_MAX_LEN + 2);
    memset(text, ' ', POLICY_MAX_LEN + 1);
    memcpy(text, "a.b", 3);
    text[POLICY_MAX_LEN + 1] = 0;
    expect_refused(text, "column 4097: the policy is 4097 octets long; at most 4096 are allowed");

    /* 65 principals: "OR(" then "p.r," 64 times; the 65th starts at offset 3 + 64 * 4. */
    strcpy(text, "OR(");
    for (int i = 0; i <= POLICY_MAX_PRINCIPALS; i++)
        strcat(text, i ? ",p.r" : "p.r");
    strcat(text, ")");
    expect_refused(text, "column 260: more than 64 principals");

    /* 65 operators: OR( then AND(p.r), 64 times. */
    strcpy(text, "OR(");
    for (int i = 0; i < POLICY_MAX_OPERATORS; i++)
        strcat(text, i ? ",AND(p.r)" : "AND(p.r)");
    strcat(text, ")");
    expect_refused(text, "column 571: more than 64 operators");

    char name[POLICY_MAX_NAME + 16];
    memset(name, 'o', POLICY_MAX_NAME + 1);
    snprintf(name + POLICY_MAX_NAME + 1, 8, ".peer");
    expect_refused(name, "column 1: organisation name "
                         "oooooooooooooooooooooooooooooooooooooooo... is longer than 128 octets");
    snprintf(name, sizeof name, "o.");
    memset(name + 2, 'r', POLICY_MAX_NAME + 1);
    name[POLICY_MAX_NAME + 3] = 0;
    expect_refused(name, "column 3: role rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr... is longer "
                         "than 128 octets");
    free(text);
}

static void lists_the_organisations(void **state)
{
    const char *text = "OR(AND(b.x, a.y), b.z, 'c d.w', a.member)";
    struct policy *p;
    const char *orgs[4] = {NULL};
    assert_int_equal(policy_parse(text, strlen(text), &p, NULL), STELE_OK);
    assert_int_equal(policy_orgs(p, orgs, 4), 3);
    assert_string_equal(orgs[0], "b");
    assert_string_equal(orgs[1], "a");
    assert_string_equal(orgs[2], "c d");
    assert_null(orgs[3]);
    orgs[0] = orgs[1] = orgs[2] = NULL;
    assert_int_equal(policy_orgs(p, orgs, 1), 3);
    assert_string_equal(orgs[0], "b");
    assert_null(orgs[1]);
    policy_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_to_canonical_text),
        cmocka_unit_test(refuses_with_the_column),
        cmocka_unit_test(lists_the_organisations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
