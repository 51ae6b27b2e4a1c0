/*
 * genesis.h — the genesis block of a channel.
 *
 * Block 0 holds one CONFIG envelope whose payload data is a stele.OrdererGenesisConfig
 * (proto/stele/orderer.proto): the channel, the consensus type, the batch parameters and the
 * orderers (node ids and public keys), signed by whoever builds it (an orderer or the network
 * launcher) with its identity as creator. Its metadata names the channel and carries no
 * finality proof: a network trusts its genesis block by configuration (every orderer is given
 * the same file; a store whose block 0 differs is refused).
 */
#ifndef STELE_LEDGER_GENESIS_H
#define STELE_LEDGER_GENESIS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct crypto_key;

/* One orderer of the channel. */
struct genesis_orderer {
    const char *node_id;       /* its configured name */
    const uint8_t *public_key; /* its public key, SEC 1 (33 or 65 octets) */
    size_t public_key_len;     /* octets at public_key */
};

/* What the genesis block says; caller-owned, only read. */
struct genesis_params {
    const char *channel_id;                 /* the channel */
    const char *consensus_type;             /* "solo", "pbft", "pow" */
    uint32_t max_message_count;             /* batch parameters (Fabric BatchSize/Timeout) */
    uint64_t batch_timeout_ms;              /* ... */
    uint64_t preferred_max_bytes;           /* ... */
    uint64_t absolute_max_bytes;            /* ... */
    const struct genesis_orderer *orderers; /* the orderers, in order */
    size_t n_orderers;                      /* entries in orderers */
    uint64_t timestamp_ms;                  /* header and block time; 0 = now */
};

/* Appends the serialized genesis Block for `p` to `out` (caller-owned). The CONFIG envelope is
 * signed with `signer`; `creator` (creator_len octets) is the signer's serialized identity
 * record. Returns STELE_OK, STELE_ERR_INVALID (missing channel or consensus type),
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int genesis_build(const struct genesis_params *p, const struct crypto_key *signer,
                  const uint8_t *creator, size_t creator_len, struct buf *out);

#endif
