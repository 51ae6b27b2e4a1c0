/*
 * key_int.h — internals shared by key.c, ecdsa.c and ecqv.c. Not part of the public API.
 *
 * Holds the layout of struct crypto_key and helpers that move between the EVP world (keys used
 * for signing) and the EC_POINT/BIGNUM world (ECQV algebra).
 */
#ifndef STELE_CRYPTO_KEY_INT_H
#define STELE_CRYPTO_KEY_INT_H

#include "crypto/key.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <pthread.h>
#include <stdatomic.h>

#define KEY_VERIFY_POOL 16 /* verify contexts kept per key, at most */

/* Verification contexts of one key ready for reuse: an EVP_PKEY_CTX set up once with
 * EVP_PKEY_verify_init() verifies any number of signatures, and setting one up fetches the
 * ECDSA implementation under a lock shared by all threads (OpenSSL 3), which cost 8-19% of
 * the verification rate with 16 threads. A context is made only when every pooled one is in
 * use, so a key holds as many as threads have verified with it at once (KEY_VERIFY_POOL at
 * most). Signing contexts are pooled alike (a new one per signature cost 15% of a signature). */
struct key_vpool {
    pthread_mutex_t mu;                  /* guards the four below */
    EVP_PKEY_CTX *ctx[KEY_VERIFY_POOL];  /* idle contexts, initialised for verification */
    int n;                               /* entries in ctx */
    EVP_PKEY_CTX *sctx[KEY_VERIFY_POOL]; /* the same for signing (keys with a private part:
                                            their contexts refer to it, and are freed with it) */
    int ns;                              /* entries in sctx */
};

struct crypto_key {
    EVP_PKEY *pkey;                /* owned reference; P-256, with or without private part */
    atomic_int refs;               /* references held; the last crypto_key_destroy() frees */
    bool has_private;              /* true when pkey carries the private scalar */
    uint8_t pub[CRYPTO_POINT_LEN]; /* uncompressed public point, cached for cheap export */
    struct key_vpool *vpool;       /* owned; the key stays immutable, its pool is a cache */
};

/* The P-256 group, created once per process (public data, shared read-only). NULL only if
 * OpenSSL cannot build it. */
const EC_GROUP *p256_group(void);

/* Wraps the public point `p` (must not be infinity) into a new public-only key. */
int key_from_point(const EC_POINT *p, BN_CTX *ctx, struct crypto_key **out);

/* Wraps the secret scalar `d` in [1, n-1] into a new key pair, computing d·G. `d` is only read. */
int key_from_bn(const BIGNUM *d, BN_CTX *ctx, struct crypto_key **out);

/* After an OpenSSL call on untrusted input failed: `verdict` (what the input deserves) when
 * OpenSSL's error queue says why, STELE_ERR_NOMEM when it says it could not allocate or says
 * nothing (it could not even record why). Empties the calling thread's queue. Call
 * ERR_clear_error() before the OpenSSL call. */
int crypto_failure_or(int verdict);

/* Decodes an untrusted SEC 1 point of `len` octets (33 compressed or 65 uncompressed only) into
 * `out`, refusing off-curve points, infinity and other encodings. Returns STELE_OK,
 * STELE_ERR_MALFORMED, or STELE_ERR_NOMEM when OpenSSL could not allocate (no verdict). */
int point_decode(const uint8_t *buf, size_t len, EC_POINT *out, BN_CTX *ctx);

/* Sets `out` to the public point of `k`. Returns STELE_OK or STELE_ERR_CRYPTO. */
int key_point(const struct crypto_key *k, EC_POINT *out, BN_CTX *ctx);

/* Returns the private scalar of `k` as a new BIGNUM flagged BN_FLG_CONSTTIME (free it with
 * BN_clear_free), or NULL for a public-only key or on error. */
BIGNUM *key_scalar_bn(const struct crypto_key *k);

#endif
