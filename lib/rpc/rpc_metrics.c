/* rpc_metrics.c — a server's counters as Prometheus metrics (rpc.h, lib/ops/ops.h). */
#include "base/status.h"
#include "ops/ops.h"
#include "rpc/rpc.h"

int rpc_server_metrics(struct rpc_server *s, struct buf *out)
{
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    const struct {
        const char *name;
        enum ops_type type;
        const char *help;
        uint64_t v;
    } m[] = {
        {"stele_grpc_calls_total", OPS_COUNTER, "gRPC calls accepted, every method", st.calls},
        {"stele_grpc_errors_total", OPS_COUNTER, "gRPC calls answered with a status other than OK",
         st.errors},
        {"stele_grpc_unimplemented_total", OPS_COUNTER, "gRPC calls of a method not served",
         st.unimplemented},
        {"stele_grpc_active_streams", OPS_GAUGE, "streaming gRPC calls in progress",
         st.active_streams},
    };
    int rc = STELE_OK;
    for (size_t i = 0; i < sizeof m / sizeof m[0] && rc == STELE_OK; i++)
        rc = ops_metric(out, m[i].name, m[i].type, m[i].help, (double)m[i].v);
    return rc;
}
