/* netfile.c — reading and writing DIR/network.json (see netfile.h). */
#include "netfile.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "config/config.h"
#include "identity/enrolment.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define F(s, m) offsetof(struct s, m)

static const struct config_field process_fields[] = {
    {.key = "name", .type = CONFIG_STRING, .offset = F(netfile_process, name), .required = true},
    {.key = "kind", .type = CONFIG_STRING, .offset = F(netfile_process, kind), .required = true},
    {.key = "url", .type = CONFIG_ADDR, .offset = F(netfile_process, url), .required = true},
    {.key = "operations", .type = CONFIG_ADDR, .offset = F(netfile_process, ops_url)},
    {.key = "pid",
     .type = CONFIG_INT64,
     .offset = F(netfile_process, pid),
     .min = 0,
     .max = INT_MAX},
    {.key = "log", .type = CONFIG_PATH, .offset = F(netfile_process, log), .relative = true},
    {.key = "pid_file",
     .type = CONFIG_PATH,
     .offset = F(netfile_process, pid_file),
     .relative = true},
    {.key = "exit_file",
     .type = CONFIG_PATH,
     .offset = F(netfile_process, exit_file),
     .relative = true},
    {.key = NULL},
};
static const struct config_schema process_schema = {"process", sizeof(struct netfile_process),
                                                    process_fields};

static const struct config_field netfile_fields[] = {
    {.key = "network", .type = CONFIG_STRING, .offset = F(netfile, network), .required = true},
    {.key = "channel_id", .type = CONFIG_STRING, .offset = F(netfile, channel_id)},
    {.key = "consensus", .type = CONFIG_STRING, .offset = F(netfile, consensus)},
    {.key = "ca_url", .type = CONFIG_ADDR, .offset = F(netfile, ca_url), .required = true},
    {.key = "ids_dir",
     .type = CONFIG_PATH,
     .offset = F(netfile, ids_dir),
     .required = true,
     .relative = true},
    {.key = "admin", .type = CONFIG_PATH, .offset = F(netfile, admin), .relative = true},
    {.key = "tls_ca", .type = CONFIG_PATH, .offset = F(netfile, tls_ca), .relative = true},
    {.key = "tls_cert", .type = CONFIG_PATH, .offset = F(netfile, tls_cert), .relative = true},
    {.key = "tls_key", .type = CONFIG_PATH, .offset = F(netfile, tls_key), .relative = true},
    {.key = "processes",
     .type = CONFIG_MAP_LIST,
     .offset = F(netfile, processes),
     .count_offset = F(netfile, n_processes),
     .sub = &process_schema},
    {.key = NULL},
};
static const struct config_schema netfile_schema = {"network file", sizeof(struct netfile),
                                                    netfile_fields};

int netfile_load(const char *dir, struct netfile *out, struct config **cfgp, char **errmsg)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, NETFILE_NAME) >= (int)sizeof path)
        return STELE_ERR_INVALID;
    if (stat(path, &st) != 0) {
        if (errmsg && asprintf(errmsg,
                               "%s holds no network (no %s): start one with "
                               "'stele-network up --dir %s'",
                               dir, NETFILE_NAME, dir) < 0)
            *errmsg = NULL;
        return STELE_ERR_NOT_FOUND;
    }
    return config_load_file(&netfile_schema, out, path, cfgp, errmsg);
}

int netfile_write(const char *dir, const struct netfile *nf)
{
    struct buf b;
    struct json j;
    char path[PATH_MAX];
    buf_init(&b);
    json_init(&j, &b);
    json_object_begin(&j);
    json_kv_string(&j, "network", nf->network);
    json_kv_string(&j, "channel_id", nf->channel_id);
    json_kv_string(&j, "consensus", nf->consensus);
    json_kv_string(&j, "ca_url", nf->ca_url);
    json_kv_string(&j, "ids_dir", nf->ids_dir);
    json_kv_string(&j, "admin", nf->admin);
    if (nf->tls_ca)
        json_kv_string(&j, "tls_ca", nf->tls_ca);
    if (nf->tls_cert && nf->tls_key) {
        json_kv_string(&j, "tls_cert", nf->tls_cert);
        json_kv_string(&j, "tls_key", nf->tls_key);
    }
    json_key(&j, "processes");
    json_array_begin(&j);
    for (size_t i = 0; i < nf->n_processes; i++) {
        const struct netfile_process *p = &nf->processes[i];
        json_object_begin(&j);
        json_kv_string(&j, "name", p->name);
        json_kv_string(&j, "kind", p->kind);
        json_kv_string(&j, "url", p->url);
        if (p->ops_url)
            json_kv_string(&j, "operations", p->ops_url);
        json_kv_int(&j, "pid", p->pid);
        json_kv_string(&j, "log", p->log);
        json_kv_string(&j, "pid_file", p->pid_file);
        json_kv_string(&j, "exit_file", p->exit_file);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
    int rc = json_finish(&j);
    if (rc == STELE_OK)
        rc = buf_append_byte(&b, '\n');
    if (rc == STELE_OK &&
        snprintf(path, sizeof path, "%s/%s", dir, NETFILE_NAME) >= (int)sizeof path)
        rc = STELE_ERR_INVALID;
    if (rc == STELE_OK)
        rc = enrolment_write_file(path, b.data, b.len, 0644);
    buf_release(&b);
    return rc;
}

/* `path` as netfile_load() gave it (DIR/x), relative to DIR again (x). */
static char *unprefixed(const char *dir, char *path)
{
    size_t n = strlen(dir);
    if (path && strncmp(path, dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

int netfile_set_pid(const char *dir, const char *name, int64_t pid, char **errmsg)
{
    struct netfile nf;
    struct config *cc = NULL;
    int rc = netfile_load(dir, &nf, &cc, errmsg);
    if (rc)
        return rc;
    rc = STELE_ERR_NOT_FOUND;
    for (size_t i = 0; i < nf.n_processes; i++) {
        struct netfile_process *p = &nf.processes[i];
        if (strcmp(p->name, name) == 0) {
            p->pid = pid;
            rc = STELE_OK;
        }
        p->log = unprefixed(dir, p->log);
        p->pid_file = unprefixed(dir, p->pid_file);
        p->exit_file = unprefixed(dir, p->exit_file);
    }
    nf.ids_dir = unprefixed(dir, nf.ids_dir);
    nf.admin = unprefixed(dir, nf.admin);
    nf.tls_ca = unprefixed(dir, nf.tls_ca);
    nf.tls_cert = unprefixed(dir, nf.tls_cert);
    nf.tls_key = unprefixed(dir, nf.tls_key);
    if (rc == STELE_OK)
        rc = netfile_write(dir, &nf);
    else if (errmsg && asprintf(errmsg, "the network in %s has no process %s", dir, name) < 0)
        *errmsg = NULL;
    config_destroy(cc);
    return rc;
}

struct rpc_tls netfile_client_tls(const struct netfile *nf)
{
    if (!nf->tls_ca)
        return (struct rpc_tls){0};
    return (struct rpc_tls){.ca_file = nf->tls_ca,
                            .cert_file = nf->tls_key ? nf->tls_cert : NULL,
                            .key_file = nf->tls_cert ? nf->tls_key : NULL};
}

const struct netfile_process *netfile_find(const struct netfile *nf, const char *kind)
{
    for (size_t i = 0; i < nf->n_processes; i++)
        if (strcmp(nf->processes[i].kind, kind) == 0)
            return &nf->processes[i];
    return NULL;
}

bool netfile_pid_alive(int64_t pid)
{
    if (pid <= 0 || pid > INT_MAX)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
