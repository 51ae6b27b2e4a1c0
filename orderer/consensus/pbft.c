/*
 * pbft.c — the "pbft" consensus plug-in (Castro and Liskov's Practical Byzantine Fault
 * Tolerance, one block per sequence number): its ops, its timers and how envelopes enter it.
 * pbft_int.h maps the other files; docs/CONSENSUS.md describes the protocol as implemented.
 *
 * Metadata of a pbft block (stele.BlockMetadata):
 *   consensus_type  "pbft"
 *   channel_id      the channel
 *   timestamp_ms    the median of the certificate's COMMIT times (pbft_proof_time()): between
 *                   two correct orderers' clocks whatever the faulty ones signed
 *   last_config     0 (the genesis block is the only CONFIG block so far)
 *   finality_proof  a serialized stele.PbftProof: a quorum (2f+1 when n = 3f+1) of COMMITs signed
 * by distinct orderers for the block's number and header hash in one view (lib/ledger/pbft_msg.h
 * checks it). and nothing else. No hash or signature covers the metadata, so every orderer makes it
 * itself for the blocks it keeps and appends (pbft_block_canonical()), whatever a sender put there.
 */
#include "orderer/consensus/pbft_int.h"

#include "orderer/consensus/pbft.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG            "pbft"
#define POOL_MAX       200000 /* envelopes pooled before Broadcast is told to slow down */
#define FORWARD_TICK   16     /* envelopes forwarded per tick (20 ms) at most */
#define PBFT_RESEND_MS 1000   /* votes for a block in flight this long are sent again */

uint64_t pbft_now(void)
{
    return clock_mono_ms();
}

void pbft_publish(struct pbft *b)
{
    atomic_store(&b->accepting, b->running && !b->stopping && !b->failed);
    atomic_store(&b->leading, b->active && pbft_primary(&b->m, b->view) == b->me);
}

static int config_error(char **errmsg, const char *fmt, const char *arg)
{
    if (errmsg && asprintf(errmsg, fmt, arg) < 0)
        *errmsg = NULL;
    return STELE_ERR_CONFIG;
}

static int parse_fault(const char *fault, enum pbft_fault *out, char **errmsg)
{
    *out = PBFT_FAULT_NONE;
    if (!fault || !fault[0])
        return STELE_OK;
#ifdef STELE_TEST_HOOKS
    if (strcmp(fault, "equivocate") == 0)
        *out = PBFT_FAULT_EQUIVOCATE;
    else if (strcmp(fault, "bad-signatures") == 0)
        *out = PBFT_FAULT_BAD_SIGS;
    else if (strcmp(fault, "silent") == 0)
        *out = PBFT_FAULT_SILENT;
    else if (strcmp(fault, "withhold") == 0)
        *out = PBFT_FAULT_WITHHOLD;
    else
        return config_error(
            errmsg,
            "pbft: unknown test fault \"%s\" (equivocate, bad-signatures, silent, withhold)",
            fault);
    return STELE_OK;
#else
    return config_error(errmsg, "pbft: test faults (\"%s\") exist only in test builds", fault);
#endif
}

static void destroy_state(struct pbft *b)
{
    pbft_slot_reset(b);
    buf_release(&b->slot.pp_signed);
    buf_release(&b->slot.block);
    for (size_t i = 0; i < PBFT_MAX_NODES; i++) {
        buf_release(&b->slot.prepares[i].signed_);
        buf_release(&b->slot.commits[i].signed_);
        buf_release(&b->vcs[i].signed_);
        buf_release(&b->complaint_signed[i]);
        buf_release(&b->left_proof[i]);
    }
    pbft_ahead_clear(b);
    free(b->ckpts);
    buf_release(&b->last_proof);
    buf_release(&b->my_vc);
    buf_release(&b->new_view);
    buf_release(&b->pending_o);
    buf_release(&b->pending_block);
    buf_release(&b->best_prepared);
    pbft_persist_close(b);
    pbft_pool_destroy(b->pool);
    pbft_members_release(&b->m);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->wake_mu);
    pthread_cond_destroy(&b->sync_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static int pbft_create(const struct consensus_params *p, const struct consensus_callbacks *cb,
                       void **state, char **errmsg)
{
    const Stele__ChannelConfig *cfg = p->channel;
    if (!cfg || cfg->n_orderers == 0)
        return config_error(errmsg, "pbft: %s",
                            "the genesis block lists no orderers (stele-network writes one "
                            "with the whole orderer set)");
    if (cfg->n_orderers > PBFT_MAX_NODES)
        return config_error(errmsg, "pbft: %s", "more than 64 orderers");
    if (!crypto_key_has_private(p->signer))
        return config_error(errmsg, "pbft: %s", "the orderer key cannot sign");
    struct pbft *b = calloc(1, sizeof *b);
    if (!b)
        return STELE_ERR_NOMEM;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->wake_mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->sync_cv, NULL);
    b->p = *p;
    b->cb = *cb;
    b->state_fd[0] = b->state_fd[1] = -1;
    int rc = pbft_members_init(&b->m, cfg);
    if (rc) {
        destroy_state(b);
        return rc == STELE_ERR_NOMEM
                   ? rc
                   : config_error(errmsg, "pbft: %s", "an orderer key in the genesis block is bad");
    }
    int me = pbft_members_find(&b->m, p->node_id);
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    crypto_key_public_compressed(p->signer, pub);
    if (me < 0 || cfg->orderers[me]->public_key.len != sizeof pub ||
        memcmp(cfg->orderers[me]->public_key.data, pub, sizeof pub) != 0) {
        destroy_state(b);
        return config_error(errmsg,
                            "pbft: orderer \"%s\" is not in the genesis block's orderer set with "
                            "this key",
                            p->node_id);
    }
    b->me = (size_t)me;
    if ((rc = parse_fault(p->fault, &b->fault, errmsg))) {
        destroy_state(b);
        return rc;
    }
    const Stele__PbftParameters *pp = cfg->pbft;
    b->ckpt_interval = pp && pp->checkpoint_interval ? pp->checkpoint_interval : 10;
    b->log_window = pp && pp->log_window ? pp->log_window : 4 * b->ckpt_interval;
    if (b->log_window < 2 * b->ckpt_interval)
        b->log_window = 2 * b->ckpt_interval;
    if (b->log_window / b->ckpt_interval > PBFT_MAX_CKPTS) {
        /* Every checkpoint number in the window gets its own slot (a flood of CHECKPOINTs for
         * numbers in it must not push out the one about to become stable): a window of more than
         * PBFT_MAX_CKPTS checkpoints runs as one of that many. */
        log_warn(LOG, "pbft.log_window %u is more than %u checkpoints of %u blocks: using %llu",
                 b->log_window, PBFT_MAX_CKPTS, b->ckpt_interval,
                 (unsigned long long)PBFT_MAX_CKPTS * b->ckpt_interval);
        b->log_window = PBFT_MAX_CKPTS * b->ckpt_interval;
    }
    b->n_ckpts = b->log_window / b->ckpt_interval;
    if (!(b->ckpts = calloc(b->n_ckpts, sizeof *b->ckpts))) {
        destroy_state(b);
        return STELE_ERR_NOMEM;
    }
    b->request_timeout = pp && pp->request_timeout_ms ? pp->request_timeout_ms : 2000;
    b->vc_timeout_base = pp && pp->view_change_timeout_ms ? pp->view_change_timeout_ms : 2000;
    b->vc_timeout_max =
        pp && pp->view_change_timeout_max_ms ? pp->view_change_timeout_max_ms : 30000;
    if (b->vc_timeout_max < b->vc_timeout_base)
        b->vc_timeout_max = b->vc_timeout_base;
    b->vc_timeout = b->vc_timeout_base;
    const struct pbft_config *own = p->plugin_config;
    b->batch_delay = own ? own->batch_delay_ms : PBFT_BATCH_DELAY_MS;
    b->active = true;
    if (!(b->pool = pbft_pool_create())) {
        destroy_state(b);
        return STELE_ERR_NOMEM;
    }
    *state = b;
    return STELE_OK;
}

/* Learns where the chain is: last block, its hash and certificate. */
static int load_head(struct pbft *b)
{
    uint64_t height;
    b->cb.chain_head(b->cb.arg, &height, b->last_digest);
    b->last_exec = height ? height - 1 : 0;
    /* Every block we hold is final (certified): the checkpoint at or below our head serves as
     * the low watermark until the others confirm a later one. Without it a restarted primary
     * would wait for a checkpoint that can only come after it proposes. */
    b->stable = b->last_exec - b->last_exec % b->ckpt_interval;
    buf_clear(&b->last_proof);
    if (b->last_exec == 0) {
        memcpy(b->genesis_digest, b->last_digest, 32);
        return STELE_OK;
    }
    /* The genesis block's hash: what a VIEW-CHANGE from an orderer without blocks names. */
    struct arena *a = arena_create(0);
    Stele__Block *blk;
    int rc = a ? b->cb.read_block(b->cb.arg, 0, a, &blk) : STELE_ERR_NOMEM;
    if (rc == STELE_OK)
        rc = blockhash_header_pb(blk->header, b->genesis_digest);
    if (rc == STELE_OK)
        rc = b->cb.read_block(b->cb.arg, b->last_exec, a, &blk);
    if (rc == STELE_OK)
        rc = buf_append(&b->last_proof, blk->metadata->finality_proof.data,
                        blk->metadata->finality_proof.len);
    arena_destroy(a);
    return rc;
}

/* Sends FORWARD for an envelope waiting too long (pool callback; caller holds mu). */
static void forward_one(void *arg, const uint8_t *env, size_t len)
{
    struct pbft *b = arg;
    uint8_t h[32];
    if (crypto_sha256(env, len, h))
        return;
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_FORWARD;
    msg.view = b->view;
    msg.digest = (ProtobufCBinaryData){32, h};
    struct buf e = {(uint8_t *)env, len, len};
    pbft_broadcast(b, &msg, &e, NULL);
}

/* True until f+1 others have been heard from since we started: a restarted orderer whose
 * links are still connecting cannot tell a silent primary from its own deafness, and a view
 * change asked for then would be its alone, stranding it in a view the others never join.
 * (Holding the timer back while others report blocks we lack was tried, and made things
 * worse: under load a backup is often a block behind, so the backups' timers stopped firing
 * together, and one leaving alone stalled a network already missing an orderer.) Forwarding
 * old envelopes goes on meanwhile. */
static bool unheard(const struct pbft *b)
{
    size_t heard = 0;
    for (size_t i = 0; i < b->m.n; i++)
        heard += i != b->me && b->peer_heard[i];
    return heard < b->m.f + 1;
}

/* The request timer: a backup that holds an envelope the primary has not ordered within
 * request_timeout (counted from when it became our oldest, or from the view's start)
 * complains; the view changes when a quorum does. Half-way, it forwards old envelopes to the
 * others, so that a client who sent to one orderer only is not mistaken for a censoring
 * primary. A complaint is withdrawn once a block executed since and nothing waits that long. */
void pbft_request_tick(struct pbft *b, uint64_t now)
{
    char tx[65];
    uint64_t at;
    if (!pbft_pool_oldest(b->pool, tx, &at)) {
        b->timed_tx[0] = 0;
        pbft_withdraw_complaint(b);
        return;
    }
    if (strcmp(tx, b->timed_tx) != 0) {
        memcpy(b->timed_tx, tx, sizeof tx);
        b->timed_since = now;
    }
    if (!b->active || b->syncing || b->failed)
        return;
    uint64_t since = b->timed_since > b->view_started ? b->timed_since : b->view_started;
    if (at > since)
        since = at;
    /* Forward a few per tick: under a backlog every pooled envelope may be old, and
     * forwarding them all at once would cost every other orderer a signature check each. */
    if (now - at >= b->request_timeout / 2 && pbft_primary(&b->m, b->view) != b->me)
        pbft_pool_stale(b->pool, now - b->request_timeout / 2, FORWARD_TICK, forward_one, b);
    /* Like the view-change timeout, the request timer doubles with every view change that did
     * not get a block committed (it returns to its base with the next commit): a block slower
     * than the timer under an honest primary must not make views change in a loop. */
    uint64_t timeout = b->request_timeout * (b->vc_timeout / b->vc_timeout_base);
    if (pbft_primary(&b->m, b->view) != b->me && now - since >= timeout && !unheard(b))
        pbft_complain(b, "an envelope waited longer than request_timeout to be ordered", false);
    else if (now - since < timeout)
        pbft_withdraw_complaint(b);
}

/* Behind: f+1 orderers report blocks we lack for more than a second. */
static void lag_tick(struct pbft *b, uint64_t now)
{
    uint64_t ahead[PBFT_MAX_NODES];
    size_t k = 0;
    for (size_t i = 0; i < b->m.n; i++)
        if (i != b->me && b->peer_seq[i] > b->last_exec)
            ahead[k++] = b->peer_seq[i];
    if (k < b->m.f + 1) {
        b->behind_since = 0;
        return;
    }
    if (!b->behind_since || b->behind_exec != b->last_exec) {
        /* Others a block ahead while we still execute is normal skew: only a second without
         * progress means we lack blocks. */
        b->behind_since = now;
        b->behind_exec = b->last_exec;
        return;
    }
    if (now - b->behind_since < 1000)
        return;
    uint64_t target = ahead[0];
    for (size_t i = 1; i < k; i++)
        if (ahead[i] < target)
            target = ahead[i];
    pbft_want_sync(b, target);
    b->behind_since = now;
}

void pbft_wake_timer(struct pbft *b)
{
    pthread_mutex_lock(&b->wake_mu);
    b->wake_pending = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->wake_mu);
}

static void *timer_main(void *arg)
{
    struct pbft *b = arg;
    pthread_mutex_lock(&b->mu);
    b->next_tick = pbft_now() + PBFT_TICK_MS;
    while (!b->stopping) {
        /* Sleep until the next tick, or until a block waiting for envelopes is due
         * (pbft_maybe_propose() sets propose_at and signals `wake` when it is sooner). */
        uint64_t now = pbft_now(), until = b->next_tick;
        if (b->propose_at && b->propose_at < until)
            until = b->propose_at;
        if (until > now) {
            struct timespec ts;
            clock_deadline(CLOCK_REALTIME, until - now, &ts);
            pthread_mutex_unlock(&b->mu);
            pthread_mutex_lock(&b->wake_mu);
            while (!b->wake_pending &&
                   pthread_cond_timedwait(&b->wake, &b->wake_mu, &ts) != ETIMEDOUT)
                ;
            b->wake_pending = false;
            pthread_mutex_unlock(&b->wake_mu);
            pthread_mutex_lock(&b->mu);
        }
        if (b->stopping)
            break;
        if (atomic_exchange(&b->propose_wanted, false))
            pbft_maybe_propose(b);
        now = pbft_now();
        if (now < b->next_tick) {
            if (b->propose_at && now >= b->propose_at)
                pbft_maybe_propose(b);
            continue;
        }
        b->next_tick = now + PBFT_TICK_MS;
        if (now >= b->status_at) {
            pbft_send_status(b);
            b->status_at = now + PBFT_STATUS_EVERY_MS;
            if (b->slot.have_pp && now - b->slot.pp_at_ms >= PBFT_RESEND_MS)
                pbft_resend_votes(b);
        }
        pbft_view_tick(b, now);
        pbft_request_tick(b, now);
        lag_tick(b, now);
        pbft_maybe_propose(b);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static int pbft_start(void *state)
{
    struct pbft *b = state;
    pthread_mutex_lock(&b->mu);
    int rc = load_head(b);
    if (rc == STELE_OK) {
        pbft_slot_reset(b);
        rc = pbft_restore(b);
    }
    b->view_started = pbft_now();
    if (rc == STELE_OK && !b->active && b->my_vc.len)
        pbft_handle_bytes(b, b->my_vc.data, b->my_vc.len); /* count our own VIEW-CHANGE */
    pthread_mutex_unlock(&b->mu);
    if (rc)
        return rc;
    log_info(LOG, "%s: member %zu of %zu (f = %zu), view %llu, last block %llu, primary %s",
             b->m.ids[b->me], b->me, b->m.n, b->m.f, (unsigned long long)b->view,
             (unsigned long long)b->last_exec, b->m.ids[pbft_primary(&b->m, b->view)]);
    b->links_up = true; /* pbft_links_stop() copes with links that did not start */
    if ((rc = pbft_links_start(b)))
        return rc;
    if ((rc = pbft_sync_start(b)))
        return rc;
    b->sync_up = true;
    if (pthread_create(&b->timer, NULL, timer_main, b) != 0)
        return STELE_ERR_INTERNAL;
    b->timer_up = true;
    pthread_mutex_lock(&b->mu);
    b->running = true;
    pbft_publish(b);
    pthread_mutex_unlock(&b->mu);
    return STELE_OK;
}

/* Called from Broadcast, possibly on the server's completion-queue thread: it never waits for
 * mu, which the core holds across signing, persisting and appending blocks. */
static int pbft_order(void *state, const uint8_t *env, size_t len, const char *tx_id,
                      const uint8_t hash[32])
{
    struct pbft *b = state;
    if (!atomic_load(&b->accepting) || pbft_pool_size(b->pool, NULL) >= POOL_MAX)
        return STELE_ERR_UNAVAILABLE;
    /* REPLAY: another orderer forwarded it to us first, or a block holding it was appended
     * since Broadcast claimed it (the pool remembers committed tx_ids, so it does not wait
     * there forever and fire the request timer). Either way it is taken care of. */
    size_t n = 0;
    uint64_t bytes = 0;
    int rc = pbft_pool_add(b->pool, tx_id, hash, env, len, pbft_now(), &n, &bytes);
    if (rc == STELE_ERR_REPLAY)
        return STELE_OK;
    /* The proposal itself (building, signing, persisting the block) is the timer thread's,
     * which sleeps outside mu. It needs waking only when this envelope changes the plan: the
     * first in an empty pool (nothing is planned), or the one that fills a block (propose
     * now rather than at propose_at). Otherwise the block in flight, or the planned
     * propose_at, or the timer's tick, brings pbft_maybe_propose() round anyway. */
    const struct blockcutter_config *cut = &b->p.cutter;
    if (rc == STELE_OK && atomic_load(&b->leading) &&
        (n == 1 || n == cut->max_message_count ||
         (bytes >= cut->preferred_max_bytes && bytes - len < cut->preferred_max_bytes))) {
        atomic_store(&b->propose_wanted, true);
        pbft_wake_timer(b);
    }
    return rc;
}

static void pbft_stop(void *state)
{
    struct pbft *b = state;
    pthread_mutex_lock(&b->mu);
    b->running = false;
    b->stopping = true;
    pbft_publish(b);
    pthread_mutex_unlock(&b->mu);
    pbft_wake_timer(b);
    /* Whatever pbft_start() got to start, also when it failed half-way. */
    if (b->timer_up)
        pthread_join(b->timer, NULL);
    if (b->sync_up)
        pbft_sync_stop(b);
    if (b->links_up)
        pbft_links_stop(b);
    b->timer_up = b->sync_up = b->links_up = false;
}

static void pbft_destroy(void *state)
{
    if (state)
        destroy_state(state);
}

static void pbft_status(void *state, struct consensus_status *st)
{
    struct pbft *b = state;
    pthread_mutex_lock(&b->mu);
    st->view = b->view;
    st->view_changes = b->view_changes;
    st->persist_failed = b->persist_failed;
    st->role = !b->active                              ? "view-changing"
               : b->syncing                            ? "syncing"
               : pbft_primary(&b->m, b->view) == b->me ? "primary"
                                                       : "backup";
    pthread_mutex_unlock(&b->mu);
}

const struct consensus_ops pbft_consensus = {
    .name = "pbft",
    .create = pbft_create,
    .start = pbft_start,
    .order = pbft_order,
    .order_never_waits = true, /* a full pool refuses (UNAVAILABLE); proposing never waits */
    .stop = pbft_stop,
    .destroy = pbft_destroy,
    .attach = pbft_attach,
    .status = pbft_status,
};
