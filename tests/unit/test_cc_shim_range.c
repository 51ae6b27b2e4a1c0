/* test_cc_shim_range.c — the chaincode API's ranges and composite keys run on the test harness
 * (cc_shim_fixture.h): range bounds, unsigned octet order, ranges over committed state merged
 * with the invocation's own writes (an iterator sees the state as it was when opened), closing
 * iterators, building and splitting composite keys, and composite ranges kept apart from plain
 * ones.
 */
#include "cc_shim_fixture.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <stdio.h>
#include <string.h>

/* Appends `key` to `shim_seen`, showing 0x1E as '^' and 0x1F as '/', then a '|'. */
static void record_key(const char *key)
{
    size_t n = strlen(shim_seen);
    for (; *key && n + 2 < sizeof shim_seen; key++)
        shim_seen[n++] = *key == 0x1e ? '^' : *key == 0x1f ? '/' : *key;
    shim_seen[n++] = '|';
    shim_seen[n] = 0;
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
        shim_seen[strlen(shim_seen) - 1] = '=';
        size_t n = strlen(shim_seen);
        assert_true(n + len + 2 < sizeof shim_seen);
        memcpy(shim_seen + n, value, len);
        shim_seen[n + len] = '|';
        shim_seen[n + len + 1] = 0;
    }
    assert_int_equal(rc, 0);
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
    shim_body = body_range;
    range_start = start;
    range_end = end;
    shim_seen[0] = 0;
    int status = stele_cc_harness_call(h, "range", NULL);
    if (status != 200)
        fail_msg("[%s, %s): %d %s", shim_or_dash(start), shim_or_dash(end), status,
                 stele_cc_harness_message(h));
    assert_string_equal(shim_seen, want);
}

static void test_range_bounds(void **state)
{
    stele_cc_harness *h = *state;
    shim_put_str(h, "b", "2");
    shim_put_str(h, "a", "1");
    shim_put_str(h, "d", "4");
    shim_put_str(h, "c", "3");
    shim_put_str(h, "ba", "5");
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
    /* signed chars would put 0xc2 and 0xf4 before 0x01 (keys are UTF-8: U+10FFFF is the
     * highest) */
    shim_put_str(h, "\xf4\x8f\xbf\xbf", "max");
    shim_put_str(h, "\xc2\x80", "80");
    shim_put_str(h, "\x7f", "7f");
    shim_put_str(h, "\x01", "01");
    shim_put_str(h, "a\xc3\xa9", "e-acute");
    shim_put_str(h, "az", "az");
    expect_range(h, "", "",
                 "\x01=01|az=az|a\xc3\xa9=e-acute|\x7f=7f|\xc2\x80=80|\xf4\x8f\xbf\xbf=max|");
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
    shim_put_str(h, "a", "1");
    shim_put_str(h, "b", "2");
    shim_put_str(h, "c", "3");
    shim_body = body_range_writes;
    assert_int_equal(stele_cc_harness_call(h, "go", NULL), 200);
    assert_string_equal(shim_seen, "a=A|bb=new|c=3|z=last|#|bb=new|#|bb=new|c=3|z=last|");
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
    shim_put_str(h, "a", "1");
    shim_put_str(h, "b", "2");
    shim_body = body_iter_close;
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
    shim_body = body_composite_build;
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
        size_t at = strlen(shim_seen);
        snprintf(shim_seen + at, sizeof shim_seen - at, "%s,%s|", attrs[0], attrs[1]);
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
    shim_body = body_composite_range;
    comp_attrs[0] = a0;
    comp_attrs[1] = a1;
    comp_n = n;
    shim_seen[0] = 0;
    int status = stele_cc_harness_call(h, "range", NULL);
    if (status != 200)
        fail_msg("%d %s", status, stele_cc_harness_message(h));
    assert_string_equal(shim_seen, want);
}

static void test_composite_range(void **state)
{
    stele_cc_harness *h = *state;
    shim_put_str(h, "a", "plain");
    shim_put_str(h, "\x01", "low");
    shim_body = body_composite_put;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_range_bounds, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_range_octet_order, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_range_own_writes, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_iter_close, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_composite_build_split, shim_setup, shim_teardown),
        cmocka_unit_test_setup_teardown(test_composite_range, shim_setup, shim_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
