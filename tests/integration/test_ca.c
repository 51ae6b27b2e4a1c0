/*
 * test_ca.c — the real stele-ca binary: `init`, then `serve` in a child process on 127.0.0.1,
 * driven through its CLI and over gRPC: enrolment, third-party verification from the record
 * alone, tampering, a second CA, expiry, revocation and the CRL, reenrolment, 32 concurrent
 * enrolments, wrong secrets and lockout, permissions, replays, invalid R_U, and a restart on
 * the same directory.
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/ca.pb-c.h"
#include "stele/common.pb-c.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    char *bin, *tmp, *dir;  /* stele-ca, temp root, CA directory */
    char cfg[512], url[64]; /* config file, HOST:PORT */
    char admin_secret[64];  /* from init --json */
    char hank_secret[64];   /* an id enrolled (to its max) before the restart */
    char pub_hex[80];       /* Q_CA hex from init --json */
    pid_t pid;              /* the serving CA */
    struct rpc_channel *ch; /* to it */
} g;

/* Runs a shell command line (printf-style), capturing stdout and stderr into *out (may be
 * NULL). Returns the exit status. */
static int run(struct buf *out, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        if (out)
            buf_append(out, chunk, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Copies the JSON string or number value of "key" in `doc` into `val`. */
static bool json_get(const char *doc, const char *key, char *val, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = doc ? strstr(doc, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    bool str = *p == '"';
    p += str;
    size_t i = 0;
    while (*p && i + 1 < cap && (str ? *p != '"' : (*p != ',' && *p != '}')))
        val[i++] = *p++;
    val[i] = 0;
    return true;
}

static void start_ca(void)
{
    g.pid = fork();
    assert_true(g.pid >= 0);
    if (g.pid == 0) {
        char log[600];
        snprintf(log, sizeof log, "%s/ca.log", g.tmp);
        if (!freopen(log, "a", stderr))
            _exit(127);
        execl(g.bin, g.bin, "serve", "--config", g.cfg, (char *)NULL);
        _exit(127);
    }
    if (rpc_health_wait(g.url, NULL, "stele.CA", 10000, NULL, NULL, NULL) != RPC_HEALTH_SERVING)
        fail_msg("the CA did not become healthy");
    struct rpc_channel_opts o = {.fail_fast = true};
    rpc_channel_close(g.ch);
    g.ch = rpc_channel_open(g.url, &o, NULL);
    assert_non_null(g.ch);
}

static void stop_ca(void)
{
    rpc_channel_close(g.ch);
    g.ch = NULL;
    kill(g.pid, SIGTERM);
    int st;
    assert_int_equal(waitpid(g.pid, &st, 0), g.pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int group_setup(void **state)
{
    g.bin = test_binary_path("stele-ca");
    g.tmp = test_tmpdir("ca");
    assert_non_null(g.tmp);
    assert_int_equal(asprintf(&g.dir, "%s/ca", g.tmp) > 0, 1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    snprintf(g.url, sizeof g.url, "127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(g.cfg, sizeof g.cfg, "%s/ca.yaml", g.tmp);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "listen: %s\ndir: ca\nname: test-ca\npbkdf2_iterations: 1000\n"
             "attempt_limit: 3\nlockout: 1h\nlog_level: info\n",
             g.url);
    assert_int_equal(test_write_file(g.cfg, yaml, strlen(yaml)), 0);

    struct buf out = {0};
    assert_int_equal(run(&out, "%s init --dir %s --name test-ca --org Org1 --json", g.bin, g.dir),
                     0);
    assert_true(json_get((char *)out.data, "admin_secret", g.admin_secret, sizeof g.admin_secret));
    assert_true(json_get((char *)out.data, "public_key", g.pub_hex, sizeof g.pub_hex));
    buf_release(&out);
    /* A second init on the same directory is refused. */
    assert_int_equal(run(NULL, "%s init --dir %s", g.bin, g.dir), 1);
    start_ca();
    *state = NULL;
    return 0;
}

static int group_teardown(void **state)
{
    stop_ca();
    test_rmtree(g.tmp);
    free(g.tmp);
    free(g.dir);
    free(g.bin);
    return 0;
}

/* `stele-ca register` by the enrolled `as`; returns the exit status, the secret in `secret`. */
static int cli_register(const char *as, const char *id, const char *extra, char *secret, size_t cap)
{
    struct buf out = {0};
    int rc = run(&out, "%s register --url %s --as %s/%s --id %s --org Org1 %s --json", g.bin, g.url,
                 g.tmp, as, id, extra);
    if (rc == 0 && secret)
        assert_true(json_get((char *)out.data, "secret", secret, cap));
    buf_release(&out);
    return rc;
}

static int cli_enroll(const char *id, const char *secret)
{
    return run(NULL, "%s enroll --url %s --id %s --secret %s --out %s/%s", g.bin, g.url, id, secret,
               g.tmp, id);
}

/* Registers and enrols `id` with `role` (and extra register flags). */
static void make_identity(const char *id, const char *role, const char *extra)
{
    char flags[512], secret[128];
    snprintf(flags, sizeof flags, "--role %s %s", role, extra ? extra : "");
    assert_int_equal(cli_register("admin", id, flags, secret, sizeof secret), 0);
    assert_int_equal(cli_enroll(id, secret), 0);
}

/* An MSP trusting only the CA key in ca.pub, as a third party would hold it. */
static struct msp *third_party_msp(void)
{
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/ca.pub", g.dir);
    char *pub = test_read_file(path, &n);
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_from_public((uint8_t *)pub, n, &k), STELE_OK);
    struct msp *m = msp_create(0);
    assert_int_equal(msp_add_ca(m, NULL, 0, k), STELE_OK);
    crypto_key_destroy(k);
    free(pub);
    return m;
}

static void load(const char *name, struct enrolment *e)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", g.tmp, name);
    assert_int_equal(enrolment_load(dir, e, NULL), STELE_OK);
}

/* A signed request by `e` for `method` with `body`, timestamped `ts_ms` (0 = now). */
static void make_signed(const struct enrolment *e, const char *method, const ProtobufCMessage *body,
                        uint64_t ts_ms, struct buf *req, uint8_t sig[64])
{
    struct buf b = {0};
    assert_int_equal(pb_pack_buf(body, &b), STELE_OK);
    assert_int_equal(signed_request_create(e->key, e->identity.data, e->identity.len, method,
                                           b.data, b.len, ts_ms ? ts_ms : clock_wall_ms(), req,
                                           sig),
                     STELE_OK);
    buf_release(&b);
}

static int send_signed(const char *method, const struct buf *req, const uint8_t sig[64],
                       const ProtobufCMessageDescriptor *d, struct rpc_result *res)
{
    Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
    sr.request.data = req->data;
    sr.request.len = req->len;
    sr.signature.data = (uint8_t *)sig;
    sr.signature.len = 64;
    ProtobufCMessage *resp = NULL;
    int rc = rpc_unary(g.ch, method, &sr.base, d, &resp, 5000, res);
    pb_free(resp);
    return rc;
}

static void enrol_admin_and_client(void **state)
{
    struct buf out = {0};
    char v[200];
    assert_int_equal(cli_enroll("admin", g.admin_secret), 0);
    /* The one-time secret is spent. */
    assert_int_equal(cli_enroll("admin", g.admin_secret), 1);
    assert_int_equal(run(&out, "%s info --url %s --json", g.bin, g.url), 0);
    assert_true(json_get((char *)out.data, "public_key", v, sizeof v));
    assert_string_equal(v, g.pub_hex);
    buf_clear(&out);
    make_identity("alice", "client", "--attr table=T-17");
    assert_int_equal(run(&out, "%s inspect %s/alice --json", g.bin, g.tmp), 0);
    const char *doc = (char *)out.data;
    assert_true(json_get(doc, "cert", v, sizeof v));
    assert_int_equal(strlen(v), 2 * ECQV_CERT_LEN);
    assert_true(json_get(doc, "id", v, sizeof v));
    assert_string_equal(v, "alice");
    assert_true(json_get(doc, "table", v, sizeof v));
    assert_string_equal(v, "T-17");
    assert_true(json_get(doc, "public_key", v, sizeof v));
    struct enrolment e;
    load("alice", &e);
    uint8_t pub[33];
    char hex[67];
    crypto_key_public_compressed(e.key, pub);
    hex_encode(pub, sizeof pub, hex);
    assert_string_equal(v, hex); /* extracted Q_U = public key of key.pem */
    enrolment_release(&e);
    buf_release(&out);
    if (run(NULL, "command -v openssl") == 0)
        assert_int_equal(run(NULL, "openssl pkey -in %s/alice/key.pem -pubout", g.tmp), 0);
}

static void third_party_verifies_from_record(void **state)
{
    struct enrolment e;
    struct msp *m = third_party_msp();
    struct arena *a = arena_create(0);
    struct identity id;
    uint8_t sig[64];
    const char msg[] = "reading 17.3 C at 12:00";
    load("alice", &e);
    assert_int_equal(crypto_sign(e.key, msg, sizeof msg, sig), STELE_OK);
    assert_int_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_OK);
    assert_string_equal(identity_attr(&id, "table"), "T-17");
    assert_int_equal(identity_verify_signature(m, &id, msg, sizeof msg, sig, sizeof sig), STELE_OK);
    /* A byte of the CertU inside the record, or any other byte, changed: refused. */
    uint8_t *p = memmem(e.identity.data, e.identity.len, e.cert, ECQV_CERT_LEN);
    assert_non_null(p);
    p[10] ^= 1;
    assert_int_not_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_OK);
    p[10] ^= 1;
    e.identity.data[e.identity.len - 3] ^= 0x40;
    assert_int_not_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_OK);
    enrolment_release(&e);
    /* A tampered cert file no longer matches key.pem. */
    char path[600];
    snprintf(path, sizeof path, "%s/alice-copy", g.tmp);
    assert_int_equal(run(NULL,
                         "cp -r %s/alice %s && printf '\\x07' | dd of=%s/cert bs=1 seek=5 "
                         "conv=notrunc",
                         g.tmp, path, path),
                     0);
    assert_int_equal(enrolment_load(path, &e, NULL), STELE_ERR_AUTH);
    arena_destroy(a);
    msp_destroy(m);
}

static void identity_of_another_ca_rejected(void **state)
{
    struct buf out = {0}, rec = {0};
    char dir2[600], path[700], v[64];
    snprintf(dir2, sizeof dir2, "%s/ca2", g.tmp);
    assert_int_equal(run(&out, "%s init --dir %s --json", g.bin, dir2), 0);
    assert_true(json_get((char *)out.data, "ca_id", v, sizeof v));
    /* The second CA issues "alice" (same id, same org) with its own key. */
    struct crypto_key *ca2 = NULL, *k_u = NULL;
    snprintf(path, sizeof path, "%s/ca.key", dir2);
    assert_int_equal(crypto_key_load_pem(path, &ca2), STELE_OK);
    struct ecqv_cert f = {.serial = 1,
                          .issuer_id = strtoull(v, NULL, 10),
                          .valid_from = clock_wall_s() - 5,
                          .valid_duration = 3600,
                          .key_usage = ECQV_USAGE_SIGN};
    uint8_t h[32], r_u[33], cert[ECQV_CERT_LEN], r[32];
    crypto_sha256("alice", 5, h);
    memcpy(f.subject_id, h, 16);
    assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
    assert_int_equal(ecqv_generate(ca2, r_u, 33, &f, cert, r), STELE_OK);
    assert_int_equal(
        identity_issue(ca2, cert, "alice", "Org1", "admin", NULL, 0, f.valid_from, &rec), STELE_OK);
    struct msp *m = third_party_msp();
    struct arena *a = arena_create(0);
    struct identity id;
    assert_int_equal(identity_verify(m, a, rec.data, rec.len, clock_wall_s(), &id, NULL),
                     STELE_ERR_AUTH);
    arena_destroy(a);
    msp_destroy(m);
    crypto_key_destroy(ca2);
    crypto_key_destroy(k_u);
    buf_release(&rec);
    buf_release(&out);
}

static void expired_identity_rejected(void **state)
{
    struct enrolment e;
    struct msp *m = third_party_msp();
    struct arena *a = arena_create(0);
    struct identity id;
    struct buf out = {0};
    make_identity("shortlived", "admin", "--validity 2s");
    load("shortlived", &e);
    assert_int_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_OK);
    clock_sleep_ms(3100);
    assert_int_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_ERR_EXPIRED);
    /* An expired admin cannot register. */
    assert_int_equal(run(&out,
                         "%s register --url %s --as %s/shortlived --id x1 --org O --role "
                         "client",
                         g.bin, g.url, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "expired"));
    /* Within the reenrol grace it may still renew itself, and then sign again. */
    assert_int_equal(run(NULL, "%s reenroll --url %s --as %s/shortlived", g.bin, g.url, g.tmp), 0);
    assert_int_equal(cli_register("shortlived", "x2", "--role client --validity 1h", NULL, 0), 0);
    enrolment_release(&e);
    arena_destroy(a);
    msp_destroy(m);
    buf_release(&out);
}

static void revoked_identity_on_crl_and_rejected(void **state)
{
    struct enrolment e;
    struct buf out = {0};
    char secret[128];
    assert_int_equal(
        cli_register("admin", "carol", "--role client --max-enrollments 3", secret, sizeof secret),
        0);
    assert_int_equal(cli_enroll("carol", secret), 0);
    load("carol", &e);
    uint8_t h[32];
    char hex[65];
    ecqv_certhash(e.cert, ECQV_CERT_LEN, h);
    hex_encode(h, 32, hex);
    assert_int_equal(
        run(NULL, "%s revoke --url %s --as %s/admin --id carol --reason lost", g.bin, g.url, g.tmp),
        0);
    assert_int_equal(run(&out, "%s crl --url %s --as %s/admin --json --out %s/crl.bin", g.bin,
                         g.url, g.tmp, g.tmp),
                     0);
    assert_non_null(strstr((char *)out.data, hex));
    /* A third party with the CRL refuses carol. */
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/crl.bin", g.tmp);
    char *crl = test_read_file(path, &n);
    struct msp *m = third_party_msp();
    struct arena *a = arena_create(0);
    struct identity id;
    assert_int_equal(msp_set_crl(m, (uint8_t *)crl, n, NULL), STELE_OK);
    assert_int_equal(
        identity_verify(m, a, e.identity.data, e.identity.len, clock_wall_s(), &id, NULL),
        STELE_ERR_REVOKED);
    /* Asked again with nothing revoked since, the CA answers the same signed CRL (ECDSA
     * signatures are randomised: a CRL signed anew would differ). reenroll_replaces_key shows
     * that a new revocation gives a new one. */
    assert_int_equal(run(NULL, "%s crl --url %s --out %s/crl2.bin", g.bin, g.url, g.tmp), 0);
    snprintf(path, sizeof path, "%s/crl2.bin", g.tmp);
    size_t n2;
    char *crl2 = test_read_file(path, &n2);
    assert_non_null(crl2);
    assert_int_equal(n2, n);
    assert_memory_equal(crl2, crl, n);
    free(crl2);
    /* carol can neither enrol again nor reenrol. */
    buf_clear(&out);
    assert_int_equal(run(&out, "%s enroll --url %s --id carol --secret %s --out %s/carol2", g.bin,
                         g.url, secret, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "revoked"));
    buf_clear(&out);
    assert_int_equal(run(&out, "%s reenroll --url %s --as %s/carol", g.bin, g.url, g.tmp), 1);
    assert_non_null(strstr((char *)out.data, "revoked"));
    free(crl);
    enrolment_release(&e);
    arena_destroy(a);
    msp_destroy(m);
    buf_release(&out);
}

struct reenrol_job {
    struct buf req;
    uint8_t sig[64];
    int rc;
};

static void *reenrol_thread(void *arg)
{
    struct reenrol_job *j = arg;
    struct rpc_result res;
    j->rc = send_signed("/stele.CA/Reenroll", &j->req, j->sig, &stele__enroll_response__descriptor,
                        &res);
    return NULL;
}

/* Eight reenrolments signed by one certificate, sent at once: it is superseded by exactly one
 * new certificate; the others are refused, whichever the CA checked first. */
static void one_certificate_reenrols_once(void **state)
{
    enum { N = 8 };
    make_identity("erin", "client", NULL);
    struct enrolment e;
    load("erin", &e);
    struct reenrol_job jobs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        struct crypto_key *k_u = NULL;
        uint8_t r_u[33];
        assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
        crypto_key_destroy(k_u);
        Stele__ReenrollRequest r = STELE__REENROLL_REQUEST__INIT;
        r.r_u.data = r_u;
        r.r_u.len = sizeof r_u;
        make_signed(&e, "/stele.CA/Reenroll", &r.base, 0, &jobs[i].req, jobs[i].sig);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reenrol_thread, &jobs[i]), 0);
    int issued = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        issued += jobs[i].rc == STELE_OK;
        buf_release(&jobs[i].req);
    }
    assert_int_equal(issued, 1);
    enrolment_release(&e);
}

static void reenroll_replaces_key(void **state)
{
    struct enrolment old, neu;
    struct buf out = {0};
    make_identity("dave", "admin", NULL);
    assert_int_equal(run(NULL, "cp -r %s/dave %s/dave-old", g.tmp, g.tmp), 0);
    assert_int_equal(run(NULL, "%s reenroll --url %s --as %s/dave", g.bin, g.url, g.tmp), 0);
    load("dave-old", &old);
    load("dave", &neu);
    assert_memory_not_equal(old.cert, neu.cert, ECQV_CERT_LEN);
    assert_false(crypto_key_public_equal(old.key, neu.key));
    /* Same id; the new key works, the old one is refused. */
    assert_int_equal(cli_register("dave", "dave-made", "--role client", NULL, 0), 0);
    assert_int_equal(run(&out,
                         "%s register --url %s --as %s/dave-old --id dave-old-made --org O "
                         "--role client",
                         g.bin, g.url, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "revoked"));
    buf_clear(&out);
    assert_int_equal(run(&out, "%s inspect %s/dave --json", g.bin, g.tmp), 0);
    assert_non_null(strstr((char *)out.data, "\"id\":\"dave\""));
    buf_clear(&out);
    assert_int_equal(run(&out, "%s crl --url %s --json", g.bin, g.url), 0);
    assert_non_null(strstr((char *)out.data, "superseded"));
    enrolment_release(&old);
    enrolment_release(&neu);
    buf_release(&out);
}

struct enrol_job {
    char id[32], secret[64];
    uint8_t certhash[32];
    uint64_t serial;
    int rc;
};

static void *enrol_thread(void *arg)
{
    struct enrol_job *j = arg;
    struct crypto_key *k_u = NULL, *d_u = NULL, *ca = NULL;
    uint8_t r_u[33];
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    j->rc = ecqv_request(&k_u, r_u);
    req.id = j->id;
    req.secret = j->secret;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    if (j->rc == STELE_OK)
        j->rc = rpc_unary(g.ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor,
                          &resp, 20000, NULL);
    if (j->rc == STELE_OK) {
        Stele__EnrollResponse *r = (Stele__EnrollResponse *)resp;
        j->rc = crypto_key_from_public(r->ca_public_key.data, r->ca_public_key.len, &ca);
        if (j->rc == STELE_OK)
            j->rc = ecqv_reception(k_u, r->cert.data, r->cert.len, r->r.data, ca, &d_u);
        if (j->rc == STELE_OK) {
            struct ecqv_cert f;
            ecqv_certhash(r->cert.data, r->cert.len, j->certhash);
            j->rc =
                ecqv_cert_decode(r->cert.data, r->cert.len, &f) ? STELE_ERR_MALFORMED : STELE_OK;
            j->serial = f.serial;
        }
    }
    pb_free(resp);
    crypto_key_destroy(k_u);
    crypto_key_destroy(d_u);
    crypto_key_destroy(ca);
    return NULL;
}

static void thirty_two_concurrent_enrolments(void **state)
{
    enum { N = 32 };
    struct enrol_job jobs[N];
    struct enrolment admin;
    load("admin", &admin);
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        snprintf(jobs[i].id, sizeof jobs[i].id, "sensor-%02d", i);
        Stele__RegisterRequest r = STELE__REGISTER_REQUEST__INIT;
        r.id = jobs[i].id;
        r.org = "Org2";
        r.role = "client";
        struct buf req = {0};
        uint8_t sig[64];
        struct rpc_result res;
        make_signed(&admin, "/stele.CA/RegisterIdentity", &r.base, 0, &req, sig);
        Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
        sr.request.data = req.data;
        sr.request.len = req.len;
        sr.signature.data = sig;
        sr.signature.len = 64;
        ProtobufCMessage *resp = NULL;
        assert_int_equal(rpc_unary(g.ch, "/stele.CA/RegisterIdentity", &sr.base,
                                   &stele__register_response__descriptor, &resp, 5000, &res),
                         STELE_OK);
        snprintf(jobs[i].secret, sizeof jobs[i].secret, "%s",
                 ((Stele__RegisterResponse *)resp)->secret);
        pb_free(resp);
        buf_release(&req);
    }
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, enrol_thread, &jobs[i]);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].rc, STELE_OK);
        for (int k = 0; k < i; k++) {
            assert_memory_not_equal(jobs[i].certhash, jobs[k].certhash, 32);
            assert_true(jobs[i].serial != jobs[k].serial); /* serials are handed out once */
        }
    }
    enrolment_release(&admin);
}

struct guess_job {
    int rc;
    struct rpc_result res;
};

static void *guess_thread(void *arg)
{
    struct guess_job *j = arg;
    struct crypto_key *k_u = NULL;
    uint8_t r_u[33];
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    j->rc = ecqv_request(&k_u, r_u);
    req.id = "mallory";
    req.secret = "not-the-secret";
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    if (j->rc == STELE_OK)
        j->rc = rpc_unary(g.ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor,
                          &resp, 20000, &j->res);
    pb_free(resp);
    crypto_key_destroy(k_u);
    return NULL;
}

/* How many lines of the CA's log contain `what`. */
static int log_count(const char *what)
{
    char path[600];
    size_t n;
    int count = 0;
    snprintf(path, sizeof path, "%s/ca.log", g.tmp);
    char *log = test_read_file(path, &n);
    assert_non_null(log);
    for (const char *p = log; (p = strstr(p, what)) != NULL; p += strlen(what))
        count++;
    free(log);
    return count;
}

/* Twelve wrong secrets for one id with a secret an admin chose, at once (the CA has 16
 * workers): exactly attempt_limit (3) are checked and counted, every other one is refused as
 * locked without being checked. Every answer is the same; the CA's log tells them apart. */
static void guesses_at_once_stop_at_the_limit(void **state)
{
    enum { N = 12 };
    assert_int_equal(
        cli_register("admin", "mallory", "--role client --secret mallorys-own", NULL, 0), 0);
    struct guess_job jobs[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        assert_int_equal(pthread_create(&t[i], NULL, guess_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_not_equal(jobs[i].rc, STELE_OK);
        assert_int_equal(jobs[i].res.code, RPC_UNAUTHENTICATED);
        assert_string_equal(jobs[i].res.detail, "invalid id or secret");
    }
    assert_int_equal(log_count("wrong secret for \"mallory\""), 3);
    assert_int_equal(log_count("id \"mallory\" is locked"), N - 3);
}

static void wrong_secret_and_lockout(void **state)
{
    struct buf out = {0};
    assert_int_equal(
        cli_register("admin", "frank", "--role client --secret correct-horse", NULL, 0), 0);
    assert_int_equal(
        run(&out, "%s enroll --url %s --id nobody --secret x --out %s/nobody", g.bin, g.url, g.tmp),
        1);
    assert_non_null(strstr((char *)out.data, "invalid id or secret"));
    for (int i = 0; i < 3; i++) /* attempt_limit: 3 in the test config */
        assert_int_equal(cli_enroll("frank", "wrong"), 1);
    buf_clear(&out);
    assert_int_equal(run(&out, "%s enroll --url %s --id frank --secret correct-horse --out %s/f",
                         g.bin, g.url, g.tmp),
                     1);
    /* Locked, but answered as a wrong secret: the answer does not tell that frank exists. */
    assert_non_null(strstr((char *)out.data, "invalid id or secret"));
    assert_null(strstr((char *)out.data, "locked"));
    assert_int_equal(log_count("id \"frank\" is locked"), 1);
    /* A secret chosen by the admin (PBKDF2), given on stdin, enrols. */
    assert_int_equal(
        cli_register("admin", "judy", "--role auditor --secret chosen-by-admin", NULL, 0), 0);
    assert_int_equal(run(NULL,
                         "echo chosen-by-admin | %s enroll --url %s --id judy --secret - "
                         "--out %s/judy",
                         g.bin, g.url, g.tmp),
                     0);
    buf_release(&out);
}

static void non_admin_cannot_register_or_revoke(void **state)
{
    struct buf out = {0};
    assert_int_equal(cli_register("alice", "eve", "--role admin", NULL, 0), 1);
    assert_int_equal(
        run(&out, "%s revoke --url %s --as %s/alice --id admin --reason x", g.bin, g.url, g.tmp),
        1);
    assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    buf_release(&out);
}

static void replayed_stale_and_misdirected_requests_refused(void **state)
{
    struct enrolment admin;
    struct buf req = {0};
    uint8_t sig[64];
    struct rpc_result res;
    const ProtobufCMessageDescriptor *d = &stele__register_response__descriptor;
    load("admin", &admin);
    Stele__RegisterRequest r = STELE__REGISTER_REQUEST__INIT;
    r.id = "gina";
    r.org = "Org1";
    r.role = "client";
    make_signed(&admin, "/stele.CA/RegisterIdentity", &r.base, 0, &req, sig);
    assert_int_equal(send_signed("/stele.CA/RegisterIdentity", &req, sig, d, &res), STELE_OK);
    send_signed("/stele.CA/RegisterIdentity", &req, sig, d, &res);
    assert_int_equal(res.code, RPC_FAILED_PRECONDITION);
    assert_non_null(strstr(res.detail, "replay"));
    buf_clear(&req);
    r.id = "gina2";
    make_signed(&admin, "/stele.CA/RegisterIdentity", &r.base, clock_wall_ms() - 6 * 60000, &req,
                sig);
    send_signed("/stele.CA/RegisterIdentity", &req, sig, d, &res);
    assert_int_equal(res.code, RPC_UNAUTHENTICATED);
    buf_clear(&req);
    make_signed(&admin, "/stele.CA/Revoke", &r.base, 0, &req, sig);
    send_signed("/stele.CA/RegisterIdentity", &req, sig, d, &res);
    assert_int_equal(res.code, RPC_PERMISSION_DENIED);
    /* Garbage where the AdminRequest should be. */
    buf_clear(&req);
    buf_append(&req, "\x0a\xff\xff", 3);
    send_signed("/stele.CA/RegisterIdentity", &req, sig, d, &res);
    assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
    enrolment_release(&admin);
    buf_release(&req);
}

static void invalid_r_u_and_malformed_enrol_refused(void **state)
{
    char *secret = g.hank_secret;
    assert_int_equal(cli_register("admin", "hank", "--role client", secret, sizeof g.hank_secret),
                     0);
    uint8_t bad[3][33];
    size_t lens[3] = {10, 33, 1};
    memset(bad[0], 0x02, sizeof bad[0]);
    bad[1][0] = 0x02; /* x = 2^256 - 1 > p: not a coordinate of the curve */
    memset(bad[1] + 1, 0xff, 32);
    bad[2][0] = 0x00; /* the SEC 1 encoding of the point at infinity */
    for (int i = 0; i < 3; i++) {
        Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
        req.id = "hank";
        req.secret = secret;
        req.r_u.data = bad[i];
        req.r_u.len = lens[i];
        ProtobufCMessage *resp = NULL;
        struct rpc_result res;
        rpc_unary(g.ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor, &resp,
                  5000, &res);
        assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
        assert_non_null(strstr(res.detail, "r_u"));
    }
    /* Bytes that are not an EnrollRequest. */
    Stele__Timestamp ts = STELE__TIMESTAMP__INIT;
    ts.seconds = 99;
    struct rpc_result res;
    ProtobufCMessage *resp = NULL;
    rpc_unary(g.ch, "/stele.CA/Enroll", &ts.base, &stele__enroll_response__descriptor, &resp, 5000,
              &res);
    assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
    /* Nothing was used up: hank still enrols. */
    assert_int_equal(cli_enroll("hank", secret), 0);
}

static void restart_keeps_registry(void **state)
{
    stop_ca();
    start_ca();
    struct buf out = {0};
    /* hank used his one enrolment before the restart; the admin still works. */
    assert_int_equal(run(&out, "%s enroll --url %s --id hank --secret %s --out %s/h2", g.bin, g.url,
                         g.hank_secret, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "enrolments"));
    buf_clear(&out);
    char secret[128];
    assert_int_equal(cli_register("admin", "ivy", "--role client", secret, sizeof secret), 0);
    assert_int_equal(cli_enroll("ivy", secret), 0);
    buf_clear(&out);
    assert_int_equal(run(&out, "%s enroll --url %s --id ivy --secret %s --out %s/ivy2", g.bin,
                         g.url, secret, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "enrolments"));
    buf_release(&out);
    /* No secret ever reached the CA's log. */
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/ca.log", g.tmp);
    char *log = test_read_file(path, &n);
    assert_non_null(log);
    assert_non_null(strstr(log, "enrolled \"ivy\""));
    assert_null(strstr(log, g.admin_secret));
    assert_null(strstr(log, g.hank_secret));
    assert_null(strstr(log, secret));
    assert_null(strstr(log, "correct-horse"));
    free(log);
}

/* An acknowledged registration and enrolment survive a crash (SIGKILL, no clean stop): the
 * CA answers only once the registry's synced commit has made them durable. */
static void acknowledged_writes_survive_kill(void **state)
{
    (void)state;
    char secret[128];
    assert_int_equal(cli_register("admin", "jade", "--role client", secret, sizeof secret), 0);
    assert_int_equal(cli_enroll("jade", secret), 0);
    char reg2[128];
    assert_int_equal(cli_register("admin", "kim", "--role client", reg2, sizeof reg2), 0);
    rpc_channel_close(g.ch);
    g.ch = NULL;
    kill(g.pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(g.pid, &st, 0), g.pid);
    assert_true(WIFSIGNALED(st));
    start_ca();
    struct buf out = {0};
    /* jade's one enrolment was counted; kim's registration is there and enrols. */
    assert_int_equal(run(&out, "%s enroll --url %s --id jade --secret %s --out %s/jade2", g.bin,
                         g.url, secret, g.tmp),
                     1);
    assert_non_null(strstr((char *)out.data, "enrolments"));
    buf_release(&out);
    assert_int_equal(cli_enroll("kim", reg2), 0);
    /* Serials are reserved in blocks; a crash skips the rest of a block, never reuses one. */
    struct enrolment ej, ek;
    load("jade", &ej);
    load("kim", &ek);
    struct ecqv_cert cj, ck;
    assert_int_equal(ecqv_cert_decode(ej.cert, ECQV_CERT_LEN, &cj), 0);
    assert_int_equal(ecqv_cert_decode(ek.cert, ECQV_CERT_LEN, &ck), 0);
    assert_true(ck.serial > cj.serial);
    enrolment_release(&ej);
    enrolment_release(&ek);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enrol_admin_and_client),
        cmocka_unit_test(third_party_verifies_from_record),
        cmocka_unit_test(identity_of_another_ca_rejected),
        cmocka_unit_test(expired_identity_rejected),
        cmocka_unit_test(revoked_identity_on_crl_and_rejected),
        cmocka_unit_test(reenroll_replaces_key),
        cmocka_unit_test(one_certificate_reenrols_once),
        cmocka_unit_test(thirty_two_concurrent_enrolments),
        cmocka_unit_test(wrong_secret_and_lockout),
        cmocka_unit_test(guesses_at_once_stop_at_the_limit),
        cmocka_unit_test(non_admin_cannot_register_or_revoke),
        cmocka_unit_test(replayed_stale_and_misdirected_requests_refused),
        cmocka_unit_test(invalid_r_u_and_malformed_enrol_refused),
        cmocka_unit_test(restart_keeps_registry),
        cmocka_unit_test(acknowledged_writes_survive_kill),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
