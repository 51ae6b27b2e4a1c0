/* test_crypto_ecqv.c — ECQV: the public CAMP/SCMS P-256 known-answer vectors, the
 * STELE-ECQV-v1 CertU codec and protocol round trip, tampering and refusals. */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "crypto/key.h"

#include <stdlib.h>
#include <string.h>

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    assert_int_equal(hex_decode(hex, out, len), STELE_OK);
}

/* Checks that the uncompressed public point of `k` is 04 ‖ x ‖ y. */
static void expect_point(const struct crypto_key *k, const char *x, const char *y)
{
    uint8_t want[65], got[65];
    want[0] = 0x04;
    unhex(x, want + 1, 32);
    unhex(y, want + 33, 32);
    crypto_key_public_uncompressed(k, got);
    assert_memory_equal(got, want, 65);
}

/* conz27/crypto-test-vectors implicit.txt, as reproduced in notes/ecqv-vectors.md. */
struct kat {
    const char *k, *pux, *puy, *cert, *r, *du, *qux, *quy, *e;
};
static const char *TBS = "54686973206973206120746573742100"; /* "This is a test!\0" */
static const char *KU = "1384C31D6982D52BCA3BED8A7E60F52FECDAB44E5C0EA166815A8159E09FFB42";
static const char *RUX = "F45A99137B1BB2C150D6D8CF7292CA07DA68C003DAA766A9AF7F67F5EE916828";
static const char *RUY = "F6A25216F44CB64A96C229AE00B479857B3B81C1319FB2ADF0E8DB2681769729";
static const char *DCA = "97D1368E8C07A54F66C9DCE284BA76CAF4178206614F809A4EB43CB3106AA60E";
static const char *QCAX = "3BB8FFD19B25EE1BB939CD4935FBFA8FBAADBA64843338A95595A70ED7479B70";
static const char *QCAY = "EB60DDC790E3CB05E85225F636D8A7C20DF3A8135C4B2AE5396367B4E86077F8";
static const struct kat kats[] = {
    {"E2F9CBCEC3F28F7DFBEF044732C41119816C62909FB720B091FB8F380F1B70DC",
     "4A1890E30A584208DAD3838D0C5CECB1ED6B01D48893C684C59908F5B38E3D82",
     "BAE8FB2EF2DC080F248F44FCEC458B1B35ECDC80F00C959292CBE21BE2FF2EA2",
     "54686973206973206120746573742100024a1890e30a584208dad3838d0c5cecb1ed6b01d48893c684c59908f5"
     "b38e3d82",
     "1FA86893A1AABE8A79F63360F4B6D5617380B4D84B8C260DD8D3D64163C874FD",
     "C8599ECA52B58D691B2BB609CDB53DDD9F49C0D635AB652EC79C546914590274",
     "6E89D7C0F910AAA4AD3137EBE01EF781C0BAB6748318D66FE714471F7F860EB2",
     "1EFE06E2ACC3A2343D2E4445F2083BFA4379672DFBFE0B2575002082407FFDDC",
     "4b3766671cf02daa0df2b882aee31fbef9bbf3cc238b3f15c7497c193fd61c26"},
    {"3396DA2ECBFC6E5F231E2C80EB27AB84F09DD5E724F8652ADE86E60BC800EAD7",
     "6694D1F99A18CBE8035E053B2E56C12EECB94E9D5DBA88E07E5B50CBE309103E",
     "74A698788B8F35B3A86E553228D592FCB7C85611637690A85EEACA02EB178887",
     "54686973206973206120746573742100036694d1f99a18cbe8035e053b2e56c12eecb94e9d5dba88e07e5b50cb"
     "e309103e",
     "001CF7456A157A90FCEA0634699E7A3644FEBFB86C119E6A9686928B8E3F7EF0",
     "C9CCC8E83AB985C436A8BC09C0CAA8A5AC627DD7BC9336A5E8AB81B77D3A031D",
     "8ED40E9601BEEB146A4A0AB96D20EE0FE4CA1E389397F2B1CC67AD9F5B0F579E",
     "73E589E8A9A135306F4AA324F17B66906153BD333961F9BE530F20EB8D3339C7",
     "27fe62399be5978acdaecd70293b6b4c7480103864aad3f020b4a4e6438600ac"},
};

static void camp_known_answers(void **state)
{
    (void)state;
    uint8_t tbs[16], ku[32], dca[32], ru[33], x[32];
    struct crypto_key *ca, *ca_pub, *kreq;

    unhex(TBS, tbs, sizeof tbs);
    unhex(KU, ku, 32);
    unhex(DCA, dca, 32);
    assert_int_equal(crypto_key_from_scalar(dca, &ca), STELE_OK);
    expect_point(ca, QCAX, QCAY);
    uint8_t qca[33];
    crypto_key_public_compressed(ca, qca);
    assert_int_equal(crypto_key_from_public(qca, 33, &ca_pub), STELE_OK);
    assert_int_equal(crypto_key_from_scalar(ku, &kreq), STELE_OK);
    expect_point(kreq, RUX, RUY);
    crypto_key_public_compressed(kreq, ru);

    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        const struct kat *v = &kats[i];
        uint8_t k[32], cert[49], r[32], e[32], want[32];
        struct buf got;
        struct crypto_key *pu, *du, *qu;

        /* Cert Generate with the vector's CA nonce: CertU (hence P_U) and r. */
        unhex(v->k, k, 32);
        unhex(v->cert, cert, sizeof cert);
        buf_init(&got);
        assert_int_equal(
            ecqv_generate_raw_with_nonce(ca, tbs, sizeof tbs, ru, sizeof ru, k, &got, r), STELE_OK);
        assert_int_equal(got.len, sizeof cert);
        assert_memory_equal(got.data, cert, sizeof cert);
        unhex(v->r, want, 32);
        assert_memory_equal(r, want, 32);
        buf_release(&got);

        /* P_U is the certificate's tail. */
        assert_int_equal(crypto_key_from_public(cert + 16, 33, &pu), STELE_OK);
        expect_point(pu, v->pux, v->puy);
        crypto_key_destroy(pu);

        /* e = SHA-256(CertU) >> 1. */
        assert_int_equal(ecqv_hash_to_e(cert, sizeof cert, e), STELE_OK);
        unhex(v->e, want, 32);
        assert_memory_equal(e, want, 32);

        /* Cert Reception: d_U, and its public key is Q_U. */
        assert_int_equal(ecqv_reception_raw(kreq, cert, sizeof cert, cert + 16, 33, r, ca_pub, &du),
                         STELE_OK);
        assert_int_equal(crypto_key_scalar(du, x), STELE_OK);
        unhex(v->du, want, 32);
        assert_memory_equal(x, want, 32);
        expect_point(du, v->qux, v->quy);

        /* Cert PK Extraction: Q_U = e·P_U + Q_CA. */
        assert_int_equal(ecqv_extract_raw(cert, sizeof cert, cert + 16, 33, ca_pub, &qu), STELE_OK);
        expect_point(qu, v->qux, v->quy);
        assert_true(crypto_key_public_equal(qu, du));
        crypto_key_destroy(qu);
        crypto_key_destroy(du);
    }
    crypto_key_destroy(kreq);
    crypto_key_destroy(ca_pub);
    crypto_key_destroy(ca);
}

static void hash_to_e_rule(void **state)
{
    (void)state;
    uint8_t d[32], e[32], want[32];

    /* A shift, not a reduction: vector 1's digest has its top bit set. */
    unhex("966eccce39e05b541be571055dc63f7df377e79847167e2b8e92f8327fac384d", d, 32);
    assert_int_equal(ecqv_digest_to_e(d, e), STELE_OK);
    unhex(kats[0].e, want, 32);
    assert_memory_equal(e, want, 32);

    /* e = 0 is refused: both digests that shift to zero. */
    memset(d, 0, 32);
    assert_int_equal(ecqv_digest_to_e(d, e), STELE_ERR_CRYPTO);
    d[31] = 1;
    assert_int_equal(ecqv_digest_to_e(d, e), STELE_ERR_CRYPTO);
    d[31] = 2;
    assert_int_equal(ecqv_digest_to_e(d, e), STELE_OK);
    memset(want, 0, 32);
    want[31] = 1;
    assert_memory_equal(e, want, 32);
}

/* A CA key pair and its public-only twin, as a verifier would hold it. */
struct ca_fixture {
    struct crypto_key *ca, *ca_pub;
};

static int ca_setup(void **state)
{
    struct ca_fixture *f = calloc(1, sizeof *f);
    uint8_t q[33];
    if (!f || crypto_key_generate(&f->ca) != STELE_OK)
        return -1;
    crypto_key_public_compressed(f->ca, q);
    if (crypto_key_from_public(q, 33, &f->ca_pub) != STELE_OK)
        return -1;
    *state = f;
    return 0;
}

static int ca_teardown(void **state)
{
    struct ca_fixture *f = *state;
    crypto_key_destroy(f->ca);
    crypto_key_destroy(f->ca_pub);
    free(f);
    return 0;
}

static void sample_fields(struct ecqv_cert *c, const char *subject)
{
    uint8_t h[32];
    memset(c, 0, sizeof *c);
    c->serial = 0x0102030405060708ull;
    c->issuer_id = 0x1112131415161718ull;
    c->valid_from = 1700000000;
    c->valid_duration = 365u * 86400u;
    assert_int_equal(crypto_sha256(subject, strlen(subject), h), STELE_OK);
    memcpy(c->subject_id, h, ECQV_SUBJECT_ID_LEN);
    c->key_usage = ECQV_USAGE_SIGN;
}

/* Issues a certificate for a fresh request; returns U's key pair in *du. */
static void issue(const struct ca_fixture *f, const char *subject, uint8_t cert[ECQV_CERT_LEN],
                  struct crypto_key **du)
{
    struct crypto_key *ku;
    struct ecqv_cert fields;
    uint8_t ru[33], r[32];

    sample_fields(&fields, subject);
    assert_int_equal(ecqv_request(&ku, ru), STELE_OK);
    assert_int_equal(ecqv_generate(f->ca, ru, sizeof ru, &fields, cert, r), STELE_OK);
    assert_int_equal(ecqv_reception(ku, cert, ECQV_CERT_LEN, r, f->ca_pub, du), STELE_OK);
    crypto_key_destroy(ku);
}

static void profile_round_trip(void **state)
{
    struct ca_fixture *f = *state;
    struct crypto_key *ku, *du, *qu;
    struct ecqv_cert fields, dec;
    uint8_t ru[33], r[32], cert[ECQV_CERT_LEN], sig[64], d[32], h[32];

    sample_fields(&fields, "alice@org1");
    assert_int_equal(ecqv_request(&ku, ru), STELE_OK);
    assert_int_equal(ecqv_generate(f->ca, ru, sizeof ru, &fields, cert, r), STELE_OK);

    /* The CertU layout of DESIGN §4.1. */
    assert_int_equal(cert[0], 0x01);
    assert_int_equal(get_u64be(cert + 1), fields.serial);
    assert_int_equal(cert[9], 0x01);
    assert_int_equal(cert[10], 0x01);
    assert_int_equal(get_u64be(cert + 11), fields.issuer_id);
    assert_int_equal(cert[19], 0x00); /* 1700000000 = 0x006553f100 */
    assert_int_equal(get_u32be(cert + 20), 0x6553f100u);
    assert_int_equal(get_u32be(cert + 24), fields.valid_duration);
    assert_memory_equal(cert + 28, fields.subject_id, 16);
    assert_int_equal(cert[44], ECQV_USAGE_SIGN);
    assert_int_equal(ecqv_cert_decode(cert, sizeof cert, &dec), STELE_OK);
    memcpy(fields.pu, dec.pu, 33);
    assert_memory_equal(&dec, &fields, sizeof dec);
    uint8_t again[ECQV_CERT_LEN];
    assert_int_equal(ecqv_cert_encode(&dec, again), STELE_OK);
    assert_memory_equal(again, cert, sizeof cert);

    assert_int_equal(ecqv_reception(ku, cert, sizeof cert, r, f->ca_pub, &du), STELE_OK);
    assert_int_equal(ecqv_extract(cert, sizeof cert, f->ca_pub, &qu), STELE_OK);
    assert_true(crypto_key_public_equal(du, qu)); /* d_U·G == Q_U */
    assert_int_equal(crypto_sign(du, "vote", 4, sig), STELE_OK);
    assert_int_equal(crypto_verify(qu, "vote", 4, sig, sizeof sig), STELE_OK);

    /* The CA never sees d_U; the requester's k_U is not d_U. */
    assert_int_equal(crypto_key_scalar(du, d), STELE_OK);
    assert_false(crypto_key_public_equal(ku, du));
    assert_int_equal(ecqv_certhash(cert, sizeof cert, h), STELE_OK);

    /* Tampering with any octet of CertU: extraction fails or yields another key. */
    for (size_t i = 0; i < sizeof cert; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            uint8_t t[ECQV_CERT_LEN];
            struct crypto_key *q2 = NULL;
            memcpy(t, cert, sizeof t);
            t[i] ^= (uint8_t)(1u << bit);
            int rc = ecqv_extract(t, sizeof t, f->ca_pub, &q2);
            if (rc == STELE_OK) {
                assert_false(crypto_key_public_equal(q2, qu));
                assert_int_equal(crypto_verify(q2, "vote", 4, sig, sizeof sig), STELE_ERR_AUTH);
                crypto_key_destroy(q2);
            } else {
                assert_int_equal(rc, STELE_ERR_MALFORMED);
            }
        }
    }

    /* Reception refuses a wrong CA key, a wrong r and a truncated certificate. */
    struct crypto_key *other, *x = NULL;
    assert_int_equal(crypto_key_generate(&other), STELE_OK);
    assert_int_equal(ecqv_reception(ku, cert, sizeof cert, r, other, &x), STELE_ERR_AUTH);
    r[31] ^= 1;
    assert_int_equal(ecqv_reception(ku, cert, sizeof cert, r, f->ca_pub, &x), STELE_ERR_AUTH);
    r[31] ^= 1;
    memset(r, 0xff, 32); /* r >= n */
    assert_int_equal(ecqv_reception(ku, cert, sizeof cert, r, f->ca_pub, &x), STELE_ERR_AUTH);
    assert_int_equal(ecqv_reception(ku, cert, sizeof cert - 1, r, f->ca_pub, &x),
                     STELE_ERR_MALFORMED);
    /* A public-only request key cannot receive. */
    assert_int_equal(ecqv_reception(qu, cert, sizeof cert, r, f->ca_pub, &x), STELE_ERR_INVALID);
    assert_null(x);

    /* Extraction under the wrong CA key gives a key the signature does not verify under. */
    assert_int_equal(ecqv_extract(cert, sizeof cert, other, &x), STELE_OK);
    assert_int_equal(crypto_verify(x, "vote", 4, sig, sizeof sig), STELE_ERR_AUTH);
    crypto_key_destroy(x);

    crypto_key_destroy(other);
    crypto_key_destroy(qu);
    crypto_key_destroy(du);
    crypto_key_destroy(ku);
}

static void generate_refuses_bad_requests(void **state)
{
    struct ca_fixture *f = *state;
    struct ecqv_cert fields;
    struct crypto_key *ku;
    uint8_t ru[33], ru65[65], bad[65], cert[ECQV_CERT_LEN], r[32];

    sample_fields(&fields, "bob");
    assert_int_equal(ecqv_request(&ku, ru), STELE_OK);
    crypto_key_public_uncompressed(ku, ru65);

    /* Uncompressed R_U is accepted too. */
    assert_int_equal(ecqv_generate(f->ca, ru65, 65, &fields, cert, r), STELE_OK);

    /* Infinity, wrong lengths, wrong prefix, off curve. */
    uint8_t inf[1] = {0x00};
    assert_int_equal(ecqv_generate(f->ca, inf, 1, &fields, cert, r), STELE_ERR_MALFORMED);
    assert_int_equal(ecqv_generate(f->ca, ru, 32, &fields, cert, r), STELE_ERR_MALFORMED);
    assert_int_equal(ecqv_generate(f->ca, ru65, 64, &fields, cert, r), STELE_ERR_MALFORMED);
    assert_int_equal(ecqv_generate(f->ca, ru, 0, &fields, cert, r), STELE_ERR_MALFORMED);
    memcpy(bad, ru, 33);
    bad[0] = 0x05;
    assert_int_equal(ecqv_generate(f->ca, bad, 33, &fields, cert, r), STELE_ERR_MALFORMED);
    memcpy(bad, ru65, 65);
    bad[40] ^= 0x10;
    assert_int_equal(ecqv_generate(f->ca, bad, 65, &fields, cert, r), STELE_ERR_MALFORMED);

    /* Fields that do not fit, and a CA key without its private part. */
    fields.valid_from = ECQV_VALID_FROM_MAX + 1;
    assert_int_equal(ecqv_generate(f->ca, ru, 33, &fields, cert, r), STELE_ERR_INVALID);
    fields.valid_from = ECQV_VALID_FROM_MAX;
    fields.key_usage = 0x08;
    assert_int_equal(ecqv_generate(f->ca, ru, 33, &fields, cert, r), STELE_ERR_INVALID);
    fields.key_usage = ECQV_USAGE_ALL;
    assert_int_equal(ecqv_generate(f->ca_pub, ru, 33, &fields, cert, r), STELE_ERR_INVALID);
    assert_int_equal(ecqv_generate(f->ca, ru, 33, &fields, cert, r), STELE_OK);

    /* Raw layer: a zero or out-of-range fixed nonce is refused. */
    uint8_t k[32] = {0};
    struct buf out;
    buf_init(&out);
    assert_int_equal(ecqv_generate_raw_with_nonce(f->ca, NULL, 0, ru, 33, k, &out, r),
                     STELE_ERR_INVALID);
    memset(k, 0xff, 32);
    assert_int_equal(ecqv_generate_raw_with_nonce(f->ca, NULL, 0, ru, 33, k, &out, r),
                     STELE_ERR_INVALID);
    assert_int_equal(out.len, 0);
    /* An empty tbs is allowed: CertU is just the point. */
    assert_int_equal(ecqv_generate_raw(f->ca, NULL, 0, ru, 33, &out, r), STELE_OK);
    assert_int_equal(out.len, 33);
    struct crypto_key *du;
    assert_int_equal(
        ecqv_reception_raw(ku, out.data, out.len, out.data, out.len, r, f->ca_pub, &du), STELE_OK);
    crypto_key_destroy(du);
    buf_release(&out);
    crypto_key_destroy(ku);
}

static void cert_decode_refusals(void **state)
{
    struct ca_fixture *f = *state;
    struct crypto_key *du;
    struct ecqv_cert c;
    uint8_t cert[ECQV_CERT_LEN], t[ECQV_CERT_LEN + 1];

    issue(f, "carol", cert, &du);
    crypto_key_destroy(du);
    assert_int_equal(ecqv_cert_decode(cert, sizeof cert, &c), STELE_OK);
    assert_int_equal(ecqv_cert_decode(cert, sizeof cert - 1, &c), STELE_ERR_MALFORMED);
    memcpy(t, cert, sizeof cert);
    t[ECQV_CERT_LEN] = 0;
    assert_int_equal(ecqv_cert_decode(t, sizeof t, &c), STELE_ERR_MALFORMED);
    assert_int_equal(ecqv_cert_decode(NULL, 0, &c), STELE_ERR_MALFORMED);
    static const size_t fixed[] = {0, 9, 10};
    for (size_t i = 0; i < 3; i++) {
        memcpy(t, cert, sizeof cert);
        t[fixed[i]] = 0x02; /* type, curve, hash */
        assert_int_equal(ecqv_cert_decode(t, sizeof cert, &c), STELE_ERR_MALFORMED);
        assert_int_equal(ecqv_extract(t, sizeof cert, f->ca_pub, &du), STELE_ERR_MALFORMED);
    }
    memcpy(t, cert, sizeof cert);
    t[44] = 0x08; /* unknown key-usage bit */
    assert_int_equal(ecqv_cert_decode(t, sizeof cert, &c), STELE_ERR_MALFORMED);
    memcpy(t, cert, sizeof cert);
    t[45] = 0x04; /* not a compressed point */
    assert_int_equal(ecqv_cert_decode(t, sizeof cert, &c), STELE_ERR_MALFORMED);
    /* x with no point on the curve: try x values until one is refused (about half are). */
    int refused = 0;
    for (int i = 0; i < 64 && !refused; i++) {
        memcpy(t, cert, sizeof cert);
        t[77] = (uint8_t)i;
        refused = ecqv_cert_decode(t, sizeof cert, &c) == STELE_ERR_MALFORMED;
        if (refused)
            assert_int_equal(ecqv_extract(t, sizeof cert, f->ca_pub, &du), STELE_ERR_MALFORMED);
    }
    assert_true(refused);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(camp_known_answers),
        cmocka_unit_test(hash_to_e_rule),
        cmocka_unit_test_setup_teardown(profile_round_trip, ca_setup, ca_teardown),
        cmocka_unit_test_setup_teardown(generate_refuses_bad_requests, ca_setup, ca_teardown),
        cmocka_unit_test_setup_teardown(cert_decode_refusals, ca_setup, ca_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
