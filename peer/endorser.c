/*
 * endorser.c — executing a signed proposal and signing the result (DESIGN §2 steps 1-2):
 * stele.Endorser/ProcessProposal, and the core the gateway uses for its own endorsement and for
 * Evaluate.
 *
 * A proposal is executed only when: it decodes; its header names this channel, an
 * ENDORSER_TRANSACTION, a creator, a nonce and the tx_id hex(SHA-256(nonce || creator)); the
 * creator is a member of a channel organisation now and signed exactly the proposal bytes; its
 * tx_id is not committed yet; and the chaincode is `_lifecycle` (run here, lifecycle.h) or has a
 * committed definition whose package is installed on this peer (run in a sandboxed host,
 * endorser_cc.c). The result is signed only for a success (status 200..299).
 *
 * The creator must also be valid at the proposal's timestamp, where validators judge it. The
 * chaincode reads the state as it goes, through one snapshot taken before it starts
 * (statedb_snapshot()): a block committed meanwhile does not show, so it never sees some keys
 * before a block and others after it, and the height reported is the snapshot's.
 */
#include "peer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/quota.h"
#include "base/status.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static enum rpc_code refuse(struct endorse_result *out, enum rpc_code code, const char *why)
{
    out->code = code;
    out->why = why;
    return code;
}

/* The state a proposal runs against: one snapshot of the committed state. */
struct view {
    struct statedb *db;
    const struct statedb_snap *snap;
};

/* Reads for the lifecycle rules, through the proposal's snapshot. */
static int lc_get(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                  bool *found, Stele__Version **version)
{
    const struct view *v = ctx;
    return lifecycle_statedb_get_at(v->db, v->snap, key, a, value, found, version);
}

static int lc_current(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                      bool *found)
{
    Stele__Version *version;
    return lc_get(ctx, key, a, value, found, &version);
}

/* For an approval `r` accepted so far: when the package it names is installed on this peer
 * and holds another chaincode than the definition's, the approval is refused (400): the
 * organisation would approve code it did not mean, run as that chaincode on its state (an
 * approve --package-hash with the wrong hash). A package not installed here is not checked:
 * an organisation may approve before it installs, as in Fabric. */
static int approval_package_check(struct peer *p, struct arena *a,
                                  const Stele__ChaincodeInvocation *inv, struct lifecycle_result *r)
{
    struct lifecycle_def ld;
    const char *why = NULL;
    struct ccstore_entry e;
    if (r->status != 200 || inv->n_args != 1 ||
        lifecycle_definition_open(a, inv->args[0].data, inv->args[0].len, &ld, &why) != STELE_OK ||
        ccstore_get(p, ld.def->package_hash.data, &e) != STELE_OK ||
        strcmp(e.name, ld.def->name) == 0)
        return STELE_OK;
    char hx[65];
    hex_encode(e.hash, sizeof e.hash, hx);
    const char *msg =
        arena_printf(a,
                     "package %.16s... installed on peer %s is chaincode %s %s, "
                     "not %s: approve %s with its own package",
                     hx, p->cfg->peer_id, e.name, e.version, ld.def->name, ld.def->name);
    if (!msg)
        return STELE_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    r->status = 400;
    r->why = msg;
    return STELE_OK;
}

/* Runs `_lifecycle` against `v`. */
static int run_lifecycle(struct peer *p, struct arena *a, const Stele__ChaincodeInvocation *inv,
                         const struct identity *creator, struct view *v, struct cc_outcome *o)
{
    struct lifecycle_state st = {lc_get, lc_current, v, .endorsing = true};
    struct lifecycle_result r;
    int rc = lifecycle_execute(a, kvledger_config(p->ledger), inv->function, inv->args, inv->n_args,
                               creator->org, creator->role, &st, &r);
    if (rc == STELE_OK && strcmp(inv->function, "approve") == 0)
        rc = approval_package_check(p, a, inv, &r);
    if (rc)
        return rc;
    o->status = r.status;
    o->message = r.status == 200 ? "" : r.why;
    o->payload = r.payload;
    o->rwset = r.rwset;
    return STELE_OK;
}

/* One run of a checked proposal. */
struct execution {
    struct cc_outcome o;
    const char *version; /* the definition it ran under ("" for _lifecycle) */
    uint64_t sequence;
};

/* Runs the checked proposal against `v`: `_lifecycle` here, another chaincode if committed
 * and installed. Returns RPC_OK with *x, or a refusal in *out. */
static enum rpc_code execute(struct peer *p, struct arena *a, const Stele__Header *h,
                             const Stele__ChaincodeInvocation *inv, const struct identity *creator,
                             uint64_t at_ms, const struct endorse_hook *hook, struct view *v,
                             struct execution *x, struct endorse_result *out)
{
    memset(x, 0, sizeof *x);
    x->version = "";
    struct cc_outcome *o = &x->o;
    char *err = NULL;
    int rc;
    const char *busy = NULL;
    if (strcmp(inv->chaincode, LIFECYCLE_NS) == 0) {
        if (hook && hook->checked(hook->arg, creator, NULL, &busy) != STELE_OK)
            return refuse(out, RPC_RESOURCE_EXHAUSTED, busy ? busy : "too many calls in progress");
        rc = run_lifecycle(p, a, inv, creator, v, o);
    } else {
        const Stele__ChaincodeDefinition *d = NULL;
        rc = lifecycle_definition_get_at(v->db, v->snap, a, inv->chaincode, &d);
        if (!d && rc == STELE_ERR_NOT_FOUND) {
            const char *why = arena_printf(a, "chaincode %s is not committed on channel %s",
                                           inv->chaincode, p->cfg->channel_id);
            return refuse(out, RPC_NOT_FOUND, why ? why : "chaincode not committed");
        }
        if (!d)
            return refuse(out, RPC_INTERNAL, "cannot read the chaincode's definition");
        char so[PATH_MAX];
        if (ccstore_so_path(p, d->package_hash.data, so, sizeof so) != STELE_OK) {
            const char *why =
                arena_printf(a, "chaincode %s %s (sequence %llu) is not installed on peer %s",
                             d->name, d->version, (unsigned long long)d->sequence, p->cfg->peer_id);
            return refuse(out, RPC_FAILED_PRECONDITION, why ? why : "chaincode not installed");
        }
        x->version = d->version;
        x->sequence = d->sequence;
        struct cc_call c = {.chaincode = inv->chaincode,
                            .so_path = so,
                            .inv = inv,
                            .tx_id = h->tx_id,
                            .timestamp_ms = at_ms,
                            .creator = creator,
                            .snap = v->snap};
        if (hook && hook->checked(hook->arg, creator, d, &busy) != STELE_OK)
            return refuse(out, RPC_RESOURCE_EXHAUSTED, busy ? busy : "too many calls in progress");
        rc = peer_run_chaincode(p, a, &c, o, &err);
        if (rc == STELE_ERR_STATE) { /* the package holds another chaincode: not a failure */
            const char *why = arena_strdup(a, err ? err : "the package holds another chaincode");
            free(err);
            return refuse(out, RPC_FAILED_PRECONDITION, why ? why : "wrong package");
        }
        if (rc) {
            const char *why = arena_printf(a, "chaincode %s failed: %s", inv->chaincode,
                                           err ? err : stele_strerror(rc));
            free(err);
            log_warn("peer", "%s", why ? why : "chaincode failed");
            /* ABORTED whatever the cause: the chaincode failed, not the call (the message
               says why: timed out, memory, forbidden system call, crash) */
            return refuse(out, RPC_ABORTED, why ? why : "chaincode failed");
        }
    }
    if (rc)
        return refuse(out, RPC_INTERNAL, "cannot execute the proposal");
    return RPC_OK;
}

static enum rpc_code endorse(struct peer *p, struct arena *a, const Stele__SignedProposal *sp,
                             bool sign, const struct endorse_hook *hook, struct endorse_result *out)
{
    memset(out, 0, sizeof *out);
    out->code = RPC_OK;
    if (sp->proposal_bytes.len > PEER_MAX_PROPOSAL)
        return refuse(out, RPC_INVALID_ARGUMENT, "the proposal is too large");
    const Stele__Proposal *pr = (const Stele__Proposal *)pb_unpack(
        &stele__proposal__descriptor, a, sp->proposal_bytes.data, sp->proposal_bytes.len, 0);
    if (!pr || !pr->header || !pr->invocation)
        return refuse(out, RPC_INVALID_ARGUMENT, "the proposal does not decode");
    const Stele__Header *h = pr->header;
    char tx_id[ENVELOPE_TXID_LEN + 1];
    if (strcmp(h->channel_id, p->cfg->channel_id) != 0)
        return refuse(out, RPC_INVALID_ARGUMENT, "the proposal is for another channel");
    uint64_t at_ms = 0;
    int trc = envelope_time_check(h->timestamp, clock_wall_ms(), ENVELOPE_TIME_WINDOW_MS, &at_ms);
    if (h->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION || !h->creator.len ||
        h->nonce.len < ENVELOPE_MIN_NONCE || h->nonce.len > ENVELOPE_MAX_NONCE ||
        trc == STELE_ERR_MALFORMED ||
        envelope_tx_id(h->nonce.data, h->nonce.len, h->creator.data, h->creator.len, tx_id) ||
        strcmp(tx_id, h->tx_id) != 0)
        return refuse(out, RPC_INVALID_ARGUMENT,
                      "the proposal's header is not that of an endorser transaction (type, "
                      "creator, nonce, timestamp, tx_id = SHA-256(nonce || creator))");
    /* chaincode reads this time as the transaction's, and the orderers refuse the envelope
       outside the same window: an old or future-dated proposal is refused before it runs */
    if (trc)
        return refuse(out, rpc_code_from_status(trc),
                      "the proposal's timestamp is more than 15 minutes from this peer's clock "
                      "(check the client's clock; sign proposals when sending them)");
    const Stele__ChaincodeInvocation *inv = pr->invocation;
    if (!tx_chaincode_name_ok(inv->chaincode))
        return refuse(out, RPC_INVALID_ARGUMENT, "the proposal names no valid chaincode");
    struct identity *creator = arena_alloc(a, sizeof *creator);
    if (!creator)
        return refuse(out, RPC_RESOURCE_EXHAUSTED, "out of memory");
    char *err = NULL;
    int rc =
        identity_verify(p->msp, a, h->creator.data, h->creator.len, clock_wall_s(), creator, &err);
    if (rc) {
        const char *why =
            arena_printf(a, "the creator is refused: %s", err ? err : stele_strerror(rc));
        free(err);
        return refuse(out, rpc_code_from_status(rc), why ? why : "the creator is refused");
    }
    /* Validators judge the creator at the transaction's time, its header's timestamp (up to
       15 minutes from now): a creator not valid then makes the transaction CREATOR_EXPIRED
       whatever it did, so endorsing it would only waste an ordering. */
    uint64_t at_s = (uint64_t)h->timestamp->seconds;
    if (at_s < creator->fields.valid_from || at_s >= identity_valid_until(&creator->fields)) {
        const char *why = arena_printf(
            a,
            "the creator is refused: identity \"%s\" is valid from %llu to %llu, not at the "
            "proposal's timestamp %llu, where validation judges it (the transaction would be "
            "CREATOR_EXPIRED); date the proposal within its validity",
            creator->id, (unsigned long long)creator->fields.valid_from,
            (unsigned long long)identity_valid_until(&creator->fields), (unsigned long long)at_s);
        return refuse(out, RPC_UNAUTHENTICATED, why ? why : "the creator is refused");
    }
    struct crypto_key *pub = NULL;
    rc = (creator->fields.key_usage & ECQV_USAGE_SIGN) ? identity_public_key(p->msp, creator, &pub)
                                                       : STELE_ERR_PERMISSION;
    if (rc == STELE_OK)
        rc = tx_proposal_verify(pub, sp->proposal_bytes.data, sp->proposal_bytes.len,
                                sp->signature.data, sp->signature.len);
    crypto_key_destroy(pub);
    if (rc != STELE_OK)
        return refuse(out, RPC_UNAUTHENTICATED,
                      "the proposal's signature does not verify with its creator's key (it covers "
                      "\"" TX_DOMAIN_PROPOSAL "\\0\" || proposal_bytes)");
    rc = blockstore_txid_taken(kvledger_blocks(p->ledger), h->tx_id, NULL);
    if (rc == STELE_OK)
        return refuse(out, RPC_ALREADY_EXISTS, "a transaction with this tx_id is committed");
    if (rc != STELE_ERR_NOT_FOUND)
        return refuse(out, RPC_INTERNAL, "cannot look the tx_id up in the block store");
    out->tx_id = arena_strdup(a, h->tx_id);
    bool mine = false;
    if (quota_take(p->executing, creator->certhash, &mine) != STELE_OK) {
        const char *why =
            mine ? arena_printf(a,
                                PEER_BUSY_MARK "%s for identity \"%s\": it has %d, the most "
                                               "one identity may have; wait for one to end",
                                p->cfg->peer_id, creator->id, PEER_MAX_EXECUTING_PER_CALLER)
                 : arena_printf(a, PEER_BUSY_MARK "%s: %d, the most it runs at once; retry shortly",
                                p->cfg->peer_id, PEER_WORKERS);
        return refuse(out, RPC_RESOURCE_EXHAUSTED, why ? why : "too many proposals executing");
    }
    /* run it against one state, a snapshot: blocks committed while it runs do not show */
    struct view v = {.db = kvledger_state(p->ledger)};
    struct statedb_snap *snap = NULL;
    if (statedb_snapshot(v.db, &snap) != STELE_OK) {
        quota_give(p->executing, creator->certhash);
        return refuse(out, RPC_INTERNAL, "cannot read the state database");
    }
    v.snap = snap;
    struct execution x;
    enum rpc_code code = execute(p, a, h, inv, creator, at_ms, hook, &v, &x, out);
    quota_give(p->executing, creator->certhash);
    out->height = statedb_snap_height(snap);
    statedb_snapshot_release(v.db, snap);
    if (code != RPC_OK)
        return code;
    struct cc_outcome o = x.o;
    Stele__Response *resp = arena_alloc(a, sizeof *resp);
    if (!resp)
        return refuse(out, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__response__init(resp);
    resp->status = o.status;
    resp->message = (char *)(o.message ? o.message : "");
    resp->payload = o.payload;
    out->response = resp;
    if (o.status < 200 || o.status > 299 || !sign)
        return RPC_OK;
    struct tx_result r = {.chaincode = inv->chaincode,
                          .version = x.version,
                          .sequence = x.sequence,
                          .rwset = o.rwset,
                          .response = resp,
                          .event = o.event};
    struct buf b;
    buf_init(&b);
    if ((rc = tx_response_payload_build(sp->proposal_bytes.data, sp->proposal_bytes.len, &r, &b)) ||
        (rc = tx_endorse(msp_sigcache(p->msp), tx_endorsement_version(kvledger_config(p->ledger)),
                         b.data, b.len, p->self.identity.data, p->self.identity.len, p->self.key,
                         out->sig))) {
        buf_release(&b);
        return refuse(out, RPC_INTERNAL, "cannot sign the endorsement");
    }
    out->payload.data = (b.len ? arena_memdup(a, b.data, b.len) : arena_alloc(a, 1));
    out->payload.len = b.len;
    buf_release(&b);
    if (!out->payload.data)
        return refuse(out, RPC_RESOURCE_EXHAUSTED, "out of memory");
    out->endorsed = true;
    return RPC_OK;
}

enum rpc_code peer_endorse(struct peer *p, struct arena *a, const Stele__SignedProposal *sp,
                           bool sign, const struct endorse_hook *hook, struct endorse_result *out)
{
    return endorse(p, a, sp, sign, hook, out);
}

void peer_count_proposal(struct peer *p, bool endorsed)
{
    atomic_fetch_add_explicit(endorsed ? &p->counts.endorsed : &p->counts.endorse_refused, 1,
                              memory_order_relaxed);
}

/* The ProposalResponse of a result, in the call's arena. */
enum rpc_code peer_endorse_response(struct peer *p, struct rpc_call *call,
                                    const struct endorse_result *r, ProtobufCMessage **resp)
{
    struct arena *a = rpc_call_arena(call);
    Stele__ProposalResponse *pr = arena_alloc(a, sizeof *pr);
    if (!pr)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__proposal_response__init(pr);
    pr->response = r->response;
    pr->ledger_height = r->height;
    if (r->endorsed) {
        Stele__Endorsement *e = arena_alloc(a, sizeof *e);
        uint8_t *sig = arena_memdup(a, r->sig, sizeof r->sig);
        if (!e || !sig)
            return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
        stele__endorsement__init(e);
        e->endorser = (ProtobufCBinaryData){p->self.identity.len, p->self.identity.data};
        e->signature = (ProtobufCBinaryData){sizeof r->sig, sig};
        pr->payload = r->payload;
        pr->endorsement = e;
    }
    *resp = &pr->base;
    return RPC_OK;
}

static enum rpc_code process_proposal(struct rpc_call *call, const ProtobufCMessage *req,
                                      ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct endorse_result r;
    enum rpc_code code =
        peer_endorse(p, rpc_call_arena(call), (const Stele__SignedProposal *)req, true, NULL, &r);
    peer_count_proposal(p, code == RPC_OK && r.endorsed);
    if (code != RPC_OK)
        return rpc_call_error(call, r.code, "%s", r.why);
    return peer_endorse_response(p, call, &r, resp);
}

int peer_endorser_register(struct peer *p, struct rpc_server *s)
{
    const struct rpc_method m[] = {
        {.path = "/stele.Endorser/ProcessProposal",
         .kind = RPC_UNARY,
         .request = &stele__signed_proposal__descriptor,
         .handler = process_proposal,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_PROPOSAL},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
