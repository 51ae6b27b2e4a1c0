/*
 * deliver.c — stele.AtomicBroadcast/Deliver (blocks start..stop to any number of subscribers,
 * waiting for blocks not yet cut) and stele.Orderer/ChainInfo.
 *
 * A Deliver stream sends its blocks, then one status that ends it: SUCCESS after the stop
 * block, NOT_FOUND when FAIL_IF_NOT_READY meets a block not yet cut, BAD_REQUEST or FORBIDDEN
 * for a request refused by the intake checks, SERVICE_UNAVAILABLE when the orderer stops.
 * Waiting streams re-check every DELIVER_POLL_MS whether their client left. Blocks go out as the
 * store holds them: the stored octets framed as DeliverResponse.block, never decoded and
 * re-encoded per subscriber.
 *
 * A stream re-checks its reader's identity (validity period, CRL, role) before every block and
 * while it waits (for a block, or for a reader that takes nothing to take it), and ends with
 * FORBIDDEN once it no longer passes (PERMISSION_DENIED when its reader is not reading); one
 * identity holds at most limits.max_streams_per_client streams at once, and Deliver streams are
 * counted apart from the Broadcast streams (limits.max_streams of each).
 */
#include "orderer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/quota.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "identity/identity.h"
#include "identity/replay.h"
#include "ledger/blockhash.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "stele/cluster.pb-c.h"
#include "stele/orderer.pb-c.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DELIVER_POLL_MS 200
#define FINISH_WAIT_MS  10000 /* the status ending a stream waits this long for room */

/* Sends the final status; returns how the handler ends. */
static enum rpc_code finish(struct rpc_call *call, Stele__Status st, const char *why)
{
    Stele__DeliverResponse r = STELE__DELIVER_RESPONSE__INIT;
    r.type_case = STELE__DELIVER_RESPONSE__TYPE_STATUS;
    r.status = st;
    if (st != STELE__STATUS__STATUS_SUCCESS)
        log_debug("orderer", "deliver ends with %d: %s", st, why);
    /* bounded: a reader that stopped taking blocks would otherwise hold this thread for good */
    int rc = rpc_call_send_wait(call, &r.base, FINISH_WAIT_MS);
    if (rc == STELE_ERR_TIMEOUT)
        return rpc_call_error(call, RPC_DEADLINE_EXCEEDED,
                              "the reader took nothing for %d ms; the stream ends", FINISH_WAIT_MS);
    return rc ? rpc_call_error(call, rpc_code_from_status(rc), "%s", stele_strerror(rc)) : RPC_OK;
}

#ifdef STELE_TEST_HOOKS
/* STELE_TEST_DELIVER_TAMPER=data|prev|number|cert: the block `blk` (stored octets, replaced)
 * goes out as a faulty orderer could alter it: an envelope's octet flipped under the header
 * that certifies it, the previous hash's, the number one more, or the certificate cut to one
 * COMMIT; for the peers' test that they refuse it, move on and commit only what is certified. */
static int test_tamper(struct buf *blk)
{
    const char *how = getenv("STELE_TEST_DELIVER_TAMPER");
    if (!how || !*how)
        return STELE_OK;
    Stele__Block *b =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, NULL, blk->data, blk->len, 0);
    if (!b || !b->header || !b->data || !b->metadata) {
        pb_free(b ? &b->base : NULL);
        return STELE_OK; /* nothing to alter */
    }
    int rc = STELE_OK;
    ProtobufCBinaryData *fp = &b->metadata->finality_proof;
    Stele__PbftProof *proof = NULL;
    if (strcmp(how, "data") == 0 && b->data->n_envelopes && b->data->envelopes[0].len)
        b->data->envelopes[0].data[b->data->envelopes[0].len - 1] ^= 0x01;
    else if (strcmp(how, "prev") == 0 && b->header->previous_hash.len)
        b->header->previous_hash.data[0] ^= 0x01;
    else if (strcmp(how, "number") == 0)
        b->header->number++;
    else if (strcmp(how, "cert") == 0 &&
             (proof = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, NULL, fp->data,
                                                    fp->len, 0)) != NULL &&
             proof->n_commits > 1) {
        size_t n = proof->n_commits;
        struct buf cut;
        buf_init(&cut);
        proof->n_commits = 1;
        rc = pb_pack_buf(&proof->base, &cut);
        proof->n_commits = n;
        if (rc == STELE_OK && cut.len <= fp->len) { /* fewer octets: fits where the proof was */
            memcpy(fp->data, cut.data, cut.len);
            fp->len = cut.len;
        }
        buf_release(&cut);
    }
    pb_free(proof ? &proof->base : NULL);
    if (rc == STELE_OK) {
        buf_clear(blk);
        rc = pb_pack_buf(&b->base, blk);
    }
    pb_free(&b->base);
    return rc;
}
#endif

/* Replaces `out` with DeliverResponse{block = the stored octets of block `n`}. */
static int framed_block(struct blockstore *bs, uint64_t n, struct buf *out)
{
    struct buf blk;
    buf_init(&blk);
    buf_clear(out);
    int rc = blockstore_get_bytes(bs, n, &blk);
#ifdef STELE_TEST_HOOKS
    /* STELE_TEST_DELIVER_PAD=N: the block goes out with N octets of a field no one defines and
     * a metadata timestamp in the year 2100, as a faulty orderer could send it (its hash and
     * certificate still hold), for the peers' test that they store only what a block means. */
    const char *pad = getenv("STELE_TEST_DELIVER_PAD");
    size_t padn = pad && *pad ? strtoull(pad, NULL, 10) : 0;
    Stele__Block *tb =
        rc == STELE_OK && padn
            ? (Stele__Block *)pb_unpack(&stele__block__descriptor, NULL, blk.data, blk.len, 0)
            : NULL;
    if (tb && tb->metadata) {
        tb->metadata->timestamp_ms = 4102444800000ull;
        buf_clear(&blk);
        rc = pb_pack_buf(&tb->base, &blk);
    }
    pb_free(tb ? &tb->base : NULL);
    if (rc == STELE_OK && padn) {
        uint8_t *zeros = calloc(1, padn);
        rc = zeros ? pb_append_bytes_field(&blk, 15, zeros, padn) : STELE_ERR_NOMEM;
        free(zeros);
    }
    if (rc == STELE_OK)
        rc = test_tamper(&blk);
#endif
    if (rc == STELE_OK)
        rc = pb_append_bytes_field(out, STELE__DELIVER_RESPONSE__TYPE_BLOCK, blk.data, blk.len);
    buf_release(&blk);
    return rc;
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_DELIVER_DELAY_MS holds each block that long
 * before sending it, an orderer that delivers certified blocks slowly (a faulty one holding its
 * readers back), for the peers' test of moving on. */
static void test_deliver_delay(void)
{
#ifdef STELE_TEST_HOOKS
    const char *ms = getenv("STELE_TEST_DELIVER_DELAY_MS");
    if (ms && *ms)
        clock_sleep_ms(strtoull(ms, NULL, 10));
#endif
}

/* Sends the `len` octets at `frame` to the reader whose identity record is `creator`. While
 * its reader takes nothing (the call's send queue stays full), checks every DELIVER_POLL_MS
 * what a waiting stream checks, so that a reader that stopped reading keeps its stream and
 * thread only as long as it may read. Returns STELE_OK; STELE_ERR_UNAVAILABLE when the orderer
 * stops; STELE_ERR_PERMISSION with *why when the reader no longer passes; or the send's
 * error. */
static int send_frame(struct orderer *o, struct rpc_call *call, const ProtobufCBinaryData *creator,
                      const uint8_t *frame, size_t len, const char **why)
{
    int rc;
    while ((rc = rpc_call_send_bytes_wait(call, frame, len, DELIVER_POLL_MS)) ==
           STELE_ERR_TIMEOUT) {
        if (atomic_load(&o->stopping))
            return STELE_ERR_UNAVAILABLE;
        if (orderer_auth_check_identity(o->auth, ORDERER_AUTH_DELIVER, creator->data, creator->len,
                                        why) != STELE_OK)
            return STELE_ERR_PERMISSION;
    }
    return rc;
}

/* Sends blocks start..stop to the reader whose identity record is `creator`, then the status
 * that ends the stream. */
static enum rpc_code send_blocks(struct orderer *o, struct rpc_call *call,
                                 const ProtobufCBinaryData *creator, uint64_t start, uint64_t stop,
                                 bool fail_if_not_ready)
{
    struct buf frame;
    buf_init(&frame);
    enum rpc_code code = RPC_OK;
    const char *why;
    for (uint64_t n = start;; n++) {
        while (!chain_wait(o->chain, n, fail_if_not_ready ? 0 : DELIVER_POLL_MS)) {
            if (fail_if_not_ready) {
                code = finish(call, STELE__STATUS__STATUS_NOT_FOUND, "block not yet cut");
                goto out;
            }
            if (atomic_load(&o->stopping)) {
                code = finish(call, STELE__STATUS__STATUS_SERVICE_UNAVAILABLE, "stopping");
                goto out;
            }
            if (rpc_call_cancelled(call)) {
                code = RPC_CANCELLED;
                goto out;
            }
            if (orderer_auth_check_identity(o->auth, ORDERER_AUTH_DELIVER, creator->data,
                                            creator->len, &why) != STELE_OK)
                goto forbidden;
        }
        if (orderer_auth_check_identity(o->auth, ORDERER_AUTH_DELIVER, creator->data, creator->len,
                                        &why) != STELE_OK)
            goto forbidden;
        test_deliver_delay();
        int rc = framed_block(chain_store(o->chain), n, &frame);
        if (rc) {
            log_error("orderer", "deliver: cannot read block %llu: %s", (unsigned long long)n,
                      stele_strerror(rc));
            code = finish(call, STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR, "cannot read block");
            goto out;
        }
        rc = send_frame(o, call, creator, frame.data, frame.len, &why);
        if (rc == STELE_ERR_UNAVAILABLE) {
            code = rpc_call_error(call, RPC_UNAVAILABLE, "the orderer is stopping");
            goto out;
        }
        if (rc == STELE_ERR_PERMISSION) {
            /* a status would wait behind what the reader does not take: end the call now */
            log_info("orderer", "deliver stream of a reader not reading ends: %s", why);
            code = rpc_call_error(call, RPC_PERMISSION_DENIED, "%s", why);
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
    log_info("orderer", "deliver stream ends: %s", why);
    code = finish(call, STELE__STATUS__STATUS_FORBIDDEN, why);
out:
    buf_release(&frame);
    return code;
}

static enum rpc_code deliver(struct rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *arg)
{
    (void)resp;
    struct orderer *o = arg;
    struct arena *a = rpc_call_arena(call);
    Stele__SeekInfo *seek = NULL;
    const Stele__Header *h = NULL;
    struct intake_verdict v;
    if (intake_check_deliver(&o->intake, a, (const Stele__Envelope *)req, clock_wall_ms(), &seek,
                             &h, &v) != STELE_OK)
        return finish(call, v.status, v.info);
    uint64_t start, stop, height = chain_height(o->chain);
    if (!seek_resolve(seek->start, height, &start) || !seek_resolve(seek->stop, height, &stop) ||
        start > stop)
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST,
                      "SeekInfo needs a start and a stop position with start <= stop");
    /* a request is taken once: replayed, it would open streams counted against its signer
     * (shutting it out) and let whoever holds the octets read along */
    uint8_t key[32];
    uint64_t ts_ms =
        (uint64_t)h->timestamp->seconds * 1000 + (uint64_t)h->timestamp->nanos / 1000000;
    uint64_t now = clock_wall_ms();
    if (replay_too_far_ahead(ts_ms, now))
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST, REPLAY_AHEAD_TEXT);
    int taken = crypto_sha256(h->tx_id, strlen(h->tx_id), key);
    if (taken == STELE_OK)
        taken = replay_cache_claim_key(o->deliver_replays, key, ts_ms, now);
    if (taken != STELE_OK)
        return finish(call, STELE__STATUS__STATUS_BAD_REQUEST,
                      taken == STELE_ERR_REPLAY
                          ? "this Deliver request was taken before (a replay): sign a new one"
                      : taken == STELE_ERR_EXPIRED
                          ? "this Deliver request is older than the orderer can tell from a "
                            "replay now: sign it again"
                          : "cannot check the Deliver request against replays");
    /* a stream holds a thread while it lasts: one reader may not hold them all. Readers are
     * told apart by their certificate, not by the record's octets, which one identity can vary
     * (fields the CA's signature does not cover) */
    struct identity reader;
    const uint8_t *who = reader.certhash;
    bool mine = false;
    if (identity_decode(a, h->creator.data, h->creator.len, &reader, NULL) != STELE_OK)
        return rpc_call_error(call, RPC_INTERNAL, "cannot read the reader's identity");
    if (quota_take(o->deliver_streams, who, &mine) != STELE_OK) {
        log_info("orderer", "deliver refused: %s",
                 mine ? "the reader has as many streams open as one identity may"
                      : "every stream is taken");
        if (mine)
            return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                                  "this identity already has %u Deliver streams open here",
                                  (unsigned)o->cfg->limits.max_streams_per_client);
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "every Deliver stream of this orderer is taken: retry later");
    }
    enum rpc_code code =
        send_blocks(o, call, &h->creator, start, stop,
                    seek->behavior == STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY);
    quota_give(o->deliver_streams, who);
    return code;
}

static enum rpc_code chain_info(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    (void)req;
    struct orderer *o = arg;
    struct arena *a = rpc_call_arena(call);
    Stele__BlockchainInfo *info = arena_alloc(a, sizeof *info);
    uint8_t *hashes = arena_alloc(a, 2 * BLOCKHASH_LEN);
    if (!info || !hashes)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__blockchain_info__init(info);
    uint64_t height;
    chain_head(o->chain, &height, hashes);
    memset(hashes + BLOCKHASH_LEN, 0, BLOCKHASH_LEN);
    Stele__Block *b = NULL;
    if (height > 0 && blockstore_get(chain_store(o->chain), height - 1, a, &b) == STELE_OK &&
        b->header && b->header->previous_hash.len == BLOCKHASH_LEN)
        memcpy(hashes + BLOCKHASH_LEN, b->header->previous_hash.data, BLOCKHASH_LEN);
    info->channel_id = o->cfg->channel_id;
    info->height = height;
    info->current_hash = (ProtobufCBinaryData){BLOCKHASH_LEN, hashes};
    info->previous_hash = (ProtobufCBinaryData){BLOCKHASH_LEN, hashes + BLOCKHASH_LEN};
    info->consensus_type = (char *)consensus_name(o->consensus);
    info->node_id = o->cfg->node_id;
    struct consensus_status st;
    consensus_status(o->consensus, &st);
    info->view = st.view;
    info->role = (char *)st.role;
    *resp = &info->base;
    return RPC_OK;
}

int orderer_deliver_register(struct orderer *o, struct rpc_server *s)
{
    const struct rpc_method m[] = {
        {.path = "/stele.AtomicBroadcast/Deliver",
         .kind = RPC_SERVER_STREAM,
         .request = &stele__envelope__descriptor,
         .handler = deliver,
         .arg = o,
         /* apart from the server's streams, which Broadcast streams (open to anybody, kept by
          * sending anything) could otherwise all take from the peers */
         .max_streams = (int)o->cfg->limits.max_streams},
        {.path = "/stele.Orderer/ChainInfo",
         .kind = RPC_UNARY,
         .request = &stele__chain_info_request__descriptor,
         .handler = chain_info,
         .arg = o},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
