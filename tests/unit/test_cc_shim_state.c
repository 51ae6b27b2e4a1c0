/* test_cc_shim_state.c — the chaincode API's state calls run on the test harness
 * (cc_shim_fixture.h): get, put and delete over committed state, read-your-writes within an
 * invocation, a failed invocation writing nothing (and any 2xx committing), and the checks of
 * keys, composite key parts and value sizes, by the API and by the harness alike.
 */
#include "cc_shim_fixture.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    shim_body = body_get_put_del;
    shim_put_str(h, "committed", "old");
    shim_put_str(h, "gone", "x");
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, "new", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(v, "\x00\xff", 2);
    assert_int_equal(stele_cc_harness_get(h, "empty", &v, &len), STELE_CC_OK);
    assert_int_equal(len, 0);
    shim_expect_stored(h, "committed", "old");
    shim_expect_absent(h, "gone");
    shim_expect_absent(h, "never-there");
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
    shim_body = body_read_your_writes;
    shim_put_str(h, "c", "committed");
    shim_put_str(h, "d", "doomed");
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    shim_expect_absent(h, "k"); /* the last write of k was a delete */
    shim_expect_stored(h, "c", "again");
    shim_expect_absent(h, "d");
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
    shim_body = body_fail;
    shim_put_str(h, "a", "orig");
    shim_put_str(h, "b", "kept");
    const int statuses[] = {400, 404, 500, 599, 199, 300};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        fail_status = statuses[i];
        assert_int_equal(stele_cc_harness_call(h, "go", NULL), fail_status);
        char msg[32];
        snprintf(msg, sizeof msg, "refused %d", fail_status);
        assert_string_equal(stele_cc_harness_message(h), msg);
        assert_null(stele_cc_harness_event(h, NULL, NULL));
        shim_expect_stored(h, "a", "orig");
        shim_expect_stored(h, "b", "kept");
        shim_expect_absent(h, "new");
        assert_int_equal(stele_cc_harness_count(h), 2);
    }
    /* any 2xx status commits, even with a message */
    fail_status = 201;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 201);
    shim_expect_stored(h, "a", "changed");
    shim_expect_absent(h, "b");
    shim_expect_stored(h, "new", "x");
    assert_string_equal(stele_cc_harness_event(h, NULL, NULL), "ev");
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
    /* keys, range bounds, composite parts and event names are UTF-8 (protobuf strings) */
    const char *latin1[] = {"caf\xe9"};
    assert_int_equal(stele_cc_composite_key(stub, "t", latin1, 1, &key), STELE_CC_INVALID);
    assert_int_equal(stele_cc_put_state(stub, "caf\xe9", "v", 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_del_state(stub, "\xed\xa0\x80"), STELE_CC_INVALID); /* surrogate */
    const uint8_t *gv;
    size_t glen;
    assert_int_equal(stele_cc_get_state(stub, "\xc0\xaf", &gv, &glen), STELE_CC_INVALID);
    stele_cc_iter *it = NULL;
    assert_int_equal(stele_cc_range(stub, "a", "z\xff", &it), STELE_CC_INVALID);
    assert_int_equal(stele_cc_set_event(stub, "ev\xff", NULL, 0), STELE_CC_INVALID);
    assert_int_equal(stele_cc_put_state(stub, "caf\xc3\xa9", "v", 1), STELE_CC_OK);
    assert_true(stele_cc_utf8_valid("caf\xc3\xa9 \xf0\x9f\x97\xb3", 10));
    assert_false(stele_cc_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(stele_cc_utf8_valid("\xe2\x82", 2));         /* cut short */
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
    shim_body = body_bad_keys;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_int_equal(stele_cc_harness_count(h), 5); /* max, a 0x1F, the composite, café, huge */
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
    assert_int_equal(stele_cc_harness_put(h, "\xff", "v", 1), STELE_CC_INVALID);
    assert_int_equal(stele_cc_harness_count(h), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_del, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_failure_writes_nothing, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_keys, shim_setup, shim_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
