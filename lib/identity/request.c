/* request.c — signed requests: AdminRequest inside SignedRequest (client create, server verify). */
#include "identity/identity.h"

#include "base/arena.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <stdlib.h>
#include <string.h>

int signed_request_create(const struct crypto_key *key, const uint8_t *signer, size_t signer_len,
                          const char *method, const uint8_t *body, size_t body_len, uint64_t now_ms,
                          struct buf *request, uint8_t sig[CRYPTO_SIG_LEN])
{
    uint8_t nonce[IDENTITY_NONCE_LEN];
    int rc = crypto_random(nonce, sizeof nonce);
    if (rc != STELE_OK)
        return rc;
    Stele__AdminRequest r = STELE__ADMIN_REQUEST__INIT;
    r.signer.data = (uint8_t *)signer;
    r.signer.len = signer_len;
    r.method = (char *)method;
    r.timestamp_ms = now_ms;
    r.nonce.data = nonce;
    r.nonce.len = sizeof nonce;
    r.body.data = (uint8_t *)body;
    r.body.len = body_len;
    size_t start = request->len;
    rc = pb_pack_buf(&r.base, request);
    if (rc != STELE_OK)
        return rc;
    return identity_sign_domain(key, IDENTITY_DOMAIN_REQUEST, request->data + start,
                                request->len - start, sig);
}

int signed_request_verify(struct msp *m, struct arena *a, const uint8_t *request,
                          size_t request_len, const uint8_t *sig, size_t sig_len,
                          const char *method, uint64_t now_ms, uint64_t expiry_grace_s,
                          struct signed_request *out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    memset(out, 0, sizeof *out);
    Stele__AdminRequest *r = (Stele__AdminRequest *)pb_unpack(
        &stele__admin_request__descriptor, a, request, request_len, IDENTITY_REQ_MAX_LEN);
    if (!r)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "signed request does not decode");
    if (r->signer.len == 0)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "signed request has no signer");
    int rc = identity_verify_grace(m, a, r->signer.data, r->signer.len, now_ms / 1000,
                                   expiry_grace_s, &out->signer, errmsg);
    if (rc != STELE_OK)
        return rc;
    struct crypto_key *q = NULL;
    rc = identity_public_key(m, &out->signer, &q);
    if (rc != STELE_OK)
        return stele_errf(errmsg, rc, "cannot extract the signer's key");
    if (!(out->signer.fields.key_usage & ECQV_USAGE_SIGN))
        rc = stele_errf(errmsg, STELE_ERR_PERMISSION, "signer's key is not for signing");
    else
        rc = identity_verify_domain(q, IDENTITY_DOMAIN_REQUEST, request, request_len, sig, sig_len);
    crypto_key_destroy(q);
    if (rc == STELE_ERR_MALFORMED || rc == STELE_ERR_AUTH)
        return stele_errf(errmsg, STELE_ERR_AUTH, "bad signature by \"%s\"", out->signer.id);
    if (rc != STELE_OK)
        return rc;
    if (!r->method || strcmp(r->method, method) != 0)
        return stele_errf(errmsg, STELE_ERR_PERMISSION, "request was signed for \"%s\", not \"%s\"",
                          r->method ? r->method : "", method);
    uint64_t skew = r->timestamp_ms > now_ms ? r->timestamp_ms - now_ms : now_ms - r->timestamp_ms;
    if (skew > IDENTITY_REQ_WINDOW_MS)
        return stele_errf(errmsg, STELE_ERR_EXPIRED,
                          "request timestamp is %llu s away from the server's clock "
                          "(at most %llu s accepted)",
                          (unsigned long long)(skew / 1000),
                          (unsigned long long)(IDENTITY_REQ_WINDOW_MS / 1000));
    if (r->nonce.len != IDENTITY_NONCE_LEN)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "request nonce must be %d octets",
                          IDENTITY_NONCE_LEN);
    memcpy(out->nonce, r->nonce.data, IDENTITY_NONCE_LEN);
    out->timestamp_ms = r->timestamp_ms;
    out->body = r->body.data;
    out->body_len = r->body.len;
    return STELE_OK;
}
