/*
 * daemon.h — the `serve` and `check` subcommands every Stele daemon with a configuration
 * file shares (stele-peer, stele-orderer): the same options, help and exit statuses, and the
 * same life (signals blocked before any thread starts, start, optional port file, run until
 * SIGTERM or SIGINT, stop). The daemon describes itself with a const ops struct.
 */
#ifndef STELE_CLI_DAEMON_H
#define STELE_CLI_DAEMON_H

#include "config/config.h"

#include <stddef.h>

struct cli_daemon_ops {
    const char *prog;                   /* "stele-peer": prefix of every message */
    const char *component;              /* log component of "signal N: stopping" */
    const struct config_schema *schema; /* of its configuration file (help, check) */
    size_t cfg_size;                    /* octets of its configuration struct */
    /* Loads the file at `path` into `cfg` (cfg_size octets); *cc owns what cfg points into
     * (config_destroy()). Returns a stele status with *errmsg (free()) on failure. */
    int (*load)(const char *path, void *cfg, struct config **cc, char **errmsg);
    int (*log_level)(const void *cfg); /* an enum log_level */
    /* Creates and starts the daemon from `cfg`; *d is set (for destroy) even on failure.
     * Returns a stele status with *errmsg (free()) on failure. */
    int (*start)(const void *cfg, void **d, char **errmsg);
    int (*port)(const void *d); /* the port it serves */
    void (*destroy)(void *d);   /* stops and frees; accepts NULL */
};

/* `serve --config FILE [--port-file FILE]`: `usage` is the text --help prints before the
 * configuration keys. Returns the process exit status (cli.h). */
int cli_daemon_serve(const struct cli_daemon_ops *ops, const char *usage, int argc, char **argv);

/* `check FILE`: loads and checks the file, prints the configuration it gives. Returns the
 * process exit status. */
int cli_daemon_check(const struct cli_daemon_ops *ops, int argc, char **argv);

#endif
