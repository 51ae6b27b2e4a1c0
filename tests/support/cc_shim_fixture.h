/*
 * cc_shim_fixture.h — the fixture of the test_cc_shim*.c tests: a test chaincode whose invoke
 * runs whatever body the test installs (shim_body), run on the chaincode test harness
 * (stele/chaincode_harness.h), with a buffer where bodies record what they saw (shim_seen) and
 * helpers that put and check the harness's committed state.
 *
 * Each test installs a body, invokes it through the harness and checks what the body saw
 * (asserting inside the body) and what the harness kept.
 *
 * Header-only (static): the chaincode API's headers come with the chaincode libraries
 * (chaincode/program.cmake), which every test links but the stele_testsupport library does
 * not, so this fixture cannot live in a tests/support .c file. Each test program is one
 * translation unit and has its own copy of the state below.
 */
#ifndef STELE_TESTS_CC_SHIM_FIXTURE_H
#define STELE_TESTS_CC_SHIM_FIXTURE_H

#include "testutil.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <stdio.h>
#include <string.h>

/* ---- the test chaincode ----------------------------------------------------------------- */

static int (*shim_body)(stele_cc_stub *stub); /* what invoke runs */
static int shim_init_calls;                   /* how many times init ran */
static char shim_seen[8192];                  /* what a body recorded, for checks after the call */

/* The chaincode's invoke: runs shim_body. */
static int shim_invoke(stele_cc_stub *stub)
{
    return shim_body(stub);
}

/* The chaincode's init: counts its calls and answers "from init". */
static int shim_init(stele_cc_stub *stub)
{
    shim_init_calls++;
    return stele_cc_success(stub, "from init", 9);
}

/* The test chaincode "shim-test" 1.0, with an init. */
static const struct stele_chaincode shim_cc = {STELE_CC_ABI_VERSION, "shim-test", "1.0", shim_init,
                                               shim_invoke};

/* cmocka setup: a harness of shim_cc in *state; no body, no init call, nothing seen. */
static inline int shim_setup(void **state)
{
    stele_cc_harness *h = NULL;
    if (stele_cc_harness_create(&shim_cc, &h) != STELE_CC_OK)
        return -1;
    shim_body = NULL;
    shim_init_calls = 0;
    shim_seen[0] = 0;
    *state = h;
    return 0;
}

/* cmocka teardown of shim_setup(). */
static inline int shim_teardown(void **state)
{
    stele_cc_harness_destroy(*state);
    return 0;
}

/* ---- the harness's state ---------------------------------------------------------------- */

/* Puts the string `value` at `key` in the harness's committed state. */
static inline void shim_put_str(stele_cc_harness *h, const char *key, const char *value)
{
    assert_int_equal(stele_cc_harness_put(h, key, value, strlen(value)), STELE_CC_OK);
}

/* Checks that `key` holds the string `want` in the harness's committed state. */
static inline void shim_expect_stored(stele_cc_harness *h, const char *key, const char *want)
{
    const uint8_t *v;
    size_t len;
    int rc = stele_cc_harness_get(h, key, &v, &len);
    if (rc != STELE_CC_OK)
        fail_msg("%s: %d", key, rc);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

/* Checks that `key` is not in the harness's committed state. */
static inline void shim_expect_absent(stele_cc_harness *h, const char *key)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, key, &v, &len), STELE_CC_NOT_FOUND);
}

/* `s`, or "-" for NULL. */
static inline const char *shim_or_dash(const char *s)
{
    return s ? s : "-";
}

#endif
