/*
 * test_ca_limits.c — what the real stele-ca refuses and bounds, against admins of other
 * organisations, unauthenticated callers, clock skew and clients that reenrol in a loop: each
 * admin acts on its own organisation only; a new identity is valid on a clock a little behind
 * the CA's; enrolment answers and timing do not tell unknown, locked and known ids apart; an id
 * cannot grow past what can be revoked; the CRL leaves out expired certificates and bounds
 * reasons.
 *
 * The CA's registry code is compiled in so that a test can plant a record as an older CA wrote
 * it (while the CA is stopped).
 */
#include "testutil.h"

#include "../../ca/registry.c"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/ca.pb-c.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

/* What ca/ca.h sets (the test checks the CA's behaviour, not its header). */
#define MAX_SUPERSEDED 32
#define REASON_MAX     256
/* PBKDF2 iterations of this CA: enough that one hash (~0.1 s) dwarfs a request's other work. */
#define ITERATIONS 100000

static struct {
    char *bin, *tmp, *dir;  /* stele-ca, temp root, CA directory */
    char cfg[512], url[64]; /* config file, HOST:PORT */
    pid_t pid;              /* the serving CA */
    struct rpc_channel *ch; /* to it */
} g;

/* Runs a shell command line (printf-style), stdout and stderr into *out (may be NULL; a buf
 * stays NUL-terminated). Returns the exit status. */
static int run(struct buf *out, const char *fmt, ...)
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

/* Copies the JSON string value of "key" in `doc` into `val`. */
static bool json_get(const char *doc, const char *key, char *val, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = doc ? strstr(doc, pat) : NULL;
    if (!p)
        return false;
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < cap)
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
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* `stele-ca register` of `id` (org, role, extra flags) signed by the enrolled `as`; the
 * output into *out (may be NULL) and the secret into `secret` (may be NULL). */
static int reg(const char *as, const char *id, const char *org, const char *role, const char *extra,
               char secret[128], struct buf *out)
{
    struct buf o = {0};
    int rc = run(&o, "%s register --url %s --as %s/%s --id %s --org %s --role %s %s --json", g.bin,
                 g.url, g.tmp, as, id, org, role, extra ? extra : "");
    if (rc == 0 && secret)
        assert_true(json_get((char *)o.data, "secret", secret, 128));
    if (out)
        buf_append(out, o.data, o.len);
    buf_release(&o);
    return rc;
}

/* Registers `id` by the CA's admin and enrols it into TMP/id. */
static void make_identity(const char *id, const char *org, const char *role, const char *extra)
{
    char secret[128];
    assert_int_equal(reg("admin", id, org, role, extra, secret, NULL), 0);
    assert_int_equal(run(NULL, "%s enroll --url %s --id %s --secret %s --out %s/%s", g.bin, g.url,
                         id, secret, g.tmp, id),
                     0);
}

static int revoke_id(const char *as, const char *id, const char *reason, struct buf *out)
{
    return run(out, "%s revoke --url %s --as %s/%s --id %s --reason '%s'", g.bin, g.url, g.tmp, as,
               id, reason);
}

static int reenroll(const char *id, struct buf *out)
{
    return run(out, "%s reenroll --url %s --as %s/%s", g.bin, g.url, g.tmp, id);
}

/* The certhash of TMP/id's certificate, in hex. */
static void certhash_hex(const char *id, char hex[65])
{
    char dir[600];
    struct enrolment e;
    uint8_t h[32];
    snprintf(dir, sizeof dir, "%s/%s", g.tmp, id);
    assert_int_equal(enrolment_load(dir, &e, NULL), STELE_OK);
    assert_int_equal(ecqv_certhash(e.cert, ECQV_CERT_LEN, h), STELE_OK);
    hex_encode(h, 32, hex);
    enrolment_release(&e);
}

/* True when the CA's current CRL lists `hex`. */
static bool crl_lists(const char *hex)
{
    struct buf out = {0};
    assert_int_equal(run(&out, "%s crl --url %s --json", g.bin, g.url), 0);
    bool found = strstr((char *)out.data, hex) != NULL;
    buf_release(&out);
    return found;
}

static int group_setup(void **state)
{
    g.bin = test_binary_path("stele-ca");
    g.tmp = test_tmpdir("ca-limits");
    assert_non_null(g.tmp);
    assert_true(asprintf(&g.dir, "%s/ca", g.tmp) > 0);
    snprintf(g.url, sizeof g.url, "127.0.0.1:%d", test_free_port());
    snprintf(g.cfg, sizeof g.cfg, "%s/ca.yaml", g.tmp);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "listen: %s\ndir: ca\nname: limits-ca\npbkdf2_iterations: %d\n"
             "attempt_limit: 3\nlockout: 1h\nlog_level: info\n",
             g.url, ITERATIONS);
    assert_int_equal(test_write_file(g.cfg, yaml, strlen(yaml)), 0);
    /* As stele-network sets it up: the CA's admin belongs to the orderers' organisation. */
    struct buf out = {0};
    char secret[128];
    assert_int_equal(run(&out, "%s init --dir %s --org orderers --json", g.bin, g.dir), 0);
    assert_true(json_get((char *)out.data, "admin_secret", secret, sizeof secret));
    buf_release(&out);
    start_ca();
    assert_int_equal(run(NULL, "%s enroll --url %s --id admin --secret %s --out %s/admin", g.bin,
                         g.url, secret, g.tmp),
                     0);
    make_identity("admin.orderers", "orderers", "admin", NULL);
    make_identity("admin.org1", "org1", "admin", NULL);
    make_identity("admin.org2", "org2", "admin", NULL);
    make_identity("peer0.org2", "org2", "peer", NULL);
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

/* An admin registers and revokes ids of its own organisation only; the CA's admin, which
 * registers every identity of a network, acts on all of them; nobody else revokes it. */
static void admins_act_on_their_own_organisation(void **state)
{
    struct buf out = {0};
    /* org1's admin may not make an admin of org2 (it would count toward org2's policies). */
    assert_int_equal(reg("admin.org1", "evil.org2", "org2", "admin", NULL, NULL, &out), 1);
    assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    assert_non_null(strstr((char *)out.data, "may not register"));
    /* Nor revoke org2's peer and admin, or the CA's admin. */
    const char *others[] = {"peer0.org2", "admin.org2", "admin"};
    for (size_t i = 0; i < 3; i++) {
        buf_clear(&out);
        assert_int_equal(revoke_id("admin.org1", others[i], "x", &out), 1);
        assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    }
    /* An admin of the CA admin's own organisation may not revoke it either. */
    buf_clear(&out);
    assert_int_equal(revoke_id("admin.orderers", "admin", "x", &out), 1);
    assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    /* Nothing was revoked: they all still sign (a reenrolment). */
    assert_int_equal(reenroll("peer0.org2", NULL), 0);
    assert_int_equal(reenroll("admin.org2", NULL), 0);
    assert_int_equal(reenroll("admin", NULL), 0);
    /* Within its organisation an admin registers and revokes. */
    char secret[128];
    assert_int_equal(reg("admin.org1", "client.org1", "org1", "client", NULL, secret, NULL), 0);
    assert_int_equal(revoke_id("admin.org1", "client.org1", "left", NULL), 0);
    /* The CA's admin acts across organisations. */
    assert_int_equal(reg("admin", "client.org2", "org2", "client", NULL, secret, NULL), 0);
    assert_int_equal(revoke_id("admin", "client.org2", "left", NULL), 0);
    buf_release(&out);
}

/* A new identity is valid on a clock up to five minutes behind the CA's (the enrolling client
 * checks it on its own clock after the CA counted the enrolment); its end of validity is still
 * the CA's time of issue plus the id's validity. */
static void new_identity_valid_on_a_clock_behind(void **state)
{
    make_identity("lagging", "org1", "client", "--validity 1h");
    char dir[600], path[600];
    snprintf(dir, sizeof dir, "%s/lagging", g.tmp);
    snprintf(path, sizeof path, "%s/ca.pub", g.dir);
    size_t n;
    char *pub = test_read_file(path, &n);
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_from_public((uint8_t *)pub, n, &k), STELE_OK);
    struct msp *m = msp_create(0);
    assert_int_equal(msp_add_ca(m, NULL, 0, k), STELE_OK);
    struct arena *a = arena_create(0);
    struct enrolment e;
    struct identity id;
    for (int pass = 0; pass < 2; pass++) { /* enrolled, then reenrolled */
        assert_int_equal(enrolment_load(dir, &e, NULL), STELE_OK);
        uint64_t now = clock_wall_s();
        assert_int_equal(
            identity_verify(m, a, e.identity.data, e.identity.len, now - 60, &id, NULL), STELE_OK);
        assert_int_equal(
            identity_verify(m, a, e.identity.data, e.identity.len, now - 290, &id, NULL), STELE_OK);
        uint64_t until = identity_valid_until(&id.fields);
        assert_true(until >= now + 3600 - 30 && until <= now + 3600);
        assert_int_equal(identity_verify(m, a, e.identity.data, e.identity.len, until, &id, NULL),
                         STELE_ERR_EXPIRED);
        enrolment_release(&e);
        if (pass == 0)
            assert_int_equal(reenroll("lagging", NULL), 0);
    }
    arena_destroy(a);
    msp_destroy(m);
    crypto_key_destroy(k);
    free(pub);
}

/* One enrolment attempt over gRPC: the answer's code and detail, and how long it took (ms). */
static uint64_t try_enrol(const char *id, const char *secret, struct rpc_result *res)
{
    struct crypto_key *k_u = NULL;
    uint8_t r_u[33];
    assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    req.id = (char *)id;
    req.secret = (char *)secret;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    ProtobufCMessage *resp = NULL;
    uint64_t t0 = clock_mono_ms();
    rpc_unary(g.ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor, &resp,
              20000, res);
    uint64_t ms = clock_mono_ms() - t0;
    pb_free(resp);
    crypto_key_destroy(k_u);
    return ms;
}

/* The quickest of three refused attempts; each must answer exactly what `want` answered. */
static uint64_t refused_ms(const char *id, const char *secret, const struct rpc_result *want)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        struct rpc_result res;
        uint64_t ms = try_enrol(id, secret, &res);
        assert_int_equal(res.code, want->code);
        assert_string_equal(res.detail, want->detail);
        best = ms < best ? ms : best;
    }
    return best;
}

/* An unknown id, a wrong generated secret, a wrong chosen secret and a locked id (even with its
 * right secret) get the same answer after the same work, so nobody learns which ids exist. Only
 * ids with a chosen secret, which can be guessed, are locked: a generated one cannot be locked
 * by strangers. */
static void enrolment_answers_do_not_tell_ids_apart(void **state)
{
    char gen[128], chosen_secret[] = "chosen-by-admin", lock_secret[] = "lock-me-out";
    assert_int_equal(reg("admin", "gen.org1", "org1", "client", NULL, gen, NULL), 0);
    assert_int_equal(
        reg("admin", "chosen.org1", "org1", "client", "--secret chosen-by-admin", NULL, NULL), 0);
    assert_int_equal(
        reg("admin", "locked.org1", "org1", "client", "--secret lock-me-out", NULL, NULL), 0);
    struct rpc_result want;
    try_enrol("nobody.org1", "guess", &want);
    assert_int_equal(want.code, RPC_UNAUTHENTICATED);
    assert_string_equal(want.detail, "invalid id or secret");
    for (int i = 0; i < 3; i++) { /* attempt_limit */
        struct rpc_result res;
        try_enrol("locked.org1", "guess", &res);
    }
    uint64_t unknown = refused_ms("nobody.org1", "guess", &want);
    uint64_t generated = refused_ms("gen.org1", "guess", &want);
    uint64_t chosen = refused_ms("chosen.org1", "guess", &want);
    uint64_t locked = refused_ms("locked.org1", lock_secret, &want);
    print_message("refused in ms: unknown %llu, generated %llu, chosen %llu, locked %llu\n",
                  (unsigned long long)unknown, (unsigned long long)generated,
                  (unsigned long long)chosen, (unsigned long long)locked);
    /* Each costs one PBKDF2 hash; halving leaves room for a loaded machine. */
    assert_true(2 * unknown >= chosen);
    assert_true(2 * generated >= chosen);
    assert_true(2 * locked >= chosen);
    /* chosen.org1 is locked now (three wrong secrets); gen.org1 had as many and is not. */
    struct rpc_result res;
    try_enrol("chosen.org1", chosen_secret, &res);
    assert_int_equal(res.code, RPC_UNAUTHENTICATED);
    try_enrol("gen.org1", gen, &res);
    assert_int_equal(res.code, RPC_OK);
}

/* A client reenrolling in a loop stops at MAX_SUPERSEDED superseded certificates not yet
 * expired (each is on the CRL until then), and can still be revoked. */
static void reenrolment_loop_capped_and_revocable(void **state)
{
    struct buf out = {0};
    make_identity("looper.org1", "org1", "client", NULL);
    for (int i = 0; i < MAX_SUPERSEDED; i++)
        assert_int_equal(reenroll("looper.org1", NULL), 0);
    assert_int_equal(reenroll("looper.org1", &out), 1);
    assert_non_null(strstr((char *)out.data, "RESOURCE_EXHAUSTED"));
    assert_non_null(strstr((char *)out.data, "superseded"));
    char hex[65];
    certhash_hex("looper.org1", hex);
    assert_false(crl_lists(hex));
    assert_int_equal(revoke_id("admin.org1", "looper.org1", "looping", NULL), 0);
    assert_true(crl_lists(hex));
    buf_release(&out);
}

/* An id whose record an older CA let grow past 1 MiB (some 20,000 reenrolments) can still be
 * revoked: its newest certificate goes on the CRL and signs nothing more. */
static void id_grown_by_an_older_ca_still_revocable(void **state)
{
    make_identity("bloated.org1", "org1", "client", NULL);
    char hex[65];
    certhash_hex("bloated.org1", hex);
    stop_ca();
    struct registry *r = NULL;
    struct arena *a = arena_create(0);
    Stele__CaIdRecord *rec;
    assert_int_equal(registry_open(g.dir, false, &r, NULL), STELE_OK);
    assert_int_equal(registry_get_id(r, a, "bloated.org1", &rec), STELE_OK);
    assert_int_equal(rec->n_certs, 1);
    size_t n = 25000;
    Stele__CaCertRef **v = arena_calloc(a, n + 1, sizeof *v);
    static uint8_t old_hash[32];
    for (size_t i = 0; i < n; i++) { /* superseded certificates, as reenrolments left them */
        v[i] = arena_calloc(a, 1, sizeof *v[i]);
        stele__ca_cert_ref__init(v[i]);
        v[i]->serial = 1000000 + i;
        v[i]->certhash.data = old_hash;
        v[i]->certhash.len = 32;
        v[i]->issued_at = rec->certs[0]->issued_at;
        v[i]->expires_at = rec->certs[0]->expires_at;
        v[i]->revoked = true;
    }
    v[n] = rec->certs[0];
    rec->certs = v;
    rec->n_certs = n + 1;
    struct buf val = {0};
    assert_int_equal(pb_pack_buf(&rec->base, &val), STELE_OK);
    assert_true(val.len > MAX_RECORD);
    struct registry_batch *b = registry_batch_create();
    leveldb_writebatch_put(b->wb, "id/bloated.org1", 15, (const char *)val.data, val.len);
    assert_int_equal(registry_commit(r, b), STELE_OK);
    registry_batch_destroy(b);
    buf_release(&val);
    registry_close(r);
    arena_destroy(a);
    start_ca();

    struct buf out = {0};
    assert_int_equal(revoke_id("admin.org1", "bloated.org1", "compromised", &out), 0);
    assert_true(crl_lists(hex));
    buf_clear(&out);
    assert_int_equal(reenroll("bloated.org1", &out), 1);
    assert_non_null(strstr((char *)out.data, "revoked"));
    buf_release(&out);
}

/* The CRL leaves out a certificate once it has expired (verifiers refuse it anyway), and a
 * revocation reason is at most REASON_MAX octets. */
static void crl_leaves_out_expired_and_bounds_reasons(void **state)
{
    char first[65], reason[REASON_MAX + 2];
    struct buf out = {0};
    make_identity("brief.org1", "org1", "client", "--validity 2s");
    certhash_hex("brief.org1", first);
    assert_int_equal(reenroll("brief.org1", NULL), 0); /* the first goes on the CRL */
    assert_true(crl_lists(first));
    clock_sleep_ms(3100);

    make_identity("talker.org1", "org1", "client", NULL);
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    assert_int_equal(revoke_id("admin.org1", "talker.org1", reason, &out), 1);
    assert_non_null(strstr((char *)out.data, "INVALID_ARGUMENT"));
    assert_non_null(strstr((char *)out.data, "at most 256"));
    assert_int_equal(reenroll("talker.org1", NULL), 0); /* not revoked */
    char talker[65];
    certhash_hex("talker.org1", talker);
    reason[REASON_MAX] = 0;
    assert_int_equal(revoke_id("admin.org1", "talker.org1", reason, NULL), 0);
    /* A new CRL (the revocation gave it a new number): talker's certificate, not brief's
     * expired one. */
    assert_true(crl_lists(talker));
    assert_false(crl_lists(first));
    buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admins_act_on_their_own_organisation),
        cmocka_unit_test(new_identity_valid_on_a_clock_behind),
        cmocka_unit_test(enrolment_answers_do_not_tell_ids_apart),
        cmocka_unit_test(reenrolment_loop_capped_and_revocable),
        cmocka_unit_test(id_grown_by_an_older_ca_still_revocable),
        cmocka_unit_test(crl_leaves_out_expired_and_bounds_reasons),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
