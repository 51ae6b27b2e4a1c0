/*
 * ecqv.h — ECQV implicit certificates (SEC 4) on P-256 / SHA-256, profile STELE-ECQV-v1
 * (DESIGN §4.1).
 *
 * Roles: the requester U makes (k_U, R_U = k_U·G) with ecqv_request(); the CA turns R_U into a
 * certificate CertU and a private-key contribution r with ecqv_generate(); U obtains its key pair
 * d_U with ecqv_reception(); anyone obtains U's public key Q_U = e·P_U + Q_CA from CertU with
 * ecqv_extract(). Here e = Hn(CertU) = OS2IP(SHA-256(CertU)) >> 1 and e = 0 is refused.
 *
 * Two layers:
 *  - the *_raw functions work on any certificate encoding whose bytes the caller holds, with
 *    P_U passed beside them (they are what the public CAMP/SCMS known-answer vectors exercise;
 *    ecqv_generate_raw() builds CertU = tbs ‖ compressed(P_U));
 *  - the profile functions use the fixed 78-octet STELE-ECQV-v1 CertU below.
 *
 * Keys are struct crypto_key (key.h); all functions are thread-safe and keep no state.
 */
#ifndef STELE_CRYPTO_ECQV_H
#define STELE_CRYPTO_ECQV_H

#include "base/buf.h"
#include "crypto/key.h"

#include <stddef.h>
#include <stdint.h>

#define ECQV_CERT_LEN       78                 /* octets of a STELE-ECQV-v1 CertU */
#define ECQV_CERT_PU_OFFSET 45                 /* P_U is the last field of CertU */
#define ECQV_CERT_TYPE      0x01               /* CertU type octet */
#define ECQV_CURVE_P256     0x01               /* curve octet: P-256 */
#define ECQV_HASH_SHA256    0x01               /* hash octet: SHA-256 */
#define ECQV_SUBJECT_ID_LEN 16                 /* first 16 octets of SHA-256(textual id) */
#define ECQV_VALID_FROM_MAX ((1ull << 40) - 1) /* valid_from is a uint40 */

#define ECQV_USAGE_SIGN    0x01 /* key usage: may sign */
#define ECQV_USAGE_ENCRYPT 0x02 /* key usage: may decrypt (KEM) */
#define ECQV_USAGE_CA      0x04 /* key usage: may issue certificates */
#define ECQV_USAGE_ALL     (ECQV_USAGE_SIGN | ECQV_USAGE_ENCRYPT | ECQV_USAGE_CA)

/* The fields of a STELE-ECQV-v1 CertU (type, curve and hash octets are implied). */
struct ecqv_cert {
    uint64_t serial;                         /* unique per CA */
    uint64_t issuer_id;                      /* CA id */
    uint64_t valid_from;                     /* seconds since the epoch, < 2^40 */
    uint32_t valid_duration;                 /* seconds */
    uint8_t subject_id[ECQV_SUBJECT_ID_LEN]; /* first 16 octets of SHA-256(textual id) */
    uint8_t key_usage;                       /* ECQV_USAGE_* bits; no others */
    uint8_t pu[CRYPTO_POINT_COMPRESSED_LEN]; /* compressed reconstruction point P_U */
};

/* Encodes `c` into the 78-octet CertU. Does not check `pu` (the CA fills it in; decode checks
 * it). Returns STELE_OK or STELE_ERR_INVALID (valid_from too large, unknown key-usage bits). */
int ecqv_cert_encode(const struct ecqv_cert *c, uint8_t out[ECQV_CERT_LEN]);

/* Decodes untrusted bytes as a CertU: exactly 78 octets, type/curve/hash 0x01, known key-usage
 * bits only, P_U a valid compressed point on P-256. Returns STELE_OK or STELE_ERR_MALFORMED,
 * or STELE_ERR_NOMEM when OpenSSL could not allocate (no verdict); `out` is written only on
 * success. */
int ecqv_cert_decode(const uint8_t *buf, size_t len, struct ecqv_cert *out);

/* certhash = SHA-256(CertU) over `len` octets: the identity's handle everywhere. */
int ecqv_certhash(const uint8_t *cert, size_t len, uint8_t out[32]);

/* e = Hn(cert) = OS2IP(SHA-256(cert)) >> 1 as 32 octets big-endian. Returns STELE_OK, or
 * STELE_ERR_CRYPTO when e = 0 (such a certificate must not be issued or used). */
int ecqv_hash_to_e(const uint8_t *cert, size_t len, uint8_t e[32]);

/* The step of Hn after hashing: e = OS2IP(digest) >> 1; STELE_ERR_CRYPTO when e = 0. */
int ecqv_digest_to_e(const uint8_t digest[32], uint8_t e[32]);

/* Requester: draws k_U and writes R_U = k_U·G (compressed) to `r_u`. *k_u receives the key pair
 * (k_U, R_U); keep it secret until ecqv_reception() and destroy it afterwards. */
int ecqv_request(struct crypto_key **k_u, uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN]);

/* CA, any encoding: validates R_U (`r_u_len` octets, untrusted, SEC 1 33 or 65), draws a fresh
 * k, computes P_U = R_U + k·G, appends CertU = tbs ‖ compressed(P_U) to `cert` and writes
 * r = e·k + d_CA mod n (blinded) to `r`. Redraws k if P_U = ∞ or e = 0. `ca` must hold the CA's
 * private key. Returns STELE_OK, STELE_ERR_MALFORMED (bad R_U), STELE_ERR_INVALID (public-only
 * CA key), STELE_ERR_NOMEM or STELE_ERR_CRYPTO; `cert` is unchanged on error. */
int ecqv_generate_raw(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                      const uint8_t *r_u, size_t r_u_len, struct buf *cert, uint8_t r[32]);

/* Like ecqv_generate_raw() but with the CA nonce k given (32 octets, in [1, n-1]). FOR
 * KNOWN-ANSWER TESTS ONLY: reusing k across certificates reveals d_CA. Fails with
 * STELE_ERR_CRYPTO instead of redrawing. */
int ecqv_generate_raw_with_nonce(const struct crypto_key *ca, const uint8_t *tbs, size_t tbs_len,
                                 const uint8_t *r_u, size_t r_u_len, const uint8_t k[32],
                                 struct buf *cert, uint8_t r[32]);

/* Requester, any encoding: computes d_U = r + e·k_U mod n for the certificate bytes `cert`
 * whose reconstruction point is `pu` (SEC 1, untrusted) and accepts only if d_U·G equals the
 * extracted key e·P_U + Q_CA. On success *d_u is U's key pair. Returns STELE_OK,
 * STELE_ERR_MALFORMED (bad P_U), STELE_ERR_AUTH (the check failed: wrong CA key, r or cert),
 * STELE_ERR_CRYPTO (e = 0, d_U = 0, internal failure) or STELE_ERR_NOMEM. */
int ecqv_reception_raw(const struct crypto_key *k_u, const uint8_t *cert, size_t cert_len,
                       const uint8_t *pu, size_t pu_len, const uint8_t r[32],
                       const struct crypto_key *ca_pub, struct crypto_key **d_u);

/* Anyone, any encoding: Q_U = e·P_U + Q_CA for the certificate bytes `cert` whose
 * reconstruction point is `pu` (SEC 1, untrusted). On success *q_u is a public-only key.
 * Returns STELE_OK, STELE_ERR_MALFORMED (bad P_U), STELE_ERR_CRYPTO (e = 0, Q_U = ∞) or
 * STELE_ERR_NOMEM. */
int ecqv_extract_raw(const uint8_t *cert, size_t cert_len, const uint8_t *pu, size_t pu_len,
                     const struct crypto_key *ca_pub, struct crypto_key **q_u);

/* CA, STELE-ECQV-v1: issues a CertU with the caller's `fields` (its `pu` is ignored) for the
 * request point `r_u` (untrusted). Writes the 78-octet CertU to `cert` and r to `r`. Errors as
 * ecqv_generate_raw(), plus STELE_ERR_INVALID for fields that cannot be encoded. */
int ecqv_generate(const struct crypto_key *ca, const uint8_t *r_u, size_t r_u_len,
                  const struct ecqv_cert *fields, uint8_t cert[ECQV_CERT_LEN], uint8_t r[32]);

/* Requester, STELE-ECQV-v1: decodes `cert` (untrusted) and runs ecqv_reception_raw(). */
int ecqv_reception(const struct crypto_key *k_u, const uint8_t *cert, size_t cert_len,
                   const uint8_t r[32], const struct crypto_key *ca_pub, struct crypto_key **d_u);

/* Anyone, STELE-ECQV-v1: decodes `cert` (untrusted) and runs ecqv_extract_raw(). */
int ecqv_extract(const uint8_t *cert, size_t cert_len, const struct crypto_key *ca_pub,
                 struct crypto_key **q_u);

#endif
