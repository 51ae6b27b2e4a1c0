/* hash.c — SHA-256, HKDF-SHA256, random bytes, constant-time compare over OpenSSL 3 EVP. */
#include "crypto/hash.h"

#include "base/status.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pthread.h>
#include <stdlib.h>

struct crypto_sha256 {
    EVP_MD_CTX *ctx; /* owned; initialised for SHA-256 and ready for updates */
};

/* Algorithm objects fetched once: fetching per call costs a lock and a lookup. They are public
 * method tables, never secrets, and live until the process exits. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static EVP_KDF *hkdf_kdf;

static void algs_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hkdf_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

static const EVP_MD *md_sha256(void)
{
    pthread_once(&algs_once, algs_fetch);
    return sha256_md;
}

static EVP_KDF *kdf_hkdf(void)
{
    pthread_once(&algs_once, algs_fetch);
    return hkdf_kdf;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    const EVP_MD *md = md_sha256();
    static const uint8_t empty[1];
    if (!md)
        return STELE_ERR_CRYPTO;
    if (!EVP_Digest(len ? data : empty, len, out, NULL, md, NULL))
        return STELE_ERR_CRYPTO;
    return STELE_OK;
}

struct crypto_sha256 *crypto_sha256_create(void)
{
    const EVP_MD *md = md_sha256();
    struct crypto_sha256 *h = calloc(1, sizeof *h);
    if (!h || !md)
        goto err;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || !EVP_DigestInit_ex(h->ctx, md, NULL))
        goto err;
    return h;
err:
    crypto_sha256_destroy(h);
    return NULL;
}

void crypto_sha256_destroy(struct crypto_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int crypto_sha256_update(struct crypto_sha256 *h, const void *data, size_t len)
{
    if (len == 0)
        return STELE_OK;
    return EVP_DigestUpdate(h->ctx, data, len) ? STELE_OK : STELE_ERR_CRYPTO;
}

int crypto_sha256_final(struct crypto_sha256 *h, uint8_t out[CRYPTO_SHA256_LEN])
{
    if (!EVP_DigestFinal_ex(h->ctx, out, NULL))
        return STELE_ERR_CRYPTO;
    return EVP_DigestInit_ex(h->ctx, NULL, NULL) ? STELE_OK : STELE_ERR_CRYPTO;
}

/* Runs HKDF in `mode` (EVP_KDF_HKDF_MODE_*). `key` is the IKM (extract, both) or the PRK
 * (expand). OpenSSL copies salt/key/info into the KDF context and clears them when it is freed. */
static int hkdf_run(int mode, const uint8_t *salt, size_t salt_len, const uint8_t *key,
                    size_t key_len, const uint8_t *info, size_t info_len, uint8_t *out,
                    size_t out_len)
{
    static const uint8_t zero_salt[CRYPTO_SHA256_LEN];
    static const uint8_t empty[1];
    EVP_KDF *kdf = kdf_hkdf();
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[6], *p = params;
    int rc = STELE_ERR_CRYPTO;

    if (!kdf)
        return STELE_ERR_CRYPTO;
    if (!salt) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key ? key : empty), key_len);
    if (mode != EVP_KDF_HKDF_MODE_EXPAND_ONLY)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (mode != EVP_KDF_HKDF_MODE_EXTRACT_ONLY)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(info ? info : empty),
                                                 info_len);
    *p = OSSL_PARAM_construct_end();

    kctx = EVP_KDF_CTX_new(kdf);
    if (!kctx)
        goto out;
    if (EVP_KDF_derive(kctx, out, out_len, params) <= 0)
        goto out;
    rc = STELE_OK;
out:
    EVP_KDF_CTX_free(kctx);
    return rc;
}

int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                       const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len == 0 || out_len > CRYPTO_HKDF_MAX_LEN)
        return STELE_ERR_INVALID;
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, salt, salt_len, ikm, ikm_len, info,
                    info_len, out, out_len);
}

int crypto_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                               size_t ikm_len, uint8_t prk[CRYPTO_SHA256_LEN])
{
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL, 0, prk,
                    CRYPTO_SHA256_LEN);
}

int crypto_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                              size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len == 0 || out_len > CRYPTO_HKDF_MAX_LEN || prk_len < CRYPTO_SHA256_LEN)
        return STELE_ERR_INVALID;
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prk_len, info, info_len, out,
                    out_len);
}

int crypto_random(void *out, size_t len)
{
    /* RAND_bytes takes an int length; larger requests are split. */
    uint8_t *p = out;
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        if (RAND_bytes(p, (int)n) != 1)
            return STELE_ERR_CRYPTO;
        p += n;
        len -= n;
    }
    return STELE_OK;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
