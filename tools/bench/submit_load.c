/*
 * submit_load.c — the clients and the commit subscriber of `stele-bench submit`
 * (submit.h).
 *
 * A client is a thread with its gateway channel (shared with the other clients of that peer:
 * one HTTP/2 connection, as an application server would hold) and an identity. It keeps up to
 * `window` transactions between proposal and commit: it builds and signs a proposal, calls
 * Gateway/Endorse asynchronously, and when the answer comes signs the prepared payload and
 * calls Gateway/Submit without waiting for the commit. The answers arrive on the channel's
 * completion thread, which only queues them for the client (signing there would hold up every
 * other client's answers). The subscriber reads one Events/Blocks stream in the filtered form
 * (tx_ids and validation codes), finds each of our tx_ids in an index, records the commit and
 * frees the client's window slot.
 */
#include "submit.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "identity/identity.h"
#include "ledger/seek.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALL_MS    60000        /* one Endorse or Submit */
#define IDLE_NS    20000000ULL  /* a client re-checks the clock at least this often */
#define MAX_BURST  100000000ULL /* --rate: a late client catches up at most 100 ms of sends */
#define ASSET_ARGS 4

/* An answer waiting for its client. */
struct reply {
    struct reply *next;
    struct sub_client *c;
    size_t tx;              /* index in r->txs */
    bool submit;            /* Submit (else Endorse) */
    struct rpc_result res;  /* gRPC outcome */
    ProtobufCMessage *resp; /* the response (owned), or NULL */
};

struct sub_client {
    struct sub_run *r;
    uint32_t id;                    /* index in r->cl */
    struct rpc_channel *gw;         /* its gateway */
    const struct sub_identity *who; /* its identity */
    pthread_t thread;
    pthread_mutex_t mu;         /* guards the queue */
    pthread_cond_t cv;          /* an answer was queued or a commit freed a slot */
    struct reply *head, **tail; /* answers, oldest first */
    atomic_uint inflight;       /* proposed, not yet committed or failed */
    unsigned pending;           /* Endorse and Submit calls unanswered (own thread) */
    unsigned endorsing;         /* of those, Endorse calls */
    struct hist endorse_lat;    /* proposal -> endorsed (txs proposed in the window) */
    struct hist submit_lat;     /* endorsed -> accepted */
    struct buf prop;            /* scratch: the proposal being built */
};

/* Keeps the first failure's description for the report. */
static void note_error(struct sub_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_error(struct sub_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&r->err_mu);
    if (!r->first_error[0])
        vsnprintf(r->first_error, sizeof r->first_error, fmt, ap);
    pthread_mutex_unlock(&r->err_mu);
    va_end(ap);
}

/* ---- the tx_id index ------------------------------------------------------------------ */

static size_t index_slot(const struct sub_run *r, const char *tx_id)
{
    uint64_t h = 0;
    for (int i = 0; i < 16 && tx_id[i]; i++) /* hex of a SHA-256: already uniform */
        h = h << 4 | (uint64_t)(tx_id[i] <= '9' ? tx_id[i] - '0' : (tx_id[i] | 0x20) - 'a' + 10);
    return (size_t)h & r->index_mask;
}

static void index_put(struct sub_run *r, size_t tx)
{
    for (size_t s = index_slot(r, r->txs[tx].tx_id);; s = (s + 1) & r->index_mask) {
        uint32_t empty = 0;
        if (atomic_compare_exchange_strong(&r->index[s], &empty, (uint32_t)tx + 1))
            return;
    }
}

/* The index of our transaction `tx_id`, or SIZE_MAX. */
static size_t index_get(const struct sub_run *r, const char *tx_id)
{
    for (size_t s = index_slot(r, tx_id);; s = (s + 1) & r->index_mask) {
        uint32_t v = atomic_load(&r->index[s]);
        if (v == 0)
            return SIZE_MAX;
        if (strcmp(r->txs[v - 1].tx_id, tx_id) == 0)
            return v - 1;
    }
}

/* ---- clients -------------------------------------------------------------------------- */

/* Runs on the channel's completion thread: queues the answer for its client. */
static void on_answer(void *arg, const struct rpc_result *res, ProtobufCMessage *resp)
{
    struct reply *q = arg;
    struct sub_client *c = q->c;
    q->res = *res;
    q->resp = resp;
    q->next = NULL;
    pthread_mutex_lock(&c->mu);
    *c->tail = q;
    c->tail = &q->next;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Gives transaction `t`'s window slot back to client `c`, once: a transaction whose Submit
 * failed may still commit (an orderer took it and the answer was lost). */
static void release(struct sub_client *c, struct sub_tx *t)
{
    if (!atomic_exchange(&t->released, true))
        atomic_fetch_sub(&c->inflight, 1);
}

/* A transaction that will not commit (as far as its client knows). */
static void drop(struct sub_client *c, struct sub_tx *t, atomic_uint_fast64_t *counter)
{
    atomic_fetch_add(counter, 1);
    release(c, t);
}

/* Starts an asynchronous gateway call for transaction `tx`. */
static bool call(struct sub_client *c, size_t tx, bool submit, const ProtobufCMessage *req)
{
    struct reply *q = calloc(1, sizeof *q);
    if (!q)
        return false;
    q->c = c;
    q->tx = tx;
    q->submit = submit;
    int rc = submit
                 ? rpc_unary_async(c->gw, "/stele.Gateway/Submit", req,
                                   &stele__submit_response__descriptor, CALL_MS, on_answer, q)
                 : rpc_unary_async(c->gw, "/stele.Gateway/Endorse", req,
                                   &stele__prepared_transaction__descriptor, CALL_MS, on_answer, q);
    if (rc != STELE_OK) {
        free(q);
        return false;
    }
    c->pending++;
    return true;
}

/* Proposes one transaction: create <prefix><index> blue 5 300. False when there is no room. */
static bool propose(struct sub_client *c)
{
    struct sub_run *r = c->r;
    size_t k = atomic_fetch_add(&r->next_tx, 1);
    if (k >= r->n_txs) {
        atomic_fetch_add(&r->out_of_room, 1);
        return false;
    }
    struct sub_tx *t = &r->txs[k];
    char id[64];
    int idlen = snprintf(id, sizeof id, "%s%zu", r->prefix, k);
    static const char color[] = "blue", size[] = "5", value[] = "300";
    ProtobufCBinaryData args[ASSET_ARGS] = {{(size_t)idlen, (uint8_t *)id},
                                            {sizeof color - 1, (uint8_t *)color},
                                            {sizeof size - 1, (uint8_t *)size},
                                            {sizeof value - 1, (uint8_t *)value}};
    struct tx_proposal_params pp = {.channel_id = r->channel,
                                    .creator = c->who->e.identity.data,
                                    .creator_len = c->who->e.identity.len,
                                    .chaincode = r->chaincode,
                                    .function = "create",
                                    .args = args,
                                    .n_args = ASSET_ARGS};
    uint8_t sig[64];
    t->client = c->id;
    t->t0_ns = clock_mono_ns();
    atomic_fetch_add(&c->inflight, 1);
    atomic_fetch_add(&r->proposed, 1);
    buf_clear(&c->prop);
    if (tx_proposal_build(&pp, c->who->e.key, &c->prop, sig, t->tx_id) != STELE_OK) {
        note_error(r, "cannot build a proposal");
        drop(c, t, &r->endorse_errors);
        return true;
    }
    index_put(r, k);
    Stele__SignedProposal sp = STELE__SIGNED_PROPOSAL__INIT;
    sp.proposal_bytes = (ProtobufCBinaryData){c->prop.len, c->prop.data};
    sp.signature = (ProtobufCBinaryData){sizeof sig, sig};
    if (call(c, k, false, &sp.base))
        c->endorsing++;
    else
        drop(c, t, &r->endorse_errors);
    return true;
}

/* Endorse answered: sign the prepared payload and submit it. */
static void endorsed(struct sub_client *c, struct reply *q)
{
    struct sub_run *r = c->r;
    struct sub_tx *t = &r->txs[q->tx];
    const Stele__PreparedTransaction *pt = (const Stele__PreparedTransaction *)q->resp;
    if (q->res.code != RPC_OK || !pt) {
        note_error(r, "Endorse: %s (%s)", q->res.detail, rpc_code_name(q->res.code));
        drop(c, t, &r->endorse_errors);
        return;
    }
    if (!pt->result || pt->result->status < 200 || pt->result->status > 299 || !pt->payload.len) {
        note_error(r, "the chaincode refused: %s",
                   pt->result && pt->result->message ? pt->result->message : "");
        drop(c, t, &r->refused);
        return;
    }
    t->endorsed_ns = clock_mono_ns();
    if (t->t0_ns >= r->meas_ns && t->t0_ns < r->end_ns)
        hist_add(&c->endorse_lat, (t->endorsed_ns - t->t0_ns) / 1000);
    atomic_fetch_add(&r->endorsers, pt->n_endorsers);
    uint8_t sig[64];
    ProtobufCBinaryData env = {0, NULL};
    if (crypto_sign(c->who->e.key, pt->payload.data, pt->payload.len, sig) != STELE_OK ||
        tx_envelope_seal(pt->payload.data, pt->payload.len, sig, sizeof sig, &env) != STELE_OK) {
        note_error(r, "cannot sign the prepared transaction");
        drop(c, t, &r->submit_errors);
        free(env.data);
        return;
    }
    Stele__SubmitRequest sr = STELE__SUBMIT_REQUEST__INIT;
    sr.envelope = env;
    sr.wait = false;
    if (!call(c, q->tx, true, &sr.base))
        drop(c, t, &r->submit_errors);
    free(env.data);
}

/* Submit answered. */
static void submitted(struct sub_client *c, struct reply *q)
{
    struct sub_run *r = c->r;
    struct sub_tx *t = &r->txs[q->tx];
    const Stele__SubmitResponse *su = (const Stele__SubmitResponse *)q->resp;
    if (q->res.code != RPC_OK || !su || su->orderers_accepted == 0) {
        note_error(r, "Submit: %s (%s)", q->res.detail, rpc_code_name(q->res.code));
        drop(c, t, &r->submit_errors);
        return;
    }
    uint64_t now = clock_mono_ns();
    atomic_store(&t->submitted_ns, now);
    if (t->t0_ns >= r->meas_ns && t->t0_ns < r->end_ns)
        hist_add(&c->submit_lat, (now - t->endorsed_ns) / 1000);
    atomic_fetch_add(&r->submitted, 1);
}

/* Takes the queued answers, waiting until `until_ns` for one when there are none. */
static struct reply *take(struct sub_client *c, uint64_t until_ns)
{
    pthread_mutex_lock(&c->mu);
    if (!c->head) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = clock_mono_ns(), wait = until_ns > now ? until_ns - now : 0;
        uint64_t ns = (uint64_t)ts.tv_nsec + wait;
        ts.tv_sec += (time_t)(ns / 1000000000ULL);
        ts.tv_nsec = (long)(ns % 1000000000ULL);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    struct reply *q = c->head;
    c->head = NULL;
    c->tail = &c->head;
    pthread_mutex_unlock(&c->mu);
    return q;
}

static void *client_main(void *arg)
{
    struct sub_client *c = arg;
    struct sub_run *r = c->r;
    /* Under --rate the clients' sends are spread over one gap. */
    uint64_t next_at = r->start_ns + (r->gap_ns * c->id) / (uint64_t)r->clients;
    bool room = true;
    for (;;) {
        uint64_t now = clock_mono_ns();
        bool sending = room && now < r->end_ns;
        while (sending && atomic_load(&c->inflight) < r->window && c->endorsing < r->endorsing &&
               (!r->gap_ns || now >= next_at)) {
            if (!(room = propose(c)))
                break;
            if (r->gap_ns) {
                next_at += r->gap_ns;
                if (next_at + MAX_BURST < now)
                    next_at = now;
            }
            now = clock_mono_ns();
            sending = now < r->end_ns;
        }
        if (!sending && c->pending == 0)
            break;
        uint64_t until = now + IDLE_NS;
        if (sending && r->gap_ns && next_at < until && atomic_load(&c->inflight) < r->window &&
            c->endorsing < r->endorsing)
            until = next_at;
        if (sending && r->end_ns < until)
            until = r->end_ns;
        for (struct reply *q = take(c, until), *next; q; q = next) {
            next = q->next;
            c->pending--;
            if (q->submit) {
                submitted(c, q);
            } else {
                c->endorsing--;
                endorsed(c, q);
            }
            pb_free(q->resp);
            free(q);
        }
    }
    return NULL;
}

/* ---- the subscriber ------------------------------------------------------------------- */

/* Records the commit of one transaction of a block seen at `now`. */
static void committed(struct sub_run *r, const Stele__FilteredTransaction *ft, uint64_t now,
                      bool *wake)
{
    size_t k = index_get(r, ft->tx_id ? ft->tx_id : "");
    if (k == SIZE_MAX)
        return;
    struct sub_tx *t = &r->txs[k];
    uint64_t zero = 0;
    if (!atomic_compare_exchange_strong(&t->committed_ns, &zero, now))
        return; /* seen before */
    unsigned code = (unsigned)ft->validation_code & 0xff;
    t->code = (uint8_t)code;
    atomic_fetch_add(&r->committed, 1);
    r->codes[code]++;
    bool in_window = t->t0_ns >= r->meas_ns && t->t0_ns < r->end_ns;
    if (code == STELE__TX_VALIDATION_CODE__VALID) {
        r->valid++;
        if (now >= r->meas_ns && now <= r->end_ns)
            r->valid_in_window++;
        if (in_window) {
            hist_add(&r->lat, (now - t->t0_ns) / 1000);
            uint64_t sub = atomic_load(&t->submitted_ns);
            if (sub && sub < now)
                hist_add(&r->order_lat, (now - sub) / 1000);
        }
    }
    release(&r->cl[t->client], t);
    wake[t->client] = true;
}

static void *subscriber_main(void *arg)
{
    struct sub_run *r = arg;
    bool *wake = calloc((size_t)r->clients, sizeof *wake);
    while (wake && !atomic_load(&r->stop)) {
        ProtobufCMessage *m = NULL;
        int rc = rpc_call_recv(r->stream, &m, 200, false);
        if (rc == STELE_ERR_TIMEOUT)
            continue;
        if (rc) {
            atomic_store(&r->sub_failed, true);
            break;
        }
        const Stele__EventsResponse *e = (const Stele__EventsResponse *)m;
        if (e->type_case != STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK || !e->filtered_block) {
            pb_free(m);
            atomic_store(&r->sub_failed, true);
            break;
        }
        uint64_t now = clock_mono_ns();
        const Stele__FilteredBlock *fb = e->filtered_block;
        atomic_fetch_add(&r->blocks_total, 1);
        if (now >= r->meas_ns && now <= r->end_ns) {
            r->blocks++;
            r->block_txs += fb->n_transactions;
        }
        for (size_t i = 0; i < fb->n_transactions; i++)
            committed(r, fb->transactions[i], now, wake);
        pb_free(m);
        for (int i = 0; i < r->clients; i++)
            if (wake[i]) {
                wake[i] = false;
                pthread_mutex_lock(&r->cl[i].mu);
                pthread_cond_signal(&r->cl[i].cv);
                pthread_mutex_unlock(&r->cl[i].mu);
            }
    }
    free(wake);
    return NULL;
}

/* Opens the filtered Events/Blocks stream from the peer's current height. */
static int subscribe(struct sub_run *r)
{
    Stele__PeerChainInfoRequest cq = STELE__PEER_CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    int rc = rpc_unary(r->events, "/stele.Query/ChainInfo", &cq.base,
                       &stele__peer_chain_info__descriptor, &m, 10000, NULL);
    if (rc)
        return rc;
    uint64_t height = ((Stele__PeerChainInfo *)m)->height;
    pb_free(m);
    struct seek_range range;
    Stele__EventsRequest er = STELE__EVENTS_REQUEST__INIT;
    er.seek = seek_range_init(&range, height, UINT64_MAX,
                              STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY);
    er.form = STELE__EVENT_FORM__EVENT_FORM_FILTERED;
    struct buf req;
    uint8_t sig[CRYPTO_SIG_LEN];
    Stele__SignedRequest sr;
    if ((rc = submit_sign_request(r, "/stele.Events/Blocks", &er.base, &req, sig, &sr)))
        goto out;
    r->stream = rpc_stream_open(r->events, "/stele.Events/Blocks", RPC_SERVER_STREAM,
                                &stele__events_response__descriptor, -1);
    rc = r->stream ? rpc_call_send(r->stream, &sr.base) : STELE_ERR_NOMEM;
    if (rc == STELE_OK)
        rc = rpc_call_close_send(r->stream);
out:
    buf_release(&req);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------- */

int submit_load_start(struct sub_run *r)
{
    size_t slots = 1;
    while (slots < 2 * r->n_txs)
        slots <<= 1;
    r->index = calloc(slots, sizeof *r->index);
    r->index_mask = slots - 1;
    r->cl = calloc((size_t)r->clients, sizeof *r->cl);
    pthread_mutex_init(&r->err_mu, NULL);
    hist_init(&r->lat);
    hist_init(&r->endorse_lat);
    hist_init(&r->submit_lat);
    hist_init(&r->order_lat);
    if (!r->index || !r->cl || r->n_txs >= UINT32_MAX)
        return STELE_ERR_NOMEM;
    int rc = subscribe(r);
    if (rc) {
        if (r->stream)
            rpc_call_finish(r->stream, true, NULL);
        r->stream = NULL;
        return rc;
    }
    r->start_ns = clock_mono_ns(); /* before the subscriber reads them */
    r->meas_ns += r->start_ns;     /* the caller gave offsets */
    r->end_ns += r->start_ns;
    if (pthread_create(&r->sub, NULL, subscriber_main, r) != 0) {
        rpc_call_finish(r->stream, true, NULL);
        r->stream = NULL;
        return STELE_ERR_INTERNAL;
    }
    r->sub_started = true;
    for (int i = 0; i < r->clients; i++) {
        struct sub_client *c = &r->cl[i];
        c->r = r;
        c->id = (uint32_t)i;
        c->gw = r->gw[(size_t)i % r->n_peers];
        c->who = &r->ids[(size_t)i % r->n_ids];
        c->tail = &c->head;
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
        hist_init(&c->endorse_lat);
        hist_init(&c->submit_lat);
        buf_init(&c->prop);
        if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
            pthread_mutex_destroy(&c->mu);
            pthread_cond_destroy(&c->cv);
            c->r = NULL;
            r->clients = i; /* those started stop at once; submit_load_finish() joins them */
            r->end_ns = r->start_ns;
            return STELE_ERR_INTERNAL;
        }
    }
    return STELE_OK;
}

void submit_load_finish(struct sub_run *r, uint64_t drain_ms)
{
    if (!r->sub_started)
        return;
    for (int i = 0; i < r->clients; i++) {
        pthread_join(r->cl[i].thread, NULL);
        hist_merge(&r->endorse_lat, &r->cl[i].endorse_lat);
        hist_merge(&r->submit_lat, &r->cl[i].submit_lat);
    }
    /* Blocks still come for what was submitted: stop once all of it committed, or when no
     * block came for drain_ms. */
    uint64_t seen = 0, quiet = clock_mono_ms();
    for (;;) {
        uint64_t b = atomic_load(&r->blocks_total);
        if (atomic_load(&r->committed) >= atomic_load(&r->submitted) ||
            atomic_load(&r->sub_failed) || clock_mono_ms() - quiet > drain_ms)
            break;
        if (b != seen) {
            seen = b;
            quiet = clock_mono_ms();
        }
        clock_sleep_ms(20);
    }
    atomic_store(&r->stop, true);
    pthread_join(r->sub, NULL);
}

void submit_load_release(struct sub_run *r)
{
    if (r->stream)
        rpc_call_finish(r->stream, true, NULL);
    r->stream = NULL;
    for (int i = 0; r->cl && i < r->clients; i++) {
        struct sub_client *c = &r->cl[i];
        if (!c->r)
            continue;
        for (struct reply *q = c->head, *next; q; q = next) {
            next = q->next;
            pb_free(q->resp);
            free(q);
        }
        buf_release(&c->prop);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(r->cl);
    free(r->index);
    r->cl = NULL;
    r->index = NULL;
    pthread_mutex_destroy(&r->err_mu);
}
