/*
 * blockstore.h — the block store: append-only block files plus a LevelDB index (DESIGN §6).
 *
 * Layout of a store directory:
 *   blocks/000000.blk, 000001.blk, ...  records `u32be len || u32be crc32c(payload) || payload`,
 *                                       payload = one serialized stele.Block, in chain order; a
 *                                       new file starts when the next record would take the
 *                                       current one past max_file_size.
 *   index/                              LevelDB: number -> (file, offset, length), header hash
 *                                       -> number, tx_id -> (number, index in block), height.
 *
 * Appending writes the record, fsyncs the file (per the sync policy), and only then writes the
 * block's index entries and the new height in one LevelDB batch. The files are the truth; the
 * index can always be rebuilt from them. So the index batch is not synced: after a crash, open
 * re-indexes every block found in the files past the last indexed one, and drops a torn or
 * corrupt tail (short record, bad CRC, undecodable block, zeros) by truncating the last file at
 * its first bad record — also when that record is the last indexed block, whose index entries
 * are then removed. A bad record followed by good data, a block that does not continue the
 * chain, or an index that names whole records the files no longer hold, is corruption that
 * open reports (STELE_ERR_MALFORMED with the file and offset in *errmsg) rather than repairs:
 * blocks the index once confirmed are gone, and serving a shorter chain would silently roll a
 * committed ledger back. blockstore_recover.c has the exact rules.
 *
 * tx_id index: each envelope is decoded as Envelope -> Payload -> Header; envelopes that do not
 * decode, or have an empty tx_id, are simply not indexed. When a tx_id occurs more than once
 * (a DUPLICATE_TXID transaction), lookups return the first occurrence: the one that counts.
 *
 * Threads: one writer, many readers. Appends are serialized by a mutex; readers run in
 * parallel with each other and with an append, and see a block once its append has returned.
 * A `struct blockstore` may be shared by any number of threads until blockstore_close().
 * Two processes cannot open the same store (LevelDB's lock file refuses the second).
 */
#ifndef STELE_LEDGER_BLOCKSTORE_H
#define STELE_LEDGER_BLOCKSTORE_H

#include "stele/block.pb-c.h"

#include <stdint.h>

struct arena;
struct buf;
struct blockstore;

/* When appended blocks reach the disk. */
enum blockstore_sync {
    BLOCKSTORE_SYNC_EVERY_BLOCK = 0, /* fdatasync the block file before indexing each block */
    BLOCKSTORE_SYNC_NONE = 1,        /* leave it to the OS: tests and benchmarks only; a crash
                                        may lose recent blocks (never corrupt older ones) */
};

#define BLOCKSTORE_DEFAULT_FILE_SIZE   (64u << 20)  /* roll block files past 64 MiB */
#define BLOCKSTORE_DEFAULT_RECORD_SIZE (256u << 20) /* largest serialized block: 256 MiB */

/* How a store behaves; zero-initialized means the defaults. */
struct blockstore_options {
    enum blockstore_sync sync; /* fsync policy for appends */
    uint64_t max_file_size;    /* start a new block file when the next record would pass this
                                  many octets (a bigger record gets a file to itself);
                                  0 = BLOCKSTORE_DEFAULT_FILE_SIZE */
    uint32_t max_record_size;  /* cap on a serialized block, checked on append and on every
                                  length read from disk before allocating;
                                  0 = BLOCKSTORE_DEFAULT_RECORD_SIZE */
};

/* Opens the store in directory `dir`, creating the directory (not its parents) if absent, and
 * recovers it as described above. `opts` may be NULL for the defaults. On success *out is a
 * store the caller closes with blockstore_close(). On failure returns STELE_ERR_IO,
 * STELE_ERR_MALFORMED (corruption that is not a torn tail), STELE_ERR_NOMEM or
 * STELE_ERR_INVALID, and, when errmsg is non-NULL, sets *errmsg to a malloc'd sentence naming
 * the file involved (free it). */
int blockstore_open(const char *dir, const struct blockstore_options *opts, struct blockstore **out,
                    char **errmsg);

/* Closes the store and frees it. Accepts NULL. No other call may be running or follow. */
void blockstore_close(struct blockstore *bs);

/* Appends `block`, which must be block number blockstore_height() whose previous_hash is the
 * current head hash (32 zero octets for block 0) and whose data_hash matches its envelopes.
 * The block is only read. Returns STELE_OK; STELE_ERR_CONFLICT for a wrong number or previous
 * hash; STELE_ERR_MALFORMED for wrong hash lengths or a data hash mismatch; STELE_ERR_TOO_BIG
 * past max_record_size — in all these cases nothing is written. STELE_ERR_IO when the disk
 * failed; the store then refuses further appends (STELE_ERR_STATE) until reopened, which
 * recovers it. */
int blockstore_append(struct blockstore *bs, const Stele__Block *block);

/* Like blockstore_append() for a block already serialized (`len` octets at `data`, e.g. as
 * received from consensus): the exact bytes are stored, never re-encoded. Also returns
 * STELE_ERR_MALFORMED when they do not decode as a Block. */
int blockstore_append_bytes(struct blockstore *bs, const uint8_t *data, size_t len);

/* Number of blocks in the store (the next block's number). */
uint64_t blockstore_height(struct blockstore *bs);

/* Copies the header hash of the last block to `out`. Returns STELE_OK, or STELE_ERR_NOT_FOUND
 * for an empty store (`out` is then 32 zero octets, the genesis block's previous hash). */
int blockstore_head_hash(struct blockstore *bs, uint8_t out[32]);

/* Appends the stored bytes of block `number` (a serialized Block) to `out` (caller-owned).
 * The record's CRC is checked on every read. Returns STELE_OK, STELE_ERR_NOT_FOUND,
 * STELE_ERR_MALFORMED (the record no longer checks out), STELE_ERR_IO or STELE_ERR_NOMEM. */
int blockstore_get_bytes(struct blockstore *bs, uint64_t number, struct buf *out);

/* Decodes block `number` into *out. With `a` non-NULL the block lives in the arena; with NULL
 * it is malloc'd and the caller frees it with pb_free(&(*out)->base). Returns as
 * blockstore_get_bytes(). */
int blockstore_get(struct blockstore *bs, uint64_t number, struct arena *a, Stele__Block **out);

/* Like blockstore_get() for the block whose header hash is `hash` (32 octets). */
int blockstore_get_by_hash(struct blockstore *bs, const uint8_t hash[32], struct arena *a,
                           Stele__Block **out);

/* Finds the transaction `tx_id` (a C string) stands for: the first whose header carries it and
 * whose creator signed it (by its validation code, txvalidate_code_takes_txid(); a block stored
 * without codes, an orderer's, counts as signed), else the first carrying it at all (a
 * refused envelope, so that its sender learns the code). Its block number and its index among
 * the block's envelopes (either pointer may be NULL). Returns STELE_OK, STELE_ERR_NOT_FOUND,
 * STELE_ERR_IO. */
int blockstore_find_txid(struct blockstore *bs, const char *tx_id, uint64_t *number,
                         uint32_t *index);

/* Whether `tx_id` is taken: a transaction its creator signed carries it (as above, without the
 * fallback). An envelope refused before its creator's signature was checked takes no tx_id:
 * it may carry anyone's (one orderer could otherwise order a copy of a client's header with a
 * bad signature, and the client's transaction would come out DUPLICATE_TXID). *number (may be
 * NULL) gets the block. Returns STELE_OK (taken), STELE_ERR_NOT_FOUND, STELE_ERR_IO. */
int blockstore_txid_taken(struct blockstore *bs, const char *tx_id, uint64_t *number);

/* Like blockstore_get() for the block holding the first transaction `tx_id`; *index (may be
 * NULL) gets the transaction's position in it. */
int blockstore_get_by_txid(struct blockstore *bs, const char *tx_id, struct arena *a,
                           Stele__Block **out, uint32_t *index);

#endif
