/*
 * gateway_submit.c — stele.Gateway/Submit (gateway.c says what the gateway does): checks that
 * the envelope's creator, issued by a CA of the channel, signed it, sends it to every orderer
 * over the gateway's shared Broadcast streams (broadcaster.c), answers once f + 1 of the
 * channel's orderers accepted it (or all answered) and, when asked, waits for it to commit on
 * this peer (events.c).
 */
#include "peer_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/envelope.h"
#include "ledger/pbft_msg.h"
#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define GW_BROADCAST_MS 5000 /* one orderer's answer to one envelope */

/* The name of an orderer's status; an orderer may send any number. */
static const char *status_name(Stele__Status st)
{
    if (st == STELE__STATUS__STATUS_UNKNOWN)
        return "none";
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&stele__status__descriptor, (int)st);
    return v ? v->name : "unknown";
}

/* The orderers of the channel (its configuration; the addresses configured when it names
 * none): f + 1 of them must accept an envelope, whichever of them this peer sends to. */
static size_t channel_orderers(const struct peer *p)
{
    const Stele__ChannelConfig *c = kvledger_config(p->ledger);
    return c && c->n_orderers ? c->n_orderers : p->n_orderers;
}

static enum rpc_code submit(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct arena *a = rpc_call_arena(call);
    const Stele__SubmitRequest *sr = (const Stele__SubmitRequest *)req;
    struct envelope_view ev;
    const char *why = NULL;
    /* Never relayed: an orderer drops the whole Broadcast stream on a message over its cap,
     * and every Submit shares those streams. */
    uint64_t cap = peer_gateway_submit_cap(p);
    if (sr->envelope.len > cap)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "the envelope is %zu octets; the channel's orderers take at most "
                              "%llu (absolute_max_bytes)",
                              sr->envelope.len, (unsigned long long)cap);
    if (envelope_parse(a, sr->envelope.data, sr->envelope.len, 0, &ev, &why) != STELE_OK)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "the envelope does not open: %s",
                              why ? why : "malformed");
    if (strcmp(ev.header->channel_id, p->cfg->channel_id) != 0 ||
        ev.header->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "the envelope is not an endorser transaction of channel %s",
                              p->cfg->channel_id);
    /* Relayed only when its creator, issued by a CA of the channel, signed it: the gateway's
     * streams are shared, and a commit wait counts against the creator's share, so nobody may
     * have one in another's name because a faulty orderer accepted its envelope. Whether the
     * creator may still transact (revoked, expired) is the orderers' to say, FORBIDDEN. */
    struct identity *creator = arena_alloc(a, sizeof *creator);
    if (!creator)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    char *err = NULL;
    int rc = identity_verify(p->msp, a, ev.header->creator.data, ev.header->creator.len,
                             clock_wall_s(), creator, &err);
    if ((rc == STELE_ERR_REVOKED || rc == STELE_ERR_EXPIRED) && creator->ca_key)
        rc = STELE_OK; /* issued by the channel's CA: decoded, its key known */
    enum rpc_code refused = RPC_OK;
    if (rc)
        refused =
            rpc_call_error(call, rpc_code_from_status(rc), "the envelope's creator is refused: %s",
                           err ? err : stele_strerror(rc));
    free(err);
    if (refused != RPC_OK)
        return refused;
    if (identity_verify_signature(p->msp, creator, ev.envelope->payload.data,
                                  ev.envelope->payload.len, ev.envelope->signature.data,
                                  ev.envelope->signature.len) != STELE_OK)
        return rpc_call_error(call, RPC_UNAUTHENTICATED,
                              "the envelope's signature does not verify with its creator's key");
    Stele__SubmitResponse *r = arena_alloc(a, sizeof *r);
    if (!r)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__submit_response__init(r);
    r->tx_id = (char *)ev.header->tx_id;
    Stele__Status last = STELE__STATUS__STATUS_UNKNOWN;
    Stele__Status *st = arena_calloc(a, p->n_orderers ? p->n_orderers : 1, sizeof *st);
    if (!st)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    /* f + 1 acceptances, f the orderers that may fail: then at least one that works has the
     * envelope, and a silent orderer does not hold every Submit for GW_BROADCAST_MS. The
     * answer counts the orderers that held it by then (peer_broadcast_held: one that already
     * had the tx_id, from another orderer or an earlier Submit, holds it as well). */
    size_t enough = pbft_faults(channel_orderers(p)) + 1;
    peer_broadcast(peer_gateway_broadcaster(p), &sr->envelope, GW_BROADCAST_MS, enough, st);
    for (size_t i = 0; i < p->n_orderers; i++) {
        if (peer_broadcast_held(st[i]))
            r->orderers_accepted++;
        else
            last = st[i];
    }
    enum rpc_code short_code =
        last == STELE__STATUS__STATUS_UNKNOWN ? RPC_UNAVAILABLE : RPC_FAILED_PRECONDITION;
    if (!r->orderers_accepted)
        return rpc_call_error(call, short_code,
                              "no orderer accepted the transaction (last answer: %s, %d)",
                              status_name(last), (int)last);
    if (sr->wait) {
        int64_t left = sr->timeout_ms ? sr->timeout_ms : (int64_t)p->cfg->gateway.commit_timeout_ms;
        unsigned vc = 0;
        uint64_t number = 0;
        bool mine = false;
        /* the wait counts against the creator's share: it signed the envelope */
        rc = peer_wait_commit(p, call, creator->certhash, r->tx_id, left, &vc, &number, &mine);
        if (rc == STELE_OK) {
            r->committed = true;
            r->validation_code = vc;
            r->block_number = number;
        } else if (rc == STELE_ERR_LIMIT) { /* accepted all the same: say why nobody waited */
            r->wait_refused =
                mine ? arena_printf(a,
                                    "identity \"%s\" already has %d commit waits in progress on "
                                    "this peer, the most one identity may have",
                                    creator->id, PEER_MAX_COMMIT_WAITS_PER_CALLER)
                     : arena_printf(a, "%d commit waits are in progress on this peer",
                                    PEER_MAX_COMMIT_WAITERS);
            if (!r->wait_refused)
                r->wait_refused = "too many commit waits in progress on this peer";
        } else if (rc != STELE_ERR_TIMEOUT &&
                   rc != STELE_ERR_MALFORMED) { /* not committed yet, or no wait */
            return rpc_call_error(call, RPC_INTERNAL, "cannot look the transaction up: %s",
                                  stele_strerror(rc));
        }
    }
    /* Fewer than f + 1: perhaps only faulty orderers took it, and the others' refusal stands.
     * Only its commit, when the client waited and saw it, outweighs that. */
    if (r->orderers_accepted < enough && !r->committed)
        return rpc_call_error(call, short_code,
                              "only %u of the %zu orderers needed accepted the transaction (last "
                              "answer: %s, %d); it may still be ordered",
                              r->orderers_accepted, enough, status_name(last), (int)last);
    *resp = &r->base;
    return RPC_OK;
}

enum rpc_code peer_gateway_submit(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    enum rpc_code code = submit(call, req, resp, arg);
    atomic_fetch_add_explicit(code == RPC_OK ? &p->counts.submits_ok : &p->counts.submits_refused,
                              1, memory_order_relaxed);
    return code;
}
