/*
 * txvalidate.h — validating the transactions of a block (DESIGN §2 step 5), shared by the
 * peer's committer and `stele audit`, which recomputes every validation code.
 *
 * Every envelope of the block gets one code (proto/stele/block.proto TxValidationCode), decided
 * in block order by these checks, the first failing one giving the code:
 *   1. the envelope opens (lib/ledger/envelope.h)            BAD_PAYLOAD, BAD_HEADER
 *   2. its channel is the block's                            BAD_CHANNEL
 *   3. it is an ENDORSER_TRANSACTION that opens (tx.h)       BAD_HEADER, BAD_PAYLOAD, BAD_RWSET
 *   4. the creator is a member at the transaction's time     CREATOR_REVOKED, CREATOR_EXPIRED,
 *      and signed the payload                                BAD_CREATOR_SIGNATURE
 *   5. a committed definition exists for the chaincode,      UNKNOWN_CHAINCODE
 *      with the version and sequence endorsed                ENDORSEMENT_POLICY_FAILURE
 *   6. every endorser is a member at the transaction's time  BAD_ENDORSEMENT
 *      and its signature verifies
 *   7. the endorsers satisfy the definition's policy         ENDORSEMENT_POLICY_FAILURE
 *   8. the tx_id is not in a committed block, nor earlier    DUPLICATE_TXID
 *      in this one
 *   9. every read (and range read) still sees the version    MVCC_READ_CONFLICT
 *      it saw: against committed state and the writes of
 *      earlier VALID transactions of the block
 * Checks 1-7 depend only on the transaction and the state before the block, so they run in
 * parallel on `threads` threads; 8-9 run in block order.
 *
 * Transactions of the `_lifecycle` system chaincode (lib/ledger/lifecycle.h) have no
 * definition and no policy: steps 5 and 7 are replaced, after step 9, by re-running the
 * lifecycle rules on the committed state and the block's earlier writes:
 *  10. the creator may do it, the sequence follows, a commit has its approvals   LIFECYCLE_REFUSED
 *      and the transaction writes exactly what the rules write                   LIFECYCLE_REFUSED
 *
 * Determinism: every peer, and an auditor years later, must reach the same codes. So identity
 * validity (expiry, not-yet-valid) is judged at the transaction header's timestamp, never at
 * the validator's clock; the orderers refuse envelopes whose creator is not valid when they
 * receive them. Revocation uses the CRLs installed in the MSP: the ledger's (kvledger.c
 * installs each `_lifecycle crl/...` write after its block), the same on every peer, and any
 * CRL files the caller installs besides, which it must keep the same on every peer. A failure
 * of this validator rather than of the transaction (out of memory, OpenSSL failing) gives no
 * code: txvalidate_block() fails, and the committer tries the block again
 * (tests/unit/test_crypto_failure.c fails each of OpenSSL's allocations in turn). A decoding
 * that protobuf-c refused for lack of memory is told from octets that do not decode by the
 * arena's failure count (arena_failures()): a verdict reached while it grew is no verdict
 * (tests/unit/test_alloc_failure.c fails each of Stele's own allocations in turn).
 *
 * Chaincode definitions are read from the state: namespace TXV_LIFECYCLE_NS, key
 * "definition/<name>", value a serialized stele.ChaincodeDefinition (proto/stele/channel.proto).
 * The genesis block's definitions are written there when block 0 is applied
 * (txvalidate_genesis()).
 */
#ifndef STELE_LEDGER_TXVALIDATE_H
#define STELE_LEDGER_TXVALIDATE_H

#include "ledger/lifecycle.h"
#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct blockstore;
struct msp;
struct statedb;
struct statedb_update;
struct txvalidator;

/* Where definitions live: the names lifecycle.h gives them. */
#define TXV_LIFECYCLE_NS          LIFECYCLE_NS
#define TXV_DEFINITION_KEY_PREFIX LIFECYCLE_DEFINITION_PFX

/* How a validator is set up. */
struct txvalidate_config {
    const char *channel_id;              /* the channel validated (copied) */
    struct msp *msp;                     /* trusts the channel organisations' CAs; must outlive the
                                            validator; only read (thread-safe verification) */
    unsigned threads;                    /* threads checking signatures; 0 = 2 */
    const Stele__ChannelConfig *channel; /* the channel's configuration (its organisations
                               decide _lifecycle commits, its endorsement_version what an
                               endorsement signs); must outlive the validator; NULL:
                               _lifecycle transactions are UNKNOWN_CHAINCODE, endorsements
                               are checked as TX_ENDORSEMENT_VERSION (tx.h) */
};

/* Creates a validator. Returns STELE_OK with *out (free with txvalidate_destroy()),
 * STELE_ERR_INVALID or STELE_ERR_NOMEM. */
int txvalidate_create(const struct txvalidate_config *cfg, struct txvalidator **out);

/* Stops its threads and frees it. Accepts NULL. */
void txvalidate_destroy(struct txvalidator *v);

/* Validates every envelope of `block` (only read; number statedb_height(db)) against the state
 * in `db` and the tx_ids committed in `bs` (both only read): writes one code per envelope to
 * `codes` (block->data->n_envelopes octets) and records the writes of VALID transactions, in
 * order, in `update` (created by the caller for the block's number). Returns STELE_OK (invalid
 * transactions are not an error), STELE_ERR_INVALID (the block is not the next one, or has no
 * data), STELE_ERR_IO, STELE_ERR_NOMEM or STELE_ERR_CRYPTO, with *errmsg (may be NULL)
 * malloc'd. */
int txvalidate_block(struct txvalidator *v, struct statedb *db, struct blockstore *bs,
                     const Stele__Block *block, uint8_t *codes, struct statedb_update *update,
                     char **errmsg);

/* The update of block 0: the configuration `cfg` (from the genesis block) writes each
 * chaincode definition to TXV_LIFECYCLE_NS as "definition/<name>" (transaction index 0, the
 * genesis envelope's tx_id `tx_id`). Returns STELE_OK or STELE_ERR_NOMEM / STELE_ERR_INVALID. */
int txvalidate_genesis(const Stele__ChannelConfig *cfg, const char *tx_id,
                       struct statedb_update *update);

/* The short name of a validation code ("VALID", "MVCC_READ_CONFLICT", ...), static. */
const char *txvalidate_code_name(unsigned code);

/* True when a transaction given `code` takes its tx_id (check 8, and blockstore.h): its
 * creator's signature was verified (check 4 passed: the codes of checks 5-10, and VALID), or
 * its creator is revoked (which holds for every envelope carrying that creator, and a tx_id
 * binds its creator). An envelope refused otherwise before its signature was checked
 * (BAD_PAYLOAD, BAD_HEADER, BAD_CHANNEL, BAD_RWSET, INVALID_CONFIG, CREATOR_EXPIRED at a time
 * it chose, BAD_CREATOR_SIGNATURE) may carry anyone's tx_id, and takes none. */
bool txvalidate_code_takes_txid(unsigned code);

#endif
