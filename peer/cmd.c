/* cmd.c — stele-peer's subcommands: serve and check. */
#include "cmd.h"

#include "config.h"
#include "peer.h"

#include "cli/daemon.h"

#include <stddef.h>

#define PROG "stele-peer"

static int load(const char *path, void *cfg, struct config **cc, char **errmsg)
{
    return peer_config_load(path, cfg, cc, errmsg);
}

static int start(const void *cfg, void **d, char **errmsg)
{
    struct peer *p = NULL;
    int rc = peer_create(cfg, &p, errmsg);
    *d = p;
    return rc ? rc : peer_start(p, errmsg);
}

static int port(const void *d)
{
    return peer_port(d);
}

static void stop(void *d)
{
    peer_stop(d);
}

static void destroy(void *d)
{
    peer_destroy(d);
}

static const struct cli_daemon_ops peer_daemon = {
    .prog = PROG,
    .component = "peer",
    .schema = &peer_config_schema,
    .cfg_size = sizeof(struct peer_config),
    .load = load,
    .log_level_at = offsetof(struct peer_config, log_level),
    .scheduler_at = offsetof(struct peer_config, scheduler),
    .start = start,
    .port = port,
    .stop = stop,
    .destroy = destroy,
    .operations_at = offsetof(struct peer_config, operations),
    .metrics = peer_metrics,
    .health = peer_healthy,
};

int cmd_serve(int argc, char **argv)
{
    return cli_daemon_serve(&peer_daemon,
                            "Usage: " PROG
                            " --config FILE [--port-file FILE] [--ops-port-file FILE]\n\n"
                            "Runs the peer until SIGTERM or SIGINT: joins the channel from "
                            "genesis_file\n(an empty data_dir), pulls blocks from the orderers, "
                            "validates and commits\nthem, and serves stele.Query and stele.Events. "
                            "--port-file writes the port\nserved (useful with listen port 0), "
                            "--ops-port-file the port of "
                            "the\noperations endpoint.\n\n"
                            "Configuration keys:\n",
                            argc, argv);
}

int cmd_check(int argc, char **argv)
{
    return cli_daemon_check(&peer_daemon, argc, argv);
}
