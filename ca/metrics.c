/* metrics.c — what the CA's operations endpoint serves (ca.h, lib/ops/ops.h). */
#include "ca.h"

#include "base/buf.h"
#include <stddef.h>
#include "base/status.h"
#include "ops/ops.h"
#include "rpc/rpc.h"

int ca_metrics(struct ca *ca, struct rpc_server *srv, struct buf *out)
{
    static const struct {
        const char *name, *help;
        size_t at;
    } fam[] = {
        {"stele_ca_requests_total", "stele.CA calls answered OK, by method",
         offsetof(struct ca, answered)},
        {"stele_ca_refusals_total",
         "stele.CA calls answered with an error (bad input, wrong secret, locked id, not "
         "allowed), by method",
         offsetof(struct ca, refused)},
    };
    int rc = STELE_OK;
    for (size_t f = 0; f < sizeof fam / sizeof fam[0] && rc == STELE_OK; f++) {
        rc = ops_family(out, fam[f].name, OPS_COUNTER, fam[f].help);
        const atomic_uint_fast64_t *v = (const atomic_uint_fast64_t *)((char *)ca + fam[f].at);
        for (int m = 0; m < CA_M_N && rc == STELE_OK; m++)
            rc = ops_sample(out, fam[f].name, "method", ca_method_names[m],
                            (double)atomic_load_explicit(&v[m], memory_order_relaxed));
    }
    pthread_mutex_lock(&ca->lock);
    uint64_t crl = ca->crl.number;
    pthread_mutex_unlock(&ca->lock);
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_ca_crl_number", OPS_GAUGE,
                        "crl_number of the last CRL this CA signed since it started (0: none)",
                        (double)crl);
    if (rc == STELE_OK)
        rc = rpc_server_metrics(srv, out);
    if (rc == STELE_OK)
        rc = ops_process_metrics(out);
    return rc;
}
