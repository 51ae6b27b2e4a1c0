/* msp.c — the trust store: CA keys per organisation and their CRLs. */
#include "identity/identity.h"

#include "base/arena.h"
#include "base/status.h"
#include "identity/msp_int.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <stdlib.h>
#include <string.h>

struct msp *msp_create(size_t cache_capacity)
{
    struct msp *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cache = keycache_create(cache_capacity ? cache_capacity : 1024);
    m->records = reccache_create(cache_capacity ? cache_capacity : 1024);
    if (!m->cache || !m->records) {
        keycache_destroy(m->cache);
        reccache_destroy(m->records);
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

int msp_enable_sigcache(struct msp *m, size_t capacity)
{
    if (m->sigs || capacity == 0 || capacity > (1u << 24))
        return STELE_ERR_INVALID;
    m->sigs = sigcache_create(capacity);
    return m->sigs ? STELE_OK : STELE_ERR_NOMEM;
}

int msp_share_sigcache(struct msp *m, const struct msp *from)
{
    if (m->sigs || !from->sigs)
        return STELE_ERR_INVALID;
    m->sigs = from->sigs;
    m->sigs_borrowed = true;
    return STELE_OK;
}

struct sigcache *msp_sigcache(const struct msp *m)
{
    return m ? m->sigs : NULL;
}

void msp_destroy(struct msp *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_cas; i++) {
        free(m->cas[i].org);
        crypto_key_destroy(m->cas[i].key);
    }
    for (size_t i = 0; i < m->n_crls; i++) {
        crypto_key_destroy(m->crls[i].key);
        free(m->crls[i].hashes);
    }
    free(m->cas);
    free(m->crls);
    keycache_destroy(m->cache);
    reccache_destroy(m->records);
    if (!m->sigs_borrowed)
        sigcache_destroy(m->sigs);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int msp_add_ca(struct msp *m, const char *org, uint64_t ca_id, const struct crypto_key *ca_pub)
{
    struct msp_ca *cas = realloc(m->cas, (m->n_cas + 1) * sizeof *cas);
    if (!cas)
        return STELE_ERR_NOMEM;
    m->cas = cas;
    struct msp_ca *ca = &cas[m->n_cas];
    ca->org = NULL;
    if (org && !(ca->org = strdup(org)))
        return STELE_ERR_NOMEM;
    ca->ca_id = ca_id;
    ca->key = crypto_key_ref((struct crypto_key *)ca_pub);
    m->n_cas++;
    return STELE_OK;
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Finds the CRL slot of `key` (lock held); NULL when none. */
static struct msp_crl *find_crl(struct msp *m, const struct crypto_key *key)
{
    for (size_t i = 0; i < m->n_crls; i++)
        if (crypto_key_public_equal(m->crls[i].key, key))
            return &m->crls[i];
    return NULL;
}

/* Installs a verified CRL body for `ca`. */
static int install_crl(struct msp *m, const struct msp_ca *ca, const Stele__CrlBody *b,
                       char **errmsg)
{
    uint8_t(*hashes)[32] = NULL;
    size_t n = 0;
    if (b->n_entries) {
        hashes = calloc(b->n_entries, 32);
        if (!hashes)
            return STELE_ERR_NOMEM;
    }
    for (size_t i = 0; i < b->n_entries; i++) {
        if (b->entries[i]->certhash.len != 32) {
            free(hashes);
            return stele_errf(errmsg, STELE_ERR_MALFORMED, "CRL entry %zu: bad certhash", i);
        }
        memcpy(hashes[n++], b->entries[i]->certhash.data, 32);
    }
    if (n)
        qsort(hashes, n, 32, cmp_hash);
    pthread_mutex_lock(&m->lock);
    struct msp_crl *slot = find_crl(m, ca->key);
    int rc = STELE_OK;
    if (slot && slot->number > b->number) {
        rc = stele_errf(errmsg, STELE_ERR_STATE, "CRL number %llu is older than installed %llu",
                        (unsigned long long)b->number, (unsigned long long)slot->number);
    } else if (!slot) {
        struct msp_crl *crls = realloc(m->crls, (m->n_crls + 1) * sizeof *crls);
        if (!crls) {
            rc = STELE_ERR_NOMEM;
        } else {
            m->crls = crls;
            slot = &crls[m->n_crls++];
            slot->key = crypto_key_ref(ca->key);
            slot->hashes = NULL;
        }
    }
    if (rc == STELE_OK) {
        free(slot->hashes);
        slot->hashes = hashes;
        slot->n = n;
        slot->number = b->number;
        hashes = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(hashes);
    return rc;
}

int msp_set_crl(struct msp *m, const uint8_t *crl, size_t len, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    struct arena *a = arena_create(0);
    if (!a)
        return STELE_ERR_NOMEM;
    int rc;
    Stele__Crl *c =
        (Stele__Crl *)pb_unpack(&stele__crl__descriptor, a, crl, len, IDENTITY_CRL_MAX_LEN);
    if (!c) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "CRL does not decode");
        goto out;
    }
    rc = stele_errf(errmsg, STELE_ERR_AUTH, "CRL is not signed by a trusted CA");
    for (size_t i = 0; i < m->n_cas; i++) {
        const struct msp_ca *ca = &m->cas[i];
        if (identity_verify_domain(ca->key, IDENTITY_DOMAIN_CRL, c->body.data, c->body.len,
                                   c->signature.data, c->signature.len) != STELE_OK)
            continue;
        Stele__CrlBody *b = (Stele__CrlBody *)pb_unpack(&stele__crl_body__descriptor, a,
                                                        c->body.data, c->body.len, 0);
        if (errmsg) {
            free(*errmsg);
            *errmsg = NULL;
        }
        if (!b) {
            rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "CRL body does not decode");
            goto out;
        }
        if (ca->ca_id && ca->ca_id != b->issuer_id)
            continue;
        rc = install_crl(m, ca, b, errmsg);
        goto out;
    }
out:
    arena_destroy(a);
    return rc;
}

bool msp_is_revoked(struct msp *m, const struct crypto_key *ca_key, const uint8_t certhash[32])
{
    bool found = false;
    pthread_mutex_lock(&m->lock);
    struct msp_crl *slot = find_crl(m, ca_key);
    if (slot && slot->n)
        found = bsearch(certhash, slot->hashes, slot->n, 32, cmp_hash) != NULL;
    pthread_mutex_unlock(&m->lock);
    return found;
}
