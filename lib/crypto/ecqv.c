/* ecqv.c — ECQV (SEC 4) on P-256 with EC_POINT/BIGNUM, and the STELE-ECQV-v1 CertU codec. */
#include "crypto/ecqv.h"

#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key_int.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <stdlib.h>
#include <string.h>

#define TBS_MAX      (1u << 20) /* refuse absurd to-be-signed prefixes in the raw layer */
#define GEN_ATTEMPTS 8          /* redraws of k for P_U = ∞ or e = 0 (each ~2^-255 likely) */

/* ---- CertU codec ---- */

int ecqv_cert_encode(const struct ecqv_cert *c, uint8_t out[ECQV_CERT_LEN])
{
    uint8_t *p = out;

    if (c->valid_from > ECQV_VALID_FROM_MAX || (c->key_usage & ~ECQV_USAGE_ALL))
        return STELE_ERR_INVALID;
    *p++ = ECQV_CERT_TYPE;
    put_u64be(p, c->serial);
    p += 8;
    *p++ = ECQV_CURVE_P256;
    *p++ = ECQV_HASH_SHA256;
    put_u64be(p, c->issuer_id);
    p += 8;
    for (int i = 4; i >= 0; i--) /* uint40 big-endian */
        *p++ = (uint8_t)(c->valid_from >> (8 * i));
    put_u32be(p, c->valid_duration);
    p += 4;
    memcpy(p, c->subject_id, ECQV_SUBJECT_ID_LEN);
    p += ECQV_SUBJECT_ID_LEN;
    *p++ = c->key_usage;
    memcpy(p, c->pu, CRYPTO_POINT_COMPRESSED_LEN);
    return STELE_OK;
}

/* Checks everything of a CertU except that P_U is on the curve (cheap; no EC arithmetic). */
static bool cert_fields_ok(const uint8_t *buf, size_t len)
{
    return len == ECQV_CERT_LEN && buf[0] == ECQV_CERT_TYPE && buf[9] == ECQV_CURVE_P256 &&
           buf[10] == ECQV_HASH_SHA256 && (buf[ECQV_CERT_PU_OFFSET - 1] & ~ECQV_USAGE_ALL) == 0 &&
           (buf[ECQV_CERT_PU_OFFSET] == 0x02 || buf[ECQV_CERT_PU_OFFSET] == 0x03);
}

int ecqv_cert_decode(const uint8_t *buf, size_t len, struct ecqv_cert *out)
{
    BN_CTX *ctx = NULL;
    EC_POINT *pu = NULL;
    int rc = STELE_ERR_MALFORMED;

    if (!buf || !cert_fields_ok(buf, len))
        return STELE_ERR_MALFORMED;
    const uint8_t *p = buf + 1; /* not before: an empty field arrives as NULL (fuzz_identity) */
    ctx = BN_CTX_new();
    pu = EC_POINT_new(p256_group());
    if (!ctx || !pu) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    rc = point_decode(buf + ECQV_CERT_PU_OFFSET, CRYPTO_POINT_COMPRESSED_LEN, pu, ctx);
    if (rc != STELE_OK)
        goto out;

    out->serial = get_u64be(p);
    p += 8 + 2; /* serial, curve, hash */
    out->issuer_id = get_u64be(p);
    p += 8;
    out->valid_from = 0;
    for (int i = 0; i < 5; i++)
        out->valid_from = (out->valid_from << 8) | *p++;
    out->valid_duration = get_u32be(p);
    p += 4;
    memcpy(out->subject_id, p, ECQV_SUBJECT_ID_LEN);
    p += ECQV_SUBJECT_ID_LEN;
    out->key_usage = *p++;
    memcpy(out->pu, p, CRYPTO_POINT_COMPRESSED_LEN);
out:
    EC_POINT_free(pu);
    BN_CTX_free(ctx);
    return rc;
}

/* ---- hashing to integers ---- */

int ecqv_certhash(const uint8_t *cert, size_t len, uint8_t out[32])
{
    return crypto_sha256(cert, len, out);
}

int ecqv_digest_to_e(const uint8_t digest[32], uint8_t e[32])
{
    /* SEC 4 §2.3: the leftmost floor(log2 n) = 255 bits, i.e. a right shift by one bit. */
    uint8_t carry = 0, acc = 0;
    for (int i = 0; i < 32; i++) {
        e[i] = (uint8_t)((digest[i] >> 1) | carry);
        carry = (uint8_t)(digest[i] << 7);
        acc |= e[i];
    }
    return acc ? STELE_OK : STELE_ERR_CRYPTO;
}

int ecqv_hash_to_e(const uint8_t *cert, size_t len, uint8_t e[32])
{
    uint8_t digest[32];
    int rc = crypto_sha256(cert, len, digest);
    return rc == STELE_OK ? ecqv_digest_to_e(digest, e) : rc;
}

/* Sets `e` to Hn(cert) as a BIGNUM. */
static int e_bn(const uint8_t *cert, size_t len, BIGNUM *e)
{
    uint8_t eb[32];
    int rc = ecqv_hash_to_e(cert, len, eb);
    if (rc != STELE_OK)
        return rc;
    return BN_bin2bn(eb, sizeof eb, e) ? STELE_OK : STELE_ERR_CRYPTO;
}

/* ---- scalar algebra ---- */

/* out = e·s1 + s2 mod n with s1, s2 secret, computed under a random multiplicative blind b as
 * ((e·(s1·b)) + s2·b)·b⁻¹, so the unblinded secrets never meet the variable-time modular
 * arithmetic directly (as OpenSSL's own ECDSA does). Temporaries come from `ctx`. */
static int blinded_mul_add(const BIGNUM *e, const BIGNUM *s1, const BIGNUM *s2, BIGNUM *out,
                           BN_CTX *ctx)
{
    const BIGNUM *n = EC_GROUP_get0_order(p256_group());
    BIGNUM *b, *binv, *t1, *t2;
    int rc = STELE_ERR_CRYPTO;

    BN_CTX_start(ctx);
    b = BN_CTX_get(ctx);
    binv = BN_CTX_get(ctx);
    t1 = BN_CTX_get(ctx);
    t2 = BN_CTX_get(ctx);
    if (!t2)
        goto out;
    BN_set_flags(b, BN_FLG_CONSTTIME);
    BN_set_flags(binv, BN_FLG_CONSTTIME);
    BN_set_flags(t1, BN_FLG_CONSTTIME);
    BN_set_flags(t2, BN_FLG_CONSTTIME);
    do {
        if (!BN_priv_rand_range_ex(b, n, 0, ctx))
            goto out;
    } while (BN_is_zero(b));
    if (!BN_mod_mul(t1, s1, b, n, ctx) || !BN_mod_mul(t1, t1, e, n, ctx) ||
        !BN_mod_mul(t2, s2, b, n, ctx) || !BN_mod_add(t1, t1, t2, n, ctx) ||
        !BN_mod_inverse(binv, b, n, ctx) || !BN_mod_mul(out, t1, binv, n, ctx))
        goto out;
    rc = STELE_OK;
out:
    BN_CTX_end(ctx); /* a secure BN_CTX clears its bignums when freed */
    return rc;
}

/* ---- the protocol ---- */

int ecqv_request(struct crypto_key **k_u, uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN])
{
    int rc = crypto_key_generate(k_u);
    if (rc == STELE_OK)
        crypto_key_public_compressed(*k_u, r_u);
    return rc;
}

/* Core of Cert Generate: writes CertU = tbs ‖ compressed(P_U) (tbs_len + 33 octets) to
 * `cert_out` and r to `r_out`. `k_fixed` NULL means a fresh random k. */
static int generate_core(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                         const uint8_t *r_u, size_t r_u_len, const uint8_t *k_fixed,
                         uint8_t *cert_out, uint8_t r_out[32])
{
    const EC_GROUP *g = p256_group();
    const BIGNUM *n = EC_GROUP_get0_order(g);
    BN_CTX *ctx = NULL;
    EC_POINT *ru = NULL, *pu = NULL;
    BIGNUM *d = NULL, *k, *e, *r;
    int rc = STELE_ERR_NOMEM;

    if (!ca->has_private)
        return STELE_ERR_INVALID;
    ctx = BN_CTX_secure_new();
    ru = EC_POINT_new(g);
    pu = EC_POINT_new(g);
    if (!ctx || !ru || !pu)
        goto done;
    BN_CTX_start(ctx);
    k = BN_CTX_get(ctx);
    e = BN_CTX_get(ctx);
    r = BN_CTX_get(ctx);
    if (!r)
        goto out;
    BN_set_flags(k, BN_FLG_CONSTTIME);
    BN_set_flags(r, BN_FLG_CONSTTIME);

    rc = point_decode(r_u, r_u_len, ru, ctx);
    if (rc != STELE_OK)
        goto out;
    rc = STELE_ERR_CRYPTO;
    d = key_scalar_bn(ca);
    if (!d)
        goto out;

    for (int attempt = 0; attempt < GEN_ATTEMPTS; attempt++) {
        rc = STELE_ERR_CRYPTO;
        if (k_fixed) {
            if (attempt > 0 || !BN_bin2bn(k_fixed, 32, k))
                goto out;
            if (BN_is_zero(k) || BN_cmp(k, n) >= 0) {
                rc = STELE_ERR_INVALID;
                goto out;
            }
        } else {
            do {
                if (!BN_priv_rand_range_ex(k, n, 0, ctx))
                    goto out;
            } while (BN_is_zero(k));
        }
        /* k·G alone (constant-time path), then the public addition R_U + kG. */
        if (!EC_POINT_mul(g, pu, k, NULL, NULL, ctx) || !EC_POINT_add(g, pu, pu, ru, ctx))
            goto out;
        if (EC_POINT_is_at_infinity(g, pu))
            continue;
        if (tbs_len && cert_out != tbs)
            memcpy(cert_out, tbs, tbs_len);
        if (EC_POINT_point2oct(g, pu, POINT_CONVERSION_COMPRESSED, cert_out + tbs_len,
                               CRYPTO_POINT_COMPRESSED_LEN, ctx) != CRYPTO_POINT_COMPRESSED_LEN)
            goto out;
        rc = e_bn(cert_out, tbs_len + CRYPTO_POINT_COMPRESSED_LEN, e);
        if (rc == STELE_ERR_CRYPTO)
            continue; /* e = 0: redraw k */
        if (rc != STELE_OK)
            goto out;
        rc = blinded_mul_add(e, k, d, r, ctx);
        if (rc == STELE_OK && BN_bn2binpad(r, r_out, 32) != 32)
            rc = STELE_ERR_CRYPTO;
        goto out;
    }
out:
    BN_CTX_end(ctx);
done:
    BN_clear_free(d);
    EC_POINT_clear_free(pu);
    EC_POINT_free(ru);
    BN_CTX_free(ctx);
    return rc;
}

static int generate_raw(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                        const uint8_t *r_u, size_t r_u_len, const uint8_t *k_fixed,
                        struct buf *cert, uint8_t r[32])
{
    uint8_t *tmp;
    int rc;

    if (tbs_len > TBS_MAX)
        return STELE_ERR_INVALID;
    tmp = malloc(tbs_len + CRYPTO_POINT_COMPRESSED_LEN);
    if (!tmp)
        return STELE_ERR_NOMEM;
    rc = generate_core(ca, tbs, tbs_len, r_u, r_u_len, k_fixed, tmp, r);
    if (rc == STELE_OK)
        rc = buf_append(cert, tmp, tbs_len + CRYPTO_POINT_COMPRESSED_LEN);
    free(tmp);
    return rc;
}

int ecqv_generate_raw(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                      const uint8_t *r_u, size_t r_u_len, struct buf *cert, uint8_t r[32])
{
    return generate_raw(ca, tbs, tbs_len, r_u, r_u_len, NULL, cert, r);
}

int ecqv_generate_raw_with_nonce(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                                 const uint8_t *r_u, size_t r_u_len, const uint8_t k[32],
                                 struct buf *cert, uint8_t r[32])
{
    return generate_raw(ca, tbs, tbs_len, r_u, r_u_len, k, cert, r);
}

/* Cert PK Extraction on points: q = e·P_U + Q_CA; also returns e. All inputs are public, so the
 * variable-time paths are acceptable. */
static int extract_point(const uint8_t *cert, size_t cert_len, const uint8_t *pu_oct, size_t pu_len,
                         const struct crypto_key *ca_pub, BIGNUM *e, EC_POINT *q, BN_CTX *ctx)
{
    const EC_GROUP *g = p256_group();
    EC_POINT *pu = EC_POINT_new(g), *qca = EC_POINT_new(g);
    int rc = STELE_ERR_NOMEM;

    if (!pu || !qca)
        goto out;
    rc = point_decode(pu_oct, pu_len, pu, ctx);
    if (rc != STELE_OK)
        goto out;
    rc = e_bn(cert, cert_len, e);
    if (rc != STELE_OK)
        goto out;
    rc = key_point(ca_pub, qca, ctx);
    if (rc != STELE_OK)
        goto out;
    rc = STELE_ERR_CRYPTO;
    if (!EC_POINT_mul(g, q, NULL, pu, e, ctx) || !EC_POINT_add(g, q, q, qca, ctx) ||
        EC_POINT_is_at_infinity(g, q))
        goto out;
    rc = STELE_OK;
out:
    EC_POINT_free(qca);
    EC_POINT_free(pu);
    return rc;
}

int ecqv_extract_raw(const uint8_t *cert, size_t cert_len, const uint8_t *pu, size_t pu_len,
                     const struct crypto_key *ca_pub, struct crypto_key **q_u)
{
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *q = EC_POINT_new(p256_group());
    BIGNUM *e = BN_new();
    int rc = STELE_ERR_NOMEM;

    if (!ctx || !q || !e)
        goto out;
    rc = extract_point(cert, cert_len, pu, pu_len, ca_pub, e, q, ctx);
    if (rc == STELE_OK)
        rc = key_from_point(q, ctx, q_u);
out:
    BN_free(e);
    EC_POINT_free(q);
    BN_CTX_free(ctx);
    return rc;
}

int ecqv_reception_raw(const struct crypto_key *k_u, const uint8_t *cert, size_t cert_len,
                       const uint8_t *pu, size_t pu_len, const uint8_t r[32],
                       const struct crypto_key *ca_pub, struct crypto_key **d_u)
{
    const EC_GROUP *g = p256_group();
    BN_CTX *ctx = BN_CTX_secure_new();
    EC_POINT *q = EC_POINT_new(g);
    BIGNUM *ku = NULL, *e, *rb, *du;
    struct crypto_key *key = NULL;
    uint8_t qoct[CRYPTO_POINT_LEN];
    int rc = STELE_ERR_NOMEM;

    if (!ctx || !q)
        goto done;
    BN_CTX_start(ctx);
    e = BN_CTX_get(ctx);
    rb = BN_CTX_get(ctx);
    du = BN_CTX_get(ctx);
    if (!du)
        goto out;
    BN_set_flags(du, BN_FLG_CONSTTIME);
    rc = STELE_ERR_INVALID;
    ku = key_scalar_bn(k_u);
    if (!ku)
        goto out;
    rc = extract_point(cert, cert_len, pu, pu_len, ca_pub, e, q, ctx);
    if (rc != STELE_OK)
        goto out;
    rc = STELE_ERR_AUTH; /* an r >= n cannot come from an honest CA */
    if (!BN_bin2bn(r, 32, rb) || BN_cmp(rb, EC_GROUP_get0_order(g)) >= 0)
        goto out;
    rc = blinded_mul_add(e, ku, rb, du, ctx);
    if (rc != STELE_OK)
        goto out;
    rc = STELE_ERR_CRYPTO;
    if (BN_is_zero(du))
        goto out;
    rc = key_from_bn(du, ctx, &key);
    if (rc != STELE_OK)
        goto out;
    /* Accept only if d_U·G (computed into the key) equals e·P_U + Q_CA. */
    rc = STELE_ERR_CRYPTO;
    if (EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, qoct, sizeof qoct, ctx) !=
        sizeof qoct)
        goto out;
    rc = memcmp(qoct, key->pub, sizeof qoct) == 0 ? STELE_OK : STELE_ERR_AUTH;
out:
    BN_CTX_end(ctx);
done:
    BN_clear_free(ku);
    EC_POINT_free(q);
    BN_CTX_free(ctx);
    if (rc == STELE_OK)
        *d_u = key;
    else
        crypto_key_destroy(key);
    return rc;
}

int ecqv_generate(const struct crypto_key *ca, const uint8_t *r_u, size_t r_u_len,
                  const struct ecqv_cert *fields, uint8_t cert[ECQV_CERT_LEN], uint8_t r[32])
{
    uint8_t tmp[ECQV_CERT_LEN];
    int rc = ecqv_cert_encode(fields, tmp);
    if (rc != STELE_OK)
        return rc;
    rc = generate_core(ca, tmp, ECQV_CERT_PU_OFFSET, r_u, r_u_len, NULL, tmp, r);
    if (rc == STELE_OK)
        memcpy(cert, tmp, ECQV_CERT_LEN);
    return rc;
}

int ecqv_reception(const struct crypto_key *k_u, const uint8_t *cert, size_t cert_len,
                   const uint8_t r[32], const struct crypto_key *ca_pub, struct crypto_key **d_u)
{
    if (!cert || !cert_fields_ok(cert, cert_len))
        return STELE_ERR_MALFORMED;
    return ecqv_reception_raw(k_u, cert, cert_len, cert + ECQV_CERT_PU_OFFSET,
                              CRYPTO_POINT_COMPRESSED_LEN, r, ca_pub, d_u);
}

int ecqv_extract(const uint8_t *cert, size_t cert_len, const struct crypto_key *ca_pub,
                 struct crypto_key **q_u)
{
    if (!cert || !cert_fields_ok(cert, cert_len))
        return STELE_ERR_MALFORMED;
    return ecqv_extract_raw(cert, cert_len, cert + ECQV_CERT_PU_OFFSET, CRYPTO_POINT_COMPRESSED_LEN,
                            ca_pub, q_u);
}
