/*
 * test_crypto_failure.c — OpenSSL failing (out of memory) is never taken for a bad signature.
 * A peer that validated a block while OpenSSL could not allocate would otherwise record
 * BAD_CREATOR_SIGNATURE for a transaction every other peer finds VALID, and its state would
 * differ from theirs for good. Here OpenSSL's allocator (CRYPTO_set_mem_functions, set before
 * OpenSSL's first allocation) fails the n-th allocation after a point, for every n that falls
 * inside the call: a valid signature, identity record, extracted key and transaction must then
 * come out valid or as STELE_ERR_NOMEM / STELE_ERR_CRYPTO (no verdict; for a block, an error
 * the committer retries), never as STELE_ERR_AUTH, STELE_ERR_MALFORMED or an invalid code.
 */
#include "txv_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "identity/identity.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#define CA_ID 0x1122334455667788ull

static void *ossl_test_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return test_alloc_fails() ? NULL : malloc(n);
}
static void *ossl_test_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    return test_alloc_fails() ? NULL : realloc(p, n);
}
static void ossl_test_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

static bool no_verdict(int rc)
{
    return rc == STELE_ERR_NOMEM || rc == STELE_ERR_CRYPTO;
}

/* After a call made with the n-th OpenSSL allocation failing (test_alloc_arm(n)): counts a
 * refusal in *refusals and fails the test on a verdict about `what`. True when nothing failed
 * (the call needed fewer than n allocations: each has failed once). */
static bool judged(long n, int rc, const char *what, long *refusals)
{
    long failed = test_alloc_disarm();
    if (rc != STELE_OK) {
        (*refusals)++;
        if (!no_verdict(rc))
            fail_msg("allocation %ld failing made %s %s", n, what, stele_strerror(rc));
    }
    return failed == 0;
}

/* A valid signature, verified with the n-th OpenSSL allocation failing, for n = 0, 1, ...
 * until one run allocates fewer than n (nothing failed). */
static void valid_signature_is_never_refused_for_lack_of_memory(void **state)
{
    (void)state;
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    const char msg[] = "a transaction's payload";
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(crypto_sign(k, msg, sizeof msg, sig), STELE_OK);
    assert_int_equal(crypto_verify(k, msg, sizeof msg, sig, sizeof sig), STELE_OK);
    long refusals = 0;
    for (long n = 0; n < 10000; n++) {
        test_alloc_arm(n);
        int rc = crypto_verify(k, msg, sizeof msg, sig, sizeof sig);
        if (judged(n, rc, "a valid signature", &refusals))
            break;
    }
    assert_true(refusals > 0); /* some failure did reach OpenSSL inside the call */
    assert_int_equal(crypto_verify(k, msg, sizeof msg, sig, sizeof sig), STELE_OK);
    crypto_key_destroy(k);
}

/* A signature that makes verification reach the point at infinity (r = -e/d, s = 1: anyone
 * holding the key can make it) fails inside OpenSSL with an error, not 0: it is refused as a
 * bad signature (AUTH), never reported as OpenSSL failing, which a validator would take as no
 * verdict and retry for ever. */
static void signature_reaching_infinity_is_refused(void **state)
{
    (void)state;
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    uint8_t digest[32], sig[CRYPTO_SIG_LEN];
    assert_int_equal(crypto_sha256("anything", 8, digest), STELE_OK);
    txv_infinity_sig(k, digest, sig);
    for (int i = 0; i < 3; i++) /* a fresh verification context, then reused ones */
        assert_int_equal(crypto_verify_digest(k, digest, sig, sizeof sig), STELE_ERR_AUTH);
    crypto_key_destroy(k);
}

/* A valid identity record verified, or (`key`) the signer's public key extracted from it
 * (ECQV), with the n-th OpenSSL allocation failing; by a new MSP each time, so that no record
 * or key is remembered. */
static void identity_under_failures(bool key)
{
    struct crypto_key *ca = NULL;
    assert_int_equal(crypto_key_generate(&ca), STELE_OK);
    struct test_identity t;
    test_identity_issue(ca, CA_ID, "juror1", "org1", "client", 0, 3600, &t);
    long refusals = 0;
    for (long n = 0; n < 10000; n++) {
        struct msp *m = msp_create(0);
        assert_non_null(m);
        assert_int_equal(msp_add_ca(m, NULL, CA_ID, ca), STELE_OK);
        struct arena *a = arena_create(0);
        struct identity id;
        struct crypto_key *pub = NULL;
        const uint8_t *rec = t.record->data;
        size_t len = t.record->len;
        uint64_t now = (uint64_t)time(NULL);
        if (key)
            assert_int_equal(identity_verify(m, a, rec, len, now, &id, NULL), STELE_OK);
        test_alloc_arm(n);
        int rc = key ? identity_public_key(m, &id, &pub)
                     : identity_verify(m, a, rec, len, now, &id, NULL);
        bool done = judged(n, rc, key ? "a valid identity's key" : "a valid identity", &refusals);
        crypto_key_destroy(pub);
        arena_destroy(a);
        msp_destroy(m);
        if (done)
            break;
    }
    assert_true(refusals > 0);
    test_identity_free(&t);
    crypto_key_destroy(ca);
}

static void valid_identity_is_never_refused_for_lack_of_memory(void **state)
{
    (void)state;
    identity_under_failures(false);
}

static void public_key_is_never_refused_for_lack_of_memory(void **state)
{
    (void)state;
    identity_under_failures(true);
}

/* A block holding a valid transaction, endorsed by both organisations, validated (by a new
 * MSP and validator each time: no remembered record, key or signature) with the n-th OpenSSL
 * allocation failing: the transaction is VALID, or the block is not validated at all (an
 * error the committer retries); never a code the other peers would not give it. */
static void valid_transaction_is_never_invalid_for_lack_of_memory(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "k", "v");
    ProtobufCBinaryData env = txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
    long refusals = 0;
    for (long n = 0; n < 100000; n++) {
        struct msp *m = msp_create(0);
        assert_non_null(m);
        assert_int_equal(msp_add_ca(m, "Org1", TXV_CA1_ID, fx->ca1), STELE_OK);
        assert_int_equal(msp_add_ca(m, "Org2", TXV_CA2_ID, fx->ca2), STELE_OK);
        struct txvalidator *v = txv_validator(m, fx->cfg, 1); /* one thread: one countdown */
        Stele__Block *b = txv_block(fx, &env, 1);
        struct statedb_update *u = statedb_update_create(b->header->number);
        assert_non_null(u);
        uint8_t code = 0xee;
        test_alloc_arm(n);
        int rc = txvalidate_block(v, fx->db, fx->bs, b, &code, u, NULL);
        bool done = judged(n, rc, "the block's validation", &refusals);
        if (rc == STELE_OK && code != TXC(VALID))
            fail_msg("allocation %ld failing made a valid transaction %s", n,
                     txvalidate_code_name(code));
        statedb_update_destroy(u);
        txvalidate_destroy(v);
        msp_destroy(m);
        if (done)
            break;
    }
    assert_true(refusals > 0);
}

int main(void)
{
    /* before anything allocates through OpenSSL */
    if (!CRYPTO_set_mem_functions(ossl_test_malloc, ossl_test_realloc, ossl_test_free)) {
        fprintf(stderr, "OpenSSL allocated before main: cannot set its allocator\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_signature_is_never_refused_for_lack_of_memory),
        cmocka_unit_test(signature_reaching_infinity_is_refused),
        cmocka_unit_test(valid_identity_is_never_refused_for_lack_of_memory),
        cmocka_unit_test(public_key_is_never_refused_for_lack_of_memory),
        cmocka_unit_test_setup_teardown(valid_transaction_is_never_invalid_for_lack_of_memory,
                                        txv_setup, txv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
