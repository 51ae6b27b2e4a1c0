/* own_genesis.c — the single orderer's channel configuration (own_genesis.h). */
#include "own_genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds the compressed `key` to organisation `org` of `c` (created if absent; room for
 * `max_orgs` was allocated), unless it is already there. */
static int add_org_key(struct arena *a, Stele__ChannelConfig *c, size_t max_orgs, const char *org,
                       const struct crypto_key *key)
{
    Stele__OrganisationConfig *o = NULL;
    for (size_t i = 0; i < c->n_organisations && !o; i++)
        if (strcmp(c->organisations[i]->name, org) == 0)
            o = c->organisations[i];
    if (!o) {
        if (c->n_organisations == max_orgs)
            return STELE_ERR_INVALID;
        if (!(o = arena_alloc(a, sizeof *o)))
            return STELE_ERR_NOMEM;
        stele__organisation_config__init(o);
        o->name = arena_strdup(a, org);
        o->ca_public_keys = arena_calloc(a, GENESIS_MAX_CA_KEYS, sizeof *o->ca_public_keys);
        if (!o->name || !o->ca_public_keys)
            return STELE_ERR_NOMEM;
        c->organisations[c->n_organisations++] = o;
    }
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    crypto_key_public_compressed(key, pub);
    for (size_t k = 0; k < o->n_ca_public_keys; k++)
        if (memcmp(o->ca_public_keys[k].data, pub, sizeof pub) == 0)
            return STELE_OK;
    if (o->n_ca_public_keys == GENESIS_MAX_CA_KEYS)
        return STELE_ERR_INVALID;
    uint8_t *copy = arena_memdup(a, pub, sizeof pub);
    if (!copy)
        return STELE_ERR_NOMEM;
    o->ca_public_keys[o->n_ca_public_keys++] = (ProtobufCBinaryData){sizeof pub, copy};
    return STELE_OK;
}

/* The organisations of `membership.cas` entries that name one. */
static int add_membership_orgs(struct arena *a, Stele__ChannelConfig *c, size_t max_orgs,
                               const struct orderer_auth_config *m, char **errmsg)
{
    struct buf b;
    int rc = STELE_OK;
    buf_init(&b);
    for (size_t i = 0; rc == STELE_OK && i < m->n_cas; i++) {
        struct crypto_key *k = NULL;
        if (!m->cas[i].org)
            continue;
        buf_clear(&b);
        if (enrolment_read_file(m->cas[i].public_key, 1024, &b) != STELE_OK ||
            crypto_key_from_public(b.data, b.len, &k) != STELE_OK) {
            if (errmsg && asprintf(errmsg,
                                   "membership.cas[%zu]: %s is not a readable SEC 1 "
                                   "P-256 public key",
                                   i, m->cas[i].public_key) < 0)
                *errmsg = NULL;
            rc = STELE_ERR_CONFIG;
            break;
        }
        rc = add_org_key(a, c, max_orgs, m->cas[i].org, k);
        crypto_key_destroy(k);
    }
    buf_release(&b);
    return rc;
}

int own_genesis_config(struct arena *a, const struct orderer_config *cfg,
                       const struct enrolment *self, Stele__ChannelConfig **out, char **errmsg)
{
    struct identity id;
    *out = NULL;
    if (identity_decode(a, self->identity.data, self->identity.len, &id, NULL) != STELE_OK) {
        if (errmsg &&
            asprintf(errmsg, "%s/identity is not an identity record", cfg->identity_dir) < 0)
            *errmsg = NULL;
        return STELE_ERR_CONFIG;
    }
    size_t max_orgs = 1 + cfg->membership.n_cas;
    Stele__ChannelConfig *c = arena_calloc(a, 1, sizeof *c);
    Stele__BatchParameters *b = arena_calloc(a, 1, sizeof *b);
    Stele__OrdererNodeConfig *me = arena_calloc(a, 1, sizeof *me);
    uint8_t *pub = arena_alloc(a, CRYPTO_POINT_COMPRESSED_LEN);
    if (!c || !b || !me || !pub)
        return STELE_ERR_NOMEM;
    stele__channel_config__init(c);
    stele__batch_parameters__init(b);
    stele__orderer_node_config__init(me);
    c->channel_id = cfg->channel_id;
    c->consensus_type = cfg->consensus.type;
    b->max_message_count = (uint32_t)cfg->batch.max_message_count;
    b->batch_timeout_ms = cfg->batch.batch_timeout_ms;
    b->preferred_max_bytes = cfg->batch.preferred_max_bytes;
    b->absolute_max_bytes = cfg->batch.absolute_max_bytes;
    c->batch = b;
    c->lifecycle_policy = GENESIS_DEFAULT_LIFECYCLE_POLICY;
    c->lifecycle_version = 1;
    c->endorsement_version = TX_ENDORSEMENT_VERSION;
    if (!(c->organisations = arena_calloc(a, max_orgs, sizeof *c->organisations)) ||
        !(c->orderers = arena_calloc(a, 1, sizeof *c->orderers)))
        return STELE_ERR_NOMEM;
    int rc = add_org_key(a, c, max_orgs, id.org, self->ca_pub);
    if (rc == STELE_OK)
        rc = add_membership_orgs(a, c, max_orgs, &cfg->membership, errmsg);
    if (rc)
        return rc;
    crypto_key_public_compressed(self->key, pub);
    me->node_id = cfg->node_id;
    me->organisation = (char *)id.org;
    me->public_key = (ProtobufCBinaryData){CRYPTO_POINT_COMPRESSED_LEN, pub};
    me->identity = (ProtobufCBinaryData){self->identity.len, self->identity.data};
    me->address = cfg->listen;
    c->orderers[0] = me;
    c->n_orderers = 1;
    *out = c;
    return STELE_OK;
}
