/*
 * server_stream.c — a streaming call's handler on a thread of its own: counted against its
 * method's streams or the server's max_streams, refused when they are all taken, and its final
 * status sent when the handler returns (server.c dispatches to it).
 */
#include "rpc/server_int.h"

#include "base/clock.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <string.h>

#define STREAM_STACK (256 * 1024) /* a stream handler's thread stack */

/* The streams counted for method `me`: its own, or the server's pool. Caller holds s->mu. */
static int *stream_counter_locked(struct rpc_server *s, struct rpc_method_entry *me)
{
    return me->m.max_streams > 0 ? &me->streams : &s->pooled_streams;
}

/* Adds `d` to the streams counted for `me`. Caller holds s->mu. */
static void stream_count_locked(struct rpc_server *s, struct rpc_method_entry *me, int d)
{
    *stream_counter_locked(s, me) += d;
}

static void *stream_main(void *arg)
{
    struct rpc_call *c = arg;
    struct rpc_server *s = c->srv;
    const ProtobufCMessage *req = NULL;
    ProtobufCMessage *resp = NULL;
    enum rpc_code code;
    if (c->kind == RPC_SERVER_STREAM && !rpc_server_check_payload(c, &req))
        code = c->code;
    else
        code = c->me->m.handler(c, req, &resp, c->me->m.arg);
    if (code == RPC_OK && c->kind == RPC_CLIENT_STREAM && !resp)
        code = rpc_call_error(c, RPC_INTERNAL, "handler returned no response");

    grpc_byte_buffer *bb = NULL;
    if (code == RPC_OK && resp && c->kind == RPC_CLIENT_STREAM) {
        if (protobuf_c_message_get_packed_size(resp) > s->opts.max_message)
            code = rpc_call_error(c, RPC_RESOURCE_EXHAUSTED, "response exceeds the %zu-byte limit",
                                  s->opts.max_message);
        else if (!(bb = rpc_pack(resp)))
            code = rpc_call_error(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    }
    pthread_mutex_lock(&c->mu);
    rpc_server_set_status(c, code);
    if (bb && !c->broken && !c->done)
        rpc_call_start_send_locked(c, bb);
    else if (bb)
        grpc_byte_buffer_destroy(bb);
    c->end_requested = true;
    rpc_call_maybe_end_locked(c);
    pthread_mutex_unlock(&c->mu);

    /* This detached thread counts as finished below, and rpc_server_stop() returns once the
     * count is zero, so the process may exit before the thread's own exit handlers free its
     * OpenSSL state (e.g. the error queue of a failed signature check): free it now, or
     * LeakSanitizer reports it. */
    OPENSSL_thread_stop();
    pthread_mutex_lock(&s->mu);
    stream_count_locked(s, c->me, -1);
    if (--s->stream_threads == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
    rpc_call_unref(c);
    return NULL;
}

void rpc_server_start_stream(struct rpc_call *c)
{
    struct rpc_server *s = c->srv;
    pthread_mutex_lock(&s->mu);
    int cap = c->me->m.max_streams > 0 ? c->me->m.max_streams : s->opts.max_streams;
    bool full = *stream_counter_locked(s, c->me) >= cap;
    if (!full) {
        s->stream_threads++;
        stream_count_locked(s, c->me, +1);
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
        rpc_server_reject(c, RPC_UNAVAILABLE,
                          "too many open streams of %s on this server: try later", c->method);
        return;
    }
    c->idle_ms = c->me->m.idle_ms;
    c->last_recv_ms = clock_mono_ms();
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[1].data.recv_close_on_server.cancelled = &c->close_cancelled;
    pthread_mutex_lock(&c->mu);
    c->refs++;
    if (grpc_call_start_batch(c->call, ops, 2, &c->tag_close, NULL) != GRPC_CALL_OK) {
        c->refs--;
        c->broken = c->done = true;
    }
    if (c->kind == RPC_CLIENT_STREAM || c->kind == RPC_BIDI_STREAM)
        rpc_call_start_recv_locked(c);
    pthread_mutex_unlock(&c->mu);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, STREAM_STACK);
    pthread_t t;
    int e = pthread_create(&t, &attr, stream_main, c);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        pthread_mutex_lock(&s->mu);
        s->stream_threads--;
        stream_count_locked(s, c->me, -1);
        pthread_mutex_unlock(&s->mu);
        rpc_call_error(c, RPC_UNAVAILABLE, "cannot start a stream handler"); /* takes c->mu */
        pthread_mutex_lock(&c->mu);
        c->end_requested = true;
        rpc_call_maybe_end_locked(c);
        pthread_mutex_unlock(&c->mu);
        rpc_call_unref(c);
    }
}
