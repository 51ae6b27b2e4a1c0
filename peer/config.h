/*
 * config.h — stele-peer's configuration file (DESIGN §8): the schema and loading.
 * `stele-peer --check FILE` prints config_print()'s summary; configs/peer.yaml is the shipped
 * example. The file holds one peer's settings; the channel (organisations and their CAs,
 * orderers, consensus, chaincode definitions) comes from the genesis block.
 */
#ifndef STELE_PEER_CONFIG_H
#define STELE_PEER_CONFIG_H

#include "cli/daemon.h"
#include "config/config.h"

#include <stdint.h>

/* Server limits (section `limits`). */
struct peer_limits_config {
    uint64_t max_streams;            /* concurrent Events and query calls */
    uint64_t max_streams_per_client; /* Events streams one identity may hold open */
    uint64_t max_message; /* gRPC message cap both ways (blocks from the orderers included) */
    uint64_t grace_ms;    /* how long in-flight calls may finish on shutdown */
};

/* Another peer the gateway asks for endorsements (section `gateway.peers`). */
struct peer_gateway_peer {
    char *org;     /* its organisation */
    char *address; /* host:port of its Endorser service */
};

/* The gateway (section `gateway`). */
struct peer_gateway_config {
    struct peer_gateway_peer *peers; /* peers of other organisations */
    size_t n_peers;
    uint64_t endorse_timeout_ms; /* per remote endorsement */
    uint64_t commit_timeout_ms;  /* Submit with wait: default wait */
    uint64_t orderer_queue;      /* envelopes queued on one orderer's Broadcast stream, at most */
};

/* Chaincode execution (section `chaincode`). */
struct peer_chaincode_config {
    uint64_t pool;               /* host processes per chaincode */
    uint64_t timeout_ms;         /* per invocation */
    uint64_t memory;             /* per host process, bytes */
    bool allow_without_landlock; /* run hosts where the kernel has no Landlock */
};

/* Block validation (section `validation`). */
struct peer_validation_config {
    uint64_t threads; /* threads checking signatures */
};

/* The whole file. Strings live in the `struct config` returned with it. */
struct peer_config {
    char *peer_id;      /* this peer's name */
    char *listen;       /* host:port for gRPC */
    char *data_dir;     /* ledger directory */
    char *identity_dir; /* key.pem and identity (role peer) */
    char *channel_id;   /* the channel joined */
    char *genesis_file; /* block 0, to join with an empty ledger */
    int log_level;      /* enum log_level */
    int scheduler;      /* enum cli_scheduler */
    int fsync;          /* enum blockstore_sync */
    char **orderers;    /* host:port of orderers to pull blocks from; none:
                           the addresses in the genesis block */
    size_t n_orderers;  /* entries in orderers */
    char **crls;        /* CRL files installed at start */
    size_t n_crls;      /* entries in crls */
    uint64_t retry_ms;  /* wait before trying the next orderer */
    struct peer_validation_config validation;
    struct peer_limits_config limits;
    struct peer_gateway_config gateway;
    struct peer_chaincode_config chaincode;
    struct cli_tls_config tls;        /* TLS: listener, links to orderers and other peers */
    struct cli_ops_config operations; /* /metrics and /healthz (listen NULL: none) */
};

/* The schema, for config_print() and config_print_help(). */
extern const struct config_schema peer_config_schema;

/* Loads and checks `path` into *out. Returns STELE_OK with *cfgp owning the strings (free with
 * config_destroy()), or an error with *errmsg (malloc'd one line naming the file). */
int peer_config_load(const char *path, struct peer_config *out, struct config **cfgp,
                     char **errmsg);

#endif
