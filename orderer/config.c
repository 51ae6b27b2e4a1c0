/* config.c — the schema of stele-orderer's configuration and its cross-key checks. */
#include "config.h"
#include "ledger/batch_config.h"

#include "consensus/consensus.h"

#include "base/log.h"
#include "cli/daemon.h"
#include "base/status.h"
#include "ledger/blockstore.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
     .offset = F(orderer_limits_config, max_streams),
     .def = "1024",
     .umin = 1,
     .umax = 65536,
     .help = "concurrent Broadcast streams, and as many Deliver streams apart from them"},
    {.key = "max_streams_per_client",
     .type = CONFIG_UINT64,
     .offset = F(orderer_limits_config, max_streams_per_client),
     .def = "16",
     .umin = 1,
     .umax = 65536,
     .help = "Deliver streams one identity may hold open at once"},
    {.key = "broadcast_idle",
     .type = CONFIG_DURATION,
     .offset = F(orderer_limits_config, broadcast_idle_ms),
     .def = "60s",
     .umax = 3600000,
     .help = "a Broadcast stream that brings no envelope, or takes no answer, for this long ends "
             "(0: never)"},
    {.key = "max_message",
     .type = CONFIG_SIZE,
     .offset = F(orderer_limits_config, max_message),
     .umax = 128 << 20,
     .help = "gRPC message cap both ways, above batch.absolute_max_bytes (absent: that + 1MiB); "
             "larger messages end the stream with RESOURCE_EXHAUSTED"},
    {.key = "shutdown_grace",
     .type = CONFIG_DURATION,
     .offset = F(orderer_limits_config, grace_ms),
     .def = "2s",
     .umax = 60000,
     .help = "how long in-flight calls may finish when stopping"},
    {.key = NULL},
};
static const struct config_schema limits_schema = {"limits", sizeof(struct orderer_limits_config),
                                                   limits_fields};

static const struct config_field consensus_fields[] = {
    {.key = "type",
     .type = CONFIG_STRING,
     .offset = F(orderer_consensus_config, type),
     .def = "solo",
     .umin = 1,
     .umax = 32,
     .help = "consensus plug-in: solo or pbft; must be the genesis block's consensus type"},
    {.key = "batch_delay",
     .type = CONFIG_DURATION,
     .offset = F(orderer_consensus_config, pbft.batch_delay_ms),
     .def = "10ms",
     .umax = 1000,
     .help = "pbft: how long this orderer, as primary, lets a block that is not full wait for "
             "more envelopes (0: propose what is pooled at once; batch_timeout still bounds it)"},
#ifdef STELE_TEST_HOOKS
    {.key = "fault",
     .type = CONFIG_STRING,
     .offset = F(orderer_consensus_config, fault),
     .help = "TEST BUILDS ONLY: simulate a Byzantine pbft orderer (equivocate, bad-signatures, "
             "silent)"},
#endif
    {.key = NULL},
};
static const struct config_schema consensus_schema = {
    "consensus", sizeof(struct orderer_consensus_config), consensus_fields};

static const struct config_field ca_fields[] = {
    {.key = "public_key",
     .type = CONFIG_PATH,
     .offset = F(orderer_auth_ca, public_key),
     .required = true,
     .relative = true,
     .help = "the CA's SEC 1 public key file (ca.pub from stele-ca init or an enrolment)"},
    {.key = "org",
     .type = CONFIG_STRING,
     .offset = F(orderer_auth_ca, org),
     .umax = 64,
     .help = "organisation the CA issues for (absent: any)"},
    {.key = "ca_id",
     .type = CONFIG_UINT64,
     .offset = F(orderer_auth_ca, ca_id),
     .help = "issuer id expected in its certificates (0: any)"},
    {.key = "crl",
     .type = CONFIG_PATH,
     .offset = F(orderer_auth_ca, crl),
     .relative = true,
     .help = "its latest CRL (serialized stele.Crl), checked and installed at start"},
    {.key = NULL},
};
static const struct config_schema ca_schema = {"ca", sizeof(struct orderer_auth_ca), ca_fields};

static const struct config_field membership_fields[] = {
    {.key = "cas",
     .type = CONFIG_MAP_LIST,
     .offset = F(orderer_auth_config, cas),
     .count_offset = F(orderer_auth_config, n_cas),
     .sub = &ca_schema,
     .help = "the CAs whose identities are members (absent or empty: the CA keys of the genesis "
             "block's organisations, each for its organisation)"},
    {.key = "broadcast_roles",
     .type = CONFIG_STRING_LIST,
     .offset = F(orderer_auth_config, broadcast_roles),
     .count_offset = F(orderer_auth_config, n_broadcast_roles),
     .help = "roles that may Broadcast (absent: client, peer, admin)"},
    {.key = "deliver_roles",
     .type = CONFIG_STRING_LIST,
     .offset = F(orderer_auth_config, deliver_roles),
     .count_offset = F(orderer_auth_config, n_deliver_roles),
     .help = "roles that may Deliver (absent: peer, orderer, auditor, admin, client)"},
    {.key = NULL},
};
static const struct config_schema membership_schema = {
    "membership", sizeof(struct orderer_auth_config), membership_fields};

static const struct config_field orderer_fields[] = {
    {.key = "node_id",
     .type = CONFIG_STRING,
     .offset = F(orderer_config, node_id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "unique name of this orderer"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = F(orderer_config, listen),
     .required = true,
     .help = "address to serve gRPC on (port 0 picks a free one)"},
    {.key = "data_dir",
     .type = CONFIG_PATH,
     .offset = F(orderer_config, data_dir),
     .required = true,
     .relative = true,
     .help = "where the orderer's block store lives"},
    {.key = "identity_dir",
     .type = CONFIG_PATH,
     .offset = F(orderer_config, identity_dir),
     .required = true,
     .relative = true,
     .help = "the orderer's enrolment: key.pem, cert, identity, ca.pub"},
    {.key = "channel_id",
     .type = CONFIG_STRING,
     .offset = F(orderer_config, channel_id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "the channel this orderer orders"},
    {.key = "genesis_file",
     .type = CONFIG_PATH,
     .offset = F(orderer_config, genesis_file),
     .relative = true,
     .help = "serialized block 0 (channel configuration), written to an empty block store"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = F(orderer_config, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level logged"},
    {.key = "scheduler",
     .type = CONFIG_ENUM,
     .offset = F(orderer_config, scheduler),
     .def = "normal",
     .enums = cli_schedulers,
     .help = CLI_SCHEDULER_HELP},
    {.key = "fsync",
     .type = CONFIG_ENUM,
     .offset = F(orderer_config, fsync),
     .def = "every_block",
     .enums = fsyncs,
     .help = "every_block, or none (tests only: a crash may lose recent blocks)"},
    {.key = "consensus",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, consensus),
     .sub = &consensus_schema,
     .help = "the consensus plug-in"},
    {.key = "batch",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, batch),
     .sub = &batch_config_schema,
     .has_pos = true,
     .pos_offset = F(batch_config, pos),
     .help = "block cutting written into a new genesis block; at start the genesis block's "
             "parameters rule (a section that differs is refused)"},
    {.key = "limits",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, limits),
     .sub = &limits_schema,
     .help = "server limits"},
    {.key = "operations",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, operations),
     .sub = &cli_ops_schema,
     .help = "the operations endpoint, GET /metrics and /healthz over plain HTTP (absent: "
             "none; docs/METRICS.md)"},
    {.key = "tls",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, tls),
     .sub = &cli_tls_schema,
     .help = "TLS for the listener (absent: plaintext; envelopes are signed either way)"},
    {.key = "membership",
     .type = CONFIG_MAP,
     .offset = F(orderer_config, membership),
     .sub = &membership_schema,
     .help = "who may broadcast and deliver (absent: the genesis block's organisations, default "
             "roles)"},
    {.key = NULL},
};

const struct config_schema orderer_config_schema = {"orderer", sizeof(struct orderer_config),
                                                    orderer_fields};

int orderer_config_load(const char *path, struct orderer_config *out, struct config **cfgp,
                        char **errmsg)
{
    int rc = config_load_file(&orderer_config_schema, out, path, cfgp, errmsg);
    if (rc)
        return rc;
    const char *bad = NULL;
    char names[128] = "";
    if (out->batch.preferred_max_bytes > out->batch.absolute_max_bytes)
        bad = "batch.preferred_max_bytes must not exceed batch.absolute_max_bytes";
    else if (out->batch.pos.line && out->limits.max_message &&
             out->limits.max_message <= out->batch.absolute_max_bytes)
        bad = "limits.max_message must exceed batch.absolute_max_bytes (blocks and headers need "
              "room)";
    else if (out->tls.cert && !out->tls.root_ca && strcmp(out->consensus.type, "pbft") == 0)
        bad = "tls with consensus.type pbft needs tls.root_ca: the PEM roots of the other "
              "orderers' TLS certificates, which this orderer dials (stele.Cluster)";
    else if (!consensus_find(out->consensus.type)) {
        bad = "consensus.type names no built-in plug-in";
        strcpy(names, " (built in: ");
        consensus_names(names + strlen(names), sizeof names - strlen(names) - 1);
        strcat(names, ")");
    }
    if (!bad)
        return STELE_OK;
    if (errmsg && asprintf(errmsg, "%s: %s%s", path, bad, names) < 0)
        *errmsg = NULL;
    config_destroy(*cfgp);
    *cfgp = NULL;
    return STELE_ERR_CONFIG;
}
