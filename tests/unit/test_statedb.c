/* test_statedb.c — the state database on real LevelDB files: state, versions, ranges, history,
 * the state hash, reopening, failed writes, damaged records, big blocks and concurrent readers.
 */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct fixture {
    char *dir;          /* temporary directory */
    char *path;         /* dir/state: the database */
    struct statedb *db; /* open on path */
};

static struct statedb *open_db(const char *path, bool sync)
{
    struct statedb *db = NULL;
    char *err = NULL;
    int rc = statedb_open(path, sync, &db, &err);
    if (rc)
        fail_msg("open %s: %s: %s", path, stele_strerror(rc), err ? err : "");
    assert_null(err);
    return db;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("statedb");
    if (asprintf(&fx->path, "%s/state", fx->dir) < 0)
        return -1;
    fx->db = open_db(fx->path, false);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    statedb_close(fx->db);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

static void reopen(struct fixture *fx)
{
    statedb_close(fx->db);
    fx->db = open_db(fx->path, false);
}

/* A tx_id made from `n`: 64 hex digits. Static per call: use before the next call. */
static const char *txid(unsigned n)
{
    static char id[ENVELOPE_TXID_LEN + 1];
    snprintf(id, sizeof id, "%064x", n);
    return id;
}

static void put(struct statedb_update *u, uint32_t tx, const char *ns, const char *key,
                const char *value)
{
    assert_int_equal(statedb_update_write(u, tx, txid(tx), ns, key, (const uint8_t *)value,
                                          strlen(value), false),
                     STELE_OK);
}

static void del(struct statedb_update *u, uint32_t tx, const char *ns, const char *key)
{
    assert_int_equal(statedb_update_write(u, tx, txid(tx), ns, key, NULL, 0, true), STELE_OK);
}

/* Applies `u` (the next block) and destroys it. */
static void apply(struct statedb *db, struct statedb_update *u, uint8_t hash[STATEDB_HASH_LEN])
{
    assert_int_equal(statedb_apply(db, u, hash), STELE_OK);
    statedb_update_destroy(u);
}

/* Asserts that ns/key holds `want` (NULL: not found) at version (block, tx). */
static void expect(struct statedb *db, const char *ns, const char *key, const char *want,
                   uint64_t block, uint32_t tx)
{
    struct buf v;
    buf_init(&v);
    struct statedb_version ver = {99, 99};
    int rc = statedb_get(db, ns, key, &v, &ver);
    if (!want) {
        assert_int_equal(rc, STELE_ERR_NOT_FOUND);
        assert_int_equal(v.len, 0);
    } else {
        assert_int_equal(rc, STELE_OK);
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data ? (char *)v.data : "", want, v.len);
        assert_int_equal(ver.block, block);
        assert_int_equal(ver.tx, tx);
    }
    buf_release(&v);
}

/* ---- state and versions ----------------------------------------------------------------- */

static void get_put_delete_across_blocks(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(statedb_height(fx->db), 0);
    expect(fx->db, "a", "k1", NULL, 0, 0);

    struct statedb_update *u = statedb_update_create(0);
    assert_int_equal(statedb_update_number(u), 0);
    put(u, 0, "a", "k1", "v1");
    put(u, 1, "a", "k2", "v2");
    put(u, 1, "b", "k1", "other namespace");
    apply(fx->db, u, NULL);
    assert_int_equal(statedb_height(fx->db), 1);
    expect(fx->db, "a", "k1", "v1", 0, 0);
    expect(fx->db, "a", "k2", "v2", 0, 1);
    expect(fx->db, "b", "k1", "other namespace", 0, 1);
    expect(fx->db, "a", "k3", NULL, 0, 0);

    u = statedb_update_create(1);
    put(u, 3, "a", "k1", "v1b");
    del(u, 4, "a", "k2");
    del(u, 4, "a", "never-written");
    put(u, 7, "a", "empty", "");
    apply(fx->db, u, NULL);
    assert_int_equal(statedb_height(fx->db), 2);
    expect(fx->db, "a", "k1", "v1b", 1, 3);
    expect(fx->db, "a", "k2", NULL, 0, 0);
    expect(fx->db, "a", "never-written", NULL, 0, 0);
    expect(fx->db, "a", "empty", "", 1, 7);
    expect(fx->db, "b", "k1", "other namespace", 0, 1);

    /* NULL value and version are allowed; a deleted key can be written again. */
    assert_int_equal(statedb_get(fx->db, "a", "k1", NULL, NULL), STELE_OK);
    u = statedb_update_create(2);
    put(u, 0, "a", "k2", "back");
    apply(fx->db, u, NULL);
    expect(fx->db, "a", "k2", "back", 2, 0);
}

static void later_write_in_block_supersedes(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    struct statedb_version ver;
    bool is_del = true;
    assert_false(statedb_update_lookup(u, "a", "k", &ver, &is_del));

    put(u, 0, "a", "k", "first");
    assert_true(statedb_update_lookup(u, "a", "k", &ver, &is_del));
    assert_int_equal(ver.block, 0);
    assert_int_equal(ver.tx, 0);
    assert_false(is_del);

    put(u, 2, "a", "k", "second");
    put(u, 3, "a", "gone", "soon");
    del(u, 5, "a", "gone");
    put(u, 5, "a", "k2", "x");
    assert_true(statedb_update_lookup(u, "a", "k", &ver, NULL));
    assert_int_equal(ver.tx, 2);
    assert_true(statedb_update_lookup(u, "a", "gone", NULL, &is_del));
    assert_true(is_del);
    assert_false(statedb_update_lookup(u, "ab", "k", NULL, NULL));
    assert_false(statedb_update_lookup(u, "a", "k3", NULL, NULL));
    assert_false(statedb_update_lookup(u, "a", "", NULL, NULL));

    apply(fx->db, u, NULL);
    expect(fx->db, "a", "k", "second", 0, 2);
    expect(fx->db, "a", "gone", NULL, 0, 0);
    expect(fx->db, "a", "k2", "x", 0, 5);
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
        assert_int_equal(statedb_update_write(u, 1, txid(1), bad_ns[i], "k", v, 1, false),
                         STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, txid(1), "a", "", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, txid(1), "a", NULL, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, txid(1), "a", long_key, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, "abc", "a", "k", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, NULL, "a", "k", v, 1, false), STELE_ERR_INVALID);
    char id[ENVELOPE_TXID_LEN + 2];
    snprintf(id, sizeof id, "%s0", txid(1));
    assert_int_equal(statedb_update_write(u, 1, id, "a", "k", v, 1, false), STELE_ERR_INVALID);
    id[ENVELOPE_TXID_LEN - 1] = 'g';
    id[ENVELOPE_TXID_LEN] = 0;
    assert_int_equal(statedb_update_write(u, 1, id, "a", "k", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 1, txid(1), "a", "k", NULL, 3, false),
                     STELE_ERR_INVALID);
    assert_false(statedb_update_lookup(u, "a", "k", NULL, NULL));

    /* Longest names and keys pass; a delete ignores its value. */
    long_ns[TX_MAX_NAME_LEN] = 0;
    long_key[TX_MAX_KEY_LEN] = 0;
    assert_int_equal(statedb_update_write(u, 1, txid(1), long_ns, long_key, v, 1, false), STELE_OK);
    assert_int_equal(statedb_update_write(u, 1, txid(1), "_lifecycle", "a.B-9_", NULL, 5, true),
                     STELE_OK);
    /* The same transaction may not write a key twice, nor may an earlier one follow. */
    assert_int_equal(statedb_update_write(u, 1, txid(1), long_ns, long_key, v, 1, false),
                     STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 0, txid(0), "a", "z", v, 1, false), STELE_ERR_INVALID);
    assert_int_equal(statedb_update_write(u, 2, txid(2), long_ns, long_key, NULL, 0, true),
                     STELE_OK);
    statedb_update_destroy(u);
    statedb_update_destroy(NULL);
}

static void reads_check_their_input(void **state)
{
    struct fixture *fx = *state;
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
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    put(u, 0, "a", "k1", "v-k1");
    put(u, 0, "a", "k2", "v-k2");
    put(u, 0, "a", "k3", "v-k3");
    put(u, 1, "a", "k", "v-k");
    put(u, 1, "a", "k\x01", "v-k01");
    put(u, 1, "a", "k\xff", "v-kff");
    put(u, 1, "a", "\x01", "v-01");
    put(u, 2, "ab", "k0", "v-ab");
    put(u, 2, "a-", "k0", "v-a-");
    put(u, 2, "_", "k0", "v-_");
    apply(fx->db, u, NULL);
    u = statedb_update_create(1);
    del(u, 0, "a", "k3");
    put(u, 0, "a", "k4", "v-k4");
    apply(fx->db, u, NULL);

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

struct hseen {
    struct statedb_version vers[MAX_SEEN];
    char tx_ids[MAX_SEEN][ENVELOPE_TXID_LEN + 1];
    char values[MAX_SEEN][16];
    bool deletes[MAX_SEEN];
    size_t n;
};

static bool hcollect(void *ctx, const struct statedb_history_entry *e)
{
    struct hseen *s = ctx;
    assert_true(s->n < MAX_SEEN && e->len < sizeof s->values[0]);
    s->vers[s->n] = e->ver;
    assert_int_equal(strlen(e->tx_id), ENVELOPE_TXID_LEN);
    strcpy(s->tx_ids[s->n], e->tx_id);
    if (e->is_delete) {
        assert_null(e->value);
        assert_int_equal(e->len, 0);
    }
    memcpy(s->values[s->n], e->value ? (const char *)e->value : "", e->len);
    s->values[s->n][e->len] = 0;
    s->deletes[s->n] = e->is_delete;
    s->n++;
    return true;
}

static void history_after_limit_and_deletes(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    put(u, 1, "a", "k", "v0");
    put(u, 1, "a", "k1", "other key");
    put(u, 1, "ab", "k", "other ns");
    apply(fx->db, u, NULL);
    u = statedb_update_create(1);
    put(u, 0, "a", "k", "v1");
    del(u, 2, "a", "k");
    apply(fx->db, u, NULL);
    u = statedb_update_create(2);
    put(u, 0, "a", "k", "v2");
    apply(fx->db, u, NULL);

    struct hseen s = {0};
    bool more = true;
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 0, hcollect, &s, &more), STELE_OK);
    assert_false(more);
    assert_int_equal(s.n, 4);
    const struct statedb_version want[] = {{0, 1}, {1, 0}, {1, 2}, {2, 0}};
    const char *values[] = {"v0", "v1", "", "v2"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(s.vers[i].block, want[i].block);
        assert_int_equal(s.vers[i].tx, want[i].tx);
        assert_string_equal(s.tx_ids[i], txid(want[i].tx));
        assert_string_equal(s.values[i], values[i]);
        assert_int_equal(s.deletes[i], i == 2);
    }

    /* `after` an existing version, between versions, and past the last. */
    struct hseen s2 = {0};
    struct statedb_version after = {1, 0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 0, hcollect, &s2, &more), STELE_OK);
    assert_int_equal(s2.n, 2);
    assert_int_equal(s2.vers[0].tx, 2);
    assert_true(s2.deletes[0]);
    struct hseen s3 = {0};
    after = (struct statedb_version){1, 1};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 1, hcollect, &s3, &more), STELE_OK);
    assert_int_equal(s3.n, 1);
    assert_int_equal(s3.vers[0].block, 1);
    assert_int_equal(s3.vers[0].tx, 2);
    assert_true(more);
    struct hseen s4 = {0};
    after = (struct statedb_version){2, 0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 0, hcollect, &s4, &more), STELE_OK);
    assert_int_equal(s4.n, 0);
    assert_false(more);
    after = (struct statedb_version){0, UINT32_MAX};
    struct hseen s5 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", &after, 3, hcollect, &s5, &more), STELE_OK);
    assert_int_equal(s5.n, 3);
    assert_false(more);

    /* Limits, and keys and namespaces that share a prefix stay apart. */
    struct hseen s6 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 2, hcollect, &s6, &more), STELE_OK);
    assert_int_equal(s6.n, 2);
    assert_true(more);
    struct hseen s7 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k1", NULL, 0, hcollect, &s7, NULL), STELE_OK);
    assert_int_equal(s7.n, 1);
    assert_string_equal(s7.values[0], "other key");
    struct hseen s8 = {0};
    assert_int_equal(statedb_history(fx->db, "ab", "k", NULL, 0, hcollect, &s8, NULL), STELE_OK);
    assert_int_equal(s8.n, 1);
    struct hseen s9 = {0};
    assert_int_equal(statedb_history(fx->db, "a", "nope", NULL, 0, hcollect, &s9, &more), STELE_OK);
    assert_int_equal(s9.n, 0);
    assert_false(more);
}

/* ---- the state hash --------------------------------------------------------------------- */

/* Appends w_i as statedb.h spells it, field by field. */
static void preimage_write(struct buf *b, uint32_t tx, const char *ns, const char *key,
                           bool is_delete, const char *value)
{
    size_t vlen = is_delete ? 0 : strlen(value);
    assert_int_equal(buf_append_u32be(b, tx), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)strlen(ns)), 0);
    assert_int_equal(buf_append(b, ns, strlen(ns)), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)strlen(key)), 0);
    assert_int_equal(buf_append(b, key, strlen(key)), 0);
    assert_int_equal(buf_append_byte(b, is_delete), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)vlen), 0);
    assert_int_equal(buf_append(b, value, vlen), 0);
}

static void preimage_start(struct buf *b, const uint8_t prev[32], uint64_t number)
{
    buf_clear(b);
    assert_int_equal(buf_append(b, "STELE-STATE-v1", 14), 0);
    assert_int_equal(buf_append_byte(b, 0), 0);
    assert_int_equal(buf_append(b, prev, 32), 0);
    assert_int_equal(buf_append_u64be(b, number), 0);
}

static void state_hash_known_answer(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    put(u, 0, "a", "k1", "v1");
    del(u, 1, "a", "k\xff");
    put(u, 1, "bb", "x", "");
    put(u, 2, "a", "k1", "v1b");
    uint8_t h0[32], h1[32], want[32], stored[32], zero[32] = {0};
    apply(fx->db, u, h0);

    struct buf pre;
    buf_init(&pre);
    preimage_start(&pre, zero, 0);
    preimage_write(&pre, 0, "a", "k1", false, "v1");
    preimage_write(&pre, 1, "a", "k\xff", true, NULL);
    preimage_write(&pre, 1, "bb", "x", false, "");
    preimage_write(&pre, 2, "a", "k1", false, "v1b");
    assert_int_equal(crypto_sha256(pre.data, pre.len, want), 0);
    assert_memory_equal(h0, want, 32);
    /* The same digest from outside C (Python's hashlib over the same bytes). */
    uint8_t lit[32];
    assert_int_equal(
        hex_decode("7540285111e9a8374b0bd3750a3100b5e148c5492c6c3aef40bb4d02cb6842db", lit, 32), 0);
    assert_memory_equal(h0, lit, 32);
    assert_int_equal(statedb_state_hash(fx->db, 0, stored), STELE_OK);
    assert_memory_equal(stored, h0, 32);

    /* An empty block chains on the previous hash. */
    apply(fx->db, statedb_update_create(1), h1);
    preimage_start(&pre, h0, 1);
    assert_int_equal(crypto_sha256(pre.data, pre.len, want), 0);
    assert_memory_equal(h1, want, 32);
    assert_int_equal(
        hex_decode("b56e030b578a552363ff16d107cf97befed185b947815dd6e87d2befd781426a", lit, 32), 0);
    assert_memory_equal(h1, lit, 32);
    assert_int_equal(statedb_state_hash(fx->db, 1, stored), STELE_OK);
    assert_memory_equal(stored, h1, 32);
    assert_int_equal(statedb_state_hash(fx->db, 2, stored), STELE_ERR_NOT_FOUND);
    buf_release(&pre);
}

/* Block `number` of a small workload; `twist` changes one value. */
static struct statedb_update *workload_block(uint64_t number, bool twist)
{
    struct statedb_update *u = statedb_update_create(number);
    char key[32], value[32];
    for (uint32_t tx = 0; tx < 4; tx++) {
        snprintf(key, sizeof key, "key-%u", (unsigned)((number * 3 + tx) % 7));
        snprintf(value, sizeof value, "%llu/%u%s", (unsigned long long)number, tx,
                 twist && tx == 2 ? "!" : "");
        if ((number + tx) % 5 == 4)
            del(u, tx, "w", key);
        else
            put(u, tx, "w", key, value);
    }
    return u;
}

/* Opens dir/name (sync or not). Free the path with free(). */
static struct statedb *open_sibling(struct fixture *fx, const char *name, bool sync, char **path)
{
    assert_true(asprintf(path, "%s/%s", fx->dir, name) > 0);
    return open_db(*path, sync);
}

static void same_updates_give_same_hashes(void **state)
{
    struct fixture *fx = *state;
    char *p2, *p3;
    struct statedb *synced = open_sibling(fx, "synced", true, &p2);
    struct statedb *twisted = open_sibling(fx, "twisted", false, &p3);
    uint8_t a[32], b[32], c[32], prev[32];
    for (uint64_t n = 0; n < 6; n++) {
        /* One update may be applied to several databases. */
        struct statedb_update *u = workload_block(n, false);
        assert_int_equal(statedb_apply(fx->db, u, a), STELE_OK);
        assert_int_equal(statedb_apply(synced, u, b), STELE_OK);
        statedb_update_destroy(u);
        apply(twisted, workload_block(n, n == 3), c);
        assert_memory_equal(a, b, 32);
        if (n < 3)
            assert_memory_equal(a, c, 32);
        else
            assert_memory_not_equal(a, c, 32); /* and every hash after it differs */
        if (n > 0)
            assert_memory_not_equal(a, prev, 32);
        memcpy(prev, a, 32);
    }
    for (uint64_t n = 0; n < 6; n++) {
        assert_int_equal(statedb_state_hash(fx->db, n, a), STELE_OK);
        assert_int_equal(statedb_state_hash(synced, n, b), STELE_OK);
        assert_memory_equal(a, b, 32);
    }
    statedb_close(synced);
    statedb_close(twisted);
    free(p2);
    free(p3);
}

static void wrong_number_conflicts(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(1);
    put(u, 0, "a", "k", "too early");
    uint8_t h[32];
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    assert_int_equal(statedb_height(fx->db), 0);
    expect(fx->db, "a", "k", NULL, 0, 0);
    assert_int_equal(statedb_state_hash(fx->db, 1, h), STELE_ERR_NOT_FOUND);

    u = statedb_update_create(0);
    put(u, 0, "a", "k", "v");
    uint8_t h0[32];
    assert_int_equal(statedb_apply(fx->db, u, h0), STELE_OK);
    /* The same block again: refused, nothing changes. */
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    u = statedb_update_create(0);
    put(u, 3, "a", "k", "replayed");
    assert_int_equal(statedb_apply(fx->db, u, h), STELE_ERR_CONFLICT);
    statedb_update_destroy(u);
    assert_int_equal(statedb_height(fx->db), 1);
    expect(fx->db, "a", "k", "v", 0, 0);
    assert_int_equal(statedb_state_hash(fx->db, 0, h), STELE_OK);
    assert_memory_equal(h, h0, 32);
    struct hseen s = {0};
    assert_int_equal(statedb_history(fx->db, "a", "k", NULL, 0, hcollect, &s, NULL), STELE_OK);
    assert_int_equal(s.n, 1);
}

static void reopen_keeps_everything(void **state)
{
    struct fixture *fx = *state;
    char *p2;
    struct statedb *never_closed = open_sibling(fx, "never-closed", false, &p2);
    uint8_t h[32], g[32];
    for (uint64_t n = 0; n < 3; n++) {
        struct statedb_update *u = workload_block(n, false);
        assert_int_equal(statedb_apply(never_closed, u, NULL), STELE_OK);
        apply(fx->db, u, NULL);
    }
    reopen(fx);
    assert_int_equal(statedb_height(fx->db), 3);
    for (uint64_t n = 0; n < 3; n++) {
        assert_int_equal(statedb_state_hash(fx->db, n, h), STELE_OK);
        assert_int_equal(statedb_state_hash(never_closed, n, g), STELE_OK);
        assert_memory_equal(h, g, 32);
    }
    /* Block 2 wrote key-6 (tx 0) and key-0 (tx 1) last. */
    expect(fx->db, "w", "key-6", "2/0", 2, 0);
    expect(fx->db, "w", "key-0", "2/1", 2, 1);
    struct hseen s = {0};
    assert_int_equal(statedb_history(fx->db, "w", "key-0", NULL, 0, hcollect, &s, NULL), STELE_OK);
    assert_true(s.n >= 2);

    /* The chain goes on from the reopened head: the next hash matches the other db's. */
    struct statedb_update *u = workload_block(3, false);
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
    struct fixture *fx = *state;
    statedb_close(fx->db);
    fx->db = open_db(fx->path, true);
    struct statedb_update *u = statedb_update_create(0);
    put(u, 0, "a", "k", "v");
    apply(fx->db, u, NULL);
    statedb_close(fx->db);
    fx->db = open_db(fx->path, true);
    assert_int_equal(statedb_height(fx->db), 1);
    expect(fx->db, "a", "k", "v", 0, 0);

    /* A block too big for the file size limit: the log write fails with EFBIG. */
    size_t big_len = 4u << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = 0;
    u = statedb_update_create(1);
    put(u, 0, "a", "k", "changed");
    put(u, 1, "a", "big", big);
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
    expect(fx->db, "a", "k", "v", 0, 0);
    expect(fx->db, "a", "big", NULL, 0, 0);
    uint8_t h[32];
    assert_int_equal(statedb_state_hash(fx->db, 1, h), STELE_ERR_NOT_FOUND);
    assert_int_equal(statedb_apply(fx->db, u, NULL), STELE_ERR_STATE);

    statedb_close(fx->db);
    fx->db = open_db(fx->path, true);
    assert_int_equal(statedb_height(fx->db), 1);
    expect(fx->db, "a", "k", "v", 0, 0);
    expect(fx->db, "a", "big", NULL, 0, 0);
    assert_int_equal(statedb_apply(fx->db, u, NULL), STELE_OK);
    statedb_update_destroy(u);
    expect(fx->db, "a", "k", "changed", 1, 0);
    expect(fx->db, "a", "big", big, 1, 1);
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

static bool count_entry(void *ctx, const char *key, const uint8_t *value, size_t len,
                        const struct statedb_version *ver)
{
    (*(size_t *)ctx)++;
    return true;
}

static bool count_history(void *ctx, const struct statedb_history_entry *e)
{
    (*(size_t *)ctx)++;
    return true;
}

static void damaged_records_are_reported(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    put(u, 0, "a", "k1", "v1");
    put(u, 0, "a", "k3", "v3");
    apply(fx->db, u, NULL);
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
    fx->db = open_db(fx->path, false);

    expect(fx->db, "a", "k1", "v1", 0, 0);
    assert_int_equal(statedb_get(fx->db, "a", "k2", NULL, NULL), STELE_ERR_MALFORMED);
    size_t n = 0;
    assert_int_equal(statedb_range(fx->db, "a", "", "", 0, count_entry, &n, NULL),
                     STELE_ERR_MALFORMED);
    assert_int_equal(n, 1); /* k1, then the damaged k2 */
    n = 0;
    assert_int_equal(statedb_range(fx->db, "b", "", "", 0, count_entry, &n, NULL),
                     STELE_ERR_MALFORMED);
    n = 0;
    assert_int_equal(statedb_history(fx->db, "a", "k1", NULL, 0, count_history, &n, NULL),
                     STELE_ERR_MALFORMED);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(statedb_history(fx->db, "a", "z1", NULL, 0, count_history, &n, NULL),
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

/* ---- a big block and concurrent readers ------------------------------------------------- */

#define BIG_WRITES 50000

static void big_update_applies(void **state)
{
    struct fixture *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    char key[32], value[32];
    /* Ten keys per transaction; every fifth key is written again by a later transaction. */
    for (uint32_t i = 0; i < BIG_WRITES; i++) {
        snprintf(key, sizeof key, "key-%06u", (unsigned)(i % (BIG_WRITES - BIG_WRITES / 5)));
        snprintf(value, sizeof value, "v%u", (unsigned)i);
        uint32_t tx = i / 10;
        assert_int_equal(statedb_update_write(u, tx, txid(tx), "big", key, (uint8_t *)value,
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
    apply(fx->db, u, NULL);
    size_t n = 0;
    bool more = true;
    assert_int_equal(statedb_range(fx->db, "big", "", "", 0, count_entry, &n, &more), STELE_OK);
    assert_int_equal(n, BIG_WRITES - BIG_WRITES / 5);
    assert_false(more);
    expect(fx->db, "big", "key-000007", "v40007", 0, 4000);
    expect(fx->db, "big", "key-039999", "v39999", 0, 3999);
    n = 0;
    assert_int_equal(statedb_history(fx->db, "big", "key-000007", NULL, 0, count_history, &n, NULL),
                     STELE_OK);
    assert_int_equal(n, 2);
}

#define READER_KEYS   8
#define READER_BLOCKS 150

struct reader {
    struct statedb *db;
    atomic_bool done;
    int failures; /* inconsistent reads seen */
    long reads;
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
        if (statedb_range(r->db, "c", "", "", 0, count_entry, &n, NULL) != STELE_OK ||
            (h > 0 && n != READER_KEYS))
            r->failures++;
        uint8_t hash[32];
        if (h > 0 && statedb_state_hash(r->db, h - 1, hash) != STELE_OK)
            r->failures++;
        r->reads++;
    }
    return NULL;
}

static void readers_run_during_applies(void **state)
{
    struct fixture *fx = *state;
    struct reader r = {.db = fx->db};
    atomic_init(&r.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    char key[16], value[16];
    for (uint64_t n = 0; n < READER_BLOCKS; n++) {
        struct statedb_update *u = statedb_update_create(n);
        snprintf(value, sizeof value, "%llu", (unsigned long long)n);
        for (uint32_t i = 0; i < READER_KEYS; i++) {
            snprintf(key, sizeof key, "k%u", (unsigned)i);
            put(u, i, "c", key, value);
        }
        apply(fx->db, u, NULL);
    }
    atomic_store(&r.done, true);
    pthread_join(t, NULL);
    assert_int_equal(r.failures, 0);
    assert_true(r.reads > 0);
    assert_int_equal(statedb_height(fx->db), READER_BLOCKS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_put_delete_across_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(later_write_in_block_supersedes, setup, teardown),
        cmocka_unit_test_setup_teardown(update_write_checks_its_input, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_check_their_input, setup, teardown),
        cmocka_unit_test_setup_teardown(range_limits_and_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(history_after_limit_and_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(state_hash_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(same_updates_give_same_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_number_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(apply_is_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_records_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(big_update_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(readers_run_during_applies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
