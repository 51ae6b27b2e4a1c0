/*
 * test_rpc.c — lib/rpc with a real server and client on 127.0.0.1: the four call shapes,
 * deadlines, size caps, malformed bytes, concurrency, disconnects, shutdown, TLS and mTLS,
 * health and node info.
 */
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "grpc/health/v1/health.pb-c.h"
#include "pb/pb.h"
#include "rpc/bench_service.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/bench.pb-c.h"
#include "stele/common.pb-c.h"
#include "stele/node.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    struct rpc_server *srv;
    struct rpc_health *health;
    struct rpc_node_service *node;
    struct rpc_channel *ch;
    char target[64];
};

static struct rpc_server *start_server(struct fixture *f, const struct rpc_server_opts *o)
{
    char *err = NULL;
    struct rpc_server *s = rpc_server_create(o, &err);
    assert_non_null(s);
    f->health = rpc_health_create();
    f->node = rpc_node_service_create("test-node", "tester");
    assert_int_equal(rpc_health_register(f->health, s), STELE_OK);
    assert_int_equal(rpc_node_service_register(f->node, s), STELE_OK);
    assert_int_equal(rpc_bench_service_register(s, 0), STELE_OK);
    int rc = rpc_server_start(s, &err);
    if (rc != STELE_OK)
        fail_msg("start: %s", err ? err : "?");
    snprintf(f->target, sizeof f->target, "127.0.0.1:%d", rpc_server_port(s));
    return s;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct rpc_server_opts o = {
        .listen = "127.0.0.1:0", .max_message = 256 * 1024, .stream_queue = 64};
    f->srv = start_server(f, &o);
    f->ch = rpc_channel_open(f->target, NULL, NULL);
    assert_non_null(f->ch);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rpc_channel_close(f->ch);
    if (f->health)
        rpc_health_shutdown(f->health);
    rpc_server_destroy(f->srv);
    rpc_health_destroy(f->health);
    rpc_node_service_destroy(f->node);
    free(f);
    return 0;
}

static int echo(struct rpc_channel *ch, const char *payload, uint32_t sleep_ms, int timeout_ms,
                struct rpc_result *res, Stele__EchoResponse **out)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    req.sleep_ms = sleep_ms;
    ProtobufCMessage *resp = NULL;
    int rc = rpc_unary(ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor, &resp,
                       timeout_ms, res);
    if (out)
        *out = (Stele__EchoResponse *)resp;
    else
        pb_free(resp);
    return rc;
}

static void unary_round_trip(void **state)
{
    struct fixture *f = *state;
    struct rpc_result res;
    Stele__EchoResponse *out;
    assert_int_equal(echo(f->ch, "hello", 0, 2000, &res, &out), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
    assert_int_equal(out->payload.len, 5);
    assert_memory_equal(out->payload.data, "hello", 5);
    pb_free(&out->base);
}

static void node_info_and_health(void **state)
{
    struct fixture *f = *state;
    Stele__NodeInfoRequest req = STELE__NODE_INFO_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct rpc_result res;
    assert_int_equal(rpc_unary(f->ch, "/stele.Node/Info", &req.base, &stele__node_info__descriptor,
                               &resp, 2000, &res),
                     STELE_OK);
    Stele__NodeInfo *info = (Stele__NodeInfo *)resp;
    assert_string_equal(info->node_id, "test-node");
    assert_string_equal(info->role, "tester");
    assert_string_equal(info->version, STELE_VERSION);
    assert_true(info->started_at > 1700000000u);
    pb_free(resp);

    Grpc__Health__V1__HealthCheckRequest hreq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    hreq.service = "";
    assert_int_equal(rpc_unary(f->ch, "/grpc.health.v1.Health/Check", &hreq.base,
                               &grpc__health__v1__health_check_response__descriptor, &resp, 2000,
                               &res),
                     STELE_OK);
    assert_int_equal(((Grpc__Health__V1__HealthCheckResponse *)resp)->status,
                     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    pb_free(resp);
    hreq.service = "no.such.Service";
    assert_int_equal(rpc_unary(f->ch, "/grpc.health.v1.Health/Check", &hreq.base,
                               &grpc__health__v1__health_check_response__descriptor, &resp, 2000,
                               &res),
                     STELE_ERR_NOT_FOUND);
    assert_int_equal(res.code, RPC_NOT_FOUND);
    assert_non_null(strstr(res.detail, "no.such.Service"));

    /* Watch: current status first, then each change. */
    hreq.service = "ledger";
    assert_int_equal(rpc_health_set(f->health, "ledger", false), STELE_OK);
    struct rpc_call *w =
        rpc_stream_open(f->ch, "/grpc.health.v1.Health/Watch", RPC_SERVER_STREAM,
                        &grpc__health__v1__health_check_response__descriptor, 5000);
    assert_non_null(w);
    assert_int_equal(rpc_call_send(w, &hreq.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(w), STELE_OK);
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(w, &m, 2000, false), STELE_OK);
    assert_int_equal(((Grpc__Health__V1__HealthCheckResponse *)m)->status,
                     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    pb_free(m);
    assert_int_equal(rpc_health_set(f->health, "ledger", true), STELE_OK);
    assert_int_equal(rpc_call_recv(w, &m, 2000, false), STELE_OK);
    assert_int_equal(((Grpc__Health__V1__HealthCheckResponse *)m)->status,
                     GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    pb_free(m);
    rpc_call_finish(w, true, &res);
    assert_int_equal(res.code, RPC_CANCELLED);
}

static void unknown_method_is_unimplemented_at_once(void **state)
{
    struct fixture *f = *state;
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct rpc_result res;
    uint64_t t0 = clock_mono_ms();
    int rc = rpc_unary(f->ch, "/stele.Nope/Missing", &req.base, &stele__echo_response__descriptor,
                       &resp, 5000, &res);
    assert_int_equal(rc, STELE_ERR_INTERNAL);
    assert_int_equal(res.code, RPC_UNIMPLEMENTED);
    assert_non_null(strstr(res.detail, "/stele.Nope/Missing"));
    assert_true(clock_mono_ms() - t0 < 1000);
}

static void deadline_exceeded(void **state)
{
    struct fixture *f = *state;
    struct rpc_result res;
    uint64_t t0 = clock_mono_ms();
    assert_int_equal(echo(f->ch, "slow", 600, 100, &res, NULL), STELE_ERR_TIMEOUT);
    assert_int_equal(res.code, RPC_DEADLINE_EXCEEDED);
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took >= 90 && took < 500);
    /* The server is still fine afterwards. */
    assert_int_equal(echo(f->ch, "after", 0, 2000, &res, NULL), STELE_OK);
}

static void oversize_refused(void **state)
{
    struct fixture *f = *state;
    size_t n = 300 * 1024; /* the server caps messages at 256 KiB */
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = 0;
    struct rpc_result res;
    int rc = echo(f->ch, big, 0, 5000, &res, NULL);
    assert_int_not_equal(rc, STELE_OK);
    assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
    /* A response over the cap is refused by the server, not sent. */
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.response_size = 300 * 1024;
    ProtobufCMessage *resp;
    rc = rpc_unary(f->ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor, &resp,
                   5000, &res);
    assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
    free(big);
    assert_int_equal(echo(f->ch, "small", 0, 2000, &res, NULL), STELE_OK);
}

static void malformed_bytes_are_invalid_argument(void **state)
{
    struct fixture *f = *state;
    /* A Timestamp puts a varint in field 1, where EchoRequest has bytes: not decodable. */
    Stele__Timestamp ts = STELE__TIMESTAMP__INIT;
    ts.seconds = 12345;
    ProtobufCMessage *resp;
    struct rpc_result res;
    int rc = rpc_unary(f->ch, "/stele.Bench/Echo", &ts.base, &stele__echo_response__descriptor,
                       &resp, 2000, &res);
    assert_int_equal(rc, STELE_ERR_INVALID);
    assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
    assert_non_null(strstr(res.detail, "stele.EchoRequest"));
    assert_int_equal(echo(f->ch, "still ok", 0, 2000, &res, NULL), STELE_OK);
}

static void *concurrent_caller(void *arg)
{
    struct fixture *f = arg;
    long ok = 0;
    for (int i = 0; i < 40; i++) {
        char p[32];
        snprintf(p, sizeof p, "c%d", i);
        struct rpc_result res;
        Stele__EchoResponse *out;
        if (echo(f->ch, p, 0, 10000, &res, &out) == STELE_OK) {
            ok += out->payload.len == strlen(p) && memcmp(out->payload.data, p, strlen(p)) == 0;
            pb_free(&out->base);
        }
    }
    return (void *)ok;
}

static void sixty_four_concurrent_callers(void **state)
{
    struct fixture *f = *state;
    pthread_t t[64];
    for (int i = 0; i < 64; i++)
        pthread_create(&t[i], NULL, concurrent_caller, f);
    long total = 0;
    for (int i = 0; i < 64; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    assert_int_equal(total, 64 * 40);
}

struct async_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok;
};

static void on_async(void *arg, const struct rpc_result *res, ProtobufCMessage *resp)
{
    struct async_state *a = arg;
    pthread_mutex_lock(&a->mu);
    a->done++;
    a->ok += res->code == RPC_OK && resp != NULL;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pb_free(resp);
}

static void async_unary(void **state)
{
    struct fixture *f = *state;
    struct async_state a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    for (int i = 0; i < 200; i++)
        assert_int_equal(rpc_unary_async(f->ch, "/stele.Bench/Echo", &req.base,
                                         &stele__echo_response__descriptor, 5000, on_async, &a),
                         STELE_OK);
    pthread_mutex_lock(&a.mu);
    while (a.done < 200)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    assert_int_equal(a.ok, 200);
}

static struct rpc_call *open_stream(struct fixture *f, uint32_t count, uint32_t sleep_ms,
                                    const char *payload)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.count = count;
    req.sleep_ms = sleep_ms;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = strlen(payload);
    struct rpc_call *c = rpc_stream_open(f->ch, "/stele.Bench/Stream", RPC_SERVER_STREAM,
                                         &stele__echo_response__descriptor, 20000);
    assert_non_null(c);
    assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    return c;
}

static void server_stream_in_order_with_slow_reader(void **state)
{
    struct fixture *f = *state;
    char payload[1024];
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    struct rpc_call *c = open_stream(f, 5000, 0, payload);
    for (uint64_t i = 0; i < 5000; i++) {
        if (i < 20)
            clock_sleep_ms(10); /* a slow reader at first: the server must wait, not drop */
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_OK);
        Stele__EchoResponse *r = (Stele__EchoResponse *)m;
        assert_int_equal(r->seq, i);
        assert_int_equal(r->payload.len, sizeof payload - 1);
        pb_free(m);
    }
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_ERR_NOT_FOUND);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
}

/* rpc_call_recv_wait(): a reader waits for a batch, is told how many are queued, and is not
 * kept waiting past the end of the stream or the timeout. */
static void recv_wait_for_batches(void **state)
{
    struct fixture *f = *state;
    struct rpc_call *c = open_stream(f, 40, 5, "b");
    uint64_t t0 = clock_mono_ms();
    size_t n = rpc_call_recv_wait(c, 10, 5000);
    assert_true(n >= 10);
    assert_true(clock_mono_ms() - t0 >= 40); /* ten messages 5 ms apart */
    uint64_t seq = 0;
    for (; seq < n; seq++) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 0, false), STELE_OK);
        assert_int_equal(((Stele__EchoResponse *)m)->seq, seq);
        pb_free(m);
    }
    /* More than will ever come: returns when the stream ends, with the rest queued. */
    t0 = clock_mono_ms();
    n = rpc_call_recv_wait(c, 100000, 10000);
    assert_int_equal(n, 40 - seq);
    assert_true(clock_mono_ms() - t0 < 5000);
    for (; seq < 40; seq++) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 0, false), STELE_OK);
        pb_free(m);
    }
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(c, &m, 1000, false), STELE_ERR_NOT_FOUND);
    assert_int_equal(rpc_call_finish(c, false, NULL), STELE_OK);

    /* A slow sender: the wait ends at its timeout with what has arrived. */
    c = open_stream(f, 3, 300, "s");
    t0 = clock_mono_ms();
    n = rpc_call_recv_wait(c, 3, 100);
    assert_true(n < 3);
    assert_true(clock_mono_ms() - t0 >= 90);
    assert_int_equal(rpc_call_finish(c, true, NULL), STELE_ERR_CANCELLED);
}

static void client_stream_and_bidi(void **state)
{
    struct fixture *f = *state;
    struct rpc_call *c = rpc_stream_open(f->ch, "/stele.Bench/Sink", RPC_CLIENT_STREAM,
                                         &stele__sink_summary__descriptor, 10000);
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = (uint8_t *)"abc";
    req.payload.len = 3;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    ProtobufCMessage *m;
    assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_OK);
    assert_int_equal(((Stele__SinkSummary *)m)->messages, 1000);
    assert_int_equal(((Stele__SinkSummary *)m)->bytes, 3000);
    pb_free(m);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);

    c = rpc_stream_open(f->ch, "/stele.Bench/Chat", RPC_BIDI_STREAM,
                        &stele__echo_response__descriptor, 10000);
    for (int i = 0; i < 500; i++) {
        char p[16];
        snprintf(p, sizeof p, "m%d", i);
        req.payload.data = (uint8_t *)p;
        req.payload.len = strlen(p);
        assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
        assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_OK);
        Stele__EchoResponse *r = (Stele__EchoResponse *)m;
        assert_int_equal(r->seq, (uint64_t)i);
        assert_memory_equal(r->payload.data, p, strlen(p));
        pb_free(m);
    }
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_ERR_NOT_FOUND);
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
}

/* rpc_call_send_bytes / rpc_call_recv_bytes move serialized messages untouched. */
static void raw_bytes_both_ways(void **state)
{
    struct fixture *f = *state;
    struct rpc_call *c = rpc_stream_open(f->ch, "/stele.Bench/Chat", RPC_BIDI_STREAM,
                                         &stele__echo_response__descriptor, 10000);
    assert_non_null(c);
    /* EchoRequest{payload = "raw"} by hand. */
    static const uint8_t req[] = {0x0a, 0x03, 'r', 'a', 'w'};
    assert_int_equal(rpc_call_send_bytes(c, req, sizeof req), STELE_OK);
    struct buf got;
    buf_init(&got);
    assert_int_equal(rpc_call_recv_bytes(c, &got, 5000), STELE_OK);
    Stele__EchoResponse *r = (Stele__EchoResponse *)pb_unpack(&stele__echo_response__descriptor,
                                                              NULL, got.data, got.len, 0);
    assert_non_null(r);
    assert_int_equal(r->payload.len, 3);
    assert_memory_equal(r->payload.data, "raw", 3);
    pb_free(&r->base);
    /* Bytes that are not an EchoRequest reach the server as such: it ends the call. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(rpc_call_send_bytes(c, junk, sizeof junk), STELE_OK);
    buf_clear(&got);
    assert_int_not_equal(rpc_call_recv_bytes(c, &got, 5000), STELE_OK);
    struct rpc_result res;
    assert_int_not_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
    buf_release(&got);
}

static uint64_t active_streams(struct fixture *f)
{
    struct rpc_server_stats st;
    rpc_server_get_stats(f->srv, &st);
    return st.active_streams;
}

static void client_disconnect_mid_stream(void **state)
{
    struct fixture *f = *state;
    struct rpc_call *c = open_stream(f, 1000000, 0, "x");
    for (int i = 0; i < 100; i++) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_OK);
        pb_free(m);
    }
    assert_int_equal(active_streams(f), 1);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, true, &res), STELE_ERR_CANCELLED);
    /* The server notices and frees the stream's handler promptly. */
    uint64_t t0 = clock_mono_ms();
    while (active_streams(f) != 0 && clock_mono_ms() - t0 < 3000)
        clock_sleep_ms(10);
    assert_int_equal(active_streams(f), 0);
    assert_int_equal(echo(f->ch, "alive", 0, 2000, &res, NULL), STELE_OK);
}

static void *slow_echo(void *arg)
{
    struct fixture *f = arg;
    struct rpc_result res;
    echo(f->ch, "in flight", 300, 5000, &res, NULL);
    return (void *)(long)res.code;
}

static void shutdown_with_calls_in_flight(void **state)
{
    struct fixture *f = *state;
    struct rpc_call *streams[4];
    for (int i = 0; i < 4; i++)
        streams[i] = open_stream(f, 1000000, 1, "s"); /* would take 1000 s */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, slow_echo, f);
    clock_sleep_ms(100);
    uint64_t t0 = clock_mono_ms();
    rpc_health_shutdown(f->health);
    rpc_server_stop(f->srv, 1500); /* 4 slow calls on 2 workers need ~600 ms */
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took < 3000);
    for (int i = 0; i < 4; i++) {
        void *code;
        pthread_join(t[i], &code);
        /* The slow unary calls were allowed to finish within the grace period. */
        assert_int_equal((long)code, RPC_OK);
    }
    for (int i = 0; i < 4; i++) {
        struct rpc_result res;
        rpc_call_finish(streams[i], false, &res);
        assert_int_not_equal(res.code, RPC_OK); /* cut off, not completed */
    }
    /* New calls are refused once stopped. */
    struct rpc_result res;
    assert_int_not_equal(echo(f->ch, "late", 0, 300, &res, NULL), STELE_OK);
}

static void wait_for_ready_when_server_starts_late(void **state)
{
    (void)state;
    /* Find a free port, then start a client call before a server listens there. */
    struct fixture tmp = {0};
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    struct rpc_server *s = start_server(&tmp, &o);
    int port = rpc_server_port(s);
    rpc_server_destroy(s);
    rpc_health_destroy(tmp.health);
    rpc_node_service_destroy(tmp.node);

    char target[64], listen[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    struct rpc_channel *ch = rpc_channel_open(target, NULL, NULL);
    struct fixture late = {.ch = ch};
    pthread_t t;
    pthread_create(&t, NULL, slow_echo, &late);
    clock_sleep_ms(400);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct rpc_server_opts o2 = {.listen = listen};
    s = start_server(&tmp, &o2);
    void *code;
    pthread_join(t, &code);
    assert_int_equal((long)code, RPC_OK);
    rpc_channel_close(ch);
    rpc_server_destroy(s);
    rpc_health_destroy(tmp.health);
    rpc_node_service_destroy(tmp.node);
}

static void second_server_on_same_port_fails(void **state)
{
    struct fixture *f = *state;
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", rpc_server_port(f->srv));
    struct rpc_server_opts o = {.listen = listen};
    char *err = NULL;
    struct rpc_server *s = rpc_server_create(&o, &err);
    assert_non_null(s);
    assert_int_not_equal(rpc_server_start(s, &err), STELE_OK);
    assert_non_null(err);
    assert_non_null(strstr(err, listen));
    free(err);
    rpc_server_destroy(s);
}

/* ---- a client stream that ends cleanly, or is abandoned ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int final_rc;   /* what the handler's last rpc_call_recv returned */
    int received;   /* messages it read */
    bool cancelled; /* rpc_call_cancelled() within 300 ms of the end */
    bool finished;  /* the handler returned */
} collect = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false, false};

static enum rpc_code collect_handler(struct rpc_call *call, const ProtobufCMessage *req,
                                     ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    int n = 0, rc;
    ProtobufCMessage *m;
    while ((rc = rpc_call_recv(call, &m, -1, false)) == STELE_OK) {
        pb_free(m);
        n++;
    }
    /* What a careful handler does before acting on what it read (see rpc_call_recv()). */
    bool cancelled = rpc_call_cancelled(call);
    for (int i = 0; i < 30 && !cancelled; i++) {
        clock_sleep_ms(10);
        cancelled = rpc_call_cancelled(call);
    }
    pthread_mutex_lock(&collect.mu);
    collect.final_rc = rc;
    collect.cancelled = cancelled;
    collect.received = n;
    collect.finished = true;
    pthread_cond_broadcast(&collect.cv);
    pthread_mutex_unlock(&collect.mu);
    static __thread Stele__SinkSummary sum;
    stele__sink_summary__init(&sum);
    sum.messages = (uint64_t)n;
    *resp = &sum.base;
    return rc == STELE_ERR_NOT_FOUND ? RPC_OK : rpc_call_error(call, RPC_CANCELLED, "abandoned");
}

/* Runs one client stream of 5 messages, then half-closes or abandons it; returns whether the
 * handler found the call cancelled, and checks what its reads returned. */
static bool collect_run(bool abandon)
{
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    struct rpc_server *s = rpc_server_create(&o, NULL);
    const struct rpc_method m = {.path = "/test.Probe/Collect",
                                 .kind = RPC_CLIENT_STREAM,
                                 .request = &stele__echo_request__descriptor,
                                 .handler = collect_handler};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(s, NULL), STELE_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", rpc_server_port(s));
    struct rpc_channel *ch = rpc_channel_open(target, NULL, NULL);
    collect.finished = false;
    struct rpc_call *c = rpc_stream_open(ch, "/test.Probe/Collect", RPC_CLIENT_STREAM,
                                         &stele__sink_summary__descriptor, 5000);
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    for (int i = 0; i < 5; i++)
        assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
    clock_sleep_ms(50); /* let the server read them */
    struct rpc_result res;
    rpc_call_finish(c, abandon, &res); /* abandon: cancel; otherwise half-close and wait */
    pthread_mutex_lock(&collect.mu);
    while (!collect.finished)
        pthread_cond_wait(&collect.cv, &collect.mu);
    int rc = collect.final_rc;
    bool cancelled = collect.cancelled;
    assert_int_equal(collect.received, 5);
    pthread_mutex_unlock(&collect.mu);
    if (abandon)
        assert_true(rc == STELE_ERR_CANCELLED || rc == STELE_ERR_NOT_FOUND);
    else
        assert_int_equal(rc, STELE_ERR_NOT_FOUND);
    rpc_channel_close(ch);
    rpc_server_destroy(s);
    return cancelled;
}

static void client_stream_end_and_abandon(void **state)
{
    (void)state;
    /* A clean half-close is never taken for a cancellation; a client that goes away always
     * is, by the time a handler checks before acting. */
    assert_false(collect_run(false));
    for (int i = 0; i < 5; i++)
        assert_true(collect_run(true));
}

/* ---- TLS ---- */

static char *tls_dir;

static void sh(const char *fmt, const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int tls_setup(void **state)
{
    (void)state;
    tls_dir = test_tmpdir("tls");
    /* A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a second
     * CA whose client certificate must be refused. */
    const char *gen =
        "cd %s && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=node0 -keyout srv.key -out srv.csr 2>/dev/null && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile srv.ext -out srv.crt 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=juror7@org1 -keyout cli.key -out cli.csr 2>/dev/null && "
        "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-out cli.crt 2>/dev/null && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=rogue -keyout rogue.key -out rogue.crt 2>/dev/null";
    sh(gen, tls_dir);
    return 0;
}

static int tls_teardown(void **state)
{
    (void)state;
    test_rmtree(tls_dir);
    free(tls_dir);
    return 0;
}

static char *p(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tls_dir, name);
    return buf[i];
}

static enum rpc_code whoami(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    static __thread Stele__EchoResponse out;
    static __thread char cn[128];
    stele__echo_response__init(&out);
    if (rpc_call_peer_cn(call, cn, sizeof cn) != STELE_OK)
        snprintf(cn, sizeof cn, "(none)");
    out.payload.data = (uint8_t *)cn;
    out.payload.len = strlen(cn);
    *resp = &out.base;
    return RPC_OK;
}

static struct rpc_server *tls_server(bool mutual, char *target, size_t tlen)
{
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    o.tls.cert_file = p("srv.crt");
    o.tls.key_file = p("srv.key");
    if (mutual)
        o.tls.ca_file = p("ca.crt");
    char *err = NULL;
    struct rpc_server *s = rpc_server_create(&o, &err);
    assert_non_null(s);
    const struct rpc_method m = {.path = "/stele.Bench/Echo",
                                 .kind = RPC_UNARY,
                                 .request = &stele__echo_request__descriptor,
                                 .handler = whoami};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(s, &err), STELE_OK);
    snprintf(target, tlen, "127.0.0.1:%d", rpc_server_port(s));
    return s;
}

static int call_whoami(const char *target, const struct rpc_channel_opts *o, char *cn, size_t n,
                       struct rpc_result *res)
{
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(target, o, &err);
    assert_non_null(ch);
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int rc = rpc_unary(ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor, &resp,
                       1000, res);
    if (rc == STELE_OK) {
        Stele__EchoResponse *r = (Stele__EchoResponse *)resp;
        snprintf(cn, n, "%.*s", (int)r->payload.len, (char *)r->payload.data);
    }
    pb_free(resp);
    rpc_channel_close(ch);
    return rc;
}

static void tls_server_only(void **state)
{
    (void)state;
    char target[64], cn[128];
    struct rpc_server *s = tls_server(false, target, sizeof target);
    struct rpc_result res;
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls.ca_file = p("ca.crt");
    assert_int_equal(call_whoami(target, &o, cn, sizeof cn, &res), STELE_OK);
    assert_string_equal(cn, "(none)");
    /* A client that trusts another CA refuses the server, and says why. */
    o.tls.ca_file = p("rogue.crt");
    assert_int_equal(call_whoami(target, &o, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    /* A plaintext client cannot talk to a TLS server. */
    struct rpc_channel_opts plain = {.fail_fast = true};
    assert_int_equal(call_whoami(target, &plain, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    /* A waiting (daemon-style) client keeps trying until its deadline, never succeeds. */
    o.fail_fast = false;
    assert_int_equal(call_whoami(target, &o, cn, sizeof cn, &res), STELE_ERR_TIMEOUT);
    rpc_server_destroy(s);
}

static void tls_mutual(void **state)
{
    (void)state;
    char target[64], cn[128];
    struct rpc_server *s = tls_server(true, target, sizeof target);
    struct rpc_result res;
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls.ca_file = p("ca.crt");
    o.tls.cert_file = p("cli.crt");
    o.tls.key_file = p("cli.key");
    assert_int_equal(call_whoami(target, &o, cn, sizeof cn, &res), STELE_OK);
    assert_string_equal(cn, "juror7@org1");
    /* No client certificate, or one from a CA the server does not trust: refused. */
    struct rpc_channel_opts no_cert = {.fail_fast = true};
    no_cert.tls.ca_file = p("ca.crt");
    assert_int_equal(call_whoami(target, &no_cert, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    struct rpc_channel_opts rogue = o;
    rogue.tls.cert_file = p("rogue.crt");
    rogue.tls.key_file = p("rogue.key");
    assert_int_equal(call_whoami(target, &rogue, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    rpc_server_destroy(s);
}

static void tls_bad_files_are_clear_errors(void **state)
{
    (void)state;
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    o.tls.cert_file = p("missing.crt");
    o.tls.key_file = p("srv.key");
    char *err = NULL;
    assert_null(rpc_server_create(&o, &err));
    assert_non_null(strstr(err, "missing.crt"));
    free(err);
    o.tls.cert_file = p("srv.csr");
    o.tls.key_file = NULL;
    err = NULL;
    assert_null(rpc_server_create(&o, &err));
    assert_non_null(strstr(err, "both"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unary_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_bytes_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(node_info_and_health, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_method_is_unimplemented_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(deadline_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_bytes_are_invalid_argument, setup, teardown),
        cmocka_unit_test_setup_teardown(sixty_four_concurrent_callers, setup, teardown),
        cmocka_unit_test_setup_teardown(async_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(server_stream_in_order_with_slow_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(recv_wait_for_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(client_stream_and_bidi, setup, teardown),
        cmocka_unit_test_setup_teardown(client_disconnect_mid_stream, setup, teardown),
        cmocka_unit_test(client_stream_end_and_abandon),
        cmocka_unit_test_setup_teardown(shutdown_with_calls_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(second_server_on_same_port_fails, setup, teardown),
        cmocka_unit_test(wait_for_ready_when_server_starts_late),
        cmocka_unit_test_setup_teardown(tls_server_only, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(tls_mutual, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(tls_bad_files_are_clear_errors, tls_setup, tls_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
