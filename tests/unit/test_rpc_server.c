/*
 * test_rpc_server.c — the life of a lib/rpc server on 127.0.0.1 (rpc_fixture.h): shutdown with
 * unary calls and streams in flight, a second server refused the same port, and a client call
 * made before its server listens, which waits for it.
 */
#include "rpc_fixture.h"

#include "base/clock.h"
#include "base/status.h"
#include "rpc/rpc.h"
#include "rpc/services.h"

#include <pthread.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shutdown_with_calls_in_flight, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test_setup_teardown(second_server_on_same_port_fails, rpc_fx_setup,
                                        rpc_fx_teardown),
        cmocka_unit_test(wait_for_ready_when_server_starts_late),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
