/*
 * blockstore_index.c — the block store's LevelDB keys and values.
 *
 *   'n' u64be(number)  -> u32be(file) u64be(offset) u32be(len) hash(32)
 *   'h' hash(32)       -> u64be(number)
 *   't' u16be(len) tx_id u64be(number) u32be(index) -> the transaction's validation code (one
 *                         octet) when the block carries codes (a peer's), else empty
 *   'x' u64be(number)  -> the block's 't' keys without their 't', concatenated (so that a
 *                         block can be dropped from the index without decoding it)
 *   "m:height"         -> u64be(height)
 *
 * The tx_id key carries the location so that a repeated tx_id adds a key instead of
 * overwriting one, and re-indexing the same block writes the same keys (idempotent). The
 * length prefix keeps one tx_id from being a prefix of another's key; LevelDB's byte order
 * makes the first occurrence (lowest number, then index) the first key after the prefix. An
 * occurrence whose code says its creator's signature was not verified
 * (txvalidate_code_takes_txid()) may carry anyone's tx_id: lookups pass over it to the creator's
 * own, and only such occurrences never count as the tx_id being taken.
 */
#include "ledger/blockstore_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "ledger/txvalidate.h"
#include "pb/pb.h"
#include "stele/common.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define TXID_MAX 1024 /* longer tx_ids are not indexed (real ones are 64 hex digits) */

static const char height_key[] = "m:height";

int bs_index_txids(struct arena *scratch, const Stele__Block *block, struct buf *txs)
{
    uint64_t number = block->header->number;
    size_t n = block->data ? block->data->n_envelopes : 0;
    for (size_t i = 0; i < n && i <= UINT32_MAX; i++) {
        const ProtobufCBinaryData *e = &block->data->envelopes[i];
        /* an envelope that does not decode has no tx_id to index; one refused for lack of
         * memory does, and leaving it out would let its replay pass the duplicate check on
         * this peer alone: the block is not indexed (arena_failures()) */
        size_t failures = arena_failures(scratch);
        Stele__Envelope *env =
            (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, scratch, e->data, e->len, 0);
        Stele__Payload *pl =
            env ? (Stele__Payload *)pb_unpack(&stele__payload__descriptor, scratch,
                                              env->payload.data, env->payload.len, 0)
                : NULL;
        if (arena_failures(scratch) != failures)
            return STELE_ERR_NOMEM;
        if (!pl || !pl->header || !pl->header->tx_id)
            continue;
        size_t tl = strlen(pl->header->tx_id);
        if (tl == 0 || tl > TXID_MAX)
            continue;
        if (buf_append_byte(txs, 't') || buf_append_u16be(txs, (uint16_t)tl) ||
            buf_append(txs, pl->header->tx_id, tl) || buf_append_u64be(txs, number) ||
            buf_append_u32be(txs, (uint32_t)i))
            return STELE_ERR_NOMEM;
    }
    return STELE_OK;
}

void bs_index_put(leveldb_writebatch_t *wb, const Stele__Block *block, const uint8_t hash[32],
                  const struct bs_loc *loc, const struct buf *txs)
{
    uint64_t number = block->header->number;
    uint8_t nkey[9], nval[48], hkey[33], hval[8], height[8];
    nkey[0] = 'n';
    put_u64be(nkey + 1, number);
    put_u32be(nval, loc->file);
    put_u64be(nval + 4, loc->offset);
    put_u32be(nval + 12, loc->len);
    memcpy(nval + 16, hash, 32);
    leveldb_writebatch_put(wb, (const char *)nkey, sizeof nkey, (const char *)nval, sizeof nval);
    hkey[0] = 'h';
    memcpy(hkey + 1, hash, 32);
    put_u64be(hval, number);
    leveldb_writebatch_put(wb, (const char *)hkey, sizeof hkey, (const char *)hval, sizeof hval);

    /* each 't' entry of `txs` (bs_index_txids()) is a key, its value the transaction's code */
    size_t n = block->data ? block->data->n_envelopes : 0;
    const ProtobufCBinaryData *codes = block->metadata ? &block->metadata->validation_codes : NULL;
    if (codes && codes->len != n)
        codes = NULL; /* an orderer's block, or block 0 as its founders made it */
    for (size_t at = 0; at < txs->len;) {
        size_t len = 3 + (size_t)get_u16be(txs->data + at + 1) + 12;
        uint32_t i = get_u32be(txs->data + at + len - 4);
        leveldb_writebatch_put(wb, (const char *)txs->data + at, len,
                               codes ? (const char *)codes->data + i : "", codes ? 1 : 0);
        at += len;
    }
    nkey[0] = 'x';
    leveldb_writebatch_put(wb, (const char *)nkey, sizeof nkey, txs->len ? (char *)txs->data : "",
                           txs->len);
    put_u64be(height, number + 1);
    leveldb_writebatch_put(wb, height_key, strlen(height_key), (const char *)height, sizeof height);
}

int bs_index_block(leveldb_writebatch_t *wb, struct arena *scratch, const Stele__Block *block,
                   const uint8_t hash[32], const struct bs_loc *loc)
{
    struct buf txs; /* the 'x' value */
    buf_init(&txs);
    int rc = bs_index_txids(scratch, block, &txs);
    if (rc == STELE_OK)
        bs_index_put(wb, block, hash, loc, &txs);
    buf_release(&txs);
    return rc;
}

int bs_index_drop(struct blockstore *bs, uint64_t number, const struct bs_loc *loc)
{
    uint8_t key[33], height[8];
    char *err = NULL;
    size_t vlen = 0;
    key[0] = 'x';
    put_u64be(key + 1, number);
    char *v = leveldb_get(bs->db, bs->ropts, (const char *)key, 9, &vlen, &err);
    if (err) {
        leveldb_free(err);
        return STELE_ERR_IO;
    }
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    int rc = STELE_OK;
    /* Each entry: 't' u16be(len) tx_id u64be u32be, every length checked against vlen. */
    for (size_t at = 0; v && at < vlen;) {
        if (vlen - at < 3 || v[at] != 't' ||
            vlen - at - 3 < (size_t)get_u16be((uint8_t *)v + at + 1) + 12) {
            rc = STELE_ERR_MALFORMED;
            break;
        }
        size_t klen = 3 + get_u16be((uint8_t *)v + at + 1) + 12;
        leveldb_writebatch_delete(wb, v + at, klen);
        at += klen;
    }
    leveldb_free(v);
    leveldb_writebatch_delete(wb, (const char *)key, 9);
    key[0] = 'n';
    leveldb_writebatch_delete(wb, (const char *)key, 9);
    key[0] = 'h';
    memcpy(key + 1, loc->hash, 32);
    leveldb_writebatch_delete(wb, (const char *)key, 33);
    put_u64be(height, number);
    leveldb_writebatch_put(wb, height_key, strlen(height_key), (const char *)height, sizeof height);
    if (rc == STELE_OK) {
        leveldb_writeoptions_t *sync = leveldb_writeoptions_create();
        leveldb_writeoptions_set_sync(sync, 1);
        leveldb_write(bs->db, sync, wb, &err);
        leveldb_writeoptions_destroy(sync);
        if (err) {
            leveldb_free(err);
            rc = STELE_ERR_IO;
        }
    }
    leveldb_writebatch_destroy(wb);
    return rc;
}

/* Gets `key` and requires a value of exactly `want` octets, copied to `out`. */
static int get_fixed(struct blockstore *bs, const void *key, size_t klen, void *out, size_t want)
{
    char *err = NULL;
    size_t vlen = 0;
    char *v = leveldb_get(bs->db, bs->ropts, key, klen, &vlen, &err);
    if (err) {
        leveldb_free(err);
        return STELE_ERR_IO;
    }
    if (!v)
        return STELE_ERR_NOT_FOUND;
    int rc = STELE_ERR_MALFORMED;
    if (vlen == want) {
        memcpy(out, v, want);
        rc = STELE_OK;
    }
    leveldb_free(v);
    return rc;
}

int bs_index_height(struct blockstore *bs, uint64_t *height)
{
    uint8_t v[8];
    int rc = get_fixed(bs, height_key, strlen(height_key), v, sizeof v);
    if (rc == STELE_ERR_NOT_FOUND) {
        *height = 0;
        return STELE_OK;
    }
    if (rc == STELE_OK)
        *height = get_u64be(v);
    return rc;
}

int bs_index_loc(struct blockstore *bs, uint64_t number, struct bs_loc *loc)
{
    uint8_t key[9], v[48];
    key[0] = 'n';
    put_u64be(key + 1, number);
    int rc = get_fixed(bs, key, sizeof key, v, sizeof v);
    if (rc == STELE_OK) {
        loc->file = get_u32be(v);
        loc->offset = get_u64be(v + 4);
        loc->len = get_u32be(v + 12);
        memcpy(loc->hash, v + 16, 32);
    }
    return rc;
}

int bs_index_hash(struct blockstore *bs, const uint8_t hash[32], uint64_t *number)
{
    uint8_t key[33], v[8];
    key[0] = 'h';
    memcpy(key + 1, hash, 32);
    int rc = get_fixed(bs, key, sizeof key, v, sizeof v);
    if (rc == STELE_OK)
        *number = get_u64be(v);
    return rc;
}

int bs_index_txid(struct blockstore *bs, const char *tx_id, bool signed_only, uint64_t *number,
                  uint32_t *index)
{
    size_t tl = strlen(tx_id);
    if (tl == 0 || tl > TXID_MAX)
        return STELE_ERR_NOT_FOUND;
    uint8_t prefix[3 + TXID_MAX];
    prefix[0] = 't';
    put_u16be(prefix + 1, (uint16_t)tl);
    memcpy(prefix + 3, tx_id, tl);
    size_t plen = 3 + tl;

    leveldb_iterator_t *it = leveldb_create_iterator(bs->db, bs->ropts);
    if (!it)
        return STELE_ERR_NOMEM;
    int rc = STELE_ERR_NOT_FOUND;
    bool unsigned_seen = false;
    for (leveldb_iter_seek(it, (const char *)prefix, plen); leveldb_iter_valid(it);
         leveldb_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &klen);
        if (klen != plen + 12 || memcmp(k, prefix, plen) != 0)
            break;
        const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vlen);
        bool is_signed = vlen != 1 || txvalidate_code_takes_txid(v[0]);
        if (!is_signed && (signed_only || unsigned_seen))
            continue; /* the creator's own occurrence, if any, follows */
        *number = get_u64be(k + plen);
        *index = get_u32be(k + plen + 8);
        rc = STELE_OK;
        if (is_signed)
            break;
        unsigned_seen = true; /* the answer unless a signed one follows */
    }
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    if (err) {
        leveldb_free(err);
        rc = STELE_ERR_IO;
    }
    leveldb_iter_destroy(it);
    return rc;
}
