/*
 * ca_fixture.c — the stele-ca process, command line and signed requests of ca_fixture.h.
 *
 * It must not compile in ca/registry.c: test_ca_limits.c includes that file itself, to plant
 * records as an older CA wrote them, and its symbols would be defined twice.
 */
#include "ca_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "pb/pb.h"
#include "rpc/services.h"
#include "stele/common.pb-c.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the CA process ---- */

struct ca_fixture g_ca;

void ca_fixture_setup(const char *tag, const char *name, const char *org, int iterations)
{
    g_ca.bin = test_binary_path("stele-ca");
    g_ca.tmp = test_tmpdir(tag);
    assert_non_null(g_ca.tmp);
    assert_true(asprintf(&g_ca.dir, "%s/ca", g_ca.tmp) > 0);
    snprintf(g_ca.url, sizeof g_ca.url, "127.0.0.1:%d", test_free_port());
    snprintf(g_ca.ops, sizeof g_ca.ops, "127.0.0.1:%d", test_free_port());
    snprintf(g_ca.cfg, sizeof g_ca.cfg, "%s/ca.yaml", g_ca.tmp);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "listen: %s\ndir: ca\nname: %s\npbkdf2_iterations: %d\n"
             "attempt_limit: 3\nlockout: 1h\nlog_level: info\noperations:\n  listen: %s\n",
             g_ca.url, name, iterations, g_ca.ops);
    assert_int_equal(test_write_file(g_ca.cfg, yaml, strlen(yaml)), 0);
    struct buf out = {0};
    assert_int_equal(
        sh_run(&out, "%s init --dir %s --name %s --org %s --json", g_ca.bin, g_ca.dir, name, org),
        0);
    const char *doc = (const char *)out.data;
    assert_true(json_field(doc, "admin_secret", g_ca.admin_secret, sizeof g_ca.admin_secret));
    assert_true(json_field(doc, "public_key", g_ca.pub_hex, sizeof g_ca.pub_hex));
    buf_release(&out);
    start_ca();
}

int ca_fixture_teardown(void **state)
{
    (void)state;
    stop_ca(SIGTERM);
    test_rmtree(g_ca.tmp);
    free(g_ca.tmp);
    free(g_ca.dir);
    free(g_ca.bin);
    memset(&g_ca, 0, sizeof g_ca);
    return 0;
}

void start_ca(void)
{
    g_ca.pid = fork();
    assert_true(g_ca.pid >= 0);
    if (g_ca.pid == 0) {
        char log[600];
        snprintf(log, sizeof log, "%s/ca.log", g_ca.tmp);
        if (!freopen(log, "a", stderr))
            _exit(127);
        execl(g_ca.bin, g_ca.bin, "serve", "--config", g_ca.cfg, (char *)NULL);
        _exit(127);
    }
    if (rpc_health_wait(g_ca.url, NULL, "stele.CA", 10000, NULL, NULL, NULL) != RPC_HEALTH_SERVING)
        fail_msg("the CA did not become healthy");
    struct rpc_channel_opts o = {.fail_fast = true};
    g_ca.ch = rpc_channel_open(g_ca.url, &o, NULL);
    assert_non_null(g_ca.ch);
}

void stop_ca(int sig)
{
    rpc_channel_close(g_ca.ch);
    g_ca.ch = NULL;
    kill(g_ca.pid, sig);
    int st;
    assert_int_equal(waitpid(g_ca.pid, &st, 0), g_ca.pid);
    if (sig == SIGTERM) {
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    } else {
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), sig);
    }
}

char *ca_log(void)
{
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/ca.log", g_ca.tmp);
    char *log = test_read_file(path, &n);
    assert_non_null(log);
    return log;
}

int ca_log_count(const char *what)
{
    int count = 0;
    char *log = ca_log();
    for (const char *p = log; (p = strstr(p, what)) != NULL; p += strlen(what))
        count++;
    free(log);
    return count;
}

/* ---- the command line ---- */

int sh_run(struct buf *out, const char *fmt, ...)
{
    char cmd[4096], full[4200], chunk[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        if (out)
            buf_append(out, chunk, n);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

bool json_field(const char *doc, const char *key, char *val, size_t cap)
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

int cli_register(const char *as, const char *id, const char *org, const char *role,
                 const char *extra, char secret[CA_SECRET_LEN], struct buf *out)
{
    struct buf o = {0};
    int rc = sh_run(&o, "%s register --url %s --as %s/%s --id %s --org %s --role %s %s --json",
                    g_ca.bin, g_ca.url, g_ca.tmp, as, id, org, role, extra ? extra : "");
    if (rc == 0 && secret)
        assert_true(json_field((char *)o.data, "secret", secret, CA_SECRET_LEN));
    if (out)
        buf_append(out, o.data, o.len);
    buf_release(&o);
    return rc;
}

int cli_enroll(const char *id, const char *secret, const char *dir, struct buf *out)
{
    return sh_run(out, "%s enroll --url %s --id %s --secret %s --out %s/%s", g_ca.bin, g_ca.url, id,
                  secret, g_ca.tmp, dir ? dir : id);
}

int cli_reenroll(const char *id, struct buf *out)
{
    return sh_run(out, "%s reenroll --url %s --as %s/%s", g_ca.bin, g_ca.url, g_ca.tmp, id);
}

int cli_revoke(const char *as, const char *id, const char *reason, struct buf *out)
{
    return sh_run(out, "%s revoke --url %s --as %s/%s --id %s --reason '%s'", g_ca.bin, g_ca.url,
                  g_ca.tmp, as, id, reason);
}

void cli_make_identity(const char *id, const char *org, const char *role, const char *extra)
{
    char secret[CA_SECRET_LEN];
    assert_int_equal(cli_register("admin", id, org, role, extra, secret, NULL), 0);
    assert_int_equal(cli_enroll(id, secret, NULL, NULL), 0);
}

bool crl_lists(const char *hex)
{
    struct buf out = {0};
    assert_int_equal(sh_run(&out, "%s crl --url %s --json", g_ca.bin, g_ca.url), 0);
    bool found = strstr((char *)out.data, hex) != NULL;
    buf_release(&out);
    return found;
}

/* ---- identities and requests ---- */

void ca_load(const char *name, struct enrolment *e)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", g_ca.tmp, name);
    assert_int_equal(enrolment_load(dir, e, NULL), STELE_OK);
}

void certhash_hex(const char *id, char hex[65])
{
    struct enrolment e;
    uint8_t h[32];
    ca_load(id, &e);
    assert_int_equal(ecqv_certhash(e.cert, ECQV_CERT_LEN, h), STELE_OK);
    hex_encode(h, 32, hex);
    enrolment_release(&e);
}

struct msp *third_party_msp(void)
{
    char path[600];
    size_t n;
    snprintf(path, sizeof path, "%s/ca.pub", g_ca.dir);
    char *pub = test_read_file(path, &n);
    assert_non_null(pub);
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_from_public((uint8_t *)pub, n, &k), STELE_OK);
    struct msp *m = msp_create(0);
    assert_int_equal(msp_add_ca(m, NULL, 0, k), STELE_OK);
    crypto_key_destroy(k);
    free(pub);
    return m;
}

void make_signed(const struct enrolment *e, const char *method, const ProtobufCMessage *body,
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

int send_signed(const char *method, const struct buf *req, const uint8_t sig[64],
                const ProtobufCMessageDescriptor *d, struct rpc_result *res)
{
    Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
    sr.request.data = req->data;
    sr.request.len = req->len;
    sr.signature.data = (uint8_t *)sig;
    sr.signature.len = 64;
    ProtobufCMessage *resp = NULL;
    int rc = rpc_unary(g_ca.ch, method, &sr.base, d, &resp, 5000, res);
    pb_free(resp);
    return rc;
}

int enrol_rpc(const char *id, const char *secret, struct crypto_key **k_u,
              Stele__EnrollResponse **resp, struct rpc_result *res)
{
    struct crypto_key *k = NULL;
    uint8_t r_u[33];
    ProtobufCMessage *answer = NULL;
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    int rc = ecqv_request(&k, r_u);
    req.id = (char *)id;
    req.secret = (char *)secret;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    if (rc == STELE_OK)
        rc = rpc_unary(g_ca.ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor,
                       &answer, 20000, res);
    else if (res) /* no call was sent: an answer no enrolment test expects */
        *res = (struct rpc_result){.code = RPC_INTERNAL, .detail = "no request key"};
    if (resp)
        *resp = (Stele__EnrollResponse *)answer;
    else
        pb_free(answer);
    if (k_u)
        *k_u = k;
    else
        crypto_key_destroy(k);
    return rc;
}
