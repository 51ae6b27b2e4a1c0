/*
 * rpc_inline_fixture.c — the inline echo service and client helpers of rpc_inline_fixture.h.
 */
#include "rpc_inline_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/bench_service.h"
#include "stele/bench.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the inline service ---- */

atomic_int inline_fn_calls;

int inline_echo(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    struct inline_stream *st = arg;
    atomic_fetch_add(&inline_fn_calls, 1);
    uint64_t seq = st->seq++;
    Stele__EchoRequest *req =
        (Stele__EchoRequest *)pb_unpack(&stele__echo_request__descriptor, NULL, data, len, 0);
    if (!req) {
        snprintf(st->why, sizeof st->why, "message %" PRIu64 " is not an EchoRequest", seq);
        return STELE_ERR_MALFORMED;
    }
    int rc = STELE_OK;
    if (req->payload.len == 3 && memcmp(req->payload.data, "bad", 3) == 0) {
        snprintf(st->why, sizeof st->why, "message %" PRIu64 " is bad", seq);
        rc = STELE_ERR_MALFORMED;
    } else {
        Stele__EchoResponse out = STELE__ECHO_RESPONSE__INIT;
        uint8_t *big = NULL;
        out.seq = seq;
        out.payload = req->payload;
        if (req->response_size) {
            big = malloc(req->response_size);
            memset(big, 'r', req->response_size);
            out.payload.data = big;
            out.payload.len = req->response_size;
        }
        rc = pb_pack_buf(&out.base, reply);
        free(big);
    }
    pb_free(&req->base);
    return rc;
}

/* What the last inline handler saw; the tests wait for `served` to move. */
static struct {
    pthread_mutex_t mu;
    int served;       /* handlers that returned */
    int rc;           /* the last rpc_call_serve_inline() result */
    uint64_t handled; /* messages its inline function was called for */
    bool cancelled;   /* careful handlers: rpc_call_cancelled() within 300 ms of the end */
} served = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, false};

/* How a method's inline handler behaves. */
struct inline_cfg {
    int sleep_ms; /* before serving: what the client sends meanwhile is read ahead */
    bool careful; /* at the end of stream, checks for a cancellation (see rpc_call_recv()) */
};

/* A bidirectional handler that serves inline as `*arg` says (NULL: at once). */
static enum rpc_code inline_handler(struct rpc_call *call, const ProtobufCMessage *req,
                                    ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    const struct inline_cfg *cfg = arg;
    if (cfg && cfg->sleep_ms)
        clock_sleep_ms((uint64_t)cfg->sleep_ms);
    struct inline_stream st = {0};
    int rc = rpc_call_serve_inline(call, inline_echo, &st);
    bool cancelled = rpc_call_cancelled(call);
    for (int i = 0; cfg && cfg->careful && rc == STELE_ERR_NOT_FOUND && i < 30 && !cancelled; i++) {
        clock_sleep_ms(10);
        cancelled = rpc_call_cancelled(call);
    }
    pthread_mutex_lock(&served.mu);
    served.rc = rc;
    served.handled = st.seq;
    served.cancelled = cancelled;
    served.served++;
    pthread_mutex_unlock(&served.mu);
    if (rc == STELE_ERR_NOT_FOUND) /* the client's end of stream */
        return RPC_OK;
    if (st.why[0])
        return rpc_call_error(call, rpc_code_from_status(rc), "%s", st.why);
    return rpc_call_error(call, rpc_code_from_status(rc), "inline: %s", stele_strerror(rc));
}

/* Any other shape: reports what rpc_call_serve_inline() returned, as the payload. */
static enum rpc_code wrong_shape(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    (void)req;
    struct inline_stream st = {0};
    const char *name = stele_status_name(rpc_call_serve_inline(call, inline_echo, &st));
    Stele__EchoResponse *out = arena_alloc(rpc_call_arena(call), sizeof *out);
    stele__echo_response__init(out);
    out->payload.data = (uint8_t *)name;
    out->payload.len = strlen(name);
    if (*(const enum rpc_kind *)arg == RPC_SERVER_STREAM)
        return rpc_call_send(call, &out->base) == STELE_OK ? RPC_OK : RPC_INTERNAL;
    *resp = &out->base;
    return RPC_OK;
}

static const struct inline_cfg late = {.sleep_ms = INLINE_LATE_MS}, careful = {.careful = true};
static const enum rpc_kind k_unary = RPC_UNARY, k_server = RPC_SERVER_STREAM,
                           k_client = RPC_CLIENT_STREAM;

void inline_fx_start(struct inline_fx *f, size_t stream_queue, const struct rpc_channel_opts *co)
{
    const ProtobufCMessageDescriptor *d = &stele__echo_request__descriptor;
    const struct rpc_method m[] = {
        {.path = "/test.Inline/Chat",
         .kind = RPC_BIDI_STREAM,
         .request = d,
         .handler = inline_handler},
        /* Serves late: what the client sent meanwhile was read ahead. */
        {.path = "/test.Inline/Late",
         .kind = RPC_BIDI_STREAM,
         .request = d,
         .handler = inline_handler,
         .arg = (void *)&late,
         .max_request = 4096},
        {.path = "/test.Inline/Careful",
         .kind = RPC_BIDI_STREAM,
         .request = d,
         .handler = inline_handler,
         .arg = (void *)&careful},
        {.path = "/test.Inline/Small",
         .kind = RPC_BIDI_STREAM,
         .request = d,
         .handler = inline_handler,
         .max_request = 64},
        /* Ends once nothing came for INLINE_IDLE_MS. */
        {.path = "/test.Inline/Idle",
         .kind = RPC_BIDI_STREAM,
         .request = d,
         .handler = inline_handler,
         .idle_ms = INLINE_IDLE_MS},
        {.path = "/test.Inline/Unary",
         .kind = RPC_UNARY,
         .request = d,
         .handler = wrong_shape,
         .arg = (void *)&k_unary},
        {.path = "/test.Inline/Server",
         .kind = RPC_SERVER_STREAM,
         .request = d,
         .handler = wrong_shape,
         .arg = (void *)&k_server},
        {.path = "/test.Inline/Client",
         .kind = RPC_CLIENT_STREAM,
         .request = d,
         .handler = wrong_shape,
         .arg = (void *)&k_client},
    };
    struct rpc_server_opts o = {.listen = "127.0.0.1:0",
                                .max_message = 256 * 1024,
                                .stream_queue = stream_queue,
                                .workers = 16,
                                .shared_queue = f->shared_queue};
    char *err = NULL;
    f->srv = rpc_server_create(&o, &err);
    assert_non_null(f->srv);
    assert_int_equal(rpc_server_add(f->srv, m, sizeof m / sizeof m[0]), STELE_OK);
    assert_int_equal(rpc_bench_service_register(f->srv, 0), STELE_OK);
    if (rpc_server_start(f->srv, &err) != STELE_OK)
        fail_msg("start: %s", err ? err : "?");
    snprintf(f->target, sizeof f->target, "127.0.0.1:%d", rpc_server_port(f->srv));
    f->ch = rpc_channel_open(f->target, co, NULL);
    assert_non_null(f->ch);
}

static int setup(void **state, bool shared_queue)
{
    struct inline_fx *f = calloc(1, sizeof *f);
    f->shared_queue = shared_queue;
    inline_fx_start(f, 64, NULL);
    *state = f;
    return 0;
}

int inline_fx_setup(void **state)
{
    return setup(state, false);
}

int inline_fx_setup_shared(void **state)
{
    return setup(state, true);
}

int inline_fx_teardown(void **state)
{
    struct inline_fx *f = *state;
    rpc_channel_close(f->ch);
    rpc_server_destroy(f->srv);
    free(f);
    return 0;
}

/* ---- client helpers ---- */

size_t inline_payload(char *out, size_t cap, int i, size_t size)
{
    size_t n = (size_t)snprintf(out, cap, "m%d", i);
    for (; n < size && n + 1 < cap; n++)
        out[n] = 'x';
    out[n] = 0;
    return n;
}

int inline_send(struct rpc_call *c, const char *payload, uint32_t response_size)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    req.response_size = response_size;
    return rpc_call_send(c, &req.base);
}

void inline_expect_reply(struct rpc_call *c, uint64_t seq, const char *payload)
{
    ProtobufCMessage *m;
    int rc = rpc_call_recv(c, &m, WAIT_MS, false);
    if (rc != STELE_OK)
        fail_msg("reply %" PRIu64 ": %s", seq, stele_status_name(rc));
    Stele__EchoResponse *r = (Stele__EchoResponse *)m;
    if (r->seq != seq || r->payload.len != strlen(payload) ||
        memcmp(r->payload.data, payload, r->payload.len) != 0)
        fail_msg("expected reply %" PRIu64 " \"%.20s\", got %" PRIu64 " \"%.*s\"", seq, payload,
                 r->seq, (int)(r->payload.len < 20 ? r->payload.len : 20), r->payload.data);
    pb_free(m);
}

void inline_expect_clean_end(struct rpc_call *c)
{
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(c, &m, WAIT_MS, false), STELE_ERR_NOT_FOUND);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
}

void inline_expect_no_more(struct rpc_call *c)
{
    ProtobufCMessage *m = NULL;
    int rc = rpc_call_recv(c, &m, WAIT_MS, false);
    if (rc != STELE_ERR_NOT_FOUND && rc != STELE_ERR_CANCELLED)
        fail_msg("expected no more replies, got %s", stele_status_name(rc));
    assert_null(m);
}

int inline_served_count(void)
{
    pthread_mutex_lock(&served.mu);
    int n = served.served;
    pthread_mutex_unlock(&served.mu);
    return n;
}

int inline_wait_served(int n, uint64_t *handled, bool *cancelled)
{
    uint64_t t0 = clock_mono_ms();
    while (inline_served_count() < n && clock_mono_ms() - t0 < WAIT_MS)
        clock_sleep_ms(5);
    pthread_mutex_lock(&served.mu);
    int count = served.served, rc = served.rc;
    if (handled)
        *handled = served.handled;
    if (cancelled)
        *cancelled = served.cancelled;
    pthread_mutex_unlock(&served.mu);
    assert_int_equal(count, n);
    return rc;
}

struct rpc_call *inline_open(struct rpc_channel *ch, const char *method)
{
    struct rpc_call *c = rpc_stream_open(ch, method, RPC_BIDI_STREAM,
                                         &stele__echo_response__descriptor, 2 * WAIT_MS);
    assert_non_null(c);
    return c;
}

static void *sender_main(void *arg)
{
    struct inline_sender *s = arg;
    char *p = malloc(s->size + 32);
    for (int i = s->from; i < s->to && s->rc == STELE_OK; i++) {
        inline_payload(p, s->size + 32, i, s->size);
        s->rc = inline_send(s->c, p, 0);
        atomic_fetch_add(&s->sent, 1);
    }
    if (s->rc == STELE_OK)
        s->rc = rpc_call_close_send(s->c);
    free(p);
    return NULL;
}

void inline_sender_start(struct inline_sender *s, struct rpc_call *c, int from, int to, size_t size)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->from = from;
    s->to = to;
    s->size = size;
    assert_int_equal(pthread_create(&s->t, NULL, sender_main, s), 0);
}

void inline_expect_replies(struct rpc_call *c, int from, int to, size_t size)
{
    char *p = malloc(size + 32);
    for (int i = from; i < to; i++) {
        inline_payload(p, size + 32, i, size);
        inline_expect_reply(c, (uint64_t)i, p);
    }
    free(p);
}
