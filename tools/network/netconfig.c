/* netconfig.c — the cross-key checks of configs/network.yaml, loading it and moving its ports
 * (netconfig.h); its schema is in netconfig_schema.c. */
#include "netconfig.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/text.h"
#include "cli/daemon.h"
#include "ledger/blockstore.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(s, m) offsetof(struct s, m)

int netconfig_port(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon ? atoi(colon + 1) : -1;
}

const struct netconfig_identity *netconfig_identity(const struct netconfig *c, const char *id)
{
    for (size_t i = 0; i < c->n_identities; i++)
        if (strcmp(c->identities[i].id, id) == 0)
            return &c->identities[i];
    return NULL;
}

const char *netconfig_ca_org(const struct netconfig *c)
{
    return c->ca.org ? c->ca.org : c->orgs[0].name;
}

static bool org_known(const struct netconfig *c, const char *org)
{
    for (size_t i = 0; i < c->n_orgs; i++)
        if (strcmp(c->orgs[i].name, org) == 0)
            return true;
    return false;
}

/* The first position of `a`, `b` that is in the file ({0, 0} when neither is). */
static struct config_pos first_pos(struct config_pos a, struct config_pos b)
{
    return a.line ? a : b;
}

/* Checks the port of `addr` lies in the span and is not in `seen` (n entries); adds it. */
static const char *check_port(const struct netconfig *c, const char *addr, int *seen, size_t *n)
{
    int port = netconfig_port(addr);
    if (port < (int)c->base_port || port >= (int)c->base_port + NETCONFIG_PORT_SPAN)
        return "lies outside base_port .. base_port+49";
    for (size_t i = 0; i < *n; i++)
        if (seen[i] == port)
            return "is used twice";
    seen[(*n)++] = port;
    return NULL;
}

/* A node id names its directory DIR/<id> and its files: letters, digits, '.', '_' and '-', not
 * starting with '.', at most 64. */
static bool node_id_ok(const char *id)
{
    size_t n = strlen(id);
    return n >= 1 && n <= 64 && id[0] != '.' &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* True when `addr` listens on every interface (0.0.0.0, ::), which no certificate can name. */
static bool wildcard_listen(const char *addr)
{
    return strncmp(addr, "0.0.0.0:", 8) == 0 || strncmp(addr, "[::]:", 5) == 0 ||
           strncmp(addr, ":::", 3) == 0 || addr[0] == ':';
}

/* Ports, orderers, peers and their identities. */
static int check_orderers(const struct netconfig *c, const char *path, char **errmsg)
{
    int ports[NETCONFIG_MAX_REBASED];
    size_t np = 0;
    const char *bad;
    if ((bad = check_port(c, c->ca.listen, ports, &np)))
        return config_error_at(errmsg, path, c->ca.pos, "ca.listen %s: port %s", c->ca.listen, bad);
    if (c->ca.operations && (bad = check_port(c, c->ca.operations, ports, &np)))
        return config_error_at(errmsg, path, c->ca.pos, "ca.operations %s: port %s",
                               c->ca.operations, bad);
    for (size_t i = 0; i < c->n_orderers; i++) {
        const struct netconfig_orderer *o = &c->orderers[i];
        if ((bad = check_port(c, o->listen, ports, &np)))
            return config_error_at(errmsg, path, o->pos, "orderers[%zu].listen %s: port %s", i,
                                   o->listen, bad);
        if (o->operations && (bad = check_port(c, o->operations, ports, &np)))
            return config_error_at(errmsg, path, o->pos, "orderers[%zu].operations %s: port %s", i,
                                   o->operations, bad);
        if (!node_id_ok(o->id))
            return config_error_at(errmsg, path, o->pos,
                                   "orderers[%zu].id \"%s\": use letters, digits, '.', '_' and "
                                   "'-' (it names a directory)",
                                   i, o->id);
        const struct netconfig_identity *id = netconfig_identity(c, o->id);
        if (!id || strcmp(id->role, "orderer") != 0)
            return config_error_at(errmsg, path, o->pos,
                                   "orderers[%zu]: no identity \"%s\" with role orderer", i, o->id);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->orderers[k].id, o->id) == 0)
                return config_error_at(errmsg, path, o->pos,
                                       "orderers[%zu]: id \"%s\" is used twice", i, o->id);
    }
    if (1 + c->n_orderers + c->n_peers > NETCONFIG_MAX_REBASED)
        return config_error_at(errmsg, path, c->peers[0].pos,
                               "too many processes: the CA, orderers and peers may be at most %d",
                               NETCONFIG_MAX_REBASED);
    for (size_t i = 0; i < c->n_peers; i++) {
        const struct netconfig_peer *p = &c->peers[i];
        if ((bad = check_port(c, p->listen, ports, &np)))
            return config_error_at(errmsg, path, p->pos, "peers[%zu].listen %s: port %s", i,
                                   p->listen, bad);
        if (p->operations && (bad = check_port(c, p->operations, ports, &np)))
            return config_error_at(errmsg, path, p->pos, "peers[%zu].operations %s: port %s", i,
                                   p->operations, bad);
        if (!node_id_ok(p->id))
            return config_error_at(errmsg, path, p->pos,
                                   "peers[%zu].id \"%s\": use letters, digits, '.', '_' and '-' "
                                   "(it names a directory)",
                                   i, p->id);
        const struct netconfig_identity *id = netconfig_identity(c, p->id);
        if (!id || strcmp(id->role, "peer") != 0)
            return config_error_at(errmsg, path, p->pos,
                                   "peers[%zu]: no identity \"%s\" with role peer", i, p->id);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->peers[k].id, p->id) == 0)
                return config_error_at(errmsg, path, p->pos, "peers[%zu]: id \"%s\" is used twice",
                                       i, p->id);
    }
    return STELE_OK;
}

/* Consensus type and parameters, block cutting. */
static int check_consensus(const struct netconfig *c, const char *path, char **errmsg)
{
    const struct netconfig_consensus *cs = &c->channel.consensus;
    const struct netconfig_pbft *p = &cs->pbft;
    struct config_pos at = first_pos(cs->pos, c->channel.pos);
    if (strcmp(cs->type, "pow") == 0)
        return config_error_at(errmsg, path, at,
                               "channel.consensus.type pow: the orderers have no proof-of-work "
                               "plug-in yet (solo and pbft are built in)");
    if (strcmp(cs->type, "solo") != 0 && strcmp(cs->type, "pbft") != 0)
        return config_error_at(errmsg, path, at,
                               "channel.consensus.type \"%s\" is not solo or pbft", cs->type);
    if (strcmp(cs->type, "solo") == 0 && c->n_orderers != 1)
        return config_error_at(errmsg, path, at,
                               "channel.consensus.type solo runs exactly one orderer, not %zu",
                               c->n_orderers);
    if (strcmp(cs->type, "pbft") == 0) {
        if (c->n_orderers < 4)
            return config_error_at(errmsg, path, at,
                                   "channel.consensus.type pbft needs at least 4 orderers (n >= "
                                   "3f+1 with f >= 1), not %zu",
                                   c->n_orderers);
        at = first_pos(p->pos, at);
        if (p->log_window % p->checkpoint_interval != 0)
            return config_error_at(errmsg, path, at,
                                   "channel.consensus.pbft.log_window %llu is not a multiple of "
                                   "checkpoint_interval %llu",
                                   (unsigned long long)p->log_window,
                                   (unsigned long long)p->checkpoint_interval);
        if (p->view_change_timeout_max_ms < p->view_change_timeout_ms)
            return config_error_at(errmsg, path, at,
                                   "channel.consensus.pbft.view_change_timeout_max is below "
                                   "view_change_timeout");
    }
    if (c->channel.batch.preferred_max_bytes > c->channel.batch.absolute_max_bytes)
        return config_error_at(errmsg, path, first_pos(c->channel.batch.pos, c->channel.pos),
                               "channel.batch.preferred_max_bytes must not exceed "
                               "absolute_max_bytes");
    return STELE_OK;
}

/* With TLS every daemon is reached at its listen address, which its certificate must name. */
static int check_tls(const struct netconfig *c, const char *path, char **errmsg)
{
    if (c->tls == NETCONFIG_TLS_NONE)
        return STELE_OK;
    const char *why = "listens on every interface: with tls its address must name the host "
                      "its certificate is for (e.g. 127.0.0.1 or a host name)";
    if (wildcard_listen(c->ca.listen))
        return config_error_at(errmsg, path, c->ca.pos, "ca.listen %s %s", c->ca.listen, why);
    for (size_t i = 0; i < c->n_orderers; i++)
        if (wildcard_listen(c->orderers[i].listen))
            return config_error_at(errmsg, path, c->orderers[i].pos, "orderers[%zu].listen %s %s",
                                   i, c->orderers[i].listen, why);
    for (size_t i = 0; i < c->n_peers; i++)
        if (wildcard_listen(c->peers[i].listen))
            return config_error_at(errmsg, path, c->peers[i].pos, "peers[%zu].listen %s %s", i,
                                   c->peers[i].listen, why);
    return STELE_OK;
}

static int check_chaincodes(const struct netconfig *c, const char *path, char **errmsg)
{
    for (size_t i = 0; i < c->channel.n_chaincodes; i++) {
        const struct netconfig_chaincode *d = &c->channel.chaincodes[i];
        uint8_t hash[32];
        if (hex_decode(d->package_hash, hash, sizeof hash) != STELE_OK)
            return config_error_at(errmsg, path, d->pos,
                                   "channel.chaincodes[%zu].package_hash: expected 64 hex digits "
                                   "(a SHA-256)",
                                   i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->channel.chaincodes[k].name, d->name) == 0)
                return config_error_at(errmsg, path, d->pos,
                                       "channel.chaincodes[%zu]: \"%s\" is defined twice (also "
                                       "at line %u)",
                                       i, d->name, c->channel.chaincodes[k].pos.line);
    }
    return STELE_OK;
}

static int check_identities(const struct netconfig *c, const char *path, char **errmsg)
{
    for (size_t i = 0; i < c->n_identities; i++) {
        const struct netconfig_identity *id = &c->identities[i];
        if (!node_id_ok(id->id))
            return config_error_at(errmsg, path, id->pos,
                                   "identities[%zu].id \"%s\": use letters, digits, '.', '_' and "
                                   "'-' (it names the directory ids/<id>)",
                                   i, id->id);
        if (strcmp(id->id, "admin") == 0 || netconfig_identity(c, id->id) != id)
            return config_error_at(errmsg, path, id->pos,
                                   "identities[%zu]: id \"%s\" is used twice (or is the CA's "
                                   "admin)",
                                   i, id->id);
        if (!org_known(c, id->org))
            return config_error_at(errmsg, path, id->pos,
                                   "identities[%zu]: org \"%s\" is not in organisations", i,
                                   id->org);
        for (size_t k = 0; k < id->n_attrs; k++) {
            const char *eq = strchr(id->attrs[k], '=');
            if (!eq || eq == id->attrs[k])
                return config_error_at(errmsg, path, id->pos,
                                       "identities[%zu].attrs[%zu]: expected key=value, got "
                                       "\"%s\"",
                                       i, k, id->attrs[k]);
            /* as the CA registers them: refused here, before anything starts */
            char key[NETCONFIG_ATTR_KEY_MAX + 1];
            size_t klen = (size_t)(eq - id->attrs[k]);
            if (klen < sizeof key)
                snprintf(key, sizeof key, "%.*s", (int)klen, id->attrs[k]);
            if (klen >= sizeof key || !text_is_name(key, NETCONFIG_ATTR_KEY_MAX) ||
                strlen(eq + 1) > NETCONFIG_ATTR_VALUE_MAX)
                return config_error_at(errmsg, path, id->pos,
                                       "identities[%zu].attrs[%zu]: the CA takes a key of 1..%d "
                                       "octets without control characters or surrounding "
                                       "spaces, and a value of at most %d octets",
                                       i, k, NETCONFIG_ATTR_KEY_MAX, NETCONFIG_ATTR_VALUE_MAX);
        }
    }
    return STELE_OK;
}

static int check_orgs(const struct netconfig *c, const char *path, char **errmsg)
{
    for (size_t i = 0; i < c->n_orgs; i++) {
        const struct netconfig_org *o = &c->orgs[i];
        if (o->admin && !node_id_ok(o->admin))
            return config_error_at(errmsg, path, o->pos,
                                   "organisations[%zu].admin \"%s\": use letters, digits, '.', "
                                   "'_' and '-' (it names the directory ids/<admin>)",
                                   i, o->admin);
        if (o->admin && (strcmp(o->admin, "admin") == 0 || netconfig_identity(c, o->admin)))
            return config_error_at(errmsg, path, o->pos,
                                   "organisations[%zu].admin \"%s\" clashes with another "
                                   "identity",
                                   i, o->admin);
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->orgs[k].name, o->name) == 0 ||
                (o->admin && c->orgs[k].admin && strcmp(c->orgs[k].admin, o->admin) == 0))
                return config_error_at(errmsg, path, o->pos,
                                       "organisations[%zu]: name or admin is used twice", i);
    }
    if (c->ca.org && !org_known(c, c->ca.org))
        return config_error_at(errmsg, path, c->ca.pos, "ca.org \"%s\" is not in organisations",
                               c->ca.org);
    return STELE_OK;
}

/* channel.lifecycle_policy as the channel will read it (lifecycle_commit_policy_check()). */
static int check_lifecycle(const struct netconfig *c, const char *path, char **errmsg)
{
    Stele__OrganisationConfig *orgs = calloc(c->n_orgs ? c->n_orgs : 1, sizeof *orgs);
    Stele__OrganisationConfig **ptrs = calloc(c->n_orgs ? c->n_orgs : 1, sizeof *ptrs);
    if (!orgs || !ptrs) {
        free(orgs);
        free(ptrs);
        return STELE_ERR_NOMEM;
    }
    for (size_t i = 0; i < c->n_orgs; i++) {
        stele__organisation_config__init(&orgs[i]);
        orgs[i].name = c->orgs[i].name;
        ptrs[i] = &orgs[i];
    }
    Stele__ChannelConfig cc = STELE__CHANNEL_CONFIG__INIT;
    cc.organisations = ptrs;
    cc.n_organisations = c->n_orgs;
    cc.lifecycle_policy = c->channel.lifecycle_policy;
    cc.lifecycle_version = 1; /* as netgenesis.c writes it */
    cc.endorsement_version = TX_ENDORSEMENT_VERSION;
    char why[256];
    int rc = lifecycle_commit_policy_check(&cc, why, sizeof why);
    free(orgs);
    free(ptrs);
    if (rc && rc != STELE_ERR_NOMEM)
        return stele_errf(errmsg, STELE_ERR_CONFIG, "%s: channel.lifecycle_policy %s", path, why);
    return rc;
}

int netconfig_load(const char *path, struct netconfig *out, struct config **cfgp, char **errmsg)
{
    int rc = config_load_file(&netconfig_schema, out, path, cfgp, errmsg); /* a dir: CONFIG */
    if (rc)
        return rc;
    if ((rc = check_orderers(out, path, errmsg)) || (rc = check_consensus(out, path, errmsg)) ||
        (rc = check_chaincodes(out, path, errmsg)) || (rc = check_identities(out, path, errmsg)) ||
        (rc = check_orgs(out, path, errmsg)) || (rc = check_tls(out, path, errmsg)) ||
        (rc = check_lifecycle(out, path, errmsg))) {
        config_destroy(*cfgp);
        *cfgp = NULL;
    }
    return rc;
}

/* Rewrites `*addr` with its port moved by `shift`. */
static int move_port(char **addr, long shift, char **owned, size_t *n)
{
    const char *colon = strrchr(*addr, ':');
    long port = atol(colon + 1) + shift;
    if (port < 1 || port > 65535 || *n >= NETCONFIG_MAX_REBASED)
        return STELE_ERR_INVALID;
    char *s;
    if (asprintf(&s, "%.*s:%ld", (int)(colon - *addr), *addr, port) < 0)
        return STELE_ERR_NOMEM;
    owned[(*n)++] = s;
    *addr = s;
    return STELE_OK;
}

int netconfig_rebase(struct netconfig *cfg, uint64_t base_port, char **owned)
{
    long shift = (long)base_port - (long)cfg->base_port;
    size_t n = 0;
    int rc = move_port(&cfg->ca.listen, shift, owned, &n);
    if (rc == STELE_OK && cfg->ca.operations)
        rc = move_port(&cfg->ca.operations, shift, owned, &n);
    for (size_t i = 0; rc == STELE_OK && i < cfg->n_orderers; i++) {
        rc = move_port(&cfg->orderers[i].listen, shift, owned, &n);
        if (rc == STELE_OK && cfg->orderers[i].operations)
            rc = move_port(&cfg->orderers[i].operations, shift, owned, &n);
    }
    for (size_t i = 0; rc == STELE_OK && i < cfg->n_peers; i++) {
        rc = move_port(&cfg->peers[i].listen, shift, owned, &n);
        if (rc == STELE_OK && cfg->peers[i].operations)
            rc = move_port(&cfg->peers[i].operations, shift, owned, &n);
    }
    if (rc == STELE_OK)
        cfg->base_port = base_port;
    return rc;
}

void netconfig_rebase_free(char **owned)
{
    for (size_t i = 0; i < NETCONFIG_MAX_REBASED; i++) {
        free(owned[i]);
        owned[i] = NULL;
    }
}
