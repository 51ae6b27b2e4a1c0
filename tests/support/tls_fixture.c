/* tls_fixture.c — a server that says who its TLS client is (tls_fixture.h). */
#include "tls_fixture.h"

#include "testutil.h"

#include "base/status.h"
#include "pb/pb.h"
#include "stele/bench.pb-c.h"

#include <stdio.h>
#include <string.h>

/* Answers the client certificate's common name, or "(none)". */
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

struct rpc_server *tls_fx_whoami_server(const struct rpc_tls *tls, char *target, size_t tlen)
{
    struct rpc_server_opts o = {.listen = "127.0.0.1:0", .tls = *tls};
    char *err = NULL;
    struct rpc_server *s = rpc_server_create(&o, &err);
    if (!s)
        fail_msg("rpc_server_create: %s", err ? err : "?");
    const struct rpc_method m = {.path = "/stele.Bench/Echo",
                                 .kind = RPC_UNARY,
                                 .request = &stele__echo_request__descriptor,
                                 .handler = whoami};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    if (rpc_server_start(s, &err) != STELE_OK)
        fail_msg("rpc_server_start: %s", err ? err : "?");
    snprintf(target, tlen, "127.0.0.1:%d", rpc_server_port(s));
    return s;
}

int tls_fx_whoami(const char *target, const struct rpc_channel_opts *o, char *cn, size_t n,
                  struct rpc_result *res)
{
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(target, o, &err);
    if (!ch)
        fail_msg("rpc_channel_open: %s", err ? err : "?");
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int rc = rpc_unary(ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor, &resp,
                       0, res);
    if (rc == STELE_OK) {
        Stele__EchoResponse *r = (Stele__EchoResponse *)resp;
        snprintf(cn, n, "%.*s", (int)r->payload.len, (char *)r->payload.data);
    }
    pb_free(resp);
    rpc_channel_close(ch);
    return rc;
}
