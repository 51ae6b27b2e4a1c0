/*
 * metrics.c — what the orderer's operations endpoint serves (lib/ops/ops.h, orderer.h): its
 * chain, its consensus, Broadcast and Deliver, its gRPC server and its process, read at each
 * scrape; and whether it serves. The counters are kept where the events happen (broadcast.c,
 * chain.c, consensus/pbft_view.c) and only read here. docs/METRICS.md lists them; change
 * both together.
 */
#include "orderer_int.h"

#include "base/buf.h"
#include "base/quota.h"
#include "base/status.h"
#include "ops/ops.h"

#include <stdio.h>
#include <string.h>

int orderer_metrics(void *arg, struct buf *out)
{
    struct orderer *o = arg;
    struct consensus_status st = {0};
    consensus_status(o->consensus, &st);
    int rc = ops_metric(out, "stele_orderer_chain_height", OPS_GAUGE,
                        "blocks in this orderer's chain (the next block's number)",
                        (double)chain_height(o->chain));
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_consensus_view", OPS_GAUGE,
                        "the PBFT view this orderer is in (0 "
                        "under solo)",
                        (double)st.view);
    if (rc == STELE_OK)
        rc = ops_family(out, "stele_consensus_role", OPS_GAUGE,
                        "1 for the role this orderer has now (primary, backup, view-changing, "
                        "syncing, solo)");
    static const char *const roles[] = {"primary", "backup", "view-changing", "syncing", "solo"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0] && rc == STELE_OK; i++)
        rc = ops_sample(out, "stele_consensus_role", "role", roles[i],
                        st.role && strcmp(st.role, roles[i]) == 0);
    if (rc == STELE_OK)
        rc = ops_metric(
            out, "stele_consensus_view_changes_total", OPS_COUNTER,
            "times this orderer's PBFT view rose since it started: a view change it began, "
            "or a NEW-VIEW of a later view it installed (0 under solo)",
            (double)st.view_changes);
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_orderer_blocks_total", OPS_COUNTER,
                        "blocks this orderer appended to its chain since it started (ordered, or "
                        "fetched from another orderer to catch up)",
                        (double)chain_appended(o->chain));
    const char *name = "stele_broadcast_envelopes_total";
    if (rc == STELE_OK)
        rc = ops_family(out, name, OPS_COUNTER,
                        "envelopes received on Broadcast, by answer: accepted (SUCCESS: handed to "
                        "consensus), duplicate (CONFLICT: its tx_id was in flight or in a block "
                        "already), refused (any other status)");
    const struct {
        const char *result;
        atomic_uint_fast64_t *v;
    } b[] = {{"accepted", &o->counts.accepted},
             {"duplicate", &o->counts.duplicate},
             {"refused", &o->counts.refused}};
    for (size_t i = 0; i < sizeof b / sizeof b[0] && rc == STELE_OK; i++)
        rc = ops_sample(out, name, "result", b[i].result,
                        (double)atomic_load_explicit(b[i].v, memory_order_relaxed));
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_deliver_streams", OPS_GAUGE, "Deliver streams open",
                        (double)quota_held(o->deliver_streams, NULL));
    if (rc == STELE_OK)
        rc = rpc_server_metrics(o->server, out);
    if (rc == STELE_OK)
        rc = ops_process_metrics(out);
    return rc;
}

bool orderer_healthy(void *arg, char *why, size_t len)
{
    struct orderer *o = arg;
    if (atomic_load(&o->stopping)) {
        snprintf(why, len, "stopping");
        return false;
    }
    if (atomic_load(&o->chain_failed)) {
        snprintf(why, len,
                 "the block store failed (a block could not be appended) and the orderer orders "
                 "nothing more: see the log, then restart the orderer");
        return false;
    }
    struct consensus_status st = {0};
    consensus_status(o->consensus, &st);
    if (st.persist_failed) {
        snprintf(why, len,
                 "the consensus state cannot be written to the disk: the orderer votes on "
                 "nothing until a write succeeds; see the log");
        return false;
    }
    return true;
}
