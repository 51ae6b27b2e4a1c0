/*
 * auth_trustlist.c — the interim membership check of auth.h: creators are compressed public
 * keys listed in the configuration.
 *
 * NEEDSWORK: replace with lib/identity (identity records, CA keys, CRL, roles) once merged.
 */
#include "auth.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct member {
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN]; /* the creator bytes that name this member */
    struct crypto_key *key;                   /* its public key */
};

struct orderer_auth {
    struct member *members; /* trusted keys, in configuration order */
    size_t n;               /* entries in members */
};

void orderer_auth_destroy(struct orderer_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        crypto_key_destroy(a->members[i].key);
    free(a->members);
    free(a);
}

int orderer_auth_create(const struct orderer_auth_config *cfg, struct orderer_auth **out,
                        char **errmsg)
{
    struct orderer_auth *a = calloc(1, sizeof *a);
    int rc = STELE_ERR_NOMEM;
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (!a ||
        (cfg->n_trusted_keys && !(a->members = calloc(cfg->n_trusted_keys, sizeof *a->members))))
        goto err;
    for (size_t i = 0; i < cfg->n_trusted_keys; i++) {
        struct buf raw;
        buf_init(&raw);
        struct member *m = &a->members[a->n];
        rc = buf_append_unhex(&raw, cfg->trusted_keys[i]);
        if (rc == STELE_OK)
            rc = crypto_key_from_public(raw.data, raw.len, &m->key);
        buf_release(&raw);
        if (rc != STELE_OK) {
            if (errmsg && asprintf(errmsg,
                                   "membership.trusted_keys[%zu]: not a hex SEC 1 P-256 public "
                                   "key",
                                   i) < 0)
                *errmsg = NULL;
            rc = STELE_ERR_CONFIG;
            goto err;
        }
        crypto_key_public_compressed(m->key, m->pub);
        a->n++;
    }
    *out = a;
    return STELE_OK;
err:
    orderer_auth_destroy(a);
    return rc;
}

int orderer_auth_check(struct orderer_auth *a, enum orderer_auth_action action,
                       const uint8_t *creator, size_t creator_len, const uint8_t *msg,
                       size_t msg_len, const uint8_t *sig, size_t sig_len, const char **why)
{
    (void)action; /* every member may broadcast and deliver */
    const char *dummy;
    if (!why)
        why = &dummy;
    if (creator_len != CRYPTO_POINT_COMPRESSED_LEN) {
        *why = "creator is not a compressed public key";
        return STELE_ERR_MALFORMED;
    }
    /* NEEDSWORK: linear scan; fine for the handful of members of a trust list. */
    for (size_t i = 0; i < a->n; i++) {
        if (memcmp(a->members[i].pub, creator, creator_len) != 0)
            continue;
        int rc = crypto_verify(a->members[i].key, msg, msg_len, sig, sig_len);
        if (rc == STELE_OK)
            return STELE_OK;
        *why = "creator signature does not verify over the payload";
        return rc == STELE_ERR_MALFORMED ? STELE_ERR_AUTH : rc;
    }
    *why = "creator is not a member of this network";
    return STELE_ERR_PERMISSION;
}

int orderer_auth_self_creator(const struct crypto_key *key, const uint8_t *identity,
                              size_t identity_len, uint8_t **out, size_t *out_len)
{
    size_t n = identity_len ? identity_len : CRYPTO_POINT_COMPRESSED_LEN;
    uint8_t *p = malloc(n);
    if (!p)
        return STELE_ERR_NOMEM;
    if (identity_len)
        memcpy(p, identity, identity_len);
    else
        crypto_key_public_compressed(key, p);
    *out = p;
    *out_len = n;
    return STELE_OK;
}
