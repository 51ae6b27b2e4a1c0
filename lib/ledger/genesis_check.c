/* genesis_check.c — the rules of a channel configuration (genesis.h, genesis_check()). Every
 * string here is untrusted: messages quote it through quote(), never raw. */
#include "ledger/genesis.h"

#include "base/status.h"
#include "base/text.h"
#include "config/config.h"
#include "crypto/key.h"
#include "ledger/batch_config.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTED_MAX 48 /* octets of an untrusted string shown in a message */

/* A printable rendering of an untrusted string, for messages. */
struct quoted {
    char s[QUOTED_MAX * 4 + 8];
};

static const char *quote(struct quoted *q, const char *s)
{
    size_t o = 0, i = 0;
    q->s[o++] = '"';
    for (; s && s[i] && i < QUOTED_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(q->s + o, 5, "\\x%02x", c);
        else
            q->s[o++] = (char)c;
    }
    if (s && s[i])
        o += (size_t)snprintf(q->s + o, 4, "...");
    q->s[o++] = '"';
    q->s[o] = 0;
    return q->s;
}

/* Sets *errmsg and returns STELE_ERR_INVALID. */
#define refuse(errmsg, ...) stele_errf((errmsg), STELE_ERR_INVALID, __VA_ARGS__)

/* A 33-octet SEC 1 compressed point on P-256. */
static bool point_ok(const ProtobufCBinaryData *k)
{
    struct crypto_key *key = NULL;
    if (k->len != CRYPTO_POINT_COMPRESSED_LEN || (k->data[0] != 2 && k->data[0] != 3))
        return false;
    bool ok = crypto_key_from_public(k->data, k->len, &key) == STELE_OK;
    crypto_key_destroy(key);
    return ok;
}

/* The port of a valid host:port. */
static unsigned long port_of(const char *addr)
{
    return strtoul(strrchr(addr, ':') + 1, NULL, 10);
}

static int check_name(char **errmsg, const char *what, const char *s)
{
    struct quoted q;
    if (!s || !s[0])
        return refuse(errmsg, "%s is empty", what);
    if (!text_is_name(s, GENESIS_MAX_NAME))
        return refuse(errmsg,
                      "%s %s is not 1..%d octets without control characters or surrounding "
                      "spaces",
                      what, quote(&q, s), GENESIS_MAX_NAME);
    return STELE_OK;
}

static int check_batch(const Stele__BatchParameters *b, char **errmsg)
{
    if (!b)
        return refuse(errmsg, "the batch parameters are missing");
    if (b->max_message_count == 0 || b->max_message_count > BATCH_MAX_MESSAGE_COUNT)
        return refuse(errmsg, "batch.max_message_count is %u; it must be 1..%u envelopes",
                      b->max_message_count, BATCH_MAX_MESSAGE_COUNT);
    if (b->batch_timeout_ms == 0 || b->batch_timeout_ms > BATCH_MAX_TIMEOUT_MS)
        return refuse(errmsg, "batch.batch_timeout_ms is %llu; it must be 1..%u ms",
                      (unsigned long long)b->batch_timeout_ms, BATCH_MAX_TIMEOUT_MS);
    if (b->preferred_max_bytes == 0 || b->preferred_max_bytes > BATCH_MAX_BYTES)
        return refuse(errmsg, "batch.preferred_max_bytes is %llu; it must be 1..%u octets",
                      (unsigned long long)b->preferred_max_bytes, BATCH_MAX_BYTES);
    if (b->absolute_max_bytes == 0 || b->absolute_max_bytes > BATCH_MAX_BYTES)
        return refuse(errmsg, "batch.absolute_max_bytes is %llu; it must be 1..%u octets",
                      (unsigned long long)b->absolute_max_bytes, BATCH_MAX_BYTES);
    if (b->preferred_max_bytes > b->absolute_max_bytes)
        return refuse(
            errmsg, "batch.preferred_max_bytes (%llu) exceeds batch.absolute_max_bytes (%llu)",
            (unsigned long long)b->preferred_max_bytes, (unsigned long long)b->absolute_max_bytes);
    return STELE_OK;
}

static int check_orgs(const Stele__ChannelConfig *c, char **errmsg)
{
    struct quoted q;
    char what[96];
    int rc;
    if (c->n_organisations > GENESIS_MAX_ORGS)
        return refuse(errmsg, "%zu organisations; at most %d are allowed", c->n_organisations,
                      GENESIS_MAX_ORGS);
    for (size_t i = 0; i < c->n_organisations; i++) {
        const Stele__OrganisationConfig *o = c->organisations[i];
        snprintf(what, sizeof what, "organisations[%zu].name", i);
        if ((rc = check_name(errmsg, what, o->name)))
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->organisations[k]->name, o->name) == 0)
                return refuse(errmsg,
                              "organisations[%zu]: name %s is used twice (also "
                              "organisations[%zu])",
                              i, quote(&q, o->name), k);
        if (o->n_ca_public_keys == 0 || o->n_ca_public_keys > GENESIS_MAX_CA_KEYS)
            return refuse(errmsg,
                          "organisation %s has %zu CA keys; it must trust 1..%d (its members' "
                          "identities are issued by them)",
                          quote(&q, o->name), o->n_ca_public_keys, GENESIS_MAX_CA_KEYS);
        for (size_t k = 0; k < o->n_ca_public_keys; k++)
            if (!point_ok(&o->ca_public_keys[k]))
                return refuse(errmsg,
                              "organisation %s: ca_public_keys[%zu] (%zu octets) is not a valid "
                              "33-octet SEC 1 compressed P-256 point",
                              quote(&q, o->name), k, o->ca_public_keys[k].len);
        if (o->n_admins > GENESIS_MAX_ADMINS)
            return refuse(errmsg, "organisation %s lists %zu admins; at most %d are allowed",
                          quote(&q, o->name), o->n_admins, GENESIS_MAX_ADMINS);
        for (size_t k = 0; k < o->n_admins; k++) {
            snprintf(what, sizeof what, "organisations[%zu].admins[%zu]", i, k);
            if ((rc = check_name(errmsg, what, o->admins[k])))
                return rc;
        }
    }
    return STELE_OK;
}

static int check_orderers(const Stele__ChannelConfig *c, char **errmsg)
{
    struct quoted q, q2;
    char what[96];
    int rc;
    if (c->n_orderers > GENESIS_MAX_ORDERERS)
        return refuse(errmsg, "%zu orderers; at most %d are allowed", c->n_orderers,
                      GENESIS_MAX_ORDERERS);
    for (size_t i = 0; i < c->n_orderers; i++) {
        const Stele__OrdererNodeConfig *o = c->orderers[i];
        snprintf(what, sizeof what, "orderers[%zu].node_id", i);
        if ((rc = check_name(errmsg, what, o->node_id)))
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->orderers[k]->node_id, o->node_id) == 0)
                return refuse(errmsg,
                              "orderers[%zu]: node_id %s is used twice (also orderers[%zu])", i,
                              quote(&q, o->node_id), k);
        if (!genesis_find_org(c, o->organisation))
            return refuse(errmsg, "orderer %s: its organisation %s is not one of the organisations",
                          quote(&q, o->node_id), quote(&q2, o->organisation));
        if (!point_ok(&o->public_key))
            return refuse(errmsg,
                          "orderer %s: public_key (%zu octets) is not a valid 33-octet SEC 1 "
                          "compressed P-256 point",
                          quote(&q, o->node_id), o->public_key.len);
        if (!o->address || !config_addr_valid(o->address, strlen(o->address)))
            return refuse(errmsg,
                          "orderer %s: address %s is not host:port (a DNS name, IPv4 or [IPv6] "
                          "host and a port 0..65535)",
                          quote(&q, o->node_id), quote(&q2, o->address));
    }
    return STELE_OK;
}

/* Parameters of the plug-ins the rules know. */
static int check_consensus(const Stele__ChannelConfig *c, char **errmsg)
{
    struct quoted q;
    if (strcmp(c->consensus_type, "solo") == 0 && c->n_orderers > 1)
        return refuse(errmsg, "consensus solo runs one orderer, but %zu are listed", c->n_orderers);
    if (strcmp(c->consensus_type, "pbft") != 0)
        return STELE_OK;
    if (c->n_orderers < 4)
        return refuse(errmsg,
                      "consensus pbft needs at least 4 orderers (n >= 3f+1 with f >= 1), but %zu "
                      "are listed",
                      c->n_orderers);
    for (size_t i = 0; i < c->n_orderers; i++)
        if (port_of(c->orderers[i]->address) == 0)
            return refuse(errmsg,
                          "orderer %s: address port 0; pbft orderers must reach each other at a "
                          "fixed port",
                          quote(&q, c->orderers[i]->node_id));
    const Stele__PbftParameters *p = c->pbft;
    if (!p)
        return refuse(errmsg, "consensus pbft: the pbft parameters are missing");
    if (p->checkpoint_interval == 0)
        return refuse(errmsg, "pbft.checkpoint_interval is 0; a checkpoint every K > 0 blocks");
    if (p->log_window == 0 || p->log_window % p->checkpoint_interval != 0)
        return refuse(errmsg,
                      "pbft.log_window is %u; it must be a positive multiple of "
                      "checkpoint_interval (%u)",
                      p->log_window, p->checkpoint_interval);
    if (p->request_timeout_ms == 0)
        return refuse(errmsg, "pbft.request_timeout_ms is 0; it must be positive");
    if (p->view_change_timeout_ms == 0)
        return refuse(errmsg, "pbft.view_change_timeout_ms is 0; it must be positive");
    if (p->view_change_timeout_max_ms < p->view_change_timeout_ms)
        return refuse(errmsg,
                      "pbft.view_change_timeout_max_ms (%llu) is below view_change_timeout_ms "
                      "(%llu)",
                      (unsigned long long)p->view_change_timeout_max_ms,
                      (unsigned long long)p->view_change_timeout_ms);
    return STELE_OK;
}

static int check_policy(char **errmsg, const char *what, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return refuse(errmsg, "%s is empty", what);
    if (n > GENESIS_MAX_POLICY)
        return refuse(errmsg, "%s is %zu octets; at most %d are allowed", what, n,
                      GENESIS_MAX_POLICY);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return refuse(errmsg, "%s contains control characters", what);
    return STELE_OK;
}

static int check_chaincodes(const Stele__ChannelConfig *c, char **errmsg)
{
    struct quoted q;
    char what[96];
    int rc;
    if (c->n_chaincodes > GENESIS_MAX_CHAINCODES)
        return refuse(errmsg, "%zu chaincode definitions; at most %d are allowed", c->n_chaincodes,
                      GENESIS_MAX_CHAINCODES);
    for (size_t i = 0; i < c->n_chaincodes; i++) {
        const Stele__ChaincodeDefinition *d = c->chaincodes[i];
        snprintf(what, sizeof what, "chaincodes[%zu].name", i);
        if ((rc = check_name(errmsg, what, d->name)))
            return rc;
        if (!tx_chaincode_name_ok(d->name) || d->name[0] == '_')
            return refuse(errmsg,
                          "chaincodes[%zu]: name %s is not a chaincode name (1..64 of "
                          "[A-Za-z0-9_.-], not starting with '_', which system chaincodes use)",
                          i, quote(&q, d->name));
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->chaincodes[k]->name, d->name) == 0)
                return refuse(errmsg,
                              "chaincodes[%zu]: name %s is defined twice (also chaincodes[%zu])", i,
                              quote(&q, d->name), k);
        snprintf(what, sizeof what, "chaincode %s: version", quote(&q, d->name));
        if ((rc = check_name(errmsg, what, d->version)))
            return rc;
        if (d->sequence == 0)
            return refuse(errmsg, "chaincode %s: sequence is 0; the first definition is 1",
                          quote(&q, d->name));
        if (d->package_hash.len != 32)
            return refuse(errmsg,
                          "chaincode %s: package_hash is %zu octets, not a 32-octet SHA-256",
                          quote(&q, d->name), d->package_hash.len);
        snprintf(what, sizeof what, "chaincode %s: endorsement_policy", quote(&q, d->name));
        if ((rc = check_policy(errmsg, what, d->endorsement_policy)))
            return rc;
    }
    return STELE_OK;
}

int genesis_check_build(const Stele__ChannelConfig *c, char **errmsg)
{
    int rc = genesis_check(c, errmsg);
    if (rc == STELE_OK && c->endorsement_version != TX_ENDORSEMENT_VERSION)
        return refuse(errmsg,
                      "endorsement_version is %u; a new channel takes %u (0 is for channels "
                      "created before 2026-12-06, whose endorsements a client could alter)",
                      c->endorsement_version, TX_ENDORSEMENT_VERSION);
    struct quoted q;
    char what[96], unknown[QUOTED_MAX + 1];
    for (size_t i = 0; rc == STELE_OK && i < c->n_chaincodes; i++) {
        const Stele__ChaincodeDefinition *d = c->chaincodes[i];
        snprintf(what, sizeof what, "chaincode %s: endorsement_policy", quote(&q, d->name));
        rc = lifecycle_policy_check(c, d->endorsement_policy, unknown, sizeof unknown);
        if (rc == STELE_ERR_MALFORMED)
            return refuse(errmsg, "%s does not parse (e.g. AND(org1.peer, org2.peer))", what);
        if (rc == STELE_ERR_NOT_FOUND)
            return refuse(errmsg, "%s names organisation %s, which is not one of the channel's",
                          what, quote(&q, unknown));
    }
    return rc;
}

int genesis_check(const Stele__ChannelConfig *c, char **errmsg)
{
    int rc;
    if (errmsg)
        *errmsg = NULL;
    if (!c)
        return refuse(errmsg, "no channel configuration");
    if ((rc = check_name(errmsg, "channel_id", c->channel_id)))
        return rc;
    if (!c->consensus_type || !c->consensus_type[0])
        return refuse(errmsg, "consensus_type is empty; it names the plug-in (solo, pbft, pow)");
    if ((rc = check_name(errmsg, "consensus_type", c->consensus_type)))
        return rc;
    if ((rc = check_batch(c->batch, errmsg)) || (rc = check_orgs(c, errmsg)) ||
        (rc = check_orderers(c, errmsg)) || (rc = check_consensus(c, errmsg)) ||
        (rc = check_chaincodes(c, errmsg)))
        return rc;
    if ((rc = check_policy(errmsg, "lifecycle_policy", c->lifecycle_policy)))
        return rc;
    if (c->endorsement_version > TX_ENDORSEMENT_VERSION)
        return refuse(errmsg,
                      "endorsement_version %u is newer than this program knows (up to %u): "
                      "upgrade it",
                      c->endorsement_version, TX_ENDORSEMENT_VERSION);
    char why[256];
    rc = lifecycle_commit_policy_check(c, why, sizeof why);
    if (rc == STELE_ERR_NOMEM)
        return rc;
    if (rc) {
        struct quoted q;
        return refuse(errmsg, "lifecycle_policy %s %s", quote(&q, c->lifecycle_policy), why);
    }
    return STELE_OK;
}

const Stele__OrdererNodeConfig *genesis_find_orderer(const Stele__ChannelConfig *cfg,
                                                     const char *node_id)
{
    for (size_t i = 0; node_id && i < cfg->n_orderers; i++)
        if (strcmp(cfg->orderers[i]->node_id, node_id) == 0)
            return cfg->orderers[i];
    return NULL;
}

const Stele__OrganisationConfig *genesis_find_org(const Stele__ChannelConfig *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_organisations; i++)
        if (strcmp(cfg->organisations[i]->name, name) == 0)
            return cfg->organisations[i];
    return NULL;
}
