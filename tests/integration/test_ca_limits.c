/*
 * test_ca_limits.c — what the real stele-ca refuses and bounds, against admins of other
 * organisations, unauthenticated callers, clock skew and clients that reenrol in a loop: each
 * admin acts on its own organisation only; a new identity is valid on a clock a little behind
 * the CA's; enrolment answers and timing do not tell unknown, locked and known ids apart; an id
 * cannot grow past what can be revoked; the CRL keeps a certificate that just expired and
 * bounds reasons. The CA and its helpers are tests/support/ca_fixture.h.
 *
 * The CA's registry code is compiled in so that a test can plant a record as an older CA wrote
 * it (while the CA is stopped).
 */
#include "ca_fixture.h"

#include "../../ca/registry.c"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/ca.pb-c.h"

#include <signal.h>
#include <string.h>

/* What ca/ca.h sets (the test checks the CA's behaviour, not its header). */
#define MAX_SUPERSEDED 32
#define REASON_MAX     256
/* PBKDF2 iterations of this CA: enough that one hash (~0.1 s) dwarfs a request's other work. */
#define ITERATIONS 100000

static int group_setup(void **state)
{
    /* As stele-network sets it up: the CA's admin belongs to the orderers' organisation. */
    ca_fixture_setup("ca-limits", "limits-ca", "orderers", ITERATIONS);
    assert_int_equal(cli_enroll("admin", g_ca.admin_secret, NULL, NULL), 0);
    cli_make_identity("admin.orderers", "orderers", "admin", NULL);
    cli_make_identity("admin.org1", "org1", "admin", NULL);
    cli_make_identity("admin.org2", "org2", "admin", NULL);
    cli_make_identity("peer0.org2", "org2", "peer", NULL);
    *state = NULL;
    return 0;
}

/* An admin registers and revokes ids of its own organisation only; the CA's admin, which
 * registers every identity of a network, acts on all of them; nobody else revokes it. */
static void admins_act_on_their_own_organisation(void **state)
{
    struct buf out = {0};
    /* org1's admin may not make an admin of org2 (it would count toward org2's policies). */
    assert_int_equal(cli_register("admin.org1", "evil.org2", "org2", "admin", NULL, NULL, &out), 1);
    assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    assert_non_null(strstr((char *)out.data, "may not register"));
    /* Nor revoke org2's peer and admin, or the CA's admin. */
    const char *others[] = {"peer0.org2", "admin.org2", "admin"};
    for (size_t i = 0; i < 3; i++) {
        buf_clear(&out);
        assert_int_equal(cli_revoke("admin.org1", others[i], "x", &out), 1);
        assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    }
    /* An admin of the CA admin's own organisation may not revoke it either. */
    buf_clear(&out);
    assert_int_equal(cli_revoke("admin.orderers", "admin", "x", &out), 1);
    assert_non_null(strstr((char *)out.data, "PERMISSION_DENIED"));
    /* Nothing was revoked: they all still sign (a reenrolment). */
    assert_int_equal(cli_reenroll("peer0.org2", NULL), 0);
    assert_int_equal(cli_reenroll("admin.org2", NULL), 0);
    assert_int_equal(cli_reenroll("admin", NULL), 0);
    /* Within its organisation an admin registers and revokes. */
    char secret[CA_SECRET_LEN];
    assert_int_equal(
        cli_register("admin.org1", "client.org1", "org1", "client", NULL, secret, NULL), 0);
    assert_int_equal(cli_revoke("admin.org1", "client.org1", "left", NULL), 0);
    /* The CA's admin acts across organisations. */
    assert_int_equal(cli_register("admin", "client.org2", "org2", "client", NULL, secret, NULL), 0);
    assert_int_equal(cli_revoke("admin", "client.org2", "left", NULL), 0);
    buf_release(&out);
}

/* A new identity is valid on a clock up to five minutes behind the CA's (the enrolling client
 * checks it on its own clock after the CA counted the enrolment); its end of validity is still
 * the CA's time of issue plus the id's validity. */
static void new_identity_valid_on_a_clock_behind(void **state)
{
    cli_make_identity("lagging", "org1", "client", "--validity 1h");
    struct msp *m = third_party_msp();
    struct arena *a = arena_create(0);
    struct enrolment e;
    struct identity id;
    for (int pass = 0; pass < 2; pass++) { /* enrolled, then reenrolled */
        ca_load("lagging", &e);
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
            assert_int_equal(cli_reenroll("lagging", NULL), 0);
    }
    arena_destroy(a);
    msp_destroy(m);
}

/* One enrolment attempt over gRPC: the answer's code and detail, and how long it took (ms). */
static uint64_t try_enrol(const char *id, const char *secret, struct rpc_result *res)
{
    uint64_t t0 = clock_mono_ms();
    enrol_rpc(id, secret, NULL, NULL, res);
    return clock_mono_ms() - t0;
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
    char gen[CA_SECRET_LEN], chosen_secret[] = "chosen-by-admin", lock_secret[] = "lock-me-out-now";
    assert_int_equal(cli_register("admin", "gen.org1", "org1", "client", NULL, gen, NULL), 0);
    assert_int_equal(cli_register("admin", "chosen.org1", "org1", "client",
                                  "--secret chosen-by-admin", NULL, NULL),
                     0);
    assert_int_equal(cli_register("admin", "locked.org1", "org1", "client",
                                  "--secret lock-me-out-now", NULL, NULL),
                     0);
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
    cli_make_identity("looper.org1", "org1", "client", NULL);
    for (int i = 0; i < MAX_SUPERSEDED; i++)
        assert_int_equal(cli_reenroll("looper.org1", NULL), 0);
    assert_int_equal(cli_reenroll("looper.org1", &out), 1);
    assert_non_null(strstr((char *)out.data, "RESOURCE_EXHAUSTED"));
    assert_non_null(strstr((char *)out.data, "superseded"));
    char hex[65];
    certhash_hex("looper.org1", hex);
    assert_false(crl_lists(hex));
    assert_int_equal(cli_revoke("admin.org1", "looper.org1", "looping", NULL), 0);
    assert_true(crl_lists(hex));
    buf_release(&out);
}

/* An id whose record an older CA let grow past 1 MiB (some 20,000 reenrolments) can still be
 * revoked: its newest certificate goes on the CRL and signs nothing more. */
static void id_grown_by_an_older_ca_still_revocable(void **state)
{
    cli_make_identity("bloated.org1", "org1", "client", NULL);
    char hex[65];
    certhash_hex("bloated.org1", hex);
    stop_ca(SIGTERM);
    struct registry *r = NULL;
    struct arena *a = arena_create(0);
    Stele__CaIdRecord *rec;
    assert_int_equal(registry_open(g_ca.dir, false, &r, NULL), STELE_OK);
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
    assert_int_equal(cli_revoke("admin.org1", "bloated.org1", "compromised", &out), 0);
    assert_true(crl_lists(hex));
    buf_clear(&out);
    assert_int_equal(cli_reenroll("bloated.org1", &out), 1);
    assert_non_null(strstr((char *)out.data, "revoked"));
    buf_release(&out);
}

/* The CRL still lists a revoked certificate just after it has expired: a transaction dated
 * before its expiry may be accepted for 15 minutes more (test_ca_crl.c sees it leave the CRL
 * after that window). A revocation reason is at most REASON_MAX octets. */
static void crl_keeps_just_expired_and_bounds_reasons(void **state)
{
    char first[65], reason[REASON_MAX + 2];
    struct buf out = {0};
    cli_make_identity("brief.org1", "org1", "client", "--validity 2s");
    certhash_hex("brief.org1", first);
    assert_int_equal(cli_reenroll("brief.org1", NULL), 0); /* the first goes on the CRL */
    assert_true(crl_lists(first));
    clock_sleep_ms(3100);

    cli_make_identity("talker.org1", "org1", "client", NULL);
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    assert_int_equal(cli_revoke("admin.org1", "talker.org1", reason, &out), 1);
    assert_non_null(strstr((char *)out.data, "INVALID_ARGUMENT"));
    assert_non_null(strstr((char *)out.data, "at most 256"));
    assert_int_equal(cli_reenroll("talker.org1", NULL), 0); /* not revoked */
    char talker[65];
    certhash_hex("talker.org1", talker);
    reason[REASON_MAX] = 0;
    assert_int_equal(cli_revoke("admin.org1", "talker.org1", reason, NULL), 0);
    /* A new CRL (the revocation gave it a new number): talker's certificate, and brief's
     * that expired a moment ago. */
    assert_true(crl_lists(talker));
    assert_true(crl_lists(first));
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
        cmocka_unit_test(crl_keeps_just_expired_and_bounds_reasons),
    };
    return cmocka_run_group_tests(tests, group_setup, ca_fixture_teardown);
}
