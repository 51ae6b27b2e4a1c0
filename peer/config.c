/* config.c — the schema of stele-peer's configuration. */
#include "config.h"

#include "base/log.h"
#include "cli/daemon.h"
#include "base/status.h"
#include "ledger/blockstore.h"

#include <stddef.h>

static const struct config_enum levels[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN},
    {"error", LOG_ERROR}, {"off", LOG_OFF},   {NULL, 0},
};

static const struct config_enum fsyncs[] = {
    {"every_block", BLOCKSTORE_SYNC_EVERY_BLOCK},
    {"none", BLOCKSTORE_SYNC_NONE},
    {NULL, 0},
};

#define F(s, m) offsetof(struct s, m)

static const struct config_field limits_fields[] = {
    {.key = "max_streams",
     .type = CONFIG_UINT64,
     .offset = F(peer_limits_config, max_streams),
     .def = "1024",
     .umin = 1,
     .umax = 65536,
     .help = "concurrent calls and Events streams"},
    {.key = "max_streams_per_client",
     .type = CONFIG_UINT64,
     .offset = F(peer_limits_config, max_streams_per_client),
     .def = "16",
     .umin = 1,
     .umax = 65536,
     .help = "Events streams one identity may hold open at once"},
    {.key = "max_message",
     .type = CONFIG_SIZE,
     .offset = F(peer_limits_config, max_message),
     .def = "80MiB",
     .umin = 1 << 20,
     .umax = 256u << 20,
     .help = "gRPC message cap both ways; blocks from the orderers must fit"},
    {.key = "shutdown_grace",
     .type = CONFIG_DURATION,
     .offset = F(peer_limits_config, grace_ms),
     .def = "2s",
     .umax = 60000,
     .help = "how long in-flight calls may finish when stopping"},
    {.key = NULL},
};
static const struct config_schema limits_schema = {"limits", sizeof(struct peer_limits_config),
                                                   limits_fields};

static const struct config_field validation_fields[] = {
    {.key = "threads",
     .type = CONFIG_UINT64,
     .offset = F(peer_validation_config, threads),
     .def = "2",
     .umin = 1,
     .umax = 64,
     .help = "threads checking the signatures of a block's transactions"},
    {.key = NULL},
};
static const struct config_schema validation_schema = {
    "validation", sizeof(struct peer_validation_config), validation_fields};

static const struct config_field gwpeer_fields[] = {
    {.key = "org",
     .type = CONFIG_STRING,
     .offset = F(peer_gateway_peer, org),
     .required = true,
     .umin = 1,
     .umax = 128,
     .help = "its organisation"},
    {.key = "address",
     .type = CONFIG_ADDR,
     .offset = F(peer_gateway_peer, address),
     .required = true,
     .help = "host:port of its Endorser service"},
    {.key = NULL},
};
static const struct config_schema gwpeer_schema = {"peer", sizeof(struct peer_gateway_peer),
                                                   gwpeer_fields};

static const struct config_field gateway_fields[] = {
    {.key = "peers",
     .type = CONFIG_MAP_LIST,
     .offset = F(peer_gateway_config, peers),
     .count_offset = F(peer_gateway_config, n_peers),
     .umax = 256,
     .sub = &gwpeer_schema,
     .help = "peers of other organisations to ask for endorsements (org, address)"},
    {.key = "endorse_timeout",
     .type = CONFIG_DURATION,
     .offset = F(peer_gateway_config, endorse_timeout_ms),
     .def = "10s",
     .umin = 100,
     .umax = 600000,
     .help = "how long a remote endorsement may take"},
    {.key = "commit_timeout",
     .type = CONFIG_DURATION,
     .offset = F(peer_gateway_config, commit_timeout_ms),
     .def = "30s",
     .umin = 100,
     .umax = 600000,
     .help = "how long Submit waits for the commit when asked to and given no timeout"},
    {.key = "orderer_queue",
     .type = CONFIG_UINT64,
     .offset = F(peer_gateway_config, orderer_queue),
     .def = "4096",
     .umin = 16,
     .umax = 1048576,
     .help = "envelopes that may wait to be sent to one orderer; past that the orderer counts "
             "as not reading, and its stream is dropped and reopened later"},
    {.key = NULL},
};
static const struct config_schema gateway_schema = {"gateway", sizeof(struct peer_gateway_config),
                                                    gateway_fields};

static const struct config_field chaincode_fields[] = {
    {.key = "pool",
     .type = CONFIG_UINT64,
     .offset = F(peer_chaincode_config, pool),
     .def = "6",
     .umin = 1,
     .umax = 64,
     .help = "sandboxed host processes per chaincode"},
    {.key = "timeout",
     .type = CONFIG_DURATION,
     .offset = F(peer_chaincode_config, timeout_ms),
     .def = "10s",
     .umin = 10,
     .umax = 600000,
     .help = "longest invocation; a host that takes longer is killed"},
    {.key = "memory",
     .type = CONFIG_SIZE,
     .offset = F(peer_chaincode_config, memory),
     .def = "256MiB",
     .umin = 16u << 20,
     .umax = 16ull << 30,
     .help = "memory a host process may use; a host that uses more is killed"},
    {.key = "allow_without_landlock",
     .type = CONFIG_BOOL,
     .offset = F(peer_chaincode_config, allow_without_landlock),
     .def = "false",
     .help = "run chaincode even where the kernel has no Landlock (Linux before 5.13): a "
             "chaincode's code could then read any file the peer can while it loads"},
    {.key = NULL},
};
static const struct config_schema chaincode_schema = {
    "chaincode", sizeof(struct peer_chaincode_config), chaincode_fields};

static const struct config_field peer_fields[] = {
    {.key = "peer_id",
     .type = CONFIG_STRING,
     .offset = F(peer_config, peer_id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "unique name of this peer"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = F(peer_config, listen),
     .required = true,
     .help = "address to serve gRPC on (port 0 picks a free one)"},
    {.key = "data_dir",
     .type = CONFIG_PATH,
     .offset = F(peer_config, data_dir),
     .required = true,
     .relative = true,
     .help = "where the peer's ledger and chaincodes live (blocks/, state/, chaincodes/)"},
    {.key = "identity_dir",
     .type = CONFIG_PATH,
     .offset = F(peer_config, identity_dir),
     .required = true,
     .relative = true,
     .help = "the peer's enrolment (role peer): key.pem, identity"},
    {.key = "channel_id",
     .type = CONFIG_STRING,
     .offset = F(peer_config, channel_id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "the channel this peer joins"},
    {.key = "genesis_file",
     .type = CONFIG_PATH,
     .offset = F(peer_config, genesis_file),
     .relative = true,
     .help = "serialized block 0 of the channel: joins an empty ledger to the channel"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = F(peer_config, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level logged"},
    {.key = "scheduler",
     .type = CONFIG_ENUM,
     .offset = F(peer_config, scheduler),
     .def = "normal",
     .enums = cli_schedulers,
     .help = CLI_SCHEDULER_HELP},
    {.key = "fsync",
     .type = CONFIG_ENUM,
     .offset = F(peer_config, fsync),
     .def = "every_block",
     .enums = fsyncs,
     .help = "every_block, or none (tests only: a crash may lose recent blocks)"},
    {.key = "orderers",
     .type = CONFIG_STRING_LIST,
     .offset = F(peer_config, orderers),
     .count_offset = F(peer_config, n_orderers),
     .help = "host:port of the orderers to pull blocks from, tried in turn (absent: the "
             "addresses the genesis block gives)"},
    {.key = "crls",
     .type = CONFIG_STRING_LIST,
     .offset = F(peer_config, crls),
     .count_offset = F(peer_config, n_crls),
     .help = "CRL files (serialized stele.Crl) of the channel's CAs, installed at start for the "
             "peer's services (relative paths: from the working directory)"},
    {.key = "orderer_retry",
     .type = CONFIG_DURATION,
     .offset = F(peer_config, retry_ms),
     .def = "500ms",
     .umin = 10,
     .umax = 60000,
     .help = "pause before trying the next orderer when one fails"},
    {.key = "validation",
     .type = CONFIG_MAP,
     .offset = F(peer_config, validation),
     .sub = &validation_schema,
     .help = "block validation"},
    {.key = "limits",
     .type = CONFIG_MAP,
     .offset = F(peer_config, limits),
     .sub = &limits_schema,
     .help = "server limits"},
    {.key = "gateway",
     .type = CONFIG_MAP,
     .offset = F(peer_config, gateway),
     .sub = &gateway_schema,
     .help = "the gateway: other organisations' peers to endorse with"},
    {.key = "chaincode",
     .type = CONFIG_MAP,
     .offset = F(peer_config, chaincode),
     .sub = &chaincode_schema,
     .help = "chaincode execution limits"},
    {.key = "operations",
     .type = CONFIG_MAP,
     .offset = F(peer_config, operations),
     .sub = &cli_ops_schema,
     .help = "the operations endpoint, GET /metrics and /healthz over plain HTTP (absent: "
             "none; docs/METRICS.md)"},
    {.key = "tls",
     .type = CONFIG_MAP,
     .offset = F(peer_config, tls),
     .sub = &cli_tls_schema,
     .help = "serve over TLS; dial orderers and peers over TLS (optional)"},
    {.key = NULL},
};

const struct config_schema peer_config_schema = {"peer", sizeof(struct peer_config), peer_fields};

int peer_config_load(const char *path, struct peer_config *out, struct config **cfgp, char **errmsg)
{
    return config_load_file(&peer_config_schema, out, path, cfgp, errmsg);
}
