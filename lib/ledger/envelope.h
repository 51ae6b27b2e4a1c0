/*
 * envelope.h — opening and building signed envelopes (DESIGN §2, §3).
 *
 * An Envelope is { payload bytes, signature } where the payload is a serialized Payload
 * { Header, data }. Opening one from untrusted bytes decodes the three layers and checks
 * everything that needs no key material:
 *   - the envelope decodes, its payload is non-empty and its signature is 64 octets;
 *   - the payload decodes and has a header with a known type, a non-empty channel_id, a creator
 *     and a nonce of ENVELOPE_MIN_NONCE..ENVELOPE_MAX_NONCE octets;
 *   - tx_id is exactly hex(SHA-256(nonce || creator)), 64 lowercase hex digits.
 * Checking the signature (over exactly the payload bytes, never re-encoded) and the creator's
 * membership needs the network's identities and is the caller's job; the view gives it the
 * bytes to check. Orderers (Broadcast, Deliver) and peers (validation) share these rules.
 *
 * Nothing here keeps state; every function is thread-safe.
 */
#ifndef STELE_LEDGER_ENVELOPE_H
#define STELE_LEDGER_ENVELOPE_H

#include "stele/common.pb-c.h"

#include <stddef.h>
#include <stdint.h>

struct arena;
struct crypto_key;

#define ENVELOPE_TXID_LEN  64 /* hex digits of a tx_id */
#define ENVELOPE_MIN_NONCE 16 /* octets */
#define ENVELOPE_MAX_NONCE 64 /* octets */

/* An opened envelope. Every pointer lives in the arena given to envelope_open() (or points
 * into the envelope it was given) and stays valid as long as both do. */
struct envelope_view {
    const Stele__Envelope *envelope; /* the decoded envelope */
    const Stele__Payload *payload;   /* its decoded payload */
    const Stele__Header *header;     /* payload->header, never NULL in an opened view */
};

/* Decodes the `len` untrusted octets at `data` (at most `max_len`; 0 = no cap) as an Envelope
 * into arena `a` and opens it as envelope_open() does. Returns STELE_OK, STELE_ERR_TOO_BIG
 * (len > max_len), STELE_ERR_MALFORMED with *why set to a static sentence saying what is wrong,
 * or STELE_ERR_NOMEM / STELE_ERR_CRYPTO. `why` may be NULL. */
int envelope_parse(struct arena *a, const uint8_t *data, size_t len, size_t max_len,
                   struct envelope_view *out, const char **why);

/* Opens an already decoded envelope `env` (only read; must outlive the view): decodes its
 * payload into `a` and applies the checks above. Returns as envelope_parse(). */
int envelope_open(struct arena *a, const Stele__Envelope *env, struct envelope_view *out,
                  const char **why);

/* Writes hex(SHA-256(nonce || creator)) and a NUL into `out`. Returns STELE_OK or
 * STELE_ERR_CRYPTO. */
int envelope_tx_id(const uint8_t *nonce, size_t nonce_len, const uint8_t *creator,
                   size_t creator_len, char out[ENVELOPE_TXID_LEN + 1]);

/* How far a transaction's header timestamp may be from the clock of the orderer that accepts
 * it (Broadcast) and of the peer that endorses its proposal. Peers judge the creator's and
 * endorsers' identities at that timestamp and chaincode reads it as the transaction's time, so
 * without a bound a client could backdate a transaction into an identity's validity after it
 * expired, date it outside a chaincode's opening hours, or replay an old signed proposal. */
#define ENVELOPE_TIME_WINDOW_MS (15 * 60 * 1000ull)

/* Checks the header timestamp `ts` (untrusted; may be NULL) against `now_ms` (ms since the
 * epoch): STELE_OK when it is within `window_ms` either way, with *at_ms (may be NULL) set to
 * it in ms; STELE_ERR_MALFORMED when it is missing or out of range; STELE_ERR_EXPIRED when it
 * lies further away. */
int envelope_time_check(const Stele__Timestamp *ts, uint64_t now_ms, uint64_t window_ms,
                        uint64_t *at_ms);

/* What envelope_build() puts in a header. */
struct envelope_params {
    const char *channel_id; /* required */
    Stele__HeaderType type; /* required, not UNSPECIFIED */
    const uint8_t *creator; /* the signer's serialized identity (required) */
    size_t creator_len;     /* octets at creator */
    const uint8_t *nonce;   /* NULL: 24 fresh random octets */
    size_t nonce_len;       /* octets at nonce when given */
    const uint8_t *data;    /* payload data (may be NULL when data_len is 0) */
    size_t data_len;        /* octets at data */
    uint64_t timestamp_ms;  /* 0: now */
};

/* Builds a serialized Envelope whose payload carries `p` and whose signature is by `signer`
 * over the payload bytes. On success *out holds the bytes (malloc'd, the caller free()s
 * out->data) and, when tx_id is non-NULL, the tx_id is written there. Returns STELE_OK,
 * STELE_ERR_INVALID, STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int envelope_build(const struct envelope_params *p, const struct crypto_key *signer,
                   ProtobufCBinaryData *out, char tx_id[ENVELOPE_TXID_LEN + 1]);

#endif
