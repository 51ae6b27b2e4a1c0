/*
 * test_quota.c — base/quota.h: per-caller caps on a shared resource.
 */
#include "testutil.h"

#include "base/status.h"
#include "base/quota.h"

#include <string.h>

static void who(uint8_t out[32], int n)
{
    memset(out, 0, 32);
    out[31] = (uint8_t)n;
}

static void caps_per_caller_and_in_all(void **state)
{
    (void)state;
    struct quota *q = quota_create(5, 2);
    assert_non_null(q);
    uint8_t a[32], b[32], c[32], d[32];
    who(a, 1), who(b, 2), who(c, 3), who(d, 4);
    bool mine = true;
    assert_int_equal(quota_take(q, a, &mine), STELE_OK);
    assert_false(mine);
    assert_int_equal(quota_take(q, a, &mine), STELE_OK);
    assert_int_equal(quota_take(q, a, &mine), STELE_ERR_LIMIT); /* a's third */
    assert_true(mine);
    assert_int_equal(quota_take(q, b, NULL), STELE_OK);
    assert_int_equal(quota_take(q, b, NULL), STELE_OK);
    assert_int_equal(quota_take(q, c, &mine), STELE_OK);
    assert_int_equal(quota_held(q, NULL), 5);
    assert_int_equal(quota_take(q, d, &mine), STELE_ERR_LIMIT); /* every unit held */
    assert_false(mine);
    assert_int_equal(quota_take(q, c, &mine), STELE_ERR_LIMIT);
    assert_false(mine); /* c holds 1 of 2: the total refused it */
    quota_give(q, a);
    assert_int_equal(quota_held(q, a), 1);
    assert_int_equal(quota_take(q, d, &mine), STELE_OK); /* the unit a gave back */
    quota_give(q, a);                                    /* a's slot is free now ... */
    assert_int_equal(quota_held(q, a), 0);
    assert_int_equal(quota_take(q, c, NULL), STELE_OK); /* ... and c's second fits */
    assert_int_equal(quota_held(q, c), 2);
    assert_int_equal(quota_held(q, NULL), 5);
    quota_destroy(q);
}

static void every_holder_fits_its_table(void **state)
{
    (void)state;
    /* as many distinct callers as units: each takes one, then all give back and new ones come */
    struct quota *q = quota_create(64, 1);
    assert_non_null(q);
    uint8_t w[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++) {
            who(w, round * 64 + i);
            assert_int_equal(quota_take(q, w, NULL), STELE_OK);
        }
        who(w, 250);
        assert_int_equal(quota_take(q, w, NULL), STELE_ERR_LIMIT);
        for (int i = 0; i < 64; i++) {
            who(w, round * 64 + i);
            quota_give(q, w);
        }
        assert_int_equal(quota_held(q, NULL), 0);
    }
    quota_destroy(q);
}

static void bad_arguments(void **state)
{
    (void)state;
    assert_null(quota_create(0, 1));
    assert_null(quota_create(4, 0));
    assert_null(quota_create(4, 5));
    quota_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(caps_per_caller_and_in_all),
        cmocka_unit_test(every_holder_fits_its_table),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
