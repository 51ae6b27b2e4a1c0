/* netconfig.c — the schema of configs/network.yaml and its cross-key checks. */
#include "netconfig.h"

#include "base/log.h"
#include "base/status.h"
#include "ledger/blockstore.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(s, m) offsetof(struct s, m)

static const struct config_enum levels[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
    {"error", LOG_ERROR}, {"off", LOG_OFF},   {NULL, 0},
};

static const struct config_enum fsyncs[] = {
    {"every_block", BLOCKSTORE_SYNC_EVERY_BLOCK},
    {"none", BLOCKSTORE_SYNC_NONE},
    {NULL, 0},
};

static const struct config_field ca_fields[] = {
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = F(netconfig_ca, name),
     .def = "stele-ca",
     .umin = 1,
     .umax = 128,
     .help = "the CA's name (stele-ca init --name)"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_ca, listen),
     .required = true,
     .help = "address the CA serves on"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_ca, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level the CA logs"},
    {.key = NULL},
};
static const struct config_schema ca_schema = {"ca", sizeof(struct netconfig_ca), ca_fields};

static const struct config_field org_fields[] = {
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = F(netconfig_org, name),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "organisation name"},
    {.key = "admin",
     .type = CONFIG_STRING,
     .offset = F(netconfig_org, admin),
     .umin = 1,
     .umax = 64,
     .help = "id of the organisation's admin identity, enrolled with role admin"},
    {.key = NULL},
};
static const struct config_schema org_schema = {"organisation", sizeof(struct netconfig_org),
                                                org_fields};

static const struct config_field consensus_fields[] = {
    {.key = "type",
     .type = CONFIG_STRING,
     .offset = F(netconfig_consensus, type),
     .def = "solo",
     .umin = 1,
     .umax = 32,
     .help = "consensus plug-in of the orderers: solo"},
    {.key = NULL},
};
static const struct config_schema consensus_schema = {
    "consensus", sizeof(struct netconfig_consensus), consensus_fields};

static const struct config_field channel_fields[] = {
    {.key = "id",
     .type = CONFIG_STRING,
     .offset = F(netconfig_channel, id),
     .def = "stele",
     .umin = 1,
     .umax = 64,
     .help = "channel id"},
    {.key = "consensus",
     .type = CONFIG_MAP,
     .offset = F(netconfig_channel, consensus),
     .sub = &consensus_schema,
     .help = "consensus plug-in and its parameters"},
    {.key = "batch",
     .type = CONFIG_MAP,
     .offset = F(netconfig_channel, batch),
     .sub = &batch_config_schema,
     .help = "block cutting"},
    {.key = NULL},
};
static const struct config_schema channel_schema = {"channel", sizeof(struct netconfig_channel),
                                                    channel_fields};

static const struct config_field orderer_fields[] = {
    {.key = "id",
     .type = CONFIG_STRING,
     .offset = F(netconfig_orderer, id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "node id, also the id of its identity (role orderer)"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_orderer, listen),
     .required = true,
     .help = "address the orderer serves on"},
    {.key = "fsync",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_orderer, fsync),
     .def = "every_block",
     .enums = fsyncs,
     .help = "every_block, or none (a crash may lose recent blocks)"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_orderer, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level the orderer logs"},
    {.key = NULL},
};
static const struct config_schema orderer_schema = {"orderer", sizeof(struct netconfig_orderer),
                                                    orderer_fields};

static const struct config_field identity_fields[] = {
    {.key = "id",
     .type = CONFIG_STRING,
     .offset = F(netconfig_identity, id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "identity name; its enrolment goes to DIR/ids/<id>"},
    {.key = "org",
     .type = CONFIG_STRING,
     .offset = F(netconfig_identity, org),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "organisation"},
    {.key = "role",
     .type = CONFIG_STRING,
     .offset = F(netconfig_identity, role),
     .def = "client",
     .umin = 1,
     .umax = 16,
     .help = "admin, orderer, peer, client or auditor"},
    {.key = "attrs",
     .type = CONFIG_STRING_LIST,
     .offset = F(netconfig_identity, attrs),
     .count_offset = F(netconfig_identity, n_attrs),
     .umax = 32,
     .help = "key=value attributes bound to the certificate"},
    {.key = NULL},
};
static const struct config_schema identity_schema = {"identity", sizeof(struct netconfig_identity),
                                                     identity_fields};

static const struct config_field net_fields[] = {
    {.key = "network",
     .type = CONFIG_STRING,
     .offset = F(netconfig, network),
     .def = "stele-local",
     .umin = 1,
     .umax = 64,
     .help = "the network's name"},
    {.key = "base_port",
     .type = CONFIG_UINT64,
     .offset = F(netconfig, base_port),
     .def = "17050",
     .umin = 1024,
     .umax = 65535 - NETCONFIG_PORT_SPAN,
     .help = "every listen port lies in base_port .. base_port+49 (up --base-port moves them)"},
    {.key = "ca",
     .type = CONFIG_MAP,
     .offset = F(netconfig, ca),
     .required = true,
     .sub = &ca_schema,
     .help = "the certificate authority"},
    {.key = "organisations",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, orgs),
     .count_offset = F(netconfig, n_orgs),
     .required = true,
     .umin = 1,
     .sub = &org_schema,
     .help = "organisations and their admins"},
    {.key = "channel",
     .type = CONFIG_MAP,
     .offset = F(netconfig, channel),
     .sub = &channel_schema,
     .help = "the channel: id, consensus, block cutting"},
    {.key = "orderers",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, orderers),
     .count_offset = F(netconfig, n_orderers),
     .required = true,
     .umin = 1,
     .umax = NETCONFIG_MAX_REBASED - 1,
     .sub = &orderer_schema,
     .help = "the ordering nodes"},
    {.key = "identities",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, identities),
     .count_offset = F(netconfig, n_identities),
     .umax = 10000,
     .sub = &identity_schema,
     .help = "identities to register and enrol"},
    {.key = NULL},
};

const struct config_schema netconfig_schema = {"network", sizeof(struct netconfig), net_fields};

static const char *enum_name(const struct config_enum *e, int v)
{
    for (; e->name; e++)
        if (e->value == v)
            return e->name;
    return "?";
}

const char *netconfig_level_name(int level)
{
    return enum_name(levels, level);
}

const char *netconfig_fsync_name(int fsync)
{
    return enum_name(fsyncs, fsync);
}

int netconfig_port(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon ? atoi(colon + 1) : -1;
}

static const struct netconfig_identity *find_identity(const struct netconfig *c, const char *id)
{
    for (size_t i = 0; i < c->n_identities; i++)
        if (strcmp(c->identities[i].id, id) == 0)
            return &c->identities[i];
    return NULL;
}

static bool org_known(const struct netconfig *c, const char *org)
{
    for (size_t i = 0; i < c->n_orgs; i++)
        if (strcmp(c->orgs[i].name, org) == 0)
            return true;
    return false;
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

/* The cross-key checks; writes the problem into `why` and returns false when one fails. */
static bool check(const struct netconfig *c, char *why, size_t n)
{
    int ports[NETCONFIG_MAX_REBASED];
    size_t np = 0;
    const char *bad;
    if ((bad = check_port(c, c->ca.listen, ports, &np))) {
        snprintf(why, n, "ca.listen %s: port %s", c->ca.listen, bad);
        return false;
    }
    for (size_t i = 0; i < c->n_orderers; i++) {
        const struct netconfig_orderer *o = &c->orderers[i];
        if ((bad = check_port(c, o->listen, ports, &np))) {
            snprintf(why, n, "orderers[%zu].listen %s: port %s", i, o->listen, bad);
            return false;
        }
        const struct netconfig_identity *id = find_identity(c, o->id);
        if (!id || strcmp(id->role, "orderer") != 0) {
            snprintf(why, n, "orderers[%zu]: no identity \"%s\" with role orderer", i, o->id);
            return false;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->orderers[k].id, o->id) == 0) {
                snprintf(why, n, "orderers[%zu]: id \"%s\" is used twice", i, o->id);
                return false;
            }
    }
    if (strcmp(c->channel.consensus.type, "solo") == 0 && c->n_orderers != 1) {
        snprintf(why, n, "channel.consensus.type solo runs exactly one orderer, not %zu",
                 c->n_orderers);
        return false;
    }
    if (c->channel.batch.preferred_max_bytes > c->channel.batch.absolute_max_bytes) {
        snprintf(why, n, "channel.batch.preferred_max_bytes must not exceed absolute_max_bytes");
        return false;
    }
    for (size_t i = 0; i < c->n_identities; i++) {
        const struct netconfig_identity *id = &c->identities[i];
        if (strcmp(id->id, "admin") == 0 || find_identity(c, id->id) != id) {
            snprintf(why, n, "identities[%zu]: id \"%s\" is used twice (or is the CA's admin)", i,
                     id->id);
            return false;
        }
        if (!org_known(c, id->org)) {
            snprintf(why, n, "identities[%zu]: org \"%s\" is not in organisations", i, id->org);
            return false;
        }
        for (size_t k = 0; k < id->n_attrs; k++) {
            const char *eq = strchr(id->attrs[k], '=');
            if (!eq || eq == id->attrs[k]) {
                snprintf(why, n, "identities[%zu].attrs[%zu]: expected key=value, got \"%s\"", i, k,
                         id->attrs[k]);
                return false;
            }
        }
    }
    for (size_t i = 0; i < c->n_orgs; i++) {
        const char *admin = c->orgs[i].admin;
        if (admin && (strcmp(admin, "admin") == 0 || find_identity(c, admin))) {
            snprintf(why, n, "organisations[%zu].admin \"%s\" clashes with another identity", i,
                     admin);
            return false;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->orgs[k].name, c->orgs[i].name) == 0 ||
                (admin && c->orgs[k].admin && strcmp(c->orgs[k].admin, admin) == 0)) {
                snprintf(why, n, "organisations[%zu]: name or admin is used twice", i);
                return false;
            }
    }
    return true;
}

int netconfig_load(const char *path, struct netconfig *out, struct config **cfgp, char **errmsg)
{
    int rc = config_load_file(&netconfig_schema, out, path, cfgp, errmsg);
    if (rc)
        return rc;
    char why[256];
    if (check(out, why, sizeof why))
        return STELE_OK;
    if (errmsg && asprintf(errmsg, "%s: %s", path, why) < 0)
        *errmsg = NULL;
    config_destroy(*cfgp);
    *cfgp = NULL;
    return STELE_ERR_CONFIG;
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
    for (size_t i = 0; rc == STELE_OK && i < cfg->n_orderers; i++)
        rc = move_port(&cfg->orderers[i].listen, shift, owned, &n);
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
