/* test_statedb.c — the state database on real LevelDB files (statedb_fixture.h): state and
 * versions across blocks, writes within a block, input checks, ranges (limits, bounds, paging,
 * namespaces sharing a prefix) and key histories. The state hash is tested in
 * test_statedb_hash.c, refused and failed applies, reopening and damaged records in
 * test_statedb_durability.c, a big block and concurrent readers in test_statedb_load.c.
 */
#include "statedb_fixture.h"

#include "base/buf.h"
#include "base/status.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- state and versions ----------------------------------------------------------------- */

static void get_put_delete_across_blocks(void **state)
{
    struct sdb_fx *fx = *state;
    assert_int_equal(statedb_height(fx->db), 0);
    sdb_expect(fx->db, "a", "k1", NULL, 0, 0);

    struct statedb_update *u = statedb_update_create(0);
    assert_int_equal(statedb_update_number(u), 0);
    sdb_put(u, 0, "a", "k1", "v1");
    sdb_put(u, 1, "a", "k2", "v2");
    sdb_put(u, 1, "b", "k1", "other namespace");
    sdb_apply(fx->db, u, NULL);
    assert_int_equal(statedb_height(fx->db), 1);
    sdb_expect(fx->db, "a", "k1", "v1", 0, 0);
    sdb_expect(fx->db, "a", "k2", "v2", 0, 1);
    sdb_expect(fx->db, "b", "k1", "other namespace", 0, 1);
    sdb_expect(fx->db, "a", "k3", NULL, 0, 0);

    u = statedb_update_create(1);
    sdb_put(u, 3, "a", "k1", "v1b");
    sdb_del(u, 4, "a", "k2");
    sdb_del(u, 4, "a", "never-written");
    sdb_put(u, 7, "a", "empty", "");
    sdb_apply(fx->db, u, NULL);
    assert_int_equal(statedb_height(fx->db), 2);
    sdb_expect(fx->db, "a", "k1", "v1b", 1, 3);
    sdb_expect(fx->db, "a", "k2", NULL, 0, 0);
    sdb_expect(fx->db, "a", "never-written", NULL, 0, 0);
    sdb_expect(fx->db, "a", "empty", "", 1, 7);
    sdb_expect(fx->db, "b", "k1", "other namespace", 0, 1);

    /* NULL value and version are allowed; a deleted key can be written again. */
    assert_int_equal(statedb_get(fx->db, "a", "k1", NULL, NULL), STELE_OK);
    u = statedb_update_create(2);
    sdb_put(u, 0, "a", "k2", "back");
    sdb_apply(fx->db, u, NULL);
    sdb_expect(fx->db, "a", "k2", "back", 2, 0);
}

static void later_write_in_block_supersedes(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    struct statedb_version ver;
    bool is_del = true;
    assert_false(statedb_update_lookup(u, "a", "k", &ver, &is_del));

    sdb_put(u, 0, "a", "k", "first");
    assert_true(statedb_update_lookup(u, "a", "k", &ver, &is_del));
    assert_int_equal(ver.block, 0);
    assert_int_equal(ver.tx, 0);
    assert_false(is_del);

    sdb_put(u, 2, "a", "k", "second");
    sdb_put(u, 3, "a", "gone", "soon");
    sdb_del(u, 5, "a", "gone");
    sdb_put(u, 5, "a", "k2", "x");
    assert_true(statedb_update_lookup(u, "a", "k", &ver, NULL));
    assert_int_equal(ver.tx, 2);
    assert_true(statedb_update_lookup(u, "a", "gone", NULL, &is_del));
    assert_true(is_del);
    assert_false(statedb_update_lookup(u, "ab", "k", NULL, NULL));
    assert_false(statedb_update_lookup(u, "a", "k3", NULL, NULL));
    assert_false(statedb_update_lookup(u, "a", "", NULL, NULL));

    sdb_apply(fx->db, u, NULL);
    sdb_expect(fx->db, "a", "k", "second", 0, 2);
    sdb_expect(fx->db, "a", "gone", NULL, 0, 0);
    sdb_expect(fx->db, "a", "k2", "x", 0, 5);
}

static void update_write_checks_its_input(void **state)
{
    (void)state;
    struct statedb_update *u = statedb_update_create(4);
    const uint8_t v[] = "v";
    char long_ns[TX_MAX_NAME_LEN + 2], long_key[TX_MAX_KEY_LEN + 2];
    memset(long_ns, 'n', sizeof long_ns - 1);
    long_ns[sizeof long_ns - 1] = 0;
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    const char *bad_ns[] = {NULL, "", "a b", "a/b", "\xc3\xa9", long_ns};
    for (size_t i = 0; i < sizeof bad_ns / sizeof *bad_ns; i++)
        assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), bad_ns[i], "k", v, 1, false),
                         STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), "a", "", v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), "a", NULL, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), "a", long_key, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, "abc", "a", "k", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, NULL, "a", "k", v, 1, false), STELE_ERR_INVALID);
    char id[ENVELOPE_TXID_LEN + 2];
    snprintf(id, sizeof id, "%s0", sdb_txid(1));
    assert_int_equal(statedb_update_write(u, 1, id, "a", "k", v, 1, false), STELE_ERR_INVALID);
    id[ENVELOPE_TXID_LEN - 1] = 'g';
    id[ENVELOPE_TXID_LEN] = 0;
    assert_int_equal(statedb_update_write(u, 1, id, "a", "k", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), "a", "k", NULL, 3, false),
                     STELE_ERR_INVALID);
    assert_false(statedb_update_lookup(u, "a", "k", NULL, NULL));

    /* Longest names and keys pass; a delete ignores its value. */
    long_ns[TX_MAX_NAME_LEN] = 0;
    long_key[TX_MAX_KEY_LEN] = 0;
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), long_ns, long_key, v, 1, false),
                     STELE_OK);
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), "_lifecycle", "a.B-9_", NULL, 5, true),
                     STELE_OK);
    /* The same transaction may not write a key twice, nor may an earlier one follow. */
    assert_int_equal(statedb_update_write(u, 1, sdb_txid(1), long_ns, long_key, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 0, sdb_txid(0), "a", "z", v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 2, sdb_txid(2), long_ns, long_key, NULL, 0, true),
                     STELE_OK);
    statedb_update_destroy(u);
    statedb_update_destroy(NULL);
}

static void reads_check_their_input(void **state)
{
    struct sdb_fx *fx = *state;
    char long_key[TX_MAX_KEY_LEN + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    assert_int_equal(statedb_get(fx->db, "a b", "k", NULL, NULL), STELE_ERR_INVALID);
    assert_int_equal(statedb_get(fx->db, "a", "", NULL, NULL), STELE_ERR_INVALID);
    assert_int_equal(statedb_get(fx->db, "a", long_key, NULL, NULL), STELE_ERR_INVALID);
    assert_int_equal(statedb_range(fx->db, "", NULL, NULL, 0, NULL, NULL, NULL), STELE_ERR_INVALID);
    assert_int_equal(statedb_history(fx->db, "a", "", NULL, 0, NULL, NULL, NULL),
                     STELE_ERR_INVALID);
    uint8_t h[STATEDB_HASH_LEN];
    assert_int_equal(statedb_state_hash(fx->db, 0, h), STELE_ERR_NOT_FOUND);
}

/* ---- ranges ----------------------------------------------------------------------------- */

#define MAX_SEEN 16

struct seen {
    char keys[MAX_SEEN][16];   /* keys visited */
    char values[MAX_SEEN][16]; /* their values */
    struct statedb_version vers[MAX_SEEN];
    size_t n;       /* how many */
    size_t stop_at; /* fn returns false on this visit (1-based; 0 = never) */
};

static bool collect(void *ctx, const char *key, const uint8_t *value, size_t len,
                    const struct statedb_version *ver)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    assert_true(strlen(key) < sizeof s->keys[0] && len < sizeof s->values[0]);
    strcpy(s->keys[s->n], key);
    memcpy(s->values[s->n], value, len);
    s->values[s->n][len] = 0;
    s->vers[s->n] = *ver;
    s->n++;
    return s->n != s->stop_at;
}

/* Runs a range and compares the keys visited with the NULL-terminated list `want`. */
static void expect_range(struct statedb *db, const char *ns, const char *start, const char *end,
                         size_t limit, size_t stop_at, bool want_more, const char *const *want)
{
    struct seen s = {.stop_at = stop_at};
    bool more = !want_more;
    assert_int_equal(statedb_range(db, ns, start, end, limit, collect, &s, &more), STELE_OK);
    size_t n = 0;
    for (; want[n]; n++) {
        assert_true(n < s.n);
        assert_string_equal(s.keys[n], want[n]);
    }
    assert_int_equal(s.n, n);
    assert_int_equal(more, want_more);
}

static void range_limits_and_namespaces(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k1", "v-k1");
    sdb_put(u, 0, "a", "k2", "v-k2");
    sdb_put(u, 0, "a", "k3", "v-k3");
    sdb_put(u, 1, "a", "k", "v-k");
    sdb_put(u, 1, "a", "k\x01", "v-k01");
    sdb_put(u, 1, "a", "k\xff", "v-kff");
    sdb_put(u, 1, "a", "\x01", "v-01");
    sdb_put(u, 2, "ab", "k0", "v-ab");
    sdb_put(u, 2, "a-", "k0", "v-a-");
    sdb_put(u, 2, "_", "k0", "v-_");
    sdb_apply(fx->db, u, NULL);
    u = statedb_update_create(1);
    sdb_del(u, 0, "a", "k3");
    sdb_put(u, 0, "a", "k4", "v-k4");
    sdb_apply(fx->db, u, NULL);

    const char *all[] = {"\x01", "k", "k\x01", "k1", "k2", "k4", "k\xff", NULL};
    expect_range(fx->db, "a", "", "", 0, 0, false, all);
    expect_range(fx->db, "a", NULL, NULL, 0, 0, false, all);
    expect_range(fx->db, "a", "", "", 7, 0, false, all);
    expect_range(fx->db, "a", "", "", 8, 0, false, all);
    expect_range(fx->db, "a", "", "", 2, 0, true, (const char *[]){"\x01", "k", NULL});
    expect_range(fx->db, "a", "", "", 6, 0, true,
                 (const char *[]){"\x01", "k", "k\x01", "k1", "k2", "k4", NULL});
    expect_range(fx->db, "a", "k1", "k4", 0, 0, false, (const char *[]){"k1", "k2", NULL});
    expect_range(fx->db, "a", "k1", "k4", 2, 0, false, (const char *[]){"k1", "k2", NULL});
    expect_range(fx->db, "a", "k1", "k4", 1, 0, true, (const char *[]){"k1", NULL});
    expect_range(fx->db, "a", "k0", "", 0, 0, false,
                 (const char *[]){"k1", "k2", "k4", "k\xff", NULL});
    expect_range(fx->db, "a", "", "k", 0, 0, false, (const char *[]){"\x01", NULL});
    expect_range(fx->db, "a", "k\x02", "k\xff", 0, 0, false,
                 (const char *[]){"k1", "k2", "k4", NULL});
    expect_range(fx->db, "a", "k\xff", "", 0, 0, false, (const char *[]){"k\xff", NULL});
    expect_range(fx->db, "a", "k\xff\x01", "", 0, 0, false, (const char *[]){NULL});
    expect_range(fx->db, "a", "k3", "k3", 0, 0, false, (const char *[]){NULL});
    expect_range(fx->db, "a", "k4", "k1", 0, 0, false, (const char *[]){NULL});
    /* The callback stops the walk: has_more says whether a key was left. */
    expect_range(fx->db, "a", "", "", 0, 1, true, (const char *[]){"\x01", NULL});
    expect_range(fx->db, "a", "k1", "k4", 0, 2, false, (const char *[]){"k1", "k2", NULL});
    expect_range(fx->db, "a", "k1", "", 3, 3, true, (const char *[]){"k1", "k2", "k4", NULL});
    /* Namespaces sharing a prefix stay apart. */
    expect_range(fx->db, "ab", "", "", 0, 0, false, (const char *[]){"k0", NULL});
    expect_range(fx->db, "a-", "", "", 0, 0, false, (const char *[]){"k0", NULL});
    expect_range(fx->db, "_", "", "", 0, 0, false, (const char *[]){"k0", NULL});
    expect_range(fx->db, "b", "", "", 0, 0, false, (const char *[]){NULL});
    expect_range(fx->db, "a", "", "", 0, 0, false, all);

    /* Values and versions come with the keys; has_more may be NULL. */
    struct seen s = {0};
    assert_int_equal(statedb_range(fx->db, "a", "k2", "", 2, collect, &s, NULL), STELE_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.values[0], "v-k2");
    assert_int_equal(s.vers[0].block, 0);
    assert_int_equal(s.vers[0].tx, 0);
    assert_string_equal(s.values[1], "v-k4");
    assert_int_equal(s.vers[1].block, 1);

    /* Paging with has_more: the next page starts after the last key (key + 0x01). */
    char start[32] = "";
    size_t total = 0;
    for (bool more = true; more;) {
        struct seen page = {0};
        assert_int_equal(statedb_range(fx->db, "a", start, "", 3, collect, &page, &more), STELE_OK);
        for (size_t i = 0; i < page.n; i++)
            assert_string_equal(page.keys[i], all[total + i]);
        total += page.n;
        assert_true(page.n > 0);
        snprintf(start, sizeof start, "%s\x01", page.keys[page.n - 1]);
    }
    assert_int_equal(total, 7);
}

/* ---- history ---------------------------------------------------------------------------- */

/* A snapshot keeps showing the state it was taken on while later blocks are applied: values,
 * versions, deletes, ranges and its height; the latest state moves on. */
static void snapshot_reads_one_state(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_snap *empty;
    assert_int_equal(statedb_snapshot(fx->db, &empty), STELE_OK);
    assert_int_equal(statedb_snap_height(empty), 0);

    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k1", "v1");
    sdb_put(u, 0, "a", "k2", "v2");
    sdb_apply(fx->db, u, NULL);
    struct statedb_snap *snap;
    assert_int_equal(statedb_snapshot(fx->db, &snap), STELE_OK);
    assert_int_equal(statedb_snap_height(snap), 1);

    u = statedb_update_create(1);
    sdb_put(u, 2, "a", "k1", "v1b");
    sdb_del(u, 3, "a", "k2");
    sdb_put(u, 3, "a", "k3", "v3");
    sdb_apply(fx->db, u, NULL);
    assert_int_equal(statedb_height(fx->db), 2);

    struct buf v;
    struct statedb_version ver;
    buf_init(&v);
    assert_int_equal(statedb_get_at(fx->db, snap, "a", "k1", &v, &ver), STELE_OK);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.data, "v1", 2);
    assert_int_equal(ver.block, 0);
    buf_clear(&v);
    assert_int_equal(statedb_get_at(fx->db, snap, "a", "k2", &v, NULL), STELE_OK);
    assert_int_equal(statedb_get_at(fx->db, snap, "a", "k3", NULL, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(statedb_get_at(fx->db, empty, "a", "k1", NULL, NULL), STELE_ERR_NOT_FOUND);
    buf_release(&v);
    struct seen s = {0};
    assert_int_equal(statedb_range_at(fx->db, snap, "a", "", "", 0, collect, &s, NULL), STELE_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "k1");
    assert_string_equal(s.values[0], "v1");
    assert_string_equal(s.keys[1], "k2");
    /* the latest state, NULL snapshot or none */
    sdb_expect(fx->db, "a", "k1", "v1b", 1, 2);
    assert_int_equal(statedb_get_at(fx->db, NULL, "a", "k2", NULL, NULL), STELE_ERR_NOT_FOUND);
    const char *latest[] = {"k1", "k3", NULL};
    expect_range(fx->db, "a", "", "", 0, 0, false, latest);
    statedb_snapshot_release(fx->db, snap);
    statedb_snapshot_release(fx->db, empty);
    statedb_snapshot_release(fx->db, NULL);
}

static void history_after_limit_and_deletes(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 1, "a", "k", "v0");
    sdb_put(u, 1, "a", "k1", "other key");
    sdb_put(u, 1, "ab", "k", "other ns");
    sdb_apply(fx->db, u, NULL);
    u = statedb_update_create(1);
    sdb_put(u, 0, "a", "k", "v1");
    sdb_del(u, 2, "a", "k");
    sdb_apply(fx->db, u, NULL);
    u = statedb_update_create(2);
    sdb_put(u, 0, "a", "k", "v2");
    sdb_apply(fx->db, u, NULL);

    struct sdb_hseen s = {0};
    bool more = true;
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 0, sdb_hcollect, &s, &more), STELE_OK);
    assert_false(more);
    assert_int_equal(s.n, 4);
    const struct statedb_version want[] = {{0, 1}, {1, 0}, {1, 2}, {2, 0}};
    const char *values[] = {"v0", "v1", "", "v2"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(s.vers[i].block, want[i].block);
        assert_int_equal(s.vers[i].tx, want[i].tx);
        assert_string_equal(s.tx_ids[i], sdb_txid(want[i].tx));
        assert_string_equal(s.values[i], values[i]);
        assert_int_equal(s.deletes[i], i == 2);
    }

    /* `after` an existing version, between versions, and past the last. */
    struct sdb_hseen s2 = {0};
    struct statedb_version after = {1, 0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 0, sdb_hcollect, &s2, &more),
                     STELE_OK);
    assert_int_equal(s2.n, 2);
    assert_int_equal(s2.vers[0].tx, 2);
    assert_true(s2.deletes[0]);
    struct sdb_hseen s3 = {0};
    after = (struct statedb_version){1, 1};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 1, sdb_hcollect, &s3, &more),
                     STELE_OK);
    assert_int_equal(s3.n, 1);
    assert_int_equal(s3.vers[0].block, 1);
    assert_int_equal(s3.vers[0].tx, 2);
    assert_true(more);
    struct sdb_hseen s4 = {0};
    after = (struct statedb_version){2, 0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 0, sdb_hcollect, &s4, &more),
                     STELE_OK);
    assert_int_equal(s4.n, 0);
    assert_false(more);
    after = (struct statedb_version){0, UINT32_MAX};
    struct sdb_hseen s5 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 3, sdb_hcollect, &s5, &more),
                     STELE_OK);
    assert_int_equal(s5.n, 3);
    assert_false(more);

    /* Limits, and keys and namespaces that share a prefix stay apart. */
    struct sdb_hseen s6 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 2, sdb_hcollect, &s6, &more),
                     STELE_OK);
    assert_int_equal(s6.n, 2);
    assert_true(more);
    struct sdb_hseen s7 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k1", NULL, 0, sdb_hcollect, &s7, NULL),
                     STELE_OK);
    assert_int_equal(s7.n, 1);
    assert_string_equal(s7.values[0], "other key");
    struct sdb_hseen s8 = {0};
    assert_int_equal(statedb_history(fx->db, "ab", "k", NULL, 0, sdb_hcollect, &s8, NULL),
                     STELE_OK);
    assert_int_equal(s8.n, 1);
    struct sdb_hseen s9 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "nope", NULL, 0, sdb_hcollect, &s9, &more),
                     STELE_OK);
    assert_int_equal(s9.n, 0);
    assert_false(more);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_put_delete_across_blocks, sdb_fx_setup,
                                        sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(later_write_in_block_supersedes, sdb_fx_setup,
                                        sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(update_write_checks_its_input, sdb_fx_setup,
                                        sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(reads_check_their_input, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(range_limits_and_namespaces, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(snapshot_reads_one_state, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(history_after_limit_and_deletes, sdb_fx_setup,
                                        sdb_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
