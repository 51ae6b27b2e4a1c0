/* test_crypto_sigcache.c — the memory of valid signatures: a remembered triple is answered
 * without verifying, anything else is verified as before, failures are never remembered, the
 * key, the message and the signature all count, the size stays bounded, threads may share it. */
#include "testutil.h"

#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/sigcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    struct crypto_key *k, *k_pub, *other;
    uint8_t sig[CRYPTO_SIG_LEN]; /* k over "m" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t q[33];
    if (!f || crypto_key_generate(&f->k) || crypto_key_generate(&f->other))
        return -1;
    crypto_key_public_compressed(f->k, q);
    if (crypto_key_from_public(q, sizeof q, &f->k_pub) || crypto_sign(f->k, "m", 1, f->sig))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crypto_key_destroy(f->k);
    crypto_key_destroy(f->k_pub);
    crypto_key_destroy(f->other);
    free(f);
    return 0;
}

static struct sigcache_stats stats(struct sigcache *c)
{
    struct sigcache_stats s;
    sigcache_get_stats(c, &s);
    return s;
}

static void verified_once_then_remembered(void **state)
{
    struct fixture *f = *state;
    struct sigcache *c = sigcache_create(64);
    assert_non_null(c);
    assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, f->sig, sizeof f->sig), STELE_OK);
    struct sigcache_stats s = stats(c);
    assert_int_equal(s.verified, 1);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.added, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, f->sig, sizeof f->sig), STELE_OK);
    s = stats(c);
    assert_int_equal(s.verified, 1);
    assert_int_equal(s.hits, 3);
    sigcache_destroy(c);
}

/* What it signed is remembered under the public part of the key, whatever object holds it. */
static void own_signature_needs_no_verification(void **state)
{
    struct fixture *f = *state;
    struct sigcache *c = sigcache_create(64);
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(sigcache_sign(c, f->k, "endorse me", 10, sig), STELE_OK);
    assert_int_equal(crypto_verify(f->k_pub, "endorse me", 10, sig, sizeof sig), STELE_OK);
    assert_int_equal(sigcache_verify(c, f->k_pub, "endorse me", 10, sig, sizeof sig), STELE_OK);
    struct sigcache_stats s = stats(c);
    assert_int_equal(s.hits, 1);
    assert_int_equal(s.verified, 0);
    /* a public-only key cannot sign, and nothing is remembered */
    assert_int_equal(sigcache_sign(c, f->k_pub, "x", 1, sig), STELE_ERR_INVALID);
    assert_int_equal(stats(c).added, 1);
    sigcache_destroy(c);
}

/* Each of key, message and signature is part of what is remembered; failures never are. */
static void anything_else_is_verified(void **state)
{
    struct fixture *f = *state;
    struct sigcache *c = sigcache_create(64);
    assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, f->sig, sizeof f->sig), STELE_OK);
    uint8_t bad[CRYPTO_SIG_LEN];
    memcpy(bad, f->sig, sizeof bad);
    bad[5] ^= 1;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sigcache_verify(c, f->k_pub, "n", 1, f->sig, sizeof f->sig),
                         STELE_ERR_AUTH);
        assert_int_equal(sigcache_verify(c, f->other, "m", 1, f->sig, sizeof f->sig),
                         STELE_ERR_AUTH);
        assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, bad, sizeof bad), STELE_ERR_AUTH);
        assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, f->sig, 63), STELE_ERR_MALFORMED);
    }
    struct sigcache_stats s = stats(c);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.verified, 1 + 6); /* the malformed length is refused before any lookup */
    assert_int_equal(s.added, 1);
    /* the high-S twin (r, n - s) of a remembered signature is still refused */
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                  0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    uint8_t twin[CRYPTO_SIG_LEN];
    memcpy(twin, f->sig, 32);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - f->sig[32 + i] - borrow;
        borrow = d < 0;
        twin[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    assert_int_equal(sigcache_verify(c, f->k_pub, "m", 1, twin, sizeof twin), STELE_ERR_AUTH);
    assert_int_equal(stats(c).hits, 0);
    sigcache_destroy(c);
}

/* No cache: the plain functions. */
static void null_cache_is_plain(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(sigcache_verify(NULL, f->k_pub, "m", 1, f->sig, sizeof f->sig), STELE_OK);
    assert_int_equal(sigcache_verify(NULL, f->k_pub, "n", 1, f->sig, sizeof f->sig),
                     STELE_ERR_AUTH);
    assert_int_equal(sigcache_sign(NULL, f->k, "m", 1, sig), STELE_OK);
    assert_int_equal(crypto_verify(f->k_pub, "m", 1, sig, sizeof sig), STELE_OK);
    struct sigcache_stats s = stats(NULL);
    assert_int_equal(s.hits + s.verified + s.added, 0);
    sigcache_destroy(NULL);
}

/* A full set pushes its oldest tag out: the cache never grows, and a pushed-out signature is
 * simply verified again. Up to 4 tags of one set never push each other out. */
static void bounded(void **state)
{
    struct fixture *f = *state;
    assert_null(sigcache_create(0));
    assert_null(sigcache_create((1u << 24) + 1));
    struct sigcache *c = sigcache_create(1); /* one set of 4 */
    assert_non_null(c);
    uint8_t sigs[8][CRYPTO_SIG_LEN];
    char msg[8][2];
    for (int i = 0; i < 8; i++) {
        msg[i][0] = (char)('a' + i);
        msg[i][1] = 0;
        assert_int_equal(sigcache_sign(c, f->k, msg[i], 1, sigs[i]), STELE_OK);
    }
    /* the last 4 are remembered, whatever the order they are asked in */
    for (int i = 7; i >= 4; i--)
        assert_int_equal(sigcache_verify(c, f->k_pub, msg[i], 1, sigs[i], CRYPTO_SIG_LEN),
                         STELE_OK);
    struct sigcache_stats s = stats(c);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.verified, 0);
    /* the first 4 were pushed out: verified, and each remembered again over the oldest */
    for (int i = 0; i < 4; i++)
        assert_int_equal(sigcache_verify(c, f->k_pub, msg[i], 1, sigs[i], CRYPTO_SIG_LEN),
                         STELE_OK);
    s = stats(c);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.verified, 4);
    assert_int_equal(s.added, 8 + 4);
    assert_int_equal(sigcache_verify(c, f->k_pub, msg[0], 1, sigs[0], CRYPTO_SIG_LEN), STELE_OK);
    assert_int_equal(sigcache_verify(c, f->k_pub, msg[7], 1, sigs[7], CRYPTO_SIG_LEN), STELE_OK);
    s = stats(c);
    assert_int_equal(s.hits, 5);     /* msg[0] is back */
    assert_int_equal(s.verified, 5); /* msg[7] was pushed out by it */
    sigcache_destroy(c);
}

struct shared {
    struct fixture *f;
    struct sigcache *c;
    int failures;
};

static void *hammer(void *arg)
{
    struct shared *sh = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t sig[CRYPTO_SIG_LEN];
        char m[2] = {(char)('a' + i % 16), 0};
        if (sigcache_sign(sh->c, sh->f->k, m, 1, sig) ||
            sigcache_verify(sh->c, sh->f->k_pub, m, 1, sig, sizeof sig) ||
            sigcache_verify(sh->c, sh->f->k_pub, "m", 1, sh->f->sig, sizeof sh->f->sig) ||
            sigcache_verify(sh->c, sh->f->other, m, 1, sig, sizeof sig) != STELE_ERR_AUTH)
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void threads_share_it(void **state)
{
    struct shared sh = {.f = *state, .c = sigcache_create(8)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &sh), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sh.failures, 0);
    struct sigcache_stats s = stats(sh.c);
    assert_int_equal(s.hits + s.verified, 4 * 200 * 3);
    assert_true(s.hits > 0);
    sigcache_destroy(sh.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verified_once_then_remembered),
        cmocka_unit_test(own_signature_needs_no_verification),
        cmocka_unit_test(anything_else_is_verified),
        cmocka_unit_test(null_cache_is_plain),
        cmocka_unit_test(bounded),
        cmocka_unit_test(threads_share_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
