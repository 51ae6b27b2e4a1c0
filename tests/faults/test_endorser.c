/*
 * test_endorser.c — the peer's endorser (peer/endorser.c, endorser_cc.c) with real processes:
 * four pbft stele-orderer processes and two stele-peer processes (peer_fixture.h), with
 * tests/chaincode/endorse_probe_cc.so (endorse_probe.c built as "cc") installed as the
 * genesis block's "cc".
 *
 *   1. A chaincode reads one state: when a block is committed while it runs, it goes on
 *      reading the state it started on (a snapshot), not keys partly before the block and
 *      partly after (a state that never was), neither by Evaluate nor by ProcessProposal, and
 *      the height it reports is that state's;
 *   2. a chaincode's message reaches the client as UTF-8, since Response.message is a protobuf
 *      string that strict decoders (Go, Python) refuse otherwise: arbitrary octets, and a
 *      message the shim cut in the middle of a character at 1024 octets;
 *   3. a proposal is endorsed only when its creator is valid at the proposal's timestamp,
 *      where validation judges it: one enrolled after that time is refused, as its
 *      transaction could only be CREATOR_EXPIRED;
 *   4. one identity cannot take every worker of a peer: it may have 8 Endorse calls at a
 *      gateway and 16 proposals executing on a peer at once (Evaluate, ProcessProposal, a
 *      gateway's own endorsement); past that it is refused at once, while another identity
 *      is still served, and once its calls end it is served again; a gateway whose other
 *      organisation's peer refused such a caller answers RESOURCE_EXHAUSTED (retry later),
 *      not a policy failure.
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void install_probe(int i)
{
    install_genesis_cc(i, "tests/chaincode/endorse_probe_cc.so");
}

/* One proposal to peer 0: `method` (Endorser/ProcessProposal or Gateway/Evaluate) of cc's
 * function `fn` with up to 4 string arguments (NULL ends), by N.user. */
struct call {
    const char *method;
    const char *fn;
    const char *args[4];
    const struct test_identity *who; /* the creator (NULL: N.user) */
    int peer;                        /* the peer asked */
    uint64_t timestamp_ms;           /* the proposal's (0: now) */
    Stele__ProposalResponse *resp;   /* pb_free */
    struct rpc_result res;
    pthread_t t;
    atomic_bool done; /* call_main() has its answer */
};

static void call_run(struct call *c)
{
    ProtobufCBinaryData args[4];
    size_t n = 0;
    for (; n < 4 && c->args[n]; n++)
        args[n] = (ProtobufCBinaryData){strlen(c->args[n]), (uint8_t *)c->args[n]};
    const struct test_identity *who = c->who ? c->who : &N.user;
    struct tx_proposal_params pp = {.channel_id = CHANNEL,
                                    .creator = who->record->data,
                                    .creator_len = who->record->len,
                                    .chaincode = CC,
                                    .function = c->fn,
                                    .args = args,
                                    .n_args = n,
                                    .timestamp_ms = c->timestamp_ms};
    struct buf prop;
    uint8_t sig[64];
    buf_init(&prop);
    memset(&c->res, 0, sizeof c->res);
    c->resp = NULL;
    if (tx_proposal_build(&pp, who->key, &prop, sig, NULL) != STELE_OK) {
        buf_release(&prop);
        return;
    }
    Stele__SignedProposal sp = STELE__SIGNED_PROPOSAL__INIT;
    sp.proposal_bytes = (ProtobufCBinaryData){prop.len, prop.data};
    sp.signature = (ProtobufCBinaryData){64, sig};
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[c->peer].addr, &co, NULL);
    ProtobufCMessage *m = NULL;
    bool endorse = strcmp(c->method, "/stele.Gateway/Endorse") == 0;
    if (ch)
        rpc_unary(ch, c->method, &sp.base,
                  endorse ? &stele__prepared_transaction__descriptor
                          : &stele__proposal_response__descriptor,
                  &m, 60000, &c->res);
    if (endorse)
        pb_free(m); /* the code is what the tests look at */
    else
        c->resp = (Stele__ProposalResponse *)m;
    rpc_channel_close(ch);
    buf_release(&prop);
}

static void *call_main(void *arg)
{
    struct call *c = arg;
    call_run(c);
    atomic_store(&c->done, true);
    return NULL;
}

/* Commits one transaction of cc writing the `n` pairs of `kv` (key order) and waits until
 * peer 0 has it. */
static void commit_writes(const char *const *kv, size_t n)
{
    struct txspec s = {0};
    for (size_t i = 0; i < n; i++)
        s.writes[i] = (struct wr){kv[2 * i], kv[2 * i + 1], 0};
    char id[65];
    ProtobufCBinaryData env = tx_must(&s, id);
    submit(ALL_ORDERERS, &env, 1);
    free(env.data);
    assert_int_equal(tx_wait(0, id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
}

static const char *payload_of(const struct call *c, char *out, size_t cap)
{
    if (!c->resp || !c->resp->response)
        return "(no response)";
    const ProtobufCBinaryData *p = &c->resp->response->payload;
    snprintf(out, cap, "%.*s", (int)p->len, (const char *)p->data);
    return out;
}

/* `method` runs `pair A FLAG B` while a block writes A, FLAG and B: the chaincode must see A
 * and B from one state. */
/* One try of the scenario below with keys a, flag, b (fresh for each try): true when the call
 * began before the block (its snapshot's height is h0's) and was still running when the block
 * had committed, which the test needs; false otherwise (a machine too loaded for the timing),
 * to be tried again with other keys. */
static bool one_state_try(const char *method, const char *a, const char *flag, const char *b)
{
    const char *before[] = {a, "old", b, "old"};
    commit_writes(before, 2);
    struct head h0;
    assert_true(peer_head(0, &h0));
    /* it reads A, then waits up to 5 s for FLAG, then reads B: it runs on the state it
     * started on, where FLAG never comes, so it sees A and B before the block */
    struct call c = {.method = method, .fn = "pair", .args = {a, flag, b, "5000"}};
    assert_int_equal(pthread_create(&c.t, NULL, call_main, &c), 0);
    usleep(600 * 1000); /* it has read A and waits for FLAG */
    const char *after[] = {a, "new", b, "new", flag, "1"};
    if (strcmp(b, flag) < 0) { /* key order: a < b < flag */
        commit_writes(after, 3);
    } else {
        const char *sorted[] = {a, "new", flag, "1", b, "new"};
        commit_writes(sorted, 3);
    }
    bool overlapped = !atomic_load(&c.done); /* the block committed while it ran */
    pthread_join(c.t, NULL);
    char got[256], want[256];
    payload_of(&c, got, sizeof got);
    print_message("%s: %d (%s), payload %s\n", method, c.res.code, c.res.detail, got);
    assert_int_equal(c.res.code, RPC_OK);
    assert_non_null(c.resp);
    assert_int_equal(c.resp->response->status, 200);
    struct head h;
    assert_true(peer_head(0, &h));
    assert_true(h.height > h0.height); /* the block did commit */
    bool began_before = c.resp->ledger_height == h0.height && overlapped;
    if (began_before) { /* the state it ran on, all of it */
        snprintf(want, sizeof want, "%s=old;%s=old", a, b);
        assert_string_equal(got, want);
    }
    pb_free(c.resp ? &c.resp->base : NULL);
    return began_before;
}

static void one_state(const char *method, const char *a, const char *flag, const char *b)
{
    for (int t = 0; t < 3; t++) {
        char ka[32], kf[32], kb[32];
        snprintf(ka, sizeof ka, "%s.%d", a, t);
        snprintf(kf, sizeof kf, "%s.%d", flag, t);
        snprintf(kb, sizeof kb, "%s.%d", b, t);
        if (one_state_try(method, ka, kf, kb))
            return;
    }
    fail_msg("in 3 tries the invocation never ran across the block (a machine too slow)");
}

static void chaincode_reads_one_state_while_blocks_commit(void **state)
{
    (void)state;
    install_probe(0);
    install_probe(1);
    /* a first invocation starts the chaincode's host */
    const char *init[] = {"w", "1"};
    commit_writes(init, 1);
    struct call warm = {
        .method = "/stele.Gateway/Evaluate", .fn = "pair", .args = {"w", "w", "w", "0"}};
    call_run(&warm);
    assert_int_equal(warm.res.code, RPC_OK);
    pb_free(warm.resp ? &warm.resp->base : NULL);

    one_state("/stele.Gateway/Evaluate", "a1", "go1", "b1");
    one_state("/stele.Endorser/ProcessProposal", "a2", "go2", "b2");
}

/* True when the `len` octets at `s` are well-formed UTF-8 (RFC 3629). */
static bool utf8_ok(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80                 ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (!n || i + n > len)
            return false;
        unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (n > 1 && (s[i + 1] < lo || s[i + 1] > hi))
            return false;
        for (size_t k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n;
    }
    return true;
}

static void chaincode_messages_reach_clients_as_utf8(void **state)
{
    (void)state;
    struct {
        const char *method, *fn, *status, *text, *want; /* want: a part of the message */
    } cases[] = {
        {"/stele.Endorser/ProcessProposal", "say", "403", "bad \xff\xfe octets \xc3", "octets"},
        {"/stele.Gateway/Evaluate", "say", "404", "\xed\xa0\x80 surrogate, \xc0\xaf overlong",
         "overlong"},
        {"/stele.Endorser/ProcessProposal", "say", "200", "fine \xe2\x82", "fine"},
        {"/stele.Endorser/ProcessProposal", "long", NULL, NULL, "x\xc3\xa9\xc3\xa9"},
        {"/stele.Endorser/ProcessProposal", "say", "400", "caf\xc3\xa9 \xf0\x9f\x97\xb3", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call c = {
            .method = cases[i].method, .fn = cases[i].fn, .args = {cases[i].status, cases[i].text}};
        call_run(&c);
        assert_int_equal(c.res.code, RPC_OK);
        assert_non_null(c.resp);
        assert_non_null(c.resp->response);
        const char *m = c.resp->response->message;
        print_message("%s %s: status %d, message of %zu octets\n", cases[i].method, cases[i].fn,
                      c.resp->response->status, strlen(m));
        assert_true(utf8_ok((const unsigned char *)m, strlen(m)));
        if (cases[i].want)
            assert_non_null(strstr(m, cases[i].want));
        else /* valid UTF-8 arrives as it was */
            assert_string_equal(m, cases[i].text);
        /* a refusal is not endorsed; a success is */
        bool ok = c.resp->response->status >= 200 && c.resp->response->status <= 299;
        if (strcmp(cases[i].method, "/stele.Endorser/ProcessProposal") == 0)
            assert_int_equal(c.resp->endorsement != NULL, ok);
        pb_free(&c.resp->base);
    }
}

static void creator_valid_at_the_proposals_time(void **state)
{
    (void)state;
    /* enrolled 5 s ago, for a day; the proposal is dated 2 minutes ago (within the window) */
    struct test_identity fresh;
    uint64_t now = clock_wall_s();
    test_identity_issue(N.ca[1], 0, "fresh.org1", "Org1", "client", now - 5, 86400, &fresh);
    struct call c = {.method = "/stele.Endorser/ProcessProposal",
                     .fn = "say",
                     .args = {"200", "ok"},
                     .who = &fresh,
                     .timestamp_ms = (now - 120) * 1000};
    call_run(&c);
    print_message("dated before its validity: %d (%s)\n", c.res.code, c.res.detail);
    assert_int_equal(c.res.code, RPC_UNAUTHENTICATED);
    assert_non_null(strstr(c.res.detail, "CREATOR_EXPIRED"));
    assert_null(c.resp);
    /* dated now, it is endorsed */
    c.timestamp_ms = 0;
    call_run(&c);
    assert_int_equal(c.res.code, RPC_OK);
    assert_non_null(c.resp);
    assert_non_null(c.resp->endorsement);
    pb_free(&c.resp->base);
    test_identity_free(&fresh);
}

/* True when a Gateway/Endorse call of peer 0 was admitted and peer 0 endorsed it. The
 * fixture's peers name no other gateway peer, so the policy AND(Org1.peer, Org2.peer) is not
 * satisfied: that refusal comes after peer 0 has executed and endorsed the proposal. */
static bool endorsed_here(const struct call *c)
{
    return c->res.code == RPC_FAILED_PRECONDITION &&
           strstr(c->res.detail, "no peer of the other organisations is configured") != NULL;
}

#define EXECUTING_PER_CALLER 16 /* PEER_MAX_EXECUTING_PER_CALLER */
#define ENDORSING_PER_CALLER 8  /* GW_MAX_ENDORSING_PER_CALLER */

static void one_identity_cannot_take_every_worker(void **state)
{
    (void)state;
    /* peer 0 with a host for each call below (6 by default: the others would wait for one,
     * which counts too, but up to chaincode.timeout only) */
    net_peer_with(0, NULL, 0, "chaincode:\n  pool: 20\n");
    /* Each busy call holds 6 s (`hold`: asleep, not spinning; within chaincode.timeout, 10 s),
     * and the probes come 1 s after each batch: margins for a loaded CI machine. N.user: first 8
     * Endorse calls at peer 0's gateway (each also executing on peer 0) ... */
    struct call busy[EXECUTING_PER_CALLER];
    for (int i = 0; i < EXECUTING_PER_CALLER; i++)
        busy[i] = (struct call){.method = i < ENDORSING_PER_CALLER ? "/stele.Gateway/Endorse"
                                                                   : "/stele.Gateway/Evaluate",
                                .fn = "hold",
                                .args = {"6000"}};
    for (int i = 0; i < ENDORSING_PER_CALLER; i++)
        assert_int_equal(pthread_create(&busy[i].t, NULL, call_main, &busy[i]), 0);
    usleep(1000 * 1000); /* every call has arrived; none has ended */
    struct call more = {
        .method = "/stele.Gateway/Endorse", .fn = "say", .args = {"200", "one more endorse"}};
    call_run(&more);
    print_message("a 9th Endorse of one identity: %d (%s)\n", more.res.code, more.res.detail);
    assert_int_equal(more.res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(more.res.detail, "already has 8 endorsements in progress"));

    /* ... then 8 Evaluate calls: 16 proposals executing on peer 0 */
    for (int i = ENDORSING_PER_CALLER; i < EXECUTING_PER_CALLER; i++)
        assert_int_equal(pthread_create(&busy[i].t, NULL, call_main, &busy[i]), 0);
    usleep(1000 * 1000);
    more.method = "/stele.Gateway/Evaluate";
    call_run(&more);
    print_message("a 17th execution of one identity: %d (%s)\n", more.res.code, more.res.detail);
    assert_int_equal(more.res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(
        strstr(more.res.detail, "too many proposals executing on peer peer0.org1 for identity"));
    assert_null(more.resp);
    for (int i = 0; i < EXECUTING_PER_CALLER; i++) /* the refusals came while all were busy */
        assert_false(atomic_load(&busy[i].done));

    /* another identity is served meanwhile, by the same gateway and on the same peer */
    struct call other = {.method = "/stele.Gateway/Evaluate",
                         .fn = "say",
                         .args = {"200", "someone else"},
                         .who = &N.user2};
    call_run(&other);
    print_message("another identity's Evaluate: %d (%s)\n", other.res.code, other.res.detail);
    assert_int_equal(other.res.code, RPC_OK);
    pb_free(other.resp ? &other.resp->base : NULL);
    other.method = "/stele.Gateway/Endorse";
    call_run(&other);
    print_message("another identity's Endorse: %d (%s)\n", other.res.code, other.res.detail);
    assert_true(endorsed_here(&other));

    for (int i = 0; i < EXECUTING_PER_CALLER; i++) {
        pthread_join(busy[i].t, NULL);
        if (i < ENDORSING_PER_CALLER)
            assert_true(endorsed_here(&busy[i]));
        else
            assert_int_equal(busy[i].res.code, RPC_OK);
        pb_free(busy[i].resp ? &busy[i].resp->base : NULL);
    }
    /* its shares are given back */
    more.method = "/stele.Gateway/Evaluate";
    call_run(&more);
    assert_int_equal(more.res.code, RPC_OK);
    pb_free(more.resp ? &more.resp->base : NULL);
    more.method = "/stele.Gateway/Endorse";
    call_run(&more);
    assert_true(endorsed_here(&more));
    net_peer_with(0, NULL, 0, NULL);
}

/* A gateway whose other organisation's peer is too busy for the caller says so: the client
 * reads RESOURCE_EXHAUSTED (retry later) with that peer's reason, not a policy failure. */
static void a_peer_too_busy_for_the_caller_is_reported_as_busy(void **state)
{
    (void)state;
    char extra[200];
    snprintf(extra, sizeof extra, "gateway:\n  peers:\n    - org: Org2\n      address: %s\n",
             N.p[1].addr);
    net_peer_with(0, NULL, 0, extra);
    net_peer_with(1, NULL, 0, "chaincode:\n  pool: 20\n"); /* a host for each call */
    struct call ok = {.method = "/stele.Gateway/Endorse", .fn = "say", .args = {"200", "both"}};
    call_run(&ok);
    print_message("endorsed by both peers: %d (%s)\n", ok.res.code, ok.res.detail);
    assert_int_equal(ok.res.code, RPC_OK);

    /* N.user's whole share of peer 1 taken by Evaluate calls there */
    struct call busy[EXECUTING_PER_CALLER];
    for (int i = 0; i < EXECUTING_PER_CALLER; i++) {
        busy[i] = (struct call){
            .method = "/stele.Gateway/Evaluate", .fn = "hold", .args = {"6000"}, .peer = 1};
        assert_int_equal(pthread_create(&busy[i].t, NULL, call_main, &busy[i]), 0);
    }
    usleep(1000 * 1000);
    call_run(&ok);
    print_message("peer 1 busy for the caller: %d (%s)\n", ok.res.code, ok.res.detail);
    assert_int_equal(ok.res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(ok.res.detail, "too many proposals executing on peer peer0.org2"));
    for (int i = 0; i < EXECUTING_PER_CALLER; i++)
        assert_false(atomic_load(&busy[i].done));
    for (int i = 0; i < EXECUTING_PER_CALLER; i++) {
        pthread_join(busy[i].t, NULL);
        assert_int_equal(busy[i].res.code, RPC_OK);
        pb_free(busy[i].resp ? &busy[i].resp->base : NULL);
    }
    call_run(&ok);
    assert_int_equal(ok.res.code, RPC_OK);
    net_peer_with(0, NULL, 0, NULL);
    net_peer_with(1, NULL, 0, NULL);
}

/* A definition names a package by its hash only, and a majority may commit one whose package
 * is another chaincode (an organisation's own peer refuses to approve it, but is outvoted):
 * the peer must not run that code as "cc", on cc's state. kv.so says it is "kv". */
static void a_package_of_another_chaincode_is_not_run(void **state)
{
    (void)state;
    install_genesis_cc(0, "tests/chaincode/kv.so");
    net_peer_with(0, NULL, 0, NULL); /* restarted: no host of the old package left */
    struct call c = {.method = "/stele.Gateway/Evaluate", .fn = "say", .args = {"200", "x"}};
    call_run(&c);
    print_message("kv.so as cc: %d (%s)\n", c.res.code, c.res.detail);
    assert_int_equal(c.res.code, RPC_FAILED_PRECONDITION);
    assert_non_null(strstr(c.res.detail, "holds chaincode \"kv\" on this peer, not \"cc\""));
    assert_null(c.resp);
    install_probe(0);
    net_peer_with(0, NULL, 0, NULL);
    call_run(&c);
    assert_int_equal(c.res.code, RPC_OK);
    pb_free(c.resp ? &c.resp->base : NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chaincode_reads_one_state_while_blocks_commit),
        cmocka_unit_test(chaincode_messages_reach_clients_as_utf8),
        cmocka_unit_test(creator_valid_at_the_proposals_time),
        cmocka_unit_test(one_identity_cannot_take_every_worker),
        cmocka_unit_test(a_peer_too_busy_for_the_caller_is_reported_as_busy),
        cmocka_unit_test(a_package_of_another_chaincode_is_not_run),
    };
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
}
