/*
 * blockstore_int.h — internals shared by blockstore.c (open, append, reads),
 * blockstore_index.c (LevelDB keys) and blockstore_recover.c (scan and repair on open).
 */
#ifndef STELE_LEDGER_BLOCKSTORE_INT_H
#define STELE_LEDGER_BLOCKSTORE_INT_H

#include "ledger/blockstore.h"

#include <leveldb/c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define BS_RECORD_HDR 8 /* u32be length || u32be crc32c */

struct arena;
struct buf;

/* Where one block's record sits in the block files. */
struct bs_loc {
    uint32_t file;    /* file number: blocks/%06u.blk */
    uint64_t offset;  /* offset of the record's 8-octet header */
    uint32_t len;     /* payload length (the serialized Block) */
    uint8_t hash[32]; /* header hash of the block stored there (from the index; unset when
                         the location is being built) */
};

struct blockstore {
    char *dir;                      /* store directory (owned) */
    struct blockstore_options opts; /* with defaults filled in */
    leveldb_t *db;                  /* the index */
    leveldb_options_t *db_opts;     /* kept for the life of db */
    leveldb_readoptions_t *ropts;   /* shared by every read (thread-safe in LevelDB) */
    leveldb_writeoptions_t *wopts;  /* index batches: not synced (see blockstore.h) */

    pthread_mutex_t write_mu; /* serializes appends: the one writer */
    bool broken;              /* an append failed half-way; refuse more (under write_mu) */
    struct arena *scratch;    /* writer's per-append memory (under write_mu) */
    struct buf *wbuf;         /* writer's serialization buffer (under write_mu) */

    pthread_rwlock_t lock; /* guards everything below; readers hold it for a whole read */
    uint64_t height;       /* blocks stored and indexed */
    uint8_t head[32];      /* header hash of block height-1; zeros when empty */
    int *fds;              /* one O_RDWR descriptor per block file, fds[nfiles-1] is the head.
                              NEEDSWORK: one descriptor per 64 MiB file is fine to a few TiB;
                              past that, cache descriptors of old files instead. */
    uint32_t nfiles;       /* number of block files (>= 1 once open) */
    uint64_t head_size;    /* octets of whole records in the head file */
};

/* Path of block file `file` under `dir`, malloc'd (NULL on OOM). */
char *bs_file_path(const char *dir, uint32_t file);

/* Adds to `wb` the index entries of `block` (header hash `hash`, stored at `loc`) and the new
 * height number+1. Uses `scratch` to decode envelopes. Returns STELE_OK or STELE_ERR_NOMEM
 * (nothing added). In two steps: bs_index_txids() appends to `txs` the block's 'x' value (its
 * tx_id keys, from decoding each envelope; the only step that can fail, so an append runs it
 * before writing the block), then bs_index_put() adds every entry to `wb`. */
int bs_index_block(leveldb_writebatch_t *wb, struct arena *scratch, const Stele__Block *block,
                   const uint8_t hash[32], const struct bs_loc *loc);
int bs_index_txids(struct arena *scratch, const Stele__Block *block, struct buf *txs);
void bs_index_put(leveldb_writebatch_t *wb, const Stele__Block *block, const uint8_t hash[32],
                  const struct bs_loc *loc, const struct buf *txs);
/* Removes block `number`, the last indexed one, from the index: its number, hash and tx_id
 * entries, and sets the height to `number`. The write is synced, so that a crash after it never
 * finds the index naming data that recovery went on to cut from the files. STELE_OK,
 * STELE_ERR_IO, STELE_ERR_MALFORMED (its entries are damaged). */
int bs_index_drop(struct blockstore *bs, uint64_t number, const struct bs_loc *loc);
/* Reads the indexed height (0 for a fresh index). STELE_OK, STELE_ERR_IO, STELE_ERR_MALFORMED. */
int bs_index_height(struct blockstore *bs, uint64_t *height);
/* Reads the location (and header hash) of block `number`. STELE_OK, STELE_ERR_NOT_FOUND,
 * STELE_ERR_IO, STELE_ERR_MALFORMED. */
int bs_index_loc(struct blockstore *bs, uint64_t number, struct bs_loc *loc);
/* Maps a header hash to its block number. Same results as bs_index_loc(). */
int bs_index_hash(struct blockstore *bs, const uint8_t hash[32], uint64_t *number);
/* First (number, index) of `tx_id` whose code says its creator signed it (or that has no code);
 * without `signed_only`, else the first of any. Same results as bs_index_loc(). */
int bs_index_txid(struct blockstore *bs, const char *tx_id, bool signed_only, uint64_t *number,
                  uint32_t *index);

/* Reads the record at `loc` from descriptor `fd`, checks its framing and CRC, and appends the
 * payload to `out`. STELE_OK, STELE_ERR_IO, STELE_ERR_MALFORMED, STELE_ERR_NOMEM. */
int bs_read_record(int fd, const struct bs_loc *loc, struct buf *out);

/* Recovery on open (blockstore_recover.c): opens the block files, checks the last indexed
 * block, re-indexes blocks past it, truncates a torn tail, and sets height, head, fds, nfiles
 * and head_size. Returns STELE_OK or an error with *errmsg set (when errmsg is non-NULL). */
int bs_recover(struct blockstore *bs, char **errmsg);

/* Sets *errmsg (when non-NULL) to a malloc'd printf-formatted sentence and returns `rc`. */
int bs_fail(char **errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
