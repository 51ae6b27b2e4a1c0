/*
 * statedb.c — the state database's LevelDB side: open, reads, applying a block (statedb.h has
 * the key layout and the state hash).
 *
 * Atomicity: statedb_apply() hands LevelDB one write batch. LevelDB appends a batch to its log
 * as one record with a checksum and replays on open only whole records, so after a crash the
 * database holds all of a block's state, history, hash and savepoint or none of it; readers see
 * a batch all at once (a get sees one sequence number, an iterator a snapshot).
 *
 * After a failed write LevelDB's log may end in a partial record, and LevelDB does not promise
 * that later writes are readable behind it; so the database refuses applies until it is
 * reopened, and reopening drops the torn record.
 */
#include "ledger/statedb_int.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/tx.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SDB_VERSION_LEN 12                      /* u64 block || u32 tx */
#define SDB_HIST_HDR    (1 + ENVELOPE_TXID_LEN) /* u8 is_delete || tx_id */
/* "s" ns 0x00 key, and "h" u16 ns u32 key u64 u32: the longest LevelDB key written. */
#define SDB_KEY_MAX (1 + 2 + TX_MAX_NAME_LEN + 4 + TX_MAX_KEY_LEN + SDB_VERSION_LEN)

static const char savepoint_key[] = "msavepoint";

struct statedb {
    char *dir;                     /* the LevelDB directory (owned; for messages) */
    leveldb_t *db;                 /* the database */
    leveldb_options_t *db_opts;    /* kept for the life of db */
    leveldb_readoptions_t *ropts;  /* shared by every read (thread-safe in LevelDB) */
    leveldb_writeoptions_t *wopts; /* applies: synced unless opened without sync */

    pthread_mutex_t apply_mu; /* serializes applies (the caller should already) */
    bool broken;              /* a write failed: refuse applies (under apply_mu) */
    uint8_t head[32];         /* state hash of block height-1, zeros at 0 (under apply_mu) */
    struct buf scratch;       /* the applier's value buffer (under apply_mu) */

    _Atomic uint64_t height; /* blocks applied; read without the lock */
};

struct statedb_snap {
    const leveldb_snapshot_t *snap; /* LevelDB's snapshot */
    leveldb_readoptions_t *ropts;   /* reads through it */
    uint64_t height;                /* blocks applied in it (its savepoint + 1) */
};

/* ---- keys and records ------------------------------------------------------------------- */

/* "s" ns 0x00 key into `out` (SDB_KEY_MAX octets); returns the length. */
static size_t state_key(uint8_t *out, const char *ns, size_t ns_len, const char *key,
                        size_t key_len)
{
    out[0] = 's';
    memcpy(out + 1, ns, ns_len);
    out[1 + ns_len] = 0;
    memcpy(out + 2 + ns_len, key, key_len);
    return 2 + ns_len + key_len;
}

/* "h" u16 len(ns) ns u32 len(key) key — the prefix of a key's history — into `out`. */
static size_t history_prefix(uint8_t *out, const char *ns, size_t ns_len, const char *key,
                             size_t key_len)
{
    out[0] = 'h';
    put_u16be(out + 1, (uint16_t)ns_len);
    memcpy(out + 3, ns, ns_len);
    put_u32be(out + 3 + ns_len, (uint32_t)key_len);
    memcpy(out + 7 + ns_len, key, key_len);
    return 7 + ns_len + key_len;
}

static void put_version(uint8_t *out, uint64_t block, uint32_t tx)
{
    put_u64be(out, block);
    put_u32be(out + 8, tx);
}

static struct statedb_version get_version(const uint8_t *p)
{
    return (struct statedb_version){.block = get_u64be(p), .tx = get_u32be(p + 8)};
}

/* Takes a LevelDB error string: frees it and returns STELE_ERR_IO, or STELE_OK for none. */
static int ldb_status(char *err)
{
    if (!err)
        return STELE_OK;
    leveldb_free(err);
    return STELE_ERR_IO;
}

/* Gets `key` and requires a value of exactly `want` octets, copied to `out`. STELE_OK,
 * STELE_ERR_NOT_FOUND, STELE_ERR_IO, STELE_ERR_MALFORMED. */
static int get_fixed_at(struct statedb *db, const leveldb_readoptions_t *ro, const void *key,
                        size_t klen, void *out, size_t want)
{
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(db->db, ro, key, klen, &vlen, &err);
    if (err)
        return ldb_status(err);
    if (!v)
        return STELE_ERR_NOT_FOUND;
    int rc = vlen == want ? STELE_OK : STELE_ERR_MALFORMED;
    if (rc == STELE_OK)
        memcpy(out, v, want);
    leveldb_free(v);
    return rc;
}

static int get_fixed(struct statedb *db, const void *key, size_t klen, void *out, size_t want)
{
    return get_fixed_at(db, db->ropts, key, klen, out, want);
}

/* ---- open and close --------------------------------------------------------------------- */

/* Reads the savepoint and the state hash it names into db->height and db->head. */
static int load_savepoint(struct statedb *db, char **errmsg)
{
    uint8_t v[8], bkey[9];
    int rc = get_fixed(db, savepoint_key, strlen(savepoint_key), v, sizeof v);
    if (rc == STELE_ERR_NOT_FOUND) {
        atomic_store(&db->height, 0);
        return STELE_OK;
    }
    if (rc == STELE_ERR_MALFORMED)
        return stele_errf(errmsg, rc, "state db %s: the savepoint is not 8 octets", db->dir);
    if (rc)
        return stele_errf(errmsg, rc, "state db %s: cannot read the savepoint", db->dir);
    uint64_t last = get_u64be(v);
    if (last == UINT64_MAX)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "state db %s: savepoint 2^64-1", db->dir);
    bkey[0] = 'b';
    put_u64be(bkey + 1, last);
    rc = get_fixed(db, bkey, sizeof bkey, db->head, sizeof db->head);
    if (rc == STELE_ERR_NOT_FOUND || rc == STELE_ERR_MALFORMED)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "state db %s: no valid state hash for block %llu (the savepoint)",
                          db->dir, (unsigned long long)last);
    if (rc)
        return stele_errf(errmsg, rc, "state db %s: cannot read the state hash", db->dir);
    atomic_store(&db->height, last + 1);
    return STELE_OK;
}

int statedb_open(const char *dir, bool sync, struct statedb **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    *out = NULL;
    struct statedb *db = calloc(1, sizeof *db);
    if (!db)
        return STELE_ERR_NOMEM;
    pthread_mutex_init(&db->apply_mu, NULL);
    buf_init(&db->scratch);
    int rc = STELE_ERR_NOMEM;
    db->dir = strdup(dir);
    if (!db->dir)
        goto fail;

    db->db_opts = leveldb_options_create();
    db->ropts = leveldb_readoptions_create();
    db->wopts = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(db->db_opts, 1);
    /* Records are checked on every read: a damaged block is reported, not believed. */
    leveldb_readoptions_set_verify_checksums(db->ropts, 1);
    leveldb_writeoptions_set_sync(db->wopts, sync);
    char *err = NULL;
    db->db = leveldb_open(db->db_opts, dir, &err);
    if (err) {
        rc = stele_errf(errmsg, STELE_ERR_IO, "cannot open state db %s: %s", dir, err);
        leveldb_free(err);
        goto fail;
    }
    rc = load_savepoint(db, errmsg);
    if (rc)
        goto fail;
    *out = db;
    return STELE_OK;

fail:
    if (rc == STELE_ERR_NOMEM && errmsg && !*errmsg)
        stele_errf(errmsg, rc, "out of memory opening state db %s", dir);
    statedb_close(db);
    return rc;
}

void statedb_close(struct statedb *db)
{
    if (!db)
        return;
    if (db->db)
        leveldb_close(db->db);
    if (db->db_opts)
        leveldb_options_destroy(db->db_opts);
    if (db->ropts)
        leveldb_readoptions_destroy(db->ropts);
    if (db->wopts)
        leveldb_writeoptions_destroy(db->wopts);
    buf_release(&db->scratch);
    pthread_mutex_destroy(&db->apply_mu);
    free(db->dir);
    free(db);
}

/* ---- reads ------------------------------------------------------------------------------ */

uint64_t statedb_height(struct statedb *db)
{
    return atomic_load(&db->height);
}

int statedb_snapshot(struct statedb *db, struct statedb_snap **out)
{
    *out = NULL;
    struct statedb_snap *s = calloc(1, sizeof *s);
    if (!s || !(s->ropts = leveldb_readoptions_create())) {
        free(s);
        return STELE_ERR_NOMEM;
    }
    s->snap = leveldb_create_snapshot(db->db);
    leveldb_readoptions_set_verify_checksums(s->ropts, 1);
    leveldb_readoptions_set_snapshot(s->ropts, s->snap);
    /* the savepoint is written in the same batch as the block's state: the snapshot's own
     * tells how many blocks it holds */
    uint8_t v[8];
    int rc = get_fixed_at(db, s->ropts, savepoint_key, strlen(savepoint_key), v, sizeof v);
    if (rc == STELE_OK)
        s->height = get_u64be(v) + 1;
    else if (rc == STELE_ERR_NOT_FOUND)
        rc = STELE_OK; /* nothing applied */
    if (rc) {
        statedb_snapshot_release(db, s);
        return rc;
    }
    *out = s;
    return STELE_OK;
}

uint64_t statedb_snap_height(const struct statedb_snap *s)
{
    return s->height;
}

void statedb_snapshot_release(struct statedb *db, struct statedb_snap *s)
{
    if (!s)
        return;
    leveldb_readoptions_destroy(s->ropts);
    leveldb_release_snapshot(db->db, s->snap);
    free(s);
}

int statedb_state_hash(struct statedb *db, uint64_t number, uint8_t out[STATEDB_HASH_LEN])
{
    uint8_t key[9];
    key[0] = 'b';
    put_u64be(key + 1, number);
    return get_fixed(db, key, sizeof key, out, STATEDB_HASH_LEN);
}

/* The read options of `snap`, or the shared ones for the latest state. */
static const leveldb_readoptions_t *read_opts(struct statedb *db, const struct statedb_snap *snap)
{
    return snap ? snap->ropts : db->ropts;
}

int statedb_get(struct statedb *db, const char *ns, const char *key, struct buf *value,
                struct statedb_version *ver)
{
    return statedb_get_at(db, NULL, ns, key, value, ver);
}

int statedb_get_at(struct statedb *db, const struct statedb_snap *snap, const char *ns,
                   const char *key, struct buf *value, struct statedb_version *ver)
{
    size_t ns_len, key_len;
    if (!sdb_ns_ok(ns, &ns_len) || !sdb_key_ok(key, &key_len))
        return STELE_ERR_INVALID;
    uint8_t k[SDB_KEY_MAX];
    size_t klen = state_key(k, ns, ns_len, key, key_len);
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(db->db, read_opts(db, snap), (const char *)k, klen, &vlen, &err);
    if (err)
        return ldb_status(err);
    if (!v)
        return STELE_ERR_NOT_FOUND;
    int rc = STELE_OK;
    if (vlen < SDB_VERSION_LEN)
        rc = STELE_ERR_MALFORMED;
    else if (value)
        rc = buf_append(value, v + SDB_VERSION_LEN, vlen - SDB_VERSION_LEN);
    if (rc == STELE_OK && ver)
        *ver = get_version((const uint8_t *)v);
    leveldb_free(v);
    return rc;
}

/* A walk over consecutive LevelDB keys (a namespace's range or a key's history). */
struct walk {
    const uint8_t *prefix; /* every key visited starts with it */
    size_t prefix_len;     /* its length */
    const char *end;       /* range: stop at this key suffix ("" = no bound) */
    size_t end_len;        /* its length */
    /* Visits one entry: key suffix (after the prefix) and value. Returns STELE_OK and sets
     * *go, or STELE_ERR_MALFORMED for a damaged entry. */
    int (*visit)(struct walk *w, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                 bool *go);
    statedb_entry_fn entry_fn;     /* range: the caller's callback */
    statedb_history_fn history_fn; /* history: the caller's callback */
    void *ctx;                     /* and its context */
};

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static bool in_walk(const struct walk *w, const uint8_t *k, size_t klen)
{
    if (klen < w->prefix_len || memcmp(k, w->prefix, w->prefix_len) != 0)
        return false;
    return w->end_len == 0 ||
           bytes_cmp(k + w->prefix_len, klen - w->prefix_len, w->end, w->end_len) < 0;
}

/* Visits entries from the iterator's position while they belong to `w`, at most `limit`
 * (0 = all), and tells in *has_more whether one was left when the limit or the callback
 * stopped the walk. Destroys the iterator. */
static int walk_run(struct walk *w, leveldb_iterator_t *it, size_t limit, bool *has_more)
{
    int rc = STELE_OK;
    bool more = false, stopped = false;
    size_t n = 0;
    for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (!in_walk(w, k, klen))
            break;
        if (stopped || (limit && n == limit)) {
            more = true;
            break;
        }
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        bool go = true;
        rc = w->visit(w, k + w->prefix_len, klen - w->prefix_len, v, vlen, &go);
        if (rc)
            break;
        n++;
        stopped = !go;
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    if (err)
        rc = ldb_status(err);
    leveldb_iter_destroy(it);
    if (has_more)
        *has_more = rc == STELE_OK && more;
    return rc;
}

/* A range entry: the suffix is the state key, the value u64 u32 value. */
static int visit_state(struct walk *w, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                       bool *go)
{
    char key[TX_MAX_KEY_LEN + 1];
    if (klen == 0 || klen > TX_MAX_KEY_LEN || memchr(k, 0, klen) || vlen < SDB_VERSION_LEN)
        return STELE_ERR_MALFORMED;
    memcpy(key, k, klen);
    key[klen] = 0;
    struct statedb_version ver = get_version(v);
    *go = w->entry_fn(w->ctx, key, v + SDB_VERSION_LEN, vlen - SDB_VERSION_LEN, &ver);
    return STELE_OK;
}

int statedb_range(struct statedb *db, const char *ns, const char *start, const char *end,
                  size_t limit, statedb_entry_fn fn, void *ctx, bool *has_more)
{
    return statedb_range_at(db, NULL, ns, start, end, limit, fn, ctx, has_more);
}

int statedb_range_at(struct statedb *db, const struct statedb_snap *snap, const char *ns,
                     const char *start, const char *end, size_t limit, statedb_entry_fn fn,
                     void *ctx, bool *has_more)
{
    size_t ns_len;
    if (has_more)
        *has_more = false;
    if (!sdb_ns_ok(ns, &ns_len) || !fn)
        return STELE_ERR_INVALID;
    start = start ? start : "";
    end = end ? end : "";
    size_t start_len = strlen(start);
    uint8_t *seek = malloc(2 + ns_len + start_len);
    if (!seek)
        return STELE_ERR_NOMEM;
    size_t seek_len = state_key(seek, ns, ns_len, start, start_len);
    struct walk w = {
        .prefix = seek,
        .prefix_len = 2 + ns_len, /* "s" ns 0x00 */
        .end = end,
        .end_len = strlen(end),
        .visit = visit_state,
        .entry_fn = fn,
        .ctx = ctx,
    };
    int rc = STELE_ERR_NOMEM;
    leveldb_iterator_t *it = leveldb_create_iterator(db->db, read_opts(db, snap));
    if (it) {
        leveldb_iter_seek(it, (const char *)seek, seek_len);
        rc = walk_run(&w, it, limit, has_more);
    }
    free(seek);
    return rc;
}

/* True for `len` hex digits at `p`. */
static bool all_hex(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
              (p[i] >= 'A' && p[i] <= 'F')))
            return false;
    return true;
}

/* A history entry: the suffix is the version, the value u8 is_delete, tx_id, value. */
static int visit_history(struct walk *w, const uint8_t *k, size_t klen, const uint8_t *v,
                         size_t vlen, bool *go)
{
    if (klen != SDB_VERSION_LEN || vlen < SDB_HIST_HDR || v[0] > 1 ||
        (v[0] == 1 && vlen != SDB_HIST_HDR) || !all_hex(v + 1, ENVELOPE_TXID_LEN))
        return STELE_ERR_MALFORMED;
    char tx_id[ENVELOPE_TXID_LEN + 1];
    memcpy(tx_id, v + 1, ENVELOPE_TXID_LEN);
    tx_id[ENVELOPE_TXID_LEN] = 0;
    struct statedb_history_entry e = {
        .ver = get_version(k),
        .tx_id = tx_id,
        .is_delete = v[0] == 1,
        .value = v[0] == 1 ? NULL : v + SDB_HIST_HDR,
        .len = vlen - SDB_HIST_HDR,
    };
    *go = w->history_fn(w->ctx, &e);
    return STELE_OK;
}

int statedb_history(struct statedb *db, const char *ns, const char *key,
                    const struct statedb_version *after, size_t limit, statedb_history_fn fn,
                    void *ctx, bool *has_more)
{
    size_t ns_len, key_len;
    if (has_more)
        *has_more = false;
    if (!sdb_ns_ok(ns, &ns_len) || !sdb_key_ok(key, &key_len) || !fn)
        return STELE_ERR_INVALID;
    uint8_t seek[SDB_KEY_MAX];
    size_t plen = history_prefix(seek, ns, ns_len, key, key_len), seek_len = plen;
    if (after) {
        put_version(seek + plen, after->block, after->tx);
        seek_len += SDB_VERSION_LEN;
    }
    struct walk w = {
        .prefix = seek,
        .prefix_len = plen,
        .visit = visit_history,
        .history_fn = fn,
        .ctx = ctx,
    };
    leveldb_iterator_t *it = leveldb_create_iterator(db->db, db->ropts);
    if (!it)
        return STELE_ERR_NOMEM;
    leveldb_iter_seek(it, (const char *)seek, seek_len);
    if (after && leveldb_iter_valid(it)) {
        /* The seek lands on the first entry >= after; `after` itself is not visited. */
        size_t klen;
        const char *k = leveldb_iter_key(it, &klen);
        if (klen == seek_len && memcmp(k, seek, seek_len) == 0)
            leveldb_iter_next(it);
    }
    return walk_run(&w, it, limit, has_more);
}

/* ---- apply ------------------------------------------------------------------------------ */

/* Feeds w_i (statedb.h) of `wr` to the hash. */
static int hash_write(struct crypto_sha256 *sha, const struct sdb_write *wr)
{
    uint8_t hdr[4 + 4 + TX_MAX_NAME_LEN + 4 + TX_MAX_KEY_LEN + 1 + 4], *p = hdr;
    put_u32be(p, wr->tx);
    put_u32be(p + 4, (uint32_t)wr->ns_len);
    memcpy(p + 8, wr->ns, wr->ns_len);
    p += 8 + wr->ns_len;
    put_u32be(p, (uint32_t)wr->key_len);
    memcpy(p + 4, wr->key, wr->key_len);
    p += 4 + wr->key_len;
    *p++ = wr->is_delete;
    put_u32be(p, (uint32_t)wr->len);
    p += 4;
    int rc = crypto_sha256_update(sha, hdr, (size_t)(p - hdr));
    return rc ? rc : crypto_sha256_update(sha, wr->value, wr->len);
}

/* Adds write `wr` of block `number` to the batch: its history entry and, when no later write
 * of the key is in the update, the key's new state. */
static int batch_write(struct statedb *db, leveldb_writebatch_t *wb, uint64_t number,
                       const struct sdb_write *wr)
{
    uint8_t k[SDB_KEY_MAX];
    struct buf *v = &db->scratch;
    size_t klen = history_prefix(k, wr->ns, wr->ns_len, wr->key, wr->key_len);
    put_version(k + klen, number, wr->tx);
    klen += SDB_VERSION_LEN;
    buf_clear(v);
    int rc = buf_reserve(v, SDB_HIST_HDR + wr->len);
    if (rc)
        return rc;
    buf_append_byte(v, wr->is_delete);
    buf_append(v, wr->tx_id, ENVELOPE_TXID_LEN);
    buf_append(v, wr->value, wr->len);
    leveldb_writebatch_put(wb, (const char *)k, klen, (const char *)v->data, v->len);
    if (wr->superseded)
        return STELE_OK;

    klen = state_key(k, wr->ns, wr->ns_len, wr->key, wr->key_len);
    if (wr->is_delete) {
        leveldb_writebatch_delete(wb, (const char *)k, klen);
        return STELE_OK;
    }
    buf_clear(v);
    rc = buf_reserve(v, SDB_VERSION_LEN + wr->len);
    if (rc)
        return rc;
    put_version(v->data, number, wr->tx);
    v->len = SDB_VERSION_LEN;
    buf_append(v, wr->value, wr->len);
    leveldb_writebatch_put(wb, (const char *)k, klen, (const char *)v->data, v->len);
    return STELE_OK;
}

int statedb_update_hash(const struct statedb_update *u, const uint8_t prev[STATEDB_HASH_LEN],
                        uint8_t out[STATEDB_HASH_LEN])
{
    uint8_t num[8];
    struct crypto_sha256 *sha = crypto_sha256_create();
    if (!sha)
        return STELE_ERR_NOMEM;
    put_u64be(num, u->number);
    int rc = crypto_sha256_update(sha, STATEDB_HASH_DOMAIN, sizeof STATEDB_HASH_DOMAIN);
    if (!rc)
        rc = crypto_sha256_update(sha, prev, STATEDB_HASH_LEN);
    if (!rc)
        rc = crypto_sha256_update(sha, num, sizeof num);
    for (const struct sdb_write *wr = u->first; wr && !rc; wr = wr->next)
        rc = hash_write(sha, wr);
    if (!rc)
        rc = crypto_sha256_final(sha, out);
    crypto_sha256_destroy(sha);
    return rc;
}

void statedb_head_hash(struct statedb *db, uint8_t out[STATEDB_HASH_LEN])
{
    pthread_mutex_lock(&db->apply_mu);
    memcpy(out, db->head, STATEDB_HASH_LEN);
    pthread_mutex_unlock(&db->apply_mu);
}

/* Fills `wb` with all of update `u` and computes its state hash into `hash`. */
static int build_batch(struct statedb *db, const struct statedb_update *u, leveldb_writebatch_t *wb,
                       uint8_t hash[STATEDB_HASH_LEN])
{
    uint8_t num[8];
    put_u64be(num, u->number);
    int rc = statedb_update_hash(u, db->head, hash);
    for (const struct sdb_write *wr = u->first; wr && !rc; wr = wr->next)
        rc = batch_write(db, wb, u->number, wr);
    if (rc)
        return rc;
    uint8_t bkey[9];
    bkey[0] = 'b';
    memcpy(bkey + 1, num, sizeof num);
    leveldb_writebatch_put(wb, (const char *)bkey, sizeof bkey, (const char *)hash,
                           STATEDB_HASH_LEN);
    leveldb_writebatch_put(wb, savepoint_key, strlen(savepoint_key), (const char *)num, sizeof num);
    return STELE_OK;
}

int statedb_apply(struct statedb *db, const struct statedb_update *u,
                  uint8_t hash[STATEDB_HASH_LEN])
{
    pthread_mutex_lock(&db->apply_mu);
    int rc = STELE_OK;
    if (db->broken) {
        rc = STELE_ERR_STATE;
        goto out;
    }
    if (u->number != atomic_load(&db->height) || u->number == UINT64_MAX) {
        rc = STELE_ERR_CONFLICT;
        goto out;
    }
    uint8_t h[STATEDB_HASH_LEN];
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    rc = build_batch(db, u, wb, h);
    if (rc == STELE_OK) {
        char *err = NULL;
        leveldb_write(db->db, db->wopts, wb, &err);
        if (err) {
            log_error("ledger", "state db %s: block %llu not applied: %s; reopen to go on", db->dir,
                      (unsigned long long)u->number, err);
            db->broken = true;
            rc = ldb_status(err);
        }
    }
    leveldb_writebatch_destroy(wb);
    /* A big block's buffer is not kept for the next one. */
    if (db->scratch.cap > (1u << 20))
        buf_release(&db->scratch);
    if (rc == STELE_OK) {
        memcpy(db->head, h, sizeof h);
        atomic_store(&db->height, u->number + 1);
        if (hash)
            memcpy(hash, h, sizeof h);
    }
out:
    pthread_mutex_unlock(&db->apply_mu);
    return rc;
}
