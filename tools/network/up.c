/*
 * up.c — `stele-network up`: create the CA, enrol every identity, write the network's genesis
 * block (netgenesis.h) and each orderer's configuration, start the daemons and wait until each
 * is healthy.
 *
 * DIR/network.json is written after each process starts, so `down` can stop whatever a failed
 * `up` left running; a failed `up` stops what it started itself.
 */
#include "cmds.h"
#include "netconfig.h"
#include "netgenesis.h"
#include "procs.h"

#include "base/text.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/key.h"
#include "crypto/tlscert.h"
#include "identity/caclient.h"
#include "netfile/netfile.h"
#include "pb/pb.h"
#include "stele/ca.pb-c.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROG "stele-network up"

static const char up_usage[] =
    "Usage: stele-network up --dir DIR [--config FILE] [--base-port P] [--wait S] [--json]\n"
    "\n"
    "Creates and starts the network FILE describes (default configs/network.yaml) under DIR:\n"
    "the CA (DIR/ca), every identity enrolled (DIR/ids/<id>), the genesis block every orderer\n"
    "starts from (DIR/genesis.block: organisations and their CA key, orderers with keys and\n"
    "addresses, consensus, batch parameters, chaincode definitions), each orderer's\n"
    "configuration and block store (DIR/<orderer>/), logs and pid files (DIR/<name>.log,\n"
    ".pid), and DIR/network.json that --network DIR of other programs reads.\n"
    "  --base-port P  move every port of the file to P .. P+49\n"
    "  --wait S       seconds each daemon may take to become healthy (default 20)\n"
    "  --json         print one JSON object: CA url, orderers, identities dir, pids\n"
    "Refuses a DIR that already holds a network; stop it with 'stele-network down'.\n";

/* What up works with. */
struct up {
    const char *dir;                                     /* the network directory */
    struct netconfig *nc;                                /* the description */
    struct netfile nf;                                   /* what network.json records */
    struct netfile_process procs[NETCONFIG_MAX_REBASED]; /* nf.processes */
    char strings[NETCONFIG_MAX_REBASED][4][72];          /* names (ids: 64), logs, pid, exit */
    uint64_t wait_ms;                                    /* health wait per daemon */
    struct rpc_channel *ca;                              /* channel to the CA */
    struct rpc_tls tls;                                  /* how up dials the daemons */
    char tls_paths[3][PATH_MAX];                         /* tls's files */
    struct enrolment admin;                              /* the CA admin */
};

/* Refuses a DIR that holds a network or anything else; creates it (*created then true). */
static int prepare_dir(const char *dir, bool *created)
{
    struct netfile nf;
    struct config *cc = NULL;
    if (netfile_load(dir, &nf, &cc, NULL) == STELE_OK) {
        int64_t alive = 0; /* a pid given to another process since is not the network's */
        for (size_t i = 0; i < nf.n_processes && !alive; i++)
            if (net_process_runs(dir, &nf.processes[i]))
                alive = nf.processes[i].pid;
        config_destroy(cc);
        if (alive)
            return cli_fail(PROG, STELE_ERR_EXISTS,
                            "%s already holds a running network (pid %lld is alive); stop it "
                            "with 'stele-network down --dir %s'",
                            dir, (long long)alive, dir);
        return cli_fail(PROG, STELE_ERR_EXISTS,
                        "%s already holds a stopped network; remove it or choose another --dir",
                        dir);
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d)))
            n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        closedir(d);
        if (n)
            return cli_fail(PROG, STELE_ERR_EXISTS, "%s is not empty; give a new or empty --dir",
                            dir);
    } else if (mkdir(dir, 0755) != 0) {
        /* a --dir that is a file, or under no directory or one we may not write: the
         * operator's to mend (1); only a failing disk is worth trying again (3) */
        int e = errno;
        bool input = e == EEXIST || e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM ||
                     e == EROFS || e == ELOOP || e == ENAMETOOLONG;
        return cli_fail(PROG, input ? STELE_ERR_INVALID : STELE_ERR_IO, "cannot create %s: %s", dir,
                        strerror(e));
    } else {
        *created = true;
    }
    return 0;
}

/* Refuses a network one of whose ports another process holds, before anything starts: its
 * daemon could not serve, and the other process could answer its health check instead. */
static int check_ports(const struct netconfig *nc)
{
    const char *bad = NULL;
    char key[64] = "ca.listen";
    if (procs_addr_in_use(nc->ca.listen))
        bad = nc->ca.listen;
    else if (nc->ca.operations && procs_addr_in_use(nc->ca.operations)) {
        bad = nc->ca.operations;
        snprintf(key, sizeof key, "ca.operations");
    }
    for (size_t i = 0; !bad && i < nc->n_orderers; i++) {
        const char *ops = nc->orderers[i].operations;
        if (procs_addr_in_use(nc->orderers[i].listen)) {
            bad = nc->orderers[i].listen;
            snprintf(key, sizeof key, "orderers[%zu].listen", i);
        } else if (ops && procs_addr_in_use(ops)) {
            bad = ops;
            snprintf(key, sizeof key, "orderers[%zu].operations", i);
        }
    }
    for (size_t i = 0; !bad && i < nc->n_peers; i++) {
        const char *ops = nc->peers[i].operations;
        if (procs_addr_in_use(nc->peers[i].listen)) {
            bad = nc->peers[i].listen;
            snprintf(key, sizeof key, "peers[%zu].listen", i);
        } else if (ops && procs_addr_in_use(ops)) {
            bad = ops;
            snprintf(key, sizeof key, "peers[%zu].operations", i);
        }
    }
    return bad ? cli_fail(PROG, STELE_ERR_STATE,
                          "%s %s: another process listens on that port; stop it or move the "
                          "network with --base-port",
                          key, bad)
               : 0;
}

/* 0, or, once a termination signal has arrived, the exit status 128 + its number (said once). */
static int stopped(void)
{
    static bool said;
    int sig = procs_signal;
    if (!sig)
        return 0;
    if (!said)
        fprintf(stderr, PROG ": interrupted by signal %d (%s)\n", sig, strsignal(sig));
    said = true;
    return 128 + sig;
}

/* Records a started process in network.json. */
static int add_process(struct up *u, const char *name, const char *kind, const char *url,
                       const char *ops_url, pid_t pid)
{
    size_t i = u->nf.n_processes++;
    struct netfile_process *p = &u->procs[i];
    snprintf(u->strings[i][0], sizeof u->strings[i][0], "%s", name);
    snprintf(u->strings[i][1], sizeof u->strings[i][1], "%s.log", name);
    snprintf(u->strings[i][2], sizeof u->strings[i][2], "%s.pid", name);
    snprintf(u->strings[i][3], sizeof u->strings[i][3], "%s.exit", name);
    *p = (struct netfile_process){.name = u->strings[i][0],
                                  .kind = (char *)kind,
                                  .url = (char *)url,
                                  .ops_url = (char *)ops_url,
                                  .pid = pid,
                                  .log = u->strings[i][1],
                                  .pid_file = u->strings[i][2],
                                  .exit_file = u->strings[i][3]};
    int rc = netfile_write(u->dir, &u->nf);
    return rc ? cli_fail(PROG, rc, "cannot write %s/%s", u->dir, NETFILE_NAME) : 0;
}

/* Starts `argv` as process `name` and waits until it serves `url` (and its operations endpoint
 * `ops_url`, NULL: none, is recorded). */
static int start(struct up *u, const char *name, const char *kind, const char *url,
                 const char *ops_url, char *const argv[])
{
    char log[PATH_MAX], pidf[PATH_MAX], exitf[PATH_MAX];
    snprintf(log, sizeof log, "%s/%s.log", u->dir, name);
    snprintf(pidf, sizeof pidf, "%s/%s.pid", u->dir, name);
    snprintf(exitf, sizeof exitf, "%s/%s.exit", u->dir, name);
    pid_t pid = 0;
    int rc = procs_start(argv, log, pidf, exitf, &pid);
    if (rc)
        return cli_fail(PROG, rc, "cannot start %s: %s (see %s)", name, stele_strerror(rc), log);
    if ((rc = add_process(u, name, kind, url, ops_url, pid)))
        return rc;
    const char *state;
    struct rpc_result res = {0};
    if (procs_health(url, &u->tls, u->wait_ms, exitf, &state, &res) != STELE_OK)
        return stopped() ? stopped()
                         : cli_fail(PROG, STELE_ERR_UNAVAILABLE,
                                    "%s (pid %d) is %s at %s (%s); see %s", name, (int)pid, state,
                                    url, res.detail[0] ? res.detail : "no answer", log);
    return 0;
}

/* Room for yq() of a name of up to 128 octets (each may become \xNN) or of a host:port (at
 * most 259 octets, none escaped), with its quotes and NUL. */
#define YQ_MAX 600

/* `s` (a name or a host:port) as a YAML scalar in `out`: as it is when that is plain YAML
 * (letters, digits, '.', '_', '-', '/', ':' inside: "stele", "127.0.0.1:7050"), else
 * double-quoted, so that a name with ": ", '#' or quotes, or an IPv6 address ("[::1]:7050"),
 * reaches the daemon's configuration unchanged. Returns `out`. */
static const char *yq(char out[YQ_MAX], const char *s)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "._-/:";
    size_t n = strlen(s), k = 0;
    if (n > 0 && n < YQ_MAX && strspn(s, plain) == n && isalnum((unsigned char)s[0]) &&
        isalnum((unsigned char)s[n - 1]))
        return memcpy(out, s, n + 1);
    out[k++] = '"';
    for (; *s && k + 6 < YQ_MAX; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(out + k, YQ_MAX - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = 0;
    return out;
}

/* The `operations` section of a daemon's configuration, when the network gives it one. */
static void ops_section(struct buf *y, const char *addr)
{
    char q[YQ_MAX];
    if (addr)
        buf_printf(y, "operations:\n  listen: %s\n", yq(q, addr));
}

/* Writes `y` (released here) to the configuration file `path`, creating its directory `dir`
 * first unless NULL. Returns 0 or the exit status, printed. */
static int write_conf(const char *dir, const char *path, struct buf *y)
{
    FILE *f = !dir || mkdir(dir, 0755) == 0 ? fopen(path, "w") : NULL;
    bool ok = f && y->data && fwrite(y->data, 1, y->len, f) == y->len;
    if (f && fclose(f) != 0)
        ok = false;
    buf_release(y);
    return ok ? 0 : cli_fail(PROG, STELE_ERR_IO, "cannot write %s", path);
}

/* Validity of the network's TLS certificates, in days. */
#define TLS_DAYS 825

/* Issues DIR/tls/<file>.crt and .key from the network's TLS CA, named `name`: for a daemon
 * listening on `listen`, valid for its host, localhost and 127.0.0.1 (netconfig refuses
 * wildcard listen addresses with tls); with `listen` NULL, a client-only certificate. */
static int tls_issue(struct up *u, const char *file, const char *name, const char *listen)
{
    char ca_crt[PATH_MAX], ca_key[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], host[256], *err = NULL;
    const char *hosts[3] = {"localhost", "127.0.0.1"};
    size_t n = 2;
    snprintf(ca_crt, sizeof ca_crt, "%s/tls/ca.crt", u->dir);
    snprintf(ca_key, sizeof ca_key, "%s/tls/ca.key", u->dir);
    snprintf(crt, sizeof crt, "%s/tls/%s.crt", u->dir, file);
    snprintf(key, sizeof key, "%s/tls/%s.key", u->dir, file);
    int rc;
    if (listen) {
        const char *colon = strrchr(listen, ':');
        size_t len = colon ? (size_t)(colon - listen) : strlen(listen);
        if (len >= 2 && listen[0] == '[' && listen[len - 1] == ']')
            snprintf(host, sizeof host, "%.*s", (int)(len - 2), listen + 1);
        else
            snprintf(host, sizeof host, "%.*s", (int)len, listen);
        if (host[0] && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0)
            hosts[n++] = host;
        rc = tlscert_issue(ca_crt, ca_key, name, hosts, n, TLS_DAYS, crt, key, &err);
    } else {
        rc = tlscert_issue_client(ca_crt, ca_key, name, TLS_DAYS, crt, key, &err);
    }
    if (rc)
        rc = cli_fail(PROG, rc, "TLS certificate of %s: %s", name, err ? err : stele_strerror(rc));
    free(err);
    return rc;
}

/* With `tls` in the description: the network's TLS CA (DIR/tls/ca.crt, ca.key), a certificate
 * for each daemon (DIR/tls/nodes/<id>.crt and .key; the CA's is DIR/tls/ca-server.*), and, for
 * mutual TLS, a client-only one for the network's clients (DIR/tls/client.*). network.json
 * names the roots and the client certificate for every program that takes --network DIR. */
static int make_tls(struct up *u)
{
    const struct netconfig *nc = u->nc;
    if (nc->tls == NETCONFIG_TLS_NONE)
        return 0;
    char dir[PATH_MAX], key[PATH_MAX], cn[128], *err = NULL;
    snprintf(dir, sizeof dir, "%s/tls", u->dir);
    if (mkdir(dir, 0755) != 0)
        return cli_fail(PROG, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(u->tls_paths[0], PATH_MAX, "%s/tls/ca.crt", u->dir);
    snprintf(key, sizeof key, "%s/tls/ca.key", u->dir);
    snprintf(cn, sizeof cn, "%.57s TLS CA", nc->network); /* a CN holds 64 characters */
    int rc = tlscert_ca_create(u->tls_paths[0], key, cn, TLS_DAYS, &err);
    if (rc) {
        rc = cli_fail(PROG, rc, "TLS CA: %s", err ? err : stele_strerror(rc));
        free(err);
        return rc;
    }
    u->tls.ca_file = u->tls_paths[0];
    u->nf.tls_ca = "tls/ca.crt";
    snprintf(dir, sizeof dir, "%s/tls/nodes", u->dir);
    if (mkdir(dir, 0755) != 0)
        return cli_fail(PROG, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    rc = tls_issue(u, "ca-server", nc->ca.name, nc->ca.listen);
    for (size_t i = 0; rc == 0 && i < nc->n_orderers; i++) {
        snprintf(cn, sizeof cn, "nodes/%s", nc->orderers[i].id);
        rc = tls_issue(u, cn, nc->orderers[i].id, nc->orderers[i].listen);
    }
    for (size_t i = 0; rc == 0 && i < nc->n_peers; i++) {
        snprintf(cn, sizeof cn, "nodes/%s", nc->peers[i].id);
        rc = tls_issue(u, cn, nc->peers[i].id, nc->peers[i].listen);
    }
    if (rc == 0 && nc->tls == NETCONFIG_TLS_MUTUAL &&
        (rc = tls_issue(u, "client", "clients", NULL)) == 0) {
        snprintf(u->tls_paths[1], PATH_MAX, "%s/tls/client.crt", u->dir);
        snprintf(u->tls_paths[2], PATH_MAX, "%s/tls/client.key", u->dir);
        u->tls.cert_file = u->tls_paths[1];
        u->tls.key_file = u->tls_paths[2];
        u->nf.tls_cert = "tls/client.crt";
        u->nf.tls_key = "tls/client.key";
    }
    return rc;
}

/* The `tls` section of the configuration of orderer or peer `id` (in DIR/<id>/): its
 * certificate, the roots of the others' (which it dials), and for mutual TLS the CA its
 * clients' certificates must come from. Empty without TLS. */
static void tls_section(const struct up *u, struct buf *y, const char *id)
{
    if (u->nc->tls == NETCONFIG_TLS_NONE)
        return;
    buf_printf(y,
               "tls:\n  cert: ../tls/nodes/%s.crt\n  key: ../tls/nodes/%s.key\n"
               "  root_ca: ../tls/ca.crt\n",
               id, id);
    if (u->nc->tls == NETCONFIG_TLS_MUTUAL)
        buf_printf(y, "  client_ca: ../tls/ca.crt\n");
}

/* stele-ca init, then the CA's config file and the CA itself. */
static int start_ca(struct up *u, char *secret, size_t secret_len)
{
    char ca[PATH_MAX + 16], cadir[PATH_MAX], conf[PATH_MAX];
    procs_sibling("stele-ca", ca, sizeof ca);
    snprintf(cadir, sizeof cadir, "%s/ca", u->dir);
    snprintf(conf, sizeof conf, "%s/ca.yaml", u->dir);
    char *init[] = {ca,       "init",
                    "--dir",  cadir,
                    "--name", u->nc->ca.name,
                    "--org",  (char *)netconfig_ca_org(u->nc),
                    "--json", NULL};
    struct buf out;
    buf_init(&out);
    int st = procs_run(init, &out);
    const char *s = st == 0 && buf_append_byte(&out, 0) == 0
                        ? strstr((char *)out.data, "\"admin_secret\":\"")
                        : NULL;
    if (s) {
        s += strlen("\"admin_secret\":\"");
        snprintf(secret, secret_len, "%.*s", (int)strcspn(s, "\""), s);
    }
    buf_release_secure(&out);
    if (!s)
        return cli_fail(PROG, STELE_ERR_INTERNAL, "%s init --dir %s failed (status %d)", ca, cadir,
                        st);
    struct buf y;
    char q[2][YQ_MAX];
    buf_init(&y);
    buf_printf(&y, "# Written by stele-network up.\nlisten: %s\ndir: ca\nname: %s\nlog_level: %s\n",
               yq(q[0], u->nc->ca.listen), yq(q[1], u->nc->ca.name),
               netconfig_level_name(u->nc->ca.log_level));
    ops_section(&y, u->nc->ca.operations);
    if (u->nc->tls != NETCONFIG_TLS_NONE) /* never mutual: those enrolling have no certificate */
        buf_printf(&y, "tls:\n  cert: tls/ca-server.crt\n  key: tls/ca-server.key\n");
    int rc = write_conf(NULL, conf, &y);
    if (rc)
        return rc;
    char *serve[] = {ca, "serve", "--config", conf, NULL};
    return start(u, "ca", "ca", u->nc->ca.listen, u->nc->ca.operations, serve);
}

/* Registers `id` (unless it is the CA admin) and enrols it into DIR/ids/<id>. */
static int enrol(struct up *u, const char *id, const char *org, const char *role,
                 char *const *attrs, size_t n_attrs, const char *admin_secret)
{
    char path[PATH_MAX], *err = NULL;
    struct rpc_result res = {0};
    Stele__RegisterResponse *resp = NULL;
    struct caclient_enrolled en = {0};
    const char *secret = admin_secret;
    int rc;
    if ((rc = stopped()))
        return rc;
    snprintf(path, sizeof path, "%s/ids/%s", u->dir, id);
    if ((rc = enrolment_prepare_dir(path, false, &err))) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (!admin_secret) {
        Stele__Attribute a[32], *ap[32];
        Stele__RegisterRequest req = STELE__REGISTER_REQUEST__INIT;
        req.id = (char *)id;
        req.org = (char *)org;
        req.role = (char *)role;
        char kv[32][NETCONFIG_ATTR_KEY_MAX + NETCONFIG_ATTR_VALUE_MAX + 2]; /* checked: no cut */
        for (size_t i = 0; i < n_attrs && i < 32; i++) {
            snprintf(kv[i], sizeof kv[i], "%s", attrs[i]);
            char *eq = strchr(kv[i], '=');
            *eq = 0;
            stele__attribute__init(&a[i]);
            a[i].key = kv[i];
            a[i].value = eq + 1;
            ap[i] = &a[i];
        }
        req.n_attributes = n_attrs;
        req.attributes = ap;
        if ((rc = caclient_signed_call(u->ca, &u->admin, "/stele.CA/RegisterIdentity", &req.base,
                                       &stele__register_response__descriptor,
                                       (ProtobufCMessage **)&resp, &res))) {
            rc =
                cli_fail(PROG, rc, "register %s: %s (%s)", id, res.detail, rpc_code_name(res.code));
            goto out;
        }
        secret = resp->secret;
    }
    if ((rc = caclient_enroll(u->ca, id, secret, NULL, &en, &res, &err)) ||
        (rc = caclient_save(&en, path, &err))) {
        rc = cli_fail(PROG, rc, "enrol %s: %s", id, err ? err : res.detail);
        goto out;
    }
    if (admin_secret && (rc = enrolment_load(path, &u->admin, &err)))
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
out:
    free(err);
    caclient_enrolled_release(&en);
    pb_free(resp ? &resp->base : NULL);
    return rc;
}

/* Enrols the admin, each organisation's admin and every identity. */
static int enrol_all(struct up *u, const char *admin_secret)
{
    const struct netconfig *nc = u->nc;
    char *err = NULL;
    struct rpc_channel_opts co = {.timeout_ms = 10000, .tls = u->tls};
    if (!(u->ca = rpc_channel_open(nc->ca.listen, &co, &err))) {
        int rc = cli_fail(PROG, STELE_ERR_INVALID, "%s", err ? err : nc->ca.listen);
        free(err);
        return rc;
    }
    int rc = enrol(u, "admin", NULL, NULL, NULL, 0, admin_secret);
    for (size_t i = 0; rc == 0 && i < nc->n_orgs; i++)
        if (nc->orgs[i].admin)
            rc = enrol(u, nc->orgs[i].admin, nc->orgs[i].name, "admin", NULL, 0, NULL);
    for (size_t i = 0; rc == 0 && i < nc->n_identities; i++) {
        const struct netconfig_identity *id = &nc->identities[i];
        rc = enrol(u, id->id, id->org, id->role, id->attrs, id->n_attrs, NULL);
    }
    return rc;
}

/* Writes DIR/genesis.block, the channel configuration every orderer starts from. */
static int write_genesis(struct up *u)
{
    char path[PATH_MAX], *err = NULL;
    uint8_t ca_pub[CRYPTO_POINT_COMPRESSED_LEN];
    snprintf(path, sizeof path, "%s/genesis.block", u->dir);
    crypto_key_public_compressed(u->admin.ca_pub, ca_pub);
    int rc = netgenesis_write(u->nc, u->dir, ca_pub, path, &err);
    if (rc)
        rc = cli_fail(PROG, rc, "cannot build the genesis block: %s",
                      err ? err : stele_strerror(rc));
    free(err);
    return rc;
}

/* Writes DIR/<id>/orderer.yaml and starts the orderer. Its channel, consensus, batch
 * parameters and the organisations it trusts come from DIR/genesis.block. */
static int start_orderer(struct up *u, const struct netconfig_orderer *o)
{
    const struct netconfig *nc = u->nc;
    char odir[PATH_MAX], conf[PATH_MAX + 16], prog[PATH_MAX + 16];
    snprintf(odir, sizeof odir, "%s/%s", u->dir, o->id);
    snprintf(conf, sizeof conf, "%s/orderer.yaml", odir);
    procs_sibling("stele-orderer", prog, sizeof prog);
    struct buf y;
    char q[2][YQ_MAX];
    buf_init(&y);
    buf_printf(&y,
               "# Written by stele-network up from the network description. The batch\n"
               "# parameters and the organisations whose CA keys are trusted (no\n"
               "# membership.cas) come from the network's genesis block.\n"
               "node_id: %s\nlisten: %s\ndata_dir: data\nidentity_dir: ../ids/%s\n"
               "channel_id: %s\ngenesis_file: ../genesis.block\nlog_level: %s\n"
               "fsync: %s\nscheduler: %s\nconsensus:\n  type: %s\n  batch_delay: %llums\n",
               o->id, yq(q[0], o->listen), o->id, yq(q[1], nc->channel.id),
               netconfig_level_name(o->log_level), netconfig_fsync_name(o->fsync),
               netconfig_scheduler_name(o->scheduler), nc->channel.consensus.type,
               (unsigned long long)o->batch_delay_ms);
    ops_section(&y, o->operations);
    tls_section(u, &y, o->id);
    int rc = write_conf(odir, conf, &y);
    if (rc)
        return rc;
    char *serve[] = {prog, "serve", "--config", conf, NULL};
    return start(u, o->id, "orderer", o->listen, o->operations, serve);
}

/* The organisation of identity `id`, or NULL. */
static const char *identity_org(const struct netconfig *nc, const char *id)
{
    for (size_t i = 0; i < nc->n_identities; i++)
        if (strcmp(nc->identities[i].id, id) == 0)
            return nc->identities[i].org;
    return NULL;
}

/* Writes DIR/<id>/peer.yaml and starts the peer. It joins the channel from DIR/genesis.block
 * and pulls blocks from the orderers the genesis block lists. */
static int start_peer(struct up *u, const struct netconfig_peer *p)
{
    const struct netconfig *nc = u->nc;
    char pdir[PATH_MAX], conf[PATH_MAX + 16], prog[PATH_MAX + 16];
    snprintf(pdir, sizeof pdir, "%s/%s", u->dir, p->id);
    snprintf(conf, sizeof conf, "%s/peer.yaml", pdir);
    procs_sibling("stele-peer", prog, sizeof prog);
    struct buf y;
    char q[2][YQ_MAX];
    buf_init(&y);
    buf_printf(&y,
               "# Written by stele-network up from the network description. The channel's\n"
               "# organisations, their CAs, the orderers to pull blocks from and the chaincode\n"
               "# definitions come from the network's genesis block. The gateway asks the\n"
               "# peers of the other organisations for endorsements.\n"
               "peer_id: %s\nlisten: %s\ndata_dir: data\nidentity_dir: ../ids/%s\n"
               "channel_id: %s\ngenesis_file: ../genesis.block\nlog_level: %s\nfsync: %s\n"
               "scheduler: %s\ngateway:\n  peers:%s\n",
               p->id, yq(q[0], p->listen), p->id, yq(q[1], nc->channel.id),
               netconfig_level_name(p->log_level), netconfig_fsync_name(p->fsync),
               netconfig_scheduler_name(p->scheduler), nc->n_peers > 1 ? "" : " []");
    for (size_t i = 0; i < nc->n_peers; i++) {
        const char *org = identity_org(nc, nc->peers[i].id);
        if (&nc->peers[i] != p && org)
            buf_printf(&y, "    - {org: %s, address: %s}\n", yq(q[0], org),
                       yq(q[1], nc->peers[i].listen));
    }
    ops_section(&y, p->operations);
    tls_section(u, &y, p->id);
    int rc = write_conf(pdir, conf, &y);
    if (rc)
        return rc;
    char *serve[] = {prog, "serve", "--config", conf, NULL};
    return start(u, p->id, "peer", p->listen, p->operations, serve);
}

/* JSON array of the processes of one kind. */
static void json_procs(struct json *j, const struct up *u, const char *kind)
{
    json_key(j, strcmp(kind, "peer") == 0 ? "peers" : "orderers");
    json_array_begin(j);
    for (size_t i = 0; i < u->nf.n_processes; i++)
        if (strcmp(u->procs[i].kind, kind) == 0) {
            json_object_begin(j);
            json_kv_string(j, "id", u->procs[i].name);
            json_kv_string(j, "url", u->procs[i].url);
            if (u->procs[i].ops_url)
                json_kv_string(j, "operations", u->procs[i].ops_url);
            json_object_end(j);
        }
    json_array_end(j);
}

/* Prints the endpoints, or the JSON object. */
static void print_up(const struct up *u, bool json)
{
    if (!json) {
        printf("network %s is up in %s (channel %s, %s)\n", u->nf.network, u->dir, u->nf.channel_id,
               u->nf.consensus);
        for (size_t i = 0; i < u->nf.n_processes; i++) {
            printf("  %-10s %-8s %-22s pid %lld  log %s/%s\n", u->procs[i].name, u->procs[i].kind,
                   u->procs[i].url, (long long)u->procs[i].pid, u->dir, u->procs[i].log);
            if (u->procs[i].ops_url)
                printf("  %-10s %-8s http://%s/metrics\n", "", "", u->procs[i].ops_url);
        }
        printf("  identities %s/ids (admin: %s/ids/admin)\n", u->dir, u->dir);
        if (u->nf.tls_ca)
            printf("  tls        %s: roots %s/%s\n", u->nf.tls_cert ? "mutual" : "server", u->dir,
                   u->nf.tls_ca);
        if (u->nf.tls_cert)
            printf("             client certificate %s/%s, key %s/%s\n", u->dir, u->nf.tls_cert,
                   u->dir, u->nf.tls_key);
        return;
    }
    struct buf b;
    struct json j;
    char ids[PATH_MAX];
    snprintf(ids, sizeof ids, "%s/ids", u->dir);
    buf_init(&b);
    json_init(&j, &b);
    json_object_begin(&j);
    json_kv_string(&j, "network", u->nf.network);
    json_kv_string(&j, "dir", u->dir);
    json_kv_string(&j, "channel_id", u->nf.channel_id);
    json_kv_string(&j, "ca_url", u->nf.ca_url);
    json_procs(&j, u, "orderer");
    json_procs(&j, u, "peer");
    json_kv_string(&j, "identities_dir", ids);
    json_kv_string(&j, "tls", u->nf.tls_ca ? (u->nf.tls_cert ? "mutual" : "server") : "none");
    json_key(&j, "pids");
    json_object_begin(&j);
    for (size_t i = 0; i < u->nf.n_processes; i++)
        json_kv_int(&j, u->procs[i].name, u->procs[i].pid);
    json_object_end(&j);
    json_object_end(&j);
    printf("%s\n", (char *)b.data);
    buf_release(&b);
}

/* The whole of `s` as a decimal number into *out; false when it is not one. */
static bool parse_number(const char *s, long *out)
{
    uint64_t v;
    if (!text_parse_u64(s, strlen(s), &v) || v > LONG_MAX)
        return false;
    *out = (long)v;
    return true;
}

/* Stops the daemons up started (a step failed, or a signal came): SIGTERM, up to 10 s for each
 * keeper to record how its daemon ended, then SIGKILL. Those pids are safe to signal until the
 * exit file appears: each keeper stays our child and reaps its daemon only just before it
 * writes that file. */
static void stop_started(const struct up *u)
{
    char exitf[PATH_MAX];
    struct stat sb;
    size_t n = u->nf.n_processes, left = n;
    fprintf(stderr, PROG ": stopping what was started\n");
    for (size_t i = 0; i < n; i++)
        kill((pid_t)u->procs[i].pid, SIGTERM);
    for (int round = 0; round < 2 && left; round++) {
        uint64_t until = clock_mono_ms() + (round ? 5000 : 10000);
        for (;;) {
            left = 0;
            for (size_t i = 0; i < n; i++) {
                snprintf(exitf, sizeof exitf, "%s/%s", u->dir, u->procs[i].exit_file);
                left += stat(exitf, &sb) != 0 && netfile_pid_alive(u->procs[i].pid);
            }
            if (!left || clock_mono_ms() >= until)
                break;
            clock_sleep_ms(20);
        }
        for (size_t i = 0; round == 0 && left && i < n; i++) {
            snprintf(exitf, sizeof exitf, "%s/%s", u->dir, u->procs[i].exit_file);
            if (stat(exitf, &sb) != 0 && netfile_pid_alive(u->procs[i].pid)) {
                fprintf(stderr, PROG ": warning: %s (pid %lld) did not stop: SIGKILL\n",
                        u->procs[i].name, (long long)u->procs[i].pid);
                kill((pid_t)u->procs[i].pid, SIGKILL);
            }
        }
    }
}

int cmd_up(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"dir", required_argument, NULL, 'd'},
        {"base-port", required_argument, NULL, 'p'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = "configs/network.yaml";
    long base_port = 0, wait_s = 20;
    bool json = false, numbers = true, created = false;
    struct up *u = calloc(1, sizeof *u);
    struct netconfig nc;
    struct config *cc = NULL;
    char *rebased[NETCONFIG_MAX_REBASED] = {0}, *err = NULL, secret[256] = "";
    int ch, rc = CLI_EXIT_INTERNAL;
    if (!u)
        return cli_fail(PROG, STELE_ERR_NOMEM, "out of memory");
    optind = 1;
    while ((ch = cli_getopt(PROG, argc, argv, "c:d:p:w:jh", longopts)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            u->dir = optarg;
            break;
        case 'p':
            numbers = parse_number(optarg, &base_port) && numbers;
            break;
        case 'w':
            numbers = parse_number(optarg, &wait_s) && numbers;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(up_usage, stdout);
            free(u);
            return CLI_EXIT_OK;
        default:
            free(u);
            return cli_bad_option(PROG);
        }
    }
    if (optind < argc || !u->dir || !numbers || wait_s < 1 || wait_s > 600 ||
        (base_port && (base_port < 1024 || base_port > 65535 - NETCONFIG_PORT_SPAN))) {
        free(u);
        return cli_usage(PROG, "give --dir DIR (and --base-port 1024..65485, --wait 1..600)");
    }
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    if ((rc = netconfig_load(config, &nc, &cc, &err))) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (base_port && netconfig_rebase(&nc, (uint64_t)base_port, rebased) != STELE_OK) {
        rc = cli_usage(PROG, "--base-port %ld moves a port out of range", base_port);
        goto out;
    }
    procs_catch_signals();
    if ((rc = prepare_dir(u->dir, &created)))
        goto out;
    if ((rc = check_ports(&nc))) {
        if (created)
            rmdir(u->dir);
        goto out;
    }
    u->nc = &nc;
    u->wait_ms = (uint64_t)wait_s * 1000;
    u->nf = (struct netfile){.network = nc.network,
                             .channel_id = nc.channel.id,
                             .consensus = nc.channel.consensus.type,
                             .ca_url = nc.ca.listen,
                             .ids_dir = "ids",
                             .admin = "ids/admin",
                             .processes = u->procs};
    if ((rc = make_tls(u)) || (rc = start_ca(u, secret, sizeof secret)) ||
        (rc = enrol_all(u, secret)) || (rc = stopped()) || (rc = write_genesis(u)))
        goto out;
    for (size_t i = 0; rc == 0 && i < nc.n_orderers; i++)
        if (!(rc = start_orderer(u, &nc.orderers[i])))
            rc = stopped();
    for (size_t i = 0; rc == 0 && i < nc.n_peers; i++)
        if (!(rc = start_peer(u, &nc.peers[i])))
            rc = stopped();
    if (rc == 0)
        print_up(u, json);
out:
    if (rc && u->nf.n_processes)
        stop_started(u);
    explicit_bzero(secret, sizeof secret);
    rpc_channel_close(u->ca);
    enrolment_release(&u->admin);
    netconfig_rebase_free(rebased);
    config_destroy(cc);
    free(err);
    free(u);
    return rc;
}
