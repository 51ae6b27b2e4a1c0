/*
 * blockhash.h — block header hashes, the Merkle data hash and inclusion proofs (DESIGN §3).
 *
 * Nothing here hashes protobuf. The exact rules:
 *
 *   header hash = SHA-256( u64be(number) || previous_hash(32) || data_hash(32) )   (72 octets)
 *
 *   data_hash   = MTH(L[0..n)), where L[i] = SHA-256(envelope i's bytes) (32 octets) and, as in
 *                 RFC 6962 §2.1:
 *     MTH({})       = SHA-256("")                              (empty block)
 *     MTH({d})      = SHA-256(0x00 || d)                       (leaf; d is the 32-octet L[i])
 *     MTH(D[0..n))  = SHA-256(0x01 || MTH(D[0..k)) || MTH(D[k..n)))   for n > 1, where k is the
 *                     largest power of two strictly smaller than n.
 *
 * An inclusion proof for leaf i of n is RFC 6962's audit path PATH(i, D[n]): the sibling
 * subtree hashes from the leaf up to the root (deepest first), at most BLOCKHASH_MAX_PATH of
 * them. The genesis block's previous_hash is 32 zero octets.
 *
 * Every function is thread-safe and keeps no state.
 */
#ifndef STELE_LEDGER_BLOCKHASH_H
#define STELE_LEDGER_BLOCKHASH_H

#include "stele/block.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

#define BLOCKHASH_LEN      32 /* every hash here is a SHA-256 digest */
#define BLOCKHASH_MAX_PATH 64 /* an audit path of a tree of up to 2^64 leaves */

/* Header hash of the fixed layout above into `out`. Returns STELE_OK or STELE_ERR_CRYPTO. */
int blockhash_header(uint64_t number, const uint8_t prev_hash[BLOCKHASH_LEN],
                     const uint8_t data_hash[BLOCKHASH_LEN], uint8_t out[BLOCKHASH_LEN]);

/* Header hash of a decoded header. Returns STELE_ERR_MALFORMED when `h` is NULL or its
 * previous_hash or data_hash is not exactly 32 octets, else as blockhash_header(). */
int blockhash_header_pb(const Stele__BlockHeader *h, uint8_t out[BLOCKHASH_LEN]);

/* Merkle root over `n` leaf data (each the 32-octet SHA-256 of one envelope); `leaves` may be
 * NULL when n is 0. Returns STELE_OK or STELE_ERR_CRYPTO. */
int blockhash_merkle_root(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n,
                          uint8_t root[BLOCKHASH_LEN]);

/* data_hash of `n` envelopes given as bytes (`envs` may be NULL when n is 0): hashes each one
 * and takes the Merkle root. Allocates n * 32 octets, freed before return. Returns STELE_OK,
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int blockhash_data_hash(const ProtobufCBinaryData *envs, size_t n, uint8_t out[BLOCKHASH_LEN]);

/* Writes the audit path of leaf `index` of the `n` leaves into `path` (room for
 * BLOCKHASH_MAX_PATH hashes, caller-owned) and its length into *path_len. Returns STELE_OK,
 * STELE_ERR_INVALID when index >= n, or STELE_ERR_CRYPTO. Costs O(n) hashes. */
int blockhash_inclusion_proof(const uint8_t (*leaves)[BLOCKHASH_LEN], size_t n, size_t index,
                              uint8_t (*path)[BLOCKHASH_LEN], size_t *path_len);

/* True when `path` (path_len hashes) proves that leaf data `leaf` (the SHA-256 of an envelope)
 * is leaf `index` of a tree of `n` leaves whose root is `root` (RFC 9162 §2.1.3.2). False for
 * any other combination, including index >= n and a path of the wrong length. */
bool blockhash_verify_inclusion(const uint8_t leaf[BLOCKHASH_LEN], uint64_t index, uint64_t n,
                                const uint8_t (*path)[BLOCKHASH_LEN], size_t path_len,
                                const uint8_t root[BLOCKHASH_LEN]);

/* Builds block `number` over `n` envelopes (`envs`, serialized Envelopes; may be NULL when n is
 * 0) linked to `prev_hash` (32 zero octets for the genesis block): header with its data hash,
 * data with a copy of every envelope, and empty metadata the caller may fill. Everything,
 * including the copies, lives in `a`; the inputs need not outlive the call. Returns STELE_OK,
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO; *out is set only on success. */
int blockhash_block_build(struct arena *a, uint64_t number, const uint8_t prev_hash[BLOCKHASH_LEN],
                          const ProtobufCBinaryData *envs, size_t n, Stele__Block **out);

/* Checks that block `b` has a header with 32-octet hashes and that its data_hash is the Merkle
 * root of its envelopes. Returns STELE_OK, STELE_ERR_MALFORMED (missing parts, wrong lengths,
 * data hash mismatch), STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int blockhash_check_data(const Stele__Block *b);

/* Checks that `next` follows `prev`: next->number == prev->number + 1 and next->previous_hash
 * equals the header hash of `prev`. Returns STELE_OK, STELE_ERR_MALFORMED (bad lengths) or
 * STELE_ERR_CONFLICT (not linked). */
int blockhash_check_link(const Stele__BlockHeader *prev, const Stele__BlockHeader *next);

#endif
