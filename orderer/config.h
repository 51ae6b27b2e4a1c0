/*
 * config.h — stele-orderer's configuration file (DESIGN §8): the schema, loading and the
 * checks that span several keys. `stele-orderer --check FILE` prints config_print()'s summary.
 * configs/orderer-solo.yaml is the shipped example. The file holds one node's settings; what
 * the channel agrees on (consensus type, batch parameters, orderers, organisations) comes from
 * the genesis block, and channel.h says how the two must agree.
 */
#ifndef STELE_ORDERER_CONFIG_H
#define STELE_ORDERER_CONFIG_H

#include "auth.h"

#include "cli/daemon.h"
#include "config/config.h"

#include "ledger/batch_config.h"

#include "consensus/pbft.h"

#include <stdint.h>

/* Server limits (section `limits`). */
struct orderer_limits_config {
    uint64_t max_streams;            /* concurrent Broadcast streams, and Deliver streams apart */
    uint64_t max_streams_per_client; /* Deliver streams one identity may hold open */
    uint64_t broadcast_idle_ms;      /* a Broadcast stream silent this long ends; 0 = never */
    uint64_t max_message; /* gRPC message cap both ways; 0 = absolute_max_bytes + 1 MiB */
    uint64_t grace_ms;    /* how long in-flight calls may finish on shutdown */
};

/* Consensus (section `consensus`). */
struct orderer_consensus_config {
    char *type;  /* registered plug-in name: "solo", "pbft" */
    char *fault; /* test builds only (STELE_TEST_HOOKS): a simulated Byzantine behaviour */
    struct pbft_config pbft; /* this orderer's pbft settings: the plug-in's plugin_config */
};

/* The whole file. Strings live in the `struct config` returned with it. */
struct orderer_config {
    char *node_id;                             /* this orderer's name */
    char *listen;                              /* host:port for gRPC */
    char *data_dir;                            /* block store directory */
    char *identity_dir;                        /* key.pem and, optionally, identity */
    char *channel_id;                          /* the channel ordered */
    char *genesis_file;                        /* block 0 for an empty store */
    int log_level;                             /* enum log_level */
    int scheduler;                             /* enum cli_scheduler */
    int fsync;                                 /* enum blockstore_sync */
    struct orderer_consensus_config consensus; /* plug-in choice */
    struct batch_config batch;                 /* block cutting for `genesis`; pos.line 0
                                                  when the section is absent */
    struct orderer_limits_config limits;       /* server limits */
    struct cli_tls_config tls;                 /* TLS: listener, links to other orderers */
    struct cli_ops_config operations;          /* /metrics and /healthz (listen NULL: none) */
    struct orderer_auth_config membership;     /* who may broadcast and deliver; no CAs:
                                                  the genesis block's organisations */
};

/* The schema, for config_print() and config_print_help(). */
extern const struct config_schema orderer_config_schema;

/* Loads and checks `path` into *out. Returns STELE_OK with *cfgp owning the strings (free with
 * config_destroy()), or an error with *errmsg (malloc'd one line naming the file). */
int orderer_config_load(const char *path, struct orderer_config *out, struct config **cfgp,
                        char **errmsg);

#endif
