/* issue.c — what the CA signs: identity records and CRLs. */
#include "identity/identity.h"

#include "base/status.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <stdlib.h>

/* Signs the serialized `body` under `domain` and appends {body, signature} packed as the
 * two-bytes-field message `outer` (Identity or Crl share that shape). */
static int sign_and_wrap(const struct crypto_key *ca, const char *domain, const struct buf *body,
                         bool crl, struct buf *out)
{
    uint8_t sig[CRYPTO_SIG_LEN];
    int rc = identity_sign_domain(ca, domain, body->data, body->len, sig);
    if (rc != STELE_OK)
        return rc;
    if (crl) {
        Stele__Crl c = STELE__CRL__INIT;
        c.body.data = body->data;
        c.body.len = body->len;
        c.signature.data = sig;
        c.signature.len = sizeof sig;
        return pb_pack_buf(&c.base, out);
    }
    Stele__Identity r = STELE__IDENTITY__INIT;
    r.body.data = body->data;
    r.body.len = body->len;
    r.ca_signature.data = sig;
    r.ca_signature.len = sizeof sig;
    return pb_pack_buf(&r.base, out);
}

int identity_issue(const struct crypto_key *ca, const uint8_t cert[ECQV_CERT_LEN], const char *id,
                   const char *org, const char *role, const struct identity_attr *attrs,
                   size_t n_attrs, uint64_t issued_at, struct buf *out)
{
    Stele__IdentityBody b = STELE__IDENTITY_BODY__INIT;
    Stele__Attribute *av = NULL, **ap = NULL;
    struct buf body = {0};
    int rc = STELE_ERR_NOMEM;
    if (n_attrs) {
        av = calloc(n_attrs, sizeof *av);
        ap = calloc(n_attrs, sizeof *ap);
        if (!av || !ap)
            goto out;
        for (size_t i = 0; i < n_attrs; i++) {
            stele__attribute__init(&av[i]);
            av[i].key = (char *)attrs[i].key;
            av[i].value = (char *)attrs[i].value;
            ap[i] = &av[i];
        }
    }
    b.cert.data = (uint8_t *)cert;
    b.cert.len = ECQV_CERT_LEN;
    b.id = (char *)id;
    b.org = (char *)org;
    b.role = (char *)role;
    b.n_attributes = n_attrs;
    b.attributes = ap;
    b.issued_at = issued_at;
    rc = pb_pack_buf(&b.base, &body);
    if (rc == STELE_OK)
        rc = sign_and_wrap(ca, IDENTITY_DOMAIN_RECORD, &body, false, out);
out:
    free(av);
    free(ap);
    buf_release(&body);
    return rc;
}

int crl_issue(const struct crypto_key *ca, uint64_t issuer_id, uint64_t number,
              uint64_t this_update, uint64_t next_update, const struct identity_revoked *entries,
              size_t n, struct buf *out)
{
    Stele__CrlBody b = STELE__CRL_BODY__INIT;
    Stele__RevokedEntry *ev = NULL, **ep = NULL;
    struct buf body = {0};
    int rc = STELE_ERR_NOMEM;
    if (n) {
        ev = calloc(n, sizeof *ev);
        ep = calloc(n, sizeof *ep);
        if (!ev || !ep)
            goto out;
        for (size_t i = 0; i < n; i++) {
            stele__revoked_entry__init(&ev[i]);
            ev[i].certhash.data = (uint8_t *)entries[i].certhash;
            ev[i].certhash.len = 32;
            ev[i].serial = entries[i].serial;
            ev[i].id = (char *)entries[i].id;
            ev[i].revoked_at = entries[i].revoked_at;
            ev[i].reason = (char *)entries[i].reason;
            ep[i] = &ev[i];
        }
    }
    b.issuer_id = issuer_id;
    b.number = number;
    b.this_update = this_update;
    b.next_update = next_update;
    b.n_entries = n;
    b.entries = ep;
    rc = pb_pack_buf(&b.base, &body);
    if (rc == STELE_OK)
        rc = sign_and_wrap(ca, IDENTITY_DOMAIN_CRL, &body, true, out);
out:
    free(ev);
    free(ep);
    buf_release(&body);
    return rc;
}
