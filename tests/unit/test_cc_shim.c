/* test_cc_shim.c — the chaincode API (stele/chaincode.h, chaincode/shim) run on the test harness
 * (stele/chaincode_harness.h), one invocation's context and answer: arguments, init routing,
 * creator, tx id and timestamp, events, error messages and success payloads; and the harness's
 * own contract (descriptor checks, no re-entry). State is tested in test_cc_shim_state.c,
 * ranges and composite keys in test_cc_shim_range.c; the fixture is cc_shim_fixture.h.
 */
#include "cc_shim_fixture.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SHIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHIM_ASAN 1
#endif
#endif

/* The test chaincode without an init. */
static const struct stele_chaincode test_cc_no_init = {STELE_CC_ABI_VERSION, "shim-test", "1.0",
                                                       NULL, shim_invoke};

/* ---- arguments and context -------------------------------------------------------------- */

static int body_args(stele_cc_stub *stub)
{
    size_t len = 99;
    assert_string_equal(stele_cc_function(stub), "fn");
    assert_int_equal(stele_cc_arg_count(stub), 4);
    const uint8_t *a0 = stele_cc_arg(stub, 0, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(a0, "\xff\x00\x01", 3);
    assert_null(stele_cc_arg_string(stub, 0)); /* holds a NUL */
    const uint8_t *a1 = stele_cc_arg(stub, 1, &len);
    assert_non_null(a1); /* an empty argument still has an address */
    assert_int_equal(len, 0);
    assert_string_equal(stele_cc_arg_string(stub, 1), "");
    assert_string_equal(stele_cc_arg_string(stub, 2), "hello");
    assert_non_null(stele_cc_arg(stub, 2, NULL));
    assert_null(stele_cc_arg_string(stub, 3)); /* "ab\0" */
    assert_null(stele_cc_arg(stub, 4, &len));
    assert_null(stele_cc_arg_string(stub, 4));
    return stele_cc_success(stub, NULL, 0);
}

static void test_args(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_args;
    const uint8_t *args[] = {(const uint8_t *)"\xff\x00\x01", NULL, (const uint8_t *)"hello",
                             (const uint8_t *)"ab\0"};
    size_t lens[] = {3, 0, 5, 3};
    assert_int_equal(stele_cc_harness_invoke(h, "fn", 4, args, lens), 200);
    /* bad calls of the harness itself */
    assert_int_equal(stele_cc_harness_invoke(h, NULL, 0, NULL, NULL), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_invoke(h, "fn", 1, NULL, lens), STELE_CC_INVALID);
    const uint8_t *null_arg[] = {NULL};
    size_t one[] = {1};
    assert_int_equal(stele_cc_harness_invoke(h, "fn", 1, null_arg, one), STELE_CC_INVALID);
}

static int body_strings(stele_cc_stub *stub)
{
    snprintf(shim_seen, sizeof shim_seen, "%s(%zu):%s,%s", stele_cc_function(stub),
             stele_cc_arg_count(stub), shim_or_dash(stele_cc_arg_string(stub, 0)),
             shim_or_dash(stele_cc_arg_string(stub, 1)));
    return stele_cc_success(stub, NULL, 0);
}

static void test_args_strings(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_strings;
    assert_int_equal(stele_cc_harness_call(h, "f", "x", "yz", NULL), 200);
    assert_string_equal(shim_seen, "f(2):x,yz");
    const char *args[] = {"1", "22"};
    assert_int_equal(stele_cc_harness_invoke_strings(h, "", 2, args), 200);
    assert_string_equal(shim_seen, "(2):1,22");
    const char *bad[] = {"1", NULL};
    assert_int_equal(stele_cc_harness_invoke_strings(h, "g", 2, bad), STELE_CC_INVALID);
    assert_string_equal(shim_seen, "(2):1,22"); /* not run */
}

static void test_init_routing(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_strings;
    assert_int_equal(stele_cc_harness_call(h, "init", NULL), 200);
    assert_int_equal(shim_init_calls, 1);
    assert_string_equal(stele_cc_harness_payload(h, NULL), "from init");
    assert_string_equal(shim_seen, ""); /* invoke did not run */

    /* without an init, "init" is an ordinary function */
    stele_cc_harness *h2;
    assert_int_equal(stele_cc_harness_create(&test_cc_no_init, &h2), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h2, "init", "a", NULL), 200);
    assert_string_equal(shim_seen, "init(1):a,-");
    assert_int_equal(shim_init_calls, 1);
    stele_cc_harness_destroy(h2);
}

static int body_creator(stele_cc_stub *stub)
{
    const uint8_t *ch = stele_cc_creator_certhash(stub);
    int n = snprintf(shim_seen, sizeof shim_seen, "%s|%s|%s|%s|%s|", stele_cc_creator_id(stub),
                     stele_cc_creator_org(stub), stele_cc_creator_role(stub),
                     shim_or_dash(stele_cc_creator_attr(stub, "dept")),
                     shim_or_dash(stele_cc_creator_attr(stub, "level")));
    for (int i = 0; i < 32; i++)
        n += snprintf(shim_seen + n, sizeof shim_seen - (size_t)n, "%02x", ch[i]);
    assert_null(stele_cc_creator_attr(stub, NULL));
    assert_null(stele_cc_creator_attr(stub, "dep")); /* a prefix of an attribute is not it */
    return stele_cc_success(stub, NULL, 0);
}

static void test_creator(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_creator;
    char want[512];

    /* the default creator, with a stand-in certificate hash */
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(shim_seen, "user1|Org1|client|-|-|", 22) == 0);
    char default_hash[65];
    strcpy(default_hash, shim_seen + 22);
    assert_int_equal(strlen(default_hash), 64);

    uint8_t hash[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(stele_cc_harness_set_creator(h, "alice", "Org2", "admin", hash), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_set_attr(h, "dept", "sales"), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_set_attr(h, "level", "3"), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_set_attr(h, "dept", "audit"), STELE_CC_OK); /* replaces */
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    snprintf(want, sizeof want, "alice|Org2|admin|audit|3|");
    for (int i = 0; i < 32; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%02x", hash[i]);
    assert_string_equal(shim_seen, want);

    assert_int_equal(stele_cc_harness_set_attr(h, "dept", NULL), STELE_CC_OK); /* removes */
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(shim_seen, "alice|Org2|admin|-|3|", 21) == 0);

    /* a new creator drops the attributes; derived hashes differ between creators */
    assert_int_equal(stele_cc_harness_set_creator(h, "bob", "Org1", "client", NULL), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(shim_seen, "bob|Org1|client|-|-|", 20) == 0);
    assert_string_not_equal(shim_seen + 20, default_hash);
    assert_int_equal(stele_cc_harness_set_creator(h, "user1", "Org1", "other", NULL), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_string_equal(shim_seen + 21, default_hash); /* same id and org: same stand-in */

    assert_int_equal(stele_cc_harness_set_creator(h, "", "Org1", "client", NULL), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_set_creator(h, "x", NULL, "client", NULL), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_set_attr(h, "", "v"), STELE_CC_INVALID);
}

static int body_tx(stele_cc_stub *stub)
{
    snprintf(shim_seen, sizeof shim_seen, "%s@%llu", stele_cc_tx_id(stub),
             (unsigned long long)stele_cc_timestamp_ms(stub));
    return stele_cc_success(stub, NULL, 0);
}

static void test_tx_id_and_timestamp(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_tx;
    char want[128];
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%064x@0", 1u);
    assert_string_equal(shim_seen, want);

    stele_cc_harness_set_timestamp(h, 1700000000123ull);
    const char *id = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    assert_int_equal(stele_cc_harness_set_tx_id(h, id), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%s@1700000000123", id);
    assert_string_equal(shim_seen, want);

    /* the chosen id was for one invocation; numbering goes on */
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%064x@1700000000123", 3u);
    assert_string_equal(shim_seen, want);

    char bad[66];
    memset(bad, '0', 64);
    bad[64] = 0;
    bad[10] = 'g';
    assert_int_equal(stele_cc_harness_set_tx_id(h, bad), STELE_CC_INVALID); /* not hex */
    bad[10] = '0';
    bad[64] = '0';
    bad[65] = 0;
    assert_int_equal(stele_cc_harness_set_tx_id(h, bad), STELE_CC_INVALID); /* 65 digits */
    bad[63] = 0;
    assert_int_equal(stele_cc_harness_set_tx_id(h, bad), STELE_CC_INVALID); /* 63 digits */
}

/* ---- events and responses --------------------------------------------------------------- */

static int body_event(stele_cc_stub *stub)
{
    char name[130];
    memset(name, 'e', sizeof name - 1);
    name[129] = 0;
    assert_int_equal(stele_cc_set_event(stub, name, "x", 1), STELE_CC_LIMIT); /* 129 octets */
    assert_int_equal(stele_cc_set_event(stub, "", "x", 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_set_event(stub, NULL, "x", 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_set_event(stub, "first", "one", 3), STELE_CC_OK);
    assert_int_equal(stele_cc_set_event(stub, "second", "\x00two", 4), STELE_CC_OK);
    assert_int_equal(stele_cc_set_event(stub, "third", NULL, 1), STELE_CC_INVALID);
    name[128] = 0;
    assert_int_equal(stele_cc_set_event(stub, name, NULL, 0), STELE_CC_OK); /* 128 octets */
    assert_int_equal(stele_cc_set_event(stub, "second", "\x00two", 4), STELE_CC_OK);
    return stele_cc_success(stub, NULL, 0);
}

static void test_event_replaced(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_event;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    const uint8_t *p;
    size_t len;
    assert_string_equal(stele_cc_harness_event(h, &p, &len), "second");
    assert_int_equal(len, 4);
    assert_memory_equal(p, "\x00two", 4);
    /* the next invocation forgets it */
    shim_body = body_strings;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_null(stele_cc_harness_event(h, &p, &len));
    assert_int_equal(len, 0);
}

static int body_error(stele_cc_stub *stub)
{
    const char *what = stele_cc_arg_string(stub, 0);
    if (strcmp(what, "format") == 0)
        return stele_cc_error(stub, 404, "no %s %d/%u %.2f", "asset", -7, 42u, 1.5);
    if (strcmp(what, "long") == 0) {
        char big[2000];
        for (size_t i = 0; i < sizeof big - 1; i++)
            big[i] = (char)('a' + i % 26);
        big[sizeof big - 1] = 0;
        return stele_cc_error(stub, 500, "%s", big);
    }
    if (strcmp(what, "utf8") == 0 || strcmp(what, "utf8-fits") == 0) {
        /* "é" (2 octets) across the limit, or ending just on it */
        char text[1100];
        size_t n = strcmp(what, "utf8") == 0 ? 1023 : 1022;
        memset(text, 'a', n);
        strcpy(text + n, "\xc3\xa9 and more");
        return stele_cc_error(stub, 400, "%s", text);
    }
    if (strcmp(what, "twice") == 0) {
        stele_cc_error(stub, 400, "first");
        return stele_cc_error(stub, 403, "second");
    }
    return stele_cc_error(stub, 400, "%s", "");
}

static void test_error_message(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_error;
    assert_int_equal(stele_cc_harness_call(h, "e", "format", NULL), 404);
    assert_string_equal(stele_cc_harness_message(h), "no asset -7/42 1.50");

    assert_int_equal(stele_cc_harness_call(h, "e", "long", NULL), 500);
    const char *m = stele_cc_harness_message(h);
    assert_int_equal(strlen(m), 1024);
    for (size_t i = 0; i < 1024; i++)
        if (m[i] != (char)('a' + i % 26))
            fail_msg("message octet %zu", i);

    /* truncation never splits a UTF-8 character (the message is a protobuf string) */
    assert_int_equal(stele_cc_harness_call(h, "e", "utf8", NULL), 400);
    m = stele_cc_harness_message(h);
    assert_int_equal(strlen(m), 1023);
    assert_int_equal(strspn(m, "a"), 1023);
    assert_int_equal(stele_cc_harness_call(h, "e", "utf8-fits", NULL), 400);
    m = stele_cc_harness_message(h);
    assert_int_equal(strlen(m), 1024);
    assert_string_equal(m + 1022, "\xc3\xa9");

    assert_int_equal(stele_cc_harness_call(h, "e", "twice", NULL), 403);
    assert_string_equal(stele_cc_harness_message(h), "second");
    assert_int_equal(stele_cc_harness_call(h, "e", "empty", NULL), 400);
    assert_string_equal(stele_cc_harness_message(h), "");
}

static int body_success(stele_cc_stub *stub)
{
    const char *what = stele_cc_arg_string(stub, 0);
    if (strcmp(what, "bytes") == 0) {
        uint8_t p[5] = {'o', 0, 'k', 0xff, 0};
        stele_cc_success(stub, "replaced", 8);
        return stele_cc_success(stub, p, sizeof p);
    }
    if (strcmp(what, "bad") == 0)
        return stele_cc_success(stub, NULL, 3);
    return stele_cc_success(stub, NULL, 0);
}

static void test_success_payload(void **state)
{
    stele_cc_harness *h = *state;
    shim_body = body_success;
    size_t len;
    assert_int_equal(stele_cc_harness_call(h, "s", "bytes", NULL), 200);
    const uint8_t *p = stele_cc_harness_payload(h, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "o\0k\xff\0", 5);
    assert_string_equal(stele_cc_harness_message(h), "");

    assert_int_equal(stele_cc_harness_call(h, "s", "none", NULL), 200);
    p = stele_cc_harness_payload(h, &len);
    assert_int_equal(len, 0);
    assert_string_equal((const char *)p, "");

    /* a payload that is not there is a failure of the chaincode */
    assert_int_equal(stele_cc_harness_call(h, "s", "bad", NULL), 500);
    assert_string_equal(stele_cc_harness_message(h), "response payload of 3 octets refused");
}

/* ---- the harness ------------------------------------------------------------------------ */

static void test_descriptor_checks(void **state)
{
    stele_cc_harness *h = (stele_cc_harness *)1;
    struct stele_chaincode cc = shim_cc;
    cc.abi_version = STELE_CC_ABI_VERSION + 1;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    cc = shim_cc;
    cc.invoke = NULL;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    const char *bad_names[] = {"",
                               "with space",
                               "slash/",
                               "x\xc3\xa9",
                               "12345678901234567890123456789012345678901234567890123456789012345",
                               NULL};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        cc = shim_cc;
        cc.name = bad_names[i];
        if (stele_cc_harness_create(&cc, &h) != STELE_CC_INVALID)
            fail_msg("name %zu accepted", i);
    }
    cc = shim_cc;
    cc.version = NULL;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    /* the peer refuses to load a version over 128 octets; the lifecycle refuses a name
     * starting with '_' (system chaincodes): neither could be deployed */
    char version[130];
    memset(version, 'v', sizeof version - 1);
    version[129] = 0;
    cc.version = version;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    cc = shim_cc;
    cc.name = "_lifecycle";
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_create(NULL, &h), STELE_CC_INVALID);
    assert_ptr_equal(h, (stele_cc_harness *)1); /* untouched */
    cc = shim_cc;
    cc.name = "1234567890123456789012345678901234567890123456789012345678901234"; /* 64 */
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_OK);
    stele_cc_harness_destroy(h);
    cc.name = "a_b";
    version[128] = 0; /* 128 octets */
    cc.version = version;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_OK);
    stele_cc_harness_destroy(h);
    stele_cc_harness_destroy(NULL);
}

static stele_cc_harness *reentrant_h;

static int body_reenter(stele_cc_stub *stub)
{
    int rc = stele_cc_harness_call(reentrant_h, "again", NULL);
    int put = stele_cc_harness_put(reentrant_h, "x", "y", 1);
    int creator = stele_cc_harness_set_creator(reentrant_h, "a", "b", "c", NULL);
    snprintf(shim_seen, sizeof shim_seen, "%d %d %d", rc, put, creator);
    return stele_cc_success(stub, NULL, 0);
}

static void test_no_reentry(void **state)
{
    stele_cc_harness *h = reentrant_h = *state;
    shim_body = body_reenter;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    char want[32];
    snprintf(want, sizeof want, "%d %d %d", STELE_CC_INVALID, STELE_CC_INVALID, STELE_CC_INVALID);
    assert_string_equal(shim_seen, want);
    shim_expect_absent(h, "x");
}

/* ---- pointers live for one invocation --------------------------------------------------- */

#ifdef SHIM_ASAN
static int kept_what;             /* which context pointer body_keep keeps */
static const volatile char *kept; /* what it kept */

static int body_keep(stele_cc_stub *stub)
{
    switch (kept_what) {
    case 0:
        kept = stele_cc_creator_id(stub);
        break;
    case 1:
        kept = stele_cc_creator_org(stub);
        break;
    case 2:
        kept = stele_cc_creator_role(stub);
        break;
    case 3:
        kept = stele_cc_creator_attr(stub, "dept");
        break;
    case 4:
        kept = stele_cc_tx_id(stub);
        break;
    default:
        kept = (const char *)stele_cc_creator_certhash(stub);
        break;
    }
    return stele_cc_success(stub, NULL, 0);
}

static int body_use_kept(stele_cc_stub *stub)
{
    return stele_cc_success(stub, (const void *)kept, 1);
}
#endif

/* The peer frees the invocation's context (creator, attributes, tx id) when the invocation
 * ends, so the harness must too: a chaincode that keeps such a pointer for a later invocation
 * is caught by AddressSanitizer in its unit tests, not left to crash on the peer. Each case
 * runs in a child, which must not survive the read. */
static void test_context_freed_after_invocation(void **state)
{
#ifndef SHIM_ASAN
    (void)state;
    skip(); /* only AddressSanitizer can tell */
#else
    stele_cc_harness *h = *state;
    assert_int_equal(stele_cc_harness_set_attr(h, "dept", "sales"), STELE_CC_OK);
    const char *names[] = {"creator id", "org", "role", "attribute", "tx id", "certhash"};
    for (kept_what = 0; kept_what < 6; kept_what++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* no cmocka here: its failures belong to the parent */
            if (!freopen("/dev/null", "w", stderr))
                _exit(3);
            shim_body = body_keep;
            if (stele_cc_harness_call(h, "keep", NULL) != 200)
                _exit(2);
            shim_body = body_use_kept;
            stele_cc_harness_call(h, "use", NULL);
            _exit(0); /* the kept pointer was still valid */
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            fail_msg("the %s of an invocation stayed valid after it", names[kept_what]);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
            fail_msg("the invocation keeping the %s failed", names[kept_what]);
    }
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_args, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_args_strings, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_init_routing, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_creator, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_tx_id_and_timestamp, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_event_replaced, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_error_message, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_success_payload, shim_setup, shim_teardown),
        cmocka_unit_test(test_descriptor_checks),
        cmocka_unit_test_setup_teardown(test_no_reentry, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_context_freed_after_invocation, shim_setup,
                                        shim_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
