/* identity.c — identity records: decode, verify against an MSP, predicates, signatures. */
#include "identity/identity.h"

#include "base/arena.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/sigcache.h"
#include "identity/msp_int.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes the IdentityBody bytes into `out`: CertU well formed, id present and matching the
 * subject id. */
static int decode_body(struct arena *a, const uint8_t *data, size_t len, struct identity *out,
                       char **errmsg)
{
    Stele__IdentityBody *b = (Stele__IdentityBody *)pb_unpack(&stele__identity_body__descriptor, a,
                                                              data, len, IDENTITY_MAX_LEN);
    if (!b)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "identity body does not decode");
    int rc = ecqv_cert_decode(b->cert.data, b->cert.len, &out->fields);
    if (stele_no_verdict(rc))
        return rc;
    if (rc != STELE_OK)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "identity certificate is not a valid 78-octet CertU");
    if (!b->id || !b->id[0])
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "identity has no id");
    uint8_t h[32];
    if (crypto_sha256(b->id, strlen(b->id), h) != STELE_OK)
        return STELE_ERR_CRYPTO;
    if (memcmp(h, out->fields.subject_id, ECQV_SUBJECT_ID_LEN) != 0)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "certificate subject does not match id \"%s\"", b->id);
    memcpy(out->cert, b->cert.data, ECQV_CERT_LEN);
    if (ecqv_certhash(out->cert, ECQV_CERT_LEN, out->certhash) != STELE_OK)
        return STELE_ERR_CRYPTO;
    out->id = b->id;
    out->org = b->org ? b->org : "";
    out->role = b->role ? b->role : "";
    out->issued_at = b->issued_at;
    out->n_attrs = b->n_attributes;
    out->attrs = NULL;
    if (b->n_attributes) {
        out->attrs = arena_calloc(a, b->n_attributes, sizeof *out->attrs);
        if (!out->attrs)
            return STELE_ERR_NOMEM;
        for (size_t i = 0; i < b->n_attributes; i++) {
            out->attrs[i].key = b->attributes[i]->key ? b->attributes[i]->key : "";
            out->attrs[i].value = b->attributes[i]->value ? b->attributes[i]->value : "";
        }
    }
    return STELE_OK;
}

static Stele__Identity *unpack_record(struct arena *a, const uint8_t *data, size_t len,
                                      char **errmsg)
{
    if (len > IDENTITY_MAX_LEN) {
        stele_errf(errmsg, STELE_ERR_MALFORMED, "identity record too large (%zu octets)", len);
        return NULL;
    }
    Stele__Identity *r =
        (Stele__Identity *)pb_unpack(&stele__identity__descriptor, a, data, len, IDENTITY_MAX_LEN);
    if (!r) {
        stele_errf(errmsg, STELE_ERR_MALFORMED, "identity record does not decode");
        return NULL;
    }
    /* Only the one encoding the CA writes: a record padded with unknown or repeated fields
     * would be the same identity under other octets, and octets are what signatures and
     * tx_ids cover around it (a client could move octets into it, lib/ledger/tx.h). */
    uint8_t *again = arena_alloc(a, len ? len : 1);
    if (!again) {
        stele_errf(errmsg, STELE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (r->base.n_unknown_fields || protobuf_c_message_get_packed_size(&r->base) != len ||
        protobuf_c_message_pack(&r->base, again) != len || memcmp(again, data, len) != 0) {
        stele_errf(errmsg, STELE_ERR_MALFORMED,
                   "identity record is not in the encoding its CA writes (extra or repeated "
                   "fields)");
        return NULL;
    }
    return r;
}

int identity_decode(struct arena *a, const uint8_t *data, size_t len, struct identity *out,
                    char **errmsg)
{
    memset(out, 0, sizeof *out);
    Stele__Identity *r = unpack_record(a, data, len, errmsg);
    if (!r)
        return STELE_ERR_MALFORMED;
    return decode_body(a, r->body.data, r->body.len, out, errmsg);
}

uint64_t identity_valid_until(const struct ecqv_cert *c)
{
    return c->valid_from + c->valid_duration;
}

/* The checks of a record, verified now or before, that depend on the time and the CRL. */
static int check_now(struct msp *m, const struct identity *id, uint64_t now_s, uint64_t grace_s,
                     char **errmsg)
{
    uint64_t until = identity_valid_until(&id->fields);
    if (now_s < id->fields.valid_from)
        return stele_errf(errmsg, STELE_ERR_EXPIRED, "identity \"%s\" is not valid before %llu",
                          id->id, (unsigned long long)id->fields.valid_from);
    if (now_s >= until && now_s - until >= grace_s)
        return stele_errf(errmsg, STELE_ERR_EXPIRED, "identity \"%s\" expired at %llu", id->id,
                          (unsigned long long)until);
    if (msp_is_revoked(m, id->ca_key, id->certhash))
        return stele_errf(errmsg, STELE_ERR_REVOKED, "identity \"%s\" (serial %llu) is revoked",
                          id->id, (unsigned long long)id->fields.serial);
    return STELE_OK;
}

int identity_verify_grace(struct msp *m, struct arena *a, const uint8_t *data, size_t len,
                          uint64_t now_s, uint64_t grace_s, struct identity *out, char **errmsg)
{
    memset(out, 0, sizeof *out);
    /* A record whose exact bytes this MSP verified before needs only the checks that depend
     * on `now_s` and the CRL (reccache.h). */
    uint8_t rhash[32];
    if (len > IDENTITY_MAX_LEN)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "identity record too large (%zu octets)",
                          len);
    if (crypto_sha256(data, len, rhash) != STELE_OK)
        return STELE_ERR_CRYPTO;
    int rc = reccache_get(m->records, rhash, a, out);
    if (rc == STELE_OK)
        return check_now(m, out, now_s, grace_s, errmsg);
    if (rc != STELE_ERR_NOT_FOUND)
        return rc;
    Stele__Identity *r = unpack_record(a, data, len, errmsg);
    if (!r)
        return STELE_ERR_MALFORMED;
    bool decoded = false, signed_by_trusted = false;
    const struct msp_ca *issuer = NULL;
    for (size_t i = 0; i < m->n_cas && !issuer; i++) {
        const struct msp_ca *ca = &m->cas[i];
        int vr = identity_verify_domain(ca->key, IDENTITY_DOMAIN_RECORD, r->body.data, r->body.len,
                                        r->ca_signature.data, r->ca_signature.len);
        if (stele_no_verdict(vr))
            return vr;
        if (vr != STELE_OK)
            continue;
        signed_by_trusted = true;
        if (!decoded) {
            rc = decode_body(a, r->body.data, r->body.len, out, errmsg);
            if (rc != STELE_OK)
                return rc;
            decoded = true;
        }
        if (ca->org && strcmp(ca->org, out->org) != 0)
            continue;
        if (ca->ca_id && ca->ca_id != out->fields.issuer_id)
            continue;
        issuer = ca;
    }
    if (!issuer) {
        if (signed_by_trusted)
            return stele_errf(errmsg, STELE_ERR_AUTH,
                              "identity \"%s\" of org \"%s\" (issuer %llu) is signed by a CA "
                              "not trusted for that org or issuer id",
                              out->id, out->org, (unsigned long long)out->fields.issuer_id);
        return stele_errf(errmsg, STELE_ERR_AUTH, "identity record is not signed by a trusted CA");
    }
    out->ca_key = issuer->key;
    reccache_put(m->records, rhash, out);
    return check_now(m, out, now_s, grace_s, errmsg);
}

int identity_verify(struct msp *m, struct arena *a, const uint8_t *data, size_t len, uint64_t now_s,
                    struct identity *out, char **errmsg)
{
    return identity_verify_grace(m, a, data, len, now_s, 0, out, errmsg);
}

int identity_public_key(struct msp *m, const struct identity *id, struct crypto_key **out)
{
    if (!id->ca_key)
        return STELE_ERR_INVALID;
    return keycache_extract(m->cache, id->cert, ECQV_CERT_LEN, id->ca_key, out);
}

int identity_verify_signature(struct msp *m, const struct identity *id, const void *msg, size_t len,
                              const uint8_t *sig, size_t sig_len)
{
    if (!(id->fields.key_usage & ECQV_USAGE_SIGN))
        return STELE_ERR_PERMISSION;
    struct crypto_key *q = NULL;
    int rc = identity_public_key(m, id, &q);
    if (rc == STELE_OK) /* a peer's gateway checks an envelope its validation checks again */
        rc = sigcache_verify(msp_sigcache(m), q, msg, len, sig, sig_len);
    crypto_key_destroy(q);
    return rc;
}

bool identity_has_role(const struct identity *id, const char *role)
{
    return id->role && role && strcmp(id->role, role) == 0;
}

const char *identity_attr(const struct identity *id, const char *key)
{
    for (size_t i = 0; i < id->n_attrs; i++)
        if (strcmp(id->attrs[i].key, key) == 0)
            return id->attrs[i].value;
    return NULL;
}

/* Appends "domain\0" || data to a fresh buffer. */
static int domain_message(const char *domain, const uint8_t *data, size_t len, struct buf *b)
{
    buf_init(b);
    int rc = buf_append(b, domain, strlen(domain) + 1);
    if (rc == STELE_OK && len)
        rc = buf_append(b, data, len);
    return rc;
}

int identity_sign_domain(const struct crypto_key *key, const char *domain, const uint8_t *data,
                         size_t len, uint8_t sig[CRYPTO_SIG_LEN])
{
    struct buf b;
    int rc = domain_message(domain, data, len, &b);
    if (rc == STELE_OK)
        rc = crypto_sign(key, b.data, b.len, sig);
    buf_release(&b);
    return rc;
}

int identity_verify_domain(const struct crypto_key *key, const char *domain, const uint8_t *data,
                           size_t len, const uint8_t *sig, size_t sig_len)
{
    struct buf b;
    int rc = domain_message(domain, data, len, &b);
    if (rc == STELE_OK)
        rc = crypto_verify(key, b.data, b.len, sig, sig_len);
    buf_release(&b);
    return rc;
}
