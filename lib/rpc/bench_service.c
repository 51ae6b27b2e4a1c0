/* bench_service.c — stele.Bench handlers. */
#include "rpc/bench_service.h"
#include "rpc/rpc.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "stele/bench.pb-c.h"

#include <string.h>

#define MAX_RESPONSE (4u << 20)

static enum rpc_code echo(struct rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *arg)
{
    (void)arg;
    const Stele__EchoRequest *r = (const void *)req;
    if (r->sleep_ms)
        clock_sleep_ms(r->sleep_ms);
    if (r->response_size > MAX_RESPONSE)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "response_size %u is over %u",
                              r->response_size, MAX_RESPONSE);
    Stele__EchoResponse *out = arena_alloc(rpc_call_arena(call), sizeof *out);
    if (!out)
        return RPC_RESOURCE_EXHAUSTED;
    stele__echo_response__init(out);
    if (r->response_size) {
        out->payload.data = arena_calloc(rpc_call_arena(call), r->response_size, 1);
        if (!out->payload.data)
            return RPC_RESOURCE_EXHAUSTED;
        out->payload.len = r->response_size;
    } else {
        out->payload = r->payload; /* lives in the call arena like the request */
    }
    *resp = &out->base;
    return RPC_OK;
}

static enum rpc_code stream(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    (void)resp;
    (void)arg;
    const Stele__EchoRequest *r = (const void *)req;
    Stele__EchoResponse out;
    stele__echo_response__init(&out);
    out.payload = r->payload;
    for (uint32_t i = 0; i < r->count; i++) {
        out.seq = i;
        if (r->sleep_ms)
            clock_sleep_ms(r->sleep_ms);
        int rc = rpc_call_send(call, &out.base);
        if (rc != STELE_OK)
            return rpc_call_error(call, RPC_CANCELLED, "stream ended after %u of %u: %s", i,
                                  r->count, stele_strerror(rc));
    }
    return RPC_OK;
}

static enum rpc_code sink(struct rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    Stele__SinkSummary *sum = arena_alloc(rpc_call_arena(call), sizeof *sum);
    if (!sum)
        return RPC_RESOURCE_EXHAUSTED;
    stele__sink_summary__init(sum);
    for (;;) {
        ProtobufCMessage *m;
        int rc = rpc_call_recv(call, &m, -1, false);
        if (rc == STELE_ERR_NOT_FOUND)
            break;
        if (rc == STELE_ERR_MALFORMED)
            return rpc_call_error(call, RPC_INVALID_ARGUMENT, "malformed stele.EchoRequest");
        if (rc != STELE_OK)
            return rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
        sum->messages++;
        sum->bytes += ((Stele__EchoRequest *)m)->payload.len;
        pb_free(m);
    }
    *resp = &sum->base;
    return RPC_OK;
}

static enum rpc_code chat(struct rpc_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    Stele__EchoResponse out;
    stele__echo_response__init(&out);
    for (uint64_t seq = 0;; seq++) {
        ProtobufCMessage *m;
        int rc = rpc_call_recv(call, &m, -1, false);
        if (rc == STELE_ERR_NOT_FOUND)
            return RPC_OK;
        if (rc == STELE_ERR_MALFORMED)
            return rpc_call_error(call, RPC_INVALID_ARGUMENT, "malformed stele.EchoRequest");
        if (rc != STELE_OK)
            return rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
        out.payload = ((Stele__EchoRequest *)m)->payload;
        out.seq = seq;
        rc = rpc_call_send(call, &out.base);
        pb_free(m);
        if (rc != STELE_OK)
            return rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
    }
}

int rpc_bench_service_register(struct rpc_server *s, int inline_echo)
{
    const struct rpc_method methods[] = {
        {.path = "/stele.Bench/Echo",
         .kind = RPC_UNARY,
         .request = &stele__echo_request__descriptor,
         .handler = echo,
         .flags = inline_echo ? RPC_METHOD_INLINE : 0},
        {.path = "/stele.Bench/Stream",
         .kind = RPC_SERVER_STREAM,
         .request = &stele__echo_request__descriptor,
         .handler = stream},
        {.path = "/stele.Bench/Sink",
         .kind = RPC_CLIENT_STREAM,
         .request = &stele__echo_request__descriptor,
         .handler = sink},
        {.path = "/stele.Bench/Chat",
         .kind = RPC_BIDI_STREAM,
         .request = &stele__echo_request__descriptor,
         .handler = chat},
    };
    return rpc_server_add(s, methods, sizeof methods / sizeof methods[0]);
}
