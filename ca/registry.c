/* registry.c — stele-ca's LevelDB registry. */
#include "registry.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/testhook.h"
#include "pb/pb.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* No record larger than this is written (registry_commit() refuses the batch), so every record
 * written can be read back. Id records written before this cap may be larger; they are read up
 * to MAX_ID_RECORD_READ so that such an id can still be revoked (a revocation shrinks it). */
#define MAX_RECORD         (1u << 20)
#define MAX_ID_RECORD_READ (64u << 20)

struct registry {
    leveldb_t *db;
    leveldb_options_t *opts;
    leveldb_readoptions_t *ropts;
    leveldb_writeoptions_t *wopts; /* synced writes */
    leveldb_writeoptions_t *lazy;  /* unsynced writes (registry_commit_unsynced()) */
    atomic_bool failed;            /* the last write failed on the disk (registry_failed()) */
};

struct registry_batch {
    leveldb_writebatch_t *wb;
    int err; /* first error while building */
};

int registry_open(const char *dir, bool create, struct registry **out, char **errmsg)
{
    char path[4096];
    struct stat st;
    *out = NULL;
    snprintf(path, sizeof path, "%s/registry", dir);
    bool exists = stat(path, &st) == 0;
    if (create && exists) {
        if (errmsg && asprintf(errmsg, "%s already exists", path) < 0)
            *errmsg = NULL;
        return STELE_ERR_EXISTS;
    }
    if (!create && !exists) {
        if (errmsg && asprintf(errmsg, "%s does not exist (run 'stele-ca init')", path) < 0)
            *errmsg = NULL;
        return STELE_ERR_NOT_FOUND;
    }
    struct registry *r = calloc(1, sizeof *r);
    if (!r)
        return STELE_ERR_NOMEM;
    r->opts = leveldb_options_create();
    leveldb_options_set_create_if_missing(r->opts, create);
    leveldb_options_set_error_if_exists(r->opts, create);
    r->ropts = leveldb_readoptions_create();
    r->wopts = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(r->wopts, 1);
    r->lazy = leveldb_writeoptions_create();
    char *err = NULL;
    r->db = leveldb_open(r->opts, path, &err);
    if (!r->db) {
        if (errmsg && asprintf(errmsg, "cannot open %s: %s", path, err ? err : "?") < 0)
            *errmsg = NULL;
        leveldb_free(err);
        registry_close(r);
        return STELE_ERR_IO;
    }
    *out = r;
    return STELE_OK;
}

void registry_close(struct registry *r)
{
    if (!r)
        return;
    if (r->db)
        leveldb_close(r->db);
    leveldb_options_destroy(r->opts);
    leveldb_readoptions_destroy(r->ropts);
    leveldb_writeoptions_destroy(r->wopts);
    leveldb_writeoptions_destroy(r->lazy);
    free(r);
}

/* Gets `key` into a malloc'd value (leveldb_free it). */
static int get_raw(struct registry *r, const void *key, size_t klen, char **val, size_t *vlen)
{
    char *err = NULL;
    *val = leveldb_get(r->db, r->ropts, key, klen, vlen, &err);
    if (err) {
        log_error("ca", "registry read: %s", err);
        leveldb_free(err);
        return STELE_ERR_IO;
    }
    return *val ? STELE_OK : STELE_ERR_NOT_FOUND;
}

/* Reads `key` as a `desc` message of at most `max` octets into the arena. */
static int get_msg(struct registry *r, struct arena *a, const void *key, size_t klen,
                   const ProtobufCMessageDescriptor *desc, size_t max, ProtobufCMessage **out)
{
    char *val;
    size_t vlen;
    int rc = get_raw(r, key, klen, &val, &vlen);
    if (rc != STELE_OK)
        return rc;
    *out = pb_unpack(desc, a, (const uint8_t *)val, vlen, max);
    leveldb_free(val);
    return *out ? STELE_OK : STELE_ERR_MALFORMED;
}

/* Builds "prefix" || data into `key`; returns its length. */
static size_t make_key(char *key, size_t cap, const char *prefix, const void *data, size_t len)
{
    size_t p = strlen(prefix);
    if (p + len > cap)
        return 0;
    memcpy(key, prefix, p);
    memcpy(key + p, data, len);
    return p + len;
}

int registry_get_id(struct registry *r, struct arena *a, const char *id, Stele__CaIdRecord **out)
{
    char key[600];
    size_t n = make_key(key, sizeof key, "id/", id, strlen(id));
    if (!n)
        return STELE_ERR_NOT_FOUND;
    return get_msg(r, a, key, n, &stele__ca_id_record__descriptor, MAX_ID_RECORD_READ,
                   (ProtobufCMessage **)out);
}

int registry_get_cert(struct registry *r, struct arena *a, const uint8_t certhash[32],
                      Stele__CaCertRecord **out)
{
    char key[64];
    size_t n = make_key(key, sizeof key, "cert/", certhash, 32);
    return get_msg(r, a, key, n, &stele__ca_cert_record__descriptor, MAX_RECORD,
                   (ProtobufCMessage **)out);
}

int registry_get_u64(struct registry *r, const char *name, uint64_t *v)
{
    char key[128], *val;
    size_t vlen, n = make_key(key, sizeof key, "meta/", name, strlen(name));
    *v = 0;
    int rc = get_raw(r, key, n, &val, &vlen);
    if (rc == STELE_ERR_NOT_FOUND)
        return STELE_OK;
    if (rc != STELE_OK)
        return rc;
    if (vlen == 8)
        *v = get_u64be((const uint8_t *)val);
    else
        rc = STELE_ERR_MALFORMED;
    leveldb_free(val);
    return rc;
}

int registry_get_str(struct registry *r, struct arena *a, const char *name, char **out)
{
    char key[128], *val;
    size_t vlen, n = make_key(key, sizeof key, "meta/", name, strlen(name));
    *out = NULL;
    int rc = get_raw(r, key, n, &val, &vlen);
    if (rc == STELE_ERR_NOT_FOUND)
        return STELE_OK;
    if (rc != STELE_OK)
        return rc;
    *out = arena_strndup(a, val, vlen);
    leveldb_free(val);
    return *out ? STELE_OK : STELE_ERR_NOMEM;
}

bool registry_nonce_seen(struct registry *r, const uint8_t nonce[IDENTITY_NONCE_LEN])
{
    char key[64], *val;
    size_t vlen, n = make_key(key, sizeof key, "nonce/", nonce, IDENTITY_NONCE_LEN);
    /* A read error counts as seen: refusing is the safe answer. */
    int rc = get_raw(r, key, n, &val, &vlen);
    leveldb_free(rc == STELE_OK ? val : NULL);
    return rc != STELE_ERR_NOT_FOUND;
}

/* The expiry recorded beside rev/<certhash> (0: none, an entry written before expiries were). */
static uint64_t revoked_expiry(struct registry *r, const uint8_t *certhash)
{
    char key[64], *val;
    size_t vlen, n = make_key(key, sizeof key, "revexp/", certhash, 32);
    uint64_t v = 0;
    if (get_raw(r, key, n, &val, &vlen) != STELE_OK)
        return 0;
    if (vlen == 8)
        v = get_u64be((const uint8_t *)val);
    leveldb_free(val);
    return v;
}

int registry_list_revoked(struct registry *r, struct arena *a, uint64_t now_s,
                          struct identity_revoked **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    leveldb_iterator_t *it = leveldb_create_iterator(r->db, r->ropts);
    int rc = STELE_OK;
    for (leveldb_iter_seek(it, "rev/", 4); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        if (klen < 4 || memcmp(k, "rev/", 4) != 0)
            break;
        const char *v = leveldb_iter_value(it, &vlen);
        Stele__RevokedEntry *e = (Stele__RevokedEntry *)pb_unpack(
            &stele__revoked_entry__descriptor, a, (const uint8_t *)v, vlen, MAX_RECORD);
        if (!e || e->certhash.len != 32) {
            rc = STELE_ERR_MALFORMED;
            break;
        }
        uint64_t expires = revoked_expiry(r, e->certhash.data);
        if (expires && expires <= now_s)
            continue; /* an expired certificate is refused anyway */
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            struct identity_revoked *m = arena_alloc(a, ncap * sizeof *m);
            if (!m) {
                rc = STELE_ERR_NOMEM;
                break;
            }
            if (*n)
                memcpy(m, *out, *n * sizeof *m);
            *out = m;
            cap = ncap;
        }
        struct identity_revoked *d = &(*out)[(*n)++];
        memcpy(d->certhash, e->certhash.data, 32);
        d->serial = e->serial;
        d->id = e->id;
        d->revoked_at = e->revoked_at;
        d->reason = e->reason;
    }
    leveldb_iter_destroy(it);
    return rc;
}

int registry_prune_revoked(struct registry *r, uint64_t before_s, size_t *count)
{
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return STELE_ERR_NOMEM;
    size_t pruned = 0;
    char key[64];
    leveldb_iterator_t *it = leveldb_create_iterator(r->db, r->ropts);
    for (leveldb_iter_seek(it, "revexp/", 7); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        if (klen < 7 || memcmp(k, "revexp/", 7) != 0)
            break;
        const char *v = leveldb_iter_value(it, &vlen);
        if (klen != 7 + 32 || vlen != 8)
            continue;
        uint64_t expires = get_u64be((const uint8_t *)v);
        if (!expires || expires >= before_s)
            continue;
        leveldb_writebatch_delete(b->wb, k, klen);
        size_t n = make_key(key, sizeof key, "rev/", k + 7, 32);
        leveldb_writebatch_delete(b->wb, key, n);
        n = make_key(key, sizeof key, "cert/", k + 7, 32);
        leveldb_writebatch_delete(b->wb, key, n);
        n = make_key(key, sizeof key, "reenr/", k + 7, 32);
        leveldb_writebatch_delete(b->wb, key, n);
        pruned++;
    }
    leveldb_iter_destroy(it);
    int rc = pruned ? registry_commit(r, b) : STELE_OK;
    registry_batch_destroy(b);
    if (count)
        *count = pruned;
    return rc;
}

int registry_prune_nonces(struct registry *r, uint64_t before_ms, size_t *count)
{
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return STELE_ERR_NOMEM;
    size_t pruned = 0;
    leveldb_iterator_t *it = leveldb_create_iterator(r->db, r->ropts);
    for (leveldb_iter_seek(it, "nonce/", 6); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        if (klen < 6 || memcmp(k, "nonce/", 6) != 0)
            break;
        const char *v = leveldb_iter_value(it, &vlen);
        if (vlen != 8 || get_u64be((const uint8_t *)v) < before_ms) {
            leveldb_writebatch_delete(b->wb, k, klen);
            pruned++;
        }
    }
    leveldb_iter_destroy(it);
    int rc = pruned ? registry_commit(r, b) : STELE_OK;
    registry_batch_destroy(b);
    if (count)
        *count = pruned;
    return rc;
}

struct registry_batch *registry_batch_create(void)
{
    struct registry_batch *b = calloc(1, sizeof *b);
    if (b)
        b->wb = leveldb_writebatch_create();
    return b;
}

void registry_batch_destroy(struct registry_batch *b)
{
    if (!b)
        return;
    leveldb_writebatch_destroy(b->wb);
    free(b);
}

static int put_msg(struct registry_batch *b, const char *key, size_t klen,
                   const ProtobufCMessage *m)
{
    struct buf v = {0};
    int rc = pb_pack_buf(m, &v);
    if (rc == STELE_OK && v.len > MAX_RECORD)
        rc = STELE_ERR_TOO_BIG; /* it could not be read back */
    if (rc == STELE_OK)
        leveldb_writebatch_put(b->wb, key, klen, (const char *)v.data, v.len);
    else if (!b->err)
        b->err = rc;
    buf_release(&v);
    return rc;
}

int registry_batch_put_id(struct registry_batch *b, const Stele__CaIdRecord *rec)
{
    char key[600];
    size_t n = make_key(key, sizeof key, "id/", rec->id, strlen(rec->id));
    if (!n)
        return b->err = STELE_ERR_TOO_BIG;
    return put_msg(b, key, n, &rec->base);
}

int registry_batch_put_cert(struct registry_batch *b, const uint8_t certhash[32],
                            const Stele__CaCertRecord *rec)
{
    char key[64];
    size_t n = make_key(key, sizeof key, "cert/", certhash, 32);
    return put_msg(b, key, n, &rec->base);
}

int registry_batch_put_revoked(struct registry_batch *b, const struct identity_revoked *e,
                               uint64_t expires_at)
{
    Stele__RevokedEntry m = STELE__REVOKED_ENTRY__INIT;
    char key[64];
    uint8_t exp[8];
    size_t n = make_key(key, sizeof key, "revexp/", e->certhash, 32);
    put_u64be(exp, expires_at);
    leveldb_writebatch_put(b->wb, key, n, (const char *)exp, sizeof exp);
    n = make_key(key, sizeof key, "rev/", e->certhash, 32);
    m.certhash.data = (uint8_t *)e->certhash;
    m.certhash.len = 32;
    m.serial = e->serial;
    m.id = (char *)e->id;
    m.revoked_at = e->revoked_at;
    m.reason = (char *)e->reason;
    return put_msg(b, key, n, &m.base);
}

int registry_batch_put_reenrolled(struct registry_batch *b, const uint8_t old_certhash[32],
                                  const uint8_t *r_u, size_t r_u_len, const uint8_t *resp,
                                  size_t resp_len)
{
    char key[64];
    size_t n = make_key(key, sizeof key, "reenr/", old_certhash, 32);
    uint8_t *v = malloc(1 + r_u_len + resp_len);
    if (!v || !r_u_len || r_u_len > 255) {
        free(v);
        return b->err = STELE_ERR_NOMEM;
    }
    v[0] = (uint8_t)r_u_len;
    memcpy(v + 1, r_u, r_u_len);
    memcpy(v + 1 + r_u_len, resp, resp_len);
    leveldb_writebatch_put(b->wb, key, n, (const char *)v, 1 + r_u_len + resp_len);
    free(v);
    return STELE_OK;
}

int registry_get_reenrolled(struct registry *r, struct arena *a, const uint8_t certhash[32],
                            ProtobufCBinaryData *r_u, ProtobufCBinaryData *resp)
{
    char key[64], *val;
    size_t vlen, n = make_key(key, sizeof key, "reenr/", certhash, 32);
    int rc = get_raw(r, key, n, &val, &vlen);
    if (rc != STELE_OK)
        return rc;
    size_t ul = vlen ? (uint8_t)val[0] : 0;
    uint8_t *copy = vlen > 1 + ul && ul ? arena_memdup(a, val, vlen) : NULL;
    leveldb_free(val);
    if (!copy)
        return vlen > 1 + ul && ul ? STELE_ERR_NOMEM : STELE_ERR_MALFORMED;
    *r_u = (ProtobufCBinaryData){ul, copy + 1};
    *resp = (ProtobufCBinaryData){vlen - 1 - ul, copy + 1 + ul};
    return STELE_OK;
}

int registry_request_seen(struct registry *r, const uint8_t *x, size_t len, bool *seen)
{
    char key[64], *val;
    size_t vlen, n = make_key(key, sizeof key, "ru/", x, len);
    if (!n)
        return STELE_ERR_INVALID;
    int rc = get_raw(r, key, n, &val, &vlen);
    *seen = rc == STELE_OK;
    if (rc == STELE_OK)
        leveldb_free(val);
    return rc == STELE_ERR_NOT_FOUND ? STELE_OK : rc;
}

void registry_batch_put_request(struct registry_batch *b, const uint8_t *x, size_t len,
                                const char *id)
{
    char key[64];
    size_t n = make_key(key, sizeof key, "ru/", x, len);
    if (n)
        leveldb_writebatch_put(b->wb, key, n, id, strlen(id));
}

int registry_batch_put_nonce(struct registry_batch *b, const uint8_t nonce[IDENTITY_NONCE_LEN],
                             uint64_t ts_ms)
{
    char key[64];
    uint8_t v[8];
    size_t n = make_key(key, sizeof key, "nonce/", nonce, IDENTITY_NONCE_LEN);
    put_u64be(v, ts_ms);
    leveldb_writebatch_put(b->wb, key, n, (const char *)v, sizeof v);
    return STELE_OK;
}

void registry_batch_put_u64(struct registry_batch *b, const char *name, uint64_t v)
{
    char key[128];
    uint8_t val[8];
    size_t n = make_key(key, sizeof key, "meta/", name, strlen(name));
    put_u64be(val, v);
    leveldb_writebatch_put(b->wb, key, n, (const char *)val, sizeof val);
}

void registry_batch_put_str(struct registry_batch *b, const char *name, const char *v)
{
    char key[128];
    size_t n = make_key(key, sizeof key, "meta/", name, strlen(name));
    leveldb_writebatch_put(b->wb, key, n, v, strlen(v));
}

/* Test builds only (STELE_TEST_HOOKS): while the file STELE_TEST_CA_REGISTRY_IO_FAIL names
 * exists, registry writes fail as on a failed disk, so that a test sees what the CA does. */
static bool test_write_fails(void)
{
    return test_hook_file("STELE_TEST_CA_REGISTRY_IO_FAIL");
}

/* Applies the batch with `wo` (synced or not). */
static int commit(struct registry *r, struct registry_batch *b, leveldb_writeoptions_t *wo)
{
    if (b->err)
        return b->err;
    char *err = NULL;
    bool hook = test_write_fails();
    if (!hook)
        leveldb_write(r->db, wo, b->wb, &err);
    atomic_store(&r->failed, hook || err);
    if (hook || err) {
        log_error("ca", "registry write failed, nothing of the request was stored: %s",
                  err ? err : "IO error (test hook STELE_TEST_CA_REGISTRY_IO_FAIL)");
        leveldb_free(err);
        return STELE_ERR_IO;
    }
    return STELE_OK;
}

bool registry_failed(struct registry *r)
{
    return atomic_load(&r->failed);
}

bool registry_writable(struct registry *r)
{
    if (!atomic_load(&r->failed))
        return true;
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return false;
    static const char probe[] = "\xffprobe"; /* no record's key: deleting it changes nothing */
    leveldb_writebatch_delete(b->wb, probe, sizeof probe - 1);
    int rc = commit(r, b, r->lazy); /* clears the mark when it succeeds */
    registry_batch_destroy(b);
    return rc == STELE_OK;
}

int registry_commit(struct registry *r, struct registry_batch *b)
{
    return commit(r, b, r->wopts);
}

int registry_commit_unsynced(struct registry *r, struct registry_batch *b)
{
    return commit(r, b, r->lazy);
}
