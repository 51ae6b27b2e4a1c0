/*
 * hash.h — SHA-256, HKDF-SHA256, secure random bytes and constant-time comparison.
 *
 * Thin wrappers over OpenSSL 3 EVP. The SHA-256 and HKDF algorithm objects are fetched once per
 * process (they hold no secrets) so one-shot calls stay cheap in loops. Every function here is
 * thread-safe; an incremental `struct crypto_sha256` belongs to one thread at a time.
 */
#ifndef STELE_CRYPTO_HASH_H
#define STELE_CRYPTO_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN   32   /* SHA-256 digest size in octets */
#define CRYPTO_HKDF_MAX_LEN 8160 /* RFC 5869 limit for SHA-256: 255 * 32 octets */

/* Incremental SHA-256 state (opaque). */
struct crypto_sha256;

/* Hashes `len` bytes of `data` (NULL allowed when len is 0) into `out`. Returns STELE_OK or
 * STELE_ERR_CRYPTO. */
int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);

/* Creates an incremental SHA-256 state, ready for updates. NULL on OOM. The caller frees it with
 * crypto_sha256_destroy(). */
struct crypto_sha256 *crypto_sha256_create(void);
/* Frees `h`. Accepts NULL. */
void crypto_sha256_destroy(struct crypto_sha256 *h);
/* Feeds `len` bytes of `data` (NULL allowed when len is 0). Returns STELE_OK or STELE_ERR_CRYPTO.
 */
int crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len);
/* Writes the digest of everything fed so far to `out` and resets `h` for a new message.
 * Returns STELE_OK or STELE_ERR_CRYPTO. */
int crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_SHA256_LEN]);

/* HKDF-SHA256 (RFC 5869): out = Expand(Extract(salt, ikm), info, out_len). `salt` may be NULL
 * (treated as 32 zero octets, as the RFC says), `info` may be NULL when info_len is 0.
 * out_len must be 1..CRYPTO_HKDF_MAX_LEN. Inputs are read only; no copy of a secret outlives the
 * call. Returns STELE_OK, STELE_ERR_INVALID (bad length) or STELE_ERR_CRYPTO. */
int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* HKDF-Extract alone: prk = HMAC-SHA256(salt, ikm). Same conventions as crypto_hkdf_sha256(). */
int crypto_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                               size_t ikm_len, uint8_t prk[CRYPTO_SHA256_LEN]);
/* HKDF-Expand alone from a pseudorandom key of `prk_len` (>= 32) octets. */
int crypto_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                              size_t info_len, uint8_t *out, size_t out_len);

/* Fills `out` with `len` bytes from OpenSSL's CSPRNG. Returns STELE_OK or STELE_ERR_CRYPTO
 * (never returns weak bytes). */
int crypto_random(void *out, size_t len);

/* True when the `len` bytes at `a` and `b` are equal. Runs in time that depends only on len:
 * use it for MACs, commitments and anything derived from secrets. */
bool crypto_equal(const void *a, const void *b, size_t len);

#endif
