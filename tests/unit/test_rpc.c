/*
 * test_rpc.c — lib/rpc unary calls with a real server and client on 127.0.0.1 (rpc_fixture.h):
 * a round trip, node info and health (check and watch), unknown methods, deadlines, size caps,
 * malformed bytes, 64 concurrent callers and asynchronous calls. Streams are tested in
 * test_rpc_stream.c, the server's life in test_rpc_server.c, TLS in test_rpc_tls.c.
 */
#include "rpc_fixture.h"

#include "base/clock.h"
#include "base/status.h"
#include "grpc/health/v1/health.pb-c.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/rpc_internal.h"
#include "rpc/services.h"
#include "stele/bench.pb-c.h"
#include "stele/common.pb-c.h"
#include "stele/node.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unary_round_trip(void **state)
{
    struct rpc_fx *f = *state;
    struct rpc_result res;
    Stele__EchoResponse *out;
    assert_int_equal(rpc_fx_echo(f->ch, "hello", 0, 2000, &res, &out), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
    assert_int_equal(out->payload.len, 5);
    assert_memory_equal(out->payload.data, "hello", 5);
    pb_free(&out->base);
}

static void node_info_and_health(void **state)
{
    struct rpc_fx *f = *state;
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
    struct rpc_fx *f = *state;
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
    struct rpc_fx *f = *state;
    struct rpc_result res;
    uint64_t t0 = clock_mono_ms();
    assert_int_equal(rpc_fx_echo(f->ch, "slow", 600, 100, &res, NULL), STELE_ERR_TIMEOUT);
    assert_int_equal(res.code, RPC_DEADLINE_EXCEEDED);
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took >= 90 && took < 500);
    /* The server is still fine afterwards. */
    assert_int_equal(rpc_fx_echo(f->ch, "after", 0, 2000, &res, NULL), STELE_OK);
}

static void oversize_refused(void **state)
{
    struct rpc_fx *f = *state;
    size_t n = 300 * 1024; /* the server caps messages at 256 KiB */
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = 0;
    struct rpc_result res;
    int rc = rpc_fx_echo(f->ch, big, 0, 5000, &res, NULL);
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
    assert_int_equal(rpc_fx_echo(f->ch, "small", 0, 2000, &res, NULL), STELE_OK);
}

static void malformed_bytes_are_invalid_argument(void **state)
{
    struct rpc_fx *f = *state;
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
    assert_int_equal(rpc_fx_echo(f->ch, "still ok", 0, 2000, &res, NULL), STELE_OK);
}

static void *concurrent_caller(void *arg)
{
    struct rpc_fx *f = arg;
    long ok = 0;
    for (int i = 0; i < 40; i++) {
        char p[32];
        snprintf(p, sizeof p, "c%d", i);
        struct rpc_result res;
        Stele__EchoResponse *out;
        if (rpc_fx_echo(f->ch, p, 0, 10000, &res, &out) == STELE_OK) {
            ok += out->payload.len == strlen(p) && memcmp(out->payload.data, p, strlen(p)) == 0;
            pb_free(&out->base);
        }
    }
    return (void *)ok;
}

static void sixty_four_concurrent_callers(void **state)
{
    struct rpc_fx *f = *state;
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
    struct rpc_fx *f = *state;
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

/* Debian's Abseil exports SetMutexDeadlockDetectionMode under the inline namespace its headers
   name, so the RPC layer finds it and turns the debug-only detector off (2% of a peer's CPU). */
static void abseil_deadlock_detector_is_turned_off(void **state)
{
    (void)state;
    assert_true(rpc_absl_deadlock_detection_off());
    assert_true(rpc_absl_deadlock_detection_off()); /* again: harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unary_round_trip, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(node_info_and_health, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(unknown_method_is_unimplemented_at_once, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(deadline_exceeded, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(oversize_refused, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(malformed_bytes_are_invalid_argument, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(sixty_four_concurrent_callers, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(async_unary, rpc_fx_setup, rpc_fx_teardown),
        cmocka_unit_test(abseil_deadlock_detector_is_turned_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
