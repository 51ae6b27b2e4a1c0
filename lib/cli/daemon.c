/* daemon.c — the shared serve and check subcommands of Stele's daemons (daemon.h). */
#include "cli/daemon.h"

#include "base/log.h"
#include "base/signals.h"
#include "base/status.h"
#include "cli/cli.h"

#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct config_field tls_fields[] = {
    {.key = "cert",
     .type = CONFIG_PATH,
     .offset = offsetof(struct cli_tls_config, cert),
     .required = true,
     .relative = true,
     .help = "PEM certificate chain of the server"},
    {.key = "key",
     .type = CONFIG_PATH,
     .offset = offsetof(struct cli_tls_config, key),
     .required = true,
     .relative = true,
     .help = "PEM private key of that certificate"},
    {.key = "client_ca",
     .type = CONFIG_PATH,
     .offset = offsetof(struct cli_tls_config, client_ca),
     .relative = true,
     .help = "PEM CA certificates for client certificates: mutual TLS (absent: none asked)"},
    {.key = "root_ca",
     .type = CONFIG_PATH,
     .offset = offsetof(struct cli_tls_config, root_ca),
     .relative = true,
     .help = "PEM roots of the TLS certificates of the daemons it dials (other orderers; "
             "orderers and other peers), to dial them over TLS presenting cert and key "
             "(absent: plaintext to them)"},
    {.key = NULL},
};
const struct config_schema cli_tls_schema = {"tls", sizeof(struct cli_tls_config), tls_fields};

struct rpc_tls cli_tls_server(const struct cli_tls_config *t)
{
    return (struct rpc_tls){.cert_file = t->cert, .key_file = t->key, .ca_file = t->client_ca};
}

struct rpc_tls cli_tls_client(const struct cli_tls_config *t)
{
    if (!t->root_ca)
        return (struct rpc_tls){0};
    return (struct rpc_tls){.ca_file = t->root_ca, .cert_file = t->cert, .key_file = t->key};
}

static const struct config_field ops_fields[] = {
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = offsetof(struct cli_ops_config, listen),
     .required = true,
     .help = "host:port of the operations endpoint: GET /metrics (Prometheus text format) and "
             "/healthz, plain HTTP without authentication: bind it to 127.0.0.1 or a "
             "management network"},
    {.key = NULL},
};
const struct config_schema cli_ops_schema = {"operations", sizeof(struct cli_ops_config),
                                             ops_fields};

const struct config_enum cli_schedulers[] = {
    {"normal", CLI_SCHED_NORMAL},
    {"batch", CLI_SCHED_BATCH},
    {NULL, 0},
};

/* The int at offset `at` of the configuration struct `cfg`. */
static int setting(const void *cfg, size_t at)
{
    int v;
    memcpy(&v, (const char *)cfg + at, sizeof v);
    return v;
}

/* Sets the calling thread's policy; every thread the daemon starts afterwards, and every
 * process it spawns (chaincode hosts), inherits it. */
static int apply_scheduler(const struct cli_daemon_ops *ops, int which)
{
    if (which != CLI_SCHED_BATCH)
        return CLI_EXIT_OK;
    struct sched_param sp = {.sched_priority = 0};
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
        return cli_fail(ops->prog, STELE_ERR_INTERNAL, "cannot set scheduler batch: %s",
                        strerror(errno));
    log_info(ops->component, "scheduler: batch (SCHED_BATCH)");
    return CLI_EXIT_OK;
}

/* Loads the configuration at `path` into a new cfg_size buffer; NULL with the message
 * printed and *exit set. */
static void *load(const struct cli_daemon_ops *ops, const char *path, struct config **cc, int *exit)
{
    void *cfg = calloc(1, ops->cfg_size);
    if (!cfg) {
        *exit = cli_fail(ops->prog, STELE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *err = NULL;
    int rc = ops->load(path, cfg, cc, &err);
    if (rc) {
        *exit = cli_fail(ops->prog, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        free(cfg);
        return NULL;
    }
    return cfg;
}

int cli_daemon_serve(const struct cli_daemon_ops *ops, const char *usage, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port-file", required_argument, NULL, 'p'},
        {"ops-port-file", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *port_file = NULL, *ops_port_file = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:p:o:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            config_print_help(ops->schema, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'c')
            config = optarg;
        else if (ch == 'p')
            port_file = optarg;
        else if (ch == 'o')
            ops_port_file = optarg;
        else
            return cli_usage(ops->prog, "see '%s --help'", ops->prog);
    }
    if (optind < argc)
        return cli_usage(ops->prog, "unexpected argument '%s'", argv[optind]);
    if (!config)
        return cli_usage(ops->prog, "--config FILE is required");
    sig_block_termination(); /* before any thread starts */
    struct config *cc = NULL;
    int rc;
    void *cfg = load(ops, config, &cc, &rc);
    if (!cfg)
        return rc;
    log_set_level((enum log_level)setting(cfg, ops->log_level_at));
    const struct cli_ops_config *oc =
        (const struct cli_ops_config *)((const char *)cfg + ops->operations_at);
    if (ops_port_file && !oc->listen) {
        config_destroy(cc);
        free(cfg);
        return cli_usage(ops->prog, "--ops-port-file needs an `operations` section in %s", config);
    }
    void *d = NULL;
    struct ops_server *os = NULL;
    char *err = NULL;
    if ((rc = apply_scheduler(ops, setting(cfg, ops->scheduler_at))) != CLI_EXIT_OK)
        goto out;
    if ((rc = ops->start(cfg, &d, &err))) {
        rc = cli_fail(ops->prog, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (oc->listen) {
        char component[64];
        snprintf(component, sizeof component, "%s-ops", ops->component);
        struct ops_server_opts so = {.listen = oc->listen,
                                     .component = component,
                                     .collect = ops->metrics,
                                     .health = ops->health,
                                     .arg = d};
        if ((rc = ops_server_start(&so, &os, &err))) {
            rc = cli_fail(ops->prog, rc, "%s", err);
            goto out;
        }
    }
    if (port_file && (rc = cli_write_port_file(ops->prog, port_file, ops->port(d))))
        goto out;
    if (ops_port_file && (rc = cli_write_port_file(ops->prog, ops_port_file, ops_server_port(os))))
        goto out;
    int sig = sig_wait_termination();
    log_info(ops->component, "signal %d: stopping", sig);
    if (ops->stop)
        ops->stop(d); /* /healthz answers 503 "stopping" while it drains */
    rc = CLI_EXIT_OK;
out:
    free(err);
    ops_server_stop(os); /* before the daemon its collector reads */
    ops->destroy(d);
    config_destroy(cc);
    free(cfg);
    return rc;
}

int cli_daemon_check(const struct cli_daemon_ops *ops, int argc, char **argv)
{
    if (argc != 2 || cli_wants_help(argc, argv)) {
        if (argc == 2)
            printf("Usage: %s --check FILE\n\nLoads and checks FILE, prints its summary.\n",
                   ops->prog);
        return argc == 2 ? CLI_EXIT_OK : cli_usage(ops->prog, "--check takes one FILE");
    }
    struct config *cc = NULL;
    int rc;
    void *cfg = load(ops, argv[1], &cc, &rc);
    if (!cfg)
        return rc;
    config_print(ops->schema, cfg, stdout);
    config_destroy(cc);
    free(cfg);
    return CLI_EXIT_OK;
}
