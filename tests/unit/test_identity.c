/*
 * test_identity.c — lib/identity: identity records verified against an MSP (tampering, other
 * CAs, validity, CRLs), signatures checked from the record alone, signed requests.
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "identity/identity.h"
#include "identity/msp_int.h"
#include "identity/reccache.h"

#include <stdlib.h>
#include <string.h>

#define CA_ID  0x1122334455667788ull
#define CA2_ID 0x99aabbccddeeff00ull

struct fx {
    struct crypto_key *ca, *ca2; /* two CA key pairs */
    struct msp *msp;             /* trusts ca (any org, CA_ID) */
    struct arena *a;
    uint64_t now;
};

/* Issues an identity for `id` by `ca`: *key gets d_U, `rec` the serialized record. */
static void issue(const struct crypto_key *ca, uint64_t ca_id, const char *id, const char *org,
                  uint64_t valid_from, uint32_t duration, struct crypto_key **key, struct buf *rec)
{
    struct crypto_key *k_u = NULL;
    uint8_t r_u[33], cert[ECQV_CERT_LEN], r[32], h[32];
    struct ecqv_cert f = {.serial = 42,
                          .issuer_id = ca_id,
                          .valid_from = valid_from,
                          .valid_duration = duration,
                          .key_usage = ECQV_USAGE_SIGN};
    assert_int_equal(crypto_sha256(id, strlen(id), h), STELE_OK);
    memcpy(f.subject_id, h, ECQV_SUBJECT_ID_LEN);
    assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
    assert_int_equal(ecqv_generate(ca, r_u, sizeof r_u, &f, cert, r), STELE_OK);
    assert_int_equal(ecqv_reception(k_u, cert, sizeof cert, r, ca, key), STELE_OK);
    crypto_key_destroy(k_u);
    struct identity_attr attrs[] = {{"table", "T-17"}, {"region", "north"}};
    assert_int_equal(identity_issue(ca, cert, id, org, "client", attrs, 2, valid_from, rec),
                     STELE_OK);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(crypto_key_generate(&f->ca), STELE_OK);
    assert_int_equal(crypto_key_generate(&f->ca2), STELE_OK);
    f->msp = msp_create(0);
    assert_non_null(f->msp);
    assert_int_equal(msp_add_ca(f->msp, NULL, CA_ID, f->ca), STELE_OK);
    f->a = arena_create(0);
    f->now = clock_wall_s();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    msp_destroy(f->msp);
    crypto_key_destroy(f->ca);
    crypto_key_destroy(f->ca2);
    arena_destroy(f->a);
    free(f);
    return 0;
}

static void valid_record_verifies_and_signs(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL, *q = NULL;
    struct buf rec = {0};
    struct identity id;
    char *err = NULL;
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, &err), STELE_OK);
    assert_null(err);
    assert_string_equal(id.id, "alice");
    assert_string_equal(id.org, "Org1");
    assert_true(identity_has_role(&id, "client"));
    assert_false(identity_has_role(&id, "admin"));
    assert_string_equal(identity_attr(&id, "table"), "T-17");
    assert_null(identity_attr(&id, "missing"));
    assert_int_equal(id.fields.serial, 42);

    /* A signature by the identity verifies from the record alone, with the extracted key. */
    uint8_t sig[CRYPTO_SIG_LEN];
    const char msg[] = "ballot 7 for candidate 3";
    assert_int_equal(crypto_sign(d, msg, sizeof msg, sig), STELE_OK);
    assert_int_equal(identity_verify_signature(f->msp, &id, msg, sizeof msg, sig, sizeof sig),
                     STELE_OK);
    assert_int_equal(identity_public_key(f->msp, &id, &q), STELE_OK);
    assert_true(crypto_key_public_equal(q, d));
    sig[5] ^= 1;
    assert_int_not_equal(identity_verify_signature(f->msp, &id, msg, sizeof msg, sig, sizeof sig),
                         STELE_OK);
    crypto_key_destroy(q);
    crypto_key_destroy(d);
    buf_release(&rec);
}

static void every_tampered_byte_is_rejected(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0};
    struct identity id;
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec);
    for (size_t i = 0; i < rec.len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            rec.data[i] ^= (uint8_t)(1u << bit);
            char *err = NULL;
            int rc = identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, &err);
            if (rc == STELE_OK)
                fail_msg("tampered byte %zu bit %d accepted", i, bit);
            free(err);
            rec.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    crypto_key_destroy(d);
    buf_release(&rec);
}

static void tampered_cert_gives_another_key(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL, *q = NULL;
    struct buf rec = {0};
    struct identity id;
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_decode(f->a, rec.data, rec.len, &id, NULL), STELE_OK);
    uint8_t cert[ECQV_CERT_LEN];
    memcpy(cert, id.cert, sizeof cert);
    cert[3] ^= 0x01; /* serial */
    assert_int_equal(ecqv_extract(cert, sizeof cert, f->ca, &q), STELE_OK);
    assert_false(crypto_key_public_equal(q, d));
    crypto_key_destroy(q);
    crypto_key_destroy(d);
    buf_release(&rec);
}

static void other_ca_org_and_issuer_rejected(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0}, rec2 = {0};
    struct identity id;
    char *err = NULL;
    issue(f->ca2, CA2_ID, "mallory", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, &err),
                     STELE_ERR_AUTH);
    assert_non_null(strstr(err, "trusted CA"));
    free(err);
    crypto_key_destroy(d);

    /* CA trusted for Org2 only: an Org1 identity is refused; so is a wrong issuer id. */
    struct msp *m = msp_create(0);
    assert_int_equal(msp_add_ca(m, "Org2", CA_ID, f->ca), STELE_OK);
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec2);
    assert_int_equal(identity_verify(m, f->a, rec2.data, rec2.len, f->now, &id, NULL),
                     STELE_ERR_AUTH);
    msp_destroy(m);
    m = msp_create(0);
    assert_int_equal(msp_add_ca(m, NULL, CA2_ID, f->ca), STELE_OK);
    assert_int_equal(identity_verify(m, f->a, rec2.data, rec2.len, f->now, &id, NULL),
                     STELE_ERR_AUTH);
    msp_destroy(m);
    crypto_key_destroy(d);
    buf_release(&rec);
    buf_release(&rec2);
}

static void expired_and_not_yet_valid_rejected(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0};
    struct identity id;
    issue(f->ca, CA_ID, "old", "Org1", f->now - 100, 50, &d, &rec);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, NULL),
                     STELE_ERR_EXPIRED);
    /* Valid at a time inside its period, and within a grace after expiry. */
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now - 60, &id, NULL),
                     STELE_OK);
    assert_int_equal(
        identity_verify_grace(f->msp, f->a, rec.data, rec.len, f->now, 3600, &id, NULL), STELE_OK);
    crypto_key_destroy(d);
    buf_release(&rec);
    issue(f->ca, CA_ID, "future", "Org1", f->now + 100, 50, &d, &rec);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, NULL),
                     STELE_ERR_EXPIRED);
    crypto_key_destroy(d);
    buf_release(&rec);
}

static void revoked_rejected_through_crl(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0}, crl = {0}, crl_old = {0}, crl_bad = {0};
    struct identity id;
    char *err = NULL;
    issue(f->ca, CA_ID, "bob", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_decode(f->a, rec.data, rec.len, &id, NULL), STELE_OK);
    struct identity_revoked e = {
        .serial = 42, .id = "bob", .revoked_at = f->now, .reason = "key-compromise"};
    memcpy(e.certhash, id.certhash, 32);

    /* A CRL from another CA is refused and changes nothing. */
    assert_int_equal(crl_issue(f->ca2, CA_ID, 3, f->now, f->now + 60, &e, 1, &crl_bad), STELE_OK);
    assert_int_equal(msp_set_crl(f->msp, crl_bad.data, crl_bad.len, &err), STELE_ERR_AUTH);
    free(err);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, NULL), STELE_OK);
    crl_bad.data[crl_bad.len / 2] ^= 1;
    assert_int_not_equal(msp_set_crl(f->msp, crl_bad.data, crl_bad.len, NULL), STELE_OK);

    assert_int_equal(crl_issue(f->ca, CA_ID, 3, f->now, f->now + 60, &e, 1, &crl), STELE_OK);
    assert_int_equal(msp_set_crl(f->msp, crl.data, crl.len, NULL), STELE_OK);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, &err),
                     STELE_ERR_REVOKED);
    assert_non_null(strstr(err, "revoked"));
    free(err);
    /* An older CRL cannot replace it. */
    assert_int_equal(crl_issue(f->ca, CA_ID, 2, f->now, f->now + 60, NULL, 0, &crl_old), STELE_OK);
    assert_int_equal(msp_set_crl(f->msp, crl_old.data, crl_old.len, NULL), STELE_ERR_STATE);
    assert_true(msp_is_revoked(f->msp, f->ca, e.certhash));
    crypto_key_destroy(d);
    buf_release(&rec);
    buf_release(&crl);
    buf_release(&crl_old);
    buf_release(&crl_bad);
}

static void signed_requests(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL, *other = NULL;
    struct buf rec = {0}, req = {0};
    uint8_t sig[CRYPTO_SIG_LEN];
    struct signed_request out;
    char *err = NULL;
    const char *m = "/stele.CA/Revoke";
    uint64_t now_ms = clock_wall_ms();
    issue(f->ca, CA_ID, "admin", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(signed_request_create(d, rec.data, rec.len, m, (const uint8_t *)"body", 4,
                                           now_ms, &req, sig),
                     STELE_OK);
    assert_int_equal(signed_request_verify(f->msp, f->a, req.data, req.len, sig, sizeof sig, m,
                                           now_ms, 0, &out, &err),
                     STELE_OK);
    assert_string_equal(out.signer.id, "admin");
    assert_int_equal(out.body_len, 4);
    assert_memory_equal(out.body, "body", 4);
    /* Another method, a stale clock, a tampered byte, another key: all refused. */
    assert_int_equal(signed_request_verify(f->msp, f->a, req.data, req.len, sig, sizeof sig,
                                           "/stele.CA/RegisterIdentity", now_ms, 0, &out, &err),
                     STELE_ERR_PERMISSION);
    free(err);
    assert_int_equal(signed_request_verify(f->msp, f->a, req.data, req.len, sig, sizeof sig, m,
                                           now_ms + 6 * 60 * 1000, 0, &out, &err),
                     STELE_ERR_EXPIRED);
    free(err);
    req.data[req.len - 1] ^= 1;
    assert_int_not_equal(signed_request_verify(f->msp, f->a, req.data, req.len, sig, sizeof sig, m,
                                               now_ms, 0, &out, &err),
                         STELE_OK);
    free(err);
    req.data[req.len - 1] ^= 1;
    assert_int_equal(crypto_key_generate(&other), STELE_OK);
    assert_int_equal(identity_sign_domain(other, IDENTITY_DOMAIN_REQUEST, req.data, req.len, sig),
                     STELE_OK);
    assert_int_equal(signed_request_verify(f->msp, f->a, req.data, req.len, sig, sizeof sig, m,
                                           now_ms, 0, &out, &err),
                     STELE_ERR_AUTH);
    free(err);
    crypto_key_destroy(other);
    crypto_key_destroy(d);
    buf_release(&rec);
    buf_release(&req);
}

static void garbage_and_subject_mismatch_are_malformed(void **state)
{
    struct fx *f = *state;
    struct identity id;
    char *err = NULL;
    const uint8_t junk[] = {0x0a, 0xff, 0x01};
    assert_int_equal(identity_decode(f->a, junk, sizeof junk, &id, &err), STELE_ERR_MALFORMED);
    free(err);
    assert_int_equal(identity_verify(f->msp, f->a, junk, sizeof junk, f->now, &id, NULL),
                     STELE_ERR_MALFORMED);
    /* A record whose id does not hash to the certificate's subject. */
    struct crypto_key *d = NULL;
    struct buf rec = {0}, rec2 = {0};
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_decode(f->a, rec.data, rec.len, &id, NULL), STELE_OK);
    assert_int_equal(
        identity_issue(f->ca, id.cert, "alicia", "Org1", "client", NULL, 0, f->now, &rec2),
        STELE_OK);
    assert_int_equal(identity_verify(f->msp, f->a, rec2.data, rec2.len, f->now, &id, &err),
                     STELE_ERR_MALFORMED);
    assert_non_null(strstr(err, "subject"));
    free(err);
    crypto_key_destroy(d);
    buf_release(&rec);
    buf_release(&rec2);
}

/* A record in another encoding than the CA's — an unknown field in front or behind, or a field
 * repeated (protobuf keeps the last) — is the same identity under other octets: refused, so
 * that no octet of what signatures cover around a record can move into it (lib/ledger/tx.h). */
static void only_the_cas_encoding_is_a_record(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0};
    issue(f->ca, CA_ID, "alice", "Org1", f->now - 10, 3600, &d, &rec);
    struct identity id;
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &id, NULL), STELE_OK);
    static const uint8_t unknown[] = {0x3a, 0x01, 0x00}; /* field 7, 1 octet */
    for (int k = 0; k < 3; k++) {
        struct buf b = {0};
        if (k == 0)
            buf_append(&b, unknown, sizeof unknown);
        buf_append(&b, rec.data, rec.len);
        if (k == 1)
            buf_append(&b, unknown, sizeof unknown);
        if (k == 2)
            buf_append(&b, rec.data, rec.len); /* every field twice */
        char *err = NULL;
        assert_int_equal(identity_decode(f->a, b.data, b.len, &id, &err), STELE_ERR_MALFORMED);
        assert_non_null(strstr(err, "encoding"));
        free(err);
        assert_int_equal(identity_verify(f->msp, f->a, b.data, b.len, f->now, &id, NULL),
                         STELE_ERR_MALFORMED);
        buf_release(&b);
    }
    crypto_key_destroy(d);
    buf_release(&rec);
}

/* A record verified once is answered from the MSP's record cache with the same content, while
 * its validity period and the CRL are still checked on every use, and changed bytes are never
 * taken for the cached record. */
static void verified_records_are_cached_but_time_and_crl_still_checked(void **state)
{
    struct fx *f = *state;
    struct crypto_key *d = NULL;
    struct buf rec = {0}, crl = {0};
    struct identity first, again;
    struct reccache_stats st;
    issue(f->ca, CA_ID, "carol", "Org1", f->now - 10, 3600, &d, &rec);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &first, NULL),
                     STELE_OK);
    struct arena *a2 = arena_create(0);
    assert_int_equal(identity_verify(f->msp, a2, rec.data, rec.len, f->now, &again, NULL),
                     STELE_OK);
    reccache_get_stats(f->msp->records, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.stored, 1);
    assert_string_equal(again.id, "carol");
    assert_string_equal(again.org, first.org);
    assert_string_equal(again.role, "client");
    assert_int_equal(again.n_attrs, 2);
    assert_string_equal(identity_attr(&again, "region"), "north");
    assert_memory_equal(again.cert, first.cert, ECQV_CERT_LEN);
    assert_memory_equal(again.certhash, first.certhash, 32);
    assert_memory_equal(&again.fields, &first.fields, sizeof first.fields);
    assert_ptr_equal(again.ca_key, first.ca_key);
    arena_destroy(a2);

    /* Outside its validity period the cached record is refused. */
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now + 7200, &again, NULL),
                     STELE_ERR_EXPIRED);
    /* A signature byte changed: another key, verified in full, refused. */
    rec.data[rec.len - 3] ^= 0x10;
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &again, NULL),
                     STELE_ERR_AUTH);
    rec.data[rec.len - 3] ^= 0x10;
    /* Revoked after it was cached: refused. */
    struct identity_revoked e = {.serial = 42, .id = "carol", .revoked_at = f->now};
    memcpy(e.certhash, first.certhash, 32);
    assert_int_equal(crl_issue(f->ca, CA_ID, 1, f->now, f->now + 60, &e, 1, &crl), STELE_OK);
    assert_int_equal(msp_set_crl(f->msp, crl.data, crl.len, NULL), STELE_OK);
    assert_int_equal(identity_verify(f->msp, f->a, rec.data, rec.len, f->now, &again, NULL),
                     STELE_ERR_REVOKED);
    reccache_get_stats(f->msp->records, &st);
    assert_int_equal(st.hits, 3);
    crypto_key_destroy(d);
    buf_release(&rec);
    buf_release(&crl);
}

/* One set of RECCACHE_WAYS: the least recently used record makes room. */
static void record_cache_replaces_least_recently_used(void **state)
{
    struct fx *f = *state;
    struct reccache *c = reccache_create(RECCACHE_WAYS);
    assert_non_null(c);
    struct identity id = {.id = "x", .org = "o", .role = "r", .ca_key = f->ca};
    uint8_t h[RECCACHE_WAYS + 1][32];
    for (int i = 0; i <= RECCACHE_WAYS; i++) {
        memset(h[i], i + 1, 32);
        if (i < RECCACHE_WAYS)
            reccache_put(c, h[i], &id);
    }
    struct identity out;
    assert_int_equal(reccache_get(c, h[0], f->a, &out), STELE_OK); /* 0 used again: 1 is oldest */
    assert_string_equal(out.role, "r");
    reccache_put(c, h[RECCACHE_WAYS], &id);
    assert_int_equal(reccache_get(c, h[1], f->a, &out), STELE_ERR_NOT_FOUND);
    for (int i = 0; i <= RECCACHE_WAYS; i++)
        if (i != 1)
            assert_int_equal(reccache_get(c, h[i], f->a, &out), STELE_OK);
    reccache_destroy(c);
    assert_null(reccache_create(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(valid_record_verifies_and_signs, setup, teardown),
        cmocka_unit_test_setup_teardown(every_tampered_byte_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(only_the_cas_encoding_is_a_record, setup, teardown),
        cmocka_unit_test_setup_teardown(tampered_cert_gives_another_key, setup, teardown),
        cmocka_unit_test_setup_teardown(other_ca_org_and_issuer_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_and_not_yet_valid_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_rejected_through_crl, setup, teardown),
        cmocka_unit_test_setup_teardown(signed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(verified_records_are_cached_but_time_and_crl_still_checked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(record_cache_replaces_least_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_and_subject_mismatch_are_malformed, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
