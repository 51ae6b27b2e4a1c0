/*
 * metrics.c — what the peer's operations endpoint serves (lib/ops/ops.h, peer.h): its ledger,
 * its endorser, gateway and chaincode hosts, its signature cache, its gRPC server and its
 * process, read at each scrape; and whether it serves. The counters are kept where the events
 * happen (kvledger.c, endorser.c, gateway_submit.c, ccrt.c, crypto/sigcache.c) and only read
 * here. docs/METRICS.md lists them; change both together.
 */
#include "peer_int.h"

#include "base/buf.h"
#include "base/quota.h"
#include "base/status.h"
#include "ccrt.h"
#include "crypto/sigcache.h"
#include "ops/ops.h"

#include <stdio.h>

/* A family of two samples, label="a" and label="b". */
static int pair(struct buf *out, const char *name, const char *help, const char *label,
                const char *a, uint64_t va, const char *b, uint64_t vb)
{
    int rc = ops_family(out, name, OPS_COUNTER, help);
    if (rc == STELE_OK)
        rc = ops_sample(out, name, label, a, (double)va);
    return rc ? rc : ops_sample(out, name, label, b, (double)vb);
}

static uint64_t load(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The ledger: blocks and transactions committed since the peer started, every validation code
 * printed (0 for those not seen) so that dashboards and alerts find each series. */
static int ledger_metrics(struct peer *p, struct buf *out)
{
    int rc = ops_metric(out, "stele_ledger_height", OPS_GAUGE,
                        "blocks committed to this peer's ledger (the next block's number)",
                        (double)kvledger_height(p->ledger));
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_orderer_height", OPS_GAUGE,
                        "the highest block number + 1 an orderer announced to this peer",
                        (double)atomic_load(&p->orderer_height));
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_ledger_blocks_committed_total", OPS_COUNTER,
                        "blocks this peer validated and committed since it started (not counting "
                        "blocks replayed from its own store at start)",
                        (double)kvledger_blocks_committed(p->ledger));
    const char *name = "stele_ledger_transactions_total";
    if (rc == STELE_OK)
        rc = ops_family(out, name, OPS_COUNTER,
                        "transactions in the blocks this peer committed since it started, by "
                        "validation code (VALID: its writes were applied)");
    const ProtobufCEnumDescriptor *d = &stele__tx_validation_code__descriptor;
    for (unsigned i = 0; i < d->n_values && rc == STELE_OK; i++)
        rc = ops_sample(out, name, "code", d->values[i].name,
                        (double)kvledger_tx_committed(p->ledger, (uint8_t)d->values[i].value));
    return rc;
}

/* The endorser, the gateway and the chaincode hosts. */
static int service_metrics(struct peer *p, struct buf *out)
{
    int rc =
        pair(out, "stele_endorser_proposals_total",
             "proposals this peer was asked to endorse (ProcessProposal, and its gateway's own "
             "endorsement, once per call): endorsed, or refused (a check failed, or the chaincode "
             "answered a status outside 200..299); Evaluate is not counted",
             "result", "endorsed", load(&p->counts.endorsed), "refused",
             load(&p->counts.endorse_refused));
    if (rc == STELE_OK)
        rc = pair(out, "stele_gateway_submits_total",
                  "Gateway/Submit calls: accepted (f + 1 orderers took the envelope, or it "
                  "committed while the client waited), or refused (any error answered)",
                  "result", "accepted", load(&p->counts.submits_ok), "refused",
                  load(&p->counts.submits_refused));
    if (rc == STELE_OK)
        rc = ops_histogram(out, "stele_ledger_commit_seconds",
                           "time to validate and commit one block (signatures, policies, MVCC, "
                           "the block's fsync and the state batch), blocks committed since start",
                           &p->counts.commit_time);
    if (rc == STELE_OK)
        rc = ops_histogram(out, "stele_gateway_endorse_seconds",
                           "Gateway/Endorse calls that ran the proposal, from the request to the "
                           "answer: this peer's execution and the other organisations' "
                           "endorsements, retries included",
                           &p->counts.endorse_time);
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_event_streams", OPS_GAUGE,
                        "Events/Blocks streams open (each holds a thread while it lasts)",
                        (double)quota_held(p->event_streams, NULL));
    struct ccrt_stats cs = {0};
    if (p->ccrt)
        ccrt_get_stats(p->ccrt, &cs);
    if (rc == STELE_OK)
        rc = ops_metric(out, "stele_chaincode_invocations_total", OPS_COUNTER,
                        "chaincode invocations that reached a chaincode host",
                        (double)cs.invocations);
    if (rc == STELE_OK)
        rc = ops_metric(
            out, "stele_chaincode_hosts_started_total", OPS_COUNTER,
            "chaincode host processes started (loaded or not); a host killed is replaced "
            "by the next invocation",
            (double)cs.spawned);
    const char *name = "stele_chaincode_hosts_killed_total";
    if (rc == STELE_OK)
        rc = ops_family(out, name, OPS_COUNTER,
                        "chaincode hosts lost, by reason: timeout (ran past its timeout), memory "
                        "(over its memory limit), forbidden (a system call its sandbox refuses), "
                        "crashed (died, or broke the host protocol)");
    const struct {
        const char *reason;
        uint64_t v;
    } k[] = {{"timeout", cs.timeouts},
             {"memory", cs.memory},
             {"forbidden", cs.forbidden},
             {"crashed", cs.crashed}};
    for (size_t i = 0; i < sizeof k / sizeof k[0] && rc == STELE_OK; i++)
        rc = ops_sample(out, name, "reason", k[i].reason, (double)k[i].v);
    return rc;
}

/* The signature cache the endorser, gateway and validation share (crypto/sigcache.h). */
static int sigcache_metrics(struct peer *p, struct buf *out)
{
    struct sigcache_stats ss;
    sigcache_get_stats(msp_sigcache(p->msp), &ss);
    int rc =
        ops_metric(out, "stele_signature_cache_hits_total", OPS_COUNTER,
                   "signature checks answered from the signature cache (the same key, digest and "
                   "signature verified or signed here before)",
                   (double)ss.hits);
    if (rc == STELE_OK)
        rc = ops_metric(
            out, "stele_signature_verifications_total", OPS_COUNTER,
            "signature checks through the signature cache that ran an ECDSA verification "
            "(not in the cache), valid or not",
            (double)ss.verified);
    return rc;
}

int peer_metrics(void *arg, struct buf *out)
{
    struct peer *p = arg;
    int rc = ledger_metrics(p, out);
    if (rc == STELE_OK)
        rc = service_metrics(p, out);
    if (rc == STELE_OK)
        rc = sigcache_metrics(p, out);
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
    if (kvledger_failed(p->ledger)) {
        snprintf(why, len,
                 "the ledger failed on the disk and commits nothing more: see the log, "
                 "then restart the peer");
        return false;
    }
    return true;
}
