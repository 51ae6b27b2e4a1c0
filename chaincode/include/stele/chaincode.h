/*
 * stele/chaincode.h — the only header a Stele chaincode includes.
 *
 * A chaincode is a shared object that exports one descriptor:
 *
 *     #include <stele/chaincode.h>
 *     #include <string.h>
 *
 *     static int invoke(stele_cc_stub *stub)
 *     {
 *         const char *fn = stele_cc_function(stub);
 *         if (strcmp(fn, "put") == 0) {
 *             const char *key = stele_cc_arg_string(stub, 0);
 *             size_t len;
 *             const uint8_t *value = stele_cc_arg(stub, 1, &len);
 *             if (!key || !value)
 *                 return stele_cc_error(stub, 400, "usage: put KEY VALUE");
 *             if (stele_cc_put_state(stub, key, value, len) != STELE_CC_OK)
 *                 return stele_cc_error(stub, 500, "cannot write %s", key);
 *             return stele_cc_success(stub, NULL, 0);
 *         }
 *         return stele_cc_error(stub, 400, "unknown function %s", fn);
 *     }
 *
 *     STELE_CHAINCODE("kv", "1.0", NULL, invoke);
 *
 * built with  cc -shared -fPIC -fvisibility=hidden kv.c -o kv.so \
 *                 $(pkg-config --cflags --libs stele-chaincode) -Wl,--exclude-libs,ALL
 * (the source before the library, so that the linker takes the API from it; the visibility
 * flags export only the descriptor).
 *
 * How it runs. The peer executes a proposal by calling the chaincode's `invoke` (or `init` for
 * a function named "init" when the chaincode has one) in a sandboxed host process: no files,
 * no sockets, no processes, a time limit and a memory limit per invocation. The chaincode sees
 * the state as committed when the proposal was executed, plus its own writes: a get after a put
 * of the same key returns the value put. Nothing it writes reaches the ledger unless the
 * transaction is endorsed, ordered and validated; an invocation that fails (any status outside
 * 200..299) writes nothing at all. A chaincode reads and writes only its own namespace.
 *
 * Determinism. Every endorsing peer must compute the same result: a chaincode must not use
 * the clock (use stele_cc_timestamp_ms()), random numbers, or anything but its arguments, its
 * creator and the state.
 *
 * Ownership. Every pointer this API returns is owned by the stub and stays valid until the
 * invocation returns; the chaincode never frees one. Everything the chaincode passes in is
 * copied before the call returns.
 *
 * Keys. A key is a NUL-terminated string of 1..4096 octets. The octets 0x1E and 0x1F are
 * reserved for composite keys (stele_cc_composite_key()); a simple key must not start with
 * 0x1E.
 */
#ifndef STELE_CHAINCODE_H
#define STELE_CHAINCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STELE_CC_ABI_VERSION 1u

/* Results of the state calls. */
#define STELE_CC_OK        0  /* done */
#define STELE_CC_NOT_FOUND -1 /* no such key (get) */
#define STELE_CC_INVALID   -2 /* a bad key, name or argument; nothing done */
#define STELE_CC_LIMIT     -3 /* a limit of the invocation was reached (sizes, counts) */
#define STELE_CC_FAILED    -4 /* the peer could not serve the call: return an error (500) */

#define STELE_CC_MAX_KEY   4096       /* octets of a key */
#define STELE_CC_MAX_VALUE (1u << 20) /* octets of a value */

/* Keys (and range bounds, and event names) are UTF-8 text: they travel in read/write sets and
 * blocks as protobuf strings, which clients in other languages refuse to decode otherwise. A
 * state call with a key that is not well-formed UTF-8 returns STELE_CC_INVALID. Values and
 * payloads are any octets. */

/* One invocation: what it was called with, and the state it may read and write. Opaque. */
typedef struct stele_cc_stub stele_cc_stub;

/* An iterator over a key range. Opaque. */
typedef struct stele_cc_iter stele_cc_iter;

/* A chaincode's entry points: return the response status (see stele_cc_success() and
 * stele_cc_error()). */
typedef int (*stele_cc_fn)(stele_cc_stub *stub);

/* What a chaincode exports, under the name `stele_chaincode`. */
struct stele_chaincode {
    uint32_t abi_version; /* STELE_CC_ABI_VERSION */
    const char *name;     /* its name: 1..64 of [A-Za-z0-9_.-], not starting with '_' */
    const char *version;  /* its version, free text of at most 128 octets */
    stele_cc_fn init;     /* called for the function "init"; NULL: none */
    stele_cc_fn invoke;   /* called for every other function; required */
};

/* Declares the descriptor. */
#define STELE_CHAINCODE(name_, version_, init_, invoke_)                                    \
    __attribute__((visibility("default"))) const struct stele_chaincode stele_chaincode = { \
        STELE_CC_ABI_VERSION, (name_), (version_), (init_), (invoke_)}

/* ---- what the invocation carries ----------------------------------------------------- */

/* The function name (never NULL; may be ""). */
const char *stele_cc_function(const stele_cc_stub *stub);

/* Number of arguments. */
size_t stele_cc_arg_count(const stele_cc_stub *stub);

/* Argument `i` as bytes: its octets, *len (may be NULL) their count; NULL when there is no
 * argument `i`. */
const uint8_t *stele_cc_arg(const stele_cc_stub *stub, size_t i, size_t *len);

/* Argument `i` as a NUL-terminated string; NULL when there is no argument `i`, it holds a
 * NUL octet or memory ran out. */
const char *stele_cc_arg_string(const stele_cc_stub *stub, size_t i);

/* The transaction's id (64 hex digits) and its creator's timestamp (milliseconds since the
 * Unix epoch, as the client stated it; the same on every endorser, each of which refused the
 * proposal unless this lies within 15 minutes of its clock). */
const char *stele_cc_tx_id(const stele_cc_stub *stub);
uint64_t stele_cc_timestamp_ms(const stele_cc_stub *stub);

/* The creator of the proposal, whose identity and signature the peer has verified: its
 * textual id, organisation and role (never NULL), the SHA-256 of its certificate (32
 * octets), and the value of its attribute `key` (NULL when it has none). */
const char *stele_cc_creator_id(const stele_cc_stub *stub);
const char *stele_cc_creator_org(const stele_cc_stub *stub);
const char *stele_cc_creator_role(const stele_cc_stub *stub);
const uint8_t *stele_cc_creator_certhash(const stele_cc_stub *stub);
const char *stele_cc_creator_attr(const stele_cc_stub *stub, const char *key);

/* True when the `len` octets at `s` are well-formed UTF-8 (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF). For checking arguments that become keys or text. */
bool stele_cc_utf8_valid(const void *s, size_t len);

/* ---- state ---------------------------------------------------------------------------- */

/* Reads `key`: *value (owned by the stub, valid until the invocation ends) and *len its
 * current value; `value` and `len` must not be NULL. Returns STELE_CC_OK, STELE_CC_NOT_FOUND,
 * STELE_CC_INVALID (a bad key, or `value` or `len` NULL) or STELE_CC_FAILED (also when the
 * peer's caps on what one invocation reads are reached). */
int stele_cc_get_state(stele_cc_stub *stub, const char *key, const uint8_t **value, size_t *len);

/* Writes `len` octets (at most STELE_CC_MAX_VALUE; `value` may be NULL when len is 0) to
 * `key`. Returns STELE_CC_OK, STELE_CC_INVALID, STELE_CC_LIMIT or STELE_CC_FAILED. */
int stele_cc_put_state(stele_cc_stub *stub, const char *key, const void *value, size_t len);

/* Deletes `key` (deleting an absent key is not an error). Returns STELE_CC_OK,
 * STELE_CC_INVALID, STELE_CC_LIMIT or STELE_CC_FAILED. */
int stele_cc_del_state(stele_cc_stub *stub, const char *key);

/* Opens an iterator over the keys in [start, end) in octet order ("" or NULL start: from the
 * first key; "" or NULL end: to the last), as committed plus this invocation's writes made
 * before the iterator was opened (later writes are not seen by it). Keys
 * starting with 0x1E (composite keys) are skipped unless `start` starts with 0x1E. Returns
 * STELE_CC_OK with *it, STELE_CC_INVALID (a bound over STELE_CC_MAX_KEY octets or not UTF-8,
 * an end not after the start, `it` NULL), STELE_CC_LIMIT (the peer's cap on open iterators) or
 * STELE_CC_FAILED. */
int stele_cc_range(stele_cc_stub *stub, const char *start, const char *end, stele_cc_iter **it);

/* The next entry: returns 1 with *key, *value, *len (owned by the stub), 0 at the end,
 * STELE_CC_INVALID (a closed iterator, a NULL argument) or STELE_CC_FAILED. */
int stele_cc_iter_next(stele_cc_iter *it, const char **key, const uint8_t **value, size_t *len);

/* Closes the iterator early (optional: every iterator closes when the invocation ends).
 * Accepts NULL. */
void stele_cc_iter_close(stele_cc_iter *it);

/* ---- composite keys ------------------------------------------------------------------- */

/* Builds the composite key 0x1E type 0x1F attr_1 0x1F ... attr_n 0x1F into *key (owned by the
 * stub). `type` and every attribute are non-empty UTF-8 strings without 0x1E or 0x1F. Returns
 * STELE_CC_OK, STELE_CC_INVALID, STELE_CC_LIMIT (longer than STELE_CC_MAX_KEY) or
 * STELE_CC_FAILED (out of memory). */
int stele_cc_composite_key(stele_cc_stub *stub, const char *type, const char *const *attrs,
                           size_t n, const char **key);

/* Iterates over the composite keys of `type` whose first `n` attributes are `attrs`. Returns
 * as stele_cc_composite_key() and stele_cc_range(). */
int stele_cc_composite_range(stele_cc_stub *stub, const char *type, const char *const *attrs,
                             size_t n, stele_cc_iter **it);

/* Splits a composite key: *type, and up to `max` attributes into `attrs` (owned by the stub);
 * *n gets how many there are. Returns STELE_CC_OK, STELE_CC_INVALID (not a composite key) or
 * STELE_CC_FAILED (out of memory). */
int stele_cc_split_composite_key(stele_cc_stub *stub, const char *key, const char **type,
                                 const char **attrs, size_t max, size_t *n);

/* ---- results -------------------------------------------------------------------------- */

/* Sets the event the transaction emits when it commits (one per invocation; a later call
 * replaces it). `name` is 1..128 octets of UTF-8, `payload` (copied; may be NULL when len is 0) at
 * most STELE_CC_MAX_VALUE. Returns STELE_CC_OK, STELE_CC_INVALID, STELE_CC_LIMIT or STELE_CC_FAILED
 * (out of memory). */
int stele_cc_set_event(stele_cc_stub *stub, const char *name, const void *payload, size_t len);

/* Sets the response payload (copied; may be NULL when len is 0) and returns 200: end an
 * invocation with `return stele_cc_success(stub, p, n);`. A payload over STELE_CC_MAX_VALUE,
 * NULL with len > 0, or no memory to copy it into: it returns 500 instead, with a message as
 * stele_cc_error() sets one, so the invocation fails and writes nothing. */
int stele_cc_success(stele_cc_stub *stub, const void *payload, size_t len);

/* Sets the response message (printf-style; a longer one is cut to at most 1024 octets, never
 * inside a UTF-8 character) and returns `status`, which should be 400..499 (refused: bad
 * arguments, not allowed, not found) or 500..599 (failed); any status outside 200..299 makes
 * the invocation fail and write nothing. */
int stele_cc_error(stele_cc_stub *stub, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
