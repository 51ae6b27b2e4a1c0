/* test_crypto_keycache.c — the extracted-key cache: hits return the same key, misses extract,
 * CA keys are part of the key, CLOCK eviction bounds the size, concurrent use is safe. */
#include "testutil.h"

#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "crypto/keycache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCERTS 6

struct fixture {
    struct crypto_key *ca, *ca_pub;
    uint8_t certs[NCERTS][ECQV_CERT_LEN];
    uint8_t sigs[NCERTS][64]; /* signature over "m" by each subject */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t q[33];
    if (!f || crypto_key_generate(&f->ca) != STELE_OK)
        return -1;
    crypto_key_public_compressed(f->ca, q);
    if (crypto_key_from_public(q, 33, &f->ca_pub) != STELE_OK)
        return -1;
    for (int i = 0; i < NCERTS; i++) {
        struct crypto_key *ku, *du;
        struct ecqv_cert c = {.serial = (uint64_t)i + 1,
                              .issuer_id = 7,
                              .valid_from = 1,
                              .valid_duration = 100,
                              .key_usage = ECQV_USAGE_SIGN};
        uint8_t ru[33], r[32];
        if (ecqv_request(&ku, ru) != STELE_OK ||
            ecqv_generate(f->ca, ru, 33, &c, f->certs[i], r) != STELE_OK ||
            ecqv_reception(ku, f->certs[i], ECQV_CERT_LEN, r, f->ca_pub, &du) != STELE_OK ||
            crypto_sign(du, "m", 1, f->sigs[i]) != STELE_OK)
            return -1;
        crypto_key_destroy(ku);
        crypto_key_destroy(du);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crypto_key_destroy(f->ca);
    crypto_key_destroy(f->ca_pub);
    free(f);
    return 0;
}

static void hit_returns_same_key(void **state)
{
    struct fixture *f = *state;
    struct keycache *c = keycache_create(4);
    struct crypto_key *a, *b, *direct;
    struct keycache_stats st;
    uint8_t h[32];

    assert_non_null(c);
    assert_int_equal(keycache_extract(c, f->certs[0], ECQV_CERT_LEN, f->ca_pub, &a), STELE_OK);
    assert_int_equal(keycache_extract(c, f->certs[0], ECQV_CERT_LEN, f->ca_pub, &b), STELE_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(ecqv_extract(f->certs[0], ECQV_CERT_LEN, f->ca_pub, &direct), STELE_OK);
    assert_true(crypto_key_public_equal(a, direct));
    assert_int_equal(crypto_verify(b, "m", 1, f->sigs[0], 64), STELE_OK);

    /* Direct lookups by certhash; another CA key is another entry. */
    assert_int_equal(ecqv_certhash(f->certs[0], ECQV_CERT_LEN, h), STELE_OK);
    struct crypto_key *g = keycache_get(c, h, f->ca_pub);
    assert_ptr_equal(g, a);
    crypto_key_destroy(g);
    struct crypto_key *other_ca;
    assert_int_equal(crypto_key_generate(&other_ca), STELE_OK);
    assert_null(keycache_get(c, h, other_ca));
    crypto_key_destroy(other_ca);
    /* The CA's key pair and its public twin are the same CA. */
    g = keycache_get(c, h, f->ca);
    assert_ptr_equal(g, a);
    crypto_key_destroy(g);
    h[0] ^= 1;
    assert_null(keycache_get(c, h, f->ca_pub));

    keycache_get_stats(c, &st);
    assert_int_equal(st.count, 1);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 3);

    /* A malformed certificate is an error, not an entry. */
    struct crypto_key *x = NULL;
    assert_int_equal(keycache_extract(c, f->certs[0], ECQV_CERT_LEN - 1, f->ca_pub, &x),
                     STELE_ERR_MALFORMED);
    assert_null(x);

    /* Keys handed out outlive the cache. */
    keycache_destroy(c);
    assert_int_equal(crypto_verify(a, "m", 1, f->sigs[0], 64), STELE_OK);
    crypto_key_destroy(a);
    crypto_key_destroy(b);
    crypto_key_destroy(direct);
    keycache_destroy(NULL);
    assert_null(keycache_create(0));
}

static void evicts_when_full(void **state)
{
    struct fixture *f = *state;
    struct keycache *c = keycache_create(4);
    struct keycache_stats st;
    struct crypto_key *k;
    uint8_t h[NCERTS][32];

    for (int i = 0; i < NCERTS; i++) {
        assert_int_equal(ecqv_certhash(f->certs[i], ECQV_CERT_LEN, h[i]), STELE_OK);
        assert_int_equal(keycache_extract(c, f->certs[i], ECQV_CERT_LEN, f->ca_pub, &k), STELE_OK);
        crypto_key_destroy(k);
        if (i == 0) {
            /* Keep cert 0 hot: referenced entries survive the hand's first pass. */
            k = keycache_get(c, h[0], f->ca_pub);
            crypto_key_destroy(k);
        }
    }
    keycache_get_stats(c, &st);
    assert_int_equal(st.count, 4);
    assert_int_equal(st.evictions, 2);
    int present = 0;
    for (int i = 0; i < NCERTS; i++) {
        k = keycache_get(c, h[i], f->ca_pub);
        present += k != NULL;
        if (k)
            assert_int_equal(crypto_verify(k, "m", 1, f->sigs[i], 64), STELE_OK);
        crypto_key_destroy(k);
    }
    assert_int_equal(present, 4);
    k = keycache_get(c, h[0], f->ca_pub);
    assert_non_null(k); /* the hot entry was kept */
    crypto_key_destroy(k);
    k = keycache_get(c, h[NCERTS - 1], f->ca_pub);
    assert_non_null(k); /* the newest entry is present */
    crypto_key_destroy(k);
    keycache_destroy(c);
}

struct worker {
    struct fixture *f;
    struct keycache *c;
    int seed;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 200; i++) {
        int n = (i * 7 + w->seed) % NCERTS;
        struct crypto_key *k;
        if (keycache_extract(w->c, w->f->certs[n], ECQV_CERT_LEN, w->f->ca_pub, &k) != STELE_OK) {
            w->failures++;
            continue;
        }
        if (crypto_verify(k, "m", 1, w->f->sigs[n], 64) != STELE_OK)
            w->failures++;
        crypto_key_destroy(k);
    }
    return NULL;
}

static void concurrent_use(void **state)
{
    struct fixture *f = *state;
    struct keycache *c = keycache_create(3); /* smaller than the working set: constant churn */
    pthread_t t[4];
    struct worker w[4];

    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.f = f, .c = c, .seed = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    keycache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_returns_same_key),
        cmocka_unit_test(evicts_when_full),
        cmocka_unit_test(concurrent_use),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
