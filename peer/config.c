/* config.c — the schema of stele-peer's configuration. */
#include "config.h"

#include "base/log.h"
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
     .help = "where the peer's ledger lives (blocks/, index/, state/)"},
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
     .help = "CRL files (serialized stele.Crl) of the channel's CAs, installed at start; every "
             "peer of a channel must install the same ones"},
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
    {.key = NULL},
};

const struct config_schema peer_config_schema = {"peer", sizeof(struct peer_config), peer_fields};

int peer_config_load(const char *path, struct peer_config *out, struct config **cfgp, char **errmsg)
{
    return config_load_file(&peer_config_schema, out, path, cfgp, errmsg);
}
