/*
 * broadcaster.c — the gateway's Broadcast streams (gateway.c): one long-lived
 * AtomicBroadcast/Broadcast stream per orderer, shared by every Submit, instead of a new
 * stream (and a new handler thread on the orderer) per envelope. An orderer answers the
 * envelopes of a stream in the order they came, so a FIFO of waiters matches the answers.
 * The answers are taken on the client completion-queue thread as they arrive
 * (rpc_call_recv_inline): a thread per stream only waits for the stream's end. A stream that
 * fails fails its waiters (they report no answer) and the next send opens a new one.
 *
 * A Submit waits for enough answers, not for every orderer (peer_broadcast()): an orderer
 * that stops answering (hung, partitioned, Byzantine) must not hold each Submit until its
 * timeout. Sends never wait either: when an orderer stops reading and the stream's send
 * queue fills, the stream is cancelled (its waiters fail) and the next Submit opens another.
 * So is a stream whose orderer reads but does not answer: a waiter per envelope (each keeping
 * its Submit's group) would pile up for as long as the stream lasts, so at most
 * gateway.orderer_queue + BC_MAX_UNANSWERED envelopes may await its answers.
 *
 * Locks: `send_mu` keeps the order of waiters the order of sends (held across both, and
 * across opening a stream); `mu` guards the rest and is the only one the completion thread
 * takes; a Submit's group has its own. Order: send_mu, then mu, then a group's.
 */
#include "peer_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BC_BACKOFF_MIN_MS 250
#define BC_BACKOFF_MAX_MS 30000
/* Envelopes that may await one orderer's answer beyond gateway.orderer_queue (~150 octets of
 * waiter and group each): far above what a working orderer leaves unanswered (an orderer at
 * 2,000 envelopes a second 30 s behind), and a bound on what one that never answers holds. */
#define BC_MAX_UNANSWERED 65536

/* The answers one Submit is waiting for, one per orderer. Shared by the Submit and its
 * waiters (one reference each): whoever drops the last frees it, so a Submit that stopped
 * waiting leaves it to the answers still to come. */
struct bc_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signalled when the Submit has what it waits for */
    int refs;               /* the Submit, and each waiter not yet answered */
    size_t n;               /* orderers */
    size_t enough;          /* the Submit is done at this many STATUS_SUCCESS */
    size_t unsent;          /* envelopes that could not be sent (no answer will come) */
    size_t answered;        /* answers (or failures) so far */
    size_t accepted;        /* of which peer_broadcast_held() */
    Stele__Status status[]; /* orderer i's answer; STATUS_UNKNOWN until one comes */
};

/* One envelope sent on a stream, waiting in its FIFO for the orderer's answer. */
struct bc_waiter {
    struct bc_waiter *next;
    struct bc_group *g; /* one reference */
    size_t i;           /* the orderer's index in g->status */
};

struct bc_stream {
    pthread_mutex_t send_mu; /* senders, and the reader while it retires the stream */
    pthread_mutex_t mu;
    struct rpc_channel *ch; /* borrowed */
    const char *addr;       /* for the log */
    struct rpc_call *call;  /* NULL when none is open */
    struct bc_waiter *head; /* waiters in send order */
    struct bc_waiter *tail;
    size_t waiting;     /* waiters in the FIFO */
    size_t max_waiting; /* this many and the stream is cancelled: the orderer does not answer */
    bool overfull;      /* the stream was cancelled for that (logged once) */
    pthread_t reader;
    bool reader_started; /* `reader` must be joined */
    bool stopping;
    /* After a stream ends, no new one before retry_at_ms (monotonic): an orderer that hangs
     * would otherwise get a new stream, and hold its unread envelopes, several times a second.
     * The pause doubles from BC_BACKOFF_MIN_MS to BC_BACKOFF_MAX_MS while streams keep ending
     * without an answer, and is forgotten at the first answer. */
    uint64_t retry_at_ms;
    unsigned backoff_ms;
};

struct peer_broadcaster {
    struct bc_stream *s;
    size_t n;
};

/* Drops one reference to `g`. */
static void group_unref(struct bc_group *g)
{
    pthread_mutex_lock(&g->mu);
    bool last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

bool peer_broadcast_held(Stele__Status status)
{
    return status == STELE__STATUS__STATUS_SUCCESS || status == STELE__STATUS__STATUS_CONFLICT;
}

/* Under g->mu: whether the Submit has all it waits for. */
static bool group_done(const struct bc_group *g)
{
    return g->accepted >= g->enough || g->answered + g->unsent >= g->n;
}

/* Records orderer i's answer in `g`, wakes the Submit once it has what it waits for (not at
 * each answer: a wake-up is a context switch), drops the reference it held. */
static void group_answer(struct bc_group *g, size_t i, Stele__Status status)
{
    pthread_mutex_lock(&g->mu);
    g->status[i] = status;
    g->answered++;
    if (peer_broadcast_held(status))
        g->accepted++;
    if (group_done(g))
        pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    group_unref(g);
}

/* Under the stream's mutex: gives `w` its answer and frees it. */
static void waiter_done(struct bc_waiter *w, Stele__Status status)
{
    group_answer(w->g, w->i, status);
    free(w);
}

/* Under s->mu: marks waiters done. */
static void fail_all(struct bc_stream *s)
{
    while (s->head) {
        struct bc_waiter *w = s->head;
        s->head = w->next;
        waiter_done(w, STELE__STATUS__STATUS_UNKNOWN);
    }
    s->tail = NULL;
    s->waiting = 0;
}

/* On the completion thread: an orderer's answer goes to the oldest waiter. */
static int on_answer(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    (void)reply;
    struct bc_stream *s = arg;
    Stele__BroadcastResponse *r = (Stele__BroadcastResponse *)pb_unpack(
        &stele__broadcast_response__descriptor, NULL, data, len, 0);
    if (!r)
        return STELE_ERR_MALFORMED;
    pthread_mutex_lock(&s->mu);
    struct bc_waiter *w = s->head;
    if (w) {
        s->head = w->next;
        if (!s->head)
            s->tail = NULL;
        s->waiting--;
        waiter_done(w, r->status);
    }
    if (s->backoff_ms) /* the first answer since a stream to it ended */
        log_info("peer", "broadcast stream to %s: the orderer answers again", s->addr);
    s->backoff_ms = 0;
    pthread_mutex_unlock(&s->mu);
    pb_free(&r->base);
    return STELE_OK;
}

/* Waits for the stream's end, then retires it: its waiters fail, the next send opens another. */
static void *reader_main(void *arg)
{
    struct bc_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    struct rpc_call *call = s->call;
    pthread_mutex_unlock(&s->mu);
    int rc = rpc_call_recv_inline(call, on_answer, s);
    /* Nobody reads the answers any more (an answer that did not decode ends the reading on a
     * call that has not broken): cancel first, so that a send waiting for room fails and lets
     * go of send_mu. */
    rpc_call_cancel(call);
    pthread_mutex_lock(&s->send_mu); /* no send is using the call past this */
    pthread_mutex_lock(&s->mu);
    if (!s->stopping && rc == STELE_ERR_NOT_FOUND && !s->head) {
        /* the orderer ended the stream cleanly with nothing awaited (it ends idle ones):
         * the next Submit opens another at once */
        log_debug("peer", "broadcast stream to %s ended by the orderer", s->addr);
    } else if (!s->stopping) {
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BC_BACKOFF_MIN_MS;
        if (s->backoff_ms > BC_BACKOFF_MAX_MS)
            s->backoff_ms = BC_BACKOFF_MAX_MS;
        s->retry_at_ms = clock_mono_ms() + s->backoff_ms;
        log_warn("peer", "broadcast stream to %s ended: %s; another in %u ms at the earliest",
                 s->addr, stele_strerror(rc), s->backoff_ms);
    }
    s->call = NULL;
    fail_all(s);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->send_mu);
    /* Not rpc_call_finish(): an orderer that hangs leaves a send in flight that the core may
     * not complete until that connection moves again, and the next sender joins this thread. */
    rpc_call_abandon(call);
    return NULL;
}

int peer_broadcaster_create(struct peer *p, struct rpc_channel *const *channels, size_t n,
                            struct peer_broadcaster **out)
{
    struct peer_broadcaster *b = calloc(1, sizeof *b);
    if (!b || !(b->s = calloc(n ? n : 1, sizeof *b->s))) {
        free(b);
        return STELE_ERR_NOMEM;
    }
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_init(&b->s[i].send_mu, NULL);
        pthread_mutex_init(&b->s[i].mu, NULL);
        b->s[i].ch = channels[i];
        b->s[i].addr = p->orderers[i];
        b->s[i].max_waiting = (size_t)p->cfg->gateway.orderer_queue + BC_MAX_UNANSWERED;
    }
    *out = b;
    return STELE_OK;
}

void peer_broadcaster_destroy(struct peer_broadcaster *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        struct bc_stream *s = &b->s[i];
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        if (s->call)
            rpc_call_cancel(s->call);
        pthread_mutex_unlock(&s->mu);
        if (s->reader_started)
            pthread_join(s->reader, NULL);
        pthread_mutex_lock(&s->mu);
        fail_all(s);
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->send_mu);
    }
    free(b->s);
    free(b);
}

/* Sends `env` on stream `s` for orderer `i` of group `g`; the answer (or the stream's failure)
 * comes to `g`. Returns false when nothing was queued for an answer. */
static bool send_one(struct bc_stream *s, const ProtobufCBinaryData *env, struct bc_group *g,
                     size_t i)
{
    struct bc_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return false;
    w->g = g;
    w->i = i;
    if (!s->ch) {
        free(w);
        return false;
    }
    pthread_mutex_lock(&s->send_mu);
    pthread_mutex_lock(&s->mu);
    if (!s->call && !s->stopping && clock_mono_ms() >= s->retry_at_ms) {
        /* the old reader has retired its stream (it needs send_mu no more): collect it */
        if (s->reader_started) {
            pthread_t old = s->reader;
            s->reader_started = false; /* one sender joins it */
            pthread_mutex_unlock(&s->mu);
            pthread_join(old, NULL);
            pthread_mutex_lock(&s->mu);
        }
        if (!s->call && !s->reader_started) {
            s->call = rpc_stream_open(s->ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                      &stele__broadcast_response__descriptor, -1);
            if (s->call && pthread_create(&s->reader, NULL, reader_main, s) == 0) {
                s->reader_started = true;
                s->overfull = false;
            } else if (s->call) {
                rpc_call_finish(s->call, true, NULL);
                s->call = NULL;
            }
        }
    }
    if (s->call && !s->stopping && s->waiting >= s->max_waiting) {
        /* it reads but does not answer: drop the stream (the reader fails its waiters) */
        if (!s->overfull)
            log_warn("peer",
                     "broadcast stream to %s: %zu envelopes await the orderer's answer; "
                     "cancelled",
                     s->addr, s->waiting);
        s->overfull = true;
        rpc_call_cancel(s->call);
    }
    if (!s->call || s->stopping || s->overfull) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&s->send_mu);
        free(w);
        return false;
    }
    pthread_mutex_lock(&g->mu);
    g->refs++; /* the waiter's, dropped when it is answered or failed */
    pthread_mutex_unlock(&g->mu);
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    s->waiting++;
    struct rpc_call *call = s->call;
    pthread_mutex_unlock(&s->mu);
    /* Without mu, so the answers keep flowing; never waiting for room: an orderer that does
     * not read what it was sent loses its stream, and the reader fails every waiter, this one
     * included. */
    int rc = rpc_call_try_send_bytes(call, env->data, env->len);
    if (rc != STELE_OK) {
        if (rc == STELE_ERR_LIMIT)
            log_warn("peer", "broadcast stream to %s: the orderer does not read; cancelled",
                     s->addr);
        rpc_call_cancel(call);
    }
    pthread_mutex_unlock(&s->send_mu);
    return true;
}

void peer_broadcast(struct peer_broadcaster *b, const ProtobufCBinaryData *env, int timeout_ms,
                    size_t enough, Stele__Status *status)
{
    struct bc_group *g = calloc(1, sizeof *g + b->n * sizeof g->status[0]);
    if (!g) {
        for (size_t i = 0; i < b->n; i++)
            status[i] = STELE__STATUS__STATUS_UNKNOWN;
        return;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->refs = 1;
    g->n = b->n;
    g->enough = enough;
    for (size_t i = 0; i < b->n; i++)
        g->status[i] = STELE__STATUS__STATUS_UNKNOWN;
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    for (size_t i = 0; i < b->n; i++) /* to every orderer at once */
        if (!send_one(&b->s[i], env, g, i)) {
            pthread_mutex_lock(&g->mu);
            g->unsent++;
            pthread_mutex_unlock(&g->mu);
        }
    pthread_mutex_lock(&g->mu);
    while (!group_done(g)) {
        uint64_t now = clock_mono_ms();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_deadline(CLOCK_REALTIME, deadline - now, &ts);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    memcpy(status, g->status, b->n * sizeof *status);
    pthread_mutex_unlock(&g->mu);
    group_unref(g); /* the answers still to come keep it until they arrive or fail */
}
