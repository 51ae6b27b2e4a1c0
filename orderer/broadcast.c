/*
 * broadcast.c — stele.AtomicBroadcast/Broadcast: a bidirectional stream answered with one
 * BroadcastResponse per envelope, in order.
 *
 * Each envelope passes the intake checks (intake.h), then its tx_id is claimed on the chain
 * (refusing one in flight or already in a block), then it is handed to the consensus plug-in.
 * A refused envelope never reaches consensus, so never a block. Envelopes are received as raw
 * octets (rpc_call_recv_bytes) and handed on as they came: the block holds exactly what the
 * client sent, so its SHA-256 is the Merkle leaf the client can prove.
 *
 * A stream that brings no envelope for limits.broadcast_idle, or whose client takes no answer
 * for that long, ends (with OK: the client may open another at once), so that forgotten or
 * idle streams do not hold the orderer's stream slots.
 *
 * When the consensus plug-in never waits in order() (pbft), envelopes are judged on the
 * server's completion-queue thread as they arrive (rpc_call_serve_inline), without waking the
 * stream's thread for each; otherwise (solo, which holds senders back when its queue is full)
 * on the stream's thread.
 */
#include "orderer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <string.h>

/* Judges and, when valid, orders the envelope of `len` octets at `env`; fills `resp`
 * (pointing into `v`). */
static void handle_one(struct orderer *o, struct arena *a, const uint8_t *env, size_t len,
                       Stele__BroadcastResponse *resp, struct intake_verdict *v)
{
    int rc = intake_check_broadcast_bytes(&o->intake, a, env, len, NULL, v);
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
    rc = consensus_order(o->consensus, env, len, v->tx_id, v->hash);
    if (rc) {
        chain_unclaim_tx(o->chain, v->tx_id);
        v->status = rc == STELE_ERR_UNAVAILABLE ? STELE__STATUS__STATUS_SERVICE_UNAVAILABLE
                    : rc == STELE_ERR_TOO_BIG   ? STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE
                                                : STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR;
        v->info = rc == STELE_ERR_UNAVAILABLE ? "consensus is not accepting envelopes now"
                                              : stele_strerror(rc);
    }
out:
    atomic_fetch_add_explicit(v->status == STELE__STATUS__STATUS_SUCCESS    ? &o->counts.accepted
                              : v->status == STELE__STATUS__STATUS_CONFLICT ? &o->counts.duplicate
                                                                            : &o->counts.refused,
                              1, memory_order_relaxed);
    resp->status = v->status;
    resp->info = (char *)v->info;
    resp->tx_id = v->tx_id;
}

struct stream {
    struct orderer *o;
    struct arena *a; /* scratch for one envelope */
};

/* rpc_inline_fn: answers one envelope of the stream; the answer goes to `reply`. */
static int answer_one(void *arg, const uint8_t *env, size_t len, struct buf *reply)
{
    struct stream *st = arg;
    Stele__BroadcastResponse out = STELE__BROADCAST_RESPONSE__INIT;
    struct intake_verdict v;
    handle_one(st->o, st->a, env, len, &out, &v);
    if (out.status != STELE__STATUS__STATUS_SUCCESS)
        log_debug("orderer", "broadcast refused (%d): %s", out.status, out.info);
    int rc = pb_pack_buf(&out.base, reply);
    arena_reset(st->a);
    return rc;
}

static enum rpc_code broadcast(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    struct stream st = {.o = arg, .a = arena_create(0)};
    if (!st.a)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    struct buf raw, reply;
    buf_init(&raw);
    buf_init(&reply);
    int rc = STELE_OK;
    if (consensus_order_never_waits(st.o->consensus)) {
        rc = rpc_call_serve_inline(call, answer_one, &st);
    } else {
        /* an answer the client does not take within broadcast_idle ends the stream as an
         * envelope that does not come does (rpc_call_serve_inline() stops reading then) */
        int idle =
            st.o->cfg->limits.broadcast_idle_ms ? (int)st.o->cfg->limits.broadcast_idle_ms : -1;
        while (rc == STELE_OK) {
            buf_clear(&raw);
            buf_clear(&reply);
            if ((rc = rpc_call_recv_bytes(call, &raw, -1)) == STELE_OK &&
                (rc = answer_one(&st, raw.data, raw.len, &reply)) == STELE_OK)
                rc = rpc_call_send_bytes_wait(call, reply.data, reply.len, idle);
        }
    }
    buf_release(&raw);
    buf_release(&reply);
    arena_destroy(st.a);
    if (rc == STELE_ERR_NOT_FOUND) /* the client's end of stream */
        return RPC_OK;
    if (rc == STELE_ERR_TIMEOUT) { /* nothing came, or went, for broadcast_idle: let go of it */
        log_debug("orderer", "broadcast stream idle for %llu ms: ended",
                  (unsigned long long)st.o->cfg->limits.broadcast_idle_ms);
        return RPC_OK;
    }
    return rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
}

int orderer_broadcast_register(struct orderer *o, struct rpc_server *s)
{
    const struct rpc_method m = {
        .path = "/stele.AtomicBroadcast/Broadcast",
        .kind = RPC_BIDI_STREAM,
        .request = &stele__envelope__descriptor,
        .handler = broadcast,
        .arg = o,
        .idle_ms = (int)o->cfg->limits.broadcast_idle_ms,
    };
    return rpc_server_add(s, &m, 1);
}
