/*
 * test_rpc_inline.c — lib/rpc, continued from test_rpc.c: rpc_call_serve_inline() (the rest of
 * a bidirectional stream served on the completion-queue thread) and the client's completion
 * queue shared by every channel of the process.
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/bench_service.h"
#include "rpc/rpc.h"
#include "stele/bench.pb-c.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 10000 /* every receive has a timeout: a hang fails the test instead */

/* ---- the inline service ---- */

/* One served stream: what its inline function keeps between messages. */
struct inline_stream {
    uint64_t seq;  /* messages handled so far */
    char why[128]; /* why it refused a message */
};

static atomic_int fn_calls; /* calls of inline_echo(), all streams */

/* Answers each EchoRequest with an EchoResponse numbered from 0 that carries the same payload
 * (or `response_size` bytes of 'r'); refuses a request whose payload is "bad". */
static int inline_echo(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    struct inline_stream *st = arg;
    atomic_fetch_add(&fn_calls, 1);
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

static const struct inline_cfg late = {.sleep_ms = 100}, careful = {.careful = true};
static const enum rpc_kind k_unary = RPC_UNARY, k_server = RPC_SERVER_STREAM,
                           k_client = RPC_CLIENT_STREAM;

struct fixture {
    struct rpc_server *srv;
    struct rpc_channel *ch;
    char target[64];
};

static void start(struct fixture *f, size_t stream_queue, const struct rpc_channel_opts *co)
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
                                .workers = 16};
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

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    start(f, 64, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rpc_channel_close(f->ch);
    rpc_server_destroy(f->srv);
    free(f);
    return 0;
}

/* ---- client helpers ---- */

/* Message i's payload: "m<i>", padded with 'x' to `size` bytes when that is longer. */
static size_t payload_of(char *out, size_t cap, int i, size_t size)
{
    size_t n = (size_t)snprintf(out, cap, "m%d", i);
    for (; n < size && n + 1 < cap; n++)
        out[n] = 'x';
    out[n] = 0;
    return n;
}

static int send_echo(struct rpc_call *c, const char *payload, uint32_t response_size)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    req.response_size = response_size;
    return rpc_call_send(c, &req.base);
}

/* Receives the next reply and checks it is number `seq` with `payload`. */
static void expect_reply(struct rpc_call *c, uint64_t seq, const char *payload)
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

/* Expects the end of a stream whose handler returned RPC_OK. */
static void expect_clean_end(struct rpc_call *c)
{
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(c, &m, WAIT_MS, false), STELE_ERR_NOT_FOUND);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
}

/* Expects no further reply: the end of the stream, or its error status (whichever the client
 * learns first). */
static void expect_no_more(struct rpc_call *c)
{
    ProtobufCMessage *m = NULL;
    int rc = rpc_call_recv(c, &m, WAIT_MS, false);
    if (rc != STELE_ERR_NOT_FOUND && rc != STELE_ERR_CANCELLED)
        fail_msg("expected no more replies, got %s", stele_status_name(rc));
    assert_null(m);
}

static int served_count(void)
{
    pthread_mutex_lock(&served.mu);
    int n = served.served;
    pthread_mutex_unlock(&served.mu);
    return n;
}

/* Waits until the inline handler has returned `n` times in all; returns the last result. */
static int wait_served(int n, uint64_t *handled, bool *cancelled)
{
    uint64_t t0 = clock_mono_ms();
    while (served_count() < n && clock_mono_ms() - t0 < WAIT_MS)
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

static struct rpc_call *open_inline(struct rpc_channel *ch, const char *method)
{
    struct rpc_call *c = rpc_stream_open(ch, method, RPC_BIDI_STREAM,
                                         &stele__echo_response__descriptor, 2 * WAIT_MS);
    assert_non_null(c);
    return c;
}

/* A thread sending messages [from, to) of `size` bytes, then half-closing. */
struct sender {
    pthread_t t;
    struct rpc_call *c;
    int from, to;
    size_t size;
    atomic_int sent; /* messages sent so far */
    int rc;          /* first failure */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char *p = malloc(s->size + 32);
    for (int i = s->from; i < s->to && s->rc == STELE_OK; i++) {
        payload_of(p, s->size + 32, i, s->size);
        s->rc = send_echo(s->c, p, 0);
        atomic_fetch_add(&s->sent, 1);
    }
    if (s->rc == STELE_OK)
        s->rc = rpc_call_close_send(s->c);
    free(p);
    return NULL;
}

static void sender_start(struct sender *s, struct rpc_call *c, int from, int to, size_t size)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->from = from;
    s->to = to;
    s->size = size;
    assert_int_equal(pthread_create(&s->t, NULL, sender_main, s), 0);
}

/* Receives replies [from, to) of `size`-byte payloads, in order. */
static void expect_replies(struct rpc_call *c, int from, int to, size_t size)
{
    char *p = malloc(size + 32);
    for (int i = from; i < to; i++) {
        payload_of(p, size + 32, i, size);
        expect_reply(c, (uint64_t)i, p);
    }
    free(p);
}

/* ---- rpc_call_serve_inline() ---- */

/* One reply per message, in order, first in lockstep, then with 1,900 messages pipelined; the
 * client's half-close ends serving with STELE_ERR_NOT_FOUND and the call with OK. */
static void inline_replies_in_order(void **state)
{
    struct fixture *f = *state;
    int base = served_count();
    struct rpc_call *c = open_inline(f->ch, "/test.Inline/Chat");
    char p[32];
    for (int i = 0; i < 100; i++) {
        payload_of(p, sizeof p, i, 0);
        assert_int_equal(send_echo(c, p, 0), STELE_OK);
        expect_reply(c, (uint64_t)i, p);
    }
    struct sender s;
    sender_start(&s, c, 100, 2000, 0);
    expect_replies(c, 100, 2000, 0);
    pthread_join(s.t, NULL);
    assert_int_equal(s.rc, STELE_OK);
    expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 2000);
}

/* What arrived before the handler called serve is answered first, in order, without waiting for
 * more; also when the client had already half-closed. */
static void inline_read_ahead_answered_first(void **state)
{
    struct fixture *f = *state;
    int base = served_count();
    struct rpc_call *c = open_inline(f->ch, "/test.Inline/Late"); /* serves after 100 ms */
    char p[32];
    for (int i = 0; i < 50; i++) {
        payload_of(p, sizeof p, i, 0);
        assert_int_equal(send_echo(c, p, 0), STELE_OK);
    }
    clock_sleep_ms(late.sleep_ms + 200);
    assert_int_equal(rpc_call_recv_wait(c, 50, WAIT_MS), 50); /* all answered already */
    for (int i = 50; i < 100; i++) {
        payload_of(p, sizeof p, i, 0);
        assert_int_equal(send_echo(c, p, 0), STELE_OK);
    }
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    expect_replies(c, 0, 100, 0);
    expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 100);

    /* Everything sent and half-closed before the handler serves. */
    c = open_inline(f->ch, "/test.Inline/Late");
    for (int i = 0; i < 30; i++) {
        payload_of(p, sizeof p, i, 0);
        assert_int_equal(send_echo(c, p, 0), STELE_OK);
    }
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    expect_replies(c, 0, 30, 0);
    expect_clean_end(c);
    assert_int_equal(wait_served(base + 2, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 30);
}

/* A client that, once the handler serves inline, sends 5,000 messages of 4 KiB without reading
 * a reply: when the transport's windows are full the server stops reading (its send queue, 4
 * messages here, is full) and the client's sender is held back; when the client reads at last,
 * every reply arrives, in order. */
static void inline_back_pressure(void **state)
{
    (void)state;
    enum { N = 5000, SIZE = 4096 };
    struct fixture f = {0};
    struct rpc_channel_opts co = {.stream_queue = 4};
    start(&f, 4, &co);
    int base = served_count();
    atomic_store(&fn_calls, 0);
    struct rpc_call *c = open_inline(f.ch, "/test.Inline/Chat");
    char p[SIZE + 32];
    payload_of(p, sizeof p, 0, SIZE);
    assert_int_equal(send_echo(c, p, 0), STELE_OK);
    expect_reply(c, 0, p);
    clock_sleep_ms(50); /* the handler is serving inline: nothing left read ahead */
    struct sender s;
    sender_start(&s, c, 1, N, SIZE);
    int calls = -1; /* wait until the server has stopped handling messages */
    for (int i = 0; i < 50 && calls != atomic_load(&fn_calls); i++) {
        calls = atomic_load(&fn_calls);
        clock_sleep_ms(200);
    }
    int sent = atomic_load(&s.sent);
    print_message("before the first read: %d of %d sent, %d handled\n", sent, N - 1, calls);
    assert_int_equal(atomic_load(&fn_calls), calls); /* the server reads no more */
    assert_true(calls < N);
    assert_true(sent < N - 1); /* the sender is held back */
    expect_replies(c, 1, N, SIZE);
    pthread_join(s.t, NULL);
    assert_int_equal(s.rc, STELE_OK);
    expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, N);
    rpc_channel_close(f.ch);
    rpc_server_destroy(f.srv);
}

/* fn refusing a message ends the stream: no reply for it or any later message, fn is not called
 * again, and the client sees the handler's code and detail. Both on the completion-queue thread
 * and for messages read ahead (handled on the handler's thread). */
static void inline_error_ends_stream(void **state)
{
    struct fixture *f = *state;
    const char *methods[] = {"/test.Inline/Chat", "/test.Inline/Late"};
    for (int k = 0; k < 2; k++) {
        int base = served_count();
        struct rpc_call *c = open_inline(f->ch, methods[k]);
        char p[32];
        for (int i = 0; i < 10; i++) {
            if (i == 2)
                snprintf(p, sizeof p, "bad");
            else
                payload_of(p, sizeof p, i, 0);
            int rc = send_echo(c, p, 0); /* late ones may find the call over */
            if (i <= 2)
                assert_int_equal(rc, STELE_OK);
        }
        expect_replies(c, 0, 2, 0);
        expect_no_more(c);
        struct rpc_result res;
        assert_int_equal(rpc_call_finish(c, false, &res), STELE_ERR_INVALID);
        assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
        assert_string_equal(res.detail, "message 2 is bad");
        uint64_t handled;
        assert_int_equal(wait_served(base + 1, &handled, NULL), STELE_ERR_MALFORMED);
        assert_int_equal(handled, 3);
    }
}

/* A message over the method's max_request, or a reply over the server's cap, ends the stream
 * with STELE_ERR_TOO_BIG, which the client sees as RESOURCE_EXHAUSTED. */
static void inline_too_big(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rpc_code_from_status(STELE_ERR_TOO_BIG), RPC_RESOURCE_EXHAUSTED);
    static char big[5001];
    memset(big, 'b', sizeof big - 1);
    struct {
        const char *method;
        size_t size;            /* of the second message's payload */
        uint32_t response_size; /* asked of the second message's reply */
    } cases[] = {
        {"/test.Inline/Small", 100, 0},       /* max_request 64, on the completion thread */
        {"/test.Inline/Late", 5000, 0},       /* max_request 4096, read ahead */
        {"/test.Inline/Chat", 2, 300 * 1024}, /* reply over the server's 256 KiB */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int base = served_count();
        struct rpc_call *c = open_inline(f->ch, cases[k].method);
        assert_int_equal(send_echo(c, "m0", 0), STELE_OK);
        big[cases[k].size] = 0;
        assert_int_equal(send_echo(c, big, cases[k].response_size), STELE_OK);
        big[cases[k].size] = 'b';
        send_echo(c, "m2", 0); /* may find the call over */
        expect_reply(c, 0, "m0");
        expect_no_more(c);
        struct rpc_result res;
        rpc_call_finish(c, false, &res);
        assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
        uint64_t handled;
        assert_int_equal(wait_served(base + 1, &handled, NULL), STELE_ERR_TOO_BIG);
        /* An oversize message never reaches fn; an oversize reply is fn's second call. */
        assert_int_equal(handled, cases[k].response_size ? 2 : 1);
    }
}

/* Only a server's bidirectional stream may be served inline. */
static void inline_only_on_server_bidi(void **state)
{
    struct fixture *f = *state;
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    ProtobufCMessage *m;
    struct rpc_result res;
    assert_int_equal(rpc_unary(f->ch, "/test.Inline/Unary", &req.base,
                               &stele__echo_response__descriptor, &m, WAIT_MS, &res),
                     STELE_OK);
    Stele__EchoResponse *r = (Stele__EchoResponse *)m;
    assert_int_equal(r->payload.len, strlen("ERR_STATE"));
    assert_memory_equal(r->payload.data, "ERR_STATE", r->payload.len);
    pb_free(m);

    enum rpc_kind kinds[] = {RPC_SERVER_STREAM, RPC_CLIENT_STREAM};
    const char *paths[] = {"/test.Inline/Server", "/test.Inline/Client"};
    for (int k = 0; k < 2; k++) {
        struct rpc_call *c =
            rpc_stream_open(f->ch, paths[k], kinds[k], &stele__echo_response__descriptor, WAIT_MS);
        assert_non_null(c);
        if (kinds[k] == RPC_SERVER_STREAM)
            assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
        assert_int_equal(rpc_call_close_send(c), STELE_OK);
        assert_int_equal(rpc_call_recv(c, &m, WAIT_MS, false), STELE_OK);
        r = (Stele__EchoResponse *)m;
        assert_int_equal(r->payload.len, strlen("ERR_STATE"));
        assert_memory_equal(r->payload.data, "ERR_STATE", r->payload.len);
        pb_free(m);
        assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    }

    /* Nor a client's stream. */
    struct inline_stream st = {0};
    struct rpc_call *c = open_inline(f->ch, "/stele.Bench/Chat");
    assert_int_equal(rpc_call_serve_inline(c, inline_echo, &st), STELE_ERR_STATE);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
}

static uint64_t active_streams(struct rpc_server *s)
{
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    return st.active_streams;
}

/* A client that cancels mid-stream, idle or with messages in flight: serving ends with
 * STELE_ERR_CANCELLED, the stream is freed, and the server goes on serving. As with
 * rpc_call_recv(), the gRPC core may first report the cancel as an end of stream; then
 * rpc_call_cancelled() turns true moments later, before a careful handler acts. */
static void inline_client_cancel(void **state)
{
    struct fixture *f = *state;
    int as_end = 0;
    for (int k = 0; k < 10; k++) {
        int base = served_count();
        struct rpc_call *c = open_inline(f->ch, "/test.Inline/Careful");
        char p[32];
        for (int i = 0; i < 100; i++) {
            payload_of(p, sizeof p, i, 0);
            assert_int_equal(send_echo(c, p, 0), STELE_OK);
        }
        expect_replies(c, 0, 100, 0);
        if (k % 2) /* with messages in flight */
            for (int i = 100; i < 150; i++) {
                payload_of(p, sizeof p, i, 0);
                assert_int_equal(send_echo(c, p, 0), STELE_OK);
            }
        else /* idle: the server waits for the next message */
            clock_sleep_ms(20);
        struct rpc_result res;
        assert_int_equal(rpc_call_finish(c, true, &res), STELE_ERR_CANCELLED);
        bool cancelled;
        int rc = wait_served(base + 1, NULL, &cancelled);
        if (rc == STELE_ERR_NOT_FOUND)
            as_end++;
        else
            assert_int_equal(rc, STELE_ERR_CANCELLED);
        assert_true(cancelled);
    }
    print_message("%d of 10 cancels first looked like an end of stream\n", as_end);
    uint64_t t0 = clock_mono_ms();
    while (active_streams(f->srv) != 0 && clock_mono_ms() - t0 < 3000)
        clock_sleep_ms(10);
    assert_int_equal(active_streams(f->srv), 0);
    struct rpc_call *c = open_inline(f->ch, "/test.Inline/Chat");
    assert_int_equal(send_echo(c, "again", 0), STELE_OK);
    expect_reply(c, 0, "again");
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    expect_clean_end(c);
}

/* ---- the client's shared completion queue ---- */

struct async_count {
    atomic_int started, done, ok;
};

/* Counts an asynchronous Echo's completion, and whether it succeeded. */
static void on_echo(void *arg, const struct rpc_result *res, ProtobufCMessage *resp)
{
    struct async_count *a = arg;
    if (res->code == RPC_OK && resp)
        atomic_fetch_add(&a->ok, 1);
    pb_free(resp);
    atomic_fetch_add(&a->done, 1);
}

static int start_echo(struct rpc_channel *ch, struct async_count *a, uint32_t sleep_ms,
                      int timeout_ms)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = (uint8_t *)"async";
    req.payload.len = 5;
    req.sleep_ms = sleep_ms;
    atomic_fetch_add(&a->started, 1);
    int rc = rpc_unary_async(ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor,
                             timeout_ms, on_echo, a);
    if (rc != STELE_OK)
        atomic_fetch_sub(&a->started, 1);
    return rc;
}

static void echo_async(struct rpc_channel *ch, struct async_count *a, uint32_t sleep_ms,
                       int timeout_ms)
{
    assert_int_equal(start_echo(ch, a, sleep_ms, timeout_ms), STELE_OK);
}

static void wait_async(struct async_count *a)
{
    uint64_t t0 = clock_mono_ms();
    while (atomic_load(&a->done) < atomic_load(&a->started) && clock_mono_ms() - t0 < WAIT_MS)
        clock_sleep_ms(2);
    assert_int_equal(atomic_load(&a->done), atomic_load(&a->started));
}

/* Threads of this process that carry its own name (gRPC names the threads it starts). */
static int unnamed_threads(void)
{
    char self[64] = "", path[300], comm[64];
    FILE *fp = fopen("/proc/self/comm", "r");
    if (!fp || !fgets(self, sizeof self, fp))
        fail_msg("cannot read /proc/self/comm");
    fclose(fp);
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        fp = fopen(path, "r");
        if (fp && fgets(comm, sizeof comm, fp) && strcmp(comm, self) == 0)
            n++;
        if (fp)
            fclose(fp);
    }
    closedir(d);
    return n;
}

/* One channel's share of the concurrent work: async calls, a threaded and an inline stream. */
struct channel_work {
    pthread_t t;
    struct rpc_channel *ch;
    struct async_count a;
    int rc; /* 0, or the line that failed */
};

static int stream_round_trips(struct rpc_channel *ch, const char *method, int n)
{
    struct rpc_call *c = rpc_stream_open(ch, method, RPC_BIDI_STREAM,
                                         &stele__echo_response__descriptor, 2 * WAIT_MS);
    if (!c)
        return __LINE__;
    char p[32];
    for (int i = 0; i < n; i++) {
        payload_of(p, sizeof p, i, 0);
        ProtobufCMessage *m;
        if (send_echo(c, p, 0) != STELE_OK || rpc_call_recv(c, &m, WAIT_MS, false) != STELE_OK)
            return __LINE__;
        Stele__EchoResponse *r = (Stele__EchoResponse *)m;
        bool same = r->seq == (uint64_t)i && r->payload.len == strlen(p) &&
                    memcmp(r->payload.data, p, r->payload.len) == 0;
        pb_free(m);
        if (!same)
            return __LINE__;
    }
    rpc_call_close_send(c);
    struct rpc_result res;
    return rpc_call_finish(c, false, &res) == STELE_OK ? 0 : __LINE__;
}

static void *channel_work_main(void *arg)
{
    struct channel_work *w = arg; /* no cmocka assertion off the main thread */
    for (int i = 0; i < 25 && !w->rc; i++)
        if (start_echo(w->ch, &w->a, 0, WAIT_MS) != STELE_OK)
            w->rc = __LINE__;
    if (!w->rc)
        w->rc = stream_round_trips(w->ch, "/stele.Bench/Chat", 200);
    if (!w->rc)
        w->rc = stream_round_trips(w->ch, "/test.Inline/Chat", 200);
    for (int i = 0; i < 25 && !w->rc; i++)
        if (start_echo(w->ch, &w->a, 0, WAIT_MS) != STELE_OK)
            w->rc = __LINE__;
    return NULL;
}

static void run_work(struct channel_work *w, int n)
{
    for (int i = 0; i < n; i++)
        if (w[i].ch)
            pthread_create(&w[i].t, NULL, channel_work_main, &w[i]);
    for (int i = 0; i < n; i++) {
        if (!w[i].ch)
            continue;
        pthread_join(w[i].t, NULL);
        if (w[i].rc)
            fail_msg("channel %d: failed at line %d", i, w[i].rc);
        wait_async(&w[i].a);
        assert_int_equal(atomic_load(&w[i].a.ok), atomic_load(&w[i].a.started));
    }
}

/* Eight channels to one server, used at once, closed in another order than opened; the ones
 * left keep working as others close, no channel adds a completion thread, the last close stops
 * the shared one, and a channel opened after all were closed works (the queue is made anew). */
static void shared_queue_many_channels(void **state)
{
    struct fixture *f = *state;
    rpc_channel_close(f->ch); /* the fixture's: its queue is gone with it */
    f->ch = NULL;
    struct channel_work w[8];
    memset(w, 0, sizeof w);
    w[0].ch = rpc_channel_open(f->target, NULL, NULL);
    echo_async(w[0].ch, &w[0].a, 0, WAIT_MS);
    wait_async(&w[0].a);
    clock_sleep_ms(50);
    int threads_one = unnamed_threads();
    for (int i = 1; i < 8; i++) {
        w[i].ch = rpc_channel_open(f->target, NULL, NULL);
        assert_non_null(w[i].ch);
        echo_async(w[i].ch, &w[i].a, 0, WAIT_MS);
        wait_async(&w[i].a);
    }
    clock_sleep_ms(50);
    int threads_eight = unnamed_threads();
    print_message("threads of our own: %d with one channel, %d with eight\n", threads_one,
                  threads_eight);
    assert_true(threads_eight < threads_one + 7); /* not one more per channel */

    run_work(w, 8);
    const int order[8] = {3, 0, 7, 5, 1, 6, 2, 4};
    for (int k = 0; k < 8; k++) {
        rpc_channel_close(w[order[k]].ch);
        w[order[k]].ch = NULL;
        if (k == 3) /* half closed: the other half still works, all at once */
            run_work(w, 8);
    }
    /* The last close stopped the shared thread (stream handlers' threads may take a moment). */
    uint64_t t0 = clock_mono_ms();
    while (unnamed_threads() != threads_one - 1 && clock_mono_ms() - t0 < 3000)
        clock_sleep_ms(10);
    assert_int_equal(unnamed_threads(), threads_one - 1);

    struct channel_work again = {.ch = rpc_channel_open(f->target, NULL, NULL)};
    assert_non_null(again.ch);
    run_work(&again, 1);
    rpc_channel_close(again.ch);
}

/* rpc_channel_close() with asynchronous calls still pending returns only after each of their
 * callbacks has run, whether the calls had reached the server or were still waiting for the
 * connection; another channel's pending calls are not disturbed. */
static void close_waits_for_async_callbacks(void **state)
{
    struct fixture *f = *state;
    for (int round = 0; round < 4; round++) {
        bool connected = round % 2;
        struct rpc_channel *a = rpc_channel_open(f->target, NULL, NULL);
        struct rpc_channel *b = rpc_channel_open(f->target, NULL, NULL);
        struct async_count ca = {0}, cb = {0};
        if (connected) {
            echo_async(a, &ca, 0, WAIT_MS);
            wait_async(&ca);
        }
        for (int i = 0; i < 8; i++) {
            /* The server answers after 200 ms; unconnected calls give up after 1 s. */
            echo_async(a, &ca, 200, connected ? WAIT_MS : 1000);
            echo_async(b, &cb, 200, WAIT_MS);
        }
        if (connected)
            clock_sleep_ms(50); /* the calls reach the server */
        uint64_t t0 = clock_mono_ms();
        rpc_channel_close(a);
        int done = atomic_load(&ca.done), started = atomic_load(&ca.started);
        print_message("%s: close took %d ms; %d of %d calls succeeded\n",
                      connected ? "connected" : "connecting", (int)(clock_mono_ms() - t0),
                      atomic_load(&ca.ok), started);
        assert_int_equal(done, started);
        wait_async(&cb);
        assert_int_equal(atomic_load(&cb.ok), 8);
        rpc_channel_close(b);
    }
    struct async_count c = {0};
    echo_async(f->ch, &c, 0, WAIT_MS);
    wait_async(&c);
    assert_int_equal(atomic_load(&c.ok), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(inline_replies_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(inline_read_ahead_answered_first, setup, teardown),
        cmocka_unit_test(inline_back_pressure),
        cmocka_unit_test_setup_teardown(inline_error_ends_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(inline_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(inline_only_on_server_bidi, setup, teardown),
        cmocka_unit_test_setup_teardown(inline_client_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_queue_many_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(close_waits_for_async_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
