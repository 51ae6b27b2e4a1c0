/*
 * key.h — P-256 key objects: generation, import/export (SEC 1, raw scalar, PKCS#8 PEM).
 *
 * A `struct crypto_key` holds either a key pair (private scalar + public point) or a public
 * point only. It wraps an OpenSSL EVP_PKEY and is reference-counted so that one extracted or
 * loaded key can be shared (for example by the key cache) and used concurrently by several
 * threads for signing and verifying; it is immutable after creation. Every constructor returns a
 * key with one reference that the caller drops with crypto_key_destroy().
 *
 * Public points are validated on import (on the curve, not the point at infinity). Private
 * scalars must lie in [1, n-1]. Copies of secrets made on the way are cleared.
 */
#ifndef STELE_CRYPTO_KEY_H
#define STELE_CRYPTO_KEY_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SCALAR_LEN           32 /* private scalar, big-endian, fixed width */
#define CRYPTO_POINT_COMPRESSED_LEN 33 /* SEC 1 compressed point: 02|03 ‖ x */
#define CRYPTO_POINT_LEN            65 /* SEC 1 uncompressed point: 04 ‖ x ‖ y */

/* A P-256 key pair or public key (opaque, reference-counted, immutable). */
struct crypto_key;

/* Generates a fresh key pair. On success *out owns one reference. Returns STELE_OK,
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int crypto_key_generate(struct crypto_key **out);

/* Imports a public key from a SEC 1 point of `len` octets: 33 (compressed) or 65
 * (uncompressed). The point must be on P-256 and not infinity. Untrusted input is fine.
 * Returns STELE_OK, STELE_ERR_MALFORMED (bad length, prefix or point), STELE_ERR_NOMEM or
 * STELE_ERR_CRYPTO. */
int crypto_key_from_public(const uint8_t *buf, size_t len, struct crypto_key **out);

/* Imports a key pair from a 32-octet big-endian private scalar d in [1, n-1]; the public point is
 * computed as d·G. `d` is only read; the caller clears its own copy. Returns STELE_OK,
 * STELE_ERR_INVALID (d out of range), STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int crypto_key_from_scalar(const uint8_t d[CRYPTO_SCALAR_LEN], struct crypto_key **out);

/* Imports a P-256 private key from PEM text of `len` octets (PKCS#8 "PRIVATE KEY" or the
 * traditional "EC PRIVATE KEY"; encrypted PEM is refused, nothing prompts). The public point is
 * recomputed from the scalar. Returns STELE_OK, STELE_ERR_MALFORMED (not a P-256 private key),
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int crypto_key_from_pem(const char *pem, size_t len, struct crypto_key **out);

/* Reads a PEM private key file (see crypto_key_from_pem()). Returns also STELE_ERR_IO or
 * STELE_ERR_NOT_FOUND when the file cannot be read. */
int crypto_key_load_pem(const char *path, struct crypto_key **out);

/* Appends the private key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") to `out`.
 * The caller owns `out` and should release it with buf_release_secure(). Returns STELE_OK,
 * STELE_ERR_INVALID (public-only key), STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int crypto_key_to_pem(const struct crypto_key *k, struct buf *out);

/* Writes the private key as PKCS#8 PEM to `path`, created or truncated with mode 0600 (an
 * existing file's mode is reset to 0600; symlinks are refused). The data is fsync'ed. Readable by
 * `openssl pkey -in path`. Returns STELE_OK, STELE_ERR_INVALID, STELE_ERR_IO or
 * STELE_ERR_CRYPTO. */
int crypto_key_save_pem(const struct crypto_key *k, const char *path);

/* Writes the private key as PKCS#8 PEM to the open descriptor `fd` and fsyncs it. Returns
 * STELE_OK, STELE_ERR_INVALID, STELE_ERR_IO or STELE_ERR_CRYPTO. */
int crypto_key_write_pem(const struct crypto_key *k, int fd);

/* Adds a reference to `k` and returns it; each reference is dropped with crypto_key_destroy().
 * Thread-safe. */
struct crypto_key *crypto_key_ref(struct crypto_key *k);

/* Drops one reference; the last one frees the key and clears its secrets. Accepts NULL. */
void crypto_key_destroy(struct crypto_key *k);

/* True when `k` holds a private scalar (and can sign). */
bool crypto_key_has_private(const struct crypto_key *k);

/* Writes the public point, compressed (33 octets). Never fails. */
void crypto_key_public_compressed(const struct crypto_key *k,
                                  uint8_t out[CRYPTO_POINT_COMPRESSED_LEN]);

/* Writes the public point, uncompressed (65 octets). Never fails. */
void crypto_key_public_uncompressed(const struct crypto_key *k, uint8_t out[CRYPTO_POINT_LEN]);

/* True when `a` and `b` have the same public point (private parts are not compared). */
bool crypto_key_public_equal(const struct crypto_key *a, const struct crypto_key *b);

/* Writes the private scalar (32 octets, big-endian) to `out`; the caller must clear it with
 * OPENSSL_cleanse() after use. Returns STELE_OK, STELE_ERR_INVALID (public-only key) or
 * STELE_ERR_CRYPTO. */
int crypto_key_scalar(const struct crypto_key *k, uint8_t out[CRYPTO_SCALAR_LEN]);

#endif
