/*
 * statedb_fixture.c — the database and helpers of statedb_fixture.h.
 */
#include "statedb_fixture.h"

#include "base/buf.h"
#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct statedb *sdb_open(const char *path, bool sync)
{
    struct statedb *db = NULL;
    char *err = NULL;
    int rc = statedb_open(path, sync, &db, &err);
    if (rc)
        fail_msg("open %s: %s: %s", path, stele_strerror(rc), err ? err : "");
    assert_null(err);
    return db;
}

int sdb_fx_setup(void **state)
{
    struct sdb_fx *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("statedb");
    if (asprintf(&fx->path, "%s/state", fx->dir) < 0)
        return -1;
    fx->db = sdb_open(fx->path, false);
    *state = fx;
    return 0;
}

int sdb_fx_teardown(void **state)
{
    struct sdb_fx *fx = *state;
    statedb_close(fx->db);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

void sdb_fx_reopen(struct sdb_fx *fx)
{
    statedb_close(fx->db);
    fx->db = sdb_open(fx->path, false);
}

/* A tx_id made from `n`: 64 hex digits. Static per call: use before the next call. */
const char *sdb_txid(unsigned n)
{
    static char id[ENVELOPE_TXID_LEN + 1];
    snprintf(id, sizeof id, "%064x", n);
    return id;
}

void sdb_put(struct statedb_update *u, uint32_t tx, const char *ns, const char *key,
             const char *value)
{
    assert_int_equal(statedb_update_write(u, tx, sdb_txid(tx), ns, key, (const uint8_t *)value,
                                          strlen(value), false),
                     STELE_OK);
}

void sdb_del(struct statedb_update *u, uint32_t tx, const char *ns, const char *key)
{
    assert_int_equal(statedb_update_write(u, tx, sdb_txid(tx), ns, key, NULL, 0, true), STELE_OK);
}

/* Applies `u` (the next block) and destroys it. */
void sdb_apply(struct statedb *db, struct statedb_update *u, uint8_t hash[STATEDB_HASH_LEN])
{
    assert_int_equal(statedb_apply(db, u, hash), STELE_OK);
    statedb_update_destroy(u);
}

/* Asserts that ns/key holds `want` (NULL: not found) at version (block, tx). */
void sdb_expect(struct statedb *db, const char *ns, const char *key, const char *want,
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

bool sdb_hcollect(void *ctx, const struct statedb_history_entry *e)
{
    struct sdb_hseen *s = ctx;
    assert_true(s->n < SDB_MAX_SEEN && e->len < sizeof s->values[0]);
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

/* Block `number` of a small workload; `twist` changes one value. */
struct statedb_update *sdb_workload_block(uint64_t number, bool twist)
{
    struct statedb_update *u = statedb_update_create(number);
    char key[32], value[32];
    for (uint32_t tx = 0; tx < 4; tx++) {
        snprintf(key, sizeof key, "key-%u", (unsigned)((number * 3 + tx) % 7));
        snprintf(value, sizeof value, "%llu/%u%s", (unsigned long long)number, tx,
                 twist && tx == 2 ? "!" : "");
        if ((number + tx) % 5 == 4)
            sdb_del(u, tx, "w", key);
        else
            sdb_put(u, tx, "w", key, value);
    }
    return u;
}

/* Opens dir/name (sync or not). Free the path with free(). */
struct statedb *sdb_open_sibling(struct sdb_fx *fx, const char *name, bool sync, char **path)
{
    assert_true(asprintf(path, "%s/%s", fx->dir, name) > 0);
    return sdb_open(*path, sync);
}

bool sdb_count_entry(void *ctx, const char *key, const uint8_t *value, size_t len,
                     const struct statedb_version *ver)
{
    (*(size_t *)ctx)++;
    return true;
}

bool sdb_count_history(void *ctx, const struct statedb_history_entry *e)
{
    (*(size_t *)ctx)++;
    return true;
}
