/*
 * pbft_msg.h — signing, opening and certificate checks of PBFT messages
 * (proto/stele/cluster.proto), shared by the orderers that exchange them and by everything that
 * checks a block's commit certificate (peers, `stele block get`, `stele audit`).
 *
 * The orderer set comes from the channel configuration (ChannelConfig.orderers): n members,
 * f = (n - 1) / 3 faults tolerated, quorum ceil((n + f + 1) / 2) — 2f + 1 when n = 3f + 1, and
 * for any n large enough that two quorums share an honest member (with n = 5 or 6, 2f + 1 = 3
 * would let two quorums meet only in the faulty one, and certify two blocks). A message is accepted
 * only from a member, with a valid signature over "STELE-PBFT-v1\0" || message, for the member's
 * channel.
 *
 * Errors: STELE_ERR_MALFORMED (does not decode, wrong lengths), STELE_ERR_PERMISSION (not a
 * member, wrong channel), STELE_ERR_AUTH (bad signature), STELE_ERR_CONFLICT (a certificate
 * whose messages disagree or are too few), STELE_ERR_NOMEM, STELE_ERR_CRYPTO; each with a
 * static sentence in *why (may be NULL) for logs and clients.
 */
#ifndef STELE_LEDGER_PBFT_MSG_H
#define STELE_LEDGER_PBFT_MSG_H

#include "stele/channel.pb-c.h"
#include "stele/cluster.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct crypto_key;

/* The largest PREPARE, COMMIT or CHECKPOINT message accepted (its type, view, number, digest,
 * channel and sender: a few hundred octets with the longest names the genesis block allows). */
#define PBFT_VOTE_MAX 1024

/* The domain-separation prefix of every PBFT signature (with its terminating NUL). */
#define PBFT_SIG_DOMAIN "STELE-PBFT-v1"

/* The orderer set of a channel with their imported keys. */
/* The faults n ordering nodes tolerate: f = (n - 1) / 3 (0 for n < 4). */
static inline size_t pbft_faults(size_t n)
{
    return n ? (n - 1) / 3 : 0;
}

/* The votes that decide among n ordering nodes: ceil((n + f + 1) / 2), so that any two quorums
 * share at least f + 1 members, one of them honest, and n - f members can still form one. */
static inline size_t pbft_quorum(size_t n)
{
    return (n + pbft_faults(n) + 2) / 2;
}

struct pbft_members {
    char *channel_id;         /* malloc'd */
    size_t n;                 /* members */
    size_t f;                 /* (n - 1) / 3 */
    size_t quorum;            /* pbft_quorum(n): 2f + 1 when n = 3f + 1 */
    char **ids;               /* malloc'd node ids, in configuration order */
    struct crypto_key **keys; /* their public keys */
};

/* Builds the set from `cfg` (copied). Returns STELE_OK, STELE_ERR_CONFIG (no orderers, a bad
 * key) or STELE_ERR_NOMEM. */
int pbft_members_init(struct pbft_members *m, const Stele__ChannelConfig *cfg);

/* Frees what init made. Accepts a zeroed struct. */
void pbft_members_release(struct pbft_members *m);

/* Index of `node_id` in the set, or -1. */
int pbft_members_find(const struct pbft_members *m, const char *node_id);

/* Index of the primary of `view`: view mod n. */
size_t pbft_primary(const struct pbft_members *m, uint64_t view);

/* Packs `msg` into `out->message` and signs it with `key`; message and signature live in `a`,
 * `out` is initialised (block left empty). Returns STELE_OK, STELE_ERR_NOMEM or
 * STELE_ERR_CRYPTO. */
int pbft_sign(const Stele__PbftMessage *msg, const struct crypto_key *key, struct arena *a,
              Stele__PbftSigned *out);

/* Checks and decodes the untrusted `s`: the sender named in the message is a member (its index
 * in *sender, may be NULL), the channel is the set's, the message carries no field PBFT does
 * not define, a PREPARE, COMMIT or CHECKPOINT is at most PBFT_VOTE_MAX octets and carries no
 * view change, and the signature verifies. *out lives in `a`. Returns STELE_OK or an error
 * with *why. */
int pbft_open(const struct pbft_members *m, struct arena *a, const Stele__PbftSigned *s,
              Stele__PbftMessage **out, size_t *sender, const char **why);

/* Re-encodes the commit certificate `in` with only each COMMIT's signed message and signature
 * (what a sender adds beside them, unknown fields included, is signed by no one) into `out`, in
 * `a`: what an orderer or a peer stores. Returns STELE_OK or STELE_ERR_NOMEM. */
int pbft_proof_canonical(struct arena *a, const Stele__PbftProof *in, ProtobufCBinaryData *out);

/* The block time a commit certificate witnesses: the median of its distinct members' COMMIT
 * timestamps, which with at least 2f + 1 of them lies between two correct orderers' clocks
 * whatever the faulty ones signed (the block's metadata.timestamp_ms is signed by no one). 0
 * when fewer than 2f + 1 COMMITs carry a time (certificates of orderers that did not sign one).
 * Only for a certificate pbft_proof_check() passed: the signatures are not verified again. */
uint64_t pbft_proof_time(const struct pbft_members *m, struct arena *a,
                         const Stele__PbftProof *proof);

/* Checks a commit certificate for block `seq` with header hash `digest`: at least a quorum of
 * COMMITs from distinct members, each valid, each for proof->view, seq and digest. Returns
 * STELE_OK or STELE_ERR_CONFLICT / another error with *why. */
int pbft_proof_check(const struct pbft_members *m, struct arena *a, const Stele__PbftProof *proof,
                     uint64_t seq, const uint8_t digest[32], const char **why);

/* Checks a whole block delivered under pbft: metadata consensus type "pbft" and channel, the
 * commit certificate in metadata.finality_proof for its number and header hash, then (only for
 * a certified header) the data hash. The link to the previous block is the caller's to check.
 * `hash` (may be NULL) gets the header hash. Returns as pbft_proof_check(). */
int pbft_block_check(const struct pbft_members *m, struct arena *a, const Stele__Block *b,
                     uint8_t hash[32], const char **why);

/* Checks a prepared proof: a valid PRE_PREPARE from the primary of its view with a block whose
 * header hash is the digest, and 2f PREPAREs from distinct backups (not the primary) for the same
 * view, seq and digest. *pp (may be NULL) gets the decoded PRE_PREPARE, *block (may be NULL) the
 * decoded block; both in `a`. Returns as pbft_proof_check(). */
int pbft_prepared_check(const struct pbft_members *m, struct arena *a, const Stele__PbftPrepared *p,
                        Stele__PbftMessage **pp, Stele__Block **block, const char **why);

#endif
