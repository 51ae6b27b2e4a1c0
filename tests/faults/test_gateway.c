/*
 * test_gateway.c — the gateway's Submit (peer/gateway.c) with real processes: four pbft
 * stele-orderer processes and two stele-peer processes of two organisations on 127.0.0.1
 * (peer_fixture.h), plus, where a test says so, a faulty orderer played in this process that
 * accepts every envelope (as f of them may):
 *
 *   1. Submit relays only an envelope its creator signed, an identity a channel CA issued:
 *      one whose signature is not its creator's, or whose creator no channel CA issued, is
 *      refused by the gateway itself. Otherwise a faulty orderer's acceptance was enough for
 *      anyone to be told "accepted", and to hold commit waits in another identity's name (2
 *      each: the victim's own CommitStatus was then refused). Whether a creator is revoked is
 *      still the orderers' to say (tests/integration/crl.test.sh);
 *      And one acceptance is not enough: an envelope the four orderers refuse (its tx_id is
 *      committed) and the faulty one accepts is answered FAILED_PRECONDITION, "only 1 of the
 *      2 orderers needed accepted";
 *   2. Submit answers once f + 1 of the channel's orderers accepted, f taken from the channel
 *      (4 orderers: 2), also when the peer's configuration lists fewer orderers (2): it waits
 *      for the second instead of answering on the first one's word; a peer whose
 *      configuration lists fewer than f + 1 says so when it starts, and an orderer listed
 *      twice counts once;
 *   3. Endorse does not take in an answer of another organisation's peer larger than any
 *      endorsement the channel can order (twice absolute_max_bytes, or the proposal cap): a
 *      faulty peer's 8 MiB answer is refused (and the policy reported unsatisfied), where the
 *      peer's whole gRPC cap (limits.max_message, 80 MiB) was taken in and decoded, once per
 *      Endorse call asking it.
 * kv_cc.so (tests/chaincode/kv.c built as "cc") plays the genesis block's "cc".
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a faulty orderer: accepts everything ---- */

static int accept_all(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    (void)arg;
    (void)data;
    (void)len;
    Stele__BroadcastResponse r = STELE__BROADCAST_RESPONSE__INIT;
    r.status = STELE__STATUS__STATUS_SUCCESS;
    r.info = (char *)"";
    return pb_pack_buf(&r.base, reply);
}

static enum rpc_code faulty_broadcast(struct rpc_call *call, const ProtobufCMessage *req,
                                      ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    int rc = rpc_call_serve_inline(call, accept_all, NULL);
    return rc == STELE_ERR_NOT_FOUND ? RPC_OK : rpc_call_error(call, RPC_CANCELLED, "ended");
}

static struct rpc_server *faulty_start(char addr[32])
{
    struct rpc_server_opts so = {.listen = "127.0.0.1:0", .max_message = 4u << 20};
    struct rpc_server *s = rpc_server_create(&so, NULL);
    assert_non_null(s);
    const struct rpc_method m = {.path = "/stele.AtomicBroadcast/Broadcast",
                                 .kind = RPC_BIDI_STREAM,
                                 .request = &stele__envelope__descriptor,
                                 .handler = faulty_broadcast};
    assert_int_equal(rpc_server_add(s, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(s, NULL), STELE_OK);
    snprintf(addr, 32, "127.0.0.1:%d", rpc_server_port(s));
    return s;
}

/* ---- peer0 with other orderers ---- */

/* ---- Submit ---- */

/* One Submit through peer0's gateway (env then freed). */
struct submit_job {
    ProtobufCBinaryData env;
    bool wait;
    uint32_t timeout_ms;
    Stele__SubmitResponse *resp; /* pb_free */
    struct rpc_result res;
    uint64_t took_ms;
    pthread_t t;
};

static void submit_run(struct submit_job *j)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, &co, NULL);
    Stele__SubmitRequest rq = STELE__SUBMIT_REQUEST__INIT;
    rq.envelope = j->env;
    rq.wait = j->wait;
    rq.timeout_ms = j->timeout_ms;
    ProtobufCMessage *m = NULL;
    memset(&j->res, 0, sizeof j->res);
    uint64_t t0 = clock_mono_ms();
    rpc_unary(ch, "/stele.Gateway/Submit", &rq.base, &stele__submit_response__descriptor, &m,
              (int)j->timeout_ms + 10000, &j->res);
    j->took_ms = clock_mono_ms() - t0;
    j->resp = (Stele__SubmitResponse *)m;
    rpc_channel_close(ch);
    free(j->env.data);
    j->env.data = NULL;
}

static void *submit_main(void *arg)
{
    submit_run(arg);
    return NULL;
}

/* A CommitStatus of `who` for a transaction that never commits: its call's code. */
static enum rpc_code commit_status_of(const struct test_identity *who, int timeout_ms)
{
    Stele__CommitStatusRequest q = STELE__COMMIT_STATUS_REQUEST__INIT;
    char tx_id[65];
    snprintf(tx_id, sizeof tx_id, "%064x", 0x5eedu);
    q.tx_id = tx_id;
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    peer_call_as(0, who, "/stele.Events/CommitStatus", &q.base,
                 &stele__commit_status_response__descriptor, &m, timeout_ms, &res);
    pb_free(m);
    return res.code;
}

static void submit_relays_only_what_a_member_signed(void **state)
{
    (void)state;
    char faulty[32];
    struct rpc_server *srv = faulty_start(faulty);
    const char *list[ORDERERS + 1];
    for (int i = 0; i < ORDERERS; i++)
        list[i] = N.o[i].addr;
    list[ORDERERS] = faulty;
    net_peer_with(0, list, ORDERERS + 1, NULL);

    /* Two envelopes in user1.org2's name, signed with user1.org1's key, each asking to wait
     * 6 s for its commit; meanwhile user1.org2 itself asks for a commit status. */
    struct test_identity forger = N.user2;
    forger.key = N.user.key;
    struct submit_job forged[2];
    for (int i = 0; i < 2; i++) {
        char id[65], key[16];
        snprintf(key, sizeof key, "forged%d", i);
        forged[i] = (struct submit_job){
            .env = tx_must(
                &(struct txspec){.creator = &forger, .writes = {{.key = key, .value = "v"}}}, id),
            .wait = true,
            .timeout_ms = 6000};
        assert_int_equal(pthread_create(&forged[i].t, NULL, submit_main, &forged[i]), 0);
    }
    usleep(1500 * 1000);
    enum rpc_code victim = commit_status_of(&N.user2, 300);
    for (int i = 0; i < 2; i++)
        pthread_join(forged[i].t, NULL);

    /* an envelope of an identity no channel CA issued */
    char id[65];
    struct submit_job stranger = {
        .env = tx_must(
            &(struct txspec){.creator = &N.stranger, .writes = {{.key = "strange", .value = "v"}}},
            id),
        .timeout_ms = 1000};
    submit_run(&stranger);

    /* one of an identity the peer's CRL file revokes (not the orderers'): theirs to judge */
    char rev_id[65];
    struct submit_job revoked = {
        .env = tx_must(
            &(struct txspec){.creator = &N.revoked, .writes = {{.key = "rev", .value = "v"}}},
            rev_id),
        .timeout_ms = 1000};
    submit_run(&revoked);
    unsigned rev_accepted = revoked.resp ? revoked.resp->orderers_accepted : 0;
    pb_free(revoked.resp ? &revoked.resp->base : NULL);

    /* a member's own envelope goes through, and commits */
    char good_id[65];
    struct submit_job good = {
        .env = tx_must(&(struct txspec){.writes = {{.key = "signed", .value = "v"}}}, good_id),
        .wait = true,
        .timeout_ms = 20000};
    ProtobufCBinaryData again = {good.env.len, malloc(good.env.len)};
    assert_non_null(again.data);
    memcpy(again.data, good.env.data, good.env.len);
    submit_run(&good);

    /* the same envelope again: the four orderers already hold its tx_id (CONFLICT), which is
     * as good as accepting it, so Submit is idempotent and reports the first commit */
    struct submit_job dup = {.env = again, .wait = true, .timeout_ms = 6000};
    submit_run(&dup);
    print_message("the committed envelope again: %d (%s)\n", dup.res.code, dup.res.detail);
    assert_int_equal(dup.res.code, RPC_OK);
    assert_non_null(dup.resp);
    assert_true(dup.resp->orderers_accepted >= 2);
    assert_true(dup.resp->committed);
    assert_int_equal(dup.resp->validation_code, STELE__TX_VALIDATION_CODE__VALID);
    pb_free(&dup.resp->base);

    /* one dated an hour ago: the four orderers refuse it, only the faulty one accepts, and one
     * acceptance is not f + 1 */
    char stale_id[65];
    struct submit_job stale = {
        .env = tx_must(&(struct txspec){.writes = {{.key = "stale", .value = "v"}},
                                        .timestamp_ms = clock_wall_ms() - 3600 * 1000},
                       stale_id),
        .timeout_ms = 6000};
    submit_run(&stale);
    print_message("an envelope of an hour ago: %d (%s)\n", stale.res.code, stale.res.detail);
    pb_free(stale.resp ? &stale.resp->base : NULL);
    assert_int_equal(stale.res.code, RPC_FAILED_PRECONDITION);
    assert_non_null(strstr(stale.res.detail, "only 1 of the 2 orderers needed accepted"));

    print_message("forged: %d %d (%s); victim's CommitStatus: %d; stranger: %d (%s); member: %d\n",
                  forged[0].res.code, forged[1].res.code, forged[0].res.detail, victim,
                  stranger.res.code, stranger.res.detail, good.res.code);
    bool relayed = forged[0].resp || forged[1].resp || stranger.resp;
    for (int i = 0; i < 2; i++)
        pb_free(forged[i].resp ? &forged[i].resp->base : NULL);
    pb_free(stranger.resp ? &stranger.resp->base : NULL);
    assert_false(relayed);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(forged[i].res.code, RPC_UNAUTHENTICATED);
        assert_non_null(strstr(forged[i].res.detail, "signature does not verify"));
        assert_true(forged[i].took_ms < 3000); /* refused, not left to wait */
    }
    assert_int_equal(victim, RPC_DEADLINE_EXCEEDED); /* admitted: nobody waits in its name */
    assert_int_not_equal(stranger.res.code, RPC_OK);
    assert_non_null(strstr(stranger.res.detail, "creator is refused"));
    assert_true(rev_accepted >= 2);
    assert_non_null(good.resp);
    assert_true(good.resp->orderers_accepted >= 2);
    assert_true(good.resp->committed);
    assert_int_equal(good.resp->validation_code, STELE__TX_VALIDATION_CODE__VALID);
    pb_free(&good.resp->base);

    net_peer_with(0, NULL, 0, NULL);
    rpc_server_stop(srv, 0);
    rpc_server_destroy(srv);
}

/* How often `what` occurs in peer0's log (kept across its restarts). */
static int peer0_log_count(const char *what)
{
    size_t len = 0;
    char *log = test_read_file(N.p[0].log, &len);
    int n = 0;
    for (const char *at = log; at && (at = strstr(at, what)); at++)
        n++;
    free(log);
    return n;
}

/* How often peer0 warned that `orderers` lists too few. */
static int warnings_of_too_few_orderers(void)
{
    return peer0_log_count("the gateway's Submit needs 2 of the");
}

/* Restarts peer0 with `list` (one orderer, twice) as its orderers: it says `said` at start and
 * warns that its gateway cannot get f + 1 acceptances (the `warnings`th time), and a Submit
 * writing `key` is refused with one acceptance. */
static void one_orderer_listed_twice(const char *const list[2], const char *said, const char *key,
                                     int warnings)
{
    net_peer_with(0, list, 2, NULL);
    assert_int_equal(peer0_log_count(said), 1);
    assert_int_equal(warnings_of_too_few_orderers(), warnings);
    char id[65];
    struct submit_job one = {
        .env = tx_must(&(struct txspec){.writes = {{.key = key, .value = "v"}}}, id),
        .timeout_ms = 1000};
    submit_run(&one);
    print_message("%s, %s: %d (%s)\n", list[0], list[1], one.res.code, one.res.detail);
    assert_int_equal(one.res.code, RPC_UNAVAILABLE);
    assert_non_null(strstr(one.res.detail, "only 1 of the 2 orderers needed"));
    pb_free(one.resp ? &one.resp->base : NULL);
}

static void submit_waits_for_f_plus_one_of_the_channel(void **state)
{
    (void)state;
    const char *list[2] = {N.o[0].addr, N.o[1].addr};
    net_peer_with(0, list, 2, NULL);
    /* streams to both orderers are open */
    char id[65];
    struct submit_job warm = {
        .env = tx_must(&(struct txspec){.writes = {{.key = "warm", .value = "v"}}}, id),
        .timeout_ms = 1000};
    submit_run(&warm);
    unsigned accepted = warm.resp ? warm.resp->orderers_accepted : 0;
    pb_free(warm.resp ? &warm.resp->base : NULL);
    assert_int_equal(accepted, 2);

    /* o1 hung for 1.5 s: the channel has 4 orderers, f = 1, so the gateway waits for o1's
     * acceptance too (it has 5 s), not only o0's */
    struct submit_job j = {
        .env = tx_must(&(struct txspec){.writes = {{.key = "f1", .value = "v"}}}, id),
        .timeout_ms = 1000};
    assert_int_equal(kill(N.o[1].pid, SIGSTOP), 0);
    assert_int_equal(pthread_create(&j.t, NULL, submit_main, &j), 0);
    usleep(1500 * 1000);
    kill(N.o[1].pid, SIGCONT);
    pthread_join(j.t, NULL);
    print_message("answered in %llu ms: %d, accepted by %u\n", (unsigned long long)j.took_ms,
                  j.res.code, j.resp ? j.resp->orderers_accepted : 0);
    accepted = j.resp ? j.resp->orderers_accepted : 0;
    pb_free(j.resp ? &j.resp->base : NULL);
    assert_int_equal(accepted, 2);
    assert_true(j.took_ms >= 1400);
    assert_int_equal(tx_wait(0, id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    assert_int_equal(warnings_of_too_few_orderers(), 0); /* two are enough */

    /* one listed: the peer says at start that its gateway cannot get f + 1 acceptances, and
     * a Submit is refused saying so */
    net_peer_with(0, list, 1, NULL);
    assert_int_equal(warnings_of_too_few_orderers(), 1);
    struct submit_job one = {
        .env = tx_must(&(struct txspec){.writes = {{.key = "f1b", .value = "v"}}}, id),
        .timeout_ms = 1000};
    submit_run(&one);
    print_message("one orderer listed: %d (%s)\n", one.res.code, one.res.detail);
    assert_int_equal(one.res.code, RPC_UNAVAILABLE); /* nobody refused it */
    assert_non_null(strstr(one.res.detail, "only 1 of the 2 orderers needed"));
    pb_free(one.resp ? &one.resp->base : NULL);

    /* one orderer listed twice counts once, and so does one under two spellings of one IP
     * address and port (host names are not resolved: two may be two orderers behind a proxy) */
    const char *twice[2] = {N.o[0].addr, N.o[0].addr};
    one_orderer_listed_twice(twice, "is listed twice; it is used once", "f1c", 2);
    char spelt[64];
    snprintf(spelt, sizeof spelt, "ipv4:%s", N.o[0].addr);
    const char *two_names[2] = {N.o[0].addr, spelt};
    one_orderer_listed_twice(two_names, "are one address; it is used once", "f1d", 3);
    net_peer_with(0, NULL, 0, NULL);
}

/* ---- a faulty endorsing peer of Org2 ---- */

static void install_kv(int i)
{
    install_genesis_cc(i, "tests/chaincode/kv_cc.so");
}

static atomic_size_t padding; /* octets the faulty peer adds to its answers */

/* ProcessProposal: peer0.org2's answer (a real endorsement), with `padding` octets of response
 * payload beside it (no signature covers that field). */
static enum rpc_code padded_endorse(struct rpc_call *call, const ProtobufCMessage *req,
                                    ProtobufCMessage **resp, void *arg)
{
    (void)arg;
    struct rpc_channel_opts co = {.fail_fast = true, .max_message = 16u << 20};
    struct rpc_channel *ch = rpc_channel_open(N.p[1].addr, &co, NULL);
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    int rc = ch ? rpc_unary(ch, "/stele.Endorser/ProcessProposal", req,
                            &stele__proposal_response__descriptor, &m, 10000, &res)
                : STELE_ERR_UNAVAILABLE;
    rpc_channel_close(ch);
    if (rc)
        return rpc_call_error(call, res.code ? res.code : RPC_UNAVAILABLE, "%s", res.detail);
    struct buf b;
    buf_init(&b);
    pb_pack_buf(m, &b);
    pb_free(m);
    Stele__ProposalResponse *r = (Stele__ProposalResponse *)pb_unpack(
        &stele__proposal_response__descriptor, rpc_call_arena(call), b.data, b.len, 0);
    buf_release(&b);
    size_t pad = atomic_load(&padding);
    if (r && r->response && pad) {
        uint8_t *junk = arena_alloc(rpc_call_arena(call), pad);
        if (!junk)
            return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
        memset(junk, 'j', pad);
        r->response->payload = (ProtobufCBinaryData){pad, junk};
    }
    *resp = r ? &r->base : NULL;
    return r ? RPC_OK : rpc_call_error(call, RPC_INTERNAL, "does not decode");
}

/* Gateway/Endorse of `put key v` on chaincode cc, by N.user, through peer0. */
static enum rpc_code endorse(const char *key, struct rpc_result *res, size_t *n_endorsers)
{
    ProtobufCBinaryData args[2] = {{strlen(key), (uint8_t *)key}, {1, (uint8_t *)"v"}};
    struct tx_proposal_params pp = {.channel_id = CHANNEL,
                                    .creator = N.user.record->data,
                                    .creator_len = N.user.record->len,
                                    .chaincode = CC,
                                    .function = "put",
                                    .args = args,
                                    .n_args = 2};
    struct buf prop;
    uint8_t sig[64];
    char tx_id[65];
    buf_init(&prop);
    assert_int_equal(tx_proposal_build(&pp, N.user.key, &prop, sig, tx_id), STELE_OK);
    Stele__SignedProposal sp = STELE__SIGNED_PROPOSAL__INIT;
    sp.proposal_bytes = (ProtobufCBinaryData){prop.len, prop.data};
    sp.signature = (ProtobufCBinaryData){64, sig};
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, &co, NULL);
    ProtobufCMessage *m = NULL;
    memset(res, 0, sizeof *res);
    rpc_unary(ch, "/stele.Gateway/Endorse", &sp.base, &stele__prepared_transaction__descriptor, &m,
              30000, res);
    *n_endorsers = m ? ((Stele__PreparedTransaction *)m)->n_endorsers : 0;
    pb_free(m);
    rpc_channel_close(ch);
    buf_release(&prop);
    return res->code;
}

static void gateway_refuses_an_endorsement_answer_too_large_to_order(void **state)
{
    (void)state;
    install_kv(0);
    install_kv(1);
    struct rpc_server_opts so = {.listen = "127.0.0.1:0", .max_message = 32u << 20};
    struct rpc_server *srv = rpc_server_create(&so, NULL);
    assert_non_null(srv);
    const struct rpc_method m = {.path = "/stele.Endorser/ProcessProposal",
                                 .kind = RPC_UNARY,
                                 .request = &stele__signed_proposal__descriptor,
                                 .handler = padded_endorse};
    assert_int_equal(rpc_server_add(srv, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(srv, NULL), STELE_OK);
    char extra[200];
    snprintf(extra, sizeof extra,
             "gateway:\n  peers:\n    - org: Org2\n      address: 127.0.0.1:%d\n",
             rpc_server_port(srv));
    net_peer_with(0, NULL, 0, extra);

    /* the faulty peer relays peer0.org2's endorsement as it is: the policy is satisfied */
    struct rpc_result res;
    size_t n = 0;
    atomic_store(&padding, 0);
    enum rpc_code plain = endorse("plain", &res, &n);
    print_message("plain: %d (%s), %zu endorsers\n", plain, res.detail, n);
    assert_int_equal(plain, RPC_OK);
    assert_int_equal(n, 2);
    /* 8 MiB beside it: more than any endorsement of this channel (absolute_max_bytes 128 KiB)
     * can carry into an envelope; the gateway does not take it in */
    atomic_store(&padding, 8u << 20);
    enum rpc_code padded = endorse("padded", &res, &n);
    print_message("padded: %d (%s), %zu endorsers\n", padded, res.detail, n);
    assert_int_equal(padded, RPC_FAILED_PRECONDITION);
    assert_non_null(strstr(res.detail, "do not satisfy the policy"));

    net_peer_with(0, NULL, 0, NULL);
    rpc_server_stop(srv, 0);
    rpc_server_destroy(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(submit_relays_only_what_a_member_signed),
        cmocka_unit_test(submit_waits_for_f_plus_one_of_the_channel),
        cmocka_unit_test(gateway_refuses_an_endorsement_answer_too_large_to_order),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
}
