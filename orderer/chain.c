/* chain.c — block store, tx_id claims and height notifications (see chain.h). */
#include "chain.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/fsdir.h"
#include "base/status.h"
#include "base/testhook.h"
#include "identity/enrolment.h"
#include "ledger/blockhash.h"
#include "ledger/genesis.h"
#include "pb/pb.h"
#include "stele/common.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLAIM_BUCKETS 4096 /* tx_ids in flight are at most a few batches' worth */

struct claim {
    struct claim *next; /* bucket chain */
    char tx_id[];       /* NUL-terminated */
};

struct chain {
    struct blockstore *bs;               /* the store */
    pthread_mutex_t mu;                  /* guards everything below */
    pthread_cond_t grew;                 /* broadcast on append and shutdown */
    uint64_t height;                     /* cached blockstore_height() */
    uint8_t head[32];                    /* header hash of block height-1, set with height */
    bool down;                           /* chain_shutdown() was called */
    struct claim *claims[CLAIM_BUCKETS]; /* tx_ids in flight */
    atomic_uint_fast64_t appended;       /* chain_append() successes (not under mu) */
    struct arena *arena;                 /* block 0 and its configuration */
    Stele__ChannelConfig *config;        /* block 0's channel configuration */
    int lock_fd;                         /* flock on the data directory, held while open */
};

static size_t bucket_of(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (size_t)(h % CLAIM_BUCKETS);
}

/* Unlinks and frees the claim on `tx_id`, if any. Caller holds mu. */
static void unclaim_locked(struct chain *c, const char *tx_id)
{
    for (struct claim **p = &c->claims[bucket_of(tx_id)]; *p; p = &(*p)->next) {
        if (strcmp((*p)->tx_id, tx_id) == 0) {
            struct claim *dead = *p;
            *p = dead->next;
            free(dead);
            return;
        }
    }
}

static int set_err(char **errmsg, int rc, const char *fmt, const char *arg)
{
    if (errmsg && asprintf(errmsg, fmt, arg) < 0)
        *errmsg = NULL;
    return rc;
}

/* Reads the genesis file into `raw` (its bytes) and checks it is block 0 of the channel with a
 * valid configuration (decoded into `a`, which the caller drops) that o->accept accepts. */
static int read_genesis(const struct chain_options *o, struct arena *a, struct buf *raw,
                        const Stele__Block **out, char **errmsg)
{
    char *why = NULL;
    Stele__ChannelConfig *cfg;
    int rc = enrolment_read_file(o->genesis_file, GENESIS_MAX_BLOCK_LEN, raw);
    if (rc == STELE_ERR_TOO_BIG)
        return set_err(errmsg, STELE_ERR_CONFIG, "genesis file %s is larger than a genesis block",
                       o->genesis_file);
    if (rc)
        return set_err(errmsg, STELE_ERR_CONFIG, "cannot read genesis file %s", o->genesis_file);
    rc = genesis_read_bytes(a, raw->data, raw->len, o->channel_id, out, &cfg, &why);
    if (rc == STELE_ERR_NOMEM) {
        free(why);
        return rc;
    }
    if (rc) {
        if (errmsg && asprintf(errmsg, "genesis file %s is not block 0 of channel %s: %s",
                               o->genesis_file, o->channel_id, why ? why : stele_strerror(rc)) < 0)
            *errmsg = NULL;
        free(why);
        return STELE_ERR_CONFIG;
    }
    return o->accept ? o->accept(o->accept_arg, cfg, errmsg) : STELE_OK;
}

/* An empty store gets block 0 from the genesis file; a store that has blocks must hold that
 * same block 0 (when a genesis file is configured) and belong to the configured channel, so a
 * misconfigured data_dir is refused instead of served. Then block 0's configuration is decoded
 * into the chain's arena and kept. */
static int check_genesis(struct chain *c, const struct chain_options *o, char **errmsg)
{
    struct buf raw;
    struct arena *a = arena_create(0);
    const Stele__Block *gen = NULL;
    Stele__Block *have = NULL;
    uint8_t h1[BLOCKHASH_LEN], h2[BLOCKHASH_LEN];
    bool empty = blockstore_height(c->bs) == 0;
    char *why = NULL;
    int rc = STELE_ERR_NOMEM;
    buf_init(&raw);
    if (!a)
        goto out;
    if (!o->genesis_file && empty) {
        rc = set_err(errmsg, STELE_ERR_CONFIG,
                     "the block store in %s is empty and no genesis_file is configured "
                     "(stele-orderer genesis or stele-network writes one)",
                     o->dir);
        goto out;
    }
    if (o->genesis_file && (rc = read_genesis(o, a, &raw, &gen, errmsg)))
        goto out;
    if (empty && (rc = blockstore_append_bytes(c->bs, raw.data, raw.len))) {
        set_err(errmsg, rc, "cannot append the genesis block: %s", stele_strerror(rc));
        goto out;
    }
    if ((rc = blockstore_get(c->bs, 0, c->arena, &have))) {
        set_err(errmsg, rc, "cannot read block 0: %s", stele_strerror(rc));
        goto out;
    }
    if (!have->metadata || strcmp(have->metadata->channel_id, o->channel_id) != 0) {
        rc = set_err(errmsg, STELE_ERR_CONFIG,
                     "the block store in %s belongs to another channel than channel_id", o->dir);
        goto out;
    }
    if (gen && (blockhash_header_pb(gen->header, h1) || blockhash_header_pb(have->header, h2) ||
                memcmp(h1, h2, sizeof h1) != 0)) {
        rc = set_err(errmsg, STELE_ERR_CONFIG,
                     "the block store in %s starts with another genesis block than genesis_file",
                     o->dir);
        goto out;
    }
    if ((rc = genesis_read(c->arena, have, o->channel_id, &c->config, &why))) {
        if (rc != STELE_ERR_NOMEM && errmsg &&
            asprintf(errmsg, "block 0 of the block store in %s is not a genesis block: %s", o->dir,
                     why ? why : stele_strerror(rc)) < 0)
            *errmsg = NULL;
        rc = rc == STELE_ERR_NOMEM ? rc : STELE_ERR_CONFIG;
    } else if (o->accept) {
        rc = o->accept(o->accept_arg, c->config, errmsg);
    }
out:
    free(why);
    buf_release(&raw);
    arena_destroy(a);
    return rc;
}

int chain_open(const struct chain_options *o, struct chain **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    struct chain *c = calloc(1, sizeof *c);
    if (!c)
        return STELE_ERR_NOMEM;
    c->lock_fd = -1;
    if (!(c->arena = arena_create(0))) {
        free(c);
        return STELE_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->grew, &ca);
    pthread_condattr_destroy(&ca);
    struct blockstore_options bo = {.sync = o->sync};
    int rc = fsdir_make(o->dir, 0750, errmsg);
    if (rc || (c->lock_fd = fsdir_lock(o->dir, "an orderer", &rc, errmsg)) < 0 ||
        (rc = blockstore_open(o->dir, &bo, &c->bs, errmsg)))
        goto err;
    if ((rc = check_genesis(c, o, errmsg)))
        goto err;
    c->height = blockstore_height(c->bs);
    blockstore_head_hash(c->bs, c->head);
    *out = c;
    return STELE_OK;
err:
    chain_close(c);
    return rc;
}

void chain_shutdown(struct chain *c)
{
    pthread_mutex_lock(&c->mu);
    c->down = true;
    pthread_cond_broadcast(&c->grew);
    pthread_mutex_unlock(&c->mu);
}

void chain_close(struct chain *c)
{
    if (!c)
        return;
    chain_shutdown(c);
    blockstore_close(c->bs);
    for (size_t i = 0; i < CLAIM_BUCKETS; i++) {
        while (c->claims[i]) {
            struct claim *next = c->claims[i]->next;
            free(c->claims[i]);
            c->claims[i] = next;
        }
    }
    pthread_cond_destroy(&c->grew);
    pthread_mutex_destroy(&c->mu);
    arena_destroy(c->arena);
    fsdir_unlock(c->lock_fd);
    free(c);
}

const Stele__ChannelConfig *chain_config(const struct chain *c)
{
    return c->config;
}

struct blockstore *chain_store(struct chain *c)
{
    return c->bs;
}

uint64_t chain_height(struct chain *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t h = c->height;
    pthread_mutex_unlock(&c->mu);
    return h;
}

uint64_t chain_appended(struct chain *c)
{
    return atomic_load_explicit(&c->appended, memory_order_relaxed);
}

void chain_head(struct chain *c, uint64_t *height, uint8_t hash[32])
{
    pthread_mutex_lock(&c->mu);
    *height = c->height;
    memcpy(hash, c->head, 32); /* the store's head may already be a block further */
    pthread_mutex_unlock(&c->mu);
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_ORDERER_IO_FAIL_AT=N fails appending block N
 * as a disk would (STELE_ERR_IO), so that a test sees what an orderer whose disk failed does. */
static int test_append_fails(uint64_t number)
{
    return test_hook_at("STELE_TEST_ORDERER_IO_FAIL_AT", number) ? STELE_ERR_IO : STELE_OK;
}

int chain_append(struct chain *c, const Stele__Block *block)
{
    int rc = block && block->header ? test_append_fails(block->header->number) : STELE_OK;
    if (rc == STELE_OK)
        rc = blockstore_append(c->bs, block);
    if (rc)
        return rc;
    struct arena *a = arena_create(0);
    atomic_fetch_add_explicit(&c->appended, 1, memory_order_relaxed);
    pthread_mutex_lock(&c->mu);
    c->height = blockstore_height(c->bs);
    blockstore_head_hash(c->bs, c->head); /* blocks are appended by one thread: this one's */
    /* The store's tx index now answers for these tx_ids. */
    for (size_t i = 0; a && block->data && i < block->data->n_envelopes; i++) {
        const ProtobufCBinaryData *e = &block->data->envelopes[i];
        Stele__Envelope *env =
            (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, e->data, e->len, 0);
        Stele__Payload *p =
            env ? (Stele__Payload *)pb_unpack(&stele__payload__descriptor, a, env->payload.data,
                                              env->payload.len, 0)
                : NULL;
        if (p && p->header && p->header->tx_id)
            unclaim_locked(c, p->header->tx_id);
        arena_reset(a);
    }
    pthread_cond_broadcast(&c->grew);
    pthread_mutex_unlock(&c->mu);
    arena_destroy(a);
    return STELE_OK;
}

/* True when `tx_id` (in bucket `b`) is claimed. Caller holds mu. */
static bool claimed_locked(const struct chain *c, size_t b, const char *tx_id)
{
    for (const struct claim *k = c->claims[b]; k; k = k->next)
        if (strcmp(k->tx_id, tx_id) == 0)
            return true;
    return false;
}

/* The store is searched without holding mu, so that sixteen Broadcast streams do not queue
 * behind one another's LevelDB lookups. That is safe because claims leave only through
 * chain_append(), in the critical section that also advances `height`: if the height is the
 * one the lookup began at, no block landed since that could hold tx_id without its claim
 * still being in the table, which is checked again under the lock; if a block did land, the
 * lookup is repeated. */
int chain_claim_tx(struct chain *c, const char *tx_id)
{
    size_t len = strlen(tx_id), b = bucket_of(tx_id);
    struct claim *k = malloc(sizeof *k + len + 1);
    if (!k)
        return STELE_ERR_NOMEM;
    memcpy(k->tx_id, tx_id, len + 1);
    bool looked = false;    /* the store was searched ... */
    uint64_t looked_at = 0; /* ... and had not got tx_id at this height */
    int rc;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (claimed_locked(c, b, tx_id)) {
            rc = STELE_ERR_REPLAY;
            break;
        }
        if (looked && looked_at == c->height) {
            k->next = c->claims[b];
            c->claims[b] = k;
            k = NULL;
            rc = STELE_OK;
            break;
        }
        uint64_t h = c->height;
        pthread_mutex_unlock(&c->mu);
        rc = blockstore_txid_taken(c->bs, tx_id, NULL);
        pthread_mutex_lock(&c->mu);
        if (rc == STELE_OK)
            rc = STELE_ERR_REPLAY;
        if (rc != STELE_ERR_NOT_FOUND)
            break;
        looked = true;
        looked_at = h;
    }
    pthread_mutex_unlock(&c->mu);
    free(k);
    return rc;
}

void chain_unclaim_tx(struct chain *c, const char *tx_id)
{
    pthread_mutex_lock(&c->mu);
    unclaim_locked(c, tx_id);
    pthread_mutex_unlock(&c->mu);
}

bool chain_wait(struct chain *c, uint64_t number, int timeout_ms)
{
    struct timespec until;
    clock_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? (uint64_t)timeout_ms : 0, &until);
    pthread_mutex_lock(&c->mu);
    while (!c->down && c->height <= number)
        if (pthread_cond_timedwait(&c->grew, &c->mu, &until) == ETIMEDOUT)
            break;
    bool ok = !c->down && c->height > number;
    pthread_mutex_unlock(&c->mu);
    return ok;
}
