/* blockhash.c — header hash, RFC 6962 Merkle data hash and audit paths (see blockhash.h). */
#include "ledger/blockhash.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"

#include <stdlib.h>
#include <string.h>

int blockhash_header(uint64_t number, const uint8_t prev_hash[BLOCKHASH_LEN],
                     const uint8_t data_hash[BLOCKHASH_LEN], uint8_t out[BLOCKHASH_LEN])
{
    uint8_t layout[8 + 2 * BLOCKHASH_LEN];
    put_u64be(layout, number);
    memcpy(layout + 8, prev_hash, BLOCKHASH_LEN);
    memcpy(layout + 8 + BLOCKHASH_LEN, data_hash, BLOCKHASH_LEN);
    return crypto_sha256(layout, sizeof layout, out);
}

int blockhash_header_pb(const Stele__BlockHeader *h, uint8_t out[BLOCKHASH_LEN])
{
    if (!h || h->previous_hash.len != BLOCKHASH_LEN || h->data_hash.len != BLOCKHASH_LEN)
        return STELE_ERR_MALFORMED;
    return blockhash_header(h->number, h->previous_hash.data, h->data_hash.data, out);
}

/* Largest power of two strictly smaller than n (n > 1): RFC 6962's split point. */
static size_t split_point(size_t n)
{
    size_t k = 1;
    while (k < n - k) /* k * 2 < n without overflow */
        k <<= 1;
    return k;
}

/* SHA-256(0x00 || leaf): the hash of a leaf node. */
static int leaf_node(const uint8_t leaf[BLOCKHASH_LEN], uint8_t out[BLOCKHASH_LEN])
{
    uint8_t in[1 + BLOCKHASH_LEN];
    in[0] = 0x00;
    memcpy(in + 1, leaf, BLOCKHASH_LEN);
    return crypto_sha256(in, sizeof in, out);
}

/* SHA-256(0x01 || left || right): the hash of an interior node. */
static int inner_node(const uint8_t left[BLOCKHASH_LEN], const uint8_t right[BLOCKHASH_LEN],
                      uint8_t out[BLOCKHASH_LEN])
{
    uint8_t in[1 + 2 * BLOCKHASH_LEN];
    in[0] = 0x01;
    memcpy(in + 1, left, BLOCKHASH_LEN);
    memcpy(in + 1 + BLOCKHASH_LEN, right, BLOCKHASH_LEN);
    return crypto_sha256(in, sizeof in, out);
}

/* MTH over n >= 1 leaves. Recursion depth is log2(n), so the stack stays small. */
static int subtree_root(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n,
                        uint8_t out[BLOCKHASH_LEN])
{
    if (n == 1)
        return leaf_node(leaves[0], out);
    size_t k = split_point(n);
    uint8_t left[BLOCKHASH_LEN], right[BLOCKHASH_LEN];
    int rc = subtree_root(leaves, k, left);
    if (rc == STELE_OK)
        rc = subtree_root(leaves + k, n - k, right);
    if (rc == STELE_OK)
        rc = inner_node(left, right, out);
    return rc;
}

int blockhash_merkle_root(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n,
                          uint8_t root[BLOCKHASH_LEN])
{
    if (n == 0)
        return crypto_sha256(NULL, 0, root);
    return subtree_root(leaves, n, root);
}

int blockhash_data_hash(const ProtobufCBinaryData *envs, size_t n, uint8_t out[BLOCKHASH_LEN])
{
    if (n == 0)
        return blockhash_merkle_root(NULL, 0, out);
    if (n > SIZE_MAX / BLOCKHASH_LEN)
        return STELE_ERR_NOMEM;
    uint8_t(*leaves)[BLOCKHASH_LEN] = malloc(n * BLOCKHASH_LEN);
    if (!leaves)
        return STELE_ERR_NOMEM;
    int rc = STELE_OK;
    for (size_t i = 0; i < n && rc == STELE_OK; i++)
        rc = crypto_sha256(envs[i].data, envs[i].len, leaves[i]);
    if (rc == STELE_OK)
        rc = blockhash_merkle_root((const uint8_t(*)[BLOCKHASH_LEN])leaves, n, out);
    free(leaves);
    return rc;
}

/* Appends PATH(m, D[0..n)) to path[*len...], deepest sibling first. */
static int audit_path(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n, size_t m,
                      uint8_t (*path)[BLOCKHASH_LEN], size_t *len)
{
    if (n == 1)
        return STELE_OK;
    size_t k = split_point(n);
    int rc;
    if (m < k) {
        rc = audit_path(leaves, k, m, path, len);
        if (rc == STELE_OK)
            rc = subtree_root(leaves + k, n - k, path[*len]);
    } else {
        rc = audit_path(leaves + k, n - k, m - k, path, len);
        if (rc == STELE_OK)
            rc = subtree_root(leaves, k, path[*len]);
    }
    if (rc == STELE_OK)
        (*len)++;
    return rc;
}

int blockhash_inclusion_proof(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n, size_t index,
                              uint8_t (*path)[BLOCKHASH_LEN], size_t *path_len)
{
    if (index >= n)
        return STELE_ERR_INVALID;
    *path_len = 0;
    return audit_path(leaves, n, index, path, path_len);
}

bool blockhash_verify_inclusion(const uint8_t leaf[BLOCKHASH_LEN], uint64_t index, uint64_t n,
                                const uint8_t (*path)[BLOCKHASH_LEN], size_t path_len,
                                const uint8_t root[BLOCKHASH_LEN])
{
    if (index >= n || path_len > BLOCKHASH_MAX_PATH)
        return false;
    uint64_t fn = index, sn = n - 1;
    uint8_t r[BLOCKHASH_LEN];
    if (leaf_node(leaf, r) != STELE_OK)
        return false;
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0)
            return false;
        int rc;
        if ((fn & 1) || fn == sn) {
            rc = inner_node(path[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            rc = inner_node(r, path[i], r);
        }
        if (rc != STELE_OK)
            return false;
        fn >>= 1;
        sn >>= 1;
    }
    /* Roots are public values: an ordinary comparison leaks nothing. */
    return sn == 0 && memcmp(r, root, BLOCKHASH_LEN) == 0;
}

int blockhash_block_build(struct arena *a, uint64_t number, const uint8_t prev_hash[BLOCKHASH_LEN],
                          const ProtobufCBinaryData *envs, size_t n, Stele__Block **out)
{
    Stele__Block *b = arena_calloc(a, 1, sizeof *b);
    Stele__BlockHeader *h = arena_calloc(a, 1, sizeof *h);
    Stele__BlockData *d = arena_calloc(a, 1, sizeof *d);
    Stele__BlockMetadata *md = arena_calloc(a, 1, sizeof *md);
    uint8_t *hashes = arena_alloc(a, 2 * BLOCKHASH_LEN);
    ProtobufCBinaryData *copies = n ? arena_calloc(a, n, sizeof *copies) : NULL;
    if (!b || !h || !d || !md || !hashes || (n && !copies))
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        copies[i].len = envs[i].len;
        copies[i].data = arena_memdup(a, envs[i].len ? envs[i].data : (const uint8_t *)"",
                                      envs[i].len ? envs[i].len : 1);
        if (!copies[i].data)
            return STELE_ERR_NOMEM;
    }
    int rc = blockhash_data_hash(copies, n, hashes + BLOCKHASH_LEN);
    if (rc)
        return rc;
    memcpy(hashes, prev_hash, BLOCKHASH_LEN);

    stele__block__init(b);
    stele__block_header__init(h);
    stele__block_data__init(d);
    stele__block_metadata__init(md);
    h->number = number;
    h->previous_hash.data = hashes;
    h->previous_hash.len = BLOCKHASH_LEN;
    h->data_hash.data = hashes + BLOCKHASH_LEN;
    h->data_hash.len = BLOCKHASH_LEN;
    d->n_envelopes = n;
    d->envelopes = copies;
    b->header = h;
    b->data = d;
    b->metadata = md;
    *out = b;
    return STELE_OK;
}

int blockhash_check_data(const Stele__Block *b)
{
    if (!b || !b->header || b->header->previous_hash.len != BLOCKHASH_LEN ||
        b->header->data_hash.len != BLOCKHASH_LEN)
        return STELE_ERR_MALFORMED;
    uint8_t want[BLOCKHASH_LEN];
    size_t n = b->data ? b->data->n_envelopes : 0;
    int rc = blockhash_data_hash(n ? b->data->envelopes : NULL, n, want);
    if (rc)
        return rc;
    return memcmp(want, b->header->data_hash.data, BLOCKHASH_LEN) == 0 ? STELE_OK
                                                                       : STELE_ERR_MALFORMED;
}

int blockhash_check_link(const Stele__BlockHeader *prev, const Stele__BlockHeader *next)
{
    uint8_t h[BLOCKHASH_LEN];
    if (!next || next->previous_hash.len != BLOCKHASH_LEN)
        return STELE_ERR_MALFORMED;
    int rc = blockhash_header_pb(prev, h);
    if (rc)
        return rc;
    if (prev->number == UINT64_MAX || next->number != prev->number + 1 ||
        memcmp(h, next->previous_hash.data, BLOCKHASH_LEN) != 0)
        return STELE_ERR_CONFLICT;
    return STELE_OK;
}
