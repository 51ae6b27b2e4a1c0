/*
 * rpc_fixture.h — the fixture of test_rpc.c, test_rpc_stream.c and test_rpc_server.c: a
 * lib/rpc server on 127.0.0.1 with the health, node-info and bench services, a channel to it,
 * and helpers that call the bench service's Echo and Stream methods.
 *
 * The server started by rpc_fx_setup() caps messages at 256 KiB and queues 64 messages per
 * stream. Functions fail the test on error unless they say otherwise.
 */
#ifndef STELE_TESTS_RPC_FIXTURE_H
#define STELE_TESTS_RPC_FIXTURE_H

#include "testutil.h"

#include "rpc/rpc.h"
#include "stele/bench.pb-c.h"

#include <stdint.h>

/* A server, its services and a channel to it. */
struct rpc_fx {
    struct rpc_server *srv;        /* rpc_server_destroy() */
    struct rpc_health *health;     /* its health service (node "test-node") */
    struct rpc_node_service *node; /* its node-info service (role "tester") */
    struct rpc_channel *ch;        /* a channel to it, default options */
    char target[64];               /* the server's address, 127.0.0.1:port */
};

/* Creates a server with options `o`, registers health, node-info ("test-node", "tester") and
 * bench services into f->health and f->node, starts it and sets f->target. Returns the server
 * (the caller destroys it and f->health and f->node). */
struct rpc_server *rpc_fx_start_server(struct rpc_fx *f, const struct rpc_server_opts *o);
/* cmocka setup: a heap rpc_fx with a started server (256 KiB messages, stream_queue 64) and a
 * channel to it. */
int rpc_fx_setup(void **state);
/* cmocka teardown of rpc_fx_setup(): closes the channel, shuts health down, destroys the
 * server and the services. */
int rpc_fx_teardown(void **state);

/* Calls /stele.Bench/Echo on `ch` with `payload`, asking the server to sleep `sleep_ms` first,
 * with a deadline of `timeout_ms`; *res gets the call's result. The response goes to *out (free
 * with pb_free()) when `out` is not NULL. Returns rpc_unary()'s status. No assertion. */
int rpc_fx_echo(struct rpc_channel *ch, const char *payload, uint32_t sleep_ms, int timeout_ms,
                struct rpc_result *res, Stele__EchoResponse **out);
/* Opens /stele.Bench/Stream on f->ch asking for `count` EchoResponses of `payload`,
 * `sleep_ms` apart (deadline 20 s), and half-closes it. */
struct rpc_call *rpc_fx_open_stream(struct rpc_fx *f, uint32_t count, uint32_t sleep_ms,
                                    const char *payload);

#endif
