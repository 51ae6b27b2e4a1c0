/*
 * events.c — stele.Events: committed blocks as they commit, whole, filtered (tx_ids and
 * validation codes) or as the chaincode events of their VALID transactions, from any height;
 * and CommitStatus, which waits for a transaction to commit (proto/stele/peer.proto).
 *
 * A Blocks stream sends its blocks in order, then one status that ends it, as the orderer's
 * Deliver does: SUCCESS after the stop block, NOT_FOUND when FAIL_IF_NOT_READY meets a block
 * not yet committed, BAD_REQUEST for a bad request, SERVICE_UNAVAILABLE when the peer stops,
 * FORBIDDEN once its caller's identity expires or is revoked. A stream waiting (for a block,
 * or for a caller that takes nothing to take one: the call's send queue is full) re-checks
 * every EVENTS_POLL_MS whether the peer stops, its client left or its caller may no longer
 * read; a caller that is not reading gets no status behind what it does not take: the call
 * ends with UNAVAILABLE or PERMISSION_DENIED instead. Every form (whole, filtered, chaincode
 * events) is sent the same way.
 */
#include "peer_int.h"
#include "base/quota.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/seek.h"
#include "ledger/tx.h"
#include "ledger/txvalidate.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_POLL_MS       200
#define FINISH_WAIT_MS       10000 /* the status ending a stream waits this long for room */
#define EVENTS_MAX_BODY      (16 * 1024)
#define COMMIT_STATUS_MAX_MS (10 * 60 * 1000) /* longest CommitStatus wait without a deadline */
/* A committed envelope refused before its creator's signature was checked may be anyone's
 * copy of the header (txvalidate_code_takes_txid()): its code is reported only once no
 * transaction of the creator's has followed for this long (or the wait is about to end), so
 * that a client whose transaction commits just after such a copy is not told it failed. */
#define COMMIT_STATUS_UNSIGNED_GRACE_MS 1000
#define COMMIT_STATUS_ANSWER_MARGIN_MS  250 /* answer this long before the caller's deadline */

static enum rpc_code finish(struct rpc_call *call, Stele__Status st, const char *why)
{
    Stele__EventsResponse r = STELE__EVENTS_RESPONSE__INIT;
    r.type_case = STELE__EVENTS_RESPONSE__TYPE_STATUS;
    r.status = st;
    if (st != STELE__STATUS__STATUS_SUCCESS)
        log_debug("peer", "events stream ends with %d: %s", st, why);
    /* bounded: a reader that stopped taking blocks would otherwise hold this thread for good */
    int rc = rpc_call_send_wait(call, &r.base, FINISH_WAIT_MS);
    if (rc == STELE_ERR_TIMEOUT)
        return rpc_call_error(call, RPC_DEADLINE_EXCEEDED,
                              "the reader took nothing for %d ms; the stream ends", FINISH_WAIT_MS);
    return rc ? rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc)) : RPC_OK;
}

/* The chaincode an envelope invokes and, when it is VALID, its event (either may be NULL). */
static void tx_summary(struct arena *a, const ProtobufCBinaryData *e, const char **tx_id,
                       const char **chaincode, const Stele__ChaincodeEvent **event)
{
    struct envelope_view ev;
    struct tx_view tv;
    Stele__TxValidationCode code;
    *tx_id = "";
    *chaincode = "";
    *event = NULL;
    if (envelope_parse(a, e->data, e->len, 0, &ev, NULL) != STELE_OK)
        return;
    *tx_id = ev.header->tx_id;
    if (tx_open(a, &ev, &tv, &code, NULL) != STELE_OK)
        return;
    *chaincode = tv.invocation->chaincode;
    *event = tv.response->event;
}

/* Appends the EventsResponse for stored block `n` in form `form` to `out`. */
static int frame(struct peer *p, struct arena *a, uint64_t n, const Stele__EventsRequest *rq,
                 struct buf *out)
{
    struct blockstore *bs = kvledger_blocks(p->ledger);
    buf_clear(out);
    if (rq->form == STELE__EVENT_FORM__EVENT_FORM_BLOCK) {
        struct buf blk;
        buf_init(&blk);
        int rc = blockstore_get_bytes(bs, n, &blk);
        if (rc == STELE_OK)
            rc = pb_append_bytes_field(out, STELE__EVENTS_RESPONSE__TYPE_BLOCK, blk.data, blk.len);
        buf_release(&blk);
        return rc;
    }
    Stele__Block *b = NULL;
    int rc = blockstore_get(bs, n, a, &b);
    if (rc)
        return rc;
    if (!b->header || !b->metadata)
        return STELE_ERR_MALFORMED;
    size_t ne = b->data ? b->data->n_envelopes : 0;
    const ProtobufCBinaryData *codes = &b->metadata->validation_codes;
    Stele__EventsResponse r = STELE__EVENTS_RESPONSE__INIT;
    Stele__FilteredBlock fb = STELE__FILTERED_BLOCK__INIT;
    Stele__ChaincodeEvents ce = STELE__CHAINCODE_EVENTS__INIT;
    uint8_t hash[32];
    Stele__FilteredTransaction *ft = arena_calloc(a, ne ? ne : 1, sizeof *ft);
    Stele__FilteredTransaction **ftp = arena_calloc(a, ne ? ne : 1, sizeof *ftp);
    Stele__ChaincodeEvent **evs = arena_calloc(a, ne ? ne : 1, sizeof *evs);
    if (!ft || !ftp || !evs || blockhash_header_pb(b->header, hash) != STELE_OK)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < ne; i++) {
        const char *tx_id, *cc;
        const Stele__ChaincodeEvent *event;
        unsigned code = i < codes->len ? codes->data[i] : STELE__TX_VALIDATION_CODE__NOT_VALIDATED;
        tx_summary(a, &b->data->envelopes[i], &tx_id, &cc, &event);
        stele__filtered_transaction__init(&ft[i]);
        ft[i].tx_id = (char *)tx_id;
        ft[i].validation_code = code;
        ft[i].chaincode = (char *)cc;
        ftp[fb.n_transactions++] = &ft[i];
        /* the event's chaincode and tx_id are what the transaction is, whatever the endorsed
         * payload says; _lifecycle transactions (endorsed by any member) emit none */
        if (event && code == STELE__TX_VALIDATION_CODE__VALID && strcmp(cc, LIFECYCLE_NS) != 0 &&
            (!rq->chaincode[0] || strcmp(rq->chaincode, cc) == 0)) {
            Stele__ChaincodeEvent *e = arena_memdup(a, event, sizeof *event);
            if (!e)
                return STELE_ERR_NOMEM;
            e->chaincode = (char *)cc;
            e->tx_id = (char *)tx_id;
            evs[ce.n_events++] = e;
        }
    }
    if (rq->form == STELE__EVENT_FORM__EVENT_FORM_FILTERED) {
        fb.number = n;
        fb.hash = (ProtobufCBinaryData){32, hash};
        fb.transactions = ftp;
        r.type_case = STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK;
        r.filtered_block = &fb;
    } else {
        ce.block_number = n;
        ce.events = evs;
        r.type_case = STELE__EVENTS_RESPONSE__TYPE_CHAINCODE_EVENTS;
        r.chaincode_events = &ce;
    }
    return pb_pack_buf(&r.base, out);
}

/* Why the caller of a stream may read no more, or NULL: its certificate was revoked (a CRL
 * committed since the stream opened) or has expired. Checked before every block, and while
 * the stream waits for one, as Fabric's Deliver re-checks its client's session. */
static const char *caller_gone(struct peer *p, const struct identity *who)
{
    if (msp_is_revoked(p->msp, who->ca_key, who->certhash))
        return "the caller's identity is revoked";
    if (clock_wall_ms() / 1000 >= identity_valid_until(&who->fields))
        return "the caller's identity has expired";
    return NULL;
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_EVENTS_PAD=N appends N zero octets (in a
 * field EventsResponse does not define) to every block a stream sends, so that a test fills a
 * stream's queues with a few blocks. */
static int test_pad(struct buf *out)
{
#ifdef STELE_TEST_HOOKS
    const char *pad = getenv("STELE_TEST_EVENTS_PAD");
    size_t n = pad && *pad ? strtoull(pad, NULL, 10) : 0;
    if (!n)
        return STELE_OK;
    uint8_t *zeros = calloc(1, n);
    int rc = zeros ? pb_append_bytes_field(out, 15, zeros, n) : STELE_ERR_NOMEM;
    free(zeros);
    return rc;
#else
    (void)out;
    return STELE_OK;
#endif
}

/* Sends the `len` octets at `data` to the caller `who`. While the caller takes nothing (the
 * call's send queue stays full), checks every EVENTS_POLL_MS what a waiting stream checks, so
 * that a caller that stopped reading keeps its stream, its thread and its slot of its
 * identity's quota only as long as it may read. Returns STELE_OK; STELE_ERR_UNAVAILABLE when
 * the peer stops; STELE_ERR_CANCELLED when the client left; STELE_ERR_PERMISSION with *gone
 * when the caller no longer passes; or the send's error. */
static int send_frame(struct peer *p, struct rpc_call *call, const struct identity *who,
                      const uint8_t *data, size_t len, const char **gone)
{
    int rc;
    while ((rc = rpc_call_send_bytes_wait(call, data, len, EVENTS_POLL_MS)) == STELE_ERR_TIMEOUT) {
        if (atomic_load(&p->stopping))
            return STELE_ERR_UNAVAILABLE;
        if (rpc_call_cancelled(call))
            return STELE_ERR_CANCELLED;
        if ((*gone = caller_gone(p, who)))
            return STELE_ERR_PERMISSION;
    }
    return rc;
}

/* Sends blocks start..stop of form `rq` to the caller `who`, then the status that ends the
 * stream. */
static enum rpc_code send_blocks(struct peer *p, struct rpc_call *call, const struct identity *who,
                                 const Stele__EventsRequest *rq, uint64_t start, uint64_t stop)
{
    bool fail_if_not_ready =
        rq->seek->behavior == STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY;
    enum rpc_code code;
    const char *gone;
    struct buf out;
    struct arena *a = arena_create(0);
    buf_init(&out);
    if (!a)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    for (uint64_t n = start;; n++) {
        while (!kvledger_wait(p->ledger, n, fail_if_not_ready ? 0 : EVENTS_POLL_MS)) {
            if (fail_if_not_ready) {
                code = finish(call, STELE__STATUS__STATUS_NOT_FOUND, "block not yet committed");
                goto out;
            }
            if (atomic_load(&p->stopping)) {
                code = finish(call, STELE__STATUS__STATUS_SERVICE_UNAVAILABLE, "stopping");
                goto out;
            }
            if (rpc_call_cancelled(call)) {
                code = RPC_CANCELLED;
                goto out;
            }
            if ((gone = caller_gone(p, who)))
                goto forbidden;
        }
        if ((gone = caller_gone(p, who)))
            goto forbidden;
        arena_reset(a);
        int rc = frame(p, a, n, rq, &out);
        if (rc == STELE_OK)
            rc = test_pad(&out);
        if (rc) {
            log_error("peer", "events: cannot read block %llu: %s", (unsigned long long)n,
                      stele_strerror(rc));
            code = finish(call, STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR, "cannot read block");
            goto out;
        }
        rc = send_frame(p, call, who, out.data, out.len, &gone);
        if (rc == STELE_ERR_UNAVAILABLE) {
            code = rpc_call_error(call, RPC_UNAVAILABLE, "the peer is stopping");
            goto out;
        }
        if (rc == STELE_ERR_CANCELLED) {
            code = RPC_CANCELLED;
            goto out;
        }
        if (rc == STELE_ERR_PERMISSION) {
            /* a status would wait behind what the caller does not take: end the call now */
            log_info("peer", "events stream of %s of %s, not reading, ends: %s", who->id, who->org,
                     gone);
            code = rpc_call_error(call, RPC_PERMISSION_DENIED, "%s", gone);
            goto out;
        }
        if (rc) {
            code = rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc));
            goto out;
        }
        if (n == stop) {
            code = finish(call, STELE__STATUS__STATUS_SUCCESS, "");
            goto out;
        }
    }
forbidden:
    log_info("peer", "events stream of %s of %s ends: %s", who->id, who->org, gone);
    code = finish(call, STELE__STATUS__STATUS_FORBIDDEN, gone);
out:
    buf_release(&out);
    arena_destroy(a);
    return code;
}

static enum rpc_code blocks(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    (void)resp;
    struct peer *p = arg;
    struct signed_request sr;
    enum rpc_code code = peer_request_verify(p, call, req, &sr);
    if (code != RPC_OK)
        return code;
    Stele__EventsRequest *rq =
        (Stele__EventsRequest *)pb_unpack(&stele__events_request__descriptor, rpc_call_arena(call),
                                          sr.body, sr.body_len, EVENTS_MAX_BODY);
    uint64_t start, stop, height = kvledger_height(p->ledger);
    if (!rq || !rq->seek)
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST,
                      "request body is not an EventsRequest with a seek");
    if (rq->form != STELE__EVENT_FORM__EVENT_FORM_BLOCK &&
        rq->form != STELE__EVENT_FORM__EVENT_FORM_FILTERED &&
        rq->form != STELE__EVENT_FORM__EVENT_FORM_CHAINCODE)
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST, "unknown event form");
    if (!seek_resolve(rq->seek->start, height, &start) ||
        !seek_resolve(rq->seek->stop, height, &stop) || start > stop)
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST,
                      "SeekInfo needs a start and a stop position with start <= stop");
    /* a stream holds a thread while it lasts: one identity may not hold them all */
    bool mine = false;
    if (quota_take(p->event_streams, sr.signer.certhash, &mine) != STELE_OK) {
        log_info("peer", "events stream of %s of %s refused: %s", sr.signer.id, sr.signer.org,
                 mine ? "it has as many open as one identity may" : "every stream is taken");
        if (mine)
            return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                                  "%s already has %u Events streams open on this peer",
                                  sr.signer.id, (unsigned)p->cfg->limits.max_streams_per_client);
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "every Events stream of this peer is taken: retry later");
    }
    code = send_blocks(p, call, &sr.signer, rq, start, stop);
    quota_give(p->event_streams, sr.signer.certhash);
    return code;
}

/* Looks `tx_id` up among committed blocks: STELE_OK with *code and *number, or
 * STELE_ERR_NOT_FOUND. */
static int lookup(struct peer *p, struct arena *a, const char *tx_id, unsigned *code,
                  uint64_t *number)
{
    Stele__Block *b = NULL;
    uint32_t i = 0;
    int rc = blockstore_get_by_txid(kvledger_blocks(p->ledger), tx_id, a, &b, &i);
    if (rc)
        return rc;
    if (!b->header || !b->metadata || b->header->number >= kvledger_height(p->ledger))
        return STELE_ERR_NOT_FOUND; /* stored; its state is being applied */
    *number = b->header->number;
    *code = i < b->metadata->validation_codes.len ? b->metadata->validation_codes.data[i]
                                                  : STELE__TX_VALIDATION_CODE__NOT_VALIDATED;
    return STELE_OK;
}

static int wait_commit(struct peer *p, struct rpc_call *call, const char *tx_id, int64_t left,
                       unsigned *vc, uint64_t *number);

int peer_wait_commit(struct peer *p, struct rpc_call *call, const uint8_t who[32],
                     const char *tx_id, int64_t left, unsigned *vc, uint64_t *number, bool *mine)
{
    /* a wait holds a worker of the shared pool: cap them, so that waits (which anyone with an
     * identity can start) never starve endorsements and queries, and cap each caller's, so that
     * one identity cannot hold them all */
    int rc = quota_take(p->commit_waits, who, mine);
    if (rc)
        return rc;
    rc = wait_commit(p, call, tx_id, left, vc, number);
    quota_give(p->commit_waits, who);
    return rc;
}

static int wait_commit(struct peer *p, struct rpc_call *call, const char *tx_id, int64_t left,
                       unsigned *vc, uint64_t *number)
{
    if (left > COMMIT_STATUS_MAX_MS)
        left = COMMIT_STATUS_MAX_MS;
    uint64_t deadline = clock_mono_ms() + (uint64_t)(left > 0 ? left : 0);
    struct arena *a = arena_create(0);
    if (!a)
        return STELE_ERR_NOMEM;
    int rc;
    uint64_t unsigned_since = 0; /* an unsigned occurrence found then (0: none) */
    for (;;) {
        uint64_t height = kvledger_height(p->ledger);
        arena_reset(a);
        rc = lookup(p, a, tx_id, vc, number);
        uint64_t now = clock_mono_ms();
        if (rc == STELE_OK && !txvalidate_code_takes_txid(*vc)) {
            if (!unsigned_since)
                unsigned_since = now;
            if (now - unsigned_since < COMMIT_STATUS_UNSIGNED_GRACE_MS &&
                now + COMMIT_STATUS_ANSWER_MARGIN_MS < deadline)
                rc = STELE_ERR_NOT_FOUND; /* the creator's own may follow */
        }
        if (rc != STELE_ERR_NOT_FOUND)
            break;
        if (now >= deadline || (call && rpc_call_cancelled(call)) || atomic_load(&p->stopping)) {
            rc = STELE_ERR_TIMEOUT;
            break;
        }
        left = (int64_t)(deadline - now);
        kvledger_wait(p->ledger, height, left < EVENTS_POLL_MS ? (int)left : EVENTS_POLL_MS);
    }
    arena_destroy(a);
    return rc;
}

/* True for a tx_id as transactions carry it (envelope_tx_id(): 64 lowercase hex digits); any
 * other can never commit, and a wait for it would only end at its deadline. */
static bool txid_ok(const char *tx_id)
{
    size_t n = strlen(tx_id);
    if (n != ENVELOPE_TXID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((tx_id[i] >= '0' && tx_id[i] <= '9') || (tx_id[i] >= 'a' && tx_id[i] <= 'f')))
            return false;
    return true;
}

static enum rpc_code commit_status(struct rpc_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp, void *arg)
{
    struct peer *p = arg;
    struct signed_request who;
    enum rpc_code code = peer_request_verify(p, call, req, &who);
    if (code != RPC_OK)
        return code;
    struct arena *ca = rpc_call_arena(call);
    Stele__CommitStatusRequest *rq = (Stele__CommitStatusRequest *)pb_unpack(
        &stele__commit_status_request__descriptor, ca, who.body, who.body_len, EVENTS_MAX_BODY);
    if (!rq || !txid_ok(rq->tx_id))
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "request body is not a CommitStatusRequest with a tx_id of 64 "
                              "lowercase hex digits");
    unsigned vc = 0;
    uint64_t number = 0;
    bool mine = false;
    int rc = peer_wait_commit(p, call, who.signer.certhash, rq->tx_id, rpc_call_remaining_ms(call),
                              &vc, &number, &mine);
    if (rc == STELE_ERR_LIMIT && mine)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "%s already waits for %d commits on this peer: retry shortly",
                              who.signer.id, PEER_MAX_COMMIT_WAITS_PER_CALLER);
    if (rc == STELE_ERR_LIMIT)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "%d commit waits are in progress on this peer: retry shortly",
                              PEER_MAX_COMMIT_WAITERS);
    if (rc == STELE_ERR_TIMEOUT)
        return rpc_call_error(call, RPC_DEADLINE_EXCEEDED,
                              "transaction %s has not committed on this peer", rq->tx_id);
    if (rc)
        return rpc_call_error(call, RPC_INTERNAL, "cannot look the transaction up: %s",
                              stele_strerror(rc));
    Stele__CommitStatusResponse *r = arena_alloc(ca, sizeof *r);
    if (!r)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__commit_status_response__init(r);
    r->validation_code = vc;
    r->block_number = number;
    *resp = &r->base;
    return RPC_OK;
}

int peer_events_register(struct peer *p, struct rpc_server *s)
{
    const ProtobufCMessageDescriptor *sr = &stele__signed_request__descriptor;
    const struct rpc_method m[] = {
        {.path = "/stele.Events/Blocks",
         .kind = RPC_SERVER_STREAM,
         .request = sr,
         .handler = blocks,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Events/CommitStatus",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = commit_status,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Gateway/CommitStatus",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = commit_status,
         .arg = p,
         .max_request = PEER_MAX_SIGNED_REQUEST},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
