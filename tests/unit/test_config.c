/* test_config.c — the schema-driven YAML loader: golden good files checked field by field,
 * golden broken files checked against their exact one-line message, the summary and limits. */
#include "testutil.h"

#include "base/status.h"
#include "config/config.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a realistic daemon schema ---- */

enum { LVL_DEBUG = 10, LVL_INFO = 20, LVL_WARN = 30, LVL_ERROR = 40 };

struct t_timeouts {
    uint64_t dial_ms;    /* connect timeout */
    uint64_t request_ms; /* per-request timeout */
    uint64_t idle_ms;    /* idle connection close; 0 = never */
};

struct t_tls {
    char *cert;         /* certificate path */
    char *key;          /* key path */
    char *key_password; /* secret */
    bool client_auth;   /* require client certificates */
};

struct t_org {
    char *name;     /* organisation name */
    char *msp_id;   /* MSP identifier, may be NULL */
    char **ca_keys; /* CA public keys */
    size_t n_ca_keys;
};

/* A peer-like daemon's configuration: one member per CONFIG_* type. */
struct t_daemon {
    char *node_id;              /* bounded string */
    char *listen;               /* host:port */
    int log_level;              /* enum LVL_* */
    char *data_dir;             /* path relative to the file, with a default */
    uint64_t max_message_size;  /* byte size with bounds */
    int64_t workers;            /* bounded int64 */
    bool metrics;               /* bool */
    uint64_t max_block_txs;     /* bounded uint64 */
    struct t_timeouts timeouts; /* nested map with defaults */
    struct t_tls tls;           /* optional nested map with required keys and a secret */
    struct t_org *orgs;         /* list of maps */
    size_t n_orgs;              /* entries in orgs */
    char **bootstrap;           /* list of strings */
    size_t n_bootstrap;         /* entries in bootstrap */
};

static const struct config_enum t_levels[] = {
    {"debug", LVL_DEBUG}, {"info", LVL_INFO}, {"warn", LVL_WARN}, {"error", LVL_ERROR}, {NULL, 0},
};

static const struct config_field t_timeout_fields[] = {
    {.key = "dial",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct t_timeouts, dial_ms),
     .def = "500ms",
     .umin = 1,
     .help = "how long to wait for a connection"},
    {.key = "request",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct t_timeouts, request_ms),
     .def = "5s",
     .umin = 1,
     .umax = 3600000,
     .help = "how long one request may take"},
    {.key = "idle",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct t_timeouts, idle_ms),
     .def = "5m",
     .help = "close idle connections after this; 0 = never"},
    {.key = NULL},
};
static const struct config_schema t_timeouts_schema = {"timeouts", sizeof(struct t_timeouts),
                                                       t_timeout_fields};

static const struct config_field t_tls_fields[] = {
    {.key = "cert",
     .type = CONFIG_PATH,
     .offset = offsetof(struct t_tls, cert),
     .required = true,
     .relative = true,
     .help = "PEM certificate chain"},
    {.key = "key",
     .type = CONFIG_PATH,
     .offset = offsetof(struct t_tls, key),
     .required = true,
     .relative = true,
     .help = "PEM private key"},
    {.key = "key_password",
     .type = CONFIG_STRING,
     .offset = offsetof(struct t_tls, key_password),
     .secret = true,
     .help = "password of the private key"},
    {.key = "client_auth",
     .type = CONFIG_BOOL,
     .offset = offsetof(struct t_tls, client_auth),
     .def = "false",
     .help = "require client certificates"},
    {.key = NULL},
};
static const struct config_schema t_tls_schema = {"tls", sizeof(struct t_tls), t_tls_fields};

static const struct config_field t_org_fields[] = {
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = offsetof(struct t_org, name),
     .required = true,
     .umin = 1,
     .help = "organisation name"},
    {.key = "msp_id",
     .type = CONFIG_STRING,
     .offset = offsetof(struct t_org, msp_id),
     .help = "MSP identifier"},
    {.key = "ca_keys",
     .type = CONFIG_STRING_LIST,
     .offset = offsetof(struct t_org, ca_keys),
     .count_offset = offsetof(struct t_org, n_ca_keys),
     .help = "CA public keys, base64 DER"},
    {.key = NULL},
};
static const struct config_schema t_org_schema = {"organisation", sizeof(struct t_org),
                                                  t_org_fields};

static const struct config_field t_daemon_fields[] = {
    {.key = "node_id",
     .type = CONFIG_STRING,
     .offset = offsetof(struct t_daemon, node_id),
     .required = true,
     .umin = 1,
     .umax = 64,
     .help = "unique name of this node"},
    {.key = "listen",
     .type = CONFIG_ADDR,
     .offset = offsetof(struct t_daemon, listen),
     .required = true,
     .help = "address to serve gRPC on"},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = offsetof(struct t_daemon, log_level),
     .def = "info",
     .enums = t_levels,
     .help = "least severe level logged"},
    {.key = "data_dir",
     .type = CONFIG_PATH,
     .offset = offsetof(struct t_daemon, data_dir),
     .def = "data",
     .relative = true,
     .help = "where the ledger is stored"},
    {.key = "max_message_size",
     .type = CONFIG_SIZE,
     .offset = offsetof(struct t_daemon, max_message_size),
     .def = "4MiB",
     .umin = 1024,
     .umax = 64 << 20,
     .help = "largest gRPC message accepted"},
    {.key = "workers",
     .type = CONFIG_INT64,
     .offset = offsetof(struct t_daemon, workers),
     .def = "4",
     .min = 1,
     .max = 64,
     .help = "worker threads"},
    {.key = "metrics",
     .type = CONFIG_BOOL,
     .offset = offsetof(struct t_daemon, metrics),
     .help = "serve Prometheus metrics"},
    {.key = "max_block_txs",
     .type = CONFIG_UINT64,
     .offset = offsetof(struct t_daemon, max_block_txs),
     .def = "500",
     .umax = 100000,
     .help = "transactions per block"},
    {.key = "timeouts",
     .type = CONFIG_MAP,
     .offset = offsetof(struct t_daemon, timeouts),
     .sub = &t_timeouts_schema,
     .help = "network timeouts"},
    {.key = "tls",
     .type = CONFIG_MAP,
     .offset = offsetof(struct t_daemon, tls),
     .sub = &t_tls_schema,
     .help = "TLS for the listener"},
    {.key = "organisations",
     .type = CONFIG_MAP_LIST,
     .offset = offsetof(struct t_daemon, orgs),
     .count_offset = offsetof(struct t_daemon, n_orgs),
     .required = true,
     .umin = 1,
     .sub = &t_org_schema,
     .help = "organisations of the network"},
    {.key = "bootstrap",
     .type = CONFIG_STRING_LIST,
     .offset = offsetof(struct t_daemon, bootstrap),
     .count_offset = offsetof(struct t_daemon, n_bootstrap),
     .help = "peers to contact first"},
    {.key = NULL},
};
static const struct config_schema t_daemon_schema = {"daemon", sizeof(struct t_daemon),
                                                     t_daemon_fields};

/* ---- helpers ---- */

#define DATA_DIR "tests/data/config"

/* Loads DATA_DIR/rel with config_load_file; returns the status, the config and message. */
static int load_rel(const char *rel, struct t_daemon *d, struct config **cfg, char **err,
                    char **pathp)
{
    char name[256];
    snprintf(name, sizeof name, DATA_DIR "/%s", rel);
    char *path = test_source_path(name);
    int rc = config_load_file(&t_daemon_schema, d, path, cfg, err);
    if (pathp)
        *pathp = path;
    else
        free(path);
    return rc;
}

/* Returns everything `print` wrote for `d`, malloc'd. */
static char *summary_of(const struct config_schema *s, const void *d,
                        int (*print)(const struct config_schema *, const void *, FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(print(s, d, f), STELE_OK);
    fclose(f);
    return text;
}

static int print_help_adapter(const struct config_schema *s, const void *d, FILE *f)
{
    (void)d;
    return config_print_help(s, f);
}

/* ---- good files ---- */

static void good_full_every_field(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg = NULL;
    char *err = NULL, *path = NULL;
    int rc = load_rel("good/full.yaml", &d, &cfg, &err, &path);
    if (rc != STELE_OK)
        fail_msg("%s", err);
    assert_null(err);
    assert_non_null(cfg);

    assert_string_equal(d.node_id, "peer0.org1");
    assert_string_equal(d.listen, "127.0.0.1:7051");
    assert_int_equal(d.log_level, LVL_DEBUG);
    /* Relative paths resolve against the directory of the path as given. */
    char want[1024];
    snprintf(want, sizeof want, "%.*s/data/peer0", (int)(strrchr(path, '/') - path), path);
    assert_string_equal(d.data_dir, want);
    assert_int_equal(d.max_message_size, 4 << 20);
    assert_int_equal(d.workers, 8);
    assert_true(d.metrics);
    assert_int_equal(d.max_block_txs, 1000);
    assert_int_equal(d.timeouts.dial_ms, 500);
    assert_int_equal(d.timeouts.request_ms, 2000);
    assert_int_equal(d.timeouts.idle_ms, 60000);
    snprintf(want, sizeof want, "%.*s/tls/peer0.crt", (int)(strrchr(path, '/') - path), path);
    assert_string_equal(d.tls.cert, want);
    assert_string_equal(d.tls.key, "/etc/stele/tls/peer0.key");
    assert_string_equal(d.tls.key_password, "hunter2");
    assert_true(d.tls.client_auth);
    assert_int_equal(d.n_orgs, 2);
    assert_string_equal(d.orgs[0].name, "Org1");
    assert_string_equal(d.orgs[0].msp_id, "Org1MSP");
    assert_int_equal(d.orgs[0].n_ca_keys, 2);
    assert_string_equal(d.orgs[0].ca_keys[0], "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1");
    assert_string_equal(d.orgs[0].ca_keys[1], "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2");
    assert_string_equal(d.orgs[1].name, "Org2");
    assert_string_equal(d.orgs[1].msp_id, "Org2MSP");
    assert_int_equal(d.orgs[1].n_ca_keys, 1);
    assert_string_equal(d.orgs[1].ca_keys[0], "k3");
    assert_int_equal(d.n_bootstrap, 2);
    assert_string_equal(d.bootstrap[0], "orderer0.example.com:7050");
    assert_string_equal(d.bootstrap[1], "[::1]:7050");
    config_destroy(cfg);
    free(path);
}

static void good_minimal_defaults(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg = NULL;
    char *err = NULL, *path = NULL;
    int rc = load_rel("good/minimal.yaml", &d, &cfg, &err, &path);
    if (rc != STELE_OK)
        fail_msg("%s", err);
    assert_string_equal(d.node_id, "n1");
    assert_string_equal(d.listen, "[::]:0");
    assert_int_equal(d.log_level, LVL_INFO);
    char want[1024];
    snprintf(want, sizeof want, "%.*s/data", (int)(strrchr(path, '/') - path), path);
    assert_string_equal(d.data_dir, want);
    assert_int_equal(d.max_message_size, 4 << 20);
    assert_int_equal(d.workers, 4);
    assert_false(d.metrics);
    assert_int_equal(d.max_block_txs, 500);
    assert_int_equal(d.timeouts.dial_ms, 500);
    assert_int_equal(d.timeouts.request_ms, 5000);
    assert_int_equal(d.timeouts.idle_ms, 300000);
    /* An absent optional map gets its defaults; its required keys are not demanded. */
    assert_null(d.tls.cert);
    assert_null(d.tls.key);
    assert_null(d.tls.key_password);
    assert_false(d.tls.client_auth);
    assert_int_equal(d.n_orgs, 1);
    assert_string_equal(d.orgs[0].name, "Solo");
    assert_null(d.orgs[0].msp_id);
    assert_int_equal(d.orgs[0].n_ca_keys, 0);
    assert_null(d.orgs[0].ca_keys);
    assert_int_equal(d.n_bootstrap, 0);
    assert_null(d.bootstrap);
    config_destroy(cfg);
    free(path);
}

static void good_flow_style_and_nulls(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg = NULL;
    char *err = NULL;
    int rc = load_rel("good/flow.yaml", &d, &cfg, &err, NULL);
    if (rc != STELE_OK)
        fail_msg("%s", err);
    assert_string_equal(d.node_id, "ca");
    assert_string_equal(d.listen, "ca.local:7054");
    assert_int_equal(d.log_level, LVL_WARN);
    assert_string_equal(d.data_dir, "/var/lib/stele/ca");
    assert_int_equal(d.max_message_size, 512000);
    assert_int_equal(d.workers, 4); /* null: the default */
    assert_int_equal(d.timeouts.dial_ms, 3600000);
    assert_int_equal(d.timeouts.request_ms, 1500);
    assert_int_equal(d.timeouts.idle_ms, 0);
    assert_null(d.tls.cert);
    assert_int_equal(d.n_orgs, 2);
    assert_string_equal(d.orgs[0].name, "OrdererOrg");
    assert_int_equal(d.orgs[0].n_ca_keys, 0);
    assert_string_equal(d.orgs[1].name, "Org 2");
    assert_int_equal(d.orgs[1].n_ca_keys, 2);
    assert_string_equal(d.orgs[1].ca_keys[0], "a");
    assert_string_equal(d.orgs[1].ca_keys[1], "b");
    config_destroy(cfg);
}

/* ---- bad files: every tests/data/config/bad/NAME.yaml has NAME.expected ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Loads one broken file both ways and compares the message with the golden one. The expected
 * file holds the message for the file named "NAME.yaml"; from a path the prefix is the dir. */
static void check_bad(const char *dir, const char *file)
{
    char path[1024], exp_path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(exp_path, sizeof exp_path, "%.*s.expected", (int)(strlen(path) - 5), path);
    struct t_daemon d;
    struct config *cfg = (struct config *)&d; /* must be reset to NULL */
    char *err = NULL;
    int rc = config_load_file(&t_daemon_schema, &d, path, &cfg, &err);
    assert_int_equal(rc, STELE_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(err);
    char *expected = test_read_file(exp_path, NULL);
    if (!expected)
        fail_msg("missing %s; the message is:\n%s", exp_path, err);
    expected[strcspn(expected, "\n")] = 0;
    char *want = malloc(strlen(dir) + strlen(expected) + 2);
    sprintf(want, "%s/%s", dir, expected);
    if (strcmp(err, want) != 0)
        fail_msg("%s\n  got:  %s\n  want: %s", file, err, want);
    /* Nothing leaks into the struct on failure. */
    static const struct t_daemon zero;
    assert_memory_equal(&d, &zero, sizeof d);
    free(err);
    free(want);

    /* The buffer entry point says the same with the name it is given. */
    size_t len;
    char *text = test_read_file(path, &len);
    rc = config_load_buffer(&t_daemon_schema, &d, text, len, file, &cfg, &err);
    assert_int_equal(rc, STELE_ERR_CONFIG);
    if (strcmp(err, expected) != 0)
        fail_msg("%s (buffer)\n  got:  %s\n  want: %s", file, err, expected);
    free(err);
    free(text);
    free(expected);
}

static void bad_files_golden_messages(void **state)
{
    (void)state;
    char *dir = test_source_path(DATA_DIR "/bad");
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dh)) != NULL) {
        if (!ends_with(de->d_name, ".yaml"))
            continue;
        check_bad(dir, de->d_name);
        n++;
    }
    closedir(dh);
    free(dir);
    assert_true(n >= 12);
}

/* ---- limits and I/O ---- */

static void size_cap_and_missing_file(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg;
    char *err;
    size_t len = CONFIG_MAX_SIZE + 1;
    char *big = malloc(len);
    memset(big, '#', len); /* one huge comment: valid YAML, too large */
    assert_int_equal(config_load_buffer(&t_daemon_schema, &d, big, len, "big.yaml", &cfg, &err),
                     STELE_ERR_CONFIG);
    assert_string_equal(err, "big.yaml: larger than the 1048576-byte limit");
    free(err);

    char *tmp = test_tmpdir("config");
    char path[512];
    snprintf(path, sizeof path, "%s/big.yaml", tmp);
    assert_int_equal(test_write_file(path, big, len), 0);
    assert_int_equal(config_load_file(&t_daemon_schema, &d, path, &cfg, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "big.yaml: larger than the 1048576-byte limit"));
    free(err);
    free(big);

    snprintf(path, sizeof path, "%s/absent.yaml", tmp);
    assert_int_equal(config_load_file(&t_daemon_schema, &d, path, &cfg, &err), STELE_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "absent.yaml: cannot open: No such file or directory"));
    free(err);
    /* errmsg may be NULL when the caller only wants the status. */
    assert_int_equal(config_load_file(&t_daemon_schema, &d, path, &cfg, NULL), STELE_ERR_NOT_FOUND);
    /* a path through a file is not there either */
    snprintf(path, sizeof path, "%s/big.yaml/x.yaml", tmp);
    assert_int_equal(config_load_file(&t_daemon_schema, &d, path, &cfg, NULL), STELE_ERR_NOT_FOUND);
    test_rmtree(tmp);
    free(tmp);
}

static void empty_document_reports_missing_keys(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg;
    char *err;
    assert_int_equal(config_load_buffer(&t_daemon_schema, &d, NULL, 0, "e.yaml", &cfg, &err),
                     STELE_ERR_CONFIG);
    assert_string_equal(err, "e.yaml:1:1: missing required key \"node_id\"");
    free(err);
    static const char doc[] = "---\n...\n";
    assert_int_equal(
        config_load_buffer(&t_daemon_schema, &d, doc, sizeof doc - 1, "e.yaml", &cfg, &err),
        STELE_ERR_CONFIG);
    assert_string_equal(err, "e.yaml:1:1: missing required key \"node_id\"");
    free(err);
}

static void node_count_cap(void **state)
{
    (void)state;
    struct t_daemon d;
    struct config *cfg;
    char *err;
    /* 100001 one-byte scalars fit well under the size cap but not under the node cap. */
    size_t items = CONFIG_MAX_NODES + 1, len = 0;
    char *doc = malloc(16 + 2 * items);
    len += (size_t)sprintf(doc, "bootstrap: [");
    for (size_t i = 0; i < items; i++)
        len += (size_t)sprintf(doc + len, "a,");
    doc[len - 1] = ']';
    assert_int_equal(config_load_buffer(&t_daemon_schema, &d, doc, len, "n.yaml", &cfg, &err),
                     STELE_ERR_CONFIG);
    assert_non_null(strstr(err, ": more than 100000 YAML nodes"));
    assert_true(strncmp(err, "n.yaml:1:", 9) == 0);
    free(err);
    free(doc);
}

static void bad_default_is_schema_error(void **state)
{
    (void)state;
    struct one {
        uint64_t t;
    } o;
    static const struct config_field fields[] = {
        {.key = "t", .type = CONFIG_DURATION, .offset = 0, .def = "10 parsecs"},
        {.key = NULL},
    };
    static const struct config_schema s = {"one", sizeof(struct one), fields};
    struct config *cfg;
    char *err;
    assert_int_equal(config_load_buffer(&s, &o, "{}", 2, "x.yaml", &cfg, &err), STELE_ERR_INVALID);
    assert_string_equal(err, "x.yaml: schema error: default \"10 parsecs\" of t is not a duration "
                             "(e.g. 500ms, 2s, 1m)");
    free(err);
}

/* ---- summary ---- */

static void summary_matches_golden_and_hides_secrets(void **state)
{
    (void)state;
    char *path = test_source_path(DATA_DIR "/good/full.yaml");
    char *golden_path = test_source_path(DATA_DIR "/good/full.summary");
    size_t len;
    char *text = test_read_file(path, &len);
    char *golden = test_read_file(golden_path, NULL);
    assert_non_null(text);
    assert_non_null(golden);
    struct t_daemon d;
    struct config *cfg;
    char *err = NULL;
    int rc = config_load_buffer(&t_daemon_schema, &d, text, len, "configs/full.yaml", &cfg, &err);
    if (rc != STELE_OK)
        fail_msg("%s", err);
    char *out = summary_of(&t_daemon_schema, &d, config_print);
    assert_string_equal(out, golden);
    assert_null(strstr(out, "hunter2"));
    free(out);

    out = summary_of(&t_daemon_schema, &d, print_help_adapter);
    assert_non_null(strstr(out, "log_level (one of debug|info|warn|error, default info): least "
                                "severe level logged\n"));
    assert_non_null(strstr(out, "tls.key_password (string, secret): password"));
    assert_non_null(strstr(out, "organisations[].ca_keys (list of strings): "));
    free(out);

    config_destroy(cfg);
    config_destroy(NULL);
    free(text);
    free(golden);
    free(path);
    free(golden_path);
}

/* ---- value syntax ---- */

static void value_parsers(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(config_parse_duration("250ms", 5, &v), STELE_OK);
    assert_int_equal(v, 250);
    assert_int_equal(config_parse_duration("3h", 2, &v), STELE_OK);
    assert_int_equal(v, 3 * 3600 * 1000);
    assert_int_equal(config_parse_duration("2d", 2, &v), STELE_OK);
    assert_int_equal(v, 2 * 86400000ull);
    assert_int_equal(config_parse_duration("0", 1, &v), STELE_OK);
    assert_int_equal(v, 0);
    assert_int_equal(config_parse_duration("5", 1, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_duration("1.5s", 4, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_duration("s", 1, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_duration("99999999999999999d", 18, &v), STELE_ERR_INVALID);

    assert_int_equal(config_parse_size("1048576", 7, &v), STELE_OK);
    assert_int_equal(v, 1048576);
    assert_int_equal(config_parse_size("4MiB", 4, &v), STELE_OK);
    assert_int_equal(v, 4 << 20);
    assert_int_equal(config_parse_size("512KB", 5, &v), STELE_OK);
    assert_int_equal(v, 512000);
    assert_int_equal(config_parse_size("7B", 2, &v), STELE_OK);
    assert_int_equal(v, 7);
    assert_int_equal(config_parse_size("4mib", 4, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_size("-1", 2, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_size("18446744073709551616", 20, &v), STELE_ERR_INVALID);
    assert_int_equal(config_parse_size("20000000TiB", 11, &v), STELE_ERR_INVALID);

    static const char *good[] = {"localhost:1",           "127.0.0.1:7050", "[::1]:443",
                                 "a-b.example.org:65535", "0.0.0.0:0",      "[fe80::1]:8"};
    static const char *bad[] = {
        "localhost", "localhost:", ":7050",       "host:65536", "::1:80",  "-a.b:1",      "a..b:1",
        "[::1]",     "[zz]:1",     "1.2.3.999:1", "a_b:1",      "host:1x", "host:123456", "[]:1"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!config_addr_valid(good[i], strlen(good[i])))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (config_addr_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted %s", bad[i]);
}

/* ---- positions of maps, for checks across keys ---- */

struct t_item {
    char *name;
    struct config_pos pos;
};
struct t_placed {
    struct t_item inner; /* a map that may be absent */
    struct t_item *items;
    size_t n_items;
};
static const struct config_field t_item_fields[] = {
    {.key = "name", .type = CONFIG_STRING, .offset = offsetof(struct t_item, name)},
    {.key = NULL},
};
static const struct config_schema t_item_schema = {"item", sizeof(struct t_item), t_item_fields};
static const struct config_field t_placed_fields[] = {
    {.key = "inner",
     .type = CONFIG_MAP,
     .offset = offsetof(struct t_placed, inner),
     .sub = &t_item_schema,
     .has_pos = true,
     .pos_offset = offsetof(struct t_item, pos)},
    {.key = "items",
     .type = CONFIG_MAP_LIST,
     .offset = offsetof(struct t_placed, items),
     .count_offset = offsetof(struct t_placed, n_items),
     .sub = &t_item_schema,
     .has_pos = true,
     .pos_offset = offsetof(struct t_item, pos)},
    {.key = NULL},
};
static const struct config_schema t_placed_schema = {"placed", sizeof(struct t_placed),
                                                     t_placed_fields};

static void map_positions_and_errors_at_them(void **state)
{
    (void)state;
    static const char doc[] = "# comment\n"
                              "items:\n"
                              "  - name: a\n"
                              "  - {name: b}\n"
                              "inner:\n"
                              "    name: c\n";
    struct t_placed p;
    struct config *cfg = NULL;
    char *err = NULL;
    assert_int_equal(
        config_load_buffer(&t_placed_schema, &p, doc, strlen(doc), "p.yaml", &cfg, &err), STELE_OK);
    assert_int_equal(p.n_items, 2);
    assert_int_equal(p.items[0].pos.line, 3);
    assert_int_equal(p.items[0].pos.col, 5);
    assert_int_equal(p.items[1].pos.line, 4);
    assert_int_equal(p.items[1].pos.col, 5);
    assert_int_equal(p.inner.pos.line, 6);
    assert_int_equal(p.inner.pos.col, 5);
    assert_int_equal(config_error_at(&err, "p.yaml", p.items[1].pos, "items[1]: %s", "bad"),
                     STELE_ERR_CONFIG);
    assert_string_equal(err, "p.yaml:4:5: items[1]: bad");
    free(err);
    config_destroy(cfg);

    /* An absent map has no position: its keys took their defaults. */
    assert_int_equal(config_load_buffer(&t_placed_schema, &p, "items: []", 9, "q.yaml", &cfg, &err),
                     STELE_OK);
    assert_int_equal(p.inner.pos.line, 0);
    assert_int_equal(config_error_at(&err, "q.yaml", p.inner.pos, "inner: missing"),
                     STELE_ERR_CONFIG);
    assert_string_equal(err, "q.yaml: inner: missing");
    free(err);
    config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_full_every_field),
        cmocka_unit_test(good_minimal_defaults),
        cmocka_unit_test(good_flow_style_and_nulls),
        cmocka_unit_test(bad_files_golden_messages),
        cmocka_unit_test(size_cap_and_missing_file),
        cmocka_unit_test(empty_document_reports_missing_keys),
        cmocka_unit_test(node_count_cap),
        cmocka_unit_test(bad_default_is_schema_error),
        cmocka_unit_test(summary_matches_golden_and_hides_secrets),
        cmocka_unit_test(value_parsers),
        cmocka_unit_test(map_positions_and_errors_at_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
