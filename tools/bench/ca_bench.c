/*
 * ca_bench.c — `stele-bench ca`: identities per second end to end, and what they cost.
 *
 * Without --target it creates a CA in a temporary directory with the `stele-ca` next to this
 * program and serves it on 127.0.0.1. Then, with --clients threads on one channel:
 *   register_N  admin-signed RegisterIdentity calls (generated secrets) for half the duration;
 *   enroll_N    the whole enrolment of each registered id: k_U and R_U made locally, Enroll,
 *               ECQV reception and the check of the CA-signed record (the headline);
 * followed by the per-operation costs of the cryptography on one thread (crypto_bench.c)
 * beside `openssl speed ecdsap256`. Client and CA share the machine's cores, as in the tests.
 */
#include "bench.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/caclient.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/ca.pb-c.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_crypto_ops(double secs, struct bench_result out[5]); /* crypto_bench.c */
void bench_openssl_speed(char *out, size_t n);

static const char ca_usage[] =
    "Usage: stele-bench ca [--duration S] [--clients N] [--json]\n"
    "\n"
    "Starts a CA (stele-ca init + serve in a temporary directory), registers ids and enrols\n"
    "them over gRPC with N concurrent clients, then measures ECDSA sign/verify and ECQV\n"
    "extraction, generation and reception on one thread, beside `openssl speed ecdsap256`.\n"
    "  --duration S   seconds for registration, and for each cryptographic operation (default 3)\n"
    "  --clients N    concurrent clients (default 16)\n"
    "  --json         print one JSON object\n";

#define MAX_IDS 200000

struct ca_run {
    struct rpc_channel *ch;
    struct enrolment admin;
    char **ids, **secrets;
    atomic_int next; /* next id index to take */
    int count;       /* ids registered */
    uint64_t end_ns; /* registration stops here */
    struct bench_result *r;
    pthread_mutex_t mu; /* guards r */
};

static void merge(struct ca_run *run, const struct bench_result *mine)
{
    pthread_mutex_lock(&run->mu);
    run->r->ops += mine->ops;
    run->r->errors += mine->errors;
    hist_merge(&run->r->lat, &mine->lat);
    pthread_mutex_unlock(&run->mu);
}

static void *register_worker(void *arg)
{
    struct ca_run *run = arg;
    struct bench_result *mine = calloc(1, sizeof *mine);
    while (clock_mono_ns() < run->end_ns) {
        int i = atomic_fetch_add(&run->next, 1);
        if (i >= MAX_IDS)
            break;
        char id[64];
        snprintf(id, sizeof id, "bench-%d", i);
        Stele__RegisterRequest req = STELE__REGISTER_REQUEST__INIT;
        req.id = id;
        req.org = "bench";
        req.role = "client";
        ProtobufCMessage *resp = NULL;
        struct rpc_result res;
        uint64_t t0 = clock_mono_ns();
        int rc = caclient_signed_call(run->ch, &run->admin, "/stele.CA/RegisterIdentity", &req.base,
                                      &stele__register_response__descriptor, &resp, &res);
        if (rc == STELE_OK) {
            hist_add(&mine->lat, (clock_mono_ns() - t0) / 1000);
            mine->ops++;
            run->ids[i] = strdup(id);
            run->secrets[i] = strdup(((Stele__RegisterResponse *)resp)->secret);
        } else {
            mine->errors++;
            if (mine->errors == 1)
                fprintf(stderr, "stele-bench: register: %s\n", res.detail);
        }
        pb_free(resp);
    }
    merge(run, mine);
    free(mine);
    return NULL;
}

static void *enroll_worker(void *arg)
{
    struct ca_run *run = arg;
    struct bench_result *mine = calloc(1, sizeof *mine);
    for (;;) {
        int i = atomic_fetch_add(&run->next, 1);
        if (i >= run->count)
            break;
        if (!run->ids[i])
            continue;
        struct caclient_enrolled en;
        struct rpc_result res;
        char *err = NULL;
        uint64_t t0 = clock_mono_ns();
        int rc = caclient_enroll(run->ch, run->ids[i], run->secrets[i], run->admin.ca_pub, &en,
                                 &res, &err);
        if (rc == STELE_OK) {
            hist_add(&mine->lat, (clock_mono_ns() - t0) / 1000);
            mine->ops++;
        } else {
            mine->errors++;
            if (mine->errors == 1)
                fprintf(stderr, "stele-bench: enroll: %s\n", err ? err : res.detail);
        }
        free(err);
        caclient_enrolled_release(&en);
    }
    merge(run, mine);
    free(mine);
    return NULL;
}

static void run_phase(struct ca_run *run, int clients, void *(*fn)(void *), struct bench_result *r)
{
    pthread_t *t = calloc((size_t)clients, sizeof *t);
    run->r = r;
    atomic_store(&run->next, 0);
    uint64_t start = clock_mono_ns();
    for (int i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, fn, run);
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    r->seconds = (double)(clock_mono_ns() - start) / 1e9;
    r->clients = clients;
    free(t);
}

/* The directory of this program, to find stele-ca beside it. */
static void sibling(const char *name, char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if (snprintf(out, n, "%s/%s", slash ? self : ".", name) >= (int)n)
        out[0] = 0; /* too long: callers then fail to execute it and say so */
}

static int free_port(void)
{
    /* A port from the ephemeral range unlikely to be taken; the CA reports if it is. */
    return 20000 + (int)(clock_mono_ns() / 1000 % 20000);
}

/* Creates and starts a CA; fills *pid, the url and the admin secret. */
static int start_ca(const char *dir, char *url, size_t url_len, char *secret, size_t secret_len,
                    pid_t *pid)
{
    char ca[PATH_MAX + 16], cmd[PATH_MAX * 3];
    sibling("stele-ca", ca, sizeof ca);
    snprintf(cmd, sizeof cmd, "'%s' init --dir '%s/ca' --name bench-ca --json", ca, dir);
    FILE *p = popen(cmd, "r");
    char line[1024] = "";
    if (!p || !fgets(line, sizeof line, p)) {
        if (p)
            pclose(p);
        return -1;
    }
    pclose(p);
    const char *s = strstr(line, "\"admin_secret\":\"");
    if (!s)
        return -1;
    s += strlen("\"admin_secret\":\"");
    snprintf(secret, secret_len, "%.*s", (int)strcspn(s, "\""), s);
    snprintf(url, url_len, "127.0.0.1:%d", free_port());
    char cadir[PATH_MAX], log[PATH_MAX];
    snprintf(cadir, sizeof cadir, "%s/ca", dir);
    snprintf(log, sizeof log, "%s/ca.log", dir);
    *pid = fork();
    if (*pid == 0) {
        FILE *l = freopen(log, "w", stderr);
        (void)l;
        execl(ca, ca, "serve", "--dir", cadir, "--listen", url, (char *)NULL);
        _exit(127);
    }
    return rpc_health_wait(url, NULL, "stele.CA", 5000, NULL, NULL, NULL) == RPC_HEALTH_SERVING
               ? 0
               : -1;
}

int bench_ca(int argc, char **argv)
{
    struct bench_opts o = {.duration_s = 3, .clients = 16};
    int rc = bench_parse_common(argc, argv, &o, ca_usage);
    if (rc)
        return rc;
    if (o.target)
        return cli_usage("stele-bench ca", "--target is not supported: the CA is started here");
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    char tmpl[] = "/tmp/stele-bench-ca-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char url[64], secret[128];
    pid_t pid = -1;
    struct ca_run run = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct bench_result *res = calloc(7, sizeof *res);
    int code = CLI_EXIT_INTERNAL;
    if (!dir || start_ca(dir, url, sizeof url, secret, sizeof secret, &pid) != 0) {
        fprintf(stderr, "stele-bench: cannot start stele-ca (see %s/ca.log)\n", dir ? dir : "?");
        goto out;
    }
    run.ch = rpc_channel_open(url, NULL, NULL);
    struct caclient_enrolled admin;
    struct rpc_result rres;
    char *err = NULL;
    if (caclient_enroll(run.ch, "admin", secret, NULL, &admin, &rres, &err) != STELE_OK) {
        fprintf(stderr, "stele-bench: cannot enrol the admin: %s\n", err ? err : rres.detail);
        free(err);
        goto out;
    }
    /* The enrolment struct borrows the admin's keys and record. */
    run.admin.key = admin.key;
    run.admin.ca_pub = admin.ca_pub;
    memcpy(run.admin.cert, admin.cert, sizeof admin.cert);
    run.admin.identity = admin.identity;
    run.ids = calloc(MAX_IDS, sizeof *run.ids);
    run.secrets = calloc(MAX_IDS, sizeof *run.secrets);

    snprintf(res[0].name, sizeof res[0].name, "register_%d", o.clients);
    snprintf(res[0].unit, sizeof res[0].unit, "registrations");
    run.end_ns = clock_mono_ns() + (uint64_t)(o.duration_s / 2 * 1e9);
    run_phase(&run, o.clients, register_worker, &res[0]);
    run.count = atomic_load(&run.next) < MAX_IDS ? atomic_load(&run.next) : MAX_IDS;

    snprintf(res[1].name, sizeof res[1].name, "enroll_%d", o.clients);
    snprintf(res[1].unit, sizeof res[1].unit, "enrolments");
    run_phase(&run, o.clients, enroll_worker, &res[1]);

    if (bench_crypto_ops(o.duration_s / 3, &res[2]) != 0)
        fprintf(stderr, "stele-bench: the cryptographic operations could not run\n");
    char speed[160];
    bench_openssl_speed(speed, sizeof speed);
    char extra[256];
    snprintf(extra, sizeof extra, "\"openssl_speed\":\"%s\"", speed[0] ? speed : "unavailable");
    bench_report("ca", &o, res, 7, 1, extra);
    code = res[0].errors || res[1].errors ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
    caclient_enrolled_release(&admin);
out:
    rpc_channel_close(run.ch);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    for (int i = 0; run.ids && i < MAX_IDS; i++) {
        free(run.ids[i]);
        free(run.secrets[i]);
    }
    free(run.ids);
    free(run.secrets);
    free(res);
    if (dir) {
        char cmd[PATH_MAX];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "stele-bench: could not remove %s\n", dir);
    }
    return code;
}
