/*
 * statedb.h — a peer's world state, key history and savepoint in one LevelDB (DESIGN §6).
 *
 * Keys of the LevelDB (all integers big-endian; `ns` is a chaincode name, which never holds a
 * NUL; a state key may hold any octet but is at most TX_MAX_KEY_LEN long):
 *   "s" ns 0x00 key                         -> u64 block, u32 tx, value   (current state)
 *   "h" u16 len(ns) ns u32 len(key) key u64 block u32 tx
 *                                           -> u8 is_delete, 64 octets tx_id, value (history)
 *   "b" u64 number                          -> 32 octets state hash after that block
 *   "m" "savepoint"                         -> u64 number of the last applied block
 * The state of a namespace is a contiguous, key-ordered range ("s" ns 0x00 ...), so range
 * queries are one iterator; the history of a key is a contiguous range ordered by version.
 *
 * A block's effects are collected in a `struct statedb_update` (the writes of its VALID
 * transactions, in order) and applied with statedb_apply(): one LevelDB write batch — synced
 * unless the store was opened without sync — carrying the state changes, the history entries,
 * the block's state hash and the new savepoint. Either all of it is on disk or none of it:
 * after a crash the savepoint says which block to replay next (the block store keeps the
 * blocks; the peer re-derives their updates).
 *
 * State hash (what `stele chain info --all-peers` compares and `stele audit` recomputes):
 *   H(-1) = 32 zero octets
 *   H(n)  = SHA-256("STELE-STATE-v1\0" || H(n-1) || u64 n || w_1 || ... || w_k)
 *   w_i   = u32 tx_index || u32 len(ns) || ns || u32 len(key) || key || u8 is_delete
 *           || u32 len(value) || value
 * over the writes of block n in the order statedb_update_write() received them (transaction
 * order, then key order within a transaction).
 *
 * Threads: reads (get, range, history, height, hashes) may run concurrently with each other and
 * with one statedb_apply(); applies are serialized by the caller (one committer). A reader sees
 * a block's effects all at once, never half (LevelDB applies a batch atomically).
 */
#ifndef STELE_LEDGER_STATEDB_H
#define STELE_LEDGER_STATEDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct statedb;
struct statedb_update;

#define STATEDB_HASH_LEN    32
#define STATEDB_HASH_DOMAIN "STELE-STATE-v1"

/* Where a value was written: block number and transaction index in it. */
struct statedb_version {
    uint64_t block; /* block number */
    uint32_t tx;    /* index of the transaction among the block's envelopes */
};

/* Opens (creating if absent) the state database in directory `dir`. With `sync` false applies
 * are not fsynced (tests and benchmarks: a crash may lose recent applies, never half of one).
 * Returns STELE_OK with *out (close with statedb_close()), STELE_ERR_IO or STELE_ERR_MALFORMED
 * (unreadable savepoint) with *errmsg (malloc'd, may be NULL) naming the problem, or
 * STELE_ERR_NOMEM. */
int statedb_open(const char *dir, bool sync, struct statedb **out, char **errmsg);

/* Closes and frees. Accepts NULL. No other call may run or follow. */
void statedb_close(struct statedb *db);

/* Number of blocks applied: the savepoint + 1, or 0 when none was. */
uint64_t statedb_height(struct statedb *db);

/* A consistent view of the state: what was applied when it was taken, whatever is applied
 * after (LevelDB's snapshot). Reads through it see one state, that of statedb_snap_height()
 * blocks. Taking one costs about as much as a read; release it when done (it keeps LevelDB
 * from dropping what later blocks overwrite). */
struct statedb_snap;

/* Takes a snapshot of `db`. Returns STELE_OK with *out, STELE_ERR_NOMEM, STELE_ERR_IO or
 * STELE_ERR_MALFORMED (a damaged savepoint). Thread-safe. */
int statedb_snapshot(struct statedb *db, struct statedb_snap **out);
/* Blocks applied in the snapshot. */
uint64_t statedb_snap_height(const struct statedb_snap *s);
/* Releases it (NULL accepted); before statedb_close(). */
void statedb_snapshot_release(struct statedb *db, struct statedb_snap *s);

/* Copies the state hash after block `number` to `out`. Returns STELE_OK, STELE_ERR_NOT_FOUND
 * (not applied), STELE_ERR_IO or STELE_ERR_MALFORMED (a damaged record). */
int statedb_state_hash(struct statedb *db, uint64_t number, uint8_t out[STATEDB_HASH_LEN]);

/* Reads the current value of `key` in namespace `ns` (both C strings). With `value` non-NULL
 * the value is appended to it; with `ver` non-NULL its version is written there. Returns
 * STELE_OK, STELE_ERR_NOT_FOUND (never written, or deleted), STELE_ERR_IO, STELE_ERR_INVALID
 * (`ns` is not a chaincode name or `key` not 1..TX_MAX_KEY_LEN octets), STELE_ERR_MALFORMED (a
 * damaged record) or STELE_ERR_NOMEM (appending to `value`). */
int statedb_get(struct statedb *db, const char *ns, const char *key, struct buf *value,
                struct statedb_version *ver);
/* statedb_get() through `snap` (NULL: the latest state). */
int statedb_get_at(struct statedb *db, const struct statedb_snap *snap, const char *ns,
                   const char *key, struct buf *value, struct statedb_version *ver);

/* Called for each key of a range or history, in order. Pointers are valid during the call
 * only; `key` is NUL-terminated. Return true to go on, false to stop. */
typedef bool (*statedb_entry_fn)(void *ctx, const char *key, const uint8_t *value, size_t len,
                                 const struct statedb_version *ver);

/* Visits the keys of `ns` in [start, end) in key order ("" start = the first key, "" end = to
 * the end of the namespace; NULL is ""), at most `limit` of them (0 = no limit). Keys compare
 * as unsigned octet strings. *has_more (may be NULL) tells whether a further key exists in the
 * range after the last visited when the limit, or fn, stopped the walk. The walk reads one
 * snapshot: a concurrent apply is seen wholly or not at all. Returns STELE_OK or STELE_ERR_IO;
 * also STELE_ERR_INVALID (a bad `ns`, fn NULL), STELE_ERR_MALFORMED (a damaged record; the
 * entries before it were visited) or STELE_ERR_NOMEM. */
int statedb_range(struct statedb *db, const char *ns, const char *start, const char *end,
                  size_t limit, statedb_entry_fn fn, void *ctx, bool *has_more);
/* statedb_range() through `snap` (NULL: the latest state). */
int statedb_range_at(struct statedb *db, const struct statedb_snap *snap, const char *ns,
                     const char *start, const char *end, size_t limit, statedb_entry_fn fn,
                     void *ctx, bool *has_more);

/* One history entry of a key. */
struct statedb_history_entry {
    struct statedb_version ver; /* the write's version */
    const char *tx_id;          /* its transaction's tx_id (64 hex digits + NUL) */
    bool is_delete;             /* the write deleted the key */
    const uint8_t *value;       /* the value written (NULL, len 0 for a delete) */
    size_t len;                 /* its length */
};

/* Called for each history entry, oldest first; pointers are valid during the call only.
 * Return true to go on. */
typedef bool (*statedb_history_fn)(void *ctx, const struct statedb_history_entry *e);

/* Visits the history of `key` in `ns` after version `after` (NULL: from the first write), at
 * most `limit` entries (0 = no limit); *has_more as statedb_range(). Returns STELE_OK or
 * STELE_ERR_IO; also STELE_ERR_INVALID, STELE_ERR_MALFORMED or STELE_ERR_NOMEM as
 * statedb_range(). */
int statedb_history(struct statedb *db, const char *ns, const char *key,
                    const struct statedb_version *after, size_t limit, statedb_history_fn fn,
                    void *ctx, bool *has_more);

/* ---- applying a block ------------------------------------------------------------------- */

/* Starts the update of block `number`. NULL on OOM. Free with statedb_update_destroy(). */
struct statedb_update *statedb_update_create(uint64_t number);

/* Frees the update. Accepts NULL. */
void statedb_update_destroy(struct statedb_update *u);

/* Records one write of the VALID transaction `tx_index` (tx_id: 64 hex digits) to `key` of
 * `ns`: a put of `len` octets at `value`, or a delete (`value` and `len` are then ignored and
 * hashed as 0 octets). Writes must come in transaction order (and key order within a
 * transaction); a later write of the same key supersedes an earlier one in the state, and both
 * stay in the history and the state hash. Everything is copied. Returns STELE_OK,
 * STELE_ERR_INVALID (a transaction index lower than the previous write's, a bad name, an empty
 * or oversize key, a tx_id that is not 64 hex digits, a second write of the same key by the same
 * transaction, a NULL value with len > 0, len > UINT32_MAX) or STELE_ERR_NOMEM; on error the
 * update is as it was. */
int statedb_update_write(struct statedb_update *u, uint32_t tx_index, const char *tx_id,
                         const char *ns, const char *key, const uint8_t *value, size_t len,
                         bool is_delete);

/* Looks up the newest write of `key` in `ns` recorded in `u` so far: returns true and fills
 * *ver (may be NULL) and *is_delete (may be NULL) when there is one. For MVCC against earlier
 * transactions of the same block. O(log n) in the writes recorded; lookups may run in parallel
 * with each other, not with statedb_update_write(). */
bool statedb_update_lookup(const struct statedb_update *u, const char *ns, const char *key,
                           struct statedb_version *ver, bool *is_delete);

/* statedb_update_lookup() that also gives the value of a put: *value (borrowed from `u`, valid
 * while it lives; NULL for 0 octets or a delete) and *len. */
bool statedb_update_lookup_value(const struct statedb_update *u, const char *ns, const char *key,
                                 const uint8_t **value, size_t *len, bool *is_delete);

/* Block number the update is for. */
uint64_t statedb_update_number(const struct statedb_update *u);

/* Calls fn(ctx, ns, key, value, len, is_delete) for every write recorded in `u`, in recording
 * order (a delete has value NULL, len 0); stops when fn returns false. */
typedef bool (*statedb_write_fn)(void *ctx, const char *ns, const char *key, const uint8_t *value,
                                 size_t len, bool is_delete);
void statedb_update_each(const struct statedb_update *u, statedb_write_fn fn, void *ctx);

/* Computes the state hash of update `u` on top of `prev`, the state hash after the block
 * before (32 zero octets before block 0), as described at the top — what statedb_apply()
 * records — so that a committer can put it in the block it stores first. Returns STELE_OK,
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int statedb_update_hash(const struct statedb_update *u, const uint8_t prev[STATEDB_HASH_LEN],
                        uint8_t out[STATEDB_HASH_LEN]);

/* Copies the state hash after the last applied block (32 zero octets when none) to `out`. */
void statedb_head_hash(struct statedb *db, uint8_t out[STATEDB_HASH_LEN]);

/* Applies `u` as described at the top: its block must be number statedb_height(db). On success
 * the update's state hash is written to `hash` (may be NULL). Returns STELE_OK,
 * STELE_ERR_CONFLICT (wrong block number; nothing written), STELE_ERR_IO (nothing applied; the
 * database refuses further applies until reopened), STELE_ERR_STATE (refused after such an
 * IO error; nothing written), STELE_ERR_NOMEM or STELE_ERR_CRYPTO (nothing written). `u` is
 * only read and may be applied to several databases. */
int statedb_apply(struct statedb *db, const struct statedb_update *u,
                  uint8_t hash[STATEDB_HASH_LEN]);

#endif
