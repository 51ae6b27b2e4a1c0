/* fuzz_config.c — config_load_buffer() on arbitrary bytes with a daemon-like schema (a copy of
 * the one in tests/unit/test_config.c), then config_print() of whatever loaded. */
#include "base/status.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

struct f_tls {
    char *cert;         /* relative path */
    char *key;          /* relative path */
    char *key_password; /* secret */
    bool client_auth;   /* bool */
};

struct f_timeouts {
    uint64_t dial_ms;    /* bounded duration */
    uint64_t request_ms; /* duration */
    uint64_t idle_ms;    /* duration, may be 0 */
};

struct f_org {
    char *name;     /* required string */
    char *msp_id;   /* optional string */
    char **ca_keys; /* list of strings */
    size_t n_ca_keys;
};

struct f_daemon {
    char *node_id;
    char *listen;
    int log_level;
    char *data_dir;
    uint64_t max_message_size;
    int64_t workers;
    bool metrics;
    uint64_t max_block_txs;
    struct f_timeouts timeouts;
    struct f_tls tls;
    struct f_org *orgs;
    size_t n_orgs;
    char **bootstrap;
    size_t n_bootstrap;
};

static const struct config_enum f_levels[] = {
    {"debug", 0}, {"info", 1}, {"warn", 2}, {"error", 3}, {NULL, 0},
};

static const struct config_field f_timeout_fields[] = {
    {.key = "dial",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct f_timeouts, dial_ms),
     .def = "500ms",
     .umin = 1,
     .umax = 3600000},
    {.key = "request",
     .type = CONFIG_DURATION,
     .offset = offsetof(struct f_timeouts, request_ms),
     .def = "5s"},
    {.key = "idle", .type = CONFIG_DURATION, .offset = offsetof(struct f_timeouts, idle_ms)},
    {.key = NULL},
};
static const struct config_schema f_timeouts_schema = {"timeouts", sizeof(struct f_timeouts),
                                                       f_timeout_fields};

static const struct config_field f_tls_fields[] = {
    {.key = "cert",
     .type = CONFIG_PATH,
     .offset = offsetof(struct f_tls, cert),
     .required = true,
     .relative = true},
    {.key = "key",
     .type = CONFIG_PATH,
     .offset = offsetof(struct f_tls, key),
     .required = true,
     .relative = true},
    {.key = "key_password",
     .type = CONFIG_STRING,
     .offset = offsetof(struct f_tls, key_password),
     .secret = true},
    {.key = "client_auth", .type = CONFIG_BOOL, .offset = offsetof(struct f_tls, client_auth)},
    {.key = NULL},
};
static const struct config_schema f_tls_schema = {"tls", sizeof(struct f_tls), f_tls_fields};

static const struct config_field f_org_fields[] = {
    {.key = "name",
     .type = CONFIG_STRING,
     .offset = offsetof(struct f_org, name),
     .required = true,
     .umin = 1},
    {.key = "msp_id", .type = CONFIG_STRING, .offset = offsetof(struct f_org, msp_id)},
    {.key = "ca_keys",
     .type = CONFIG_STRING_LIST,
     .offset = offsetof(struct f_org, ca_keys),
     .count_offset = offsetof(struct f_org, n_ca_keys),
     .umax = 16},
    {.key = NULL},
};
static const struct config_schema f_org_schema = {"organisation", sizeof(struct f_org),
                                                  f_org_fields};

static const struct config_field f_daemon_fields[] = {
    {.key = "node_id",
     .type = CONFIG_STRING,
     .offset = offsetof(struct f_daemon, node_id),
     .required = true,
     .umin = 1,
     .umax = 64},
    {.key = "listen", .type = CONFIG_ADDR, .offset = offsetof(struct f_daemon, listen)},
    {.key = "log_level",
     .type = CONFIG_ENUM,
     .offset = offsetof(struct f_daemon, log_level),
     .def = "info",
     .enums = f_levels},
    {.key = "data_dir",
     .type = CONFIG_PATH,
     .offset = offsetof(struct f_daemon, data_dir),
     .def = "data",
     .relative = true},
    {.key = "max_message_size",
     .type = CONFIG_SIZE,
     .offset = offsetof(struct f_daemon, max_message_size),
     .def = "4MiB",
     .umin = 1024,
     .umax = 64 << 20},
    {.key = "workers",
     .type = CONFIG_INT64,
     .offset = offsetof(struct f_daemon, workers),
     .def = "4",
     .min = 1,
     .max = 64},
    {.key = "metrics", .type = CONFIG_BOOL, .offset = offsetof(struct f_daemon, metrics)},
    {.key = "max_block_txs",
     .type = CONFIG_UINT64,
     .offset = offsetof(struct f_daemon, max_block_txs)},
    {.key = "timeouts",
     .type = CONFIG_MAP,
     .offset = offsetof(struct f_daemon, timeouts),
     .sub = &f_timeouts_schema},
    {.key = "tls",
     .type = CONFIG_MAP,
     .offset = offsetof(struct f_daemon, tls),
     .sub = &f_tls_schema},
    {.key = "organisations",
     .type = CONFIG_MAP_LIST,
     .offset = offsetof(struct f_daemon, orgs),
     .count_offset = offsetof(struct f_daemon, n_orgs),
     .sub = &f_org_schema},
    {.key = "bootstrap",
     .type = CONFIG_STRING_LIST,
     .offset = offsetof(struct f_daemon, bootstrap),
     .count_offset = offsetof(struct f_daemon, n_bootstrap)},
    {.key = NULL},
};
static const struct config_schema f_daemon_schema = {"daemon", sizeof(struct f_daemon),
                                                     f_daemon_fields};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct f_daemon d;
    struct config *cfg = NULL;
    char *err = NULL;
    int rc = config_load_buffer(&f_daemon_schema, &d, data, size, "fuzz/peer.yaml", &cfg, &err);
    if (rc == STELE_OK) {
        /* Walk everything the loader handed out, as --check would. */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            config_print(&f_daemon_schema, &d, f);
            fclose(f);
        }
        free(text);
        if (err)
            abort(); /* success must not leave a message */
    } else if (rc == STELE_ERR_CONFIG && !err) {
        abort(); /* every refusal says why */
    }
    free(err);
    config_destroy(cfg);
    return 0;
}
