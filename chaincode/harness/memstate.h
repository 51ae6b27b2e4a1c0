/*
 * memstate.h — the test harness's in-memory state for one chaincode namespace: the committed
 * keys and values, and the write set of the invocation that is running, with the state ops of
 * a stub (shim/stub.h) over both. Not for chaincode authors: stele/chaincode_harness.h is.
 *
 * An invocation goes: the stub calls memstate_ops (impl = the memstate) — reads see the
 * committed state plus the write set, writes go to the write set — then the harness calls
 * memstate_commit() if the invocation succeeded, and memstate_end() in every case.
 *
 * Memory handed to the chaincode (values read, iterator entries) and the write set live until
 * memstate_end(), so every pointer the chaincode got stays valid for the whole invocation and
 * none after it (AddressSanitizer catches a chaincode that keeps one).
 */
#ifndef STELE_CHAINCODE_HARNESS_MEMSTATE_H
#define STELE_CHAINCODE_HARNESS_MEMSTATE_H

#include "stub.h"

struct memstate;

/* The state calls of a stub; `impl` is a struct memstate *. */
extern const struct stele_cc_state_ops memstate_ops;

/* An empty state; NULL when out of memory. Free with memstate_destroy(). */
struct memstate *memstate_create(void);

/* Frees the state, including an invocation's write set. Accepts NULL. */
void memstate_destroy(struct memstate *s);

/* Writes `len` octets at `value` (copied; NULL allowed when len is 0) to the committed state
 * under `key` (copied; the caller checked it). Returns STELE_CC_OK or STELE_CC_FAILED. */
int memstate_put(struct memstate *s, const char *key, const void *value, size_t len);

/* Removes `key` from the committed state (an absent key is fine). */
void memstate_del(struct memstate *s, const char *key);

/* The committed value of `key`: STELE_CC_OK with *value (followed by an uncounted NUL; valid
 * until the committed state changes) and *len, or STELE_CC_NOT_FOUND. */
int memstate_get(const struct memstate *s, const char *key, const uint8_t **value, size_t *len);

/* Number of committed keys, and the i-th in octet order (NULL when i >= count). */
size_t memstate_count(const struct memstate *s);
const char *memstate_key(const struct memstate *s, size_t i);

/* Applies the write set to the committed state, all of it or (out of memory) none of it.
 * Returns STELE_CC_OK or STELE_CC_FAILED. Call before memstate_end(). */
int memstate_commit(struct memstate *s);

/* Ends the invocation: drops the write set and frees the memory handed to the chaincode. Its
 * iterators must have been closed (stele_cc_stub_release() closes them). */
void memstate_end(struct memstate *s);

#endif
