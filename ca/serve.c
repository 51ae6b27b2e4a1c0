/* serve.c — `stele-ca serve`: configuration, the gRPC server and a clean stop on SIGTERM. */
#include "ca.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/status.h"
#include "cli/cli.h"
#include "cli/daemon.h"
#include "config/config.h"
#include "ops/ops.h"
#include "rpc/rpc.h"
#include "rpc/services.h"

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* configs/ca.yaml. */
struct ca_tls_config {
    char *cert; /* PEM certificate chain; NULL = plaintext */
    char *key;  /* its private key */
};

struct ca_config {
    char *listen;                     /* host:port */
    char *dir;                        /* CA directory (from init) */
    char *name;                       /* overrides the name given at init; NULL keeps it */
    uint64_t validity_ms;             /* default certificate validity */
    uint64_t max_enrollments;         /* default enrolments per id */
    uint64_t pbkdf2_iterations;       /* for admin-chosen secrets */
    uint64_t attempt_limit;           /* wrong secrets before a lockout */
    uint64_t lockout_ms;              /* lockout period */
    uint64_t crl_validity_ms;         /* CRL lifetime */
    uint64_t reenroll_grace_ms;       /* expired identities may reenrol this long */
    int log_level;                    /* enum log_level */
    struct ca_tls_config tls;         /* optional TLS */
    struct cli_ops_config operations; /* /metrics and /healthz (listen NULL: none) */
};

static const struct config_enum levels[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO},
                                            {"warn", LOG_WARN},   {"error", LOG_ERROR},
                                            {"off", LOG_OFF},     {NULL, 0}};

static const struct config_field tls_fields[] = {{.key = "cert",
                                                  .type = CONFIG_PATH,
                                                  .offset = offsetof(struct ca_tls_config, cert),
                                                  .required = true,
                                                  .relative = true,
                                                  .help = "PEM certificate chain of the server"},
                                                 {.key = "key",
                                                  .type = CONFIG_PATH,
                                                  .offset = offsetof(struct ca_tls_config, key),
                                                  .required = true,
                                                  .relative = true,
                                                  .help = "PEM private key of that certificate"},
                                                 {.key = NULL}};
static const struct config_schema tls_schema = {"tls", sizeof(struct ca_tls_config), tls_fields};

static const struct config_field ca_fields[] = {
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = offsetof(struct ca_config, listen),
     .required = true,
     .help = "address to serve stele.CA on"},
    {.key = "dir",
     .type = CONFIG_PATH,
     .offset = offsetof(struct ca_config, dir),
     .required = true,
     .relative = true,
     .help = "CA directory created by 'stele-ca init'"},
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = offsetof(struct ca_config, name),
     .umax = 128,
     .help = "CA name (default: the one given at init)"},
    {.key = "validity",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct ca_config, validity_ms),
     .def = "365d",
     .umin = 1000,
     .umax = 4294967295000ull,
     .help = "default certificate validity"},
    {.key = "max_enrollments",
     .type = CONFIG_UINT64,
     .offset = offsetof(struct ca_config, max_enrollments),
     .def = "1",
     .umin = 1,
     .umax = 1000000,
     .help = "default number of enrolments per id"},
    {.key = "pbkdf2_iterations",
     .type = CONFIG_UINT64,
     .offset = offsetof(struct ca_config, pbkdf2_iterations),
     .def = "100000",
     .umin = 1,
     .umax = 100000000,
     .help = "PBKDF2 iterations for secrets chosen by an admin"},
    {.key = "attempt_limit",
     .type = CONFIG_UINT64,
     .offset = offsetof(struct ca_config, attempt_limit),
     .def = "5",
     .umin = 1,
     .umax = 1000,
     .help = "consecutive wrong secrets before an id is locked"},
    {.key = "lockout",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct ca_config, lockout_ms),
     .def = "15m",
     .umin = 1,
     .help = "how long a locked id stays locked"},
    {.key = "crl_validity",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct ca_config, crl_validity_ms),
     .def = "24h",
     .umin = 1000,
     .help = "lifetime of a published CRL (next_update - this_update)"},
    {.key = "reenroll_grace",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct ca_config, reenroll_grace_ms),
     .def = "7d",
     .help = "how long after expiry an identity may still reenrol"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = offsetof(struct ca_config, log_level),
     .def = "info",
     .enums = levels,
     .help = "least severe level logged"},
    {.key = "tls",
     .type = CONFIG_MAP,
     .offset = offsetof(struct ca_config, tls),
     .sub = &tls_schema,
     .help = "serve over TLS (optional)"},
    {.key = "operations",
     .type = CONFIG_MAP,
     .offset = offsetof(struct ca_config, operations),
     .sub = &cli_ops_schema,
     .help = "the operations endpoint, GET /metrics and /healthz over plain HTTP (absent: "
             "none; docs/METRICS.md)"},
    {.key = NULL}};
static const struct config_schema ca_schema = {"ca", sizeof(struct ca_config), ca_fields};

static const char serve_help[] =
    "Usage: stele-ca serve --dir DIR --listen HOST:PORT\n"
    "       stele-ca serve --config FILE\n"
    "       stele-ca serve --check FILE\n"
    "\n"
    "Runs the CA: stele.CA (RegisterIdentity, Enroll, Reenroll, Revoke, GetCRL, GetInfo),\n"
    "grpc.health.v1.Health and stele.Node/Info. SIGTERM or SIGINT stop it cleanly.\n"
    "\n"
    "  --dir DIR          CA directory created by 'stele-ca init'\n"
    "  --listen HOST:PORT address to listen on (overrides the config's)\n"
    "  --config FILE      YAML configuration (see configs/ca.yaml)\n"
    "  --check FILE       parse and validate FILE, check that its dir holds a CA (run\n"
    "                     'stele-ca init' first), print the settings, exit (0 valid, 1 not)\n"
    "  --json             with --check: print the result as JSON\n"
    "\n"
    "Configuration keys:\n";

static void settings_from_config(const struct ca_config *c, struct ca_settings *s)
{
    s->validity_s = c->validity_ms / 1000;
    s->max_enrollments = (uint32_t)c->max_enrollments;
    s->pbkdf2_iterations = (uint32_t)c->pbkdf2_iterations;
    s->attempt_limit = (uint32_t)c->attempt_limit;
    s->lockout_ms = c->lockout_ms;
    s->crl_validity_s = c->crl_validity_ms / 1000;
    s->reenroll_grace_s = c->reenroll_grace_ms / 1000;
}

struct ca_ops {
    struct ca *ca;
    struct rpc_server *srv;
    atomic_bool stopping; /* a signal came: it drains */
};

static int collect(void *arg, struct buf *out)
{
    struct ca_ops *o = arg;
    return ca_metrics(o->ca, o->srv, out);
}

static bool healthy(void *arg, char *why, size_t len)
{
    struct ca_ops *o = arg;
    if (atomic_load(&o->stopping)) {
        snprintf(why, len, "stopping");
        return false;
    }
    if (registry_failed(o->ca->reg)) {
        snprintf(why, len,
                 "the registry failed on the disk: the CA stores, and so issues, nothing until a "
                 "write succeeds; see the log, then restart the CA");
        return false;
    }
    return true;
}

/* Serves until SIGTERM/SIGINT. The signals are blocked before any thread starts and taken
 * with sigwait(), so no handler runs inside library code. */
static int run(const struct ca_config *c, const char *listen)
{
    struct ca_settings set;
    struct ca *ca = NULL;
    struct rpc_server *srv = NULL;
    struct rpc_health *health = NULL;
    struct rpc_node_service *node = NULL;
    struct ops_server *ops = NULL;
    char *err = NULL;
    int rc, exit_code = CLI_EXIT_INTERNAL;

    sig_block_termination(); /* before any thread starts: see lib/base/signals.h */
    log_set_level((enum log_level)c->log_level);
    settings_from_config(c, &set);
    if ((rc = ca_open(c->dir, &set, &ca, &err)) != STELE_OK) {
        exit_code = cli_fail("stele-ca serve", rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (c->name) {
        free(ca->name);
        ca->name = strdup(c->name);
    }
    /* Handlers wait on the disk (a synced write per request): more workers than cores. */
    struct rpc_server_opts o = {.listen = listen, .component = "ca", .workers = 16};
    o.tls.cert_file = c->tls.cert;
    o.tls.key_file = c->tls.key;
    int trc = rpc_tls_check(&o.tls, true, o.component, &err);
    if (trc) {
        exit_code = cli_fail("stele-ca serve", trc, "%s", err ? err : stele_strerror(trc));
        goto out;
    }
    srv = rpc_server_create(&o, &err);
    health = rpc_health_create();
    node = rpc_node_service_create(ca->name ? ca->name : "stele-ca", "ca");
    if (!srv || !health || !node || !ca->name) {
        exit_code = cli_fail("stele-ca serve", STELE_ERR_INTERNAL, "cannot create the server: %s",
                             err ? err : "out of memory");
        goto out;
    }
    if (rpc_health_register(health, srv) != STELE_OK ||
        rpc_node_service_register(node, srv) != STELE_OK ||
        ca_service_register(ca, srv) != STELE_OK || rpc_health_set(health, "stele.CA", true)) {
        exit_code = cli_fail("stele-ca serve", STELE_ERR_INTERNAL, "cannot register services");
        goto out;
    }
    if ((rc = rpc_server_start(srv, &err)) != STELE_OK) {
        exit_code = cli_fail("stele-ca serve", STELE_ERR_UNAVAILABLE, "cannot listen on %s: %s",
                             listen, err ? err : stele_strerror(rc));
        goto out;
    }
    struct ca_ops co = {.ca = ca, .srv = srv};
    struct ops_server_opts so = {.listen = c->operations.listen,
                                 .component = "ca-ops",
                                 .collect = collect,
                                 .health = healthy,
                                 .arg = &co};
    if (c->operations.listen && (rc = ops_server_start(&so, &ops, &err)) != STELE_OK) {
        exit_code = cli_fail("stele-ca serve", rc, "%s", err);
        rpc_server_stop(srv, 0);
        goto out;
    }
    log_info("ca", "CA \"%s\" (id %llu) serving on %s", ca->name, (unsigned long long)ca->ca_id,
             listen);
    int sig = sig_wait_termination();
    log_info("ca", "received %s; stopping",
             sig == SIGTERM  ? "SIGTERM"
             : sig == SIGINT ? "SIGINT"
                             : "SIGHUP");
    atomic_store(&co.stopping, true); /* /healthz answers 503 "stopping" while it drains */
    rpc_health_shutdown(health);
    rpc_server_stop(srv, 2000);
    exit_code = CLI_EXIT_OK;
out:
    ops_server_stop(ops); /* before the server and CA its collector reads */
    rpc_server_destroy(srv);
    rpc_health_destroy(health);
    rpc_node_service_destroy(node);
    ca_close(ca);
    free(err);
    return exit_code;
}

/* --check: `dir` must hold a CA made by 'stele-ca init' (its ca.key). Returns STELE_OK, or
 * STELE_ERR_NOT_FOUND with *errmsg saying which directory and to run init. */
static int check_ca_dir(const char *dir, char **errmsg)
{
    char path[4096];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return stele_errf(errmsg, STELE_ERR_NOT_FOUND,
                          "dir %s: no such directory; create the CA with 'stele-ca init --dir "
                          "%s' first",
                          dir, dir);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if (access(path, F_OK) != 0)
        return stele_errf(errmsg, STELE_ERR_NOT_FOUND,
                          "dir %s holds no CA (no ca.key); create it with 'stele-ca init --dir "
                          "%s' first",
                          dir, dir);
    return STELE_OK;
}

/* `--check FILE --json`: {"file", "ok", and the settings or "error"}. */
static void print_check_json(const char *file, const struct ca_config *c, const char *err)
{
    struct buf out = {0};
    struct json j;
    json_init(&j, &out);
    json_object_begin(&j);
    json_kv_string(&j, "file", file);
    json_kv_bool(&j, "ok", c != NULL);
    if (c) {
        json_kv_string(&j, "listen", c->listen);
        json_kv_string(&j, "dir", c->dir);
        json_kv_string(&j, "name", c->name);
        json_kv_uint(&j, "validity_s", c->validity_ms / 1000);
        json_kv_uint(&j, "max_enrollments", c->max_enrollments);
        json_kv_uint(&j, "pbkdf2_iterations", c->pbkdf2_iterations);
        json_kv_uint(&j, "attempt_limit", c->attempt_limit);
        json_kv_uint(&j, "lockout_ms", c->lockout_ms);
        json_kv_uint(&j, "crl_validity_s", c->crl_validity_ms / 1000);
        json_kv_uint(&j, "reenroll_grace_s", c->reenroll_grace_ms / 1000);
        json_kv_string(&j, "log_level", levels[c->log_level].name);
        json_kv_bool(&j, "tls", c->tls.cert != NULL);
        json_kv_string(&j, "operations", c->operations.listen);
    } else {
        json_kv_string(&j, "error", err ? err : "cannot load");
    }
    json_object_end(&j);
    json_finish(&j);
    printf("%s\n", out.data ? (char *)out.data : "null");
    buf_release(&out);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"check", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *listen = NULL, *file = NULL;
    bool check = false, json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'c':
            file = optarg;
            break;
        case 'k':
            file = optarg;
            check = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(serve_help, stdout);
            config_print_help(&ca_schema, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage("stele-ca serve", "unknown or incomplete option '%s'",
                             argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage("stele-ca serve", "unexpected argument '%s'", argv[optind]);
    if (!file && (!dir || !listen))
        return cli_usage("stele-ca serve", "give --dir DIR --listen HOST:PORT, or --config FILE");
    if (listen && !config_addr_valid(listen, strlen(listen)))
        return cli_usage("stele-ca serve", "--listen: expected HOST:PORT, got \"%s\"", listen);

    struct ca_config cfg;
    struct config *loaded = NULL;
    char *err = NULL;
    int rc;
    if (file) {
        rc = config_load_file(&ca_schema, &cfg, file, &loaded, &err);
    } else {
        /* No file: the defaults, with the two required keys from the flags. */
        char yaml[8192];
        snprintf(yaml, sizeof yaml, "listen: \"%s\"\ndir: \"%s\"\n", listen, dir);
        rc = strchr(dir, '"') || strchr(dir, '\\')
                 ? STELE_ERR_CONFIG
                 : config_load_buffer(&ca_schema, &cfg, yaml, strlen(yaml), "(flags)", &loaded,
                                      &err);
    }
    if (rc == STELE_OK && dir)
        cfg.dir = (char *)dir;
    if (rc == STELE_OK && check)
        rc = check_ca_dir(cfg.dir, &err);
    if (check && json) {
        print_check_json(file, rc == STELE_OK ? &cfg : NULL, err);
    } else if (rc != STELE_OK) {
        fprintf(stderr, "%s\n", err ? err : stele_strerror(rc));
    }
    if (rc != STELE_OK) {
        free(err);
        config_destroy(loaded);
        /* A bad or missing file is the operator's to fix: refused (1), not internal (3). */
        return rc == STELE_ERR_NOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_REFUSED;
    }
    if (check) {
        if (!json) {
            printf("%s: configuration OK\n", file);
            config_print(&ca_schema, &cfg, stdout);
        }
        config_destroy(loaded);
        return CLI_EXIT_OK;
    }
    int code = run(&cfg, listen ? listen : cfg.listen);
    config_destroy(loaded);
    return code;
}
