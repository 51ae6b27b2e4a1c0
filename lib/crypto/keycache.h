/*
 * keycache.h — a bounded, thread-safe cache of ECQV-extracted public keys, keyed by certhash.
 *
 * Extraction costs about 50 µs, so validators keep the public key of each certificate they have
 * seen. Entries are keyed by (certhash, CA public key) so a certificate extracted under one CA
 * key is never served for another. When full, the cache evicts with the CLOCK algorithm (an
 * approximation of least-recently-used). One mutex protects it; lookups are O(1) on average.
 * Keys handed out are references the caller drops with crypto_key_destroy(); they stay valid
 * after eviction or keycache_destroy().
 */
#ifndef STELE_CRYPTO_KEYCACHE_H
#define STELE_CRYPTO_KEYCACHE_H

#include "crypto/key.h"

#include <stddef.h>
#include <stdint.h>

/* The cache (opaque). */
struct keycache;

/* Counters since creation, for metrics. */
struct keycache_stats {
    uint64_t hits;      /* lookups answered from the cache */
    uint64_t misses;    /* lookups that found nothing */
    uint64_t evictions; /* entries dropped to make room */
    size_t count;       /* entries held now */
};

/* Creates a cache holding at most `capacity` keys (1..2^24). NULL on OOM or bad capacity.
 * Free it with keycache_destroy(). */
struct keycache *keycache_create(size_t capacity);

/* Drops every reference the cache holds and frees it. Accepts NULL. No other thread may use
 * the cache during or after this call. */
void keycache_destroy(struct keycache *c);

/* Looks up the key for `certhash` extracted under `ca_pub`. Returns a new reference (drop it with
 * crypto_key_destroy()) or NULL when absent. Thread-safe. */
struct crypto_key *keycache_get(struct keycache *c, const uint8_t certhash[32],
                                const struct crypto_key *ca_pub);

/* Stores `key` for (certhash, ca_pub); the cache takes its own reference and the caller keeps
 * theirs. An existing entry for the same pair is kept (it is the same key). May evict another
 * entry. Returns STELE_OK. Thread-safe. */
int keycache_put(struct keycache *c, const uint8_t certhash[32], const struct crypto_key *ca_pub,
                 struct crypto_key *key);

/* Returns in *out the public key of the STELE-ECQV-v1 certificate `cert` (untrusted) under
 * `ca_pub`: from the cache when present, otherwise by ecqv_extract(), caching the result. The
 * caller drops *out with crypto_key_destroy(). Errors as ecqv_extract(). Thread-safe. */
int keycache_extract(struct keycache *c, const uint8_t *cert, size_t cert_len,
                     const struct crypto_key *ca_pub, struct crypto_key **out);

/* Copies the counters into *out. Thread-safe. */
void keycache_get_stats(struct keycache *c, struct keycache_stats *out);

#endif
