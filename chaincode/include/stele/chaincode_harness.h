/*
 * stele/chaincode_harness.h — unit-test a chaincode without a network.
 *
 * A harness runs one chaincode descriptor in the calling process against an in-memory state
 * with a creator identity and a timestamp the test chooses:
 *
 *     #include <stele/chaincode_harness.h>
 *
 *     extern const struct stele_chaincode stele_chaincode;  // or dlsym() it from the .so
 *
 *     stele_cc_harness *h;
 *     stele_cc_harness_create(&stele_chaincode, &h);
 *     stele_cc_harness_set_creator(h, "alice", "Org1", "client", NULL);
 *     int status = stele_cc_harness_call(h, "put", "k", "v", NULL);   // 200
 *     const uint8_t *v;
 *     size_t len;
 *     stele_cc_harness_get(h, "k", &v, &len);                          // "v", 1
 *     stele_cc_harness_destroy(h);
 *
 * built with  cc test.c chaincode.c $(pkg-config --cflags --libs stele-chaincode-harness)
 *
 * The state behaves as the peer's does for one chaincode's namespace. During an invocation
 * the chaincode reads the committed state plus its own writes (a get after a put returns the
 * value put, a get after a delete finds nothing); ranges run in unsigned octet order over the
 * same merged view; an iterator sees the state as it was when it was opened (writes made while
 * it is open do not change what it returns); every iterator is closed when the invocation
 * returns. An invocation that returns 200..299 commits its writes to the state; any other
 * status writes nothing and emits no event. Invocations run one at a time.
 *
 * What is not simulated: endorsement by several peers, ordering, MVCC conflicts between
 * transactions, the peer's caps on the keys and octets one invocation may touch and on its
 * open iterators (STELE_CC_LIMIT on the peer, never here), and the sandbox (the chaincode
 * runs in the test's own process, so a crash ends the test) with its time and memory limits.
 *
 * Errors. Functions that act return STELE_CC_OK (0) or a negative STELE_CC_* code:
 * STELE_CC_INVALID for a bad argument (nothing done) and STELE_CC_FAILED when memory ran out.
 * While the chaincode runs, those that act refuse to (STELE_CC_INVALID): a chaincode cannot
 * reach around its stub into the harness.
 *
 * Ownership. The harness copies every string and buffer it is given, except the descriptor,
 * which must outlive the harness. Pointers it returns belong to it; how long each stays valid
 * is written on the function.
 */
#ifndef STELE_CHAINCODE_HARNESS_H
#define STELE_CHAINCODE_HARNESS_H

#include "stele/chaincode.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One chaincode, its in-memory state and the identity that invokes it. Opaque. */
typedef struct stele_cc_harness stele_cc_harness;

/* Creates a harness for `cc` with an empty state, the creator "user1" of "Org1" with role
 * "client" and no attributes, and timestamp 0. The descriptor is checked as the peer checks
 * it when it loads a chaincode and the lifecycle when it defines one: abi_version
 * STELE_CC_ABI_VERSION, a name of 1..64 of [A-Za-z0-9_.-] not starting with '_', a version of
 * at most 128 octets, an invoke function. Returns STELE_CC_OK with *out (free with
 * stele_cc_harness_destroy()), STELE_CC_INVALID (a bad descriptor; *out untouched) or
 * STELE_CC_FAILED. */
int stele_cc_harness_create(const struct stele_chaincode *cc, stele_cc_harness **out);

/* Frees the harness and everything it returned. Accepts NULL. */
void stele_cc_harness_destroy(stele_cc_harness *h);

/* ---- the invocation's context ---------------------------------------------------------- */

/* Sets the creator of the next invocations: its textual id, organisation and role (non-empty
 * strings) and the SHA-256 of its certificate (32 octets; NULL: 32 octets derived from id and
 * org, distinct for distinct pairs but not a real certificate hash). Removes every attribute.
 * Returns STELE_CC_OK, STELE_CC_INVALID or STELE_CC_FAILED; on error the creator is unchanged. */
int stele_cc_harness_set_creator(stele_cc_harness *h, const char *id, const char *org,
                                 const char *role, const uint8_t *certhash);

/* Sets the creator's attribute `key` (non-empty) to `value`, replacing an earlier value;
 * a NULL value removes it. Returns STELE_CC_OK, STELE_CC_INVALID or STELE_CC_FAILED. */
int stele_cc_harness_set_attr(stele_cc_harness *h, const char *key, const char *value);

/* Sets the timestamp (milliseconds since the Unix epoch) the next invocations see. */
void stele_cc_harness_set_timestamp(stele_cc_harness *h, uint64_t ms);

/* Sets the tx id of the next invocation only: 64 hex digits. Without it, invocation n (1, 2,
 * ...) of the harness gets n in 64 lower-case hex digits. Returns STELE_CC_OK or
 * STELE_CC_INVALID. */
int stele_cc_harness_set_tx_id(stele_cc_harness *h, const char *tx_id);

/* ---- invoking ------------------------------------------------------------------------- */

/* Invokes `function` ("init" goes to the descriptor's init when it has one, every other name
 * to invoke) with `n` arguments, argument i being the `lens[i]` octets at `args[i]` (NULL
 * allowed when lens[i] is 0). Everything is copied for the invocation. On a status of
 * 200..299 the invocation's writes are committed to the state and its event is kept; on any
 * other status the state is left as it was and there is no event. The results are read with
 * stele_cc_harness_payload(), _message() and _event() until the next invocation.
 * Returns the status the chaincode returned, or, when the harness could not run it,
 * STELE_CC_INVALID (function NULL, args or lens NULL with n > 0, an argument NULL with a
 * length) or STELE_CC_FAILED: both negative, which a chaincode should never return (one that
 * does, passing on a state call's result, cannot be told from them here). */
int stele_cc_harness_invoke(stele_cc_harness *h, const char *function, size_t n,
                            const uint8_t *const *args, const size_t *lens);

/* As stele_cc_harness_invoke(), with `n` NUL-terminated strings as the arguments (without
 * their NULs). */
int stele_cc_harness_invoke_strings(stele_cc_harness *h, const char *function, size_t n,
                                    const char *const *args);

/* As stele_cc_harness_invoke_strings(), with the arguments listed after `function` and ended
 * by NULL: stele_cc_harness_call(h, "transfer", "a1", "bob@Org2", NULL). */
int stele_cc_harness_call(stele_cc_harness *h, const char *function, ...) __attribute__((sentinel));

/* The response payload of the last invocation (stele_cc_success()): its octets, followed by
 * a NUL that is not counted so that a text payload reads as a string, and *len (may be NULL)
 * their count; "" and 0 when there is none. Valid until the next invocation. */
const uint8_t *stele_cc_harness_payload(const stele_cc_harness *h, size_t *len);

/* The response message of the last invocation (stele_cc_error()); "" when none. Valid until
 * the next invocation. */
const char *stele_cc_harness_message(const stele_cc_harness *h);

/* The event of the last invocation (stele_cc_set_event()), NULL when it set none or failed;
 * *payload and *len (each may be NULL) get the event's payload (NUL-terminated as the
 * response payload). Valid until the next invocation. */
const char *stele_cc_harness_event(const stele_cc_harness *h, const uint8_t **payload, size_t *len);

/* ---- the state ------------------------------------------------------------------------- */

/* Writes `len` octets (`value` may be NULL when len is 0) to `key` in the committed state, as
 * a committed transaction would: for initial state. Keys follow the rules of
 * stele/chaincode.h (1..STELE_CC_MAX_KEY octets; one starting with 0x1E must be a well-formed
 * composite key). Returns STELE_CC_OK, STELE_CC_INVALID, STELE_CC_LIMIT (len >
 * STELE_CC_MAX_VALUE) or STELE_CC_FAILED. */
int stele_cc_harness_put(stele_cc_harness *h, const char *key, const void *value, size_t len);

/* Deletes `key` from the committed state (an absent key is not an error). Returns STELE_CC_OK
 * or STELE_CC_INVALID. */
int stele_cc_harness_del(stele_cc_harness *h, const char *key);

/* Reads `key` from the committed state: *value (followed by an uncounted NUL, so a text
 * value reads as a string; valid until the state next changes: a put, a del, a successful
 * invocation or destroy) and *len (may be NULL). Returns STELE_CC_OK, STELE_CC_NOT_FOUND or
 * STELE_CC_INVALID. */
int stele_cc_harness_get(const stele_cc_harness *h, const char *key, const uint8_t **value,
                         size_t *len);

/* Number of keys in the committed state, composite keys included. */
size_t stele_cc_harness_count(const stele_cc_harness *h);

/* The i-th key of the committed state in unsigned octet order (0 <= i < count), NULL past the
 * end. Valid until the state next changes. */
const char *stele_cc_harness_key(const stele_cc_harness *h, size_t i);

#ifdef __cplusplus
}
#endif

#endif
