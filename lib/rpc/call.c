/*
 * call.c — the per-call machinery shared by server handlers and client streams: queued sends
 * chained by the completion thread, read-ahead receives, end-of-call tracking, references.
 */
#include "rpc/rpc_internal.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/buf.h"
#include "base/status.h"
#include "pb/pb.h"

#include <errno.h>
#include <grpc/support/alloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALL_OF(tagp, field) ((struct rpc_call *)((char *)(tagp)-offsetof(struct rpc_call, field)))

void rpc_server_call_released(struct rpc_server *s); /* server.c */

static void on_send(struct rpc_tag *tag, bool ok);
static void on_recv(struct rpc_tag *tag, bool ok);
static void on_close(struct rpc_tag *tag, bool ok);
static void on_client_half_close(struct rpc_tag *tag, bool ok);

int rpc_call_init(struct rpc_call *c, bool client, size_t queue_cap, size_t queue_bytes,
                  bool streaming)
{
    c->client = client;
    c->refs = 1;
    c->queue_cap = queue_cap ? queue_cap : 256;
    c->tag_send.fn = on_send;
    c->tag_recv.fn = on_recv;
    c->tag_close.fn = on_close;
    if (client)
        c->tag_end.fn = on_client_half_close;
    c->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&c->req_md);
    grpc_metadata_array_init(&c->trail_md);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&c->mu, NULL);
    if (!streaming) /* unary calls never queue: save two allocations per call */
        return STELE_OK;
    if (!queue_bytes)
        queue_bytes = RPC_STREAM_QUEUE_BYTES;
    if (bbq_init(&c->sendq, c->queue_cap, queue_bytes) ||
        bbq_init(&c->recvq, c->queue_cap, queue_bytes))
        return STELE_ERR_NOMEM;
    return STELE_OK;
}

void rpc_call_free(struct rpc_call *c)
{
    struct rpc_server *srv = c->srv;
    bbq_release(&c->sendq);
    bbq_release(&c->recvq);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->send_bb)
        grpc_byte_buffer_destroy(c->send_bb);
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    grpc_metadata_array_destroy(&c->req_md);
    grpc_metadata_array_destroy(&c->trail_md);
    grpc_call_details_destroy(&c->details); /* a zeroed details struct holds empty slices */
    grpc_slice_unref(c->status_details);
    if (c->error_string)
        gpr_free((void *)c->error_string);
    arena_destroy(c->arena);
    if (c->call)
        grpc_call_unref(c->call);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    if (srv)
        rpc_server_call_released(srv);
}

void rpc_call_unref(struct rpc_call *c)
{
    pthread_mutex_lock(&c->mu);
    int n = --c->refs;
    if (n == 1) /* rpc_call_finish() waits for the owner's to be the last reference */
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (n == 0)
        rpc_call_free(c);
}

/* Starts one batch holding a reference; on failure the call is marked broken. */
static bool start_batch_locked(struct rpc_call *c, grpc_op *ops, size_t n, struct rpc_tag *tag)
{
    c->refs++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e != GRPC_CALL_OK) {
        c->refs--;
        c->broken = true;
        log_warn("rpc", "%s: start_batch failed (%d)", c->method ? c->method : "?", (int)e);
        pthread_cond_broadcast(&c->cv);
        return false;
    }
    return true;
}

void rpc_call_start_send_locked(struct rpc_call *c, grpc_byte_buffer *bb)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    c->send_bb = bb;
    c->send_inflight = true;
    if (!start_batch_locked(c, &op, 1, &c->tag_send)) {
        c->send_inflight = false;
        c->send_bb = NULL;
        grpc_byte_buffer_destroy(bb);
    }
}

void rpc_call_start_recv_locked(struct rpc_call *c)
{
    if (c->recv_inflight || c->recv_eof || c->broken || bbq_full(&c->recvq))
        return;
    if (c->inline_fn && (c->inline_rc || (!c->inline_no_reply && bbq_full(&c->sendq))))
        return; /* served inline: over, or the client is not reading its replies */
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (c->client && !c->recv_md_requested) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n].data.recv_initial_metadata.recv_initial_metadata = &c->req_md;
        n++;
        c->recv_md_requested = true;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &c->recv_bb;
    n++;
    c->recv_inflight = true;
    if (!start_batch_locked(c, ops, n, &c->tag_recv)) {
        c->recv_inflight = false;
        c->recv_eof = true;
    }
}

void rpc_call_maybe_end_locked(struct rpc_call *c)
{
    if (!c->end_requested || c->end_started || c->send_inflight || c->sendq.len)
        return;
    c->end_started = true;
    if (!c->client) {
        if (!c->done)
            rpc_server_start_status_locked(c);
        return;
    }
    if (c->broken || c->done)
        return;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    start_batch_locked(c, &op, 1, &c->tag_end);
}

void rpc_call_drain_sendq_locked(struct rpc_call *c)
{
    grpc_byte_buffer *bb;
    while ((bb = bbq_pop(&c->sendq)) != NULL)
        grpc_byte_buffer_destroy(bb);
}

static void on_send(struct rpc_tag *tag, bool ok)
{
    struct rpc_call *c = CALL_OF(tag, tag_send);
    pthread_mutex_lock(&c->mu);
    grpc_byte_buffer_destroy(c->send_bb);
    c->send_bb = NULL;
    c->send_inflight = false;
    bool wake = true;
    if (!ok) {
        c->broken = true;
        rpc_call_drain_sendq_locked(c);
        rpc_call_maybe_end_locked(c); /* a status still owed is sent (skipped once done) */
    } else {
        c->sends_done++;
        grpc_byte_buffer *next = bbq_pop(&c->sendq);
        if (next)
            rpc_call_start_send_locked(c, next);
        else
            rpc_call_maybe_end_locked(c);
        if (c->inline_fn)
            rpc_call_start_recv_locked(c); /* reading waits while the send queue is full */
        /* Hysteresis: a sender blocked on a full queue is woken once half of it has drained,
         * not after every message (a context switch per message otherwise). */
        wake = c->send_waiting && bbq_half_empty(&c->sendq);
        if (wake)
            c->send_waiting = false;
    }
    if (wake)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    rpc_call_unref(c);
}

static size_t send_cap(struct rpc_call *c);

/* The octets of received buffer `bb` as one slice (the caller unrefs it), or
 * STELE_ERR_TOO_BIG past the call's per-message cap. */
static int received_slice(struct rpc_call *c, grpc_byte_buffer *bb, grpc_slice *out)
{
    grpc_byte_buffer_reader r;
    if (c->max_msg && grpc_byte_buffer_length(bb) > c->max_msg)
        return STELE_ERR_TOO_BIG;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return STELE_ERR_INTERNAL;
    *out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return STELE_OK;
}

/* Runs an inline handler on received buffer `bb` (taken). Returns its status; on STELE_OK
 * *reply is the reply to send, or NULL for none. Called without mu. */
static int inline_one(struct rpc_call *c, rpc_inline_fn fn, void *arg, grpc_byte_buffer *bb,
                      grpc_byte_buffer **reply)
{
    *reply = NULL;
    grpc_slice s;
    int rc = received_slice(c, bb, &s);
    if (rc == STELE_OK) {
        buf_clear(c->inline_reply);
        rc = fn(arg, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), c->inline_reply);
        grpc_slice_unref(s);
        if (rc == STELE_OK && c->inline_reply->len && c->inline_no_reply) {
            rc = STELE_ERR_STATE;
        } else if (rc == STELE_OK && c->inline_reply->len > send_cap(c)) {
            rc = STELE_ERR_TOO_BIG;
        } else if (rc == STELE_OK && c->inline_reply->len) {
            grpc_slice out = grpc_slice_from_copied_buffer((const char *)c->inline_reply->data,
                                                           c->inline_reply->len);
            *reply = grpc_raw_byte_buffer_create(&out, 1);
            grpc_slice_unref(out);
            if (!*reply)
                rc = STELE_ERR_NOMEM;
        }
    }
    grpc_byte_buffer_destroy(bb);
    return rc;
}

/* With mu held, from the completion thread: sends `bb` (taken) now or after those queued.
 * The queue has room: an inline stream starts no receive while it is full, and serving inline
 * begins only with room for the receive that may be in flight then. */
static void queue_send_locked(struct rpc_call *c, grpc_byte_buffer *bb)
{
    if (c->broken || c->done || c->end_requested) {
        grpc_byte_buffer_destroy(bb);
    } else if (!c->send_inflight) {
        rpc_call_start_send_locked(c, bb);
    } else if (!bbq_push(&c->sendq, bb)) {
        /* Only another sender on the call could have filled it: end the stream rather than
         * leave a gap in the replies, which clients match by order. */
        grpc_byte_buffer_destroy(bb);
        c->inline_rc = STELE_ERR_INTERNAL;
    }
}

static void on_recv(struct rpc_tag *tag, bool ok)
{
    struct rpc_call *c = CALL_OF(tag, tag_recv);
    bool wake = true;
    pthread_mutex_lock(&c->mu);
    c->recv_inflight = false;
    if (ok && c->recv_bb && c->idle_ms)
        c->last_recv_ms = clock_mono_ms();
    if (ok && c->recv_bb && c->discard_recv) {
        grpc_byte_buffer_destroy(c->recv_bb);
        c->recv_bb = NULL;
        rpc_call_start_recv_locked(c);
    } else if (ok && c->recv_bb && c->inline_fn) {
        grpc_byte_buffer *bb = c->recv_bb, *reply = NULL;
        rpc_inline_fn fn = c->inline_fn;
        void *arg = c->inline_arg;
        c->recv_bb = NULL;
        c->inline_busy = true;
        pthread_mutex_unlock(&c->mu);
        int rc = inline_one(c, fn, arg, bb, &reply);
        pthread_mutex_lock(&c->mu);
        c->inline_busy = false;
        if (rc)
            c->inline_rc = rc;
        else if (reply)
            queue_send_locked(c, reply);
        rpc_call_start_recv_locked(c);
        /* The serving thread sleeps until the stream is over and no fn runs. */
        wake = c->inline_rc || c->broken || c->recv_eof;
    } else if (ok && c->recv_bb) {
        bbq_push(&c->recvq, c->recv_bb); /* room was checked before starting */
        c->recv_bb = NULL;
        rpc_call_start_recv_locked(c);
        /* A reader waiting for a batch is woken once it is complete, not per message. */
        wake = c->recv_want && (c->recvq.len >= c->recv_want || bbq_full(&c->recvq));
    } else {
        if (c->recv_bb)
            grpc_byte_buffer_destroy(c->recv_bb);
        c->recv_bb = NULL;
        c->recv_eof = true;
        /* A failed receive is the call breaking (cancel, disconnect), not the other side's
         * clean end of stream (which is ok with no message): readers must not take a
         * truncated stream for a complete one. */
        if (!ok)
            c->broken = true;
    }
    if (wake)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    rpc_call_unref(c);
}

static void on_close(struct rpc_tag *tag, bool ok)
{
    struct rpc_call *c = CALL_OF(tag, tag_close);
    (void)ok; /* RECV_CLOSE_ON_SERVER and RECV_STATUS_ON_CLIENT always "succeed" */
    pthread_mutex_lock(&c->mu);
    c->done = true;
    if (c->client) {
        c->code = (enum rpc_code)c->status;
        rpc_slice_to_str(c->status_details, c->detail, sizeof c->detail);
        if (c->status != GRPC_STATUS_OK)
            c->broken = true;
    } else if (c->close_cancelled) {
        c->broken = true;
    }
    if (c->broken)
        rpc_call_drain_sendq_locked(c);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    rpc_call_unref(c);
}

static void on_client_half_close(struct rpc_tag *tag, bool ok)
{
    (void)ok;
    rpc_call_unref(CALL_OF(tag, tag_end));
}

/* ---- the public per-call API ---- */

struct arena *rpc_call_arena(struct rpc_call *c)
{
    return c->arena;
}

enum rpc_code rpc_call_error(struct rpc_call *c, enum rpc_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&c->mu);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    c->code = code;
    pthread_mutex_unlock(&c->mu);
    va_end(ap);
    return code;
}

/* Queues `bb` (taken over) for sending, blocking while the queue is full: for ever with
 * `wait_ms` < 0; with 0, STELE_ERR_LIMIT instead of blocking; else STELE_ERR_TIMEOUT once the
 * other side took nothing for that long. A sender is woken only once half the queue has gone
 * (on_send), so a reader that takes a message now and then but drains half the queue more
 * slowly than `wait_ms` is still reading: each period in which a send completed starts the
 * wait again. */
static int send_bb(struct rpc_call *c, grpc_byte_buffer *bb, int wait_ms)
{
    int rc = STELE_OK;
    struct timespec until;
    if (wait_ms > 0)
        clock_deadline(CLOCK_MONOTONIC, (uint64_t)wait_ms, &until);
    pthread_mutex_lock(&c->mu);
    uint64_t seen = c->sends_done;
    for (;;) {
        if (c->broken || c->done) {
            rc = STELE_ERR_CANCELLED;
            break;
        }
        if (c->end_requested) {
            rc = STELE_ERR_STATE;
            break;
        }
        if (!c->send_inflight) {
            rpc_call_start_send_locked(c, bb);
            bb = NULL;
            break;
        }
        if (bbq_push(&c->sendq, bb)) {
            bb = NULL;
            break;
        }
        if (wait_ms == 0) {
            rc = STELE_ERR_LIMIT;
            break;
        }
        c->send_waiting = true;
        if (wait_ms < 0)
            pthread_cond_wait(&c->cv, &c->mu);
        else if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) {
            if (c->sends_done == seen) {
                rc = STELE_ERR_TIMEOUT;
                break;
            }
            seen = c->sends_done; /* the reader took some meanwhile: it reads, slowly */
            clock_deadline(CLOCK_MONOTONIC, (uint64_t)wait_ms, &until);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    return rc;
}

/* True when this side of `c` may not send. */
static bool send_refused(const struct rpc_call *c)
{
    return c->kind == RPC_UNARY || (!c->client && c->kind == RPC_CLIENT_STREAM) ||
           (c->client && c->kind == RPC_SERVER_STREAM && c->end_requested);
}

int rpc_call_send_wait(struct rpc_call *c, const ProtobufCMessage *msg, int timeout_ms)
{
    if (send_refused(c))
        return STELE_ERR_STATE;
    if (protobuf_c_message_get_packed_size(msg) > send_cap(c))
        return STELE_ERR_TOO_BIG;
    grpc_byte_buffer *bb = rpc_pack(msg);
    if (!bb)
        return STELE_ERR_NOMEM;
    return send_bb(c, bb, timeout_ms < 0 ? -1 : timeout_ms > 0 ? timeout_ms : 1);
}

int rpc_call_send(struct rpc_call *c, const ProtobufCMessage *msg)
{
    return rpc_call_send_wait(c, msg, -1);
}

static int send_bytes(struct rpc_call *c, const uint8_t *data, size_t len, int wait_ms)
{
    if (send_refused(c))
        return STELE_ERR_STATE;
    if (len > send_cap(c))
        return STELE_ERR_TOO_BIG;
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    if (!bb)
        return STELE_ERR_NOMEM;
    return send_bb(c, bb, wait_ms);
}

int rpc_call_send_bytes(struct rpc_call *c, const uint8_t *data, size_t len)
{
    return send_bytes(c, data, len, -1);
}

int rpc_call_try_send_bytes(struct rpc_call *c, const uint8_t *data, size_t len)
{
    return send_bytes(c, data, len, 0);
}

int rpc_call_send_bytes_wait(struct rpc_call *c, const uint8_t *data, size_t len, int timeout_ms)
{
    return send_bytes(c, data, len, timeout_ms < 0 ? -1 : timeout_ms > 0 ? timeout_ms : 1);
}

/* Waits until `want` messages are queued, the stream ends or breaks, or `until` passes
 * (timeout_ms < 0: never). Returns the number queued. Caller holds mu. */
static size_t wait_queued_locked(struct rpc_call *c, size_t want, int timeout_ms,
                                 const struct timespec *until)
{
    c->recv_want = want;
    while (c->recvq.len < want && !bbq_full(&c->recvq) && !c->recv_eof && !c->broken) {
        if (timeout_ms < 0)
            pthread_cond_wait(&c->cv, &c->mu);
        else if (pthread_cond_timedwait(&c->cv, &c->mu, until) == ETIMEDOUT)
            break;
    }
    c->recv_want = 0;
    return c->recvq.len;
}

size_t rpc_call_recv_wait(struct rpc_call *c, size_t count, int timeout_ms)
{
    if (c->kind == RPC_UNARY || (!c->client && c->kind == RPC_SERVER_STREAM))
        return 0;
    struct timespec until;
    if (timeout_ms >= 0)
        clock_deadline(CLOCK_MONOTONIC, (uint64_t)timeout_ms, &until);
    pthread_mutex_lock(&c->mu);
    if (count > c->recvq.cap)
        count = c->recvq.cap;
    size_t n = wait_queued_locked(c, count ? count : 1, timeout_ms, &until);
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Waits for the next received message and takes it from the queue. Returns STELE_OK with *out
 * set (the caller destroys it), or STELE_ERR_TIMEOUT / STELE_ERR_CANCELLED / STELE_ERR_NOT_FOUND
 * as rpc_call_recv(). */
/* Milliseconds until a stream with idle_ms counts as idle (0 once it does). Caller holds mu. */
static int idle_left_locked(const struct rpc_call *c)
{
    uint64_t now = clock_mono_ms(), end = c->last_recv_ms + (uint64_t)c->idle_ms;
    return now >= end ? 0 : (int)(end - now);
}

static int recv_next(struct rpc_call *c, int timeout_ms, grpc_byte_buffer **out)
{
    *out = NULL;
    if (c->kind == RPC_UNARY || (!c->client && c->kind == RPC_SERVER_STREAM))
        return STELE_ERR_STATE;
    struct timespec until;
    pthread_mutex_lock(&c->mu);
    if (timeout_ms < 0 && c->idle_ms) /* the method's idle limit, from the last arrival */
        timeout_ms = idle_left_locked(c);
    if (timeout_ms >= 0)
        clock_deadline(CLOCK_MONOTONIC, (uint64_t)timeout_ms, &until);
    if (wait_queued_locked(c, 1, timeout_ms, &until) == 0 && !c->recv_eof && !c->broken) {
        pthread_mutex_unlock(&c->mu);
        return STELE_ERR_TIMEOUT;
    }
    grpc_byte_buffer *bb = bbq_pop(&c->recvq);
    if (!bb) {
        int rc = c->broken ? STELE_ERR_CANCELLED : STELE_ERR_NOT_FOUND;
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    rpc_call_start_recv_locked(c);
    pthread_mutex_unlock(&c->mu);
    *out = bb;
    return STELE_OK;
}

int rpc_call_recv(struct rpc_call *c, ProtobufCMessage **msg, int timeout_ms, bool in_arena)
{
    grpc_byte_buffer *bb;
    *msg = NULL;
    int rc = recv_next(c, timeout_ms, &bb);
    if (rc)
        return rc;
    if (c->max_msg && grpc_byte_buffer_length(bb) > c->max_msg) {
        rc = STELE_ERR_TOO_BIG;
    } else {
        *msg = rpc_bb_decode(bb, c->recv_desc, in_arena ? c->arena : NULL, 0);
        if (!*msg)
            rc = STELE_ERR_MALFORMED;
    }
    grpc_byte_buffer_destroy(bb);
    return rc;
}

int rpc_call_recv_bytes(struct rpc_call *c, struct buf *out, int timeout_ms)
{
    grpc_byte_buffer *bb;
    int rc = recv_next(c, timeout_ms, &bb);
    if (rc)
        return rc;
    grpc_slice s;
    if ((rc = received_slice(c, bb, &s)) == STELE_OK) {
        rc = buf_append(out, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_destroy(bb);
    return rc;
}

/* rpc_call_serve_inline() (replies) and rpc_call_recv_inline() (none). */
static int run_inline(struct rpc_call *c, rpc_inline_fn fn, void *arg, bool replies)
{
    struct buf reply;
    buf_init(&reply);
    int rc = STELE_OK;
    grpc_byte_buffer *bb;
    pthread_mutex_lock(&c->mu);
    c->inline_reply = &reply;
    c->inline_no_reply = !replies;
    /* What was read ahead goes first, here, in order; the queue is empty when fn is set. A
     * receive may be in flight then, and it is answered inline without a check of the send
     * queue: leave it room (every later receive waits for room before it starts). */
    for (;;) {
        while (rc == STELE_OK && (bb = bbq_pop(&c->recvq)) != NULL) {
            rpc_call_start_recv_locked(c);
            pthread_mutex_unlock(&c->mu);
            grpc_byte_buffer *out = NULL;
            rc = inline_one(c, fn, arg, bb, &out);
            if (rc == STELE_OK && out)
                rc = send_bb(c, out, -1);
            pthread_mutex_lock(&c->mu);
        }
        if (rc != STELE_OK || !replies || !bbq_full(&c->sendq) || c->broken || c->done)
            break;
        c->send_waiting = true; /* woken when half the queue has gone */
        pthread_cond_wait(&c->cv, &c->mu);
    }
    if (rc == STELE_OK) {
        c->inline_fn = fn;
        c->inline_arg = arg;
        rpc_call_start_recv_locked(c);
        while (!c->inline_rc && !c->recv_eof && !c->broken) {
            if (!c->idle_ms || c->client) {
                pthread_cond_wait(&c->cv, &c->mu);
                continue;
            }
            int left = idle_left_locked(c);
            struct timespec until;
            clock_deadline(CLOCK_MONOTONIC, (uint64_t)left, &until);
            if (left == 0 || (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT &&
                              idle_left_locked(c) == 0))
                c->inline_rc = STELE_ERR_TIMEOUT; /* nothing came for idle_ms */
        }
        while (c->inline_busy)
            pthread_cond_wait(&c->cv, &c->mu);
        rc = c->inline_rc ? c->inline_rc : c->broken ? STELE_ERR_CANCELLED : STELE_ERR_NOT_FOUND;
        c->inline_fn = NULL;
        c->inline_arg = NULL;
    }
    c->inline_reply = NULL;
    c->inline_no_reply = false;
    pthread_mutex_unlock(&c->mu);
    buf_release(&reply);
    return rc;
}

int rpc_call_serve_inline(struct rpc_call *c, rpc_inline_fn fn, void *arg)
{
    if (c->client || c->kind != RPC_BIDI_STREAM)
        return STELE_ERR_STATE;
    return run_inline(c, fn, arg, true);
}

int rpc_call_recv_inline(struct rpc_call *c, rpc_inline_fn fn, void *arg)
{
    if (!c->client || (c->kind != RPC_BIDI_STREAM && c->kind != RPC_SERVER_STREAM))
        return STELE_ERR_STATE;
    return run_inline(c, fn, arg, false);
}

bool rpc_call_cancelled(struct rpc_call *c)
{
    pthread_mutex_lock(&c->mu);
    bool b = c->broken;
    pthread_mutex_unlock(&c->mu);
    return b;
}

int64_t rpc_call_remaining_ms(struct rpc_call *c)
{
    if (gpr_time_cmp(c->deadline, gpr_inf_future(c->deadline.clock_type)) == 0)
        return INT64_MAX;
    gpr_timespec left = gpr_time_sub(gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC),
                                     gpr_now(GPR_CLOCK_MONOTONIC));
    return gpr_time_to_millis(left);
}

const char *rpc_call_method(struct rpc_call *c)
{
    return c->method ? c->method : "";
}

int rpc_call_peer_cn(struct rpc_call *c, char *out, size_t out_len)
{
    int rc = STELE_ERR_NOT_FOUND;
    grpc_auth_context *ac = grpc_call_auth_context(c->call);
    if (!ac)
        return rc;
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ac, GRPC_X509_CN_PROPERTY_NAME);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    if (p && out_len > 0) {
        size_t n = p->value_length < out_len - 1 ? p->value_length : out_len - 1;
        memcpy(out, p->value, n);
        out[n] = 0;
        rc = STELE_OK;
    }
    grpc_auth_context_release(ac);
    return rc;
}

size_t rpc_server_max_message(struct rpc_server *s);    /* server.c */
size_t rpc_channel_max_message(struct rpc_channel *ch); /* client.c */

static size_t send_cap(struct rpc_call *c)
{
    return c->client ? rpc_channel_max_message(c->ch) : rpc_server_max_message(c->srv);
}
