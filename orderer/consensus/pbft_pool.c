/*
 * pbft_pool.c — envelopes an orderer accepted and has not yet seen in a committed block.
 *
 * Every orderer keeps one: the primary cuts blocks from it in arrival order, backups time its
 * oldest entry (a primary that leaves an envelope out too long is replaced) and use it to skip
 * re-verifying envelopes of a proposed block they checked already. Keyed by tx_id, so that a
 * committed tx_id clears the entry whatever envelope carried it.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536u
#define TOMBS   65536u /* tx_ids of committed blocks remembered */

struct entry {
    char tx_id[65];
    uint8_t hash[32];
    uint8_t *env;
    size_t len;
    uint64_t at;
    bool forwarded;
    bool committed; /* a tombstone: in a block already (no envelope, not in the arrival order) */
    struct entry *chain;         /* bucket list */
    struct entry *older, *newer; /* arrival order */
};

struct pbft_pool {
    pthread_mutex_t mu;
    struct entry *buckets[BUCKETS];
    struct entry *oldest, *newest;
    size_t n;
    uint64_t bytes;             /* octets of the n envelopes */
    struct entry *tombs[TOMBS]; /* ring of tombstones, oldest evicted first */
    size_t next_tomb;
};

static uint32_t bucket_of(const char *tx_id)
{
    uint32_t h = 2166136261u;
    for (const char *p = tx_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % BUCKETS;
}

struct pbft_pool *pbft_pool_create(void)
{
    struct pbft_pool *pl = calloc(1, sizeof *pl);
    if (pl)
        pthread_mutex_init(&pl->mu, NULL);
    return pl;
}

static void entry_free(struct entry *e)
{
    free(e->env);
    free(e);
}

void pbft_pool_destroy(struct pbft_pool *pl)
{
    if (!pl)
        return;
    for (struct entry *e = pl->oldest, *next; e; e = next) {
        next = e->newer;
        entry_free(e);
    }
    for (size_t i = 0; i < TOMBS; i++)
        if (pl->tombs[i])
            entry_free(pl->tombs[i]);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}

/* The entry for tx_id and the link pointing at it. Caller holds mu. */
static struct entry **find(struct pbft_pool *pl, const char *tx_id)
{
    struct entry **pp = &pl->buckets[bucket_of(tx_id)];
    while (*pp && strcmp((*pp)->tx_id, tx_id) != 0)
        pp = &(*pp)->chain;
    return pp;
}

int pbft_pool_add(struct pbft_pool *pl, const char *tx_id, const uint8_t hash[32],
                  const uint8_t *env, size_t len, uint64_t now, size_t *n, uint64_t *bytes)
{
    struct entry *e = calloc(1, sizeof *e);
    if (!e || !(e->env = malloc(len ? len : 1))) {
        free(e);
        return STELE_ERR_NOMEM;
    }
    memcpy(e->env, env, len);
    e->len = len;
    e->at = now;
    memcpy(e->hash, hash, 32);
    strncpy(e->tx_id, tx_id, 64);
    pthread_mutex_lock(&pl->mu);
    struct entry **pp = find(pl, tx_id);
    if (*pp) { /* held already, or committed (a block holding it was appended meanwhile) */
        pthread_mutex_unlock(&pl->mu);
        entry_free(e);
        return STELE_ERR_REPLAY;
    }
    *pp = e;
    e->older = pl->newest;
    if (pl->newest)
        pl->newest->newer = e;
    else
        pl->oldest = e;
    pl->newest = e;
    pl->n++;
    pl->bytes += len;
    if (n)
        *n = pl->n;
    if (bytes)
        *bytes = pl->bytes;
    pthread_mutex_unlock(&pl->mu);
    return STELE_OK;
}

bool pbft_pool_has(struct pbft_pool *pl, const char *tx_id, const uint8_t hash[32])
{
    pthread_mutex_lock(&pl->mu);
    struct entry *e = *find(pl, tx_id);
    bool ok = e && !e->committed && memcmp(e->hash, hash, 32) == 0;
    pthread_mutex_unlock(&pl->mu);
    return ok;
}

/* Unlinks e (pending, found at *pp) from its bucket and the arrival order. Caller holds mu. */
static void unlink_pending(struct pbft_pool *pl, struct entry **pp, struct entry *e)
{
    *pp = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        pl->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        pl->newest = e->older;
    pl->n--;
    pl->bytes -= e->len;
}

void pbft_pool_remove(struct pbft_pool *pl, const char *tx_id)
{
    pthread_mutex_lock(&pl->mu);
    struct entry **pp = find(pl, tx_id), *e = *pp;
    if (e && !e->committed)
        unlink_pending(pl, pp, e);
    else
        e = NULL;
    pthread_mutex_unlock(&pl->mu);
    if (e)
        entry_free(e);
}

void pbft_pool_commit(struct pbft_pool *pl, const char *tx_id)
{
    struct entry *t = calloc(1, sizeof *t);
    pthread_mutex_lock(&pl->mu);
    struct entry **pp = find(pl, tx_id), *e = *pp, *gone = NULL;
    if (e && e->committed) {
        pthread_mutex_unlock(&pl->mu);
        free(t);
        return;
    }
    if (e)
        unlink_pending(pl, pp, e);
    if (t) {
        /* Evict the oldest tombstone, then remember this tx_id. */
        struct entry *old = pl->tombs[pl->next_tomb];
        if (old) {
            struct entry **op = find(pl, old->tx_id);
            if (*op == old)
                *op = old->chain;
            gone = old;
        }
        strncpy(t->tx_id, tx_id, 64);
        t->committed = true;
        struct entry **np = find(pl, tx_id);
        t->chain = *np;
        *np = t;
        pl->tombs[pl->next_tomb] = t;
        pl->next_tomb = (pl->next_tomb + 1) % TOMBS;
    }
    pthread_mutex_unlock(&pl->mu);
    if (e)
        entry_free(e);
    if (gone)
        entry_free(gone);
}

int pbft_pool_take(struct pbft_pool *pl, uint32_t max_count, uint64_t max_bytes,
                   ProtobufCBinaryData **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&pl->mu);
    size_t cap = pl->n < max_count ? pl->n : max_count, k = 0;
    uint64_t bytes = 0;
    ProtobufCBinaryData *v = cap ? calloc(cap, sizeof *v) : NULL;
    int rc = cap && !v ? STELE_ERR_NOMEM : STELE_OK;
    for (struct entry *e = pl->oldest; v && e && k < cap; e = e->newer) {
        if (k > 0 && bytes + e->len > max_bytes)
            break;
        if (!(v[k].data = malloc(e->len ? e->len : 1))) {
            rc = STELE_ERR_NOMEM;
            break;
        }
        memcpy(v[k].data, e->env, e->len);
        v[k].len = e->len;
        bytes += e->len;
        k++;
        if (bytes > max_bytes)
            break; /* an envelope bigger than a block's share travels alone */
    }
    pthread_mutex_unlock(&pl->mu);
    if (rc) {
        for (size_t i = 0; i < k; i++)
            free(v[i].data);
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return STELE_OK;
}

size_t pbft_pool_size(struct pbft_pool *pl, uint64_t *oldest)
{
    pthread_mutex_lock(&pl->mu);
    size_t n = pl->n;
    if (oldest)
        *oldest = pl->oldest ? pl->oldest->at : 0;
    pthread_mutex_unlock(&pl->mu);
    return n;
}

void pbft_pool_load(struct pbft_pool *pl, size_t *n, uint64_t *bytes, uint64_t *oldest)
{
    pthread_mutex_lock(&pl->mu);
    *n = pl->n;
    *bytes = pl->bytes;
    *oldest = pl->oldest ? pl->oldest->at : 0;
    pthread_mutex_unlock(&pl->mu);
}

void pbft_pool_unforward(struct pbft_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    for (struct entry *e = pl->oldest; e; e = e->newer)
        e->forwarded = false;
    pthread_mutex_unlock(&pl->mu);
}

size_t pbft_pool_stale(struct pbft_pool *pl, uint64_t before, size_t max,
                       void (*fn)(void *arg, const uint8_t *env, size_t len), void *arg)
{
    size_t done = 0;
    pthread_mutex_lock(&pl->mu);
    for (struct entry *e = pl->oldest; e && e->at < before && done < max; e = e->newer) {
        if (!e->forwarded) {
            e->forwarded = true;
            fn(arg, e->env, e->len);
            done++;
        }
    }
    pthread_mutex_unlock(&pl->mu);
    return done;
}

bool pbft_pool_oldest(struct pbft_pool *pl, char tx_id[65], uint64_t *at)
{
    pthread_mutex_lock(&pl->mu);
    bool any = pl->oldest != NULL;
    if (any) {
        memcpy(tx_id, pl->oldest->tx_id, 65);
        *at = pl->oldest->at;
    }
    pthread_mutex_unlock(&pl->mu);
    return any;
}
