/*
 * commit_chain.h — the chain `stele-bench commit` commits, built and signed before any clock
 * starts: two organisations ("Org1", "Org2"), each with its own CA; a peer of each
 * (role "peer") that endorses; client identities (role "client", alternating between the two
 * organisations) that create the transactions in turn; a solo orderer ("orderer0" of Org1)
 * that signs every block; the genesis block of channel COMMIT_CHANNEL with chaincode
 * COMMIT_CHAINCODE version "1" sequence 1 under the endorsement policy COMMIT_POLICY; and
 * `blocks` blocks of `txs_per_block` endorsed transactions each.
 *
 * Transaction i of block n (n >= 1) writes key commit_chain_key(n, i) (a 64-octet value) and,
 * with `reads`, reads key commit_chain_key(n - 1, i) at the version block n - 1, transaction
 * i wrote it (no read in block 1), so every transaction is VALID when the blocks are
 * committed in order and an MVCC check touches the state for every read.
 */
#ifndef STELE_BENCH_COMMIT_CHAIN_H
#define STELE_BENCH_COMMIT_CHAIN_H

#include "stele/block.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct crypto_key;

#define COMMIT_CHANNEL   "bench"
#define COMMIT_CHAINCODE "bench"
#define COMMIT_POLICY    "AND(Org1.peer,Org2.peer)"
#define COMMIT_KEY_LEN   24 /* room for a key of commit_chain_key() with its NUL */

/* What to build. */
struct commit_chain_params {
    unsigned blocks;        /* blocks after the genesis block (>= 1) */
    unsigned txs_per_block; /* transactions in each (>= 1) */
    unsigned creators;      /* client identities creating transactions in turn (>= 1) */
    bool reads;             /* transactions of blocks >= 2 also read a key (see above) */
    unsigned threads;       /* threads signing transactions (>= 1) */
};

/* The built chain. Caller-owned; release with commit_chain_release(). */
struct commit_chain {
    uint8_t *genesis;            /* serialized block 0 (malloc'd) */
    size_t genesis_len;          /* octets at genesis */
    struct arena *arena;         /* holds the blocks and everything they point to */
    Stele__Block **blocks;       /* blocks[k] is block k + 1, with its solo finality proof */
    size_t n_blocks;             /* entries in blocks */
    size_t txs_per_block;        /* envelopes in each block */
    uint64_t envelope_bytes;     /* octets of all envelopes together */
    struct crypto_key *verifier; /* a client's key, for measuring one verification here */
    size_t identities;           /* identities whose keys a validator extracts (clients, peers) */
    double build_s;              /* seconds the building took */
};

/* Builds the chain of `p` into *out (zeroed first). Returns STELE_OK, or a status with *errmsg
 * (malloc'd, may be NULL) naming the step that failed. *out is released on failure. */
int commit_chain_build(const struct commit_chain_params *p, struct commit_chain *out,
                       char **errmsg);

/* Frees what commit_chain_build() made. Accepts a zeroed struct. */
void commit_chain_release(struct commit_chain *c);

/* Writes the key transaction `tx` of block `block` writes ("k" block "." tx, zero-padded so
 * keys sort in chain order) to `out`. */
void commit_chain_key(uint64_t block, uint32_t tx, char out[COMMIT_KEY_LEN]);

#endif
