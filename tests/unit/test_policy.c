/* test_policy.c — lib/policy: endorsement policies parse into their canonical text, refuse bad
 * text with a sentence naming the column, and are satisfied exactly when distinct signers can
 * cover them — one signer per principal, whatever order the signers come in. */
#include "testutil.h"

#include "base/status.h"
#include "policy/policy.h"

#include <pthread.h>
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

/* ---- evaluation ------------------------------------------------------------------------- */

#define MAX_WHO 80

/* Evaluates `policy` against signers written "org.role" (each a distinct identity), given as
 * one comma-separated string. */
static int eval(const char *policy, const char *who)
{
    struct policy *p;
    struct policy_signer s[MAX_WHO];
    char buf[MAX_WHO * 24], *save = NULL;
    uint8_t ids[MAX_WHO];
    size_t n = 0;
    char *err = NULL;
    if (policy_parse(policy, strlen(policy), &p, &err) != STELE_OK)
        fail_msg("%s: %s", policy, err);
    snprintf(buf, sizeof buf, "%s", who);
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char *dot = strrchr(t, '.');
        assert_non_null(dot);
        *dot = 0;
        ids[n] = (uint8_t)n;
        s[n] = (struct policy_signer){t, dot + 1, &ids[n], 1};
        n++;
    }
    int rc = policy_evaluate(p, s, n);
    assert_int_equal(policy_satisfied(p, s, n), rc == STELE_OK);
    policy_destroy(p);
    return rc;
}

#define OK   STELE_OK
#define DENY STELE_ERR_PERMISSION

static void evaluates_and_or_outof(void **state)
{
    const char *and2 = "AND(Org1.peer, Org2.peer)";
    assert_int_equal(eval(and2, "Org1.peer, Org2.peer"), OK);
    assert_int_equal(eval(and2, "Org2.peer, Org1.peer"), OK);
    assert_int_equal(eval(and2, "Org1.peer"), DENY);
    assert_int_equal(eval(and2, "Org1.peer, Org2.admin"), DENY);
    assert_int_equal(eval(and2, ""), DENY);
    assert_int_equal(eval(and2, "Org3.peer, Org1.peer, Org2.peer, Org3.admin"), OK);

    const char *or2 = "OR(Org1.peer, Org2.peer)";
    assert_int_equal(eval(or2, "Org2.peer"), OK);
    assert_int_equal(eval(or2, "Org3.peer, Org1.admin"), DENY);

    const char *two_of_three = "OutOf(2, Org1.peer, Org2.peer, Org3.peer)";
    assert_int_equal(eval(two_of_three, "Org1.peer"), DENY);
    assert_int_equal(eval(two_of_three, "Org1.peer, Org3.peer"), OK);
    assert_int_equal(eval(two_of_three, "Org3.peer, Org2.peer, Org1.peer"), OK);
    assert_int_equal(eval(two_of_three, "Org3.peer, Org3.admin"), DENY);
    const char *two_peers = "OutOf(2, Org1.peer, Org1.peer, Org1.peer, Org2.peer)";
    assert_int_equal(eval(two_peers, "Org1.peer"), DENY);
    assert_int_equal(eval(two_peers, "Org1.peer, Org1.peer"), OK);
    assert_int_equal(eval(two_peers, "Org2.peer, Org1.admin, Org1.peer"), OK);

    /* Nested: two of {both a and b, one of c or d, e}. */
    const char *nested = "OutOf(2, AND(a.peer, b.peer), OutOf(1, c.peer, d.peer), e.peer)";
    assert_int_equal(eval(nested, "a.peer, b.peer"), DENY);
    assert_int_equal(eval(nested, "a.peer, b.peer, d.peer"), OK);
    assert_int_equal(eval(nested, "e.peer, c.peer"), OK);
    assert_int_equal(eval(nested, "a.peer, e.peer"), DENY);
    assert_int_equal(eval(nested, "b.peer, e.peer, a.peer"), OK);

    /* Keywords in any case mean the same. */
    assert_int_equal(eval("and(a.peer, b.peer)", "b.peer, a.peer"), OK);
    assert_int_equal(eval("OUTOF(2, a.peer, b.peer)", "a.peer"), DENY);
}

static void one_signer_counts_once(void **state)
{
    assert_int_equal(eval("AND(Org1.peer, Org1.peer)", "Org1.peer"), DENY);
    assert_int_equal(eval("AND(Org1.peer, Org1.peer)", "Org1.peer, Org1.peer"), OK);
    assert_int_equal(eval("OutOf(2, Org1.member, Org1.peer)", "Org1.peer"), DENY);
    assert_int_equal(eval("OutOf(2, Org1.member, Org1.peer)", "Org1.peer, Org1.admin"), OK);
    assert_int_equal(eval("OutOf(2, Org1.member, Org1.peer)", "Org1.admin, Org1.client"), DENY);
    /* First fit would give the peer to `member` and find no peer left, in either order. */
    assert_int_equal(eval("AND(Org1.member, Org1.peer)", "Org1.peer, Org1.admin"), OK);
    assert_int_equal(eval("AND(Org1.member, Org1.peer)", "Org1.admin, Org1.peer"), OK);
    /* ... and likewise across operators: the OR must take Org2's peer. */
    assert_int_equal(eval("AND(OR(Org1.peer, Org2.peer), Org1.peer)", "Org1.peer, Org2.peer"), OK);
    assert_int_equal(eval("AND(OR(Org1.peer, Org2.peer), Org1.peer)", "Org1.peer"), DENY);
    assert_int_equal(eval("OutOf(2, OR(a.x, b.y), OR(a.x, c.z), a.x)", "a.x, b.y"), OK);
    assert_int_equal(eval("OutOf(3, OR(a.x, b.y), OR(a.x, c.z), a.x)", "a.x, b.y"), DENY);
    assert_int_equal(eval("OutOf(3, OR(a.x, b.y), OR(a.x, c.z), a.x)", "c.z, a.x, b.y"), OK);
}

static void member_matches_every_role_of_its_org(void **state)
{
    const char *m = "Org1.member";
    assert_int_equal(eval(m, "Org1.juror"), OK);
    assert_int_equal(eval(m, "Org1.admin"), OK);
    assert_int_equal(eval(m, "Org2.admin, Org10.peer, org1.peer"), DENY);
    assert_int_equal(eval("Org1.peer", "Org1.member"), DENY);
    /* Names are compared exactly. */
    assert_int_equal(eval("Org1.peer", "org1.peer, Org1.Peer, Org1.peer2"), DENY);
    assert_int_equal(eval("'example.com.peer'", "example.com.peer"), OK);
    assert_int_equal(
        eval("AND(sensors-co.sensor, council.juror)", "council.juror, sensors-co.sensor"), OK);
}

static void signers_with_one_id_count_once(void **state)
{
    struct policy *p;
    assert_int_equal(policy_parse("AND(Org1.peer, Org1.peer)", 25, &p, NULL), STELE_OK);
    static const uint8_t a[2] = {1, 2}, b[3] = {1, 2, 3};
    struct policy_signer s[3] = {
        {"Org1", "peer", a, 2},
        {"Org1", "peer", a, 2},
        {"Org1", "peer", NULL, 0},
    };
    assert_int_equal(policy_evaluate(p, s, 2), STELE_ERR_PERMISSION);
    /* Without an id two signers are two, as the header warns. */
    assert_int_equal(policy_evaluate(p, s + 1, 2), STELE_OK);
    s[1].id = b;
    assert_int_equal(policy_evaluate(p, s, 2), STELE_ERR_PERMISSION);
    s[1].id_len = 3;
    assert_int_equal(policy_evaluate(p, s, 2), STELE_OK);
    /* A duplicate a principal could not use does not hide a later one it could. */
    struct policy_signer t[3] = {
        {"Org9", "peer", a, 2},
        {"Org1", "peer", a, 2},
        {"Org1", "peer", b, 3},
    };
    assert_int_equal(policy_evaluate(p, t, 3), STELE_OK);
    /* Signers without a name match nothing; bad arguments are refused. */
    struct policy_signer u[2] = {{"Org1", NULL, NULL, 0}, {NULL, "peer", NULL, 0}};
    assert_int_equal(policy_evaluate(p, u, 2), STELE_ERR_PERMISSION);
    assert_int_equal(policy_evaluate(p, NULL, 0), STELE_ERR_PERMISSION);
    assert_int_equal(policy_evaluate(p, NULL, 1), STELE_ERR_INVALID);
    assert_int_equal(policy_evaluate(NULL, s, 1), STELE_ERR_INVALID);
    assert_false(policy_satisfied(NULL, s, 1));
    policy_destroy(p);
    policy_destroy(NULL);
}

/* Writes `n` items made from `item` (a format with one %d, the index) to `buf`, separated by
 * commas. */
static char *join(char *buf, size_t size, const char *item, int n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < size; i++) {
        o += (size_t)snprintf(buf + o, size - o, i ? "," : "");
        o += (size_t)snprintf(buf + o, size - o, item, i);
    }
    return buf;
}

static void large_policies_and_the_signer_cap(void **state)
{
    char policy[POLICY_MAX_LEN], list[POLICY_MAX_LEN], who[MAX_WHO * 24];
    /* 64 principals, 64 signers, and one more that no principal names. */
    snprintf(policy, sizeof policy, "AND(%s)", join(list, sizeof list, "o%d.peer", 64));
    join(who, sizeof who, "o%d.peer", 64);
    assert_int_equal(eval(policy, who), OK);
    strcat(who, ",x.peer");
    assert_int_equal(eval(policy, who), OK);
    /* 65 signers that principals name are too many: fail closed. */
    snprintf(policy, sizeof policy, "OR(%s)", join(list, sizeof list, "o%d.member", 64));
    join(who, sizeof who, "o0.r%d", POLICY_MAX_SIGNERS + 1);
    assert_int_equal(eval(policy, who), STELE_ERR_LIMIT);
    /* 32 of 64 interchangeable principals, against 32 signers and 31. */
    snprintf(policy, sizeof policy, "OutOf(32, %s)", join(list, sizeof list, "Org1.member", 64));
    join(who, sizeof who, "Org1.r%d", 32);
    assert_int_equal(eval(policy, who), OK);
    join(who, sizeof who, "Org1.r%d", 31);
    assert_int_equal(eval(policy, who), DENY);
}

static void hostile_policy_fails_closed(void **state)
{
    char policy[POLICY_MAX_LEN], list[POLICY_MAX_LEN], who[MAX_WHO * 24];
    /* 20 of 40 interchangeable principals: too few signers is seen before any search, and
     * copies of one principal are not tried in every order. */
    snprintf(policy, sizeof policy, "OutOf(20, %s)", join(list, sizeof list, "Org1.member", 40));
    join(who, sizeof who, "Org1.r%d", 19);
    assert_int_equal(eval(policy, who), DENY);
    join(who, sizeof who, "Org1.r%d", 20);
    assert_int_equal(eval(policy, who), OK);
    strcat(who, ",Org1.peer,Org2.peer");
    snprintf(policy, sizeof policy, "AND(Org2.peer, OutOf(21, %s))",
             join(list, sizeof list, "Org1.member", 40));
    assert_int_equal(eval(policy, who), OK);
    strrchr(who, ',')[0] = 0;
    assert_int_equal(eval(policy, who), DENY);

    /* But 20 of 30 operands that are not alike, which only 19 signers can serve while two
     * more make the count look sufficient: the search would try C(30, 19) choices before
     * saying no. The step cap turns that into a quick refusal, failing closed. */
    snprintf(policy, sizeof policy, "AND(OutOf(20, %s), Org3.member)",
             join(list, sizeof list, "OR(Org1.member, Org9.member)", 30));
    join(who, sizeof who, "Org1.r%d", 19);
    strcat(who, ",Org3.peer,Org3.admin");
    assert_int_equal(eval(policy, who), STELE_ERR_LIMIT);
    /* With one more signer of Org1 it is satisfied at once. */
    strcat(who, ",Org1.r19");
    assert_int_equal(eval(policy, who), OK);
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

/* ---- concurrent evaluation -------------------------------------------------------------- */

struct shared {
    const struct policy *p; /* evaluated by both threads */
    int failures;           /* wrong answers seen by one thread */
};

static void *evaluate_often(void *arg)
{
    struct shared *sh = arg;
    struct policy_signer ok[2] = {{"Org1", "admin", NULL, 0}, {"Org1", "peer", NULL, 0}};
    for (int i = 0; i < 2000; i++) {
        if (policy_evaluate(sh->p, ok, 2) != STELE_OK ||
            policy_evaluate(sh->p, ok + 1, 1) != STELE_ERR_PERMISSION)
            sh->failures++;
    }
    return NULL;
}

static void evaluates_from_several_threads(void **state)
{
    const char *text = "AND(Org1.member, Org1.peer)";
    struct policy *p;
    assert_int_equal(policy_parse(text, strlen(text), &p, NULL), STELE_OK);
    struct shared sh[2] = {{p, 0}, {p, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, evaluate_often, &sh[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(sh[0].failures + sh[1].failures, 0);
    policy_destroy(p);
}

/* The gateway's choice of peers to ask at once: the fewest candidates, in order, that would
 * complete the policy with what it has. */
static void prefix_of_candidates_needed(void **state)
{
    (void)state;
    static const uint8_t ids[] = {1, 2, 3, 4};
    const struct policy_signer self = {"Org1", "peer", &ids[0], 1};
    const struct policy_signer cand[] = {
        {"Org2", "peer", &ids[1], 1}, {"Org3", "peer", &ids[2], 1}, {"Org4", "peer", &ids[3], 1}};
    struct {
        const char *policy;
        size_t have, want;
    } cases[] = {
        {"AND(Org1.peer, Org2.peer)", 1, 1},
        {"OR(Org1.peer, Org2.peer)", 1, 0}, /* this peer alone */
        {"OutOf(2, Org1.peer, Org2.peer, Org3.peer)", 1, 1},
        {"OutOf(3, Org1.peer, Org2.peer, Org3.peer, Org4.peer)", 1, 2},
        {"AND(Org3.peer, Org4.peer)", 1, 3},  /* Org2 first, in the candidates' order */
        {"AND(Org1.peer, Org2.admin)", 1, 4}, /* peers never do: n_cand + 1 */
        {"AND(Org2.peer, Org3.peer)", 0, 2},  /* nothing in hand */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct policy *p;
        assert_int_equal(policy_parse(cases[i].policy, strlen(cases[i].policy), &p, NULL),
                         STELE_OK);
        size_t got = policy_prefix_needed(p, cases[i].have ? &self : NULL, cases[i].have, cand, 3);
        if (got != cases[i].want)
            fail_msg("%s: %zu candidates, want %zu", cases[i].policy, got, cases[i].want);
        policy_destroy(p);
    }
    /* more signers than it can hold: not satisfiable by this call */
    struct policy *p;
    assert_int_equal(policy_parse("OR(Org1.peer)", 13, &p, NULL), STELE_OK);
    struct policy_signer many[65];
    for (size_t i = 0; i < 65; i++)
        many[i] = self;
    assert_int_equal(policy_prefix_needed(p, many, 65, cand, 3), 4);
    policy_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_to_canonical_text),
        cmocka_unit_test(refuses_with_the_column),
        cmocka_unit_test(evaluates_and_or_outof),
        cmocka_unit_test(one_signer_counts_once),
        cmocka_unit_test(member_matches_every_role_of_its_org),
        cmocka_unit_test(signers_with_one_id_count_once),
        cmocka_unit_test(large_policies_and_the_signer_cap),
        cmocka_unit_test(hostile_policy_fails_closed),
        cmocka_unit_test(lists_the_organisations),
        cmocka_unit_test(prefix_of_candidates_needed),
        cmocka_unit_test(evaluates_from_several_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
