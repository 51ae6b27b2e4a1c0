/*
 * sigcache.h — a bounded, thread-safe memory of signatures known to be valid.
 *
 * An ECDSA verification costs ~45 µs; a peer meets the same signature several times: it signs
 * an endorsement and later validates the block that carries it, and a gateway checks the
 * other organisation's endorsement before it submits, then validates it again in the block.
 * The cache remembers each (public key, SHA-256 digest, signature) triple that verified, or
 * that this process produced with crypto_sign, as a 32-octet SHA-256 tag of the three. A later
 * check of the identical triple is answered from memory: ECDSA verification is a function of
 * exactly those three values, so the answer cannot differ (short of a SHA-256 collision).
 * Only successes are remembered; a failure is always verified again. What the cache does not
 * decide: whether the signer's identity is still valid (revocation, expiry) — callers check
 * identities every time, as before.
 *
 * A signature this process made with sigcache_sign() is remembered as made, without a
 * verification: OpenSSL reports a signing failure, and checking each signature made would cost
 * the verification the cache saves. Only a silent fault of the signing itself (the hardware)
 * could make a peer accept its own bad endorsement that other peers refuse — the same class of
 * fault as any other computation of its validation going wrong.
 *
 * Storage: `capacity` tags (rounded up to a power of two, at least 4) in sets of 4 chosen by a
 * random-keyed index; a new tag takes a free place of its set or the oldest one's (so up to 4
 * tags of one set never push each other out; the cache never grows), one mutex. All functions
 * accept a NULL cache and then behave as plain crypto_verify()/crypto_sign().
 */
#ifndef STELE_CRYPTO_SIGCACHE_H
#define STELE_CRYPTO_SIGCACHE_H

#include "crypto/ecdsa.h"
#include "crypto/key.h"

#include <stddef.h>
#include <stdint.h>

/* The cache (opaque). */
struct sigcache;

/* Counters since creation, for metrics and tests. */
struct sigcache_stats {
    uint64_t hits;     /* checks answered from memory */
    uint64_t verified; /* checks that ran a verification (miss), valid or not */
    uint64_t added;    /* tags stored (verified valid, or signed here), not counting repeats */
};

/* Creates a cache of `capacity` tags (1..2^24), rounded up to a power of two of at least 4.
 * NULL on OOM or a bad capacity. Free with sigcache_destroy(). */
struct sigcache *sigcache_create(size_t capacity);

/* Frees the cache. Accepts NULL. No other thread may use it during or after this call. */
void sigcache_destroy(struct sigcache *c);

/* crypto_verify() (same arguments, results and errors) that answers STELE_OK at once for a
 * triple `c` remembers, and remembers the triple when the verification succeeds. `c` may be
 * NULL. Thread-safe. */
int sigcache_verify(struct sigcache *c, const struct crypto_key *k, const void *msg, size_t len,
                    const uint8_t *sig, size_t sig_len);

/* crypto_sign() (same arguments, results and errors) that remembers the signature it makes, so
 * a later sigcache_verify() of it under the public part of `k` costs no verification. `c` may
 * be NULL. Thread-safe. */
int sigcache_sign(struct sigcache *c, const struct crypto_key *k, const void *msg, size_t len,
                  uint8_t sig[CRYPTO_SIG_LEN]);

/* Copies the counters into *out (zeros for a NULL cache). Thread-safe. */
void sigcache_get_stats(struct sigcache *c, struct sigcache_stats *out);

#endif
