/*
 * statedb_update.c — the writes of one block, collected before statedb_apply() (statedb.h).
 *
 * Writes are kept in recording order (a singly linked list in the update's arena: that order is
 * the state hash's and the history's) and indexed by (ns, key) in a tsearch(3) tree, whose node
 * points at the newest write of that key. glibc's tree is a red-black tree, so a lookup costs
 * O(log n) comparisons whatever the keys are: a transaction cannot pick keys that degrade it,
 * as it could pick colliding keys for an unkeyed hash table. A write that replaces the newest
 * one of its key marks the older one superseded, so that statedb_apply() puts only each key's
 * final value in the batch (later operations of a LevelDB batch win anyway; this keeps a block
 * that rewrites a key often from carrying every value twice).
 */
#include "ledger/statedb_int.h"

#include "base/arena.h"
#include "base/status.h"
#include "ledger/tx.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

/* Chunks of 64 KiB: a block's writes are many and small. */
#define UPDATE_CHUNK (64u << 10)

bool sdb_key_ok(const char *key, size_t *len)
{
    if (!key)
        return false;
    size_t n = strnlen(key, TX_MAX_KEY_LEN + 1);
    *len = n;
    return n > 0 && n <= TX_MAX_KEY_LEN;
}

bool sdb_ns_ok(const char *ns, size_t *len)
{
    if (!tx_chaincode_name_ok(ns))
        return false;
    *len = strlen(ns);
    return true;
}

/* A tx_id as statedb.h takes it: exactly ENVELOPE_TXID_LEN hex digits. */
static bool tx_id_ok(const char *id)
{
    if (!id)
        return false;
    size_t n = 0;
    for (; n <= ENVELOPE_TXID_LEN && id[n]; n++) {
        char c = id[n];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return n == ENVELOPE_TXID_LEN;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Orders writes by (ns, key) as octet strings. */
static int write_cmp(const void *pa, const void *pb)
{
    const struct sdb_write *a = pa, *b = pb;
    int c = bytes_cmp(a->ns, a->ns_len, b->ns, b->ns_len);
    return c ? c : bytes_cmp(a->key, a->key_len, b->key, b->key_len);
}

struct statedb_update *statedb_update_create(uint64_t number)
{
    struct statedb_update *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->number = number;
    u->mem = arena_create(UPDATE_CHUNK);
    if (!u->mem) {
        free(u);
        return NULL;
    }
    return u;
}

/* The tree's nodes point into the arena: tdestroy() frees only the nodes. */
static void free_nothing(void *p)
{
    (void)p;
}

void statedb_update_destroy(struct statedb_update *u)
{
    if (!u)
        return;
    tdestroy(u->index, free_nothing);
    arena_destroy(u->mem);
    free(u);
}

uint64_t statedb_update_number(const struct statedb_update *u)
{
    return u->number;
}

/* The newest write of (ns, key), or NULL. tfind() does not change the tree, so lookups may run
 * in parallel with each other (not with a write). */
static struct sdb_write *find(const struct statedb_update *u, const char *ns, size_t ns_len,
                              const char *key, size_t key_len)
{
    struct sdb_write probe = {.ns = ns, .ns_len = ns_len, .key = key, .key_len = key_len};
    void *const *node = tfind(&probe, &u->index, write_cmp);
    return node ? *node : NULL;
}

/* Copies the write into the arena. NULL on OOM. */
static struct sdb_write *copy_write(struct statedb_update *u, uint32_t tx_index, const char *tx_id,
                                    const char *ns, size_t ns_len, const char *key, size_t key_len,
                                    const uint8_t *value, size_t len, bool is_delete)
{
    struct sdb_write *w = arena_calloc(u->mem, 1, sizeof *w);
    if (!w)
        return NULL;
    /* Consecutive writes mostly share a namespace: share its copy too. */
    if (u->last && u->last->ns_len == ns_len && memcmp(u->last->ns, ns, ns_len) == 0)
        w->ns = u->last->ns;
    else
        w->ns = arena_strndup(u->mem, ns, ns_len);
    w->key = arena_strndup(u->mem, key, key_len);
    if (!is_delete && len > 0)
        w->value = arena_memdup(u->mem, value, len);
    if (!w->ns || !w->key || (!is_delete && len > 0 && !w->value))
        return NULL;
    w->ns_len = ns_len;
    w->key_len = key_len;
    w->len = is_delete ? 0 : len;
    w->tx = tx_index;
    w->is_delete = is_delete;
    memcpy(w->tx_id, tx_id, ENVELOPE_TXID_LEN + 1);
    return w;
}

int statedb_update_write(struct statedb_update *u, uint32_t tx_index, const char *tx_id,
                         const char *ns, const char *key, const uint8_t *value, size_t len,
                         bool is_delete)
{
    size_t ns_len, key_len;
    if (!u || !sdb_ns_ok(ns, &ns_len) || !sdb_key_ok(key, &key_len) || !tx_id_ok(tx_id))
        return STELE_ERR_INVALID;
    if (u->last && tx_index < u->last->tx)
        return STELE_ERR_INVALID;
    if (!is_delete && ((len > 0 && !value) || len > UINT32_MAX))
        return STELE_ERR_INVALID;
    struct sdb_write *w =
        copy_write(u, tx_index, tx_id, ns, ns_len, key, key_len, value, len, is_delete);
    if (!w)
        return STELE_ERR_NOMEM;
    void **node = tsearch(w, &u->index, write_cmp);
    if (!node)
        return STELE_ERR_NOMEM;
    struct sdb_write *prev = *node;
    if (prev != w) {
        /* Its history key is (ns, key, block, tx): a transaction writes a key at most once. */
        if (prev->tx == tx_index)
            return STELE_ERR_INVALID;
        /* The new write compares equal to the old one, so it may take its place in the node. */
        prev->superseded = true;
        *node = w;
    }
    if (u->last)
        u->last->next = w;
    else
        u->first = w;
    u->last = w;
    u->n++;
    return STELE_OK;
}

/* The newest write of ns/key in `u`, or NULL. */
static const struct sdb_write *newest(const struct statedb_update *u, const char *ns,
                                      const char *key)
{
    size_t ns_len, key_len;
    if (!u || !sdb_ns_ok(ns, &ns_len) || !sdb_key_ok(key, &key_len))
        return NULL;
    return find(u, ns, ns_len, key, key_len);
}

bool statedb_update_lookup(const struct statedb_update *u, const char *ns, const char *key,
                           struct statedb_version *ver, bool *is_delete)
{
    const struct sdb_write *w = newest(u, ns, key);
    if (!w)
        return false;
    if (ver)
        *ver = (struct statedb_version){.block = u->number, .tx = w->tx};
    if (is_delete)
        *is_delete = w->is_delete;
    return true;
}

bool statedb_update_lookup_value(const struct statedb_update *u, const char *ns, const char *key,
                                 const uint8_t **value, size_t *len, bool *is_delete)
{
    const struct sdb_write *w = newest(u, ns, key);
    if (!w)
        return false;
    *value = w->value;
    *len = w->len;
    *is_delete = w->is_delete;
    return true;
}

void statedb_update_each(const struct statedb_update *u, statedb_write_fn fn, void *ctx)
{
    for (const struct sdb_write *w = u->first; w; w = w->next)
        if (!fn(ctx, w->ns, w->key, w->value, w->len, w->is_delete))
            return;
}
