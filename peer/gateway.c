/*
 * gateway.c — stele.Gateway (proto/stele/peer.proto): what a client talks to.
 *   Evaluate      runs a proposal on this peer and answers the chaincode's response (nothing
 *                 is signed or ordered);
 *   Endorse       endorses on this peer and on peers of the other organisations that the
 *                 chaincode's endorsement policy names (gateway.peers): once the proposal has
 *                 passed this peer's checks, one peer each of the fewest other organisations
 *                 that would complete the policy is asked at once, while this peer executes
 *                 it, then more one at a time until the collected endorsements satisfy the
 *                 policy; every endorser must have produced the same response payload;
 *                 when they did not because one had committed a block the other had not
 *                 yet (each answer carries its ledger height), it waits for the one behind
 *                 and endorses again (gw_endorse_run()); answers the envelope payload for the
 *                 client to sign;
 *   Submit        (gateway_submit.c) checks that the envelope's creator, issued by a CA of the
 * channel, signed it, sends it to every orderer (under PBFT a faulty primary cannot drop it),
 *                 answers once f + 1 of the channel's orderers accepted it (or all answered)
 *                 and, when asked, waits for it to commit on this peer;
 *   CommitStatus  (events.c) waits for a transaction's commit.
 * A transaction refused with MVCC_READ_CONFLICT needs a new proposal (a new tx_id, signed by
 * the client), so retrying is the client's (`stele invoke --retries`).
 */
#include "peer_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/quota.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/batch_config.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/pbft_msg.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "policy/policy.h"
#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Endorse calls a gateway runs at once past their checks (the endorse hook, ask_early()). Each
 * may block a worker of the shared pool while another peer's worker serves its
 * ProcessProposal; with every worker of two peers so blocked on each other they would wait
 * until the timeout. Half the pool keeps the other half free for the other peers'
 * ProcessProposal; callers beyond it are told to retry. One identity (the proposal's verified
 * creator) may have half of them, so that others still get endorsed; a call is counted only
 * once its proposal verified, so that calls refused anyway take nobody's place. */
#define GW_MAX_ENDORSING            (PEER_WORKERS / 2)
#define GW_MAX_ENDORSING_PER_CALLER (GW_MAX_ENDORSING / 2)

/* Endorsements of one proposal when its endorsers disagree because their ledgers are a block
 * or two apart, and the first pause for a peer behind this one (doubling). */
#define GW_ENDORSE_ATTEMPTS 8
#define GW_SKEW_PAUSE_MS    20
#define GW_SKEW_MAX_BLOCKS  8 /* waited for at most: further ahead is a peer catching up */

struct peer_gateway {
    pthread_mutex_t mu;
    struct quota *shares;          /* Endorse calls past their checks, by creator (certhash) */
    struct rpc_channel **peers;    /* one per gateway.peers entry, opened on first use */
    struct rpc_channel **orderers; /* one per orderer, opened on first use */
    struct peer_broadcaster *bc;   /* Broadcast streams over `orderers` */
    struct identity self;          /* this peer's identity, decoded */
    struct arena *arena;           /* holds `self` */
};

int peer_gateway_create(struct peer *p, char **errmsg)
{
    struct peer_gateway *g = calloc(1, sizeof *g);
    if (!g)
        return STELE_ERR_NOMEM;
    pthread_mutex_init(&g->mu, NULL);
    p->gw = g;
    g->peers = calloc(p->cfg->gateway.n_peers + 1, sizeof *g->peers);
    g->orderers = calloc(p->n_orderers + 1, sizeof *g->orderers);
    g->arena = arena_create(0);
    g->shares = quota_create(GW_MAX_ENDORSING, GW_MAX_ENDORSING_PER_CALLER);
    if (!g->peers || !g->orderers || !g->arena || !g->shares)
        return STELE_ERR_NOMEM;
    int rc = identity_decode(g->arena, p->self.identity.data, p->self.identity.len, &g->self, NULL);
    if (rc)
        return stele_errf(errmsg, rc, "the peer's own identity does not decode");
    /* Envelopes that may wait for one orderer before its stream counts as not reading
     * (broadcaster.c; gateway.orderer_queue, 4,096 by default): far above what a burst of
     * Submits queues for an orderer that works; and up to 256 MiB of them, so that a few large
     * envelopes queued at once do not count as an orderer not reading either. */
    struct rpc_channel_opts co = {.max_message = p->cfg->limits.max_message,
                                  .stream_queue = (size_t)p->cfg->gateway.orderer_queue,
                                  .stream_queue_bytes = 256u << 20,
                                  .tls = cli_tls_client(&p->cfg->tls)};
    for (size_t i = 0; i < p->n_orderers; i++)
        if (!(g->orderers[i] = rpc_channel_open(p->orderers[i], &co, errmsg)))
            return STELE_ERR_CONFIG;
    return peer_broadcaster_create(p, g->orderers, p->n_orderers, &g->bc);
}

struct peer_broadcaster *peer_gateway_broadcaster(const struct peer *p)
{
    return p->gw->bc;
}

void peer_gateway_destroy(struct peer *p)
{
    struct peer_gateway *g = p->gw;
    if (!g)
        return;
    peer_broadcaster_destroy(g->bc); /* before the channels it uses */
    for (size_t i = 0; g->peers && i < p->cfg->gateway.n_peers; i++)
        rpc_channel_close(g->peers[i]);
    for (size_t i = 0; g->orderers && i < p->n_orderers; i++)
        rpc_channel_close(g->orderers[i]);
    free(g->peers);
    free(g->orderers);
    arena_destroy(g->arena);
    quota_destroy(g->shares);
    pthread_mutex_destroy(&g->mu);
    free(g);
    p->gw = NULL;
}

uint64_t peer_gateway_submit_cap(const struct peer *p)
{
    const Stele__ChannelConfig *c = kvledger_config(p->ledger);
    return c && c->batch && c->batch->absolute_max_bytes ? c->batch->absolute_max_bytes
                                                         : BATCH_MAX_BYTES;
}

/* The message cap of the channels to gateway peers. Their answer to a ProcessProposal is at
 * most twice absolute_max_bytes: what they endorse goes into an envelope of that size, and the
 * chaincode's response comes twice (beside the signed payload and in it). A larger one comes
 * from a faulty peer, and each Endorse call asking it would hold it whole, and decoded, until
 * it is judged. (A proposal sent is at most PEER_MAX_SIGNED_PROPOSAL.) */
static size_t remote_cap(const struct peer *p)
{
    uint64_t cap = 2 * peer_gateway_submit_cap(p) + (64u << 10);
    if (cap < PEER_MAX_SIGNED_PROPOSAL)
        cap = PEER_MAX_SIGNED_PROPOSAL;
    return cap < p->cfg->limits.max_message ? (size_t)cap : p->cfg->limits.max_message;
}

/* The channel in slot `*slot` to the gateway peer at `addr`, opened on first use. It fails
 * fast: a peer that cannot be reached is reported at once (and the next one of its
 * organisation asked), not after the endorsement timeout. */
static struct rpc_channel *channel(struct peer *p, struct rpc_channel **slot, const char *addr)
{
    struct peer_gateway *g = p->gw;
    pthread_mutex_lock(&g->mu);
    if (!*slot) {
        struct rpc_channel_opts co = {
            .max_message = remote_cap(p), .fail_fast = true, .tls = cli_tls_client(&p->cfg->tls)};
        char *err = NULL;
        if (!(*slot = rpc_channel_open(addr, &co, &err)))
            log_warn("gateway", "peer %s: %s", addr, err ? err : "cannot open a channel");
        free(err);
    }
    struct rpc_channel *ch = *slot;
    pthread_mutex_unlock(&g->mu);
    return ch;
}

static enum rpc_code gw_evaluate(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct endorse_result r;
    if (peer_endorse(p, rpc_call_arena(call), (const Stele__SignedProposal *)req, false, NULL,
                     &r) != RPC_OK)
        return rpc_call_error(call, r.code, "%s", r.why);
    return peer_endorse_response(p, call, &r, resp);
}

static bool named(const char *org, const char **orgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(orgs[i], org) == 0)
            return true;
    return false;
}

/* ---- endorsements of the other peers ------------------------------------------------------ */

/* One ProcessProposal to a gateway peer, asked asynchronously (its answer comes on the client
 * completion thread). */
struct remote_call {
    struct remote_set *set;
    size_t peer;            /* index in gateway.peers */
    int rc;                 /* of starting it, then of the call */
    struct rpc_result res;  /* code and detail */
    ProtobufCMessage *resp; /* the ProposalResponse when rc is STELE_OK (pb_free()) */
    bool disagreed;         /* remote_take(): it executed the proposal to another result */
    uint64_t height;        /* ... at this ledger height, by its word */
};

/* The remote endorsements of one Endorse call. Lives on the handler's stack: every call
 * started is waited for (remote_wait()) before the handler returns. */
struct remote_set {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending; /* started, not answered */
    struct remote_call calls[TX_MAX_ENDORSEMENTS];
    size_t n;
};

static void on_remote(void *arg, const struct rpc_result *res, ProtobufCMessage *resp)
{
    struct remote_call *c = arg;
    struct remote_set *s = c->set;
    pthread_mutex_lock(&s->mu);
    c->res = *res;
    c->resp = resp;
    c->rc = res->code != RPC_OK ? rpc_status_from_code(res->code)
            : resp              ? STELE_OK
                                : STELE_ERR_MALFORMED;
    if (--s->pending == 0)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Asks gateway peer `i` for its endorsement of `sp`; the answer (or why none) lands in the
 * next slot of `s`. */
static void remote_start(struct peer *p, struct remote_set *s, size_t i,
                         const Stele__SignedProposal *sp)
{
    if (s->n == TX_MAX_ENDORSEMENTS)
        return;
    struct remote_call *c = &s->calls[s->n++];
    memset(c, 0, sizeof *c);
    c->set = s;
    c->peer = i;
    struct rpc_channel *ch = channel(p, &p->gw->peers[i], p->cfg->gateway.peers[i].address);
    if (!ch) {
        c->rc = STELE_ERR_UNAVAILABLE;
        snprintf(c->res.detail, sizeof c->res.detail, "cannot open a channel");
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->pending++;
    pthread_mutex_unlock(&s->mu);
    /* on_remote may run (and set c->rc) before this returns: c->rc is set here only when it
     * will not run */
    int rc = rpc_unary_async(ch, "/stele.Endorser/ProcessProposal", &sp->base,
                             &stele__proposal_response__descriptor,
                             (int)p->cfg->gateway.endorse_timeout_ms, on_remote, c);
    if (rc != STELE_OK) {
        pthread_mutex_lock(&s->mu);
        c->rc = rc;
        s->pending--;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Waits until every call started has its answer. */
static void remote_wait(struct remote_set *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->pending > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void remote_set_init(struct remote_set *s)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->pending = s->n = 0;
}

/* Waits for the calls still out, then frees the answers nobody took. */
static void remote_set_release(struct remote_set *s)
{
    remote_wait(s);
    for (size_t i = 0; i < s->n; i++)
        pb_free(s->calls[i].resp);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* Takes the answer of call `c` (answered): when it is an endorsement of the payload `want`
 * (which this peer computed at `own_height`) by a signing member, appends it to
 * `ends`/`signers` and its endorser's "id (org)" to `names`. Returns NULL, or why it did not count
 * (in `a`); sets c->disagreed when the other peer executed the proposal to another result. */
static const char *remote_take(struct peer *p, struct arena *a, struct remote_call *c,
                               const ProtobufCBinaryData *want, uint64_t own_height,
                               Stele__Endorsement **ends, struct policy_signer *signers,
                               char **names, size_t *n)
{
    const char *addr = p->cfg->gateway.peers[c->peer].address;
    if (c->rc || !c->resp)
        return arena_printf(a, "%s: %s", addr,
                            c->res.detail[0] ? c->res.detail
                                             : stele_strerror(c->rc ? c->rc : STELE_ERR_INTERNAL));
    const Stele__ProposalResponse *r = (const Stele__ProposalResponse *)c->resp;
    const char *why = NULL;
    struct identity *id = arena_alloc(a, sizeof *id);
    struct crypto_key *pub = NULL;
    c->height = r->ledger_height;
    if (!r->response || r->response->status < 200 || r->response->status > 299 || !r->endorsement) {
        why = arena_printf(a, "%s: the chaincode answered %d: %s", addr,
                           r->response ? r->response->status : 0,
                           r->response ? r->response->message : "");
        c->disagreed = r->response != NULL; /* it ran, and failed where this peer succeeded */
    } else if (r->payload.len != want->len || memcmp(r->payload.data, want->data, want->len) != 0) {
        why = arena_printf(a,
                           "%s: computed another result than this peer (at ledger height "
                           "%llu; this peer at %llu)",
                           addr, (unsigned long long)r->ledger_height,
                           (unsigned long long)own_height);
        c->disagreed = true;
    } else if (!id ||
               identity_verify(p->msp, a, r->endorsement->endorser.data,
                               r->endorsement->endorser.len, clock_wall_s(), id, NULL) ||
               !(id->fields.key_usage & ECQV_USAGE_SIGN) || identity_public_key(p->msp, id, &pub) ||
               tx_endorsement_verify(msp_sigcache(p->msp),
                                     tx_endorsement_version(kvledger_config(p->ledger)), pub,
                                     want->data, want->len, r->endorsement->endorser.data,
                                     r->endorsement->endorser.len, r->endorsement->signature.data,
                                     r->endorsement->signature.len))
        why = arena_printf(a, "%s: its endorsement does not verify", addr);
    crypto_key_destroy(pub);
    if (!why) {
        Stele__Endorsement *e = arena_alloc(a, sizeof *e);
        uint8_t *who = arena_memdup(a, r->endorsement->endorser.data, r->endorsement->endorser.len);
        uint8_t *sig =
            arena_memdup(a, r->endorsement->signature.data, r->endorsement->signature.len);
        char *name = arena_printf(a, "%s (%s)", id->id, id->org);
        if (!e || !who || !sig || !name) {
            why = "out of memory";
        } else {
            stele__endorsement__init(e);
            e->endorser = (ProtobufCBinaryData){r->endorsement->endorser.len, who};
            e->signature = (ProtobufCBinaryData){r->endorsement->signature.len, sig};
            ends[*n] = e;
            signers[*n] = (struct policy_signer){id->org, id->role, id->certhash, 32};
            names[*n] = name;
            ++*n;
        }
    }
    pb_free(c->resp);
    c->resp = NULL;
    return why;
}

/* An Endorse call on its way. */
/* The creator's share of one Endorse call, taken once across its attempts. */
struct gw_share {
    bool held;
    uint8_t who[32]; /* the creator's certhash */
};

struct gw_endorsing {
    struct peer *p;
    struct arena *a;
    const Stele__SignedProposal *sp;
    struct gw_share *share;
    int policy_rc;      /* of reading it */
    struct policy *pol; /* the chaincode's endorsement policy; NULL for _lifecycle */
    bool *asked;        /* per gateway.peers entry: asked already */
    struct remote_set set;
    bool retry;            /* gw_endorse_done(): endorsers disagreed; another try may agree */
    bool ran;              /* gw_endorse_done(): this peer ran the proposal (peer_endorse()) */
    bool endorsed;         /* and endorsed it */
    const char *fail;      /* gw_endorse_done(): why the policy is not satisfied (in `a`) */
    const char *tx_id;     /* the proposal's, once this peer executed it */
    uint64_t own_height;   /* the ledger height this peer executed the proposal at */
    uint64_t own_after;    /* ... and its height once the chaincode had run */
    uint64_t other_height; /* the highest a disagreeing peer reported (0: none said) */
    bool busy_elsewhere;   /* a peer asked was too busy for the caller (PEER_BUSY_MARK) */
    bool failed_elsewhere; /* a peer asked did not endorse for another reason */
};

/* The first gateway peer of `org` not asked yet, or n_peers. */
static size_t next_peer_of(const struct gw_endorsing *e, const char *org)
{
    const struct peer_gateway_config *gc = &e->p->cfg->gateway;
    size_t i = 0;
    while (i < gc->n_peers && (e->asked[i] || strcmp(gc->peers[i].org, org) != 0))
        i++;
    return i;
}

/* endorse_hook: once the proposal is checked, takes its creator's share of the Endorse calls
 * (GW_MAX_ENDORSING_PER_CALLER; first attempt only), then asks peers of the other
 * organisations the policy names, so that they execute the proposal while this peer does: one
 * peer each of the fewest organisations, in the policy's order, that with this peer would
 * satisfy the policy if they endorse (policy_prefix_needed(); none when this peer alone does).
 * collect() asks further peers if some do not. */
static int ask_early(void *arg, const struct identity *creator,
                     const Stele__ChaincodeDefinition *def, const char **why)
{
    struct gw_endorsing *e = arg;
    struct peer *p = e->p;
    if (!e->share->held) {
        bool mine = false;
        if (quota_take(p->gw->shares, creator->certhash, &mine) != STELE_OK) {
            *why = mine ? arena_printf(e->a,
                                       "identity \"%s\" already has %d endorsements in progress "
                                       "at this gateway, the most one identity may have: wait "
                                       "for one to end",
                                       creator->id, GW_MAX_ENDORSING_PER_CALLER)
                        : arena_printf(e->a,
                                       "the gateway is busy (%d endorsements in progress): "
                                       "retry shortly",
                                       GW_MAX_ENDORSING);
            return STELE_ERR_LIMIT;
        }
        e->share->held = true;
        memcpy(e->share->who, creator->certhash, 32);
    }
    /* the policy of the definition this peer runs the proposal under (not the latest state's:
     * an upgrade committed since would ask for endorsements that do not fit its payload);
     * none for _lifecycle */
    e->pol = NULL;
    e->policy_rc =
        def ? policy_parse(def->endorsement_policy, strlen(def->endorsement_policy), &e->pol, NULL)
            : STELE_OK;
    if (e->policy_rc || !e->pol)
        return STELE_OK;
    const struct policy_signer self = {p->gw->self.org, p->gw->self.role, p->gw->self.certhash, 32};
    uint8_t ids[TX_MAX_ENDORSEMENTS]; /* ids[n] = n: each candidate a distinct signer */
    struct policy_signer cand[TX_MAX_ENDORSEMENTS];
    size_t peer_of[TX_MAX_ENDORSEMENTS], n = 0;
    const char *orgs[POLICY_MAX_PRINCIPALS];
    size_t n_orgs = policy_orgs(e->pol, orgs, POLICY_MAX_PRINCIPALS);
    for (size_t k = 0; k < n_orgs && k < POLICY_MAX_PRINCIPALS && n < TX_MAX_ENDORSEMENTS; k++) {
        size_t i = next_peer_of(e, orgs[k]);
        if (strcmp(orgs[k], p->gw->self.org) == 0 || i == p->cfg->gateway.n_peers)
            continue;
        ids[n] = (uint8_t)n;
        cand[n] = (struct policy_signer){orgs[k], "peer", &ids[n], 1};
        peer_of[n++] = i;
    }
    size_t ask = policy_prefix_needed(e->pol, &self, 1, cand, n);
    for (size_t j = 0; j < ask && j < n; j++) {
        e->asked[peer_of[j]] = true;
        remote_start(p, &e->set, peer_of[j], e->sp);
    }
    return STELE_OK;
}

static enum rpc_code gw_endorse_run(struct peer *p, struct rpc_call *call,
                                    const ProtobufCMessage *req, ProtobufCMessage **resp);

static enum rpc_code gw_endorse(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    return gw_endorse_run(arg, call, req, resp);
}

/* The endorsements after this peer's own (ends[0]): the answers of the peers asked early, in
 * the order asked, then one more peer at a time, of the organisations the policy names, until
 * the policy is satisfied. `tried` gets why the others did not count. */
static void collect(struct gw_endorsing *e, const ProtobufCBinaryData *want,
                    Stele__Endorsement **ends, struct policy_signer *signers, char **names,
                    size_t *n, const char **tried)
{
    struct peer *p = e->p;
    const struct peer_gateway_config *gc = &p->cfg->gateway;
    const char *orgs[POLICY_MAX_PRINCIPALS];
    size_t n_orgs = policy_orgs(e->pol, orgs, POLICY_MAX_PRINCIPALS);
    if (n_orgs > POLICY_MAX_PRINCIPALS) /* cannot be: a policy has at most that many principals */
        n_orgs = POLICY_MAX_PRINCIPALS;
    for (size_t next = 0;;) {
        remote_wait(&e->set);
        for (; next < e->set.n; next++) {
            struct remote_call *c = &e->set.calls[next];
            if (policy_satisfied(e->pol, signers, *n) || *n == TX_MAX_ENDORSEMENTS)
                continue; /* enough: remote_set_release() frees the answer */
            bool busy = c->rc && c->res.code == RPC_RESOURCE_EXHAUSTED &&
                        strncmp(c->res.detail, PEER_BUSY_MARK, strlen(PEER_BUSY_MARK)) == 0;
            const char *why = remote_take(p, e->a, c, want, e->own_height, ends, signers, names, n);
            if (why && busy)
                e->busy_elsewhere = true;
            else if (why)
                e->failed_elsewhere = true;
            if (c->disagreed) {
                e->retry = true; /* unless the policy is satisfied without it */
                if (c->height > e->other_height)
                    e->other_height = c->height;
            }
            if (why)
                *tried = arena_printf(e->a, "%s%s%s", *tried, (*tried)[0] ? "; " : "", why);
        }
        if (policy_satisfied(e->pol, signers, *n) || *n == TX_MAX_ENDORSEMENTS ||
            e->set.n == TX_MAX_ENDORSEMENTS)
            return;
        size_t i = 0;
        while (i < gc->n_peers && (e->asked[i] || !named(gc->peers[i].org, orgs, n_orgs)))
            i++;
        if (i == gc->n_peers)
            return;
        e->asked[i] = true;
        remote_start(p, &e->set, i, e->sp);
    }
}

/* When this peer's chaincode refused the proposal: whether a peer asked early, at a greater
 * ledger height, executed it successfully (this peer may not have committed yet what made it
 * succeed). Sets e->other_height to the greatest such height. */
static bool ahead_accepted(struct gw_endorsing *e)
{
    remote_wait(&e->set);
    for (size_t i = 0; i < e->set.n; i++) {
        const struct remote_call *c = &e->set.calls[i];
        const Stele__ProposalResponse *r = (const Stele__ProposalResponse *)c->resp;
        if (c->rc == STELE_OK && r && r->response && r->response->status >= 200 &&
            r->response->status <= 299 && r->ledger_height > e->own_height &&
            r->ledger_height > e->other_height)
            e->other_height = r->ledger_height;
    }
    return e->other_height > 0;
}

/* Endorses on this peer (asking the others early, ask_early()), collects the other peers'
 * endorsements, and answers the transaction payload for the client to sign. */
static enum rpc_code gw_endorse_done(struct peer *p, struct rpc_call *call, struct gw_endorsing *e,
                                     const struct endorse_hook *hook, ProtobufCMessage **resp)
{
    struct arena *a = e->a;
    const Stele__SignedProposal *sp = e->sp;
    if (!e->asked)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    struct endorse_result r;
    enum rpc_code ran = peer_endorse(p, a, sp, true, hook, &r);
    e->ran = true;
    e->endorsed = ran == RPC_OK && r.endorsed;
    if (ran != RPC_OK)
        return rpc_call_error(call, r.code, "%s", r.why);
    e->own_height = r.height;
    e->own_after = kvledger_height(p->ledger);
    e->tx_id = r.tx_id;
    Stele__PreparedTransaction *pt = arena_alloc(a, sizeof *pt);
    if (!pt)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__prepared_transaction__init(pt);
    pt->tx_id = (char *)r.tx_id;
    pt->result = r.response;
    *resp = &pt->base;
    if (!r.endorsed) { /* the chaincode refused: the client reads result */
        /* unless this peer, behind, had not seen what made it succeed */
        e->retry = ahead_accepted(e);
        return RPC_OK;
    }
    Stele__Endorsement *ends[TX_MAX_ENDORSEMENTS];
    struct policy_signer signers[TX_MAX_ENDORSEMENTS];
    char **names = arena_calloc(a, TX_MAX_ENDORSEMENTS, sizeof *names);
    Stele__Endorsement *own = arena_alloc(a, sizeof *own);
    uint8_t *sig = arena_memdup(a, r.sig, sizeof r.sig);
    if (!names || !own || !sig)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__endorsement__init(own);
    own->endorser = (ProtobufCBinaryData){p->self.identity.len, p->self.identity.data};
    own->signature = (ProtobufCBinaryData){sizeof r.sig, sig};
    ends[0] = own;
    signers[0] =
        (struct policy_signer){p->gw->self.org, p->gw->self.role, p->gw->self.certhash, 32};
    names[0] = arena_printf(a, "%s (%s)", p->gw->self.id, p->gw->self.org);
    size_t n = 1;
    if (e->policy_rc) /* read by the hook, which ran: this peer endorsed */
        return rpc_call_error(call, RPC_INTERNAL, "cannot read the endorsement policy: %s",
                              stele_strerror(e->policy_rc));
    const char *tried = "";
    if (e->pol)
        collect(e, &r.payload, ends, signers, names, &n, &tried);
    if (e->pol && policy_satisfied(e->pol, signers, n))
        e->retry = false;
    if (e->pol && !policy_satisfied(e->pol, signers, n)) {
        char *text = NULL;
        policy_format(e->pol, &text);
        e->fail = arena_printf(
            a, "the endorsements collected do not satisfy the policy %s%s%s", text ? text : "",
            tried[0] ? ": "
                     : " (no peer of the other organisations is configured under "
                       "gateway.peers)",
            tried);
        free(text);
        if (!e->fail)
            e->fail = "the endorsements collected do not satisfy the policy";
        /* gw_endorse_run() tries again, or answers e->fail: RESOURCE_EXHAUSTED when a peer
         * was too busy for this caller, as it would have answered (retry later) */
        return e->busy_elsewhere && !e->failed_elsewhere ? RPC_RESOURCE_EXHAUSTED
                                                         : RPC_FAILED_PRECONDITION;
    }
    ProtobufCBinaryData payload;
    int rc = tx_payload_build(sp->proposal_bytes.data, sp->proposal_bytes.len, r.payload.data,
                              r.payload.len, (const Stele__Endorsement *const *)ends, n, &payload);
    if (rc)
        return rpc_call_error(call, RPC_INTERNAL, "cannot build the transaction: %s",
                              stele_strerror(rc));
    pt->payload.data = arena_memdup(a, payload.data, payload.len);
    pt->payload.len = payload.len;
    free(payload.data);
    if (!pt->payload.data)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    pt->endorsers = names;
    pt->n_endorsers = n;
    return RPC_OK;
}

/* After an attempt whose endorsers disagreed (e->retry): whether to try again, once this has
 * waited for the peer behind — this one until it reaches the other's height, or a pause,
 * doubling, for another peer to reach this one's. Not when the time is up, when the other
 * claims to be far ahead (this peer is catching up: no quick agreement), or a second time when
 * both executed at the same height (a block committed meanwhile, or a chaincode that is not
 * deterministic). Heights are the other peer's word, unsigned: the wait is bounded. */
static bool skew_wait(struct peer *p, const struct gw_endorsing *e, uint64_t deadline, int *pause,
                      bool *level)
{
    uint64_t now = clock_mono_ms();
    if (now >= deadline)
        return false;
    int left = (int)(deadline - now);
    bool same =
        e->other_height == 0 || (e->other_height == e->own_height && e->own_after == e->own_height);
    if (same && *level)
        return false;
    if (e->other_height > e->own_after && e->other_height - e->own_after > GW_SKEW_MAX_BLOCKS)
        return false;
    log_info("peer",
             "gateway: the endorsers of %s disagree (this peer at ledger height %llu, another "
             "at %llu): endorsing again",
             e->tx_id ? e->tx_id : "?", (unsigned long long)e->own_height,
             (unsigned long long)e->other_height);
    *level = *level || same;
    if (e->other_height > e->own_after)
        return kvledger_wait(p->ledger, e->other_height - 1, left);
    clock_sleep_ms((uint64_t)(*pause < left ? *pause : left));
    *pause *= 2;
    return true;
}

/* Endorses; when an endorser computed another result than this peer, or refused what it
 * accepted (or accepted what it refused, at a greater height), because one of them had
 * committed a block the other had not yet, waits for the one behind and endorses again
 * (skew_wait()): up to GW_ENDORSE_ATTEMPTS attempts, started within gateway.endorse_timeout
 * (each remote endorsement has that long too). */
static enum rpc_code gw_endorse_run(struct peer *p, struct rpc_call *call,
                                    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    struct arena *a = rpc_call_arena(call);
    uint64_t t0 = clock_mono_us();
    uint64_t deadline = clock_mono_ms() + p->cfg->gateway.endorse_timeout_ms;
    int pause = GW_SKEW_PAUSE_MS;
    bool level = false;
    struct gw_share share = {0};
    bool ran = false, endorsed = false; /* the last attempt that ran the proposal */
    for (unsigned attempt = 1;; attempt++) {
        struct gw_endorsing e = {
            .p = p, .a = a, .sp = (const Stele__SignedProposal *)req, .share = &share};
        e.asked = arena_calloc(a, p->cfg->gateway.n_peers + 1, sizeof *e.asked);
        remote_set_init(&e.set);
        struct endorse_hook hook = {ask_early, &e};
        enum rpc_code code = gw_endorse_done(p, call, &e, &hook, resp);
        remote_set_release(&e.set);
        policy_destroy(e.pol);
        if (e.ran) {
            ran = true;
            endorsed = e.endorsed;
        }
        if (e.retry && attempt < GW_ENDORSE_ATTEMPTS &&
            skew_wait(p, &e, deadline, &pause, &level)) {
            *resp = NULL;
            continue;
        }
        if (share.held)
            quota_give(p->gw->shares, share.who);
        if (ran) { /* once per call, as the last attempt that ran it ended */
            peer_count_proposal(p, endorsed);
            ops_hist_observe_us(&p->counts.endorse_time, clock_mono_us() - t0);
        }
        return e.fail ? rpc_call_error(call, code, "%s", e.fail) : code;
    }
}

int peer_gateway_register(struct peer *p, struct rpc_server *s)
{
    const struct rpc_method m[] = {
        {.path = "/stele.Gateway/Evaluate",
         .kind = RPC_UNARY,
         .request = &stele__signed_proposal__descriptor,
         .handler = gw_evaluate,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_PROPOSAL},
        {.path = "/stele.Gateway/Endorse",
         .kind = RPC_UNARY,
         .request = &stele__signed_proposal__descriptor,
         .handler = gw_endorse,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_PROPOSAL},
        {.path = "/stele.Gateway/Submit",
         .kind = RPC_UNARY,
         .request = &stele__submit_request__descriptor,
         .handler = peer_gateway_submit,
         .arg = p,
         .max_request = (size_t)peer_gateway_submit_cap(p) + (64u << 10)},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
