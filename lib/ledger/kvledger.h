/*
 * kvledger.h — a peer's ledger: the block store, the state database and the commit of each
 * block (DESIGN §6).
 *
 * Directory layout under data_dir:
 *   blocks/  the block store (lib/ledger/blockstore.h): blocks as validated, with one
 *            validation code per transaction in metadata.validation_codes, and the block,
 *            hash and tx_id indexes
 *   state/   the state database (lib/ledger/statedb.h): world state, key history, one state
 *            hash per block and the savepoint
 *
 * Committing block n (kvledger_commit()):
 *   1. n must be the height; the block must carry a valid finality proof for the channel's
 *      consensus (lib/ledger/finality.h) and link to the head (previous_hash);
 *   2. every transaction is validated (lib/ledger/txvalidate.h) against the state after n-1;
 *   3. the block, with its validation codes, is appended to the block store and fsynced;
 *   4. one LevelDB batch applies its writes, history, state hash and savepoint n (synced).
 * A crash between 3 and 4 leaves the block store one block ahead of the savepoint; opening
 * the ledger replays every stored block after the savepoint from its stored validation codes
 * (validating again would find its own tx_ids already indexed), so no block is lost and none
 * applied twice. A crash before 3 loses only a block the orderers still have.
 *
 * Threads: one committer (the intake thread) calls kvledger_commit(); any number of
 * readers use the accessors and kvledger_wait() concurrently.
 */
#ifndef STELE_LEDGER_KVLEDGER_H
#define STELE_LEDGER_KVLEDGER_H

#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blockstore;
struct msp;
struct kvledger;
struct statedb;

/* How to open a ledger. */
struct kvledger_options {
    const char *dir;        /* data_dir */
    const char *channel_id; /* the channel; block 0 must be its genesis block */
    const uint8_t *genesis; /* serialized block 0 to join an empty ledger (NULL: the ledger
                               must already hold it) */
    size_t genesis_len;     /* octets at genesis */
    bool sync;              /* fsync blocks and state batches */
    unsigned threads;       /* validation threads */
    struct msp *msp;        /* filled by kvledger_open() with the channel organisations'
                               CAs and the CRLs the ledger holds before validation starts,
                               and given each CRL a block writes once it is applied (the
                               `_lifecycle crl` rule); owned by the caller, must outlive the
                               ledger. Validation judges with it alone */
    struct msp *also_msp;   /* may be NULL: given the same CAs and the ledger's CRLs, for the
                               caller's other checks (a peer's services, which may also hold
                               CRL files of their own); never used to validate, so that what
                               one peer installs locally cannot make its ledger differ from the
                               others'. Must outlive the ledger */
};

/* Opens (creating, joining from opts->genesis) the ledger and replays blocks stored after the
 * savepoint. Returns STELE_OK with *out, or STELE_ERR_CONFIG (no genesis block for an empty
 * ledger, a genesis block of another channel or one that differs from the stored block 0),
 * STELE_ERR_MALFORMED / STELE_ERR_IO (damaged store; the message names it), STELE_ERR_NOMEM;
 * *errmsg (may be NULL) gets a malloc'd sentence. */
int kvledger_open(const struct kvledger_options *opts, struct kvledger **out, char **errmsg);

/* Wakes every waiter (they return false from now on) and closes. Accepts NULL. */
void kvledger_close(struct kvledger *l);

/* Makes kvledger_wait() return false from now on (before stopping the server). */
void kvledger_shutdown(struct kvledger *l);

/* The channel configuration of block 0 (owned by the ledger). */
const Stele__ChannelConfig *kvledger_config(const struct kvledger *l);

/* True once a commit failed on the disk: the ledger commits nothing more until the peer is
 * restarted (kvledger_commit() says so). Thread-safe. */
bool kvledger_failed(struct kvledger *l);

/* Committed blocks: the next block's number. */
uint64_t kvledger_height(struct kvledger *l);

/* Copies the header hash of block height-1 to `hash`, its previous_hash to `prev` and the
 * state hash after it to `state` (any may be NULL); *height (may be NULL) gets the height they
 * belong to. Consistent: all describe the same block. Reads no block (a mutex only). */
void kvledger_head(struct kvledger *l, uint64_t *height, uint8_t hash[32], uint8_t prev[32],
                   uint8_t state[32]);

/* Commits `block` (untrusted; only read) as described at the top. Returns STELE_OK;
 * STELE_ERR_CONFLICT (not the next block, or not linked to the head: nothing written);
 * STELE_ERR_AUTH / STELE_ERR_MALFORMED / STELE_ERR_PERMISSION (finality proof refused: nothing
 * written); STELE_ERR_IO (the disk failed; the ledger refuses further commits until reopened);
 * STELE_ERR_NOMEM. *errmsg (may be NULL) gets a malloc'd sentence. */
int kvledger_commit(struct kvledger *l, const Stele__Block *block, char **errmsg);

/* Waits until the ledger's height exceeds `number` (returns true), `timeout_ms` passes (-1:
 * no limit) or the ledger shuts down (false). */
bool kvledger_wait(struct kvledger *l, uint64_t number, int timeout_ms);

/* Blocks kvledger_commit() committed since kvledger_open() (blocks replayed by the open are not
 * counted). Any thread; lock-free (a relaxed atomic: a scrape may see a block's transactions
 * before the block, or the other way round). */
uint64_t kvledger_blocks_committed(struct kvledger *l);

/* Transactions of those blocks whose validation code (a Stele__TxValidationCode, one octet) is
 * `code`. Any thread; lock-free, as kvledger_blocks_committed(). */
uint64_t kvledger_tx_committed(struct kvledger *l, uint8_t code);

/* The block store and the state database, for reads (the ledger keeps ownership). */
struct blockstore *kvledger_blocks(struct kvledger *l);
struct statedb *kvledger_state(struct kvledger *l);

#endif
