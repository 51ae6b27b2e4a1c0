/* test_statedb_durability.c — what the state database keeps on disk (statedb_fixture.h): an
 * update for the wrong block refused without a trace, everything kept across a reopen (and a
 * second open refused), an apply that is all or nothing when a write fails for real, and
 * damaged records (state, history, savepoint) reported rather than trusted.
 */
#include "statedb_fixture.h"

#include "base/buf.h"
#include "base/status.h"
#include "ledger/statedb.h"

#include <leveldb/c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void wrong_number_conflicts(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(1);
    sdb_put(u, 0, "a", "k", "too early");
    uint8_t h[32];
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    assert_int_equal(statedb_height(fx->db), 0);
    sdb_expect(fx->db, "a", "k", NULL, 0, 0);
    assert_int_equal(statedb_state_hash(fx->db, 1, h), STELE_ERR_NOT_FOUND);

    u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k", "v");
    uint8_t h0[32];
    assert_int_equal(statedb_apply(fx->db, u, h0), STELE_OK);
    /* The same block again: refused, nothing changes. */
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    u = statedb_update_create(0);
    sdb_put(u, 3, "a", "k", "replayed");
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    assert_int_equal(statedb_height(fx->db), 1);
    sdb_expect(fx->db, "a", "k", "v", 0, 0);
    assert_int_equal(statedb_state_hash(fx->db, 0, h), STELE_OK);
    assert_memory_equal(h, h0, 32);
    struct sdb_hseen s = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 0, sdb_hcollect, &s, NULL), STELE_OK);
    assert_int_equal(s.n, 1);
}

static void reopen_keeps_everything(void **state)
{
    struct sdb_fx *fx = *state;
    char *p2;
    struct statedb *never_closed = sdb_open_sibling(fx, "never-closed", false, &p2);
    uint8_t h[32], g[32];
    for (uint64_t n = 0; n < 3; n++) {
        struct statedb_update *u = sdb_workload_block(n, false);
        assert_int_equal(statedb_apply(never_closed, u, NULL), STELE_OK);
        sdb_apply(fx->db, u, NULL);
    }
    sdb_fx_reopen(fx);
    assert_int_equal(statedb_height(fx->db), 3);
    for (uint64_t n = 0; n < 3; n++) {
        assert_int_equal(statedb_state_hash(fx->db, n, h), STELE_OK);
        assert_int_equal(statedb_state_hash(never_closed, n, g), STELE_OK);
        assert_memory_equal(h, g, 32);
    }
    /* Block 2 wrote key-6 (tx 0) and key-0 (tx 1) last. */
    sdb_expect(fx->db, "w", "key-6", "2/0", 2, 0);
    sdb_expect(fx->db, "w", "key-0", "2/1", 2, 1);
    struct sdb_hseen s = {0};
    assert_int_equal(statedb_history(fx->db, "w", "key-0", NULL, 0, sdb_hcollect, &s, NULL),
                     STELE_OK);
    assert_true(s.n >= 2);

    /* The chain goes on from the reopened head: the next hash matches the other db's. */
    struct statedb_update *u = sdb_workload_block(3, false);
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_OK);
    assert_int_equal(statedb_apply(never_closed, u, g), STELE_OK);
    statedb_update_destroy(u);
    assert_memory_equal(h, g, 32);
    statedb_close(never_closed);
    free(p2);

    /* A second open of an open database is refused (LevelDB's lock), with a reason. */
    struct statedb *db2 = NULL;
    char *err = NULL;
    assert_int_equal(statedb_open(fx->path, false, &db2, &err), STELE_ERR_IO);
    assert_null(db2);
    assert_non_null(err);
    free(err);
}

/* Savepoint atomicity. The batch is LevelDB's unit of recovery (one log record with a CRC), so
 * a unit test cannot stop it half-way; what it can do is apply, close and reopen a synced
 * database and see all of the block, and make a write fail for real and see none of it. */
static void apply_is_all_or_nothing(void **state)
{
    struct sdb_fx *fx = *state;
    statedb_close(fx->db);
    fx->db = sdb_open(fx->path, true);
    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k", "v");
    sdb_apply(fx->db, u, NULL);
    statedb_close(fx->db);
    fx->db = sdb_open(fx->path, true);
    assert_int_equal(statedb_height(fx->db), 1);
    sdb_expect(fx->db, "a", "k", "v", 0, 0);

    /* A block too big for the file size limit: the log write fails with EFBIG. */
    size_t big_len = 4u << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = 0;
    u = statedb_update_create(1);
    sdb_put(u, 0, "a", "k", "changed");
    sdb_put(u, 1, "a", "big", big);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1u << 20;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = statedb_apply(fx->db, u, NULL);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, STELE_ERR_IO);

    /* Nothing of it is visible, and the database refuses applies until reopened. */
    assert_int_equal(statedb_height(fx->db), 1);
    sdb_expect(fx->db, "a", "k", "v", 0, 0);
    sdb_expect(fx->db, "a", "big", NULL, 0, 0);
    uint8_t h[32];
    assert_int_equal(statedb_state_hash(fx->db, 1, h), STELE_ERR_NOT_FOUND);
    assert_int_equal(statedb_apply(fx->db, u, NULL), STELE_ERR_STATE);

    statedb_close(fx->db);
    fx->db = sdb_open(fx->path, true);
    assert_int_equal(statedb_height(fx->db), 1);
    sdb_expect(fx->db, "a", "k", "v", 0, 0);
    sdb_expect(fx->db, "a", "big", NULL, 0, 0);
    assert_int_equal(statedb_apply(fx->db, u, NULL), STELE_OK);
    statedb_update_destroy(u);
    sdb_expect(fx->db, "a", "k", "changed", 1, 0);
    sdb_expect(fx->db, "a", "big", big, 1, 1);
    free(big);
}

/* ---- damaged records -------------------------------------------------------------------- */

/* Writes raw `key` -> `value` into the (closed) database at `path`. */
static void raw_put(const char *path, const char *key, size_t klen, const char *value, size_t vlen)
{
    leveldb_options_t *o = leveldb_options_create();
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, path, &err);
    assert_null(err);
    leveldb_put(db, wo, key, klen, value, vlen, &err);
    assert_null(err);
    leveldb_close(db);
    leveldb_writeoptions_destroy(wo);
    leveldb_options_destroy(o);
}

static void damaged_records_are_reported(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k1", "v1");
    sdb_put(u, 0, "a", "k3", "v3");
    sdb_apply(fx->db, u, NULL);
    statedb_close(fx->db);
    fx->db = NULL;

    /* A state value shorter than its version; a history entry with a bad flag; a state key
     * with a NUL; a history key without a full version. */
    raw_put(fx->path, "sa\0k2", 5, "short", 5);
    uint8_t hkey[64] = {'h', 0, 1, 'a', 0, 0, 0, 2, 'k', '1'}, hval[80];
    memset(hkey + 10, 0, 12);
    hkey[21] = 9;
    memset(hval, '0', sizeof hval);
    hval[0] = 7;
    raw_put(fx->path, (char *)hkey, 22, (char *)hval, sizeof hval);
    raw_put(fx->path, "sb\0k\0x", 7, "000000000000", 12);
    hkey[8] = 'z';
    raw_put(fx->path, (char *)hkey, 15, (char *)hval, sizeof hval);
    raw_put(fx->path, "b\0\0\0\0\0\0\0\5", 9, "short", 5);
    fx->db = sdb_open(fx->path, false);

    sdb_expect(fx->db, "a", "k1", "v1", 0, 0);
    assert_int_equal(statedb_get(fx->db, "a", "k2", NULL, NULL), STELE_ERR_MALFORMED);
    size_t n = 0;
    assert_int_equal(statedb_range(fx->db, "a", "", "", 0, sdb_count_entry, &n, NULL),
                     STELE_ERR_MALFORMED);
    assert_int_equal(n, 1); /* k1, then the damaged k2 */
    n = 0;
    assert_int_equal(statedb_range(fx->db, "b", "", "", 0, sdb_count_entry, &n, NULL),
                     STELE_ERR_MALFORMED);
    n = 0;
    assert_int_equal(statedb_history(fx->db, "a", "k1", NULL, 0, sdb_count_history, &n, NULL),
                     STELE_ERR_MALFORMED);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(statedb_history(fx->db, "a", "z1", NULL, 0, sdb_count_history, &n, NULL),
                     STELE_ERR_MALFORMED);
    uint8_t h[32];
    assert_int_equal(statedb_state_hash(fx->db, 5, h), STELE_ERR_MALFORMED);

    /* A damaged savepoint, or one naming a block without a hash, stops the open. */
    statedb_close(fx->db);
    fx->db = NULL;
    raw_put(fx->path, "msavepoint", 10, "\0\0\0\0\0\0\0\5", 8);
    struct statedb *db = NULL;
    char *err = NULL;
    assert_int_equal(statedb_open(fx->path, false, &db, &err), STELE_ERR_MALFORMED);
    assert_null(db);
    assert_non_null(strstr(err, "state hash"));
    free(err);
    raw_put(fx->path, "msavepoint", 10, "\0\0\0", 3);
    err = NULL;
    assert_int_equal(statedb_open(fx->path, false, &db, &err), STELE_ERR_MALFORMED);
    assert_non_null(strstr(err, "savepoint"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wrong_number_conflicts, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(reopen_keeps_everything, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(apply_is_all_or_nothing, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(damaged_records_are_reported, sdb_fx_setup,
                                        sdb_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
