/*
 * test_rpc_stream.c — lib/rpc streams with a real server and client on 127.0.0.1
 * (rpc_fixture.h): server streams in order with a slow reader, rpc_call_recv_wait() batches,
 * client and bidirectional streams, raw serialized bytes both ways, a client that disconnects
 * mid-stream, a client stream that ends cleanly or is abandoned as its handler sees it, and
 * stream queues bounded in octets as well as in messages (where a send that may wait only so
 * long gives up).
 */
#include "rpc_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/rpc_internal.h"
#include "stele/bench.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void server_stream_in_order_with_slow_reader(void **state)
{
    struct rpc_fx *f = *state;
    char payload[1024];
    memset(payload, 'p', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    struct rpc_call *c = rpc_fx_open_stream(f, 5000, 0, payload);
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
    struct rpc_fx *f = *state;
    struct rpc_call *c = rpc_fx_open_stream(f, 40, 5, "b");
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
    c = rpc_fx_open_stream(f, 3, 300, "s");
    t0 = clock_mono_ms();
    n = rpc_call_recv_wait(c, 3, 100);
    assert_true(n < 3);
    assert_true(clock_mono_ms() - t0 >= 90);
    assert_int_equal(rpc_call_finish(c, true, NULL), STELE_ERR_CANCELLED);
}

static void client_stream_and_bidi(void **state)
{
    struct rpc_fx *f = *state;
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
    struct rpc_fx *f = *state;
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

static uint64_t active_streams(struct rpc_fx *f)
{
    struct rpc_server_stats st;
    rpc_server_get_stats(f->srv, &st);
    return st.active_streams;
}

static void client_disconnect_mid_stream(void **state)
{
    struct rpc_fx *f = *state;
    struct rpc_call *c = rpc_fx_open_stream(f, 1000000, 0, "x");
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
    assert_int_equal(rpc_fx_echo(f->ch, "alive", 0, 2000, &res, NULL), STELE_OK);
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

/* ---- queues bounded in octets ---- */

static grpc_byte_buffer *bytes_bb(size_t n)
{
    static char zeros[64 * 1024];
    grpc_slice sl = grpc_slice_from_copied_buffer(zeros, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    return bb;
}

static void byte_queue_holds_at_least_one_message(void **state)
{
    (void)state;
    struct bbq q;
    assert_int_equal(bbq_init(&q, 4, 1000), STELE_OK);
    assert_true(bbq_push(&q, bytes_bb(400)));
    assert_true(bbq_push(&q, bytes_bb(400)));
    assert_true(bbq_push(&q, bytes_bb(400))); /* 800 < 1000 octets: room for one more */
    assert_true(bbq_full(&q));
    grpc_byte_buffer *extra = bytes_bb(1);
    assert_false(bbq_push(&q, extra));
    grpc_byte_buffer_destroy(extra);
    grpc_byte_buffer_destroy(bbq_pop(&q));
    assert_false(bbq_full(&q)); /* 800 */
    assert_false(bbq_half_empty(&q));
    grpc_byte_buffer_destroy(bbq_pop(&q));
    assert_true(bbq_half_empty(&q)); /* 400 */
    bbq_release(&q);
    /* one message of any size fits an empty queue */
    assert_int_equal(bbq_init(&q, 4, 1000), STELE_OK);
    assert_true(bbq_push(&q, bytes_bb(50000)));
    assert_true(bbq_full(&q));
    bbq_release(&q);
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool release; /* the handler may read now */
    int received; /* messages it read */
} hold = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

/* Reads nothing until released, then everything. */
static enum rpc_code hold_handler(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    pthread_mutex_lock(&hold.mu);
    while (!hold.release)
        pthread_cond_wait(&hold.cv, &hold.mu);
    pthread_mutex_unlock(&hold.mu);
    struct buf b;
    buf_init(&b);
    int n = 0;
    while (rpc_call_recv_bytes(call, &b, 5000) == STELE_OK) {
        buf_clear(&b);
        n++;
    }
    buf_release(&b);
    hold.received = n;
    static __thread Stele__SinkSummary sum;
    stele__sink_summary__init(&sum);
    sum.messages = (uint64_t)n;
    *resp = &sum.base;
    return RPC_OK;
}

/* A stream whose server does not read holds at most stream_queue_bytes on each side (plus
 * what the transport's flow control lets through), not stream_queue whole messages. */
static void stream_queues_are_bounded_in_octets(void **state)
{
    (void)state;
    struct rpc_server_opts o = {
        .listen = "127.0.0.1:0", .stream_queue_bytes = 1u << 20, .max_message = 1u << 20};
    struct rpc_server *s = rpc_server_create(&o, NULL);
    const struct rpc_method m = {.path = "/test.Probe/Hold",
                                 .kind = RPC_CLIENT_STREAM,
                                 .request = &stele__echo_request__descriptor,
                                 .handler = hold_handler};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(s, NULL), STELE_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", rpc_server_port(s));
    struct rpc_channel_opts co = {.stream_queue_bytes = 1u << 20};
    struct rpc_channel *ch = rpc_channel_open(target, &co, NULL);
    struct rpc_call *c = rpc_stream_open(ch, "/test.Probe/Hold", RPC_CLIENT_STREAM,
                                         &stele__sink_summary__descriptor, 20000);
    static uint8_t msg[64 * 1024]; /* an EchoRequest's unknown field would do; bytes suffice */
    int sent = 0;
    uint64_t quiet_since = clock_mono_ms();
    while (clock_mono_ms() - quiet_since < 500 && sent < 1000) {
        if (rpc_call_try_send_bytes(c, msg, sizeof msg) == STELE_OK) {
            sent++;
            quiet_since = clock_mono_ms();
        } else {
            clock_sleep_ms(5);
        }
    }
    /* 1 MiB a side is 16 messages of 64 KiB each, and HTTP/2 flow control lets a few MiB more
     * through to the server's transport; 256 a side used to fit (over 500 in all) */
    print_message("%d messages of 64 KiB queued before the sender had to wait\n", sent);
    assert_true(sent >= 16);
    assert_true(sent < 200);
    /* a send that may wait only so long gives up then, with nothing sent */
    uint64_t t0 = clock_mono_ms();
    assert_int_equal(rpc_call_send_bytes_wait(c, msg, sizeof msg, 300), STELE_ERR_TIMEOUT);
    assert_true(clock_mono_ms() - t0 >= 290);
    Stele__EchoRequest er = STELE__ECHO_REQUEST__INIT; /* and so does a message's */
    er.payload.data = msg;
    er.payload.len = sizeof msg - 16;
    t0 = clock_mono_ms();
    assert_int_equal(rpc_call_send_wait(c, &er.base, 300), STELE_ERR_TIMEOUT);
    assert_true(clock_mono_ms() - t0 >= 290);
    pthread_mutex_lock(&hold.mu);
    hold.release = true;
    pthread_cond_broadcast(&hold.cv);
    pthread_mutex_unlock(&hold.mu);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(hold.received, sent); /* nothing lost */
    rpc_channel_close(ch);
    rpc_server_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(raw_bytes_both_ways, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(server_stream_in_order_with_slow_reader, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(recv_wait_for_batches, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(client_stream_and_bidi, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(client_disconnect_mid_stream, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test(client_stream_end_and_abandon),
        cmocka_unit_test(byte_queue_holds_at_least_one_message),
        cmocka_unit_test(stream_queues_are_bounded_in_octets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
