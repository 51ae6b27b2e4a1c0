/* test_ccrt.c — the chaincode runtime with real host processes (stele-peer chaincode-host),
 * real chaincode .so files (tests/chaincode/) and a real state database: the read/write sets
 * built from state calls (checked by tx_open() as a validating peer would), the sandbox and
 * the limits (each misbehaviour refused with its own error, the host replaced, the runtime
 * still serving), refusals to load, concurrency, eviction, and no zombies left behind. */
#include "ccrt_fixture.h"
#include "testutil.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/envelope.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "peer/ccrt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 1500

struct fixture {
    char *dir;
    struct statedb *db;
    struct ccrt *rt;
    char *kv, *evil; /* paths of the test chaincodes */
};

static char *cc_path(const char *name)
{
    char rel[64];
    snprintf(rel, sizeof rel, "tests/chaincode/%s.so", name);
    return test_binary_path(rel);
}

static const char *txid(unsigned i)
{
    static char id[65];
    snprintf(id, sizeof id, "%064x", i);
    return id;
}

/* Block 0: tx 0 writes a=1 b=2, tx 1 writes c=3 d=4 (namespace kv); block 1: tx 0 writes
 * n000..n149 in namespace "big". */
static void fill_db(struct statedb *db)
{
    struct statedb_update *u = statedb_update_create(0);
    const char *keys[] = {"a", "b", "c", "d"}, *vals[] = {"1", "2", "3", "4"};
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(statedb_update_write(u, i / 2, txid(i / 2), "kv", keys[i],
                                              (const uint8_t *)vals[i], 1, false),
                         STELE_OK);
    assert_int_equal(statedb_apply(db, u, NULL), STELE_OK);
    statedb_update_destroy(u);
    u = statedb_update_create(1);
    for (unsigned i = 0; i < 150; i++) {
        char k[16];
        snprintf(k, sizeof k, "n%03u", i);
        assert_int_equal(
            statedb_update_write(u, 0, txid(9), "big", k, (const uint8_t *)"v", 1, false),
            STELE_OK);
    }
    assert_int_equal(statedb_apply(db, u, NULL), STELE_OK);
    statedb_update_destroy(u);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("ccrt");
    char *err = NULL;
    if (statedb_open(fx->dir, false, &fx->db, &err))
        return -1;
    fill_db(fx->db);
    fx->rt = ccrt_fx_runtime(&(struct ccrt_config){
        .pool_size = 2, .timeout_ms = TIMEOUT_MS, .memory_limit = 192u << 20});
    fx->kv = cc_path("kv");
    fx->evil = cc_path("evil");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    ccrt_destroy(fx->rt);
    statedb_close(fx->db);
    /* every host was reaped: no child is left, not even a zombie */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->kv);
    free(fx->evil);
    free(fx);
    return 0;
}

/* Invokes `fn` with the NULL-terminated string arguments `...` of chaincode `cc` (namespace
 * `ns`); returns the status of ccrt_invoke() and fills *res and *err (free it). */
static int invoke_v(struct fixture *fx, struct ccrt *rt, const char *ns, const char *so,
                    const char *fn, struct ccrt_result *res, char **err, va_list ap)
{
    ProtobufCBinaryData args[32];
    size_t n = 0;
    for (const char *a; n < 32 && (a = va_arg(ap, const char *));)
        args[n++] = (ProtobufCBinaryData){strlen(a), (uint8_t *)a};
    struct ccrt_attr attrs[] = {{"table", "7"}, {"sensor", "s1"}};
    struct ccrt_invocation inv = {
        .chaincode = ns,
        .so_path = so,
        .function = fn,
        .args = args,
        .n_args = n,
        .tx_id = "ab12",
        .timestamp_ms = 1700000000123,
        .creator_id = "alice",
        .creator_org = "Org1",
        .creator_role = "client",
        .creator_certhash = {0xee},
        .attrs = attrs,
        .n_attrs = 2,
        .db = fx->db,
    };
    *err = NULL;
    return ccrt_invoke(rt, &inv, res, err);
}

static int invoke(struct fixture *fx, const char *so, const char *fn, struct ccrt_result *res,
                  char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    const char *ns = so == fx->kv ? "kv" : "evil";
    int rc = invoke_v(fx, fx->rt, ns, so, fn, res, err, ap);
    va_end(ap);
    return rc;
}

/* Runs kv's `fn` and expects a success; returns the result (release it). */
static struct ccrt_result run_kv(struct fixture *fx, const char *fn, ...)
{
    struct ccrt_result res;
    char *err;
    va_list ap;
    va_start(ap, fn);
    int rc = invoke_v(fx, fx->rt, "kv", fx->kv, fn, &res, &err, ap);
    va_end(ap);
    if (rc)
        fail_msg("%s: %s", fn, err ? err : stele_strerror(rc));
    if (res.status != 200)
        fail_msg("%s: status %d %s", fn, res.status, res.message);
    assert_non_null(res.rwset);
    return res;
}

static void assert_payload(const struct ccrt_result *r, const char *want)
{
    char *got = strndup((const char *)r->payload.data, r->payload.len);
    if (strcmp(got, want) != 0)
        fail_msg("payload '%s', want '%s'", got, want);
    free(got);
}

/* The read/write set passes a validating peer's checks (tx_open(): namespace, order, ranges,
 * deletes): it goes through a real endorsed transaction. */
static void assert_valid_rwset(const Stele__TxRwSet *rw, const char *cc)
{
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    struct tx_signer s = {k, (const uint8_t *)"me", 2, NULL};
    struct tx_proposal_params p = {.channel_id = "ch", .chaincode = cc, .function = "f"};
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    struct tx_result r = {
        .chaincode = cc, .version = "1.0", .sequence = 1, .rwset = rw, .response = &resp};
    ProtobufCBinaryData env = {0};
    assert_int_equal(tx_build_endorsed(&p, &s, &r, &s, 1, &env, NULL), STELE_OK);
    struct arena *a = arena_create(0);
    struct envelope_view view;
    struct tx_view tv;
    Stele__TxValidationCode code;
    const char *why = NULL;
    assert_int_equal(envelope_parse(a, env.data, env.len, 0, &view, &why), STELE_OK);
    if (tx_open(a, &view, &tv, &code, &why) != STELE_OK)
        fail_msg("the read/write set is refused: %s", why ? why : "?");
    arena_destroy(a);
    free(env.data);
    crypto_key_destroy(k);
}

static const Stele__NsRwSet *ns_of(const struct ccrt_result *r)
{
    assert_int_equal(r->rwset->n_ns_rwsets, 1);
    assert_string_equal(r->rwset->ns_rwsets[0]->namespace_, "kv");
    assert_valid_rwset(r->rwset, "kv");
    return r->rwset->ns_rwsets[0];
}

static void assert_read(const Stele__KVRead *rd, const char *key, int block, int tx)
{
    assert_string_equal(rd->key, key);
    if (block < 0) {
        assert_null(rd->version);
        return;
    }
    assert_non_null(rd->version);
    assert_int_equal(rd->version->block_number, block);
    assert_int_equal(rd->version->tx_index, tx);
}

static void assert_write(const Stele__KVWrite *w, const char *key, const char *value)
{
    assert_string_equal(w->key, key);
    if (!value) {
        assert_true(w->is_delete);
        assert_int_equal(w->value.len, 0);
        return;
    }
    assert_false(w->is_delete);
    assert_int_equal(w->value.len, strlen(value));
    assert_memory_equal(w->value.data, value, strlen(value));
}

/* ---- read/write sets ------------------------------------------------------------------- */

static void test_reads(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_result r = run_kv(fx, "batch", "get c", "get zz", "get a", "get c", NULL);
    assert_payload(&r, "c=3;zz!;a=1;c=3;");
    const Stele__NsRwSet *ns = ns_of(&r);
    assert_int_equal(ns->n_reads, 3); /* once per key, sorted, absent without a version */
    assert_read(ns->reads[0], "a", 0, 0);
    assert_read(ns->reads[1], "c", 0, 1);
    assert_read(ns->reads[2], "zz", -1, 0);
    assert_int_equal(ns->n_writes, 0);
    assert_int_equal(ns->n_range_reads, 0);
    ccrt_result_release(&r);

    /* nothing read or written: no namespace at all */
    r = run_kv(fx, "batch", NULL);
    assert_int_equal(r.rwset->n_ns_rwsets, 0);
    ccrt_result_release(&r);
}

static void test_writes(void **state)
{
    struct fixture *fx = *state;
    /* read-your-writes records no read; the last write of a key wins; writes are sorted */
    struct ccrt_result r = run_kv(fx, "batch", "put x 9", "get x", "put b 5", "put a 7", "del c",
                                  "put b 6", "del zz", "get c", "get b", NULL);
    assert_payload(&r, "x=9;c!;b=6;");
    const Stele__NsRwSet *ns = ns_of(&r);
    assert_int_equal(ns->n_reads, 0);
    assert_int_equal(ns->n_writes, 5);
    assert_write(ns->writes[0], "a", "7");
    assert_write(ns->writes[1], "b", "6");
    assert_write(ns->writes[2], "c", NULL);
    assert_write(ns->writes[3], "x", "9");
    assert_write(ns->writes[4], "zz", NULL);
    ccrt_result_release(&r);

    /* a key read before it is written keeps its read */
    r = run_kv(fx, "batch", "get d", "put d 5", "get d", NULL);
    assert_payload(&r, "d=4;d=5;");
    ns = ns_of(&r);
    assert_int_equal(ns->n_reads, 1);
    assert_read(ns->reads[0], "d", 0, 1);
    assert_int_equal(ns->n_writes, 1);
    assert_write(ns->writes[0], "d", "5");
    ccrt_result_release(&r);

    /* thousands of one-way writes: the host holds them back and writes them to the peer in
     * batches of at most 64 KiB (cchost.c), and the peer records every one, in order */
    r = run_kv(fx, "many", "5000", NULL);
    ns = ns_of(&r);
    assert_int_equal(ns->n_writes, 5000);
    assert_write(ns->writes[0], "m00000", "x");
    assert_write(ns->writes[4999], "m04999", "x");
    ccrt_result_release(&r);

    /* a one-way write larger than what the host holds back goes alone, after those held */
    char *big = malloc(200001);
    assert_non_null(big);
    memset(big, 'b', 200000);
    big[200000] = 0;
    r = run_kv(fx, "put", "a0", "1", "big", big, "z9", "2", NULL);
    ns = ns_of(&r);
    assert_int_equal(ns->n_writes, 3);
    assert_write(ns->writes[0], "a0", "1");
    assert_write(ns->writes[1], "big", big);
    assert_write(ns->writes[2], "z9", "2");
    ccrt_result_release(&r);
    free(big);

    /* the committed state is untouched: writes are only proposed */
    r = run_kv(fx, "get", "c", NULL);
    assert_payload(&r, "3");
    ccrt_result_release(&r);
}

static void test_ranges(void **state)
{
    struct fixture *fx = *state;
    /* the whole namespace: exhausted, every key with its version */
    struct ccrt_result r = run_kv(fx, "batch", "range - - 0", NULL);
    assert_payload(&r, "[a=1,b=2,c=3,d=4,]");
    const Stele__NsRwSet *ns = ns_of(&r);
    assert_int_equal(ns->n_range_reads, 1);
    const Stele__RangeRead *rr = ns->range_reads[0];
    assert_string_equal(rr->start_key, "");
    assert_string_equal(rr->end_key, "");
    assert_true(rr->exhausted);
    assert_int_equal(rr->n_reads, 4);
    assert_read(rr->reads[0], "a", 0, 0);
    assert_read(rr->reads[3], "d", 0, 1);
    assert_int_equal(ns->n_reads, 0);
    ccrt_result_release(&r);

    /* stopped early: not exhausted, the keys seen */
    r = run_kv(fx, "batch", "range b - 2", NULL);
    assert_payload(&r, "[b=2,c=3,]");
    rr = ns_of(&r)->range_reads[0];
    assert_false(rr->exhausted);
    assert_string_equal(rr->start_key, "b");
    assert_int_equal(rr->n_reads, 2);
    assert_read(rr->reads[1], "c", 0, 1);
    ccrt_result_release(&r);

    /* merged with own writes: a put shows, a delete hides; hidden and replaced committed keys
     * are still listed, own keys are not */
    r = run_kv(fx, "batch", "put bb X", "del c", "put a 0", "range a e 0", NULL);
    assert_payload(&r, "[a=0,b=2,bb=X,d=4,]");
    ns = ns_of(&r);
    rr = ns->range_reads[0];
    assert_true(rr->exhausted);
    assert_string_equal(rr->end_key, "e");
    assert_int_equal(rr->n_reads, 4);
    assert_read(rr->reads[0], "a", 0, 0);
    assert_read(rr->reads[1], "b", 0, 0);
    assert_read(rr->reads[2], "c", 0, 1);
    assert_read(rr->reads[3], "d", 0, 1);
    ccrt_result_release(&r);

    /* stopped on an own write past the keys listed: recorded as exhausted up to it */
    r = run_kv(fx, "batch", "put ab Y", "range a - 2", NULL);
    assert_payload(&r, "[a=1,ab=Y,]");
    rr = ns_of(&r)->range_reads[0];
    assert_true(rr->exhausted);
    assert_string_equal(rr->start_key, "a");
    assert_string_equal(rr->end_key, "ab");
    assert_int_equal(rr->n_reads, 1);
    assert_read(rr->reads[0], "a", 0, 0);
    ccrt_result_release(&r);

    /* several ranges, listed in the order opened; an empty one is exhausted at once */
    r = run_kv(fx, "batch", "range c - 1", "put cc Z", "range x y 0", "range c d 0", NULL);
    assert_payload(&r, "[c=3,][][c=3,cc=Z,]");
    ns = ns_of(&r);
    assert_int_equal(ns->n_range_reads, 3);
    assert_true(ns->range_reads[1]->exhausted);
    assert_int_equal(ns->range_reads[1]->n_reads, 0);
    ccrt_result_release(&r);

    /* more keys than a page of the peer's iterator */
    struct ccrt_result big;
    char *err;
    struct ccrt_invocation inv = {
        .chaincode = "big", .so_path = fx->kv, .function = "batch", .db = fx->db};
    ProtobufCBinaryData arg = {strlen("range n010 n140 0"), (uint8_t *)"range n010 n140 0"};
    inv.args = &arg;
    inv.n_args = 1;
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &big, &err), STELE_OK);
    assert_int_equal(big.status, 200);
    rr = big.rwset->ns_rwsets[0]->range_reads[0];
    assert_true(rr->exhausted);
    assert_int_equal(rr->n_reads, 130);
    assert_string_equal(rr->reads[0]->key, "n010");
    assert_string_equal(rr->reads[129]->key, "n139");
    assert_valid_rwset(big.rwset, "big");
    ccrt_result_release(&big);

    /* Where the caller says which chaincode the package must hold (the endorser: the
     * definition's name), another one is refused before it runs: kv.so is "kv". */
    inv.package_name = "big";
    err = NULL;
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &big, &err), STELE_ERR_STATE);
    assert_non_null(strstr(err, "holds chaincode \"kv\" on this peer, not \"big\""));
    free(err);
    inv.package_name = "kv";
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &big, &err), STELE_OK);
    ccrt_result_release(&big);
}

static void test_results(void **state)
{
    struct fixture *fx = *state;
    /* the stub carries the invocation */
    struct ccrt_result r = run_kv(fx, "info", "x", "y", NULL);
    assert_payload(&r, "info|ab12|1700000000123|alice|Org1|client|7|238|2");
    assert_null(r.event);
    assert_string_equal(r.message, "");
    assert_true(r.duration_us > 0);
    ccrt_result_release(&r);

    /* an event */
    r = run_kv(fx, "batch", "event opened p1", NULL);
    assert_non_null(r.event);
    assert_string_equal(r.event->chaincode, "kv");
    assert_string_equal(r.event->tx_id, "ab12");
    assert_string_equal(r.event->name, "opened");
    assert_int_equal(r.event->payload.len, 2);
    ccrt_result_release(&r);

    /* a refusal: its status and message, no read/write set, no event */
    char *err;
    assert_int_equal(invoke(fx, fx->kv, "refuse", &r, &err, NULL), STELE_OK);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.message, "refused on purpose");
    assert_null(r.rwset);
    assert_null(r.event);
    ccrt_result_release(&r);
    assert_int_equal(invoke(fx, fx->kv, "get", &r, &err, "nope", NULL), STELE_OK);
    assert_int_equal(r.status, 404);
    ccrt_result_release(&r);

    /* bad invocations */
    struct ccrt_invocation inv = {.chaincode = "_lifecycle", .so_path = fx->kv, .db = fx->db};
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &r, &err), STELE_ERR_INVALID);
    assert_non_null(strstr(err, "_lifecycle"));
    free(err);
    inv.chaincode = "kv";
    inv.db = NULL;
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &r, &err), STELE_ERR_INVALID);
    free(err);
}

static void test_key_limits(void **state)
{
    struct fixture *fx = *state;
    struct ccrt *rt = ccrt_fx_runtime(&(struct ccrt_config){
        .pool_size = 1, .timeout_ms = TIMEOUT_MS, .max_keys = 100, .max_write_bytes = 4096});
    struct ccrt_invocation inv = {.chaincode = "big", .so_path = fx->kv, .db = fx->db};
    struct ccrt_result r;
    char *err = NULL;
    /* writes past a cap are refused to the chaincode (413 here) */
    ProtobufCBinaryData n50 = {2, (uint8_t *)"50"}, n200 = {3, (uint8_t *)"200"};
    inv.function = "many";
    inv.args = &n50;
    inv.n_args = 1;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.rwset->ns_rwsets[0]->n_writes, 50);
    ccrt_result_release(&r);
    inv.args = &n200;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 413);
    ccrt_result_release(&r);
    /* exactly at the cap: the host sends writes that surely fit without waiting for the
     * answer (cchost.c write_call), the one past it waits and is refused */
    ProtobufCBinaryData n100 = {3, (uint8_t *)"100"}, n101 = {3, (uint8_t *)"101"};
    inv.args = &n100;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.rwset->ns_rwsets[0]->n_writes, 100);
    ccrt_result_release(&r);
    inv.args = &n101;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.message, "put 100 failed"));
    ccrt_result_release(&r);
    char big[3000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ProtobufCBinaryData kv2[4] = {{1, (uint8_t *)"p"},
                                  {sizeof big - 1, (uint8_t *)big},
                                  {1, (uint8_t *)"q"},
                                  {sizeof big - 1, (uint8_t *)big}};
    inv.function = "put";
    inv.args = kv2;
    inv.n_args = 4;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 413); /* the second value goes over 4096 octets */
    ccrt_result_release(&r);
    /* writing the same key twice counts it once: the host's own bound (6,002 octets) is past
     * the cap, so it asks, and the peer's exact count (3,000) lets it through */
    kv2[2] = kv2[0];
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.rwset->ns_rwsets[0]->n_writes, 1);
    assert_int_equal(r.rwset->ns_rwsets[0]->writes[0]->value.len, sizeof big - 1);
    ccrt_result_release(&r);
    /* reading past the cap spoils the set: the invocation fails */
    ProtobufCBinaryData scan = {strlen("range - - 0"), (uint8_t *)"range - - 0"};
    inv.function = "batch";
    inv.args = &scan;
    inv.n_args = 1;
    assert_int_equal(ccrt_invoke(rt, &inv, &r, &err), STELE_ERR_LIMIT);
    assert_non_null(strstr(err, "100 keys"));
    free(err);
    assert_null(r.arena);
    ccrt_destroy(rt);
}

/* ---- the sandbox --------------------------------------------------------------------------- */

struct misdeed {
    const char *fn;   /* evil.c's function */
    int rc;           /* what ccrt_invoke() says */
    const char *what; /* and a phrase of its message */
};

static void test_misdeeds(void **state)
{
    struct fixture *fx = *state;
    static const struct misdeed m[] = {
        {"segv", STELE_ERR_INTERNAL, "SIGSEGV"},
        {"abort", STELE_ERR_INTERNAL, "SIGABRT"},
        {"exit", STELE_ERR_INTERNAL, "exited"},
        {"garbage", STELE_ERR_INTERNAL, "malformed"},
        {"loop", STELE_ERR_TIMEOUT, "timed out"},
        /* frames needing no answer, never waiting for the socket: the deadline still holds */
        {"flood", STELE_ERR_TIMEOUT, "timed out"},
        {"alloc", STELE_ERR_LIMIT, "memory limit"},
        {"open", STELE_ERR_PERMISSION, "openat"},
        {"socket", STELE_ERR_PERMISSION, "socket"},
        {"exec", STELE_ERR_PERMISSION, "execve"},
        {"fork", STELE_ERR_PERMISSION, "clone"},
        /* glibc's pthread_create() sets a signal handler before it clones */
        {"thread", STELE_ERR_PERMISSION, "forbidden system call: rt_sigaction"},
        {"sigsys", STELE_ERR_PERMISSION, "SIGSYS"},
    };
    struct ccrt_stats before, after;
    ccrt_get_stats(fx->rt, &before);
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        struct ccrt_result r;
        char *err = NULL;
        uint64_t t0 = clock_mono_ms();
        int rc = invoke(fx, fx->evil, m[i].fn, &r, &err, NULL);
        uint64_t ms = clock_mono_ms() - t0;
        if (rc != m[i].rc || !err || !strstr(err, m[i].what) || !strstr(err, "chaincode evil"))
            fail_msg("%s: %s (%s), want %s with '%s'", m[i].fn, stele_status_name(rc),
                     err ? err : "-", stele_status_name(m[i].rc), m[i].what);
        print_message("    %-7s -> %s: %s (%llu ms)\n", m[i].fn, stele_status_name(rc), err,
                      (unsigned long long)ms);
        assert_null(r.arena);
        free(err);
        if (m[i].rc == STELE_ERR_TIMEOUT)
            assert_true(ms >= TIMEOUT_MS && ms < TIMEOUT_MS + 2000);
        /* the next invocation gets a fresh host */
        assert_int_equal(invoke(fx, fx->evil, "ok", &r, &err, NULL), STELE_OK);
        assert_int_equal(r.status, 200);
        assert_payload(&r, "fine");
        ccrt_result_release(&r);
    }
    ccrt_get_stats(fx->rt, &after);
    assert_int_equal(after.timeouts - before.timeouts, 2);
    assert_int_equal(after.memory - before.memory, 1);
    assert_int_equal(after.forbidden - before.forbidden, 6);
    assert_int_equal(after.crashed - before.crashed, 4);
    /* one host for the first invocation, one after each death */
    assert_int_equal(after.spawned - before.spawned, 13 + (before.spawned == 0 ? 1 : 0));
}

/* A host that wrote frames of its own (a result, a call after it) instead of the shim's: they
 * do not carry the invocation's nonce, so none is taken, not even as the next invocation's
 * calls and result (a host could otherwise write those ahead, or after its result, when
 * the peer no longer looks); the invocation fails and the host is not used again. */
static void test_frames_after_the_result(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_stats before, after;
    struct ccrt_result r;
    char *err = NULL;
    assert_int_equal(invoke(fx, fx->evil, "ok", &r, &err, NULL), STELE_OK); /* a host is up */
    ccrt_result_release(&r);
    ccrt_get_stats(fx->rt, &before);
    assert_int_equal(invoke(fx, fx->evil, "forge", &r, &err, NULL), STELE_ERR_INTERNAL);
    assert_non_null(strstr(err, "its host sent a message of another invocation; it was killed"));
    free(err);
    err = NULL;
    for (int i = 0; i < 3; i++) { /* whichever host of the pool serves it */
        assert_int_equal(invoke(fx, fx->evil, "ok", &r, &err, NULL), STELE_OK);
        assert_int_equal(r.status, 200);
        assert_payload(&r, "fine");
        ccrt_result_release(&r);
    }
    ccrt_get_stats(fx->rt, &after);
    assert_true(after.spawned > before.spawned); /* the forging host was replaced */
}

static void test_load(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_info info;
    char *err = NULL;
    assert_int_equal(ccrt_load(fx->rt, fx->kv, &info, &err), STELE_OK);
    assert_string_equal(info.name, "kv");
    assert_string_equal(info.version, "1.0");

    static const struct misdeed bad[] = {
        {"nodesc", STELE_ERR_INVALID, "no stele_chaincode descriptor"},
        {"badabi", STELE_ERR_INVALID, "ABI version 99"},
        {"kv_sys", STELE_ERR_INVALID, "not starting with '_'"},
        {"missing", STELE_ERR_INVALID, "missing.so"},
        {"ctorsock", STELE_ERR_PERMISSION, "socket"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *so = cc_path(bad[i].fn);
        struct ccrt_stats s0, s1;
        for (int round = 0; round < 2; round++) { /* the refusal is remembered */
            ccrt_get_stats(fx->rt, &s0);
            struct ccrt_invocation inv = {.chaincode = "bad", .so_path = so, .db = fx->db};
            struct ccrt_result r;
            int rc = ccrt_invoke(fx->rt, &inv, &r, &err);
            if (rc != bad[i].rc || !err || !strstr(err, bad[i].what))
                fail_msg("%s: %s (%s)", bad[i].fn, stele_status_name(rc), err ? err : "-");
            if (round == 0)
                print_message("    %-8s -> %s: %s\n", bad[i].fn, stele_status_name(rc), err);
            free(err);
            ccrt_get_stats(fx->rt, &s1);
            assert_int_equal(s1.spawned - s0.spawned, round == 0);
        }
        assert_int_equal(ccrt_load(fx->rt, so, NULL, &err), bad[i].rc);
        free(err);
        ccrt_evict(fx->rt, so); /* forgets the refusal */
        ccrt_get_stats(fx->rt, &s0);
        assert_int_equal(ccrt_load(fx->rt, so, NULL, &err), bad[i].rc);
        free(err);
        ccrt_get_stats(fx->rt, &s1);
        assert_int_equal(s1.spawned - s0.spawned, 1);
        free(so);
    }

    /* a constructor runs confined: it cannot read files (where the kernel has Landlock; where
       it has none, nothing loads by default: test_without_landlock) */
    if (!ccrt_kernel_has_landlock())
        return;
    char *so = cc_path("ctor");
    struct ccrt_invocation inv = {.chaincode = "ctor", .so_path = so, .db = fx->db};
    struct ccrt_result r;
    assert_int_equal(ccrt_invoke(fx->rt, &inv, &r, &err), STELE_OK);
    assert_payload(&r, "denied");
    ccrt_result_release(&r);
    free(so);
}

#ifdef STELE_TEST_HOOKS
/* As on a kernel without Landlock (STELE_TEST_NO_LANDLOCK=1, test builds only): a constructor
 * could read the peer's files while the .so loads, so by default no chaincode loads and every
 * invocation says why; with allow_without_landlock it runs, and the constructor indeed reads. */
static void test_without_landlock(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(setenv("STELE_TEST_NO_LANDLOCK", "1", 1), 0); /* hosts inherit it */
    char *ctor = cc_path("ctor");
    struct ccrt *strict = ccrt_fx_runtime(&(struct ccrt_config){.timeout_ms = TIMEOUT_MS});
    struct ccrt *lax = ccrt_fx_runtime(
        &(struct ccrt_config){.timeout_ms = TIMEOUT_MS, .allow_without_landlock = true});
    assert_int_equal(unsetenv("STELE_TEST_NO_LANDLOCK"), 0);
    const char *const sos[] = {fx->kv, ctor};
    for (size_t i = 0; i < 2; i++) {
        struct ccrt_invocation inv = {.chaincode = "x", .so_path = sos[i], .db = fx->db};
        struct ccrt_result r;
        char *err = NULL;
        int rc = ccrt_invoke(strict, &inv, &r, &err);
        if (rc != STELE_ERR_INVALID || !err ||
            !strstr(err, "this kernel has no Landlock (Linux 5.13 or later)") ||
            !strstr(err, "chaincode.allow_without_landlock: true"))
            fail_msg("%s without Landlock: %s (%s)", sos[i], stele_status_name(rc),
                     err ? err : "-");
        free(err);
    }
    struct ccrt_invocation inv = {.chaincode = "ctor", .so_path = ctor, .db = fx->db};
    struct ccrt_result r;
    char *err = NULL;
    assert_int_equal(ccrt_invoke(lax, &inv, &r, &err), STELE_OK);
    assert_payload(&r, "read");
    ccrt_result_release(&r);
    ccrt_destroy(strict);
    ccrt_destroy(lax);
    free(ctor);
}
#endif

/* ---- threads ------------------------------------------------------------------------------- */

#define THREADS 6
#define ROUNDS  15

struct worker {
    struct fixture *fx;
    int id;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        struct ccrt_result r;
        char *err = NULL;
        if (w->id == 0) { /* one thread keeps crashing its hosts in another pool */
            int rc = invoke(w->fx, w->fx->evil, i % 2 ? "ok" : "segv", &r, &err, NULL);
            w->failures += rc != (i % 2 ? STELE_OK : STELE_ERR_INTERNAL);
            free(err);
            ccrt_result_release(&r);
            continue;
        }
        if (w->id == 1 && i % 5 == 4) /* and one drops the kv pool under the others' feet */
            ccrt_evict(w->fx->rt, w->fx->kv);
        char put[64], want[64];
        snprintf(put, sizeof put, "put t%d-%d v%d", w->id, i, i);
        snprintf(want, sizeof want, "a=1;t%d-%d=v%d;", w->id, i, i);
        char get[64];
        snprintf(get, sizeof get, "get t%d-%d", w->id, i);
        int rc = invoke(w->fx, w->fx->kv, "batch", &r, &err, "get a", put, get, NULL);
        if (rc || r.status != 200 || r.payload.len != strlen(want) ||
            memcmp(r.payload.data, want, r.payload.len) != 0 ||
            r.rwset->ns_rwsets[0]->n_writes != 1)
            w->failures++;
        free(err);
        ccrt_result_release(&r);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fixture *fx = *state;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){fx, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(w[i].failures, 0);
}

static void test_evict(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_result r = run_kv(fx, "get", "a", NULL);
    ccrt_result_release(&r);
    struct ccrt_stats s0, s1;
    ccrt_get_stats(fx->rt, &s0);
    ccrt_evict(fx->rt, fx->kv);
    ccrt_evict(fx->rt, "/no/such/pool.so");
    r = run_kv(fx, "get", "a", NULL);
    assert_payload(&r, "1");
    ccrt_result_release(&r);
    ccrt_get_stats(fx->rt, &s1);
    assert_int_equal(s1.spawned - s0.spawned, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misdeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_after_the_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
#ifdef STELE_TEST_HOOKS
        cmocka_unit_test_setup_teardown(test_without_landlock, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evict, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
