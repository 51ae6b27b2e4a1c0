/* netgenesis.c — the network's genesis block from its description (netgenesis.h). */
#include "netgenesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/enrolment.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What building needs: the arena everything lives in, and the loaded enrolments. */
struct build {
    struct arena *a;            /* the configuration */
    const char *dir;            /* the network directory */
    struct enrolment *orderers; /* DIR/ids/<orderer>, one per nc->orderers */
    size_t n_loaded;            /* entries of orderers loaded so far */
};

static int load_enrolment(const char *dir, const char *id, struct enrolment *out, char **errmsg)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ids/%s", dir, id);
    return enrolment_load(path, out, errmsg);
}

static int add_orgs(struct build *b, const struct netconfig *nc, const uint8_t ca_pub[33],
                    Stele__ChannelConfig *c)
{
    uint8_t *key = arena_memdup(b->a, ca_pub, 33);
    if (!key || !(c->organisations = arena_calloc(b->a, nc->n_orgs, sizeof *c->organisations)))
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < nc->n_orgs; i++) {
        Stele__OrganisationConfig *o = arena_alloc(b->a, sizeof *o);
        ProtobufCBinaryData *keys = arena_alloc(b->a, sizeof *keys);
        char **admins = arena_alloc(b->a, sizeof *admins);
        if (!o || !keys || !admins)
            return STELE_ERR_NOMEM;
        stele__organisation_config__init(o);
        o->name = nc->orgs[i].name;
        keys[0] = (ProtobufCBinaryData){33, key};
        o->ca_public_keys = keys;
        o->n_ca_public_keys = 1;
        admins[0] = nc->orgs[i].admin;
        o->admins = admins;
        o->n_admins = nc->orgs[i].admin ? 1 : 0;
        c->organisations[i] = o;
    }
    c->n_organisations = nc->n_orgs;
    return STELE_OK;
}

static int add_orderers(struct build *b, const struct netconfig *nc, Stele__ChannelConfig *c,
                        char **errmsg)
{
    if (!(c->orderers = arena_calloc(b->a, nc->n_orderers, sizeof *c->orderers)) ||
        !(b->orderers = calloc(nc->n_orderers, sizeof *b->orderers)))
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < nc->n_orderers; i++) {
        const struct netconfig_orderer *no = &nc->orderers[i];
        struct enrolment *e = &b->orderers[i];
        int rc = load_enrolment(b->dir, no->id, e, errmsg);
        if (rc)
            return rc;
        b->n_loaded++;
        Stele__OrdererNodeConfig *o = arena_alloc(b->a, sizeof *o);
        uint8_t *pub = arena_alloc(b->a, CRYPTO_POINT_COMPRESSED_LEN);
        uint8_t *rec = arena_memdup(b->a, e->identity.data, e->identity.len);
        if (!o || !pub || !rec)
            return STELE_ERR_NOMEM;
        stele__orderer_node_config__init(o);
        crypto_key_public_compressed(e->key, pub);
        o->node_id = no->id;
        o->organisation = netconfig_identity(nc, no->id)->org;
        o->public_key = (ProtobufCBinaryData){CRYPTO_POINT_COMPRESSED_LEN, pub};
        o->identity = (ProtobufCBinaryData){e->identity.len, rec};
        o->address = no->listen;
        c->orderers[i] = o;
    }
    c->n_orderers = nc->n_orderers;
    return STELE_OK;
}

static int add_chaincodes(struct build *b, const struct netconfig *nc, Stele__ChannelConfig *c)
{
    size_t n = nc->channel.n_chaincodes;
    if (n && !(c->chaincodes = arena_calloc(b->a, n, sizeof *c->chaincodes)))
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct netconfig_chaincode *d = &nc->channel.chaincodes[i];
        Stele__ChaincodeDefinition *cd = arena_alloc(b->a, sizeof *cd);
        uint8_t *hash = arena_alloc(b->a, 32);
        if (!cd || !hash)
            return STELE_ERR_NOMEM;
        stele__chaincode_definition__init(cd);
        if (hex_decode(d->package_hash, hash, 32) != STELE_OK)
            return STELE_ERR_INVALID; /* netconfig_load() checked it */
        cd->name = d->name;
        cd->version = d->version;
        cd->sequence = d->sequence;
        cd->package_hash = (ProtobufCBinaryData){32, hash};
        cd->endorsement_policy = d->policy;
        c->chaincodes[i] = cd;
    }
    c->n_chaincodes = n;
    return STELE_OK;
}

/* The configuration, without the signer. */
static int build_config(struct build *b, const struct netconfig *nc, const uint8_t ca_pub[33],
                        Stele__ChannelConfig **out, char **errmsg)
{
    Stele__ChannelConfig *c = arena_alloc(b->a, sizeof *c);
    Stele__BatchParameters *bp = arena_alloc(b->a, sizeof *bp);
    Stele__PbftParameters *pp = arena_alloc(b->a, sizeof *pp);
    if (!c || !bp || !pp)
        return STELE_ERR_NOMEM;
    stele__channel_config__init(c);
    stele__batch_parameters__init(bp);
    stele__pbft_parameters__init(pp);
    c->channel_id = nc->channel.id;
    c->consensus_type = nc->channel.consensus.type;
    bp->max_message_count = (uint32_t)nc->channel.batch.max_message_count;
    bp->batch_timeout_ms = nc->channel.batch.batch_timeout_ms;
    bp->preferred_max_bytes = nc->channel.batch.preferred_max_bytes;
    bp->absolute_max_bytes = nc->channel.batch.absolute_max_bytes;
    c->batch = bp;
    if (strcmp(c->consensus_type, "pbft") == 0) {
        const struct netconfig_pbft *p = &nc->channel.consensus.pbft;
        pp->checkpoint_interval = (uint32_t)p->checkpoint_interval;
        pp->log_window = (uint32_t)p->log_window;
        pp->request_timeout_ms = p->request_timeout_ms;
        pp->view_change_timeout_ms = p->view_change_timeout_ms;
        pp->view_change_timeout_max_ms = p->view_change_timeout_max_ms;
        c->pbft = pp;
    }
    c->lifecycle_policy = nc->channel.lifecycle_policy;
    c->lifecycle_version = 1;                        /* lifecycle_policy decides */
    c->endorsement_version = TX_ENDORSEMENT_VERSION; /* length-prefixed (lib/ledger/tx.h) */
    int rc;
    if ((rc = add_orgs(b, nc, ca_pub, c)) || (rc = add_orderers(b, nc, c, errmsg)) ||
        (rc = add_chaincodes(b, nc, c)))
        return rc;
    *out = c;
    return STELE_OK;
}

/* The admin of the first orderer's organisation, or NULL. */
static const char *signer_id(const struct netconfig *nc)
{
    const char *org = netconfig_identity(nc, nc->orderers[0].id)->org;
    for (size_t i = 0; i < nc->n_orgs; i++)
        if (strcmp(nc->orgs[i].name, org) == 0)
            return nc->orgs[i].admin;
    return NULL;
}

int netgenesis_write(const struct netconfig *nc, const char *dir, const uint8_t ca_pub[33],
                     const char *out_path, char **errmsg)
{
    struct build b = {.a = arena_create(0), .dir = dir};
    struct enrolment admin = {0};
    const struct enrolment *signer = NULL;
    Stele__ChannelConfig *c = NULL;
    struct buf blk;
    int rc = STELE_ERR_NOMEM;
    buf_init(&blk);
    *errmsg = NULL;
    if (!b.a || (rc = build_config(&b, nc, ca_pub, &c, errmsg)))
        goto out;
    const char *sid = signer_id(nc);
    if (sid && (rc = load_enrolment(dir, sid, &admin, errmsg)))
        goto out;
    signer = sid ? &admin : &b.orderers[0];
    if ((rc = genesis_build(c, signer->key, signer->identity.data, signer->identity.len, 0, &blk,
                            errmsg)))
        goto out;
    if ((rc = enrolment_write_file(out_path, blk.data, blk.len, 0644)) && errmsg &&
        asprintf(errmsg, "cannot write %s", out_path) < 0)
        *errmsg = NULL;
out:
    if (rc == STELE_ERR_NOMEM && !*errmsg)
        *errmsg = strdup("out of memory");
    for (size_t i = 0; i < b.n_loaded; i++)
        enrolment_release(&b.orderers[i]);
    free(b.orderers);
    enrolment_release(&admin);
    buf_release(&blk);
    arena_destroy(b.a);
    return rc;
}
