/*
 * solo.c — the "solo" consensus plug-in: one orderer, no agreement, for development.
 *
 * Accepted envelopes go straight into the block cutter; cut batches queue for a writer thread
 * that builds each block on the chain head, signs it and hands it to the core. The batch
 * timeout is served by the same thread. On stop, whatever is pending is cut and written, so
 * every envelope acknowledged to a client reaches a block on a clean shutdown.
 *
 * Metadata of a solo block (stele.BlockMetadata):
 *   consensus_type  "solo"
 *   channel_id      the channel
 *   timestamp_ms    wall clock when the block was built
 *   last_config     0 (the genesis block is the only CONFIG block so far)
 *   finality_proof  a serialized stele.SoloProof: node_id, the orderer's compressed public key,
 *                   its identity record when it has one, and the 64-octet ECDSA P-256 signature
 *                   over the header hash taken as the SHA-256 digest (so it verifies as a plain
 *                   ECDSA-SHA256 signature over the 72-octet header layout of blockhash.h).
 */
#include "orderer/consensus/consensus.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SOLO_MAX_QUEUED 16 /* cut batches waiting for the writer before order() blocks */

struct queued_batch {
    struct blockcutter_batch batch; /* owned */
    struct queued_batch *next;      /* FIFO link */
};

struct solo {
    struct consensus_params p;                /* as given (pointers owned by the core) */
    struct consensus_callbacks cb;            /* as given */
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN]; /* the signer's public key */
    pthread_mutex_t mu;                       /* guards everything below */
    pthread_cond_t work;                      /* batches queued, stopping, or a deadline moved */
    pthread_cond_t space;                     /* the queue shrank */
    struct blockcutter bc;                    /* pending envelopes */
    struct queued_batch *head, *tail;         /* cut batches, oldest first */
    size_t queued;                            /* batches in the queue */
    bool stopping;                            /* stop() was called */
    bool failed;                              /* the core refused a block: order no more */
    bool running;                             /* the writer thread exists */
    pthread_t writer;                         /* the writer thread */
};

/* Appends a batch to the queue (takes it over). Caller holds mu. */
static int enqueue(struct solo *s, struct blockcutter_batch *b)
{
    struct queued_batch *q = calloc(1, sizeof *q);
    if (!q) {
        blockcutter_batch_release(b);
        return STELE_ERR_NOMEM;
    }
    q->batch = *b;
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    s->queued++;
    pthread_cond_signal(&s->work);
    return STELE_OK;
}

/* Builds, signs and delivers the block for `b`. Runs on the writer thread without mu. */
static int write_block(struct solo *s, const struct blockcutter_batch *b)
{
    struct arena *a = arena_create(0);
    uint8_t prev[BLOCKHASH_LEN], hash[BLOCKHASH_LEN], sig[CRYPTO_SIG_LEN];
    uint64_t height;
    Stele__Block *blk;
    int rc = STELE_ERR_NOMEM;
    if (!a)
        return rc;
    s->cb.chain_head(s->cb.arg, &height, prev);
    if ((rc = blockhash_block_build(a, height, prev, b->envs, b->n, &blk)) ||
        (rc = blockhash_header_pb(blk->header, hash)) ||
        (rc = crypto_sign_digest(s->p.signer, hash, sig)))
        goto out;
    Stele__SoloProof proof = STELE__SOLO_PROOF__INIT;
    proof.node_id = (char *)s->p.node_id;
    proof.public_key = (ProtobufCBinaryData){sizeof s->pub, s->pub};
    proof.identity = (ProtobufCBinaryData){s->p.identity_len, (uint8_t *)s->p.identity};
    proof.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t plen = protobuf_c_message_get_packed_size(&proof.base);
    uint8_t *pbytes = arena_alloc(a, plen ? plen : 1);
    if (!pbytes) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    protobuf_c_message_pack(&proof.base, pbytes);
    blk->metadata->finality_proof = (ProtobufCBinaryData){plen, pbytes};
    blk->metadata->consensus_type = (char *)"solo";
    blk->metadata->channel_id = (char *)s->p.channel_id;
    blk->metadata->timestamp_ms = clock_wall_ms();
    blk->metadata->last_config = 0;
    rc = s->cb.deliver_block(s->cb.arg, blk);
    if (rc == STELE_OK)
        log_debug("solo", "block %llu cut with %zu envelopes (%llu octets)",
                  (unsigned long long)height, b->n, (unsigned long long)b->bytes);
out:
    arena_destroy(a);
    return rc;
}

/* Waits on `cv` until `deadline_ms` on the monotonic clock. Caller holds mu. */
static void wait_until(struct solo *s, pthread_cond_t *cv, uint64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_cond_timedwait(cv, &s->mu, &ts);
}

static void *writer_main(void *arg)
{
    struct solo *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->head) {
            struct queued_batch *q = s->head;
            s->head = q->next;
            if (!s->head)
                s->tail = NULL;
            s->queued--;
            pthread_cond_broadcast(&s->space);
            bool skip = s->failed;
            pthread_mutex_unlock(&s->mu);
            int rc = skip ? STELE_ERR_STATE : write_block(s, &q->batch);
            if (rc && !skip)
                log_error("solo", "cannot write a block of %zu envelopes: %s; ordering stops",
                          q->batch.n, stele_strerror(rc));
            blockcutter_batch_release(&q->batch);
            free(q);
            pthread_mutex_lock(&s->mu);
            if (rc) {
                s->failed = true;
                pthread_cond_broadcast(&s->space);
            }
            continue;
        }
        struct blockcutter_batch b;
        if (s->stopping) {
            if (!s->failed && blockcutter_cut(&s->bc, &b)) {
                enqueue(s, &b);
                continue;
            }
            break;
        }
        uint64_t deadline;
        if (blockcutter_deadline(&s->bc, &deadline)) {
            if (blockcutter_tick(&s->bc, clock_mono_ms(), &b))
                enqueue(s, &b);
            else
                wait_until(s, &s->work, deadline);
        } else {
            pthread_cond_wait(&s->work, &s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int solo_create(const struct consensus_params *p, const struct consensus_callbacks *cb,
                       void **state, char **errmsg)
{
    struct solo *s = calloc(1, sizeof *s);
    if (!s)
        return STELE_ERR_NOMEM;
    int rc = blockcutter_init(&s->bc, &p->cutter);
    if (rc || !crypto_key_has_private(p->signer)) {
        if (errmsg && asprintf(errmsg, "solo: %s",
                               rc ? "bad batch parameters" : "the orderer key cannot sign") < 0)
            *errmsg = NULL;
        free(s);
        return STELE_ERR_CONFIG;
    }
    s->p = *p;
    s->cb = *cb;
    crypto_key_public_compressed(p->signer, s->pub);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work, &ca);
    pthread_cond_init(&s->space, &ca);
    pthread_condattr_destroy(&ca);
    *state = s;
    return STELE_OK;
}

static int solo_start(void *state)
{
    struct solo *s = state;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return STELE_ERR_INTERNAL;
    s->running = true;
    return STELE_OK;
}

static int solo_order(void *state, const uint8_t *env, size_t len, const char *tx_id,
                      const uint8_t hash[32])
{
    (void)tx_id;
    (void)hash;
    struct solo *s = state;
    struct blockcutter_batch out[2];
    size_t n = 0;
    int rc;
    pthread_mutex_lock(&s->mu);
    while (s->queued >= SOLO_MAX_QUEUED && !s->stopping && !s->failed)
        wait_until(s, &s->space, clock_mono_ms() + 1000);
    if (s->stopping || s->failed || !s->running) {
        rc = STELE_ERR_UNAVAILABLE;
        goto out;
    }
    bool was_empty = blockcutter_pending(&s->bc) == 0;
    rc = blockcutter_ordered(&s->bc, env, len, clock_mono_ms(), out, &n);
    for (size_t i = 0; i < n; i++)
        enqueue(s, &out[i]);
    if (rc == STELE_OK && was_empty)
        pthread_cond_signal(&s->work); /* a new batch timeout to serve */
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void solo_stop(void *state)
{
    struct solo *s = state;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->space);
    bool running = s->running;
    s->running = false;
    pthread_mutex_unlock(&s->mu);
    if (running)
        pthread_join(s->writer, NULL);
}

static void solo_destroy(void *state)
{
    struct solo *s = state;
    if (!s)
        return;
    while (s->head) {
        struct queued_batch *q = s->head;
        s->head = q->next;
        blockcutter_batch_release(&q->batch);
        free(q);
    }
    blockcutter_release(&s->bc);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->space);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const struct consensus_ops solo_consensus = {
    .name = "solo",
    .create = solo_create,
    .start = solo_start,
    .order = solo_order,
    .stop = solo_stop,
    .destroy = solo_destroy,
};
