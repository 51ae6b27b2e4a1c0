/*
 * pbft_net.c — how pbft orderers talk (pbft_int.h): one outbound link per other orderer (a
 * thread keeping a stele.Cluster/Step stream open and feeding it from a bounded queue), the
 * Step and Fetch handlers, and the state-transfer thread that fetches missing blocks from the
 * others and accepts each only with a valid commit certificate.
 *
 * Links never block consensus: a full queue drops its oldest message (PBFT recovers lost
 * messages by resends, view changes and state transfer). Orderer addresses come from the
 * channel configuration. NEEDSWORK: links are plaintext gRPC; every message is signed, but
 * TLS between orderers would also hide the traffic.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG                 "pbft"
#define LINK_RETRY_MS       200
#define FETCH_MAX_SKEW      (5 * 60 * 1000ull) /* a FETCH request older than this is refused */
#define MAX_CLUSTER_MESSAGE (64u << 20)
#define CLUSTER_STEP_STREAMS                                                                 \
    (4 * PBFT_MAX_NODES)                           /* Step streams at once (a link each, and \
                                                      those of links being replaced) */
#define CLUSTER_FETCH_STREAMS (2 * PBFT_MAX_NODES) /* state transfers at once */
#define CLUSTER_STEP_IDLE_MS  (20 * PBFT_STATUS_EVERY_MS)
#define FETCH_WAIT_MS         30000         /* a fetcher waits this long for each block */
#define FETCH_SEND_WAIT_MS    FETCH_WAIT_MS /* and a Fetch stream for its reader to take one */

struct queued {
    struct queued *next;
    size_t len;
    uint8_t data[];
};

struct pbft_link {
    struct pbft *b;
    size_t to;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct queued *head, *tail;
    size_t n;
    size_t bytes; /* octets queued */
    bool stop;
    struct rpc_call *call; /* the open stream, for cancelling on stop */
    pthread_t thread;
    bool running;
};

static const char *address_of(const struct pbft *b, size_t i)
{
    return b->p.channel->orderers[i]->address;
}

void pbft_link_send(struct pbft *b, size_t to, const uint8_t *data, size_t len)
{
    struct pbft_link *l = to < b->m.n ? b->links[to] : NULL;
    if (!l || b->fault == PBFT_FAULT_SILENT)
        return;
    struct queued *q = malloc(sizeof *q + len);
    if (!q)
        return;
    q->next = NULL;
    q->len = len;
    memcpy(q->data, data, len);
    pthread_mutex_lock(&l->mu);
    while (l->head && (l->n >= PBFT_LINK_QUEUE || l->bytes + len > PBFT_LINK_BYTES)) {
        struct queued *old = l->head;
        l->head = old->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        l->bytes -= old->len;
        free(old);
    }
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->n++;
    l->bytes += len;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Takes the next queued message, waiting up to `ms`; NULL on stop or timeout. */
static struct queued *link_pop(struct pbft_link *l, int ms)
{
    pthread_mutex_lock(&l->mu);
    if (!l->head && !l->stop) {
        struct timespec ts;
        clock_deadline(CLOCK_REALTIME, (uint64_t)ms, &ts);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
    }
    struct queued *q = NULL;
    if (!l->stop && l->head) {
        q = l->head;
        l->head = q->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        l->bytes -= q->len;
    }
    pthread_mutex_unlock(&l->mu);
    return q;
}

static bool link_stopping(struct pbft_link *l)
{
    pthread_mutex_lock(&l->mu);
    bool s = l->stop;
    pthread_mutex_unlock(&l->mu);
    return s;
}

static void *link_main(void *arg)
{
    struct pbft_link *l = arg;
    struct rpc_channel_opts co = {
        .max_message = MAX_CLUSTER_MESSAGE, .stream_queue = 1024, .tls = l->b->p.peer_tls};
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(address_of(l->b, l->to), &co, &err);
    if (!ch) {
        log_error(LOG, "cannot open a channel to %s (%s): %s", l->b->m.ids[l->to],
                  address_of(l->b, l->to), err ? err : "?");
        free(err);
        return NULL;
    }
    while (!link_stopping(l)) {
        struct rpc_call *call = rpc_stream_open(ch, "/stele.Cluster/Step", RPC_CLIENT_STREAM,
                                                &stele__pbft_ack__descriptor, -1);
        if (!call) {
            clock_sleep_ms(LINK_RETRY_MS);
            continue;
        }
        pthread_mutex_lock(&l->mu);
        l->call = call;
        pthread_mutex_unlock(&l->mu);
        for (;;) {
            struct queued *q = link_pop(l, 1000);
            if (!q) {
                if (link_stopping(l))
                    break;
                continue;
            }
            int rc = rpc_call_send_bytes(call, q->data, q->len);
            free(q);
            if (rc)
                break;
        }
        pthread_mutex_lock(&l->mu);
        l->call = NULL;
        pthread_mutex_unlock(&l->mu);
        struct rpc_result res = {0};
        rpc_call_finish(call, true, &res);
        if (!link_stopping(l)) {
            log_debug(LOG, "link to %s broke (%s); reconnecting", l->b->m.ids[l->to],
                      res.detail[0] ? res.detail : rpc_code_name(res.code));
            clock_sleep_ms(LINK_RETRY_MS);
        }
    }
    rpc_channel_close(ch);
    return NULL;
}

int pbft_links_start(struct pbft *b)
{
    for (size_t i = 0; i < b->m.n; i++) {
        if (i == b->me)
            continue;
        struct pbft_link *l = calloc(1, sizeof *l);
        if (!l)
            return STELE_ERR_NOMEM;
        l->b = b;
        l->to = i;
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        b->links[i] = l;
        if (pthread_create(&l->thread, NULL, link_main, l) != 0)
            return STELE_ERR_INTERNAL;
        l->running = true;
    }
    return STELE_OK;
}

void pbft_links_stop(struct pbft *b)
{
    for (size_t i = 0; i < b->m.n; i++) {
        struct pbft_link *l = b->links[i];
        if (!l)
            continue;
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        if (l->call)
            rpc_call_cancel(l->call);
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (l->running)
            pthread_join(l->thread, NULL);
        while (l->head) {
            struct queued *q = l->head;
            l->head = q->next;
            free(q);
        }
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l);
        b->links[i] = NULL;
    }
}

/* ---- inbound ---- */

/* An envelope another orderer forwarded: checked like a Broadcast, then pooled. */
static void on_forward(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg)
{
    uint8_t h[32];
    char tx_id[65];
    const char *why = "";
    if (msg->digest.len != 32 || crypto_sha256(s->block.data, s->block.len, h) != STELE_OK ||
        memcmp(h, msg->digest.data, 32) != 0)
        return;
    if (b->cb.check_envelope(b->cb.arg, s->block.data, s->block.len, tx_id, &why) != STELE_OK) {
        log_debug(LOG, "dropped a forwarded envelope: %s", why);
        return;
    }
    if (pbft_pool_add(b->pool, tx_id, h, s->block.data, s->block.len, pbft_now(), NULL, NULL) ==
        STELE_OK) {
        pthread_mutex_lock(&b->mu);
        pbft_maybe_propose(b);
        pthread_mutex_unlock(&b->mu);
    }
}

/* One message from a Step stream. */
static void incoming(struct pbft *b, const Stele__PbftSigned *s)
{
    struct arena *a = arena_create(0);
    Stele__PbftMessage *msg;
    size_t from;
    const char *why = "";
    if (!a)
        return;
    int rc = pbft_open_msg(b, a, s, &msg, &from, &why);
    if (rc) {
        log_warn(LOG, "dropped a cluster message: %s", why);
        goto out;
    }
    if (from == b->me)
        goto out;
    if (msg->type == STELE__PBFT_TYPE__PBFT_FORWARD) {
        on_forward(b, s, msg);
        goto out;
    }

    enum pbft_verdict v = PBFT_BLOCK_OK;
    if (msg->type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE)
        v = pbft_check_proposal(b, s, msg, &why);
    if (v == PBFT_BLOCK_FOREIGN) {
        /* The signature covers the digest, not the block beside it: any orderer relaying a
         * PRE-PREPARE could have put these octets there. Nobody is blamed; the primary's own
         * copy (or its resend) brings the block. */
        log_debug(LOG, "dropped a PRE-PREPARE for block %llu in view %llu: %s",
                  (unsigned long long)msg->seq, (unsigned long long)msg->view, why);
        goto out;
    }
    if (v == PBFT_BLOCK_INVALID)
        /* Not always the primary's fault: the block may be one we just fetched. on_pre_prepare
         * decides (and says so) when it is the block in flight. */
        log_debug(LOG, "%s proposed block %llu in view %llu that fails the checks: %s",
                  b->m.ids[from], (unsigned long long)msg->seq, (unsigned long long)msg->view, why);
    bool block_ok = v == PBFT_BLOCK_OK;
    pthread_mutex_lock(&b->mu);
    if (!b->stopping)
        pbft_handle(b, s, msg, from, block_ok);
    if (atomic_exchange(&b->propose_wanted, false))
        pbft_maybe_propose(b); /* an envelope pbft_order() pooled while we held mu */
    pthread_mutex_unlock(&b->mu);
out:
    arena_destroy(a);
}

/* Under mutual TLS the client certificate says who opened a Cluster call: it must name one of
 * the channel's orderers (CN = node id). Without a client certificate (plaintext, server-only
 * TLS) the transport names no one and only the signed messages count. Returns RPC_OK or the
 * refusal. */
static enum rpc_code cluster_caller_ok(struct pbft *b, struct rpc_call *call)
{
    char cn[128];
    if (rpc_call_peer_cn(call, cn, sizeof cn) != STELE_OK || pbft_members_find(&b->m, cn) >= 0)
        return RPC_OK;
    return rpc_call_error(call, RPC_PERMISSION_DENIED,
                          "stele.Cluster is for the channel's orderers: the client certificate "
                          "names \"%s\", no orderer of the channel",
                          cn);
}

static enum rpc_code step(struct rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *arg)
{
    (void)req;
    struct pbft *b = arg;
    static Stele__PbftAck ack = STELE__PBFT_ACK__INIT;
    enum rpc_code who = cluster_caller_ok(b, call);
    if (who != RPC_OK)
        return who;
    for (;;) {
        ProtobufCMessage *m;
        int rc = rpc_call_recv(call, &m, -1, false);
        if (rc == STELE_ERR_NOT_FOUND)
            break;
        if (rc == STELE_ERR_MALFORMED)
            continue;
        if (rc == STELE_ERR_TIMEOUT)
            return rpc_call_error(call, RPC_DEADLINE_EXCEEDED,
                                  "nothing for %d ms: not an orderer's link", CLUSTER_STEP_IDLE_MS);
        if (rc)
            return RPC_CANCELLED;
        incoming(b, (const Stele__PbftSigned *)m);
        pb_free(m);
    }
    *resp = &ack.base;
    return RPC_OK;
}

static enum rpc_code fetch(struct rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *arg)
{
    (void)resp;
    struct pbft *b = arg;
    struct arena *a = rpc_call_arena(call);
    Stele__PbftMessage *msg;
    size_t from;
    const char *why = "";
    enum rpc_code who = cluster_caller_ok(b, call);
    if (who != RPC_OK)
        return who;
    if (pbft_open_msg(b, a, (const Stele__PbftSigned *)req, &msg, &from, &why))
        return rpc_call_error(call, RPC_PERMISSION_DENIED, "%s", why);
    uint64_t now = clock_wall_ms();
    if (msg->type != STELE__PBFT_TYPE__PBFT_FETCH ||
        (msg->timestamp_ms > now ? msg->timestamp_ms - now : now - msg->timestamp_ms) >
            FETCH_MAX_SKEW)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "not a fresh PBFT_FETCH request (check the clocks)");
    uint64_t height, next = msg->seq ? msg->seq : 1;
    uint8_t head[32];
    b->cb.chain_head(b->cb.arg, &height, head);
    struct arena *ba = arena_create(0);
    enum rpc_code code = RPC_OK;
    for (; ba && next < height; next++) {
        Stele__Block *blk;
        int rc = b->cb.read_block(b->cb.arg, next, ba, &blk);
        if (rc == STELE_OK) /* a reader that takes nothing for as long as a fetcher waits */
            rc = rpc_call_send_wait(call, &blk->base, FETCH_SEND_WAIT_MS);
        arena_reset(ba);
        if (rc) {
            code = rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
            break;
        }
    }
    arena_destroy(ba);
    return code;
}

int pbft_attach(void *state, struct rpc_server *server)
{
    struct pbft *b = state;
    const struct rpc_method m[] = {
        /* Streams of their own, which clients' Broadcast and Deliver streams cannot take; a
         * Step stream that carries nothing for CLUSTER_STEP_IDLE_MS (every orderer sends a
         * STATUS every PBFT_STATUS_EVERY_MS) is someone else's, and ends. */
        {.path = "/stele.Cluster/Step",
         .kind = RPC_CLIENT_STREAM,
         .request = &stele__pbft_signed__descriptor,
         .handler = step,
         .arg = b,
         .max_request = MAX_CLUSTER_MESSAGE,
         .max_streams = CLUSTER_STEP_STREAMS,
         .idle_ms = CLUSTER_STEP_IDLE_MS},
        {.path = "/stele.Cluster/Fetch",
         .kind = RPC_SERVER_STREAM,
         .request = &stele__pbft_signed__descriptor,
         .handler = fetch,
         .arg = b,
         .max_streams = CLUSTER_FETCH_STREAMS},
    };
    return rpc_server_add(server, m, 2);
}

/* ---- state transfer ---- */

void pbft_want_sync(struct pbft *b, uint64_t target)
{
    if (target <= b->last_exec || (b->syncing && target <= b->sync_target))
        return;
    if (target > b->sync_target || !b->syncing)
        b->sync_target = target;
    b->sync_wanted = true;
    pthread_cond_signal(&b->sync_cv);
}

/* Fetches blocks from member `from` until sync_target or the stream ends. Returns true when the
 * target was reached. Called without mu. */
static bool fetch_from(struct pbft *b, size_t from)
{
    struct rpc_channel_opts co = {
        .max_message = MAX_CLUSTER_MESSAGE, .fail_fast = true, .tls = b->p.peer_tls};
    struct rpc_channel *ch = rpc_channel_open(address_of(b, from), &co, NULL);
    struct arena *a = arena_create(0);
    bool reached = false;
    if (!ch || !a)
        goto out;
    pthread_mutex_lock(&b->mu);
    uint64_t start = b->last_exec + 1;
    pthread_mutex_unlock(&b->mu);
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_FETCH;
    msg.seq = start;
    msg.timestamp_ms = clock_wall_ms();
    msg.channel_id = b->m.channel_id;
    msg.sender = b->m.ids[b->me];
    Stele__PbftSigned req;
    if (pbft_sign(&msg, b->p.signer, a, &req))
        goto out;
    struct rpc_call *call = rpc_stream_open(ch, "/stele.Cluster/Fetch", RPC_SERVER_STREAM,
                                            &stele__block__descriptor, FETCH_WAIT_MS);
    if (!call || rpc_call_send(call, &req.base) || rpc_call_close_send(call)) {
        if (call)
            rpc_call_finish(call, true, NULL);
        goto out;
    }
    size_t got = 0;
    for (;;) {
        ProtobufCMessage *m;
        if (rpc_call_recv(call, &m, FETCH_WAIT_MS, false))
            break;
        Stele__Block *blk = (Stele__Block *)m;
        uint8_t hash[32];
        const char *why = "";
        arena_reset(a);
        int rc = pbft_block_check(&b->m, a, blk, hash, &why);
        if (rc) {
            log_warn(LOG, "state transfer from %s: block %llu refused: %s", b->m.ids[from],
                     blk->header ? (unsigned long long)blk->header->number : 0ull, why);
            pb_free(m);
            break;
        }
        if (blk->header->number != start + got) {
            /* Blocks come in order from `start`: anything else (old blocks over and over from a
             * faulty peer) ends this transfer; the next peer is tried. */
            log_warn(LOG, "state transfer from %s: block %llu instead of %llu", b->m.ids[from],
                     (unsigned long long)blk->header->number, (unsigned long long)(start + got));
            pb_free(m);
            break;
        }
        pthread_mutex_lock(&b->mu);
        if (blk->header->number == b->last_exec + 1)
            rc = pbft_execute_certified(b, blk, hash);
        if (rc == STELE_OK)
            got++;
        reached = b->last_exec >= b->sync_target;
        bool stop = b->stopping || b->failed;
        pthread_mutex_unlock(&b->mu);
        pb_free(m);
        if (rc || stop || reached)
            break;
    }
    rpc_call_finish(call, true, NULL);
    if (got)
        log_info(LOG, "state transfer: %zu blocks from %s", got, b->m.ids[from]);
out:
    arena_destroy(a);
    rpc_channel_close(ch);
    return reached;
}

static void *sync_main(void *arg)
{
    struct pbft *b = arg;
    size_t next_peer = 0;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stopping && !b->sync_wanted)
            pthread_cond_wait(&b->sync_cv, &b->mu);
        if (b->stopping)
            break;
        b->sync_wanted = false;
        if (b->sync_target <= b->last_exec)
            continue; /* blocks arrived the normal way meanwhile */
        b->syncing = true;
        uint64_t target = b->sync_target;
        log_info(LOG, "state transfer: at block %llu, fetching up to %llu",
                 (unsigned long long)b->last_exec, (unsigned long long)target);
        bool reached = false;
        for (size_t tries = 0; tries < b->m.n && !reached && !b->stopping; tries++) {
            size_t from = next_peer++ % b->m.n;
            if (from == b->me)
                continue;
            pthread_mutex_unlock(&b->mu);
            reached = fetch_from(b, from);
            pthread_mutex_lock(&b->mu);
        }
        b->syncing = false;
        if (!reached && !b->stopping && b->last_exec < b->sync_target) {
            /* Try again after a pause: the others may not have the blocks yet. */
            pthread_mutex_unlock(&b->mu);
            clock_sleep_ms(500);
            pthread_mutex_lock(&b->mu);
            if (b->last_exec < b->sync_target)
                b->sync_wanted = true;
        }
        pbft_after_sync(b);
        pbft_maybe_propose(b);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int pbft_sync_start(struct pbft *b)
{
    return pthread_create(&b->sync_thread, NULL, sync_main, b) == 0 ? STELE_OK : STELE_ERR_INTERNAL;
}

void pbft_sync_stop(struct pbft *b)
{
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->sync_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->sync_thread, NULL);
}
