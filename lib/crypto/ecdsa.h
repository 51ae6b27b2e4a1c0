/*
 * ecdsa.h — ECDSA P-256 / SHA-256 signatures in Stele's wire form (DESIGN §3).
 *
 * A signature is 64 octets r ‖ s (each 32 octets big-endian) with s in the low half
 * (s <= n/2). Signing always produces that form; verification accepts nothing else: wrong
 * length, r or s equal to 0 or >= n, and the high-S twin of a valid signature are all refused.
 * Keys come from key.h; one key may be used by many threads at once.
 */
#ifndef STELE_CRYPTO_ECDSA_H
#define STELE_CRYPTO_ECDSA_H

#include "crypto/key.h"

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SIG_LEN    64 /* r ‖ s, 32 octets each */
#define CRYPTO_DIGEST_LEN 32 /* SHA-256 digest signed by crypto_sign_digest() */

/* Signs SHA-256(msg) with the private key `k`, writing 64 octets r ‖ s (low-S) to `sig`.
 * `msg` may be NULL when len is 0. Returns STELE_OK, STELE_ERR_INVALID (public-only key) or
 * STELE_ERR_CRYPTO. */
int crypto_sign(const struct crypto_key *k, const void *msg, size_t len,
                uint8_t sig[CRYPTO_SIG_LEN]);

/* Signs a precomputed 32-octet SHA-256 digest (see crypto_sign()). */
int crypto_sign_digest(const struct crypto_key *k, const uint8_t digest[CRYPTO_DIGEST_LEN],
                       uint8_t sig[CRYPTO_SIG_LEN]);

/* Verifies `sig` (sig_len octets, untrusted) over SHA-256(msg) with the public part of `k`.
 * Returns STELE_OK for a valid low-S signature, STELE_ERR_MALFORMED when sig_len is not 64,
 * STELE_ERR_AUTH for any other invalid signature (bad value, r/s out of range, high S), or
 * STELE_ERR_NOMEM / STELE_ERR_CRYPTO on internal failure. */
int crypto_verify(const struct crypto_key *k, const void *msg, size_t len, const uint8_t *sig,
                  size_t sig_len);

/* Verifies `sig` over a precomputed 32-octet SHA-256 digest (see crypto_verify()). */
int crypto_verify_digest(const struct crypto_key *k, const uint8_t digest[CRYPTO_DIGEST_LEN],
                         const uint8_t *sig, size_t sig_len);

#endif
