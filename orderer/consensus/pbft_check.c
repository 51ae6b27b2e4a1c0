/*
 * pbft_check.c — checks of what arrives and how blocks are kept (pbft_int.h).
 *
 * A backup's check of a proposed block (pbft_check_proposal()), done without the core's lock
 * before the PRE-PREPARE is handled: the block decodes, its header hash is the signed digest and
 * its envelopes hash to the header's data hash (else it is not the block the primary signed), its
 * number is the message's, its size keeps to the batch parameters, and every envelope either
 * sits in this orderer's pool (checked when it arrived) or passes the orderer's envelope check
 * now, with no tx_id twice.
 *
 * The signature of a PRE-PREPARE covers the digest, not the block bytes beside it, and a block's
 * metadata is in no hash: every block this orderer keeps (in flight, held, appended) is
 * re-encoded by pbft_block_canonical(), so that octets someone added on the way are never stored,
 * certified or served.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

/* Compares two tx_ids for qsort. */
static int cmp_txid(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int pbft_open_msg(const struct pbft *b, struct arena *a, const Stele__PbftSigned *s,
                  Stele__PbftMessage **out, size_t *sender, const char **why)
{
    int rc = pbft_open(&b->m, a, s, out, sender, why);
    if (rc)
        return rc;
    switch ((*out)->type) {
    case STELE__PBFT_TYPE__PBFT_PRE_PREPARE:
    case STELE__PBFT_TYPE__PBFT_PREPARE:
    case STELE__PBFT_TYPE__PBFT_COMMIT:
    case STELE__PBFT_TYPE__PBFT_CHECKPOINT:
        if ((*out)->digest.len != BLOCKHASH_LEN) {
            if (why)
                *why = "a PRE-PREPARE, PREPARE, COMMIT or CHECKPOINT without a 32-octet digest";
            return STELE_ERR_MALFORMED;
        }
        break;
    default:
        break;
    }
    return STELE_OK;
}

enum pbft_verdict pbft_check_proposal(struct pbft *b, const Stele__PbftSigned *s,
                                      const Stele__PbftMessage *msg, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = "out of memory";
    struct arena *a = arena_create(0);
    if (!a)
        return PBFT_BLOCK_FOREIGN; /* our own trouble: nobody is blamed for it */
    enum pbft_verdict v = PBFT_BLOCK_FOREIGN;
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, s->block.data, s->block.len, 0);
    uint8_t h[32];
    if (!blk || !blk->header || msg->digest.len != 32 ||
        blockhash_header_pb(blk->header, h) != STELE_OK || memcmp(h, msg->digest.data, 32) != 0 ||
        blockhash_check_data(blk) != STELE_OK) {
        *why = "the block is not the one the PRE-PREPARE's digest names";
        goto out;
    }
    /* From here on the block is the one the primary signed: what is wrong with it is its fault. */
    v = PBFT_BLOCK_INVALID;
    if (blk->header->number != msg->seq) {
        *why = "the block's number is not the PRE-PREPARE's";
        goto out;
    }
    size_t n = blk->data ? blk->data->n_envelopes : 0;
    if (n == 0 || n > b->p.cutter.max_message_count) {
        *why = "the block has no envelopes or more than MaxMessageCount";
        goto out;
    }
    char **ids = arena_calloc(a, n, sizeof *ids);
    if (!ids) {
        *why = "out of memory";
        v = PBFT_BLOCK_FOREIGN;
        goto out;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += blk->data->envelopes[i].len;
    if (n > 1 && total > b->p.cutter.preferred_max_bytes) {
        *why = "the block's envelopes exceed PreferredMaxBytes (only a lone envelope may)";
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *e = &blk->data->envelopes[i];
        struct envelope_view ev;
        uint8_t eh[32];
        if (!(ids[i] = arena_alloc(a, ENVELOPE_TXID_LEN + 1)) ||
            crypto_sha256(e->data, e->len, eh) != STELE_OK) {
            *why = "out of memory";
            v = PBFT_BLOCK_FOREIGN;
            goto out;
        }
        if (envelope_parse(a, e->data, e->len, b->p.cutter.absolute_max_bytes, &ev, why) ==
                STELE_OK &&
            pbft_pool_has(b->pool, ev.header->tx_id, eh)) {
            memcpy(ids[i], ev.header->tx_id, ENVELOPE_TXID_LEN + 1);
            continue; /* checked when it entered our pool */
        }
        if (b->cb.check_envelope(b->cb.arg, e->data, e->len, ids[i], why) != STELE_OK)
            goto out;
    }
    qsort(ids, n, sizeof *ids, cmp_txid);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            *why = "the block holds one tx_id twice";
            goto out;
        }
    v = PBFT_BLOCK_OK;
out:
    arena_destroy(a);
    return v;
}

int pbft_block_canonical(const struct pbft *b, struct arena *a, const Stele__Block *in,
                         const Stele__PbftProof *proof, Stele__Block **out)
{
    if (!in->header)
        return STELE_ERR_MALFORMED;
    Stele__Block *o = arena_alloc(a, sizeof *o);
    Stele__BlockHeader *h = arena_alloc(a, sizeof *h);
    Stele__BlockData *d = arena_alloc(a, sizeof *d);
    Stele__BlockMetadata *m = arena_alloc(a, sizeof *m);
    if (!o || !h || !d || !m)
        return STELE_ERR_NOMEM;
    stele__block__init(o);
    stele__block_header__init(h);
    stele__block_data__init(d);
    stele__block_metadata__init(m);
    h->number = in->header->number;
    h->previous_hash = in->header->previous_hash;
    h->data_hash = in->header->data_hash;
    if (in->data) {
        d->n_envelopes = in->data->n_envelopes;
        d->envelopes = in->data->envelopes;
    }
    m->consensus_type = (char *)"pbft";
    m->channel_id = b->m.channel_id;
    m->timestamp_ms = in->metadata ? in->metadata->timestamp_ms : 0;
    m->last_config = 0; /* the genesis block is the only CONFIG block */
    int rc;
    if (proof && (rc = pbft_proof_canonical(a, proof, &m->finality_proof)))
        return rc;
    uint64_t t = proof ? pbft_proof_time(&b->m, a, proof) : 0;
    if (t) /* the time the COMMITs witness, not the primary's alone */
        m->timestamp_ms = t;
    o->header = h;
    o->data = d;
    o->metadata = m;
    *out = o;
    return STELE_OK;
}
