/*
 * chain.h — the orderer's copy of the chain: its block store, the tx_ids in flight, and the
 * wake-up of Deliver streams when a block is added.
 *
 * One chain per channel. The consensus plug-in appends blocks through chain_append() (one
 * writer); Broadcast claims tx_ids (refusing one that is in flight or already in a block) and
 * Deliver streams wait for heights. On open, an empty store gets block 0 from the genesis file,
 * and the channel configuration block 0 carries (ledger/genesis.h) is decoded and kept for the
 * chain's lifetime. Every function is thread-safe.
 */
#ifndef STELE_ORDERER_CHAIN_H
#define STELE_ORDERER_CHAIN_H

#include "ledger/blockstore.h"

#include "stele/channel.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

struct chain;

/* How to open a chain; caller-owned, only read during chain_open(). */
struct chain_options {
    const char *dir;           /* block store directory (created if absent) */
    const char *genesis_file;  /* serialized Block 0, used when the store is empty */
    const char *channel_id;    /* the channel; the genesis block must name it */
    enum blockstore_sync sync; /* fsync policy of the store */
    /* Optional: judges block 0's channel configuration before an empty store receives it and
     * before a store is served; STELE_OK accepts, anything else fails chain_open() with that
     * status and *errmsg (malloc'd by the callback). */
    int (*accept)(void *arg, const Stele__ChannelConfig *cfg, char **errmsg);
    void *accept_arg; /* passed to accept */
};

/* Opens (and recovers) the store under opts->dir. When it is empty, reads the genesis file,
 * checks it is block 0 of the channel with a valid configuration (genesis_read_bytes()) that
 * opts->accept accepts, and appends it; when it is not, checks that its block 0 belongs to the
 * channel and, with a genesis file given, is that block. Either way block 0's channel configuration
 * is checked (genesis_read()) and kept (chain_config()). Returns STELE_OK with *out set (close with
 * chain_close()), or an error with *errmsg (malloc'd, may be NULL): STELE_ERR_IO,
 * STELE_ERR_MALFORMED, STELE_ERR_CONFIG (no or bad genesis file, or a store of another channel
 * or genesis block), ... */
int chain_open(const struct chain_options *opts, struct chain **out, char **errmsg);

/* The channel configuration of block 0, checked by chain_open(); owned by the chain and valid
 * until chain_close(). Never NULL on an open chain. */
const Stele__ChannelConfig *chain_config(const struct chain *c);

/* Wakes every waiter (they return false) and closes the store. Accepts NULL. Nothing may use
 * the chain afterwards. */
void chain_close(struct chain *c);

/* Makes chain_wait() return false from now on, waking the waiters (before stopping the
 * server, so Deliver streams end). */
void chain_shutdown(struct chain *c);

/* The store, for reads (the chain keeps ownership). */
struct blockstore *chain_store(struct chain *c);

/* Number of blocks. */
uint64_t chain_height(struct chain *c);

/* Blocks chain_append() added since chain_open() (block 0 from the genesis file not counted).
 * Lock-free (a relaxed atomic); it may be read just before the height shows the block. */
uint64_t chain_appended(struct chain *c);

/* Height and head hash in one consistent read. */
void chain_head(struct chain *c, uint64_t *height, uint8_t hash[32]);

/* Appends `block` (only read), forgets the claims on its tx_ids and wakes the waiters.
 * Returns as blockstore_append(). */
int chain_append(struct chain *c, const Stele__Block *block);

/* Claims `tx_id` for an envelope about to be ordered. Returns STELE_OK, STELE_ERR_REPLAY when
 * it is already claimed or in a block, or STELE_ERR_NOMEM / STELE_ERR_IO. */
int chain_claim_tx(struct chain *c, const char *tx_id);

/* Drops a claim whose envelope was not handed to consensus after all. */
void chain_unclaim_tx(struct chain *c, const char *tx_id);

/* Waits until block `number` exists (returns true), `timeout_ms` passes or the chain shuts
 * down (false). */
bool chain_wait(struct chain *c, uint64_t number, int timeout_ms);

#endif
