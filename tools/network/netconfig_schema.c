/* netconfig_schema.c — the schema of configs/network.yaml (netconfig.h): its keys, their types,
 * defaults and help. The cross-key checks are in netconfig.c. */
#include "netconfig.h"

#include "base/log.h"
#include "cli/daemon.h"
#include "ledger/blockstore.h"

#include <stddef.h>

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
    {.key = "operations",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_ca, operations),
     .help = "address of the CA's operations endpoint, GET /metrics and /healthz over plain "
             "HTTP (absent: none)"},
    {.key = "org",
     .type = CONFIG_STRING,
     .offset = F(netconfig_ca, org),
     .umin = 1,
     .umax = 64,
     .help = "organisation of the CA's bootstrap admin (absent: the first organisation)"},
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

static const struct config_field pbft_fields[] = {
    {.key = "checkpoint_interval",
     .type = CONFIG_UINT64,
     .offset = F(netconfig_pbft, checkpoint_interval),
     .def = "10",
     .umin = 1,
     .umax = 100000,
     .help = "K: a checkpoint every K blocks"},
    {.key = "log_window",
     .type = CONFIG_UINT64,
     .offset = F(netconfig_pbft, log_window),
     .def = "40",
     .umin = 1,
     .umax = 1000000,
     .help = "L: blocks between low and high watermark, a multiple of checkpoint_interval"},
    {.key = "request_timeout",
     .type = CONFIG_DURATION,
     .offset = F(netconfig_pbft, request_timeout_ms),
     .def = "2s",
     .umin = 1,
     .umax = 3600000,
     .help = "how long a backup waits for an envelope it saw to be ordered"},
    {.key = "view_change_timeout",
     .type = CONFIG_DURATION,
     .offset = F(netconfig_pbft, view_change_timeout_ms),
     .def = "2s",
     .umin = 1,
     .umax = 3600000,
     .help = "first view-change timeout; doubles on each failed view change"},
    {.key = "view_change_timeout_max",
     .type = CONFIG_DURATION,
     .offset = F(netconfig_pbft, view_change_timeout_max_ms),
     .def = "30s",
     .umin = 1,
     .umax = 3600000,
     .help = "cap of that doubling, not below view_change_timeout"},
    {.key = NULL},
};
static const struct config_schema pbft_schema = {"pbft", sizeof(struct netconfig_pbft),
                                                 pbft_fields};

static const struct config_field consensus_fields[] = {
    {.key = "type",
     .type = CONFIG_STRING,
     .offset = F(netconfig_consensus, type),
     .def = "solo",
     .umin = 1,
     .umax = 32,
     .help = "consensus plug-in of the orderers: solo or pbft (pow: not yet)"},
    {.key = "pbft",
     .type = CONFIG_MAP,
     .offset = F(netconfig_consensus, pbft),
     .sub = &pbft_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_pbft, pos),
     .help = "pbft's parameters (used only when type is pbft)"},
    {.key = NULL},
};

static const struct config_field chaincode_fields[] = {
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = F(netconfig_chaincode, name),
     .required = true,
     .umin = 1,
     .umax = 128,
     .help = "chaincode name"},
    {.key = "version",
     .type = CONFIG_STRING,
     .offset = F(netconfig_chaincode, version),
     .required = true,
     .umin = 1,
     .umax = 128,
     .help = "its version"},
    {.key = "sequence",
     .type = CONFIG_UINT64,
     .offset = F(netconfig_chaincode, sequence),
     .def = "1",
     .umin = 1,
     .umax = UINT32_MAX,
     .help = "1 for a first definition, +1 per upgrade"},
    {.key = "package_hash",
     .type = CONFIG_STRING,
     .offset = F(netconfig_chaincode, package_hash),
     .required = true,
     .umin = 64,
     .umax = 64,
     .help = "SHA-256 of the chaincode package, 64 hex digits"},
    {.key = "policy",
     .type = CONFIG_STRING,
     .offset = F(netconfig_chaincode, policy),
     .required = true,
     .umin = 1,
     .umax = 4096,
     .help = "endorsement policy: AND(...), OR(...), OutOf(k, ...) over Org.role principals"},
    {.key = NULL},
};
static const struct config_schema chaincode_schema = {
    "chaincode", sizeof(struct netconfig_chaincode), chaincode_fields};
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
     .has_pos = true,
     .pos_offset = F(netconfig_consensus, pos),
     .help = "consensus plug-in and its parameters"},
    {.key = "batch",
     .type = CONFIG_MAP,
     .offset = F(netconfig_channel, batch),
     .sub = &batch_config_schema,
     .has_pos = true,
     .pos_offset = F(batch_config, pos),
     .help = "block cutting"},
    {.key = "chaincodes",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig_channel, chaincodes),
     .count_offset = F(netconfig_channel, n_chaincodes),
     .umax = 1024,
     .sub = &chaincode_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_chaincode, pos),
     .help = "chaincode definitions committed in the genesis block"},
    {.key = "lifecycle_policy",
     .type = CONFIG_STRING,
     .offset = F(netconfig_channel, lifecycle_policy),
     .def = "MAJORITY Admins",
     .umin = 1,
     .umax = 4096,
     .help = "who may commit a chaincode definition"},
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
    {.key = "operations",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_orderer, operations),
     .help = "address of the orderer's operations endpoint, GET /metrics and /healthz over plain "
             "HTTP (absent: none)"},
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
    {.key = "scheduler",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_orderer, scheduler),
     .def = "normal",
     .enums = cli_schedulers,
     .help = "the orderer's `scheduler`: " CLI_SCHEDULER_HELP},
    {.key = "batch_delay",
     .type = CONFIG_DURATION,
     .offset = F(netconfig_orderer, batch_delay_ms),
     .def = "10ms",
     .umax = 1000,
     .help = "pbft: how long the orderer, as primary, lets a block that is not full wait for "
             "more envelopes (longer: fuller blocks, more throughput, more latency)"},
    {.key = NULL},
};
static const struct config_schema orderer_schema = {"orderer", sizeof(struct netconfig_orderer),
                                                    orderer_fields};

static const struct config_field peer_fields[] = {
    {.key = "id",
     .type = CONFIG_STRING,
     .offset = F(netconfig_peer, id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "peer id, also the id of its identity (role peer; its organisation is the peer's)"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_peer, listen),
     .required = true,
     .help = "address the peer serves Query and Events on"},
    {.key = "operations",
     .type = CONFIG_ADDR,
     .offset = F(netconfig_peer, operations),
     .help = "address of the peer's operations endpoint, GET /metrics and /healthz over plain "
             "HTTP (absent: none)"},
    {.key = "fsync",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_peer, fsync),
     .def = "every_block",
     .enums = fsyncs,
     .help = "every_block, or none (a crash may lose recent blocks)"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_peer, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level the peer logs"},
    {.key = "scheduler",
     .type = CONFIG_ENUM,
     .offset = F(netconfig_peer, scheduler),
     .def = "normal",
     .enums = cli_schedulers,
     .help = "the peer's `scheduler`: " CLI_SCHEDULER_HELP},
    {.key = NULL},
};
static const struct config_schema peer_schema = {"peer", sizeof(struct netconfig_peer),
                                                 peer_fields};

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

static const struct config_enum tls_modes[] = {
    {"none", NETCONFIG_TLS_NONE},
    {"server", NETCONFIG_TLS_SERVER},
    {"mutual", NETCONFIG_TLS_MUTUAL},
    {NULL, 0},
};

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
    {.key = "tls",
     .type = CONFIG_ENUM,
     .offset = F(netconfig, tls),
     .def = "none",
     .enums = tls_modes,
     .help = "none; server: every daemon serves TLS with a certificate of the network's TLS CA "
             "(DIR/tls); mutual: and asks its clients for one"},
    {.key = "ca",
     .type = CONFIG_MAP,
     .offset = F(netconfig, ca),
     .required = true,
     .sub = &ca_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_ca, pos),
     .help = "the certificate authority"},
    {.key = "organisations",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, orgs),
     .count_offset = F(netconfig, n_orgs),
     .required = true,
     .umin = 1,
     .umax = 256,
     .sub = &org_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_org, pos),
     .help = "organisations and their admins"},
    {.key = "channel",
     .type = CONFIG_MAP,
     .offset = F(netconfig, channel),
     .sub = &channel_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_channel, pos),
     .help = "the channel: id, consensus, block cutting, chaincodes"},
    {.key = "orderers",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, orderers),
     .count_offset = F(netconfig, n_orderers),
     .required = true,
     .umin = 1,
     .umax = NETCONFIG_MAX_REBASED - 1,
     .sub = &orderer_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_orderer, pos),
     .help = "the ordering nodes"},
    {.key = "peers",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, peers),
     .count_offset = F(netconfig, n_peers),
     .umax = 16,
     .sub = &peer_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_peer, pos),
     .help = "the committing peers, started after the orderers"},
    {.key = "identities",
     .type = CONFIG_MAP_LIST,
     .offset = F(netconfig, identities),
     .count_offset = F(netconfig, n_identities),
     .umax = 10000,
     .sub = &identity_schema,
     .has_pos = true,
     .pos_offset = F(netconfig_identity, pos),
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

const char *netconfig_scheduler_name(int scheduler)
{
    return enum_name(cli_schedulers, scheduler);
}
