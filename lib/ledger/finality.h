/*
 * finality.h — is a delivered block final? One check for every consensus type, shared by the
 * peer's block intake and `stele audit` (DESIGN §2 step 4, issue #5 item 2).
 *
 * The channel configuration of the genesis block names the consensus type and the orderers:
 *   - pbft: metadata.finality_proof is a stele.PbftProof holding COMMITs from at least 2f+1
 *     distinct orderers of the configuration, each validly signed, for the block's number and
 *     header hash (pbft_msg.h);
 *   - solo: a stele.SoloProof whose node_id is the configuration's orderer, whose public key is
 *     that orderer's configured key, and whose signature over the header hash verifies.
 * In both cases the block must decode with a header, data and metadata, its data hash must be
 * the Merkle root of its envelopes, and its metadata must name the channel and the consensus
 * type of the configuration. The link to the previous block is the caller's to check.
 */
#ifndef STELE_LEDGER_FINALITY_H
#define STELE_LEDGER_FINALITY_H

#include "ledger/pbft_msg.h"
#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stdint.h>

struct arena;

/* What a block is checked against; built from a channel configuration. */
struct finality {
    char *consensus_type;        /* malloc'd: "pbft" or "solo" */
    struct pbft_members members; /* the orderers, their keys and the quorum (both types) */
};

/* Builds the checker from `cfg` (copied). Returns STELE_OK, STELE_ERR_CONFIG (a consensus
 * type without a finality check, no orderers, a bad key) with *errmsg (may be NULL), or
 * STELE_ERR_NOMEM. */
int finality_init(struct finality *f, const Stele__ChannelConfig *cfg, char **errmsg);

/* Frees what init made. Accepts a zeroed struct. */
void finality_release(struct finality *f);

/* Checks the untrusted block `b` as described above; decoded parts go to `a`; `hash` (may be
 * NULL) gets the header hash. Returns STELE_OK, or STELE_ERR_MALFORMED, STELE_ERR_PERMISSION,
 * STELE_ERR_CONFLICT, STELE_ERR_AUTH with *why (may be NULL) a static sentence; or
 * STELE_ERR_NOMEM / STELE_ERR_CRYPTO. */
int finality_check(const struct finality *f, struct arena *a, const Stele__Block *b,
                   uint8_t hash[32], const char **why);

#endif
