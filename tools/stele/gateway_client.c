/* gateway_client.c — see gateway_client.h. */
#include "gateway_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "identity/enrolment.h"
#include "crypto/hash.h"
#include "ledger/envelope.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/common.pb-c.h"
#include "stele/peer.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_CALL_MS            60000
#define GW_MAX_COMMIT_WAIT_MS 600000 /* the longest commit_timeout a peer may have */

/* The channel the peer serves (public ChainInfo). */
static int channel_of(struct peer_opts *o, const char *prog, char *out, size_t n)
{
    int rc = 0;
    if (!o->ch && !(o->ch = peer_client_open(o, prog, NULL, &rc)))
        return rc;
    Stele__PeerChainInfoRequest rq = STELE__PEER_CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    char d[PEER_CLIENT_DETAIL_MAX];
    if ((rc = rpc_unary(o->ch, "/stele.Query/ChainInfo", &rq.base,
                        &stele__peer_chain_info__descriptor, &m, 10000, &res)))
        return cli_fail(prog, peer_client_failure(rc, &res), "%s: %s", o->peer,
                        peer_client_detail(&res, "no answer", d, sizeof d));
    snprintf(out, n, "%s", ((Stele__PeerChainInfo *)m)->channel_id);
    pb_free(m);
    return 0;
}

/* A signed proposal for `r` (bytes in `prop`, signature in `sig`). */
static int propose(struct peer_opts *o, const char *prog, const struct gw_request *r,
                   const char *channel, struct buf *prop, uint8_t sig[64],
                   Stele__SignedProposal *sp, char tx_id[65])
{
    struct tx_proposal_params pp = {.channel_id = channel,
                                    .creator = o->self.identity.data,
                                    .creator_len = o->self.identity.len,
                                    .chaincode = r->chaincode,
                                    .function = r->function,
                                    .args = r->args,
                                    .n_args = r->n_args};
    buf_clear(prop);
    int rc = tx_proposal_build(&pp, o->self.key, prop, sig, tx_id);
    if (rc)
        return cli_fail(prog, rc, "cannot build the proposal: %s", stele_strerror(rc));
    stele__signed_proposal__init(sp);
    sp->proposal_bytes = (ProtobufCBinaryData){prop->len, prop->data};
    sp->signature = (ProtobufCBinaryData){64, sig};
    return 0;
}

static void take_response(struct gw_outcome *out, const Stele__Response *resp)
{
    free(out->message);
    free(out->payload.data);
    out->message = strdup(resp && resp->message ? resp->message : "");
    out->payload.len = 0;
    out->payload.data = NULL;
    out->answered = resp != NULL;
    out->status = resp ? resp->status : 0;
    if (resp && resp->payload.len && (out->payload.data = malloc(resp->payload.len))) {
        memcpy(out->payload.data, resp->payload.data, resp->payload.len);
        out->payload.len = resp->payload.len;
    }
}

/* `s` (the chaincode's or a peer's words) as peer_client_fput_printable() writes it, malloc'd
 * (NULL when out of memory). */
static char *printable(const char *s)
{
    char *out = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&out, &n);
    if (!m)
        return NULL;
    peer_client_fput_printable(s, m);
    if (fclose(m) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int call_failed(const char *prog, const char *peer, int rc, const struct rpc_result *res)
{
    char *safe = printable(res->detail);
    rc = cli_fail(prog, peer_client_failure(rc, res), "%s: %s (%s)", peer,
                  !res->detail[0] ? "no detail"
                  : safe          ? safe
                                  : "(out of memory)",
                  rpc_code_name(res->code));
    free(safe);
    return rc;
}

/* "chaincode NAME answered STATUS: MESSAGE" (exit 1). */
static int refused(const char *prog, const char *chaincode, const struct gw_outcome *out)
{
    char *safe = printable(out->message ? out->message : "");
    int rc = cli_fail(prog, STELE_ERR_PERMISSION, "chaincode %s answered %d: %s", chaincode,
                      out->status, safe ? safe : "(out of memory)");
    free(safe);
    return rc;
}

int gw_evaluate(struct peer_opts *o, const char *prog, const struct gw_request *r,
                struct gw_outcome *out)
{
    memset(out, 0, sizeof *out);
    char channel[128];
    int rc = channel_of(o, prog, channel, sizeof channel);
    if (rc)
        return rc;
    struct buf prop;
    uint8_t sig[64];
    Stele__SignedProposal sp;
    buf_init(&prop);
    if ((rc = propose(o, prog, r, channel, &prop, sig, &sp, out->tx_id))) {
        buf_release(&prop);
        return rc;
    }
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    rc = rpc_unary(o->ch, "/stele.Gateway/Evaluate", &sp.base,
                   &stele__proposal_response__descriptor, &m, GW_CALL_MS, &res);
    buf_release(&prop);
    if (rc)
        return call_failed(prog, o->peer, rc, &res);
    take_response(out, ((Stele__ProposalResponse *)m)->response);
    pb_free(m);
    out->attempts = 1;
    if (out->status < 200 || out->status > 299)
        return refused(prog, r->chaincode, out);
    return 0;
}

/* Checks that the payload a gateway prepared carries exactly the proposal `prop` and a
 * response payload for it, and takes the chaincode's response from what the endorsers signed.
 * Returns 0 or the exit status (printed). */
static int check_prepared(const char *prog, const char *peer, const Stele__PreparedTransaction *pt,
                          const struct buf *prop, struct gw_outcome *out)
{
    int rc = 0;
    uint8_t h[32];
    Stele__Payload *pl = (Stele__Payload *)pb_unpack(&stele__payload__descriptor, NULL,
                                                     pt->payload.data, pt->payload.len, 0);
    Stele__Transaction *t =
        pl ? (Stele__Transaction *)pb_unpack(&stele__transaction__descriptor, NULL, pl->data.data,
                                             pl->data.len, 0)
           : NULL;
    Stele__ProposalResponsePayload *rp =
        t ? (Stele__ProposalResponsePayload *)pb_unpack(
                &stele__proposal_response_payload__descriptor, NULL, t->response_payload.data,
                t->response_payload.len, 0)
          : NULL;
    if (!rp || !pl->header || t->proposal_bytes.len != prop->len ||
        memcmp(t->proposal_bytes.data, prop->data, prop->len) != 0 ||
        crypto_sha256(prop->data, prop->len, h) != STELE_OK || rp->proposal_hash.len != 32 ||
        memcmp(rp->proposal_hash.data, h, 32) != 0 || !rp->response)
        rc = cli_fail(prog, STELE_ERR_AUTH,
                      "%s prepared a transaction that is not this proposal's: not signed", peer);
    else
        take_response(out, rp->response);
    pb_free(rp ? &rp->base : NULL);
    pb_free(t ? &t->base : NULL);
    pb_free(pl ? &pl->base : NULL);
    return rc;
}

/* attempt(): the endorsers computed different results (one peer had committed a block the
 * other had not yet): a new proposal may agree. */
#define GW_AGAIN (-1)
/* attempt(): the gateway was busy; the same request may be made again a moment later. */
#define GW_BUSY           (-2)
#define GW_MAX_BUSY_WAITS 100 /* of 50 ms */

/* Submits the signed envelope `env` through the gateway and, with `wait`, waits for its commit
 * on that peer: out gets the orderers' count, and the commit. */
static int submit_env(struct peer_opts *o, const char *prog, const ProtobufCBinaryData *env,
                      bool wait, uint32_t timeout_ms, struct gw_outcome *out)
{
    ProtobufCMessage *sm = NULL;
    struct rpc_result res = {0};
    Stele__SubmitRequest sr = STELE__SUBMIT_REQUEST__INIT;
    sr.envelope = *env;
    sr.wait = wait;
    sr.timeout_ms = timeout_ms;
    int rc =
        rpc_unary(o->ch, "/stele.Gateway/Submit", &sr.base, &stele__submit_response__descriptor,
                  &sm, GW_CALL_MS + (int)(timeout_ms ? timeout_ms : GW_MAX_COMMIT_WAIT_MS), &res);
    if (rc) {
        pb_free(sm);
        return call_failed(prog, o->peer, rc, &res);
    }
    const Stele__SubmitResponse *su = (const Stele__SubmitResponse *)sm;
    out->submitted = true;
    out->orderers = su->orderers_accepted;
    out->committed = su->committed;
    out->code = su->validation_code;
    out->block = su->block_number;
    if (wait && !su->committed && su->wait_refused && su->wait_refused[0]) {
        char *why = printable(su->wait_refused);
        rc =
            /* exit 3 as for a wait that timed out: accepted, so its outcome is unknown (1
             * would read "refused", and a script might submit it again) */
            cli_fail(prog, STELE_ERR_TIMEOUT,
                     "transaction %s was accepted by %u orderer(s); %s did not wait for its "
                     "commit: %s (stele tx %s tells whether it committed)",
                     out->tx_id, su->orderers_accepted, o->peer, why ? why : "refused", out->tx_id);
        free(why);
    } else if (wait && !su->committed)
        rc = cli_fail(prog, STELE_ERR_TIMEOUT,
                      "transaction %s was accepted by %u orderer(s) but has not committed on %s "
                      "yet",
                      out->tx_id, su->orderers_accepted, o->peer);
    pb_free(sm);
    return rc;
}

/* One attempt: propose, endorse, sign, submit, wait. With `may_retry`, a disagreement of the
 * endorsers returns GW_AGAIN quietly. */
static int attempt(struct peer_opts *o, const char *prog, const struct gw_request *r,
                   const char *channel, bool may_retry, struct gw_outcome *out)
{
    struct buf prop;
    uint8_t sig[64], psig[64];
    Stele__SignedProposal sp;
    buf_init(&prop);
    int rc = propose(o, prog, r, channel, &prop, sig, &sp, out->tx_id);
    ProtobufCMessage *m = NULL;
    ProtobufCBinaryData env = {0};
    struct rpc_result res = {0};
    if (rc)
        goto out;
    if ((rc = rpc_unary(o->ch, "/stele.Gateway/Endorse", &sp.base,
                        &stele__prepared_transaction__descriptor, &m, GW_CALL_MS, &res))) {
        if (may_retry && res.code == RPC_FAILED_PRECONDITION &&
            strstr(res.detail, "another result"))
            rc = GW_AGAIN;
        else if (res.code == RPC_RESOURCE_EXHAUSTED && out->busy_waits < GW_MAX_BUSY_WAITS)
            rc = GW_BUSY;
        else
            rc = call_failed(prog, o->peer, rc, &res);
        goto out;
    }
    const Stele__PreparedTransaction *pt = (const Stele__PreparedTransaction *)m;
    take_response(out, pt->result);
    if (out->status < 200 || out->status > 299 || !pt->payload.len) {
        rc = refused(prog, r->chaincode, out);
        goto out;
    }
    /* sign only the transaction of this very proposal, and report what the endorsers signed,
     * not what the gateway says they did */
    if ((rc = check_prepared(prog, o->peer, pt, &prop, out)))
        goto out;
    free(out->endorsers);
    struct buf names;
    buf_init(&names);
    for (size_t i = 0; i < pt->n_endorsers; i++)
        buf_printf(&names, "%s%s", i ? ", " : "", pt->endorsers[i]);
    out->endorsers = names.data ? strdup((char *)names.data) : strdup("");
    buf_release(&names);
    if ((rc = crypto_sign(o->self.key, pt->payload.data, pt->payload.len, psig)) ||
        (rc = tx_envelope_seal(pt->payload.data, pt->payload.len, psig, sizeof psig, &env))) {
        rc = cli_fail(prog, rc, "cannot sign the transaction: %s", stele_strerror(rc));
        goto out;
    }
    if (r->prepare) { /* signed, not sent: `stele submit` sends it */
        /* 0600 (whatever the umask): whoever reads it can have it ordered in DIR's name */
        errno = 0;
        if (enrolment_write_file(r->prepare, env.data, env.len, 0600) != STELE_OK)
            rc = peer_client_write_failed(prog, r->prepare, errno);
        goto out;
    }
    rc = submit_env(o, prog, &env, r->wait, r->timeout_ms, out);
out:
    free(env.data);
    pb_free(m);
    buf_release(&prop);
    return rc;
}

/* 0 when the transaction waited for committed VALID, else the failure (printed). */
static int committed_valid(const char *prog, const struct gw_outcome *out)
{
    if (out->code == STELE__TX_VALIDATION_CODE__VALID)
        return 0;
    return cli_fail(prog, STELE_ERR_CONFLICT, "transaction %s committed as %s in block %llu",
                    out->tx_id, peer_code_name(out->code), (unsigned long long)out->block);
}

int gw_submit_envelope(struct peer_opts *o, const char *prog, const ProtobufCBinaryData *env,
                       bool wait, uint32_t timeout_ms, struct gw_outcome *out)
{
    memset(out, 0, sizeof *out);
    /* The tx_id reported is the envelope's own (the peer's answer could name any), and what
     * is not a transaction at all is refused here. */
    struct arena *a = arena_create(0);
    struct envelope_view ev;
    const char *why = NULL;
    int rc = a ? envelope_parse(a, env->data, env->len, 0, &ev, &why) : STELE_ERR_NOMEM;
    if (rc == STELE_OK)
        snprintf(out->tx_id, sizeof out->tx_id, "%s", ev.header->tx_id);
    arena_destroy(a);
    if (rc)
        return cli_fail(prog, rc,
                        "not a signed transaction (as `stele invoke --prepare` writes): %s",
                        why ? why : stele_strerror(rc));
    if (!o->ch && !(o->ch = peer_client_open(o, prog, NULL, &rc)))
        return rc;
    out->attempts = 1;
    if ((rc = submit_env(o, prog, env, wait, timeout_ms, out)))
        return rc;
    return wait ? committed_valid(prog, out) : 0;
}

int gw_submit(struct peer_opts *o, const char *prog, const struct gw_request *r,
              struct gw_outcome *out)
{
    memset(out, 0, sizeof *out);
    char channel[128];
    int rc = channel_of(o, prog, channel, sizeof channel);
    if (rc)
        return rc;
    for (unsigned i = 0; i <= r->retries; i++) {
        out->attempts = i + 1;
        rc = attempt(o, prog, r, channel, i < r->retries, out);
        if (rc == GW_BUSY) { /* not an attempt: wait for room at the gateway */
            out->busy_waits++;
            clock_sleep_ms(50);
            i--;
            continue;
        }
        if (rc == GW_AGAIN) { /* the peers were a block apart: let them catch up */
            clock_sleep_ms(200);
            continue;
        }
        if (rc)
            return rc;
        if (!r->wait || r->prepare || out->code != STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT)
            break;
    }
    return r->wait && !r->prepare ? committed_valid(prog, out) : 0;
}

void gw_outcome_release(struct gw_outcome *out)
{
    free(out->message);
    free(out->payload.data);
    free(out->endorsers);
    memset(out, 0, sizeof *out);
}
