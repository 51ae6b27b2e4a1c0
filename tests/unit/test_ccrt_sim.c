/* test_ccrt_sim.c — the peer's side of writes a chaincode host sends without waiting for the
 * answer (CcHostCall.no_reply, peer/ccrt_sim.c): accepted ones get no reply and land in the
 * write set; one the peer refuses (a bad key, over a limit) fails the whole invocation, since
 * the host already told the chaincode it succeeded; no_reply on anything but a write is a
 * protocol error. The host's side (it sends no_reply only for writes that surely fit) is
 * tested with real hosts in test_ccrt.c (test_key_limits). Also: what the pages of open
 * iterators, and the written values they show, may hold. */
#include "statedb_fixture.h"
#include "testutil.h"

#include "base/arena.h"
#include "base/status.h"
#include "ledger/statedb.h"
#include "peer/ccrt_int.h"
#include "stele/chaincode.h"
#include "stele/transaction.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    char *dir;
    struct statedb *db;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("ccrt-sim");
    char *err = NULL;
    if (statedb_open(fx->dir, false, &fx->db, &err))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    statedb_close(fx->db);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static Stele__CcHostCall write_call(Stele__CcHostCall__Op op, const char *key, size_t value_len,
                                    bool no_reply)
{
    static uint8_t value[64];
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = op;
    c.key = (ProtobufCBinaryData){strlen(key), (uint8_t *)key};
    c.value = (ProtobufCBinaryData){value_len, value_len ? value : NULL};
    c.no_reply = no_reply;
    return c;
}

/* The write set the simulation would endorse: its keys, in order, joined by ','. */
static void assert_writes(struct ccrt_sim *s, const char *want)
{
    struct arena *a = arena_create(0);
    Stele__TxRwSet *rw = NULL;
    assert_int_equal(ccrt_sim_finish(s, a, &rw), STELE_OK);
    char got[256] = "";
    for (size_t i = 0; rw && rw->n_ns_rwsets && i < rw->ns_rwsets[0]->n_writes; i++) {
        if (i)
            strcat(got, ",");
        strcat(got, rw->ns_rwsets[0]->writes[i]->key);
    }
    assert_string_equal(got, want);
    arena_destroy(a);
}

static void test_accepted_writes_get_no_reply(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &(struct ccrt_sim_limits){10, 1000});
    Stele__CcHostReply r;
    bool has_reply = true;
    Stele__CcHostCall c = write_call(STELE__CC_HOST_CALL__OP__PUT, "b", 10, true);
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    assert_false(has_reply);
    c = write_call(STELE__CC_HOST_CALL__OP__DEL, "a", 0, true);
    has_reply = true;
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    assert_false(has_reply);
    /* a waiting write still gets its reply */
    c = write_call(STELE__CC_HOST_CALL__OP__PUT, "c", 1, false);
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    assert_true(has_reply);
    assert_int_equal(r.rc, STELE_CC_OK);
    assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
    assert_writes(s, "a,b,c");
    ccrt_sim_destroy(s);
}

static void test_refused_write_fails_the_invocation(void **state)
{
    struct fixture *fx = *state;
    struct {
        Stele__CcHostCall__Op op;
        const char *key;
        size_t value_len;
        struct ccrt_sim_limits lim;
    } cases[] = {
        {STELE__CC_HOST_CALL__OP__PUT, "k", 40, {10, 20}}, /* over max_write_bytes */
        {STELE__CC_HOST_CALL__OP__PUT, "", 1, {10, 1000}}, /* an empty key */
        {STELE__CC_HOST_CALL__OP__DEL, "", 0, {10, 1000}},
        {STELE__CC_HOST_CALL__OP__PUT, "k2", 1, {1, 1000}},     /* the second key past max_keys */
        {STELE__CC_HOST_CALL__OP__PUT, "k\xff", 1, {10, 1000}}, /* keys are UTF-8 */
        {STELE__CC_HOST_CALL__OP__DEL, "\xc0\xaf", 0, {10, 1000}}, /* an overlong '/' */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &cases[i].lim);
        Stele__CcHostReply r;
        bool has_reply;
        if (cases[i].lim.max_keys == 1) { /* fill the one key the set may hold */
            Stele__CcHostCall first = write_call(STELE__CC_HOST_CALL__OP__PUT, "k1", 1, true);
            assert_int_equal(ccrt_sim_call(s, &first, &r, &has_reply), STELE_OK);
            assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
        }
        /* the same write waiting for its answer is only refused, the set still usable */
        Stele__CcHostCall c = write_call(cases[i].op, cases[i].key, cases[i].value_len, false);
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        assert_true(has_reply);
        assert_int_not_equal(r.rc, STELE_CC_OK);
        assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
        /* sent without waiting, it spoils the set: the chaincode was told it succeeded */
        c.no_reply = true;
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        assert_false(has_reply);
        const char *why = NULL;
        assert_int_equal(ccrt_sim_error(s, &why), STELE_ERR_INVALID);
        assert_non_null(strstr(why, "did not wait for the answer"));
        ccrt_sim_destroy(s);
    }
}

static void test_no_reply_only_on_writes(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &(struct ccrt_sim_limits){10, 1000});
    Stele__CcHostCall__Op ops[] = {STELE__CC_HOST_CALL__OP__GET, STELE__CC_HOST_CALL__OP__RANGE,
                                   STELE__CC_HOST_CALL__OP__NEXT, STELE__CC_HOST_CALL__OP__CLOSE};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        Stele__CcHostCall c = write_call(ops[i], "k", 0, true);
        Stele__CcHostReply r;
        bool has_reply;
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_ERR_INTERNAL);
    }
    assert_writes(s, ""); /* nothing was done */
    ccrt_sim_destroy(s);
}

static Stele__CcHostCall range_call(void)
{
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__RANGE;
    return c; /* "" to "": the whole namespace */
}

static Stele__CcHostCall next_call(uint32_t iter)
{
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__NEXT;
    c.iter = iter;
    return c;
}

/* Twenty committed values of a MiB: an iterator's page ends at a MiB of values, yet the range
 * still gives every key, in order; and the pages of all open iterators hold at most 16 MiB, so
 * that a chaincode opening many cannot make the peer hold 64 MiB for each: the seventeenth
 * page fails the invocation with a limit. */
static void test_iterator_pages_are_bounded(void **state)
{
    struct fixture *fx = *state;
    size_t mib = 1u << 20;
    char *big = malloc(mib + 1);
    assert_non_null(big);
    memset(big, 'v', mib);
    big[mib] = 0;
    struct statedb_update *u = statedb_update_create(0);
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        sdb_put(u, 0, "cc", key, big);
    }
    sdb_apply(fx->db, u, NULL);
    free(big);

    struct ccrt_sim_limits lim = {1000, 1000};
    struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &lim);
    Stele__CcHostReply r;
    bool has_reply;
    Stele__CcHostCall c = range_call();
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    assert_int_equal(r.rc, STELE_CC_OK);
    Stele__CcHostCall n = next_call(r.iter);
    int got = 0;
    for (;;) {
        assert_int_equal(ccrt_sim_call(s, &n, &r, &has_reply), STELE_OK);
        if (r.rc == 0)
            break;
        assert_int_equal(r.rc, 1);
        snprintf(key, sizeof key, "k%02d", got++);
        assert_int_equal(r.key.len, strlen(key));
        assert_memory_equal(r.key.data, key, r.key.len);
        assert_int_equal(r.value.len, mib);
    }
    assert_int_equal(got, 20);
    assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
    ccrt_sim_destroy(s);

    s = ccrt_sim_create(fx->db, "cc", &lim);
    uint32_t iters[20];
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        assert_int_equal(r.rc, STELE_CC_OK);
        iters[i] = r.iter;
    }
    int served = 0;
    for (int i = 0; i < 20; i++) {
        n = next_call(iters[i]);
        assert_int_equal(ccrt_sim_call(s, &n, &r, &has_reply), STELE_OK);
        if (r.rc != 1)
            break;
        served++;
    }
    assert_int_equal(served, 16);
    assert_int_equal(r.rc, STELE_CC_FAILED);
    const char *why = NULL;
    assert_int_equal(ccrt_sim_error(s, &why), STELE_ERR_LIMIT);
    assert_non_null(strstr(why, "16 MiB"));
    ccrt_sim_destroy(s);
}

/* A put of a MiB to key "k", waiting for its answer: the reply's rc. */
static int put_mib(struct ccrt_sim *s)
{
    static uint8_t mib[1u << 20];
    Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
    c.op = STELE__CC_HOST_CALL__OP__PUT;
    c.key = (ProtobufCBinaryData){1, (uint8_t *)"k"};
    c.value = (ProtobufCBinaryData){sizeof mib, mib};
    Stele__CcHostReply r;
    bool has_reply;
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    return r.rc;
}

/* An iterator shows the invocation's writes as they were when it was opened, so a value
 * written and then replaced stays in memory while an open iterator may show it. Those values
 * count against the same 16 MiB: replacing a value of a MiB under sixteen open iterators is
 * fine, the seventeenth fails the invocation. Closed iterators give theirs back. */
static void test_replaced_values_iterators_hold_are_bounded(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_sim_limits lim = {1000, 2u << 20};
    struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &lim);
    Stele__CcHostReply r;
    bool has_reply;
    Stele__CcHostCall c = range_call();
    assert_int_equal(put_mib(s), STELE_CC_OK);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        assert_int_equal(r.rc, STELE_CC_OK);
        assert_int_equal(put_mib(s), STELE_CC_OK);
    }
    assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
    assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
    assert_int_equal(put_mib(s), STELE_CC_LIMIT);
    const char *why = NULL;
    assert_int_equal(ccrt_sim_error(s, &why), STELE_ERR_LIMIT);
    assert_non_null(strstr(why, "16 MiB"));
    ccrt_sim_destroy(s);

    s = ccrt_sim_create(fx->db, "cc", &lim);
    assert_int_equal(put_mib(s), STELE_CC_OK);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        Stele__CcHostCall close_it = STELE__CC_HOST_CALL__INIT;
        close_it.op = STELE__CC_HOST_CALL__OP__CLOSE;
        close_it.iter = r.iter;
        assert_int_equal(put_mib(s), STELE_CC_OK);
        assert_int_equal(ccrt_sim_call(s, &close_it, &r, &has_reply), STELE_OK);
    }
    assert_int_equal(ccrt_sim_error(s, NULL), STELE_OK);
    ccrt_sim_destroy(s);
}

/* Ranges with 4 KiB bounds, each closed at once: the peer keeps every range's bounds for
 * the read set until the invocation ends, so they count against 8 MiB of read keys (the
 * 1,024th range takes the total past it) as well as against max_keys: a chaincode cannot make
 * the peer hold ~80 MiB with 10,000 of them. Reads by key count the same way. */
static void test_read_keys_are_bounded_in_octets(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_sim_limits lim = {10000, 8u << 20};
    struct ccrt_sim *s = ccrt_sim_create(fx->db, "cc", &lim);
    static char lo[STELE_CC_MAX_KEY + 1], hi[STELE_CC_MAX_KEY + 1];
    Stele__CcHostReply r;
    bool has_reply;
    int opened = 0;
    for (int i = 0; i < 2000; i++) {
        memset(lo, 'a', STELE_CC_MAX_KEY);
        memset(hi, 'b', STELE_CC_MAX_KEY);
        snprintf(lo, 5, "%04d", i); /* distinct bounds, each 4 KiB */
        lo[4] = 'a';
        snprintf(hi, 5, "%04d", i);
        hi[4] = 'b';
        Stele__CcHostCall c = range_call();
        c.key = (ProtobufCBinaryData){STELE_CC_MAX_KEY, (uint8_t *)lo};
        c.end_key = (ProtobufCBinaryData){STELE_CC_MAX_KEY, (uint8_t *)hi};
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        if (r.rc != STELE_CC_OK)
            break;
        opened++;
        Stele__CcHostCall close_it = STELE__CC_HOST_CALL__INIT;
        close_it.op = STELE__CC_HOST_CALL__OP__CLOSE;
        close_it.iter = r.iter;
        assert_int_equal(ccrt_sim_call(s, &close_it, &r, &has_reply), STELE_OK);
    }
    assert_int_equal(opened, 1024);
    assert_int_equal(r.rc, STELE_CC_FAILED);
    const char *why = NULL;
    assert_int_equal(ccrt_sim_error(s, &why), STELE_ERR_LIMIT);
    assert_non_null(strstr(why, "8 MiB of keys"));
    ccrt_sim_destroy(s);

    /* GET: 2,048 reads of distinct 4 KiB keys fill it, the next fails */
    s = ccrt_sim_create(fx->db, "cc", &lim);
    int read = 0;
    for (int i = 0; i < 3000; i++) {
        memset(lo, 'k', STELE_CC_MAX_KEY);
        snprintf(lo, 5, "%04d", i);
        lo[4] = 'k';
        Stele__CcHostCall c = STELE__CC_HOST_CALL__INIT;
        c.op = STELE__CC_HOST_CALL__OP__GET;
        c.key = (ProtobufCBinaryData){STELE_CC_MAX_KEY, (uint8_t *)lo};
        assert_int_equal(ccrt_sim_call(s, &c, &r, &has_reply), STELE_OK);
        if (r.rc != STELE_CC_NOT_FOUND)
            break;
        read++;
    }
    assert_int_equal(read, 2048);
    assert_int_equal(ccrt_sim_error(s, &why), STELE_ERR_LIMIT);
    ccrt_sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accepted_writes_get_no_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_write_fails_the_invocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_reply_only_on_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterator_pages_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_keys_are_bounded_in_octets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_values_iterators_hold_are_bounded, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
