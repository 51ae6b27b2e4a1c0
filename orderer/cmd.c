/* cmd.c — stele-orderer's subcommands: serve, check, genesis. */
#include "cmd.h"

#include "config.h"
#include "orderer.h"
#include "own_genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "cli/daemon.h"
#include "crypto/key.h"
#include "identity/enrolment.h"
#include "ledger/genesis.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROG "stele-orderer"

/* Parses genesis's --config and --out. */
static int parse(int argc, char **argv, const char *usage, const char **config, const char **out)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:o:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            config_print_help(&orderer_config_schema, stdout);
            exit(CLI_EXIT_OK);
        }
        const char **slot = ch == 'c' ? config : ch == 'o' ? out : NULL;
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

static int load_config(const char *path, void *cfg, struct config **cc, char **errmsg)
{
    return orderer_config_load(path, cfg, cc, errmsg);
}

static int start(const void *cfg, void **d, char **errmsg)
{
    struct orderer *o = NULL;
    int rc = orderer_create(cfg, &o, errmsg);
    *d = o;
    return rc ? rc : orderer_start(o, errmsg);
}

static int port(const void *d)
{
    return orderer_port(d);
}

static void stop(void *d)
{
    orderer_stop(d);
}

static void destroy(void *d)
{
    orderer_destroy(d);
}

static const struct cli_daemon_ops orderer_daemon = {
    .prog = PROG,
    .component = "orderer",
    .schema = &orderer_config_schema,
    .cfg_size = sizeof(struct orderer_config),
    .load = load_config,
    .log_level_at = offsetof(struct orderer_config, log_level),
    .scheduler_at = offsetof(struct orderer_config, scheduler),
    .start = start,
    .port = port,
    .stop = stop,
    .destroy = destroy,
    .operations_at = offsetof(struct orderer_config, operations),
    .metrics = orderer_metrics,
    .health = orderer_healthy,
};

int cmd_serve(int argc, char **argv)
{
    return cli_daemon_serve(
        &orderer_daemon,
        "Usage: " PROG " --config FILE [--port-file FILE] [--ops-port-file FILE]\n\n"
        "Runs the ordering node until SIGTERM or SIGINT. --port-file writes "
        "the port\nserved (useful with listen port 0), --ops-port-file the port of the "
        "operations\nendpoint.\n\nConfiguration keys:\n",
        argc, argv);
}

int cmd_check(int argc, char **argv)
{
    return cli_daemon_check(&orderer_daemon, argc, argv);
}

/* Loads the configuration for genesis (the message printed on failure). */
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
                   "genesis block from stele-network. Refuses to replace an existing FILE.\n\n"
                   "Configuration keys:\n",
                   &config, &out);
    if (rc)
        return rc;
    if (!out)
        return cli_usage(PROG, "--out FILE is required");
    struct stat st;
    if (lstat(out, &st) == 0)
        return cli_fail(PROG, STELE_ERR_EXISTS,
                        "%s exists: a channel has one genesis block; remove it first if you mean "
                        "to start a new channel",
                        out);
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
