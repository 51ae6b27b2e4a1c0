/* cmd.c — stele-orderer's subcommands: serve, check, genesis. */
#include "cmd.h"

#include "config.h"
#include "orderer.h"
#include "own_genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/key.h"
#include "identity/enrolment.h"
#include "ledger/genesis.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "stele-orderer"

/* Parses --config, --port-file and --out into the given pointers (NULL: not accepted). */
static int parse(int argc, char **argv, const char *usage, const char **config,
                 const char **port_file, const char **out)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port-file", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:o:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            config_print_help(&orderer_config_schema, stdout);
            exit(CLI_EXIT_OK);
        }
        const char **slot = ch == 'c' ? config : ch == 'p' ? port_file : ch == 'o' ? out : NULL;
        if (!slot)
            return cli_usage(PROG, "see '" PROG " --help'");
        *slot = optarg;
    }
    if (optind < argc)
        return cli_usage(PROG, "unexpected argument '%s'", argv[optind]);
    if (!*config)
        return cli_usage(PROG, "--config FILE is required");
    return 0;
}

static int load(const char *path, struct orderer_config *cfg, struct config **cc)
{
    char *err = NULL;
    int rc = orderer_config_load(path, cfg, cc, &err);
    if (rc) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
    }
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *port_file = NULL;
    int rc = parse(argc, argv,
                   "Usage: " PROG " --config FILE [--port-file FILE]\n\n"
                   "Runs the ordering node until SIGTERM or SIGINT. --port-file writes the port\n"
                   "served (useful with listen port 0).\n\nConfiguration keys:\n",
                   &config, &port_file, NULL);
    if (rc)
        return rc;
    sig_block_termination(); /* before any thread starts */
    struct orderer_config cfg;
    struct config *cc = NULL;
    if ((rc = load(config, &cfg, &cc)))
        return rc;
    log_set_level((enum log_level)cfg.log_level);
    struct orderer *o = NULL;
    char *err = NULL;
    if ((rc = orderer_create(&cfg, &o, &err)) || (rc = orderer_start(o, &err))) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (port_file && (rc = cli_write_port_file(PROG, port_file, orderer_port(o))))
        goto out;
    int sig = sig_wait_termination();
    log_info("orderer", "signal %d: stopping", sig);
    rc = CLI_EXIT_OK;
out:
    free(err);
    orderer_destroy(o);
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
    struct orderer_config cfg;
    struct config *cc = NULL;
    int rc = load(argv[1], &cfg, &cc);
    if (rc)
        return rc;
    config_print(&orderer_config_schema, &cfg, stdout);
    config_destroy(cc);
    return CLI_EXIT_OK;
}

int cmd_genesis(int argc, char **argv)
{
    const char *config = NULL, *out = NULL;
    int rc = parse(argc, argv,
                   "Usage: " PROG " genesis --config FILE --out FILE\n\n"
                   "Writes the genesis block (block 0) of the configured channel for this one\n"
                   "orderer (solo), signed with the orderer's key. Its channel configuration\n"
                   "lists the orderer (node_id, the organisation of its identity record, its key\n"
                   "and its listen address), the consensus type, the batch parameters and, as\n"
                   "organisations, the orderer's own (trusting the CA of its enrolment) and each\n"
                   "one named by a membership.cas entry. Give the file as genesis_file to start\n"
                   "the orderer. A network of several orderers or organisations gets its\n"
                   "genesis block from stele-network.\n\n"
                   "Configuration keys:\n",
                   &config, NULL, &out);
    if (rc)
        return rc;
    if (!out)
        return cli_usage(PROG, "--out FILE is required");
    struct orderer_config cfg;
    struct config *cc = NULL;
    struct enrolment self = {0};
    struct arena *a = NULL;
    char *err = NULL;
    struct buf b;
    buf_init(&b);
    if ((rc = load(config, &cfg, &cc)))
        return rc;
    if ((rc = enrolment_load(cfg.identity_dir, &self, &err))) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    Stele__ChannelConfig *chan;
    if (!(a = arena_create(0))) {
        rc = cli_fail(PROG, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = own_genesis_config(a, &cfg, &self, &chan, &err)) ||
        (rc = genesis_build(chan, self.key, self.identity.data, self.identity.len, 0, &b, &err))) {
        rc = cli_fail(PROG, rc, "cannot build the genesis block: %s",
                      err ? err : stele_strerror(rc));
        goto out;
    }
    if (enrolment_write_file(out, b.data, b.len, 0644) != STELE_OK) {
        rc = cli_fail(PROG, STELE_ERR_IO, "cannot write %s", out);
        goto out;
    }
    printf("%s: genesis block of channel %s (%zu octets)\n", out, cfg.channel_id, b.len);
    rc = CLI_EXIT_OK;
out:
    buf_release(&b);
    arena_destroy(a);
    free(err);
    enrolment_release(&self);
    config_destroy(cc);
    return rc;
}
