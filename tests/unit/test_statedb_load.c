/* test_statedb_load.c — the state database under load (statedb_fixture.h): one block of 50,000
 * writes (keys written again later in the block) and a reader thread that never sees a
 * half-applied block while 150 blocks are applied.
 */
#include "statedb_fixture.h"

#include "base/status.h"
#include "ledger/statedb.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- a big block and concurrent readers ------------------------------------------------- */

#define BIG_WRITES 50000

static void big_update_applies(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    char key[32], value[32];
    /* Ten keys per transaction; every fifth key is written again by a later transaction. */
    for (uint32_t i = 0; i < BIG_WRITES; i++) {
        snprintf(key, sizeof key, "key-%06u", (unsigned)(i % (BIG_WRITES - BIG_WRITES / 5)));
        snprintf(value, sizeof value, "v%u", (unsigned)i);
        uint32_t tx = i / 10;
        assert_int_equal(statedb_update_write(u, tx, sdb_txid(tx), "big", key, (uint8_t *)value,
                                              strlen(value), false),
                         STELE_OK);
        struct statedb_version ver;
        assert_true(statedb_update_lookup(u, "big", key, &ver, NULL));
        assert_int_equal(ver.tx, tx);
    }
    for (uint32_t i = 0; i < BIG_WRITES - BIG_WRITES / 5; i++) {
        snprintf(key, sizeof key, "key-%06u", (unsigned)i);
        struct statedb_version ver;
        assert_true(statedb_update_lookup(u, "big", key, &ver, NULL));
        uint32_t last = i < BIG_WRITES / 5 ? i + BIG_WRITES - BIG_WRITES / 5 : i;
        assert_int_equal(ver.tx, last / 10);
    }
    sdb_apply(fx->db, u, NULL);
    size_t n = 0;
    bool more = true;
    assert_int_equal(statedb_range(fx->db, "big", "", "", 0, sdb_count_entry, &n, &more), STELE_OK);
    assert_int_equal(n, BIG_WRITES - BIG_WRITES / 5);
    assert_false(more);
    sdb_expect(fx->db, "big", "key-000007", "v40007", 0, 4000);
    sdb_expect(fx->db, "big", "key-039999", "v39999", 0, 3999);
    n = 0;
    assert_int_equal(
        statedb_history(fx->db, "big", "key-000007", NULL, 0, sdb_count_history, &n, NULL),
        STELE_OK);
    assert_int_equal(n, 2);
}

#define READER_KEYS   8
#define READER_BLOCKS 150

struct reader {
    struct statedb *db;
    atomic_bool done;
    int failures;      /* inconsistent reads seen */
    atomic_long reads; /* rounds of reads done */
};

/* Every block writes the same value to all keys of "c": a range must never see two values. */
static bool same_value(void *ctx, const char *key, const uint8_t *value, size_t len,
                       const struct statedb_version *ver)
{
    struct statedb_version *first = ctx;
    if (first->tx == UINT32_MAX)
        *first = *ver;
    return ver->block == first->block;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint64_t last = 0;
    while (!atomic_load(&r->done)) {
        uint64_t h = statedb_height(r->db);
        struct statedb_version first = {0, UINT32_MAX};
        size_t n = 0;
        bool more;
        if (h < last)
            r->failures++;
        last = h;
        if (statedb_range(r->db, "c", "", "", 0, same_value, &first, &more) != STELE_OK || more)
            r->failures++;
        if (statedb_range(r->db, "c", "", "", 0, sdb_count_entry, &n, NULL) != STELE_OK ||
            (h > 0 && n != READER_KEYS))
            r->failures++;
        uint8_t hash[32];
        if (h > 0 && statedb_state_hash(r->db, h - 1, hash) != STELE_OK)
            r->failures++;
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void readers_run_during_applies(void **state)
{
    struct sdb_fx *fx = *state;
    struct reader r = {.db = fx->db};
    atomic_init(&r.done, false);
    atomic_init(&r.reads, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    char key[16], value[16];
    long seen = 0;
    for (uint64_t n = 0; n < READER_BLOCKS; n++) {
        /* every 16 blocks, let the reader finish a round, so that reads surely overlap the
         * applies even when the scheduler would run this loop to its end first */
        while (n % 16 == 0 && atomic_load(&r.reads) == seen)
            sched_yield();
        seen = atomic_load(&r.reads);
        struct statedb_update *u = statedb_update_create(n);
        snprintf(value, sizeof value, "%llu", (unsigned long long)n);
        for (uint32_t i = 0; i < READER_KEYS; i++) {
            snprintf(key, sizeof key, "k%u", (unsigned)i);
            sdb_put(u, i, "c", key, value);
        }
        sdb_apply(fx->db, u, NULL);
    }
    atomic_store(&r.done, true);
    pthread_join(t, NULL);
    assert_int_equal(r.failures, 0);
    assert_true(atomic_load(&r.reads) >= READER_BLOCKS / 16);
    assert_int_equal(statedb_height(fx->db), READER_BLOCKS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(big_update_applies, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(readers_run_during_applies, sdb_fx_setup, sdb_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
