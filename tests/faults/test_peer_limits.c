/*
 * test_peer_limits.c — what one client may take of a peer, with real processes: four pbft
 * stele-orderer processes and two stele-peer processes of two organisations on 127.0.0.1
 * (peer_fixture.h). Any identity of a channel organisation may open Events streams and wait
 * for commits, and each holds a thread or a worker while it lasts:
 *
 *   1. one identity holds at most 2 commit waits (CommitStatus, Submit with wait) at once; its
 *      third is refused at once while another identity's wait is still admitted, and once its
 *      waits end it may wait again;
 *   2. one identity holds at most 16 Events streams (limits.max_streams_per_client); its 17th
 *      is refused while another identity's is served, and a stream it closes is given back;
 *   3. an Events stream ends with STATUS_FORBIDDEN once its caller's certificate expires, even
 *      with no block to send (revocation mid-stream: tests/integration/crl.test.sh);
 *   4. the gateway refuses an envelope over the channel's absolute_max_bytes instead of
 *      relaying it, and its shared Broadcast streams keep working;
 *   5. a peer pulling from an orderer that delivers certified blocks slowly (one per 6 s, never
 *      silent long enough to look dead) moves to another once it falls behind what f + 1
 *      orderers have, and catches up;
 *   6. a peer pulling from an orderer that pads every block with 64 KiB of an undefined field
 *      and dates it in 2100 (no hash or signature covers either) stores the same block as the
 *      other peer, with the time its COMMITs witness;
 *   6b. a peer pulling from an orderer that alters its blocks (an envelope, the previous hash,
 *      the number, the certificate) refuses each, moves on and stores the certified block;
 *   7. a peer that commits slowly (1 s a block, 30 blocks behind) keeps its correct orderer:
 *      it is the slow one;
 *   8. the orderers learn a CRL from the block that carries it, whatever key the transaction
 *      put it under (they validate no transaction), and keep it across a restart even when
 *      another CA's CRL comes later under the same key;
 *   9. a History page reads at most 64 blocks for its entries' times: a key written in 70
 *      blocks comes in a page of 64 with has_more, then the other 6.
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAMS_PER_CLIENT 16 /* limits.max_streams_per_client by default */

/* ---- commit waits ---- */

/* One CommitStatus wait for a transaction that never commits. */
struct wait_job {
    const struct test_identity *who;
    int timeout_ms;
    int rc;
    struct rpc_result res;
    pthread_t t;
    atomic_bool done; /* the call returned */
};

static void commit_wait(struct wait_job *j)
{
    Stele__CommitStatusRequest q = STELE__COMMIT_STATUS_REQUEST__INIT;
    static atomic_uint seq;
    char tx_id[65];
    snprintf(tx_id, sizeof tx_id, "%064x", atomic_fetch_add(&seq, 1) + 0xabcdefu);
    q.tx_id = tx_id;
    ProtobufCMessage *m = NULL;
    memset(&j->res, 0, sizeof j->res);
    j->rc = peer_call_as(0, j->who, "/stele.Events/CommitStatus", &q.base,
                         &stele__commit_status_response__descriptor, &m, j->timeout_ms, &j->res);
    pb_free(m);
}

static void *wait_main(void *arg)
{
    struct wait_job *j = arg;
    commit_wait(j);
    atomic_store(&j->done, true);
    return NULL;
}

static void one_identity_cannot_hold_every_commit_wait(void **state)
{
    (void)state;
    /* the peer answers promptly first: this test runs first, right after the network
     * started, and under a loaded `make check` (other tests starting their networks) the two
     * waits below twice reached the peer more than 3 s after they were sent, after the third */
    for (int i = 0; i < 100; i++) {
        struct head h;
        uint64_t t0 = clock_mono_ms();
        if (peer_head(0, &h) && clock_mono_ms() - t0 < 200)
            break;
        clock_sleep_ms(100);
    }
    struct wait_job held[2];
    for (int i = 0; i < 2; i++) {
        held[i] = (struct wait_job){.who = &N.user, .timeout_ms = 10000};
        assert_int_equal(pthread_create(&held[i].t, NULL, wait_main, &held[i]), 0);
    }
    /* both are admitted (a refusal comes at once) and waiting when a third of the same
     * identity comes: it is refused at once */
    usleep(3000 * 1000);
    bool waiting = !atomic_load(&held[0].done) && !atomic_load(&held[1].done);
    struct wait_job third = {.who = &N.user, .timeout_ms = 2000};
    commit_wait(&third);
    /* another identity's wait is admitted meanwhile: it waits until its deadline */
    struct wait_job other = {.who = &N.user2, .timeout_ms = 300};
    commit_wait(&other);
    /* a Submit asking to wait is accepted all the same, and says why it did not wait (before,
     * the client could not tell that from a wait that timed out) */
    char id[65];
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, NULL, NULL);
    Stele__SubmitRequest sreq = STELE__SUBMIT_REQUEST__INIT;
    sreq.envelope = tx_must(&(struct txspec){.writes = {{.key = "no-wait", .value = "v"}}}, id);
    sreq.wait = true;
    sreq.timeout_ms = 2000;
    ProtobufCMessage *sresp = NULL;
    struct rpc_result sres;
    rpc_unary(ch, "/stele.Gateway/Submit", &sreq.base, &stele__submit_response__descriptor, &sresp,
              10000, &sres);
    rpc_channel_close(ch);
    free(sreq.envelope.data);
    const Stele__SubmitResponse *su = (const Stele__SubmitResponse *)sresp;
    print_message("a Submit waiting past the share: %d (%s) %s\n", sres.code, sres.detail,
                  su ? su->wait_refused : "-");
    bool submit_ok = sres.code == RPC_OK && su && !su->committed && su->wait_refused &&
                     strstr(su->wait_refused, "already has 2 commit waits in progress");
    pb_free(sresp);
    for (int i = 0; i < 2; i++)
        pthread_join(held[i].t, NULL);
    assert_true(submit_ok);
    assert_true(waiting);
    assert_int_equal(third.res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(third.res.detail, "already waits for 2 commits"));
    if (other.res.code != RPC_DEADLINE_EXCEEDED)
        fail_msg("other: %s: %s", rpc_code_name(other.res.code), other.res.detail);
    for (int i = 0; i < 2; i++)
        if (held[i].res.code != RPC_DEADLINE_EXCEEDED)
            fail_msg("held wait %d ended %s: %s", i, rpc_code_name(held[i].res.code),
                     held[i].res.detail);
    /* its waits have ended: admitted again. A client's deadline passes a moment before the
     * peer's wait for it ends (the peer looks again every EVENTS_POLL_MS), so the slots may
     * come back a little after the held waits' answers: retry for up to 2 s. */
    third.timeout_ms = 200;
    for (int k = 0; k < 20; k++) {
        commit_wait(&third);
        if (third.res.code != RPC_RESOURCE_EXHAUSTED)
            break;
        clock_sleep_ms(100);
    }
    assert_int_equal(third.res.code, RPC_DEADLINE_EXCEEDED);
}

/* ---- Events streams ---- */

/* The next message of stream `c` within timeout_ms: STELE_OK with *block (a filtered block's
 * number) or *status (the status that ends the stream, *block untouched), or the receive's
 * error. */
static int events_next(struct rpc_call *c, int timeout_ms, uint64_t *block, int *status)
{
    ProtobufCMessage *m = NULL;
    int rc = rpc_call_recv(c, &m, timeout_ms, false);
    if (rc)
        return rc;
    const Stele__EventsResponse *r = (const Stele__EventsResponse *)m;
    *status = 0;
    if (r->type_case == STELE__EVENTS_RESPONSE__TYPE_STATUS)
        *status = r->status;
    else if (r->type_case == STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK)
        *block = r->filtered_block->number;
    else
        rc = STELE_ERR_MALFORMED;
    pb_free(m);
    return rc;
}

/* A stream from the newest block on is being served: it sends that block at once. */
static bool served(struct rpc_call *c, uint64_t newest)
{
    uint64_t n = UINT64_MAX;
    int st = 0;
    return events_next(c, 5000, &n, &st) == STELE_OK && st == 0 && n == newest;
}

static void one_identity_cannot_hold_every_events_stream(void **state)
{
    (void)state;
    struct head h;
    assert_true(peer_head(0, &h));
    uint64_t newest = h.height - 1;
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, &co, NULL);
    assert_non_null(ch);
    struct rpc_call *mine[STREAMS_PER_CLIENT];
    for (int i = 0; i < STREAMS_PER_CLIENT; i++) {
        mine[i] = peer_events_open(ch, &N.user, STELE__EVENT_FORM__EVENT_FORM_FILTERED, newest);
        assert_true(served(mine[i], newest));
    }
    /* the 17th of the same identity is refused */
    struct rpc_call *extra =
        peer_events_open(ch, &N.user, STELE__EVENT_FORM__EVENT_FORM_FILTERED, newest);
    uint64_t n;
    int st;
    struct rpc_result res = {0};
    assert_int_not_equal(events_next(extra, 5000, &n, &st), STELE_OK);
    rpc_call_finish(extra, false, &res);
    assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(res.detail, "already has 16 Events streams open"));
    /* another identity's is served */
    struct rpc_call *other =
        peer_events_open(ch, &N.user2, STELE__EVENT_FORM__EVENT_FORM_FILTERED, newest);
    assert_true(served(other, newest));
    rpc_call_finish(other, true, NULL);
    /* a stream closed is given back (the peer notices within its 200 ms poll) */
    rpc_call_finish(mine[0], true, NULL);
    bool again = false;
    for (int k = 0; k < 20 && !again; k++) {
        usleep(100 * 1000);
        struct rpc_call *c =
            peer_events_open(ch, &N.user, STELE__EVENT_FORM__EVENT_FORM_FILTERED, newest);
        if ((again = served(c, newest)))
            mine[0] = c;
        else
            rpc_call_finish(c, true, NULL);
    }
    assert_true(again);
    for (int i = 0; i < STREAMS_PER_CLIENT; i++)
        rpc_call_finish(mine[i], true, NULL);
    rpc_channel_close(ch);
}

static void events_stream_ends_when_its_caller_expires(void **state)
{
    (void)state;
    /* a client of Org1 whose certificate expires 4 s from now */
    struct test_identity brief;
    uint64_t now = clock_wall_ms() / 1000, expiry = now + 4;
    test_identity_issue(N.ca[1], 0, "brief.org1", "Org1", "client", now - 60, 64, &brief);
    struct head h;
    assert_true(peer_head(0, &h));
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, &co, NULL);
    assert_non_null(ch);
    struct rpc_call *c =
        peer_events_open(ch, &brief, STELE__EVENT_FORM__EVENT_FORM_FILTERED, h.height - 1);
    assert_true(served(c, h.height - 1));
    int st = 0;
    uint64_t n;
    int rc = STELE_OK;
    while (rc == STELE_OK && st == 0)
        rc = events_next(c, 10000, &n, &st);
    assert_int_equal(rc, STELE_OK);
    assert_int_equal(st, STELE__STATUS__STATUS_FORBIDDEN);
    assert_true(clock_wall_ms() / 1000 >= expiry); /* not before it expired */
    rpc_call_finish(c, false, NULL);
    rpc_channel_close(ch);
    test_identity_free(&brief);
}

/* ---- the gateway's envelope cap ---- */

/* An envelope over the channel's absolute_max_bytes (128 KiB here) is refused by the gateway,
 * not relayed: an orderer drops the whole Broadcast stream on a message over its gRPC cap
 * (absolute_max_bytes + 1 MiB), and the gateway's streams are shared, so every other client's
 * Submit failed until they came back. A request far over the cap is refused before it is
 * decoded. */
static void gateway_refuses_envelopes_over_the_orderers_cap(void **state)
{
    (void)state;
    static char big[(3u << 19) + 1]; /* 1.5 MiB: past the orderers' gRPC cap too */
    memset(big, 'x', sizeof big - 1);
    char id[65];
    struct rpc_result res;
    big[150 * 1024] = 0; /* over 128 KiB, within the request cap of 128 + 64 KiB */
    Stele__SubmitResponse *r = gateway_submit(
        0, tx_must(&(struct txspec){.writes = {{.key = "big", .value = big}}}, id), &res);
    assert_null(r);
    assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
    assert_non_null(strstr(res.detail, "absolute_max_bytes"));
    big[150 * 1024] = 'x';
    r = gateway_submit(0, tx_must(&(struct txspec){.writes = {{.key = "big", .value = big}}}, id),
                       &res);
    assert_null(r);
    assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(res.detail, "exceeds"));
    r = gateway_submit(0, tx_must(&(struct txspec){.writes = {{.key = "small", .value = "v"}}}, id),
                       &res);
    assert_non_null(r);
    assert_true(r->orderers_accepted >= 2); /* the streams were not disturbed */
    pb_free(&r->base);
}

/* ---- an orderer that holds its readers back ---- */

static void peer_leaves_an_orderer_that_falls_behind(void **state)
{
    (void)state;
    /* orderer0 restarted to deliver one block per 6 s; peer0 restarted to pull from it (the
     * first orderer of its list) */
    proc_stop(&N.o[0], SIGTERM, "o0");
    setenv("STELE_TEST_DELIVER_DELAY_MS", "6000", 1);
    net_orderer_start(0);
    unsetenv("STELE_TEST_DELIVER_DELAY_MS");
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    net_peer_start(0, true);
    /* eight blocks, cut one after the other by the others */
    for (int i = 0; i < 8; i++) {
        char id[65], key[16];
        snprintf(key, sizeof key, "slow%d", i);
        uint64_t before = orderer_height(1);
        ProtobufCBinaryData e =
            tx_must(&(struct txspec){.writes = {{.key = key, .value = "v"}}}, id);
        submit(0xe, &e, 1); /* orderers 1..3 */
        free(e.data);
        for (int k = 0; k < 100 && orderer_height(1) == before; k++)
            usleep(50 * 1000);
    }
    uint64_t want = orderer_height(1), t0 = clock_mono_ms();
    struct head h = {0};
    while (clock_mono_ms() - t0 < 40000 && (!peer_head(0, &h) || h.height < want))
        usleep(200 * 1000);
    uint64_t took = clock_mono_ms() - t0;
    print_message("peer0 reached height %llu of %llu in %llu ms\n", (unsigned long long)h.height,
                  (unsigned long long)want, (unsigned long long)took);
    /* one block per 6 s from orderer0 would take 48 s; the rule moves on within two checks */
    assert_true(h.height >= want);
    assert_true(took < 40000);
    /* orderer0 back to normal */
    proc_stop(&N.o[0], SIGTERM, "o0");
    net_orderer_start(0);
}

static void padded_blocks_are_stored_as_they_mean(void **state)
{
    (void)state;
    proc_stop(&N.o[0], SIGTERM, "o0");
    setenv("STELE_TEST_DELIVER_PAD", "65536", 1);
    net_orderer_start(0);
    unsetenv("STELE_TEST_DELIVER_PAD");
    proc_stop(&N.p[0], SIGTERM, "peer0.org1"); /* to pull from orderer0, the first listed */
    net_peer_start(0, true);
    char id[65];
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.writes = {{.key = "padded", .value = "v"}}}, id);
    submit(0xe, &e, 1);
    free(e.data);
    uint64_t number = 0;
    assert_int_equal(tx_wait(0, id, 30000, &number, NULL), STELE__TX_VALIDATION_CODE__VALID);
    assert_int_equal(tx_wait(1, id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    Stele__Block *b0 = block_get(0, number), *b1 = block_get(1, number);
    assert_non_null(b0);
    assert_non_null(b1);
    print_message("block %llu: %zu octets on peer0 (from the padding orderer), %zu on peer1\n",
                  (unsigned long long)number, protobuf_c_message_get_packed_size(&b0->base),
                  protobuf_c_message_get_packed_size(&b1->base));
    assert_int_equal(b0->base.n_unknown_fields, 0);
    /* the block time is what the COMMITs witness, not the 2100 the orderer put beside them */
    uint64_t now = clock_wall_ms();
    assert_true(b0->metadata->timestamp_ms > now - 600000 && b0->metadata->timestamp_ms < now);
    assert_int_equal(protobuf_c_message_get_packed_size(&b0->base),
                     protobuf_c_message_get_packed_size(&b1->base));
    pb_free(&b0->base);
    pb_free(&b1->base);
    proc_stop(&N.o[0], SIGTERM, "o0");
    net_orderer_start(0);
}

/* How often `what` occurs in file `path`. */
static int occurrences(const char *path, const char *what)
{
    size_t len = 0;
    char *text = test_read_file(path, &len);
    int n = 0;
    for (const char *q = text; q && (q = strstr(q, what)); q += strlen(what))
        n++;
    free(text);
    return n;
}

/* One Query call of `who` to peer0 (a State read), recording how it ended. */
struct query_job {
    const struct test_identity *who;
    int rc;
    struct rpc_result res;
    pthread_t t;
};
static void *query_main(void *arg)
{
    struct query_job *j = arg;
    Stele__StateQuery q = STELE__STATE_QUERY__INIT;
    q.namespace_ = "cc";
    q.key = "k";
    ProtobufCMessage *m = NULL;
    memset(&j->res, 0, sizeof j->res);
    j->rc = peer_call_as(0, j->who, "/stele.Query/State", &q.base,
                         &stele__state_response__descriptor, &m, 20000, &j->res);
    pb_free(m);
    return NULL;
}

/* Queries share the peer's workers with endorsement and the gateway: one identity runs at
 * most PEER_MAX_QUERIES_PER_CALLER (8) at once; the next is refused at once, another
 * identity's is served (review of 2026-12-06). peer0 holds each query 3 s
 * (STELE_TEST_QUERY_HOLD_MS) so that eight stay in their slots. */
static void one_identity_cannot_hold_every_query_slot(void **state)
{
    (void)state;
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    setenv("STELE_TEST_QUERY_HOLD_MS", "3000", 1);
    net_peer_start(0, true);
    unsetenv("STELE_TEST_QUERY_HOLD_MS");
    struct query_job held[8];
    for (int i = 0; i < 8; i++) {
        held[i] = (struct query_job){.who = &N.user};
        assert_int_equal(pthread_create(&held[i].t, NULL, query_main, &held[i]), 0);
    }
    usleep(1500 * 1000); /* all eight in their slots */
    struct query_job ninth = {.who = &N.user}, other = {.who = &N.user2};
    uint64_t t0 = clock_mono_ms();
    query_main(&ninth);
    uint64_t took = clock_mono_ms() - t0;
    query_main(&other);
    print_message("ninth of one identity: %s in %llu ms (%s); another identity's: %s\n",
                  rpc_code_name(ninth.res.code), (unsigned long long)took, ninth.res.detail,
                  rpc_code_name(other.res.code));
    assert_int_equal(ninth.res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(ninth.res.detail, "queries running"));
    assert_true(took < 1000);
    assert_true(other.rc == STELE_OK || other.res.code == RPC_NOT_FOUND);
    for (int i = 0; i < 8; i++) {
        pthread_join(held[i].t, NULL);
        assert_true(held[i].rc == STELE_OK || held[i].res.code == RPC_NOT_FOUND);
    }
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    net_peer_start(0, true);
}

static void slow_peer_keeps_its_orderer(void **state)
{
    (void)state;
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    for (int i = 0; i < 30; i++) { /* thirty blocks it will be behind */
        char id[65], key[16];
        snprintf(key, sizeof key, "behind%d", i);
        uint64_t before = orderer_height(1);
        ProtobufCBinaryData e =
            tx_must(&(struct txspec){.writes = {{.key = key, .value = "v"}}}, id);
        submit(ALL_ORDERERS, &e, 1);
        free(e.data);
        for (int k = 0; k < 100 && orderer_height(1) == before; k++)
            usleep(50 * 1000);
    }
    int before = occurrences(N.p[0].log, "moving on");
    setenv("STELE_TEST_COMMIT_DELAY_MS", "1000", 1);
    net_peer_start(0, true);
    unsetenv("STELE_TEST_COMMIT_DELAY_MS");
    sleep(25); /* two checks and more, committing one block a second */
    struct head h;
    assert_true(peer_head(0, &h));
    int after = occurrences(N.p[0].log, "moving on");
    print_message("peer0 at height %llu of %llu after 25 s; it left its orderer %d times\n",
                  (unsigned long long)h.height, (unsigned long long)orderer_height(1),
                  after - before);
    assert_int_equal(after, before);
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    net_peer_start(0, true);
}

/* Whether blocks `a` and `b` hold the same header, envelopes, codes and state hash (two peers'
 * copies differ only in which COMMITs certify them and the time those witness). */
static bool same_block(const Stele__Block *a, const Stele__Block *b)
{
    const Stele__BlockHeader *x = a->header, *y = b->header;
    const Stele__BlockMetadata *m = a->metadata, *n = b->metadata;
    bool same =
        x && y && x->number == y->number && x->previous_hash.len == y->previous_hash.len &&
        memcmp(x->previous_hash.data, y->previous_hash.data, x->previous_hash.len) == 0 &&
        x->data_hash.len == y->data_hash.len &&
        memcmp(x->data_hash.data, y->data_hash.data, x->data_hash.len) == 0 && m && n &&
        m->validation_codes.len == n->validation_codes.len &&
        memcmp(m->validation_codes.data, n->validation_codes.data, m->validation_codes.len) == 0 &&
        m->state_hash.len == n->state_hash.len &&
        memcmp(m->state_hash.data, n->state_hash.data, m->state_hash.len) == 0 && a->data &&
        b->data && a->data->n_envelopes == b->data->n_envelopes;
    for (size_t i = 0; same && i < a->data->n_envelopes; i++)
        same = a->data->envelopes[i].len == b->data->envelopes[i].len &&
               memcmp(a->data->envelopes[i].data, b->data->envelopes[i].data,
                      a->data->envelopes[i].len) == 0;
    return same;
}

/* A faulty orderer that alters what it delivers (an envelope under the header that certifies
 * it, the previous hash, the number, a certificate cut to one COMMIT): peer0, pulling from it
 * first, refuses the block, moves to another orderer and commits the certified block, the
 * same as peer1's. */
static void altered_blocks_are_refused(void **state)
{
    (void)state;
    static const char *const how[] = {"data", "prev", "number", "cert"};
    char refusal[64];
    snprintf(refusal, sizeof refusal, "orderer %s: block ", N.o[0].addr);
    for (int i = 0; i < 4; i++) {
        proc_stop(&N.o[0], SIGTERM, "o0");
        setenv("STELE_TEST_DELIVER_TAMPER", how[i], 1);
        net_orderer_start(0);
        unsetenv("STELE_TEST_DELIVER_TAMPER");
        proc_stop(&N.p[0], SIGTERM, "peer0.org1"); /* to pull from orderer0, the first listed */
        net_peer_start(0, true);
        int before = occurrences(N.p[0].log, refusal);
        char id[65], key[16];
        snprintf(key, sizeof key, "altered-%s", how[i]);
        ProtobufCBinaryData e =
            tx_must(&(struct txspec){.writes = {{.key = key, .value = "v"}}}, id);
        submit(0xe, &e, 1);
        free(e.data);
        uint64_t number = 0;
        assert_int_equal(tx_wait(0, id, 30000, &number, NULL), STELE__TX_VALIDATION_CODE__VALID);
        assert_int_equal(tx_wait(1, id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
        int refused = occurrences(N.p[0].log, refusal) - before;
        Stele__Block *b0 = block_get(0, number), *b1 = block_get(1, number);
        assert_non_null(b0);
        assert_non_null(b1);
        print_message("%s: block %llu refused %d time(s) from orderer0, then committed\n", how[i],
                      (unsigned long long)number, refused);
        assert_true(same_block(b0, b1));
        pb_free(&b0->base);
        pb_free(&b1->base);
        assert_true(refused >= 1);
    }
    proc_stop(&N.o[0], SIGTERM, "o0");
    net_orderer_start(0);
}

/* ---- CRLs the orderers learn ---- */

/* A CRL of CA `ca` (N.ca index) revoking `who` (NULL: nobody), number `number`. */
static struct buf crl_of(int ca, const struct test_identity *who, uint64_t number)
{
    struct buf crl;
    buf_init(&crl);
    uint64_t now = clock_wall_ms() / 1000;
    struct identity_revoked r = {.id = "x", .revoked_at = now - 30, .reason = "test"};
    struct arena *a = arena_create(0);
    if (who) {
        struct identity id;
        assert_int_equal(identity_decode(a, who->record->data, who->record->len, &id, NULL),
                         STELE_OK);
        memcpy(r.certhash, id.certhash, 32);
        r.serial = id.fields.serial;
    }
    assert_int_equal(crl_issue(N.ca[ca], 0, number, now - 60, now + 86400, &r, who ? 1 : 0, &crl),
                     STELE_OK);
    arena_destroy(a);
    return crl;
}

/* Orders an envelope of N.user writing _lifecycle `key` = `crl` (the orderers do not judge it),
 * and waits until orderer 1 has cut its block. */
static void order_crl_write(const char *key, const struct buf *crl)
{
    char id[65];
    uint64_t before = orderer_height(1);
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.chaincode = "_lifecycle",
                                 .writes = {{key, (const char *)crl->data, crl->len}}},
                id);
    submit(ALL_ORDERERS, &e, 1);
    free(e.data);
    for (int k = 0; k < 200 && orderer_height(1) == before; k++)
        usleep(50 * 1000);
    assert_true(orderer_height(1) > before);
    usleep(300 * 1000); /* every orderer has appended it */
}

/* What orderer 0 answers to a transaction of N.revoked. */
static Stele__Status revoked_client_at_orderer0(void)
{
    char id[65];
    Stele__Status st;
    ProtobufCBinaryData e = tx_must(
        &(struct txspec){.creator = &N.revoked, .writes = {{.key = "k-rev", .value = "v"}}}, id);
    broadcast(1u, &e, 1, &st);
    free(e.data);
    return st;
}

static void orderers_keep_the_crls_they_learn(void **state)
{
    (void)state;
    struct buf a = crl_of(1, &N.revoked, 50), b = crl_of(2, NULL, 50);
    assert_int_equal(revoked_client_at_orderer0(), STELE__STATUS__STATUS_SUCCESS);
    order_crl_write("crl/aa", &a); /* Org1's CRL, under a key of no CA */
    assert_int_equal(revoked_client_at_orderer0(), STELE__STATUS__STATUS_FORBIDDEN);
    order_crl_write("crl/aa", &b); /* then Org2's, under the same key */
    proc_stop(&N.o[0], SIGTERM, "o0");
    net_orderer_start(0);
    assert_int_equal(revoked_client_at_orderer0(), STELE__STATUS__STATUS_FORBIDDEN);
    buf_release(&a);
    buf_release(&b);
}

/* ---- a key's history, a page at a time ---- */

static Stele__HistoryResponse *history_page(const Stele__Version *after)
{
    Stele__HistoryQuery q = STELE__HISTORY_QUERY__INIT;
    q.namespace_ = (char *)CC;
    q.key = (char *)"hist";
    q.after = (Stele__Version *)after;
    ProtobufCMessage *m = NULL;
    assert_int_equal(peer_call(0, "/stele.Query/History", &q.base,
                               &stele__history_response__descriptor, &m, 10000),
                     STELE_OK);
    return (Stele__HistoryResponse *)m;
}

static void history_pages_read_a_bounded_number_of_blocks(void **state)
{
    (void)state;
    char last[65] = "";
    for (int i = 0; i < 70; i++) { /* one block each */
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        uint64_t before = orderer_height(1);
        ProtobufCBinaryData e =
            tx_must(&(struct txspec){.writes = {{.key = "hist", .value = v}}}, last);
        submit(ALL_ORDERERS, &e, 1);
        free(e.data);
        for (int k = 0; k < 100 && orderer_height(1) == before; k++)
            usleep(20 * 1000);
    }
    assert_int_equal(tx_wait(0, last, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    Stele__HistoryResponse *r = history_page(NULL);
    size_t first = r->n_entries;
    print_message("first page: %zu entries, has_more %d\n", first, r->has_more);
    assert_int_equal(first, 64);
    assert_true(r->has_more);
    Stele__Version after = *r->entries[first - 1]->version;
    after.base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&stele__version__descriptor);
    Stele__HistoryResponse *r2 = history_page(&after);
    assert_int_equal(first + r2->n_entries, 70);
    assert_false(r2->has_more);
    pb_free(&r->base);
    pb_free(&r2->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_identity_cannot_hold_every_commit_wait),
        cmocka_unit_test(one_identity_cannot_hold_every_events_stream),
        cmocka_unit_test(one_identity_cannot_hold_every_query_slot),
        cmocka_unit_test(events_stream_ends_when_its_caller_expires),
        cmocka_unit_test(gateway_refuses_envelopes_over_the_orderers_cap),
        cmocka_unit_test(peer_leaves_an_orderer_that_falls_behind),
        cmocka_unit_test(padded_blocks_are_stored_as_they_mean),
        cmocka_unit_test(altered_blocks_are_refused),
        cmocka_unit_test(slow_peer_keeps_its_orderer),
        cmocka_unit_test(orderers_keep_the_crls_they_learn),
        cmocka_unit_test(history_pages_read_a_bounded_number_of_blocks),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
}
