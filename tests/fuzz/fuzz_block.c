/*
 * fuzz_block.c — arbitrary bytes decoded as a stele.Block (as the block store and Deliver
 * clients do); when they decode, the data hash is recomputed and checked, the header hash is
 * computed, the block is checked as linked to itself, and an inclusion proof of every
 * envelope (up to 64) is built and verified against the recomputed root.
 */
#include "base/arena.h"
#include "crypto/hash.h"
#include "ledger/blockhash.h"
#include "pb/pb.h"
#include "stele/block.pb-c.h"

#include <stdint.h>
#include <stdlib.h>

#define MAX_PROVED 64

static void prove_all(const Stele__Block *b)
{
    size_t n = b->data ? b->data->n_envelopes : 0;
    if (n == 0 || n > MAX_PROVED)
        return;
    uint8_t leaves[MAX_PROVED][BLOCKHASH_LEN], root[BLOCKHASH_LEN];
    for (size_t i = 0; i < n; i++)
        if (crypto_sha256(b->data->envelopes[i].data, b->data->envelopes[i].len, leaves[i]))
            return;
    const uint8_t(*cl)[BLOCKHASH_LEN] = (const uint8_t(*)[BLOCKHASH_LEN])leaves;
    if (blockhash_merkle_root(cl, n, root))
        return;
    for (size_t i = 0; i < n; i++) {
        uint8_t path[BLOCKHASH_MAX_PATH][BLOCKHASH_LEN];
        size_t len;
        if (blockhash_inclusion_proof(cl, n, i, path, &len) == 0 &&
            !blockhash_verify_inclusion(leaves[i], i, n, (const uint8_t(*)[BLOCKHASH_LEN])path, len,
                                        root))
            abort(); /* a proof we built must verify */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_create(0);
    Stele__Block *b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, data, size, 1u << 24);
    if (b) {
        uint8_t h[BLOCKHASH_LEN];
        (void)blockhash_check_data(b);
        (void)blockhash_header_pb(b->header, h);
        (void)blockhash_check_link(b->header, b->header);
        prove_all(b);
    }
    arena_destroy(a);
    return 0;
}
