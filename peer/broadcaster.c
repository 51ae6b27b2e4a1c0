/*
 * broadcaster.c — the gateway's Broadcast streams (gateway.c): one long-lived
 * AtomicBroadcast/Broadcast stream per orderer, shared by every Submit, instead of a new
 * stream (and a new handler thread on the orderer) per envelope. An orderer answers the
 * envelopes of a stream in the order they came, so a FIFO of waiters matches the answers.
 * The answers are taken on the client completion-queue thread as they arrive
 * (rpc_call_recv_inline): a thread per stream only waits for the stream's end. A stream that
 * fails fails its waiters (they report no answer) and the next send opens a new one.
 *
 * Locks: `send_mu` keeps the order of waiters the order of sends (held across both, and
 * across opening a stream); `mu` guards the rest and is the only one the completion thread
 * takes. Order: send_mu, then mu.
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

/* One envelope waiting for its answer. Freed by whoever sees it last: the submitter once it
 * is done, or the reader when the submitter gave up waiting. Each has its own condition
 * variable (used with the stream's mutex), so that an answer wakes only its submitter, not
 * every Submit waiting on the stream. */
struct bc_waiter {
    struct bc_waiter *next;
    pthread_cond_t cv;    /* signalled when done */
    Stele__Status status; /* the orderer's answer; STATUS_UNKNOWN when none came */
    bool done;            /* answered or failed */
    bool abandoned;       /* the submitter stopped waiting */
};

struct bc_stream {
    pthread_mutex_t send_mu; /* senders, and the reader while it retires the stream */
    pthread_mutex_t mu;
    struct rpc_channel *ch; /* borrowed */
    const char *addr;       /* for the log */
    struct rpc_call *call;  /* NULL when none is open */
    struct bc_waiter *head; /* waiters in send order */
    struct bc_waiter *tail;
    pthread_t reader;
    bool reader_started; /* `reader` must be joined */
    bool stopping;
};

struct peer_broadcaster {
    struct bc_stream *s;
    size_t n;
};

static void waiter_free(struct bc_waiter *w)
{
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* Under the stream's mutex: gives `w` its answer (frees it when abandoned). */
static void waiter_done(struct bc_waiter *w, Stele__Status status)
{
    if (w->abandoned) {
        waiter_free(w);
        return;
    }
    w->status = status;
    w->done = true;
    pthread_cond_signal(&w->cv);
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
        waiter_done(w, r->status);
    }
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
    if (!s->stopping)
        log_warn("peer", "broadcast stream to %s ended: %s", s->addr, stele_strerror(rc));
    s->call = NULL;
    fail_all(s);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->send_mu);
    rpc_call_finish(call, true, NULL);
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

/* Sends `env` on stream `s`; returns its waiter, or NULL when it could not be sent. */
static struct bc_waiter *send_one(struct bc_stream *s, const ProtobufCBinaryData *env)
{
    struct bc_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_cond_init(&w->cv, NULL);
    if (!s->ch)
        goto fail;
    pthread_mutex_lock(&s->send_mu);
    pthread_mutex_lock(&s->mu);
    if (!s->call && !s->stopping) {
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
            } else if (s->call) {
                rpc_call_finish(s->call, true, NULL);
                s->call = NULL;
            }
        }
    }
    if (!s->call || s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&s->send_mu);
        goto fail;
    }
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    struct rpc_call *call = s->call;
    pthread_mutex_unlock(&s->mu);
    /* without mu: the answers keep flowing while this send waits for room */
    if (rpc_call_send_bytes(call, env->data, env->len) != STELE_OK) {
        /* the reader sees the stream end and fails every waiter, this one included */
        rpc_call_cancel(call);
    }
    pthread_mutex_unlock(&s->send_mu);
    return w;
fail:
    waiter_free(w);
    return NULL;
}

/* Waits for `w` until `deadline` (monotonic ms); returns its status and frees it, or marks
 * it abandoned. */
static Stele__Status wait_one(struct bc_stream *s, struct bc_waiter *w, uint64_t deadline)
{
    pthread_mutex_lock(&s->mu);
    while (!w->done) {
        uint64_t now = clock_mono_ms();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_deadline(CLOCK_REALTIME, deadline - now, &ts);
        pthread_cond_timedwait(&w->cv, &s->mu, &ts);
    }
    Stele__Status st = w->done ? w->status : STELE__STATUS__STATUS_UNKNOWN;
    if (w->done)
        waiter_free(w);
    else
        w->abandoned = true; /* the reader frees it when its answer comes, or fails it */
    pthread_mutex_unlock(&s->mu);
    return st;
}

void peer_broadcast(struct peer_broadcaster *b, const ProtobufCBinaryData *env, int timeout_ms,
                    Stele__Status *status)
{
    struct bc_waiter **w = calloc(b->n ? b->n : 1, sizeof *w);
    for (size_t i = 0; i < b->n; i++) /* to every orderer at once */
        w[i] = w ? send_one(&b->s[i], env) : NULL;
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    for (size_t i = 0; i < b->n; i++)
        status[i] = w && w[i] ? wait_one(&b->s[i], w[i], deadline) : STELE__STATUS__STATUS_UNKNOWN;
    free(w);
}
