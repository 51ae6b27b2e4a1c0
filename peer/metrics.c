/*
 * metrics.c — what the peer's operations endpoint serves (lib/ops/ops.h, peer.h): its ledger,
 * its gRPC server and its process, read at each scrape; and whether it serves.
 */
#include "peer_int.h"

#include "base/buf.h"
#include "base/status.h"
#include "ops/ops.h"

#include <stdio.h>

static int gauge(struct buf *out, const char *name, enum ops_type type, const char *help, double v)
{
    int rc = ops_family(out, name, type, help);
    return rc ? rc : ops_sample(out, name, NULL, NULL, v);
}

int peer_metrics(void *arg, struct buf *out)
{
    struct peer *p = arg;
    int rc = gauge(out, "stele_ledger_height", OPS_GAUGE,
                   "blocks committed to this peer's ledger (the next block's number)",
                   (double)kvledger_height(p->ledger));
    if (rc == STELE_OK)
        rc = gauge(out, "stele_orderer_height", OPS_GAUGE,
                   "the highest block number + 1 an orderer announced to this peer",
                   (double)atomic_load(&p->orderer_height));
    if (rc == STELE_OK)
        rc = rpc_server_metrics(p->server, out);
    if (rc == STELE_OK)
        rc = ops_process_metrics(out);
    return rc;
}

bool peer_healthy(void *arg, char *why, size_t len)
{
    struct peer *p = arg;
    if (atomic_load(&p->stopping)) {
        snprintf(why, len, "stopping");
        return false;
    }
    return true;
}
