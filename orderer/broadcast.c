/*
 * broadcast.c — stele.AtomicBroadcast/Broadcast: a bidirectional stream answered with one
 * BroadcastResponse per envelope, in order.
 *
 * Each envelope passes the intake checks (intake.h), then its tx_id is claimed on the chain
 * (refusing one in flight or already in a block), then it is handed to the consensus plug-in.
 * A refused envelope never reaches consensus, so never a block. Envelopes are received as raw
 * octets (rpc_call_recv_bytes) and handed on as they came: the block holds exactly what the
 * client sent, so its SHA-256 is the Merkle leaf the client can prove.
 */
#include "orderer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "stele/orderer.pb-c.h"

#include <string.h>

/* Judges and, when valid, orders the envelope in `raw`; fills `resp` (pointing into `v`). */
static void handle_one(struct orderer *o, struct arena *a, const struct buf *raw,
                       Stele__BroadcastResponse *resp, struct intake_verdict *v)
{
    int rc = intake_check_broadcast_bytes(&o->intake, a, raw->data, raw->len, NULL, v);
    if (rc)
        goto out;
    if (atomic_load(&o->stopping)) {
        v->status = STELE__STATUS__STATUS_SERVICE_UNAVAILABLE;
        v->info = "the orderer is stopping; send again later";
        goto out;
    }
    rc = chain_claim_tx(o->chain, v->tx_id);
    if (rc) {
        v->status = rc == STELE_ERR_REPLAY ? STELE__STATUS__STATUS_CONFLICT
                                           : STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR;
        v->info = rc == STELE_ERR_REPLAY ? "tx_id is already ordered or being ordered"
                                         : "cannot check the tx_id against the ledger";
        goto out;
    }
    rc = consensus_order(o->consensus, raw->data, raw->len, v->tx_id, v->hash);
    if (rc) {
        chain_unclaim_tx(o->chain, v->tx_id);
        v->status = rc == STELE_ERR_UNAVAILABLE ? STELE__STATUS__STATUS_SERVICE_UNAVAILABLE
                    : rc == STELE_ERR_TOO_BIG   ? STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE
                                                : STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR;
        v->info = rc == STELE_ERR_UNAVAILABLE ? "consensus is not accepting envelopes now"
                                              : stele_strerror(rc);
    }
out:
    resp->status = v->status;
    resp->info = (char *)v->info;
    resp->tx_id = v->tx_id;
}

static enum rpc_code broadcast(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    struct orderer *o = arg;
    struct arena *a = arena_create(0);
    struct buf raw;
    enum rpc_code code = RPC_OK;
    buf_init(&raw);
    if (!a)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    for (;;) {
        buf_clear(&raw);
        int rc = rpc_call_recv_bytes(call, &raw, -1);
        if (rc == STELE_ERR_NOT_FOUND)
            break;
        if (rc) {
            code = rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
            break;
        }
        Stele__BroadcastResponse out = STELE__BROADCAST_RESPONSE__INIT;
        struct intake_verdict v;
        handle_one(o, a, &raw, &out, &v);
        if (out.status != STELE__STATUS__STATUS_SUCCESS)
            log_debug("orderer", "broadcast refused (%d): %s", out.status, out.info);
        rc = rpc_call_send(call, &out.base);
        arena_reset(a);
        if (rc) {
            code = rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
            break;
        }
    }
    buf_release(&raw);
    arena_destroy(a);
    return code;
}

int orderer_broadcast_register(struct orderer *o, struct rpc_server *s)
{
    const struct rpc_method m = {
        .path = "/stele.AtomicBroadcast/Broadcast",
        .kind = RPC_BIDI_STREAM,
        .request = &stele__envelope__descriptor,
        .handler = broadcast,
        .arg = o,
    };
    return rpc_server_add(s, &m, 1);
}
