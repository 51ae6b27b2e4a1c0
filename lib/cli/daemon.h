/*
 * daemon.h — the `serve` and `check` subcommands every Stele daemon with a configuration
 * file shares (stele-peer, stele-orderer): the same options, help and exit statuses, and the
 * same life (signals blocked before any thread starts, start, optional port file, run until
 * SIGTERM or SIGINT, stop). The daemon describes itself with a const ops struct.
 */
#ifndef STELE_CLI_DAEMON_H
#define STELE_CLI_DAEMON_H

#include "config/config.h"
#include "ops/ops.h"
#include "rpc/rpc.h"

#include <stddef.h>

/* How the kernel schedules a daemon's threads (the `scheduler` key of its configuration). */
enum cli_scheduler {
    CLI_SCHED_NORMAL, /* left as started: SCHED_OTHER (a woken thread may preempt the running
                       * one) unless started under chrt or a service manager's policy */
    CLI_SCHED_BATCH,  /* SCHED_BATCH: a woken thread waits for the running one's slice; fewer
                       * context switches when the cores are saturated, no change when idle */
};

/* The names of enum cli_scheduler for a CONFIG_ENUM key ("normal", "batch"). */
extern const struct config_enum cli_schedulers[];

/* Help text of the `scheduler` key, the same for every daemon. */
#define CLI_SCHEDULER_HELP                                                                    \
    "normal (the policy it was started with, usually SCHED_OTHER), or batch (SCHED_BATCH: a " \
    "thread that wakes up waits for the running one's time slice instead of preempting it; "  \
    "fewer context switches on a saturated machine)"

/* Transport security of a daemon that serves and dials other daemons (section `tls` of
 * orderer.yaml and peer.yaml). Message signatures are checked with or without it (DESIGN
 * 4.2). Strings live in the daemon's `struct config`. */
struct cli_tls_config {
    char *cert;      /* PEM certificate chain of the server; NULL = plaintext */
    char *key;       /* its PEM private key */
    char *client_ca; /* PEM CA certificates clients must present one of (mutual TLS); or NULL */
    char *root_ca;   /* PEM roots of the TLS certificates of the daemons it dials: with it, it
                        dials them over TLS and presents cert/key as its client certificate;
                        NULL = plaintext to them */
};

/* The schema of the `tls` section (cert and key required when the section is there). */
extern const struct config_schema cli_tls_schema;

/* How the daemon serves: cert, key and client_ca, all NULL without TLS. Points into `t`. */
struct rpc_tls cli_tls_server(const struct cli_tls_config *t);

/* How the daemon dials other daemons: with root_ca, TLS with those roots and cert/key as
 * client certificate; else plaintext (all NULL). Points into `t`. */
struct rpc_tls cli_tls_client(const struct cli_tls_config *t);

/* The operations endpoint (section `operations`; lib/ops/ops.h): /metrics and /healthz over
 * plain HTTP. Strings live in the daemon's `struct config`. */
struct cli_ops_config {
    char *listen; /* host:port; NULL = no endpoint */
};

/* The schema of the `operations` section. */
extern const struct config_schema cli_ops_schema;

struct cli_daemon_ops {
    const char *prog;                   /* "stele-peer": prefix of every message */
    const char *component;              /* log component of "signal N: stopping" */
    const struct config_schema *schema; /* of its configuration file (help, check) */
    size_t cfg_size;                    /* octets of its configuration struct */
    /* Loads the file at `path` into `cfg` (cfg_size octets); *cc owns what cfg points into
     * (config_destroy()). Returns a stele status with *errmsg (free()) on failure. */
    int (*load)(const char *path, void *cfg, struct config **cc, char **errmsg);
    size_t log_level_at; /* offsetof the int (enum log_level) in the configuration struct */
    size_t scheduler_at; /* offsetof the int (enum cli_scheduler), applied before start */
    /* Creates and starts the daemon from `cfg`; *d is set (for destroy) even on failure.
     * Returns a stele status with *errmsg (free()) on failure. */
    int (*start)(const void *cfg, void **d, char **errmsg);
    int (*port)(const void *d); /* the port it serves */
    /* Stops serving and drains what is in flight (called on SIGTERM or SIGINT while the
     * operations endpoint still answers, so that its health says "stopping" meanwhile); NULL:
     * destroy does it. Must leave `d` readable by metrics and health until destroy. */
    void (*stop)(void *d);
    void (*destroy)(void *d); /* stops and frees; accepts NULL */
    /* The operations endpoint: offsetof the struct cli_ops_config in the configuration, and
     * what it serves (called with the started daemon `d`; health may be NULL). */
    size_t operations_at;
    ops_collect_fn metrics;
    ops_health_fn health;
};

/* `serve --config FILE [--port-file FILE] [--ops-port-file FILE]`: `usage` is the text --help
 * prints before the configuration keys. The port files get the port it serves gRPC on and the
 * port of its operations endpoint (which must then be configured). Returns the process exit
 * status (cli.h). */
int cli_daemon_serve(const struct cli_daemon_ops *ops, const char *usage, int argc, char **argv);

/* `check FILE`: loads and checks the file, prints the configuration it gives. Returns the
 * process exit status. */
int cli_daemon_check(const struct cli_daemon_ops *ops, int argc, char **argv);

#endif
