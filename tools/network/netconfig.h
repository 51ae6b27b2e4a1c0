/*
 * netconfig.h — configs/network.yaml: the description of a local network that
 * `stele-network up` starts (DESIGN §8). The CA, the organisations and their admins, the
 * channel (consensus and its parameters, block cutting, initial chaincode definitions and the
 * lifecycle policy), the orderers and the identities to enrol. The launcher turns it into the
 * network's genesis block (netgenesis.h).
 *
 * Every listen and operations port lies in base_port .. base_port + NETCONFIG_PORT_SPAN - 1, so
 * netconfig_rebase() can move a whole network to another range (`up --base-port`).
 */
#ifndef STELE_TOOLS_NETCONFIG_H
#define STELE_TOOLS_NETCONFIG_H

#include "config/config.h"

#include <stddef.h>
#include "ledger/batch_config.h"

#include <stdint.h>

/* Ports a network may use above its base_port. */
#define NETCONFIG_PORT_SPAN 50

/* Section `ca`. */
struct netconfig_ca {
    char *name;            /* the CA's name */
    char *listen;          /* host:port it serves on */
    char *operations;      /* host:port of its /metrics and /healthz, or NULL: none */
    char *org;             /* organisation of its bootstrap admin; NULL: the first organisation */
    int log_level;         /* enum log_level */
    struct config_pos pos; /* where the section is */
};

/* One entry of `organisations`. */
struct netconfig_org {
    char *name;            /* organisation name, as in identities' `org` */
    char *admin;           /* id of its admin identity (registered with role admin), or NULL */
    struct config_pos pos; /* where the entry is */
};

/* Section `channel.consensus.pbft`: used only when the type is pbft. */
struct netconfig_pbft {
    uint64_t checkpoint_interval;        /* K: a checkpoint every K blocks */
    uint64_t log_window;                 /* L: a multiple of K */
    uint64_t request_timeout_ms;         /* a backup's timer for an envelope not yet ordered */
    uint64_t view_change_timeout_ms;     /* first view-change timeout */
    uint64_t view_change_timeout_max_ms; /* cap of its doubling */
    struct config_pos pos;               /* where the section is */
};

/* Section `channel.consensus`. */
struct netconfig_consensus {
    char *type;                 /* plug-in name: "solo" or "pbft" */
    struct netconfig_pbft pbft; /* pbft's parameters */
    struct config_pos pos;      /* where the section is */
};

/* One entry of `channel.chaincodes`: a definition committed at genesis. */
struct netconfig_chaincode {
    char *name;            /* chaincode name */
    char *version;         /* its version */
    uint64_t sequence;     /* 1 for a first definition */
    char *package_hash;    /* SHA-256 of the package, 64 hex digits */
    char *policy;          /* endorsement policy expression */
    struct config_pos pos; /* where the entry is */
};

/* Section `channel`. */
struct netconfig_channel {
    char *id;                               /* channel id */
    struct netconfig_consensus consensus;   /* consensus plug-in */
    struct batch_config batch;              /* block cutting */
    struct netconfig_chaincode *chaincodes; /* initial chaincode definitions */
    size_t n_chaincodes;                    /* entries in chaincodes */
    char *lifecycle_policy;                 /* who may commit chaincode definitions */
    struct config_pos pos;                  /* where the section is */
};

/* One entry of `orderers`. */
struct netconfig_orderer {
    char *id;                /* node id; also the id of its identity (role orderer) */
    char *listen;            /* host:port; also its address in the genesis block */
    char *operations;        /* host:port of its /metrics and /healthz, or NULL: none */
    int fsync;               /* enum blockstore_sync */
    int log_level;           /* enum log_level */
    int scheduler;           /* enum cli_scheduler */
    uint64_t batch_delay_ms; /* pbft: consensus.batch_delay of its orderer.yaml */
    struct config_pos pos;   /* where the entry is */
};

/* One entry of `peers`. */
struct netconfig_peer {
    char *id;              /* peer id; also the id of its identity (role peer), whose
                              organisation is the peer's */
    char *listen;          /* host:port */
    char *operations;      /* host:port of its /metrics and /healthz, or NULL: none */
    int fsync;             /* enum blockstore_sync */
    int log_level;         /* enum log_level */
    int scheduler;         /* enum cli_scheduler */
    struct config_pos pos; /* where the entry is */
};

/* The longest attribute key and value the CA registers (ca/service.c): the key a name of
 * 1..64 octets (text_is_name()), the value at most 256 octets. */
#define NETCONFIG_ATTR_KEY_MAX   64
#define NETCONFIG_ATTR_VALUE_MAX 256

/* One entry of `identities`. */
struct netconfig_identity {
    char *id;              /* identity name */
    char *org;             /* organisation (one of `organisations`) */
    char *role;            /* admin, orderer, peer, client or auditor */
    char **attrs;          /* "key=value" attributes (NETCONFIG_ATTR_*_MAX) */
    size_t n_attrs;        /* entries in attrs */
    struct config_pos pos; /* where the entry is */
};

/* Transport security of the whole network (`tls`). */
enum netconfig_tls {
    NETCONFIG_TLS_NONE,   /* plaintext gRPC (messages are signed either way) */
    NETCONFIG_TLS_SERVER, /* every daemon serves TLS; daemons and clients check its certificate */
    NETCONFIG_TLS_MUTUAL, /* and every daemon asks its clients for a certificate of the same CA */
};

/* The whole file. Strings live in the `struct config` returned with it. */
struct netconfig {
    char *network;                         /* the network's name */
    uint64_t base_port;                    /* lowest port of the network */
    int tls;                               /* enum netconfig_tls */
    struct netconfig_ca ca;                /* the certificate authority */
    struct netconfig_org *orgs;            /* organisations */
    size_t n_orgs;                         /* entries in orgs */
    struct netconfig_channel channel;      /* the channel */
    struct netconfig_orderer *orderers;    /* ordering nodes */
    size_t n_orderers;                     /* entries in orderers */
    struct netconfig_peer *peers;          /* committing peers */
    size_t n_peers;                        /* entries in peers */
    struct netconfig_identity *identities; /* identities to register and enrol */
    size_t n_identities;                   /* entries in identities */
};

/* The schema, for config_print() and --help. */
extern const struct config_schema netconfig_schema;

/* Loads and checks `path` (schema, then: ports within the span and distinct, ids unique and
 * fit to name a directory (identities, admins, orderers, peers: DIR/ids/<id>, DIR/<id>),
 * orgs known, the CA's organisation known, every orderer has an orderer identity and every
 * peer a peer identity, a known
 * consensus type, solo has one orderer, pbft at least four with log_window a multiple of
 * checkpoint_interval and view_change_timeout_max not below view_change_timeout, attributes
 * are key=value, batch sizes consistent, chaincode names unique with 64-hex-digit package
 * hashes). Returns STELE_OK with *cfgp owning the strings (config_destroy()), or an error with
 * *errmsg (malloc'd, one line "file:line:col: what"). */
int netconfig_load(const char *path, struct netconfig *out, struct config **cfgp, char **errmsg);

/* The organisation of the CA's bootstrap admin: ca.org, or the first organisation. */
const char *netconfig_ca_org(const struct netconfig *cfg);

/* The identity entry of `id`, or NULL. */
const struct netconfig_identity *netconfig_identity(const struct netconfig *cfg, const char *id);

/* Moves every listen and operations port by (base_port - cfg->base_port) and sets cfg->base_port.
 * The new address strings are malloc'd and recorded in `owned`, a caller-zeroed array of
 * NETCONFIG_MAX_REBASED pointers freed with netconfig_rebase_free(); cfg points at them until
 * then. Returns STELE_OK, STELE_ERR_INVALID (a port leaves 1..65535, or too many addresses) or
 * STELE_ERR_NOMEM. */
#define NETCONFIG_MAX_REBASED 64
int netconfig_rebase(struct netconfig *cfg, uint64_t base_port, char **owned);

/* Frees the strings netconfig_rebase() allocated. */
void netconfig_rebase_free(char **owned);

/* The YAML names of a log level and of an fsync policy ("info", "every_block"). */
const char *netconfig_level_name(int level);
const char *netconfig_fsync_name(int fsync);
const char *netconfig_scheduler_name(int scheduler);

/* Port of a host:port string, or -1. */
int netconfig_port(const char *addr);

#endif
