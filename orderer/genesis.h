/*
 * genesis.h — the genesis block of a channel, built from an orderer's configuration.
 *
 * Block 0 holds one CONFIG envelope whose payload data is a stele.OrdererGenesisConfig
 * (channel, consensus type, batch parameters, the orderer's id and public key), signed by the
 * orderer. Its metadata names the channel and has no finality proof: a network trusts its
 * genesis block by configuration. (configs/network.yaml will later describe every orderer;
 * this builder covers a single-orderer channel.)
 */
#ifndef STELE_ORDERER_GENESIS_H
#define STELE_ORDERER_GENESIS_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

struct buf;
struct crypto_key;

/* Appends the serialized genesis Block for `cfg` to `out`, signed with `key`; `creator`
 * (creator_len octets) is the orderer's serialized identity record. Returns STELE_OK or an error
 * (STELE_ERR_NOMEM, STELE_ERR_CRYPTO). */
int genesis_build(const struct orderer_config *cfg, const struct crypto_key *key,
                  const uint8_t *creator, size_t creator_len, struct buf *out);

#endif
