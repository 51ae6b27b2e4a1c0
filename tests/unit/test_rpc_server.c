/*
 * test_rpc_server.c — the life of a lib/rpc server on 127.0.0.1 (rpc_fixture.h): shutdown with
 * unary calls and streams in flight, a second server refused the same port, a client call
 * made before its server listens, which waits for it, a method whose streams have a budget of
 * their own, and a stream that ends once idle.
 */
#include "rpc_fixture.h"

#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *slow_echo(void *arg)
{
    struct rpc_fx *f = arg;
    struct rpc_result res;
    rpc_fx_echo(f->ch, "in flight", 300, 5000, &res, NULL);
    return (void *)(long)res.code;
}

static void shutdown_with_calls_in_flight(void **state)
{
    struct rpc_fx *f = *state;
    struct rpc_call *streams[4];
    for (int i = 0; i < 4; i++)
        streams[i] = rpc_fx_open_stream(f, 1000000, 1, "s"); /* would take 1000 s */
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
    assert_int_not_equal(rpc_fx_echo(f->ch, "late", 0, 300, &res, NULL), STELE_OK);
}

static void wait_for_ready_when_server_starts_late(void **state)
{
    (void)state;
    /* Find a free port, then start a client call before a server listens there. */
    struct rpc_fx tmp = {0};
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    struct rpc_server *s = rpc_fx_start_server(&tmp, &o);
    int port = rpc_server_port(s);
    rpc_server_destroy(s);
    rpc_health_destroy(tmp.health);
    rpc_node_service_destroy(tmp.node);

    char target[64], listen[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    struct rpc_channel *ch = rpc_channel_open(target, NULL, NULL);
    struct rpc_fx late = {.ch = ch};
    pthread_t t;
    pthread_create(&t, NULL, slow_echo, &late);
    clock_sleep_ms(400);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct rpc_server_opts o2 = {.listen = listen};
    s = rpc_fx_start_server(&tmp, &o2);
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
    struct rpc_fx *f = *state;
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

/* ---- per-method stream budgets and idle streams ---- */

static atomic_int idle_results[2]; /* [0]: handlers that ended idle, [1]: that ended otherwise */

/* Reads until the stream ends or goes idle; holds the stream meanwhile. */
static enum rpc_code hold_handler(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    ProtobufCMessage *m;
    int rc;
    while ((rc = rpc_call_recv(call, &m, -1, false)) == STELE_OK)
        pb_free(m);
    atomic_fetch_add(&idle_results[rc == STELE_ERR_TIMEOUT ? 0 : 1], 1);
    static __thread Stele__SinkSummary sum;
    stele__sink_summary__init(&sum);
    *resp = &sum.base;
    return rc == STELE_ERR_TIMEOUT ? rpc_call_error(call, RPC_DEADLINE_EXCEEDED, "idle") : RPC_OK;
}

/* Opens a client stream of `path` and sends one message; NULL-safe to finish. */
static struct rpc_call *open_hold(struct rpc_channel *ch, const char *path)
{
    struct rpc_call *c =
        rpc_stream_open(ch, path, RPC_CLIENT_STREAM, &stele__sink_summary__descriptor, 10000);
    Stele__EchoRequest rq = STELE__ECHO_REQUEST__INIT;
    assert_non_null(c);
    assert_int_equal(rpc_call_send(c, &rq.base), STELE_OK);
    return c;
}

/* The status a stream ended with, once it ended by itself (within 3 s) or was cancelled. */
static enum rpc_code ended(struct rpc_call *c, bool cancel)
{
    struct rpc_result res = {0};
    if (!cancel) { /* wait for the server to end it, not for our deadline */
        ProtobufCMessage *m = NULL;
        (void)rpc_call_recv(c, &m, 3000, false);
        pb_free(m);
    }
    rpc_call_finish(c, cancel, &res);
    return res.code;
}

/* Of the `n` streams just opened, how many the server refused (UNAVAILABLE, at once); the
 * others, being served, are cancelled. */
static int refused(struct rpc_call **c, int n)
{
    int k = 0;
    clock_sleep_ms(300);
    for (int i = 0; i < n; i++) {
        ProtobufCMessage *m = NULL;
        bool ended_now = rpc_call_recv(c[i], &m, 200, false) != STELE_ERR_TIMEOUT;
        pb_free(m);
        enum rpc_code code = ended(c[i], !ended_now);
        if (ended_now) {
            assert_int_equal(code, RPC_UNAVAILABLE);
            k++;
        }
    }
    return k;
}

static void streams_of_a_method_with_a_budget_of_its_own(void **state)
{
    (void)state;
    struct rpc_server_opts o = {.listen = "127.0.0.1:0", .max_streams = 2};
    struct rpc_server *s = rpc_server_create(&o, NULL);
    const struct rpc_method m[] = {
        {.path = "/test.Probe/Pooled",
         .kind = RPC_CLIENT_STREAM,
         .request = &stele__echo_request__descriptor,
         .handler = hold_handler},
        {.path = "/test.Probe/Own",
         .kind = RPC_CLIENT_STREAM,
         .request = &stele__echo_request__descriptor,
         .handler = hold_handler,
         .max_streams = 3},
    };
    assert_int_equal(rpc_server_add(s, m, 2), STELE_OK);
    assert_int_equal(rpc_server_start(s, NULL), STELE_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", rpc_server_port(s));
    struct rpc_channel *ch = rpc_channel_open(target, NULL, NULL);
    struct rpc_call *pooled[3], *own[4];
    for (int i = 0; i < 3; i++)
        pooled[i] = open_hold(ch, "/test.Probe/Pooled");
    /* the server's 2 are taken: one of the three is refused (whichever came last) ... */
    assert_int_equal(refused(pooled, 3), 1);
    /* ... while the method with 3 of its own still serves 3 */
    for (int i = 0; i < 4; i++)
        own[i] = open_hold(ch, "/test.Probe/Own");
    assert_int_equal(refused(own, 4), 1);
    rpc_channel_close(ch);
    rpc_server_destroy(s);
}

static void an_idle_stream_ends(void **state)
{
    (void)state;
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    struct rpc_server *s = rpc_server_create(&o, NULL);
    const struct rpc_method m = {.path = "/test.Probe/Idle",
                                 .kind = RPC_CLIENT_STREAM,
                                 .request = &stele__echo_request__descriptor,
                                 .handler = hold_handler,
                                 .idle_ms = 400};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(s, NULL), STELE_OK);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", rpc_server_port(s));
    struct rpc_channel *ch = rpc_channel_open(target, NULL, NULL);
    atomic_store(&idle_results[0], 0);
    atomic_store(&idle_results[1], 0);
    /* a stream that sends every 100 ms for a second lives on */
    struct rpc_call *busy = open_hold(ch, "/test.Probe/Idle");
    Stele__EchoRequest rq = STELE__ECHO_REQUEST__INIT;
    for (int i = 0; i < 10; i++) {
        clock_sleep_ms(100);
        assert_int_equal(rpc_call_send(busy, &rq.base), STELE_OK);
    }
    assert_int_equal(atomic_load(&idle_results[0]), 0);
    /* then it goes quiet, and ends within 400 ms (+ scheduling) */
    uint64_t t0 = clock_mono_ms();
    assert_int_equal(ended(busy, false), RPC_DEADLINE_EXCEEDED);
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took >= 350 && took < 3000);
    assert_int_equal(atomic_load(&idle_results[0]), 1);
    rpc_channel_close(ch);
    rpc_server_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shutdown_with_calls_in_flight, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(second_server_on_same_port_fails, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test(wait_for_ready_when_server_starts_late),
        cmocka_unit_test(streams_of_a_method_with_a_budget_of_its_own),
        cmocka_unit_test(an_idle_stream_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
