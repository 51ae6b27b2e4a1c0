/* ecdsa.c — ECDSA P-256 sign/verify with 64-octet low-S r ‖ s, over EVP_PKEY_sign/verify.
 * Verification reuses contexts from the key's pool (key_int.h, struct key_vpool). */
#include "crypto/ecdsa.h"

#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key_int.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include <string.h>

/* The group order n of P-256 and floor(n/2), big-endian. */
static const uint8_t p256_n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const uint8_t p256_half_n[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

#define DER_SIG_MAX 72 /* SEQUENCE of two INTEGERs of up to 33 octets */

/* An idle context of `k` from its pool, initialised for signing (`sign`) or verifying, or a
 * new one; NULL on failure. */
static EVP_PKEY_CTX *ctx_take(const struct crypto_key *k, bool sign)
{
    EVP_PKEY_CTX *pctx = NULL;
    pthread_mutex_lock(&k->vpool->mu);
    if (sign && k->vpool->ns > 0)
        pctx = k->vpool->sctx[--k->vpool->ns];
    else if (!sign && k->vpool->n > 0)
        pctx = k->vpool->ctx[--k->vpool->n];
    pthread_mutex_unlock(&k->vpool->mu);
    if (pctx)
        return pctx;
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (pctx && (sign ? EVP_PKEY_sign_init(pctx) : EVP_PKEY_verify_init(pctx)) <= 0) {
        EVP_PKEY_CTX_free(pctx);
        pctx = NULL;
    }
    return pctx;
}

/* Gives `pctx` back to the pool of `k`, or frees it when the pool is full. */
static void ctx_put(const struct crypto_key *k, EVP_PKEY_CTX *pctx, bool sign)
{
    pthread_mutex_lock(&k->vpool->mu);
    if (sign && k->vpool->ns < KEY_VERIFY_POOL) {
        k->vpool->sctx[k->vpool->ns++] = pctx;
        pctx = NULL;
    } else if (!sign && k->vpool->n < KEY_VERIFY_POOL) {
        k->vpool->ctx[k->vpool->n++] = pctx;
        pctx = NULL;
    }
    pthread_mutex_unlock(&k->vpool->mu);
    EVP_PKEY_CTX_free(pctx);
}

int crypto_sign(const struct crypto_key *k, const void *msg, size_t len,
                uint8_t sig[CRYPTO_SIG_LEN])
{
    uint8_t digest[CRYPTO_DIGEST_LEN];
    int rc = crypto_sha256(msg, len, digest);
    return rc == STELE_OK ? crypto_sign_digest(k, digest, sig) : rc;
}

int crypto_sign_digest(const struct crypto_key *k, const uint8_t digest[CRYPTO_DIGEST_LEN],
                       uint8_t sig[CRYPTO_SIG_LEN])
{
    EVP_PKEY_CTX *pctx = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *s_low = NULL;
    uint8_t der[DER_SIG_MAX];
    size_t der_len = sizeof der;
    const uint8_t *p = der;
    const BIGNUM *r, *s;
    int rc = STELE_ERR_CRYPTO;

    if (!k->has_private)
        return STELE_ERR_INVALID;
    pctx = ctx_take(k, true);
    if (!pctx)
        goto out;
    if (EVP_PKEY_sign(pctx, der, &der_len, digest, CRYPTO_DIGEST_LEN) <= 0) {
        ERR_clear_error();
        goto out; /* a context that failed is not trusted again: freed below */
    }
    ctx_put(k, pctx, true);
    pctx = NULL;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!es)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    /* Low-S: (r, s) and (r, n - s) are both valid; keep the one with s <= n/2. */
    s_low = BN_bin2bn(p256_half_n, sizeof p256_half_n, NULL);
    if (!s_low)
        goto out;
    if (BN_cmp(s, s_low) > 0) {
        if (!BN_bin2bn(p256_n, sizeof p256_n, s_low) || !BN_sub(s_low, s_low, s))
            goto out;
    } else if (!BN_copy(s_low, s)) {
        goto out;
    }
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s_low, sig + 32, 32) != 32)
        goto out;
    rc = STELE_OK;
out:
    BN_free(s_low);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

int crypto_verify(const struct crypto_key *k, const void *msg, size_t len, const uint8_t *sig,
                  size_t sig_len)
{
    uint8_t digest[CRYPTO_DIGEST_LEN];
    int rc;

    if (sig_len != CRYPTO_SIG_LEN)
        return STELE_ERR_MALFORMED;
    rc = crypto_sha256(msg, len, digest);
    return rc == STELE_OK ? crypto_verify_digest(k, digest, sig, sig_len) : rc;
}

static bool all_zero(const uint8_t *v, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= v[i];
    return acc == 0;
}

/* Appends a DER INTEGER holding the unsigned 32-octet big-endian `v` (non-zero) at `out`;
 * returns the octets written (at most 35). */
static size_t der_put_uint(uint8_t *out, const uint8_t v[32])
{
    size_t skip = 0, n = 0;
    while (skip < 31 && v[skip] == 0)
        skip++;
    bool pad = v[skip] & 0x80;
    out[n++] = 0x02;
    out[n++] = (uint8_t)(32 - skip + pad);
    if (pad)
        out[n++] = 0x00;
    memcpy(out + n, v + skip, 32 - skip);
    return n + 32 - skip;
}

int crypto_verify_digest(const struct crypto_key *k, const uint8_t digest[CRYPTO_DIGEST_LEN],
                         const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *pctx;
    uint8_t der[2 + 2 * 35];
    size_t n;
    int rc, v;

    if (sig_len != CRYPTO_SIG_LEN)
        return STELE_ERR_MALFORMED;
    /* Range and canonical-form checks on public values; memcmp is fine here. */
    if (all_zero(sig, 32) || memcmp(sig, p256_n, 32) >= 0)
        return STELE_ERR_AUTH;
    if (all_zero(sig + 32, 32) || memcmp(sig + 32, p256_half_n, 32) > 0)
        return STELE_ERR_AUTH;

    n = 2;
    n += der_put_uint(der + n, sig);
    n += der_put_uint(der + n, sig + 32);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);

    pctx = ctx_take(k, false);
    if (!pctx)
        return STELE_ERR_CRYPTO;
    ERR_clear_error();
    v = EVP_PKEY_verify(pctx, der, n, digest, CRYPTO_DIGEST_LEN);
    /* 0: the signature does not verify. Below 0: OpenSSL failed, which is a verdict too when
     * the signature made it fail (r = -e/d, s = 1 from whoever holds d: u1.G + u2.Q is the
     * point at infinity, "EC lib" on the queue), and none only when it could not allocate: a
     * ledger validating it must then record nothing (another peer would decide otherwise),
     * but must never stall on a signature anyone can make. */
    if (v == 1)
        rc = STELE_OK;
    else if (v == 0)
        rc = STELE_ERR_AUTH;
    else
        rc = crypto_failure_or(STELE_ERR_AUTH); /* or STELE_ERR_NOMEM */
    ERR_clear_error();
    if (v >= 0) /* a context that failed with an error is not trusted again */
        ctx_put(k, pctx, false);
    else
        EVP_PKEY_CTX_free(pctx);
    return rc;
}
