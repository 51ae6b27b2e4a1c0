/* test_crypto_ecdsa.c — P-256 keys (SEC 1, scalar, PKCS#8 PEM) and low-S ECDSA r ‖ s. */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/key.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *N_HEX = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    assert_int_equal(hex_decode(hex, out, len), STELE_OK);
}

/* Writes n - s (32 octets, big-endian) to out: the high-S twin of a low-S s. */
static void negate_mod_n(const uint8_t s[32], uint8_t out[32])
{
    uint8_t n[32];
    int borrow = 0;
    unhex(N_HEX, n, 32);
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

static void keys_scalar_and_points(void **state)
{
    (void)state;
    uint8_t d[32] = {0}, pub[65], comp[33], back[32];
    struct crypto_key *k = NULL, *p = NULL;

    /* d = 1 gives the generator G. */
    d[31] = 1;
    assert_int_equal(crypto_key_from_scalar(d, &k), STELE_OK);
    assert_true(crypto_key_has_private(k));
    crypto_key_public_compressed(k, comp);
    uint8_t g[33];
    unhex("036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296", g, 33);
    assert_memory_equal(comp, g, 33);
    crypto_key_destroy(k);

    /* RFC 6979 A.2.5 key pair. */
    unhex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", d, 32);
    assert_int_equal(crypto_key_from_scalar(d, &k), STELE_OK);
    crypto_key_public_uncompressed(k, pub);
    uint8_t want[65];
    unhex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
          want, 65);
    assert_memory_equal(pub, want, 65);
    assert_int_equal(crypto_key_scalar(k, back), STELE_OK);
    assert_memory_equal(back, d, 32);

    /* Public import, both forms, equal to the key pair's public part. */
    assert_int_equal(crypto_key_from_public(want, 65, &p), STELE_OK);
    assert_false(crypto_key_has_private(p));
    assert_true(crypto_key_public_equal(k, p));
    assert_int_equal(crypto_key_scalar(p, back), STELE_ERR_INVALID);
    crypto_key_public_compressed(p, comp);
    crypto_key_destroy(p);
    assert_int_equal(crypto_key_from_public(comp, 33, &p), STELE_OK);
    assert_true(crypto_key_public_equal(k, p));
    crypto_key_destroy(p);

    /* Refused points: infinity, wrong lengths and prefixes, off curve, x >= p. */
    uint8_t bad[65];
    uint8_t inf[1] = {0x00};
    p = NULL;
    assert_int_equal(crypto_key_from_public(inf, 1, &p), STELE_ERR_MALFORMED);
    assert_int_equal(crypto_key_from_public(want, 64, &p), STELE_ERR_MALFORMED);
    assert_int_equal(crypto_key_from_public(comp, 32, &p), STELE_ERR_MALFORMED);
    memcpy(bad, want, 65);
    bad[0] = 0x06; /* hybrid form */
    assert_int_equal(crypto_key_from_public(bad, 65, &p), STELE_ERR_MALFORMED);
    memcpy(bad, comp, 33);
    bad[0] = 0x04;
    assert_int_equal(crypto_key_from_public(bad, 33, &p), STELE_ERR_MALFORMED);
    memcpy(bad, want, 65);
    bad[64] ^= 1; /* y changed: off the curve */
    assert_int_equal(crypto_key_from_public(bad, 65, &p), STELE_ERR_MALFORMED);
    memset(bad, 0xff, 33);
    bad[0] = 0x02; /* x = 2^256 - 1 >= p */
    assert_int_equal(crypto_key_from_public(bad, 33, &p), STELE_ERR_MALFORMED);
    memset(bad, 0, 65);
    bad[0] = 0x04; /* (0, 0) is not on the curve */
    assert_int_equal(crypto_key_from_public(bad, 65, &p), STELE_ERR_MALFORMED);
    assert_null(p);
    crypto_key_destroy(k);

    /* Scalars 0 and n are out of range. */
    memset(d, 0, 32);
    assert_int_equal(crypto_key_from_scalar(d, &k), STELE_ERR_INVALID);
    unhex(N_HEX, d, 32);
    assert_int_equal(crypto_key_from_scalar(d, &k), STELE_ERR_INVALID);
    crypto_key_destroy(NULL);
}

static void sign_verify_round_trip(void **state)
{
    (void)state;
    struct crypto_key *k, *other, *pub;
    uint8_t sig[CRYPTO_SIG_LEN], half[32], comp[33], digest[32];
    const char *msg = "transfer 10 tokens to table 7";

    unhex("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8", half, 32);
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    assert_int_equal(crypto_key_generate(&other), STELE_OK);
    crypto_key_public_compressed(k, comp);
    assert_int_equal(crypto_key_from_public(comp, 33, &pub), STELE_OK);

    for (int i = 0; i < 32; i++) {
        assert_int_equal(crypto_sign(k, msg, strlen(msg), sig), STELE_OK);
        assert_true(memcmp(sig + 32, half, 32) <= 0); /* always low-S */
        assert_int_equal(crypto_verify(pub, msg, strlen(msg), sig, sizeof sig), STELE_OK);
        assert_int_equal(crypto_verify(k, msg, strlen(msg), sig, sizeof sig), STELE_OK);
    }
    /* Digest variants agree with the message variants. */
    assert_int_equal(crypto_sha256(msg, strlen(msg), digest), STELE_OK);
    assert_int_equal(crypto_verify_digest(pub, digest, sig, sizeof sig), STELE_OK);
    assert_int_equal(crypto_sign_digest(k, digest, sig), STELE_OK);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), sig, sizeof sig), STELE_OK);

    /* Tampered message, tampered signature, other key. */
    assert_int_equal(crypto_verify(pub, "transfer 11 tokens to table 7", strlen(msg), sig, 64),
                     STELE_ERR_AUTH);
    sig[10] ^= 0x04;
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), sig, 64), STELE_ERR_AUTH);
    sig[10] ^= 0x04;
    assert_int_equal(crypto_verify(other, msg, strlen(msg), sig, 64), STELE_ERR_AUTH);

    /* The high-S twin (r, n - s) is a valid ECDSA signature, and is refused. */
    uint8_t high[64];
    memcpy(high, sig, 32);
    negate_mod_n(sig + 32, high + 32);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), high, 64), STELE_ERR_AUTH);

    /* Wrong lengths, zero and out-of-range r and s. */
    uint8_t longer[65] = {0};
    memcpy(longer, sig, 64);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), sig, 63), STELE_ERR_MALFORMED);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), longer, 65), STELE_ERR_MALFORMED);
    assert_int_equal(crypto_verify_digest(pub, digest, sig, 0), STELE_ERR_MALFORMED);
    uint8_t bad[64];
    memcpy(bad, sig, 64);
    memset(bad, 0, 32);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), bad, 64), STELE_ERR_AUTH);
    unhex(N_HEX, bad, 32);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), bad, 64), STELE_ERR_AUTH);
    memcpy(bad, sig, 64);
    memset(bad + 32, 0, 32);
    assert_int_equal(crypto_verify(pub, msg, strlen(msg), bad, 64), STELE_ERR_AUTH);

    /* A public-only key cannot sign. */
    assert_int_equal(crypto_sign(pub, msg, strlen(msg), sig), STELE_ERR_INVALID);

    /* References: the key survives until the last one is dropped. */
    struct crypto_key *ref = crypto_key_ref(pub);
    crypto_key_destroy(pub);
    assert_int_equal(crypto_verify(ref, msg, strlen(msg), high, 64), STELE_ERR_AUTH);
    crypto_key_destroy(ref);
    crypto_key_destroy(k);
    crypto_key_destroy(other);
}

/* RFC 6979 A.2.5, SHA-256, message "sample": the published s is in the high half, so Stele
 * refuses it as is and accepts its low-S form (r, n - s). */
static void rfc6979_known_signature(void **state)
{
    (void)state;
    struct crypto_key *pub;
    uint8_t q[65], sig[64], low[64];
    unhex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
          "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
          q, 65);
    unhex("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
          "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
          sig, 64);
    assert_int_equal(crypto_key_from_public(q, 65, &pub), STELE_OK);
    assert_int_equal(crypto_verify(pub, "sample", 6, sig, 64), STELE_ERR_AUTH);
    memcpy(low, sig, 32);
    negate_mod_n(sig + 32, low + 32);
    assert_int_equal(crypto_verify(pub, "sample", 6, low, 64), STELE_OK);
    assert_int_equal(crypto_verify(pub, "samplf", 6, low, 64), STELE_ERR_AUTH);
    crypto_key_destroy(pub);
}

static void pem_round_trip_and_mode(void **state)
{
    (void)state;
    char *dir = test_tmpdir("pem");
    char path[512], cmd[1200];
    struct crypto_key *k, *back;
    struct buf pem;
    struct stat st;
    uint8_t d1[32], d2[32], sig[64];

    snprintf(path, sizeof path, "%s/key.pem", dir);
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    buf_init(&pem);
    assert_int_equal(crypto_key_to_pem(k, &pem), STELE_OK);
    assert_non_null(strstr((char *)pem.data, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(crypto_key_from_pem((char *)pem.data, pem.len, &back), STELE_OK);
    assert_true(crypto_key_public_equal(k, back));
    crypto_key_destroy(back);
    buf_release_secure(&pem);

    /* An existing world-readable file is truncated and reset to 0600. */
    assert_int_equal(test_write_file(path, "x", 1), 0);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(crypto_key_save_pem(k, path), STELE_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(crypto_key_load_pem(path, &back), STELE_OK);
    assert_int_equal(crypto_key_scalar(k, d1), STELE_OK);
    assert_int_equal(crypto_key_scalar(back, d2), STELE_OK);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(crypto_sign(back, "m", 1, sig), STELE_OK);
    assert_int_equal(crypto_verify(k, "m", 1, sig, 64), STELE_OK);
    crypto_key_destroy(back);

    /* The openssl tool reads it, and agrees on the public key. */
    if (system("command -v openssl >/dev/null 2>&1") == 0) {
        char der[512];
        snprintf(der, sizeof der, "%s/pub.der", dir);
        snprintf(cmd, sizeof cmd, "openssl pkey -in %s -pubout -outform DER -out %s 2>/dev/null",
                 path, der);
        assert_int_equal(system(cmd), 0);
        size_t n;
        char *spki = test_read_file(der, &n);
        uint8_t pub[65];
        assert_non_null(spki);
        assert_int_equal(n, 91); /* SubjectPublicKeyInfo: 26-octet header + 65-octet point */
        crypto_key_public_uncompressed(k, pub);
        assert_memory_equal(spki + 26, pub, 65);
        free(spki);

        /* And a key made by openssl loads here. */
        char other[512];
        snprintf(other, sizeof other, "%s/openssl.pem", dir);
        snprintf(cmd, sizeof cmd,
                 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s "
                 "2>/dev/null",
                 other);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(crypto_key_load_pem(other, &back), STELE_OK);
        crypto_key_destroy(back);
    }

    /* Refusals: public-only key, missing file, garbage, another curve. */
    uint8_t comp[33];
    struct crypto_key *pub;
    crypto_key_public_compressed(k, comp);
    assert_int_equal(crypto_key_from_public(comp, 33, &pub), STELE_OK);
    assert_int_equal(crypto_key_save_pem(pub, path), STELE_ERR_INVALID);
    crypto_key_destroy(pub);
    snprintf(path, sizeof path, "%s/absent.pem", dir);
    assert_int_equal(crypto_key_load_pem(path, &back), STELE_ERR_NOT_FOUND);
    const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_int_equal(crypto_key_from_pem(junk, strlen(junk), &back), STELE_ERR_MALFORMED);
    assert_int_equal(crypto_key_from_pem("", 0, &back), STELE_ERR_MALFORMED);
    if (system("command -v openssl >/dev/null 2>&1") == 0) {
        snprintf(path, sizeof path, "%s/p384.pem", dir);
        snprintf(cmd, sizeof cmd,
                 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s "
                 "2>/dev/null",
                 path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(crypto_key_load_pem(path, &back), STELE_ERR_MALFORMED);
    }
    crypto_key_destroy(k);
    test_rmtree(dir);
    free(dir);
}

/* Many threads verify with one key at once (its pooled contexts are shared): good signatures
 * pass and bad ones fail every time, whatever context a verification gets. */
#define POOL_THREADS 24
#define POOL_ROUNDS  60

struct pool_run {
    struct crypto_key *k;
    uint8_t msg[2][32];
    uint8_t sig[2][CRYPTO_SIG_LEN];
    int wrong; /* results other than expected, under mu */
    pthread_mutex_t mu;
};

static void *pool_verifier(void *arg)
{
    struct pool_run *p = arg;
    int wrong = 0;
    for (int i = 0; i < POOL_ROUNDS; i++) {
        int m = i & 1;
        wrong += crypto_verify(p->k, p->msg[m], 32, p->sig[m], CRYPTO_SIG_LEN) != STELE_OK;
        wrong += crypto_verify(p->k, p->msg[m], 32, p->sig[!m], CRYPTO_SIG_LEN) != STELE_ERR_AUTH;
    }
    pthread_mutex_lock(&p->mu);
    p->wrong += wrong;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void concurrent_verification_with_one_key(void **state)
{
    (void)state;
    struct pool_run p = {.wrong = 0};
    pthread_mutex_init(&p.mu, NULL);
    struct crypto_key *signer;
    uint8_t pub[CRYPTO_POINT_LEN];
    assert_int_equal(crypto_key_generate(&signer), STELE_OK);
    crypto_key_public_uncompressed(signer, pub);
    assert_int_equal(crypto_key_from_public(pub, sizeof pub, &p.k), STELE_OK);
    for (int m = 0; m < 2; m++) {
        memset(p.msg[m], 'a' + m, 32);
        assert_int_equal(crypto_sign(signer, p.msg[m], 32, p.sig[m]), STELE_OK);
    }
    pthread_t t[POOL_THREADS];
    for (int i = 0; i < POOL_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pool_verifier, &p), 0);
    for (int i = 0; i < POOL_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(p.wrong, 0);
    crypto_key_destroy(p.k);
    crypto_key_destroy(signer);
    pthread_mutex_destroy(&p.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_scalar_and_points),
        cmocka_unit_test(sign_verify_round_trip),
        cmocka_unit_test(rfc6979_known_signature),
        cmocka_unit_test(pem_round_trip_and_mode),
        cmocka_unit_test(concurrent_verification_with_one_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
