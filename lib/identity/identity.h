/*
 * identity.h — membership: CA-signed identity records, CRLs and signed requests (DESIGN §4).
 *
 * An identity travels as a serialized `stele.Identity` (proto/stele/identity.proto): the bytes
 * of an IdentityBody (CertU, id, org, role, attributes) and the CA's signature over them. A
 * verifier holds an MSP — the CA public keys it trusts, each for an organisation or for any —
 * and optionally the latest CRL of each CA. identity_verify() checks an identity record from its
 * bytes alone: CA signature, CertU encoding, subject id, issuer, organisation, validity period
 * and revocation; identity_public_key() then gives the signer's ECQV public key (cached by
 * certhash). Signed requests (AdminRequest inside SignedRequest) are created by clients with
 * signed_request_create() and checked by servers with signed_request_verify(); replay
 * detection (nonces) belongs to the server.
 *
 * Signatures are domain-separated: the signer signs a fixed string ending in NUL followed by the
 * exact bytes that travel, and verifiers check those bytes before decoding them.
 */
#ifndef STELE_IDENTITY_IDENTITY_H
#define STELE_IDENTITY_IDENTITY_H

#include "base/buf.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/key.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* Domain-separation prefixes (each includes its terminating NUL in what is signed). */
#define IDENTITY_DOMAIN_RECORD  "STELE-IDENTITY-v1"
#define IDENTITY_DOMAIN_CRL     "STELE-CRL-v1"
#define IDENTITY_DOMAIN_REQUEST "STELE-ADMIN-REQUEST-v1"

#define IDENTITY_MAX_LEN       (16 * 1024)        /* cap on a serialized Identity */
#define IDENTITY_CRL_MAX_LEN   (4u << 20)         /* cap on a serialized Crl */
#define IDENTITY_REQ_MAX_LEN   (256 * 1024)       /* cap on a serialized AdminRequest */
#define IDENTITY_NONCE_LEN     16                 /* AdminRequest nonce */
#define IDENTITY_REQ_WINDOW_MS (5 * 60 * 1000ull) /* accepted |timestamp - now| */

/* The trust store: CA public keys per organisation, their CRLs and a key cache (opaque).
 * Thread-safe: lookups may run on many threads while another installs a CRL. */
struct msp;

/* One attribute of an identity. */
struct identity_attr {
    const char *key;   /* attribute name */
    const char *value; /* its value */
};

/* A decoded (and, after identity_verify(), verified) identity record. Strings and arrays live
 * in the arena given to the decoder; `ca_key` is borrowed from the MSP that verified it (NULL
 * after a bare decode). */
struct identity {
    uint8_t cert[ECQV_CERT_LEN];     /* CertU */
    struct ecqv_cert fields;         /* its decoded fields */
    uint8_t certhash[32];            /* SHA-256(CertU) */
    const char *id;                  /* textual id */
    const char *org;                 /* organisation */
    const char *role;                /* role */
    struct identity_attr *attrs;     /* attributes, in record order */
    size_t n_attrs;                  /* entries in attrs */
    uint64_t issued_at;              /* Unix seconds */
    const struct crypto_key *ca_key; /* the issuing CA's key (owned by the MSP) */
};

/* ---- the MSP ---------------------------------------------------------------------------- */

/* Creates an empty MSP with a key cache of `cache_capacity` extracted keys and a cache of as
 * many verified records (0 = 1024 each). NULL on OOM. Free with msp_destroy(). */
struct msp *msp_create(size_t cache_capacity);
/* Frees the MSP, its CA keys and CRLs. Accepts NULL. Identities it verified lose `ca_key`. */
void msp_destroy(struct msp *m);

struct sigcache; /* crypto/sigcache.h */

/* Gives the MSP a cache of `capacity` valid signatures (crypto/sigcache.h) that the peer's
 * endorser, gateway and validator share through msp_sigcache(), so a signature this process
 * made or already verified is not verified again. Identities are still checked every time.
 * Call once, before use. Returns STELE_OK, STELE_ERR_INVALID (already enabled or a bad
 * capacity) or STELE_ERR_NOMEM. */
int msp_enable_sigcache(struct msp *m, size_t capacity);
/* Makes `m` use the signature cache of `from` (enabled), so that two MSPs of one process that
 * judge the same signatures verify each once: a peer's validation MSP, which holds only the
 * ledger's CRLs, and the one of its services. `from` must outlive `m`. Returns STELE_OK or
 * STELE_ERR_INVALID (m has a cache, from has none). */
int msp_share_sigcache(struct msp *m, const struct msp *from);

/* The MSP's signature cache, or NULL when none was enabled (or `m` is NULL); owned by the MSP.
 * Every sigcache_* call accepts NULL. */
struct sigcache *msp_sigcache(const struct msp *m);

/* Trusts `ca_pub` (the MSP takes its own reference) for identities of organisation `org`, or of
 * any organisation when `org` is NULL. `ca_id` is the CA id expected as the CertU issuer; 0
 * accepts any issuer id from that key. Returns STELE_OK or STELE_ERR_NOMEM. Not thread-safe
 * with verification: add CAs before use. */
int msp_add_ca(struct msp *m, const char *org, uint64_t ca_id, const struct crypto_key *ca_pub);

/* Verifies a serialized Crl (`len` untrusted bytes) against the trusted CA keys and installs it
 * for the CA that signed it, replacing an older one (a CRL whose number is lower than the
 * installed one is refused with STELE_ERR_STATE). Returns STELE_OK, STELE_ERR_MALFORMED,
 * STELE_ERR_AUTH (no trusted CA signed it) or STELE_ERR_NOMEM; *errmsg (may be NULL) gets a
 * malloc'd reason. Thread-safe. */
int msp_set_crl(struct msp *m, const uint8_t *crl, size_t len, char **errmsg);

/* True when `certhash` is on the installed CRL of the CA whose key is `ca_key`. Thread-safe. */
bool msp_is_revoked(struct msp *m, const struct crypto_key *ca_key, const uint8_t certhash[32]);

/* ---- identity records ------------------------------------------------------------------- */

/* Decodes a serialized Identity (`len` untrusted bytes) without checking the CA signature:
 * record and body decode, CertU is well formed, subject id matches id. Strings go to `a`.
 * Returns STELE_OK or STELE_ERR_MALFORMED (with *errmsg, may be NULL). For display (inspect)
 * and fuzzing; trust needs identity_verify(). */
int identity_decode(struct arena *a, const uint8_t *data, size_t len, struct identity *out,
                    char **errmsg);

/* Verifies a serialized Identity against the MSP at time `now_s` (Unix seconds): decodes it,
 * finds a trusted CA whose signature verifies over the body and whose org and issuer id match,
 * and checks valid_from <= now < valid_from + duration and that the certificate is not on the
 * CA's CRL. Returns STELE_OK with *out filled (strings in `a`), or STELE_ERR_MALFORMED,
 * STELE_ERR_AUTH (no trusted CA signed it, or wrong org/issuer), STELE_ERR_EXPIRED (outside its
 * validity period), STELE_ERR_REVOKED, with *errmsg (may be NULL) a malloc'd reason; or
 * STELE_ERR_NOMEM / STELE_ERR_CRYPTO when this verifier failed (no verdict on the record).
 * The MSP remembers the records it verified, by the SHA-256 of their bytes (reccache.h): the
 * same bytes again skip the CA signature and the decoding, never the validity and CRL checks.
 * Thread-safe. */
int identity_verify(struct msp *m, struct arena *a, const uint8_t *data, size_t len, uint64_t now_s,
                    struct identity *out, char **errmsg);

/* Like identity_verify() but an identity that expired less than `grace_s` seconds ago passes
 * (for reenrolment). */
int identity_verify_grace(struct msp *m, struct arena *a, const uint8_t *data, size_t len,
                          uint64_t now_s, uint64_t grace_s, struct identity *out, char **errmsg);

/* The ECQV public key Q_U of a verified identity, through the MSP's key cache. *out gets a
 * reference (crypto_key_destroy()). Returns STELE_OK, STELE_ERR_INVALID (not verified) or the
 * errors of ecqv_extract(). Thread-safe. */
int identity_public_key(struct msp *m, const struct identity *id, struct crypto_key **out);

/* Verifies `sig` (untrusted) by the identity over `msg` (plain SHA-256/ECDSA, no domain). Checks
 * the sign key-usage bit. Through the MSP's signature cache when it has one (msp_sigcache()).
 * Returns STELE_OK, STELE_ERR_PERMISSION (key not for signing) or the errors of
 * crypto_verify(). */
int identity_verify_signature(struct msp *m, const struct identity *id, const void *msg, size_t len,
                              const uint8_t *sig, size_t sig_len);

/* True when the identity's role is `role`. */
bool identity_has_role(const struct identity *id, const char *role);

/* The value of attribute `key`, or NULL. */
const char *identity_attr(const struct identity *id, const char *key);

/* The validity end of a certificate (valid_from + duration), Unix seconds. */
uint64_t identity_valid_until(const struct ecqv_cert *c);

/* ---- domain-separated signatures (CA and clients) ---------------------------------------- */

/* Signs "domain\0" || data with `key`. Returns the errors of crypto_sign(). */
int identity_sign_domain(const struct crypto_key *key, const char *domain, const uint8_t *data,
                         size_t len, uint8_t sig[CRYPTO_SIG_LEN]);
/* Verifies a signature made by identity_sign_domain(). Returns the errors of crypto_verify(). */
int identity_verify_domain(const struct crypto_key *key, const char *domain, const uint8_t *data,
                           size_t len, const uint8_t *sig, size_t sig_len);

/* ---- issuing (the CA) --------------------------------------------------------------------- */

/* CA: builds the IdentityBody for `cert` with id, org, role and `n_attrs` attributes, signs it
 * with `ca` and appends the serialized Identity to `out`. Returns STELE_OK, STELE_ERR_NOMEM or
 * STELE_ERR_CRYPTO. */
int identity_issue(const struct crypto_key *ca, const uint8_t cert[ECQV_CERT_LEN], const char *id,
                   const char *org, const char *role, const struct identity_attr *attrs,
                   size_t n_attrs, uint64_t issued_at, struct buf *out);

/* One revoked certificate, for crl_issue(). */
struct identity_revoked {
    uint8_t certhash[32]; /* SHA-256(CertU) */
    uint64_t serial;      /* CertU serial */
    const char *id;       /* textual id */
    uint64_t revoked_at;  /* Unix seconds */
    const char *reason;   /* free text */
};

/* CA: builds and signs a CRL and appends the serialized Crl to `out`. */
int crl_issue(const struct crypto_key *ca, uint64_t issuer_id, uint64_t number,
              uint64_t this_update, uint64_t next_update, const struct identity_revoked *entries,
              size_t n, struct buf *out);

/* ---- signed requests --------------------------------------------------------------------- */

/* Client: builds an AdminRequest for `method` ("/stele.CA/Register") carrying `body` (a
 * serialized method message), signed by `key` on behalf of the serialized Identity `signer`, at
 * `now_ms` with a fresh random nonce. Appends the request bytes to `request` and writes the
 * signature. Returns STELE_OK, STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int signed_request_create(const struct crypto_key *key, const uint8_t *signer, size_t signer_len,
                          const char *method, const uint8_t *body, size_t body_len, uint64_t now_ms,
                          struct buf *request, uint8_t sig[CRYPTO_SIG_LEN]);

/* What a verified request says. Pointers are into the arena given to the verifier. */
struct signed_request {
    struct identity signer;            /* verified signer */
    uint64_t timestamp_ms;             /* as sent */
    uint8_t nonce[IDENTITY_NONCE_LEN]; /* as sent, for the server's replay store */
    const uint8_t *body;               /* method-specific bytes */
    size_t body_len;                   /* their length */
};

/* Server: checks a SignedRequest's parts (untrusted): decodes the AdminRequest, verifies the
 * signer's identity against the MSP at now_ms (an identity expired for less than
 * `expiry_grace_s` passes when that is not 0), verifies the signature with the signer's ECQV key,
 * and checks that `method` is the one called, |timestamp - now| <= IDENTITY_REQ_WINDOW_MS and the
 * nonce is 16 octets. Nonce reuse is the caller's to check. Returns STELE_OK with *out filled,
 * STELE_ERR_MALFORMED, STELE_ERR_AUTH, STELE_ERR_EXPIRED (signer or stale timestamp),
 * STELE_ERR_REVOKED or STELE_ERR_PERMISSION (wrong method), with *errmsg a malloc'd reason. */
int signed_request_verify(struct msp *m, struct arena *a, const uint8_t *request,
                          size_t request_len, const uint8_t *sig, size_t sig_len,
                          const char *method, uint64_t now_ms, uint64_t expiry_grace_s,
                          struct signed_request *out, char **errmsg);

#endif
