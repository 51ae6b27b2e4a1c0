/*
 * reccache.h — a bounded cache of identity records an MSP has already verified, keyed by the
 * SHA-256 of the record's exact bytes (internal to lib/identity).
 *
 * Verifying a record costs an ECDSA verification of the CA signature (≈ 70 µs here) plus the
 * decoding of CertU, whose compressed point alone takes ≈ 13 µs. A busy verifier sees the same
 * few creators in every request, so identity_verify_grace() remembers what that work
 * established about a record: its decoded fields and which trusted CA issued it. What depends
 * on the moment — validity period, revocation — is never cached and is checked on every use.
 *
 * The key is the hash of the whole record, not the certhash: the record binds org, role and
 * attributes to the certificate under the CA's signature, and any change to those bytes is
 * another key. Only records whose decoded strings and attributes fit RECCACHE_MAX_BLOB octets
 * are kept (real ones are a few hundred); others are verified every time.
 *
 * Set-associative (RECCACHE_WAYS per set), least recently used way replaced. One mutex;
 * a lookup copies the entry out into the caller's arena.
 */
#ifndef STELE_IDENTITY_RECCACHE_H
#define STELE_IDENTITY_RECCACHE_H

#include "identity/identity.h"

#include <stddef.h>
#include <stdint.h>

#define RECCACHE_WAYS     4    /* entries per set */
#define RECCACHE_MAX_BLOB 2048 /* largest cached id + org + role + attributes, in octets */

struct reccache;

/* Counters since creation, for tests and metrics. */
struct reccache_stats {
    uint64_t hits;   /* lookups answered from the cache */
    uint64_t misses; /* lookups that found nothing */
    uint64_t stored; /* records stored (including replacements) */
};

/* Creates a cache of about `capacity` records (rounded up to a power of two sets of
 * RECCACHE_WAYS; 1..2^20). NULL on OOM or bad capacity. Free with reccache_destroy(). */
struct reccache *reccache_create(size_t capacity);

/* Frees the cache. Accepts NULL. */
void reccache_destroy(struct reccache *c);

/* Looks up the record whose bytes hash to `rhash`. On a hit fills *out as identity_verify()
 * does up to its time and revocation checks (strings and attributes copied into `a`; ca_key as
 * stored) and returns STELE_OK; STELE_ERR_NOT_FOUND on a miss; STELE_ERR_NOMEM when `a` is
 * exhausted. Thread-safe. */
int reccache_get(struct reccache *c, const uint8_t rhash[32], struct arena *a,
                 struct identity *out);

/* Stores the verified, decoded identity `id` (only read; its ca_key must stay valid as long as
 * the cache) under `rhash`. Silently skips records too large to keep or when memory is short.
 * Thread-safe. */
void reccache_put(struct reccache *c, const uint8_t rhash[32], const struct identity *id);

/* Copies the counters into *out. Thread-safe. */
void reccache_get_stats(struct reccache *c, struct reccache_stats *out);

#endif
