/* test_cc_shim.c — the chaincode API (stele/chaincode.h, chaincode/shim) run on the test harness
 * (stele/chaincode_harness.h): arguments, creator, tx id and timestamp, state with
 * read-your-writes, failed invocations writing nothing, ranges in unsigned octet order over
 * committed state and own writes, composite keys, key checks, events and responses; and the
 * harness's own contract (descriptor checks, state listing, results).
 *
 * Each test installs a body for the test chaincode (`body`), invokes it through the harness and
 * checks what the body saw (asserting inside the body) and what the harness kept. */
#include "testutil.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the test chaincode ----------------------------------------------------------------- */

static int (*body)(stele_cc_stub *stub); /* what invoke runs */
static int init_calls;                   /* how many times init ran */
static char seen[8192];                  /* what a body recorded, for checks after the call */

static int cc_invoke(stele_cc_stub *stub)
{
    return body(stub);
}

static int cc_init(stele_cc_stub *stub)
{
    init_calls++;
    return stele_cc_success(stub, "from init", 9);
}

static const struct stele_chaincode test_cc = {STELE_CC_ABI_VERSION, "shim-test", "1.0", cc_init,
                                               cc_invoke};
static const struct stele_chaincode test_cc_no_init = {STELE_CC_ABI_VERSION, "shim-test", "1.0",
                                                       NULL, cc_invoke};

static int setup(void **state)
{
    stele_cc_harness *h = NULL;
    if (stele_cc_harness_create(&test_cc, &h) != STELE_CC_OK)
        return -1;
    body = NULL;
    init_calls = 0;
    seen[0] = 0;
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    stele_cc_harness_destroy(*state);
    return 0;
}

/* Appends `key` to `seen`, showing 0x1E as '^' and 0x1F as '/', then a '|'. */
static void record_key(const char *key)
{
    size_t n = strlen(seen);
    for (; *key && n + 2 < sizeof seen; key++)
        seen[n++] = *key == 0x1e ? '^' : *key == 0x1f ? '/' : *key;
    seen[n++] = '|';
    seen[n] = 0;
}

/* Records every key of `it` and its value ("key=value|"), checking that the iterator ends. */
static void record_iter(stele_cc_iter *it)
{
    const char *key;
    const uint8_t *value;
    size_t len;
    int rc;
    while ((rc = stele_cc_iter_next(it, &key, &value, &len)) == 1) {
        record_key(key);
        seen[strlen(seen) - 1] = '=';
        size_t n = strlen(seen);
        assert_true(n + len + 2 < sizeof seen);
        memcpy(seen + n, value, len);
        seen[n + len] = '|';
        seen[n + len + 1] = 0;
    }
    assert_int_equal(rc, 0);
}

static void put_str(stele_cc_harness *h, const char *key, const char *value)
{
    assert_int_equal(stele_cc_harness_put(h, key, value, strlen(value)), STELE_CC_OK);
}

/* Checks that `key` holds the string `want` in the harness's committed state. */
static void expect_stored(stele_cc_harness *h, const char *key, const char *want)
{
    const uint8_t *v;
    size_t len;
    int rc = stele_cc_harness_get(h, key, &v, &len);
    if (rc != STELE_CC_OK)
        fail_msg("%s: %d", key, rc);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

static void expect_absent(stele_cc_harness *h, const char *key)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, key, &v, &len), STELE_CC_NOT_FOUND);
}

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
    body = body_args;
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

/* `s`, or "-" for NULL. */
static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static int body_strings(stele_cc_stub *stub)
{
    snprintf(seen, sizeof seen, "%s(%zu):%s,%s", stele_cc_function(stub), stele_cc_arg_count(stub),
             or_dash(stele_cc_arg_string(stub, 0)), or_dash(stele_cc_arg_string(stub, 1)));
    return stele_cc_success(stub, NULL, 0);
}

static void test_args_strings(void **state)
{
    stele_cc_harness *h = *state;
    body = body_strings;
    assert_int_equal(stele_cc_harness_call(h, "f", "x", "yz", NULL), 200);
    assert_string_equal(seen, "f(2):x,yz");
    const char *args[] = {"1", "22"};
    assert_int_equal(stele_cc_harness_invoke_strings(h, "", 2, args), 200);
    assert_string_equal(seen, "(2):1,22");
    const char *bad[] = {"1", NULL};
    assert_int_equal(stele_cc_harness_invoke_strings(h, "g", 2, bad), STELE_CC_INVALID);
    assert_string_equal(seen, "(2):1,22"); /* not run */
}

static void test_init_routing(void **state)
{
    stele_cc_harness *h = *state;
    body = body_strings;
    assert_int_equal(stele_cc_harness_call(h, "init", NULL), 200);
    assert_int_equal(init_calls, 1);
    assert_string_equal(stele_cc_harness_payload(h, NULL), "from init");
    assert_string_equal(seen, ""); /* invoke did not run */

    /* without an init, "init" is an ordinary function */
    stele_cc_harness *h2;
    assert_int_equal(stele_cc_harness_create(&test_cc_no_init, &h2), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h2, "init", "a", NULL), 200);
    assert_string_equal(seen, "init(1):a,-");
    assert_int_equal(init_calls, 1);
    stele_cc_harness_destroy(h2);
}

static int body_creator(stele_cc_stub *stub)
{
    const uint8_t *ch = stele_cc_creator_certhash(stub);
    int n = snprintf(seen, sizeof seen, "%s|%s|%s|%s|%s|", stele_cc_creator_id(stub),
                     stele_cc_creator_org(stub), stele_cc_creator_role(stub),
                     or_dash(stele_cc_creator_attr(stub, "dept")),
                     or_dash(stele_cc_creator_attr(stub, "level")));
    for (int i = 0; i < 32; i++)
        n += snprintf(seen + n, sizeof seen - (size_t)n, "%02x", ch[i]);
    assert_null(stele_cc_creator_attr(stub, NULL));
    assert_null(stele_cc_creator_attr(stub, "dep")); /* a prefix of an attribute is not it */
    return stele_cc_success(stub, NULL, 0);
}

static void test_creator(void **state)
{
    stele_cc_harness *h = *state;
    body = body_creator;
    char want[512];

    /* the default creator, with a stand-in certificate hash */
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(seen, "user1|Org1|client|-|-|", 22) == 0);
    char default_hash[65];
    strcpy(default_hash, seen + 22);
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
    assert_string_equal(seen, want);

    assert_int_equal(stele_cc_harness_set_attr(h, "dept", NULL), STELE_CC_OK); /* removes */
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(seen, "alice|Org2|admin|-|3|", 21) == 0);

    /* a new creator drops the attributes; derived hashes differ between creators */
    assert_int_equal(stele_cc_harness_set_creator(h, "bob", "Org1", "client", NULL), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_true(strncmp(seen, "bob|Org1|client|-|-|", 20) == 0);
    assert_string_not_equal(seen + 20, default_hash);
    assert_int_equal(stele_cc_harness_set_creator(h, "user1", "Org1", "other", NULL), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "who", NULL), 200);
    assert_string_equal(seen + 21, default_hash); /* same id and org: same stand-in */

    assert_int_equal(stele_cc_harness_set_creator(h, "", "Org1", "client", NULL), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_set_creator(h, "x", NULL, "client", NULL), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_set_attr(h, "", "v"), STELE_CC_INVALID);
}

static int body_tx(stele_cc_stub *stub)
{
    snprintf(seen, sizeof seen, "%s@%llu", stele_cc_tx_id(stub),
             (unsigned long long)stele_cc_timestamp_ms(stub));
    return stele_cc_success(stub, NULL, 0);
}

static void test_tx_id_and_timestamp(void **state)
{
    stele_cc_harness *h = *state;
    body = body_tx;
    char want[128];
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%064x@0", 1u);
    assert_string_equal(seen, want);

    stele_cc_harness_set_timestamp(h, 1700000000123ull);
    const char *id = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    assert_int_equal(stele_cc_harness_set_tx_id(h, id), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%s@1700000000123", id);
    assert_string_equal(seen, want);

    /* the chosen id was for one invocation; numbering goes on */
    assert_int_equal(stele_cc_harness_call(h, "t", NULL), 200);
    snprintf(want, sizeof want, "%064x@1700000000123", 3u);
    assert_string_equal(seen, want);

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

/* ---- state ------------------------------------------------------------------------------ */

static int body_get_put_del(stele_cc_stub *stub)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_get_state(stub, "committed", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "old", 3);
    assert_int_equal(stele_cc_get_state(stub, "nothing", &v, &len), STELE_CC_NOT_FOUND);
    assert_int_equal(stele_cc_put_state(stub, "new", "\x00\xff", 2), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "empty", NULL, 0), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "gone"), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "never-there"), STELE_CC_OK);
    return stele_cc_success(stub, NULL, 0);
}

static void test_get_put_del(void **state)
{
    stele_cc_harness *h = *state;
    body = body_get_put_del;
    put_str(h, "committed", "old");
    put_str(h, "gone", "x");
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, "new", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "\x00\xff", 2);
    assert_int_equal(stele_cc_harness_get(h, "empty", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 0);
    expect_stored(h, "committed", "old");
    expect_absent(h, "gone");
    expect_absent(h, "never-there");
    /* the committed keys in octet order */
    assert_int_equal(stele_cc_harness_count(h), 3);
    assert_string_equal(stele_cc_harness_key(h, 0), "committed");
    assert_string_equal(stele_cc_harness_key(h, 1), "empty");
    assert_string_equal(stele_cc_harness_key(h, 2), "new");
    assert_null(stele_cc_harness_key(h, 3));
}

static int body_read_your_writes(stele_cc_stub *stub)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_put_state(stub, "k", "one", 3), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, "k", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "one", 3);
    const uint8_t *first = v; /* stays valid until the invocation ends */
    assert_int_equal(stele_cc_put_state(stub, "k", "second", 6), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, "k", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "second", 6);
    assert_memory_equal(first, "one", 3);
    assert_int_equal(stele_cc_del_state(stub, "k"), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, "k", &v, &len), STELE_CC_NOT_FOUND);
    /* a committed key deleted, then written again */
    assert_int_equal(stele_cc_del_state(stub, "c"), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, "c", &v, &len), STELE_CC_NOT_FOUND);
    assert_int_equal(stele_cc_put_state(stub, "c", "again", 5), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, "c", &v, &len), STELE_CC_OK);
    assert_memory_equal(v, "again", 5);
    /* a committed key deleted for good */
    assert_int_equal(stele_cc_del_state(stub, "d"), STELE_CC_OK);
    return stele_cc_success(stub, NULL, 0);
}

static void test_read_your_writes(void **state)
{
    stele_cc_harness *h = *state;
    body = body_read_your_writes;
    put_str(h, "c", "committed");
    put_str(h, "d", "doomed");
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    expect_absent(h, "k"); /* the last write of k was a delete */
    expect_stored(h, "c", "again");
    expect_absent(h, "d");
    assert_int_equal(stele_cc_harness_count(h), 1);
}

static int fail_status;

static int body_fail(stele_cc_stub *stub)
{
    assert_int_equal(stele_cc_put_state(stub, "a", "changed", 7), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "new", "x", 1), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "b"), STELE_CC_OK);
    assert_int_equal(stele_cc_set_event(stub, "ev", "p", 1), STELE_CC_OK);
    return stele_cc_error(stub, fail_status, "refused %d", fail_status);
}

static void test_failure_writes_nothing(void **state)
{
    stele_cc_harness *h = *state;
    body = body_fail;
    put_str(h, "a", "orig");
    put_str(h, "b", "kept");
    const int statuses[] = {400, 404, 500, 599, 199, 300};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        fail_status = statuses[i];
        assert_int_equal(stele_cc_harness_call(h, "go", NULL), fail_status);
        char msg[32];
        snprintf(msg, sizeof msg, "refused %d", fail_status);
        assert_string_equal(stele_cc_harness_message(h), msg);
        assert_null(stele_cc_harness_event(h, NULL, NULL));
        expect_stored(h, "a", "orig");
        expect_stored(h, "b", "kept");
        expect_absent(h, "new");
        assert_int_equal(stele_cc_harness_count(h), 2);
    }
    /* any 2xx status commits, even with a message */
    fail_status = 201;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 201);
    expect_stored(h, "a", "changed");
    expect_absent(h, "b");
    expect_stored(h, "new", "x");
    assert_string_equal(stele_cc_harness_event(h, NULL, NULL), "ev");
}

/* ---- ranges ----------------------------------------------------------------------------- */

static const char *range_start, *range_end;

static int body_range(stele_cc_stub *stub)
{
    stele_cc_iter *it;
    int rc = stele_cc_range(stub, range_start, range_end, &it);
    if (rc != STELE_CC_OK)
        return stele_cc_error(stub, 400, "range: %d", rc);
    record_iter(it);
    return stele_cc_success(stub, NULL, 0);
}

/* Runs body_range over [start, end) and checks the "key=value|" list it saw. */
static void expect_range(stele_cc_harness *h, const char *start, const char *end, const char *want)
{
    body = body_range;
    range_start = start;
    range_end = end;
    seen[0] = 0;
    int status = stele_cc_harness_call(h, "range", NULL);
    if (status != 200)
        fail_msg("[%s, %s): %d %s", or_dash(start), or_dash(end), status,
                 stele_cc_harness_message(h));
    assert_string_equal(seen, want);
}

static void test_range_bounds(void **state)
{
    stele_cc_harness *h = *state;
    put_str(h, "b", "2");
    put_str(h, "a", "1");
    put_str(h, "d", "4");
    put_str(h, "c", "3");
    put_str(h, "ba", "5");
    expect_range(h, "b", "d", "b=2|ba=5|c=3|");
    expect_range(h, "", "c", "a=1|b=2|ba=5|");
    expect_range(h, NULL, "b", "a=1|");
    expect_range(h, "c", "", "c=3|d=4|");
    expect_range(h, "bb", NULL, "c=3|d=4|");
    expect_range(h, NULL, NULL, "a=1|b=2|ba=5|c=3|d=4|");
    expect_range(h, "e", "", "");
    expect_range(h, "ba", "bb", "ba=5|");
    /* an end not after the start is refused */
    range_start = "c";
    range_end = "b";
    assert_int_equal(stele_cc_harness_call(h, "range", NULL), 400);
    range_start = range_end = "c";
    assert_int_equal(stele_cc_harness_call(h, "range", NULL), 400);
}

static void test_range_octet_order(void **state)
{
    stele_cc_harness *h = *state;
    /* signed chars would put 0x80 and 0xff before 0x01 */
    put_str(h, "\xff", "ff");
    put_str(h, "\x80", "80");
    put_str(h, "\x7f", "7f");
    put_str(h, "\x01", "01");
    put_str(h, "a\xc3\xa9", "e-acute");
    put_str(h, "az", "az");
    expect_range(h, "", "", "\x01=01|az=az|a\xc3\xa9=e-acute|\x7f=7f|\x80=80|\xff=ff|");
}

static int body_range_writes(stele_cc_stub *stub)
{
    assert_int_equal(stele_cc_put_state(stub, "bb", "new", 3), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "b"), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "a", "A", 1), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "0", "zero", 4), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "0"), STELE_CC_OK); /* written, then deleted */
    assert_int_equal(stele_cc_put_state(stub, "z", "last", 4), STELE_CC_OK);
    stele_cc_iter *it;
    assert_int_equal(stele_cc_range(stub, "", "", &it), STELE_CC_OK);
    record_iter(it);
    record_key("#");
    assert_int_equal(stele_cc_range(stub, "b", "c", &it), STELE_CC_OK);
    record_iter(it);
    record_key("#");

    /* an iterator sees the state as it was when it was opened */
    stele_cc_iter *snap;
    const char *key;
    const uint8_t *value;
    size_t len;
    assert_int_equal(stele_cc_range(stub, "", "", &snap), STELE_CC_OK);
    assert_int_equal(stele_cc_iter_next(snap, &key, &value, &len), 1);
    assert_string_equal(key, "a");
    assert_int_equal(stele_cc_put_state(stub, "aa", "later", 5), STELE_CC_OK);
    assert_int_equal(stele_cc_del_state(stub, "c"), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "bb", "changed", 7), STELE_CC_OK);
    record_iter(snap);
    return stele_cc_success(stub, NULL, 0);
}

static void test_range_own_writes(void **state)
{
    stele_cc_harness *h = *state;
    put_str(h, "a", "1");
    put_str(h, "b", "2");
    put_str(h, "c", "3");
    body = body_range_writes;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_string_equal(seen, "a=A|bb=new|c=3|z=last|#|bb=new|#|bb=new|c=3|z=last|");
    /* and what was committed */
    expect_range(h, "", "", "a=A|aa=later|bb=changed|z=last|");
}

static int body_iter_close(stele_cc_stub *stub)
{
    stele_cc_iter *it, *left_open;
    const char *key;
    const uint8_t *value;
    size_t len;
    assert_int_equal(stele_cc_range(stub, "", "", &it), STELE_CC_OK);
    assert_int_equal(stele_cc_iter_next(it, &key, &value, &len), 1);
    stele_cc_iter_close(it);
    assert_int_equal(stele_cc_iter_next(it, &key, &value, &len), STELE_CC_INVALID);
    stele_cc_iter_close(it); /* twice is harmless */
    stele_cc_iter_close(NULL);
    /* never closed: the harness closes it when the invocation ends (LeakSanitizer would report
     * its memory otherwise) */
    assert_int_equal(stele_cc_range(stub, "", "", &left_open), STELE_CC_OK);
    assert_int_equal(stele_cc_iter_next(left_open, &key, &value, &len), 1);
    assert_int_equal(stele_cc_iter_next(left_open, NULL, &value, &len), STELE_CC_INVALID);
    return stele_cc_success(stub, NULL, 0);
}

static void test_iter_close(void **state)
{
    stele_cc_harness *h = *state;
    put_str(h, "a", "1");
    put_str(h, "b", "2");
    body = body_iter_close;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
}

/* ---- composite keys --------------------------------------------------------------------- */

static int body_composite_build(stele_cc_stub *stub)
{
    const char *key, *type, *attrs[3];
    size_t n = 99;
    const char *parts[] = {"red", "a b", "\xc3\xa9"};
    assert_int_equal(stele_cc_composite_key(stub, "color~name", parts, 3, &key), STELE_CC_OK);
    assert_string_equal(key, "\x1e"
                             "color~name\x1fred\x1f"
                             "a b\x1f\xc3\xa9\x1f");
    assert_int_equal(stele_cc_split_composite_key(stub, key, &type, attrs, 3, &n), STELE_CC_OK);
    assert_string_equal(type, "color~name");
    assert_int_equal(n, 3);
    assert_string_equal(attrs[0], "red");
    assert_string_equal(attrs[1], "a b");
    assert_string_equal(attrs[2], "\xc3\xa9");
    /* fewer slots than attributes: *n still counts them all */
    attrs[1] = "untouched";
    assert_int_equal(stele_cc_split_composite_key(stub, key, &type, attrs, 1, &n), STELE_CC_OK);
    assert_int_equal(n, 3);
    assert_string_equal(attrs[0], "red");
    assert_string_equal(attrs[1], "untouched");
    /* a type alone */
    assert_int_equal(stele_cc_composite_key(stub, "t", NULL, 0, &key), STELE_CC_OK);
    assert_string_equal(key, "\x1et\x1f");
    assert_int_equal(stele_cc_split_composite_key(stub, key, &type, attrs, 3, &n), STELE_CC_OK);
    assert_string_equal(type, "t");
    assert_int_equal(n, 0);
    /* not composite keys */
    const char *bad[] = {"plain",
                         "\x1e",
                         "\x1et",
                         "\x1e\x1f",
                         "\x1et\x1f\x1f",
                         "\x1et\x1f"
                         "a",
                         "\x1et\x1f"
                         "a\x1e"
                         "b\x1f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (stele_cc_split_composite_key(stub, bad[i], &type, attrs, 3, &n) != STELE_CC_INVALID)
            fail_msg("split accepted bad key %zu", i);
    assert_int_equal(stele_cc_split_composite_key(stub, NULL, &type, attrs, 3, &n),
                     STELE_CC_INVALID);
    return stele_cc_success(stub, NULL, 0);
}

static void test_composite_build_split(void **state)
{
    body = body_composite_build;
    assert_int_equal(stele_cc_harness_call(*state, "go", NULL), 200);
}

static const char *comp_attrs[2];
static size_t comp_n;

static int body_composite_range(stele_cc_stub *stub)
{
    stele_cc_iter *it;
    int rc = stele_cc_composite_range(stub, "color~name", comp_attrs, comp_n, &it);
    if (rc != STELE_CC_OK)
        return stele_cc_error(stub, 400, "composite range: %d", rc);
    const char *key, *type, *attrs[2];
    const uint8_t *value;
    size_t len, n;
    while ((rc = stele_cc_iter_next(it, &key, &value, &len)) == 1) {
        assert_int_equal(stele_cc_split_composite_key(stub, key, &type, attrs, 2, &n), STELE_CC_OK);
        assert_string_equal(type, "color~name");
        assert_int_equal(n, 2);
        size_t at = strlen(seen);
        snprintf(seen + at, sizeof seen - at, "%s,%s|", attrs[0], attrs[1]);
    }
    assert_int_equal(rc, 0);
    return stele_cc_success(stub, NULL, 0);
}

static int body_composite_put(stele_cc_stub *stub)
{
    /* color~name: (a,1) (a,2) (ab,1) (a-,1) (b,1), and one in this invocation */
    const char *rows[][2] = {{"a", "1"}, {"ab", "1"}, {"a", "2"}, {"b", "1"}, {"a-", "1"}};
    for (size_t i = 0; i < 5; i++) {
        const char *key;
        assert_int_equal(stele_cc_composite_key(stub, "color~name", rows[i], 2, &key), STELE_CC_OK);
        assert_int_equal(stele_cc_put_state(stub, key, NULL, 0), STELE_CC_OK);
    }
    const char *other[] = {"a", "9"};
    const char *key;
    assert_int_equal(stele_cc_composite_key(stub, "color~other", other, 2, &key), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, key, "o", 1), STELE_CC_OK);
    return stele_cc_success(stub, NULL, 0);
}

static void expect_composite(stele_cc_harness *h, const char *a0, const char *a1, size_t n,
                             const char *want)
{
    body = body_composite_range;
    comp_attrs[0] = a0;
    comp_attrs[1] = a1;
    comp_n = n;
    seen[0] = 0;
    int status = stele_cc_harness_call(h, "range", NULL);
    if (status != 200)
        fail_msg("%d %s", status, stele_cc_harness_message(h));
    assert_string_equal(seen, want);
}

static void test_composite_range(void **state)
{
    stele_cc_harness *h = *state;
    put_str(h, "a", "plain");
    put_str(h, "\x01", "low");
    body = body_composite_put;
    assert_int_equal(stele_cc_harness_call(h, "put", NULL), 200);
    /* by the first attribute: "a" must not take in "ab" or "a-" */
    expect_composite(h, "a", NULL, 1, "a,1|a,2|");
    expect_composite(h, "ab", NULL, 1, "ab,1|");
    expect_composite(h, "a-", NULL, 1, "a-,1|");
    expect_composite(h, "c", NULL, 1, "");
    /* by both, and by the type alone (not the other type) */
    expect_composite(h, "a", "2", 2, "a,2|");
    expect_composite(h, "b", "1", 2, "b,1|");
    expect_composite(h, "b", "2", 2, "");
    expect_composite(h, NULL, NULL, 0, "a,1|a,2|a-,1|ab,1|b,1|");
    /* invalid attributes */
    comp_attrs[0] = "x\x1f";
    comp_n = 1;
    assert_int_equal(stele_cc_harness_call(h, "range", NULL), 400);
    assert_string_equal(stele_cc_harness_message(h), "composite range: -2");

    /* a plain range skips composite keys, even when they fall between its bounds */
    expect_range(h, "", "", "\x01=low|a=plain|");
    expect_range(h, "\x01", "b", "\x01=low|a=plain|");
    /* a range starting in the composite namespace includes them */
    expect_range(h, "\x1e", "\x1f",
                 "^color~name/a/1/=|^color~name/a/2/=|^color~name/a-/1/=|"
                 "^color~name/ab/1/=|^color~name/b/1/=|^color~other/a/9/=o|");
}

/* ---- invalid keys ----------------------------------------------------------------------- */

static char *long_key(size_t n)
{
    char *k = malloc(n + 1);
    memset(k, 'k', n);
    k[n] = 0;
    return k;
}

static int body_bad_keys(stele_cc_stub *stub)
{
    const uint8_t *v;
    size_t len;
    char *max = long_key(STELE_CC_MAX_KEY), *over = long_key(STELE_CC_MAX_KEY + 1);
    const char *bad[] = {"", over, "\x1e", "\x1enot-composite", "\x1et\x1f\x1f", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stele_cc_get_state(stub, bad[i], &v, &len), STELE_CC_INVALID);
        assert_int_equal(stele_cc_put_state(stub, bad[i], "v", 1), STELE_CC_INVALID);
        assert_int_equal(stele_cc_del_state(stub, bad[i]), STELE_CC_INVALID);
    }
    assert_int_equal(stele_cc_put_state(stub, max, "v", 1), STELE_CC_OK);
    assert_int_equal(stele_cc_get_state(stub, max, &v, &len), STELE_CC_OK);
    /* 0x1F inside a simple key is allowed; a value must be there when it has a length */
    assert_int_equal(stele_cc_put_state(stub, "a\x1f", "v", 1), STELE_CC_OK);
    assert_int_equal(stele_cc_put_state(stub, "k", NULL, 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_get_state(stub, "k", NULL, &len), STELE_CC_INVALID);
    assert_int_equal(stele_cc_range(stub, over, "", &(stele_cc_iter *){NULL}), STELE_CC_INVALID);
    assert_int_equal(stele_cc_range(stub, "", "", NULL), STELE_CC_INVALID);

    /* composite parts: non-empty, without 0x1E or 0x1F, the whole key within the limit */
    const char *key;
    const char *with_1e[] = {"a\x1e"};
    const char *with_1f[] = {"\x1f"};
    const char *empty[] = {""};
    const char *ok[] = {"x"};
    assert_int_equal(stele_cc_composite_key(stub, "t", with_1e, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "t", with_1f, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "t", empty, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "t\x1f", ok, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "", ok, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "t", NULL, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_composite_key(stub, "t", ok, 1, NULL), STELE_CC_INVALID);
    /* 0x1E type 0x1F attr 0x1F: 4096 octets fit, 4097 do not */
    char *attr = long_key(STELE_CC_MAX_KEY - 4);
    const char *big[] = {attr};
    assert_int_equal(stele_cc_composite_key(stub, "t", big, 1, &key), STELE_CC_OK);
    assert_int_equal(strlen(key), STELE_CC_MAX_KEY);
    assert_int_equal(stele_cc_put_state(stub, key, "v", 1), STELE_CC_OK);
    free(attr);
    attr = long_key(STELE_CC_MAX_KEY - 3);
    big[0] = attr;
    assert_int_equal(stele_cc_composite_key(stub, "t", big, 1, &key), STELE_CC_LIMIT);

    /* values: at most STELE_CC_MAX_VALUE octets */
    uint8_t *huge = calloc(1, STELE_CC_MAX_VALUE + 1);
    assert_int_equal(stele_cc_put_state(stub, "huge", huge, STELE_CC_MAX_VALUE + 1),
                     STELE_CC_LIMIT);
    assert_int_equal(stele_cc_put_state(stub, "huge", huge, STELE_CC_MAX_VALUE), STELE_CC_OK);
    free(huge);
    free(attr);
    free(max);
    free(over);
    return stele_cc_success(stub, NULL, 0);
}

static void test_invalid_keys(void **state)
{
    stele_cc_harness *h = *state;
    body = body_bad_keys;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_int_equal(stele_cc_harness_count(h), 4); /* max, a 0x1F, the composite, huge */
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, "huge", &v, &len), STELE_CC_OK);
    assert_int_equal(len, STELE_CC_MAX_VALUE);
    /* the harness's own writes follow the same rules */
    assert_int_equal(stele_cc_harness_put(h, "", "v", 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_put(h,
                                          "\x1e"
                                          "bad",
                                          "v", 1),
                     STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_put(h, "k", NULL, 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_del(h, ""), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_get(h, "", &v, &len), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_count(h), 4);
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
    body = body_event;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    const uint8_t *p;
    size_t len;
    assert_string_equal(stele_cc_harness_event(h, &p, &len), "second");
    assert_int_equal(len, 4);
    assert_memory_equal(p, "\x00two", 4);
    /* the next invocation forgets it */
    body = body_strings;
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
    if (strcmp(what, "twice") == 0) {
        stele_cc_error(stub, 400, "first");
        return stele_cc_error(stub, 403, "second");
    }
    return stele_cc_error(stub, 400, "%s", "");
}

static void test_error_message(void **state)
{
    stele_cc_harness *h = *state;
    body = body_error;
    assert_int_equal(stele_cc_harness_call(h, "e", "format", NULL), 404);
    assert_string_equal(stele_cc_harness_message(h), "no asset -7/42 1.50");

    assert_int_equal(stele_cc_harness_call(h, "e", "long", NULL), 500);
    const char *m = stele_cc_harness_message(h);
    assert_int_equal(strlen(m), 1024);
    for (size_t i = 0; i < 1024; i++)
        if (m[i] != (char)('a' + i % 26))
            fail_msg("message octet %zu", i);

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
    body = body_success;
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
    struct stele_chaincode cc = test_cc;
    cc.abi_version = STELE_CC_ABI_VERSION + 1;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    cc = test_cc;
    cc.invoke = NULL;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    const char *bad_names[] = {"",
                               "with space",
                               "slash/",
                               "x\xc3\xa9",
                               "12345678901234567890123456789012345678901234567890123456789012345",
                               NULL};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        cc = test_cc;
        cc.name = bad_names[i];
        if (stele_cc_harness_create(&cc, &h) != STELE_CC_INVALID)
            fail_msg("name %zu accepted", i);
    }
    cc = test_cc;
    cc.version = NULL;
    assert_int_equal(stele_cc_harness_create(&cc, &h), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_create(NULL, &h), STELE_CC_INVALID);
    assert_ptr_equal(h, (stele_cc_harness *)1); /* untouched */
    cc = test_cc;
    cc.name = "1234567890123456789012345678901234567890123456789012345678901234"; /* 64 */
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
    snprintf(seen, sizeof seen, "%d %d %d", rc, put, creator);
    return stele_cc_success(stub, NULL, 0);
}

static void test_no_reentry(void **state)
{
    stele_cc_harness *h = reentrant_h = *state;
    body = body_reenter;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    char want[32];
    snprintf(want, sizeof want, "%d %d %d", STELE_CC_INVALID, STELE_CC_INVALID, STELE_CC_INVALID);
    assert_string_equal(seen, want);
    expect_absent(h, "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_id_and_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_put_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_octet_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_own_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composite_build_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composite_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_success_payload, setup, teardown),
        cmocka_unit_test(test_descriptor_checks),
        cmocka_unit_test_setup_teardown(test_no_reentry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
