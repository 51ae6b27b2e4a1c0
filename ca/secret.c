/* secret.c — enrolment secrets: generation, HMAC and PBKDF2 hashing, constant-time checks. */
#include "secret.h"

#include "base/status.h"
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

int secret_generate(char out[SECRET_GENERATED_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[24];
    if (crypto_random(raw, sizeof raw) != STELE_OK)
        return STELE_ERR_CRYPTO;
    /* 24 octets = 8 groups of 3 octets = 32 characters of 6 bits, no padding. */
    for (size_t g = 0; g < 8; g++) {
        uint32_t v = (uint32_t)raw[3 * g] << 16 | (uint32_t)raw[3 * g + 1] << 8 | raw[3 * g + 2];
        for (size_t i = 0; i < 4; i++)
            out[4 * g + i] = alphabet[(v >> (18 - 6 * i)) & 63];
    }
    out[SECRET_GENERATED_LEN] = 0;
    OPENSSL_cleanse(raw, sizeof raw);
    return STELE_OK;
}

static int hmac(const uint8_t *salt, size_t salt_len, const char *secret,
                uint8_t out[SECRET_HASH_LEN])
{
    size_t n = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, salt, salt_len, (const uint8_t *)secret,
                   strlen(secret), out, SECRET_HASH_LEN, &n) ||
        n != SECRET_HASH_LEN)
        return STELE_ERR_CRYPTO;
    return STELE_OK;
}

static int pbkdf2(const uint8_t *salt, size_t salt_len, uint32_t iterations, const char *secret,
                  uint8_t out[SECRET_HASH_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int rc = STELE_ERR_CRYPTO;
    if (ctx) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)secret,
                                              strlen(secret)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
            OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_ITER, &iterations),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(ctx, out, SECRET_HASH_LEN, params) > 0)
            rc = STELE_OK;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

int secret_hash(const char *secret, bool generated, uint32_t iterations, struct secret_hash *out)
{
    if (!secret || !secret[0] || (!generated && iterations == 0))
        return STELE_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (crypto_random(out->salt, sizeof out->salt) != STELE_OK)
        return STELE_ERR_CRYPTO;
    if (generated) {
        out->scheme = SECRET_SCHEME_HMAC;
        return hmac(out->salt, sizeof out->salt, secret, out->hash);
    }
    out->scheme = SECRET_SCHEME_PBKDF2;
    out->iterations = iterations;
    return pbkdf2(out->salt, sizeof out->salt, iterations, secret, out->hash);
}

bool secret_check(const char *scheme, const uint8_t *salt, size_t salt_len, uint32_t iterations,
                  const uint8_t *hash, size_t hash_len, const char *secret)
{
    uint8_t h[SECRET_HASH_LEN];
    int rc;
    if (!scheme || !secret || hash_len != SECRET_HASH_LEN || salt_len == 0)
        return false;
    if (strcmp(scheme, SECRET_SCHEME_HMAC) == 0)
        rc = hmac(salt, salt_len, secret, h);
    else if (strcmp(scheme, SECRET_SCHEME_PBKDF2) == 0 && iterations > 0)
        rc = pbkdf2(salt, salt_len, iterations, secret, h);
    else
        return false;
    bool ok = rc == STELE_OK && crypto_equal(h, hash, SECRET_HASH_LEN);
    OPENSSL_cleanse(h, sizeof h);
    return ok;
}

void secret_check_dummy(uint32_t iterations, const char *secret)
{
    static const uint8_t salt[SECRET_SALT_LEN] = {0};
    uint8_t h[SECRET_HASH_LEN];
    if (iterations && secret && pbkdf2(salt, sizeof salt, iterations, secret, h) == STELE_OK)
        OPENSSL_cleanse(h, sizeof h);
}
