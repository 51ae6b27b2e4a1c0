/*
 * rpc_fixture.c — the server, channel and bench-service calls of rpc_fixture.h.
 */
#include "rpc_fixture.h"

#include "base/status.h"
#include "pb/pb.h"
#include "rpc/bench_service.h"
#include "rpc/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rpc_server *rpc_fx_start_server(struct rpc_fx *f, const struct rpc_server_opts *o)
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

int rpc_fx_setup(void **state)
{
    struct rpc_fx *f = calloc(1, sizeof *f);
    struct rpc_server_opts o = {
        .listen = "127.0.0.1:0", .max_message = 256 * 1024, .stream_queue = 64};
    f->srv = rpc_fx_start_server(f, &o);
    f->ch = rpc_channel_open(f->target, NULL, NULL);
    assert_non_null(f->ch);
    *state = f;
    return 0;
}

int rpc_fx_teardown(void **state)
{
    struct rpc_fx *f = *state;
    rpc_channel_close(f->ch);
    if (f->health)
        rpc_health_shutdown(f->health);
    rpc_server_destroy(f->srv);
    rpc_health_destroy(f->health);
    rpc_node_service_destroy(f->node);
    free(f);
    return 0;
}

int rpc_fx_echo(struct rpc_channel *ch, const char *payload, uint32_t sleep_ms, int timeout_ms,
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

struct rpc_call *rpc_fx_open_stream(struct rpc_fx *f, uint32_t count, uint32_t sleep_ms,
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
