/*
 * pbft_check.c — a backup's check of a proposed block (pbft_int.h, pbft_check_proposal()),
 * done without the core's lock before the PRE-PREPARE is handled: the block decodes, its data
 * hash, digest and number match the message, its size keeps to the batch parameters, and every
 * envelope either sits in this orderer's pool (checked when it arrived) or passes the orderer's
 * envelope check now, with no tx_id twice.
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

int pbft_check_proposal(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                        const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    struct arena *a = arena_create(0);
    int rc = STELE_ERR_NOMEM;
    if (!a)
        return rc;
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, s->block.data, s->block.len, 0);
    uint8_t h[32];
    rc = STELE_ERR_MALFORMED;
    if (!blk || !blk->header || !blk->metadata || blockhash_check_data(blk) != STELE_OK ||
        blockhash_header_pb(blk->header, h) != STELE_OK || msg->digest.len != 32 ||
        memcmp(h, msg->digest.data, 32) != 0 || blk->header->number != msg->seq) {
        *why = "the block does not match the PRE-PREPARE's digest and number";
        goto out;
    }
    size_t n = blk->data ? blk->data->n_envelopes : 0;
    char **ids = arena_calloc(a, n ? n : 1, sizeof *ids);
    if (!ids) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    if (n == 0 || n > b->p.cutter.max_message_count) {
        *why = "the block has no envelopes or more than MaxMessageCount";
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
        struct envelope_view v;
        uint8_t eh[32];
        if (!(ids[i] = arena_alloc(a, ENVELOPE_TXID_LEN + 1)) ||
            crypto_sha256(e->data, e->len, eh) != STELE_OK) {
            rc = STELE_ERR_NOMEM;
            goto out;
        }
        if (envelope_parse(a, e->data, e->len, b->p.cutter.absolute_max_bytes, &v, why) ==
                STELE_OK &&
            pbft_pool_has(b->pool, v.header->tx_id, eh)) {
            memcpy(ids[i], v.header->tx_id, ENVELOPE_TXID_LEN + 1);
            continue; /* checked when it entered our pool */
        }
        if ((rc = b->cb.check_envelope(b->cb.arg, e->data, e->len, ids[i], why)))
            goto out;
    }
    qsort(ids, n, sizeof *ids, cmp_txid);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            *why = "the block holds one tx_id twice";
            rc = STELE_ERR_REPLAY;
            goto out;
        }
    rc = STELE_OK;
out:
    arena_destroy(a);
    return rc;
}
