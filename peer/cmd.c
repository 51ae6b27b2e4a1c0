/* cmd.c — stele-peer's subcommands: serve and check. */
#include "cmd.h"

#include "config.h"
#include "peer.h"

#include "base/log.h"
#include "base/signals.h"
#include "base/status.h"
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "stele-peer"

static int load(const char *path, struct peer_config *cfg, struct config **cc)
{
    char *err = NULL;
    int rc = peer_config_load(path, cfg, cc, &err);
    if (rc) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
    }
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *port_file = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs("Usage: " PROG " --config FILE [--port-file FILE]\n\n"
                  "Runs the peer until SIGTERM or SIGINT: joins the channel from genesis_file\n"
                  "(an empty data_dir), pulls blocks from the orderers, validates and commits\n"
                  "them, and serves stele.Query and stele.Events. --port-file writes the port\n"
                  "served (useful with listen port 0).\n\nConfiguration keys:\n",
                  stdout);
            config_print_help(&peer_config_schema, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'c')
            config = optarg;
        else if (ch == 'p')
            port_file = optarg;
        else
            return cli_usage(PROG, "see '" PROG " --help'");
    }
    if (optind < argc)
        return cli_usage(PROG, "unexpected argument '%s'", argv[optind]);
    if (!config)
        return cli_usage(PROG, "--config FILE is required");
    sig_block_termination(); /* before any thread starts */
    struct peer_config cfg;
    struct config *cc = NULL;
    int rc = load(config, &cfg, &cc);
    if (rc)
        return rc;
    log_set_level((enum log_level)cfg.log_level);
    struct peer *p = NULL;
    char *err = NULL;
    if ((rc = peer_create(&cfg, &p, &err)) || (rc = peer_start(p, &err))) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (port_file && (rc = cli_write_port_file(PROG, port_file, peer_port(p))))
        goto out;
    int sig = sig_wait_termination();
    log_info("peer", "signal %d: stopping", sig);
    rc = CLI_EXIT_OK;
out:
    free(err);
    peer_destroy(p);
    config_destroy(cc);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    if (argc != 2 || cli_wants_help(argc, argv)) {
        if (argc == 2)
            fputs("Usage: " PROG " --check FILE\n\nLoads and checks FILE, prints its summary.\n",
                  stdout);
        return argc == 2 ? CLI_EXIT_OK : cli_usage(PROG, "--check takes one FILE");
    }
    struct peer_config cfg;
    struct config *cc = NULL;
    int rc = load(argv[1], &cfg, &cc);
    if (rc)
        return rc;
    config_print(&peer_config_schema, &cfg, stdout);
    config_destroy(cc);
    return CLI_EXIT_OK;
}
