/*
 * statedb_fixture.h — the fixture of the test_statedb*.c tests: a state database (lib/ledger
 * statedb.h) on real LevelDB files in a temporary directory, and helpers that build updates,
 * apply them, and check values, versions and what ranges and histories visit.
 *
 * Functions fail the test on error unless they say otherwise; callbacks for statedb_range()
 * and statedb_history() run on the caller's thread.
 */
#ifndef STELE_TESTS_STATEDB_FIXTURE_H
#define STELE_TESTS_STATEDB_FIXTURE_H

#include "testutil.h"

#include "ledger/envelope.h"
#include "ledger/statedb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDB_MAX_SEEN 16 /* history entries an sdb_hseen holds */

/* A database in a temporary directory. */
struct sdb_fx {
    char *dir;          /* temporary directory */
    char *path;         /* dir/state: the database */
    struct statedb *db; /* open on path */
};

/* Opens the database at `path` (fsync on every apply when `sync`). */
struct statedb *sdb_open(const char *path, bool sync);
/* Opens dir/name of the fixture (sync or not); *path gets its path (free with free()). */
struct statedb *sdb_open_sibling(struct sdb_fx *fx, const char *name, bool sync, char **path);
/* cmocka setup: a heap sdb_fx with an empty database open, not synced. */
int sdb_fx_setup(void **state);
/* cmocka teardown of sdb_fx_setup(): closes the database (may be NULL), removes the
 * directory. */
int sdb_fx_teardown(void **state);
/* Closes and opens again the fixture's database (not synced). */
void sdb_fx_reopen(struct sdb_fx *fx);

/* A tx_id made from `n`: 64 hex digits. Static per call: use before the next call. No
 * assertion. */
const char *sdb_txid(unsigned n);
/* Writes ns/key = value (a C string) in `u` by transaction `tx` (tx_id sdb_txid(tx)). */
void sdb_put(struct statedb_update *u, uint32_t tx, const char *ns, const char *key,
             const char *value);
/* Deletes ns/key in `u` by transaction `tx`. */
void sdb_del(struct statedb_update *u, uint32_t tx, const char *ns, const char *key);
/* Applies `u` (the next block) to `db` and destroys it; `hash` (may be NULL) gets the state
 * hash. */
void sdb_apply(struct statedb *db, struct statedb_update *u, uint8_t hash[STATEDB_HASH_LEN]);
/* Asserts that ns/key holds `want` (NULL: not found) at version (block, tx). */
void sdb_expect(struct statedb *db, const char *ns, const char *key, const char *want,
                uint64_t block, uint32_t tx);

/* Block `number` of a small workload of namespace "w" (four transactions writing or deleting
 * keys key-0..key-6); `twist` changes one value. Apply it with sdb_apply() or statedb_apply()
 * and destroy it. */
struct statedb_update *sdb_workload_block(uint64_t number, bool twist);

/* What a statedb_history() walk with sdb_hcollect() saw. */
struct sdb_hseen {
    struct statedb_version vers[SDB_MAX_SEEN];
    char tx_ids[SDB_MAX_SEEN][ENVELOPE_TXID_LEN + 1];
    char values[SDB_MAX_SEEN][16]; /* as C strings ("" for a delete) */
    bool deletes[SDB_MAX_SEEN];
    size_t n; /* entries seen */
};

/* statedb_history() callback: records the entry in the struct sdb_hseen `ctx`, checking its
 * tx_id's length and that a delete has no value. */
bool sdb_hcollect(void *ctx, const struct statedb_history_entry *e);
/* statedb_range() callback: counts the entries in the size_t `ctx`. No assertion. */
bool sdb_count_entry(void *ctx, const char *key, const uint8_t *value, size_t len,
                     const struct statedb_version *ver);
/* statedb_history() callback: counts the entries in the size_t `ctx`. No assertion. */
bool sdb_count_history(void *ctx, const struct statedb_history_entry *e);

#endif
