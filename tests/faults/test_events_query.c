/*
 * test_events_query.c — what auditors and followers read of a peer, with real processes: four
 * pbft stele-orderer processes and two stele-peer processes of two organisations on 127.0.0.1
 * (peer_fixture.h).
 *
 *   1. StateRange continues as peer.proto says: a start_key of the last key returned followed
 *      by "\0" starts after that key (protobuf-c cut the string at the NUL, so the page began
 *      with the same key again, and a client paging one key at a time never advanced); an
 *      end_key K "\0" ends after K;
 *   2. CommitStatus refuses at once a tx_id that no transaction can carry (upper case, not
 *      hex), instead of holding a commit wait until the deadline and then saying the
 *      transaction has not committed;
 *   3. `stele events` exits 3 (try again), not 1 (refused), when the peer it follows stops and
 *      ends the stream with SERVICE_UNAVAILABLE;
 *   4. every daemon's operations endpoint answers /metrics and /healthz, and its counters
 *      (transactions by validation code, blocks, Broadcast answers, proposals, Submits) move
 *      by exactly what the test did.
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "identity/replay.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signs `body` (len octets) for `method` as N.user into *sr, whose octets live in `req` and
 * `sig` (the caller's). */
static void sign_raw(const char *method, const uint8_t *body, size_t len, struct buf *req,
                     uint8_t sig[64], Stele__SignedRequest *sr)
{
    buf_init(req);
    assert_int_equal(signed_request_create(N.user.key, N.user.record->data, N.user.record->len,
                                           method, body, len, clock_wall_ms(), req, sig),
                     STELE_OK);
    stele__signed_request__init(sr);
    sr->request = (ProtobufCBinaryData){req->len, req->data};
    sr->signature = (ProtobufCBinaryData){64, sig};
}

/* Sends the signed request `sr` to `method` of peer 0. Returns the call's status; *out
 * (pb_free) on STELE_OK; `res` gets the code and detail. */
static int send_signed(const char *method, const Stele__SignedRequest *sr,
                       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                       struct rpc_result *res)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[0].addr, &co, NULL);
    assert_non_null(ch);
    *out = NULL;
    memset(res, 0, sizeof *res);
    int rc = rpc_unary(ch, method, &sr->base, desc, out, 10000, res);
    rpc_channel_close(ch);
    return rc;
}

/* Calls Query or Events `method` of peer 0 with the raw `body` (len octets) signed by N.user.
 * Returns as send_signed(). */
static int call_raw(const char *method, const uint8_t *body, size_t len,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                    struct rpc_result *res)
{
    struct buf req;
    uint8_t sig[64];
    Stele__SignedRequest sr;
    sign_raw(method, body, len, &req, sig, &sr);
    int rc = send_signed(method, &sr, desc, out, res);
    buf_release(&req);
    return rc;
}

/* Appends string field `field` of `len` octets (< 128) to `b`. */
static void put_string(struct buf *b, unsigned field, const char *s, size_t len)
{
    assert_true(len < 128);
    assert_int_equal(buf_append_byte(b, (uint8_t)(field << 3 | 2)), STELE_OK);
    assert_int_equal(buf_append_byte(b, (uint8_t)len), STELE_OK);
    assert_int_equal(buf_append(b, s, len), STELE_OK);
}

/* StateRange over CC of [start, end) as the octets given (NULs included), `limit` keys: the
 * keys returned, space-separated, into out; *more gets has_more. */
static void range_raw(const char *start, size_t start_len, const char *end, size_t end_len,
                      unsigned limit, char *out, size_t out_len, bool *more)
{
    struct buf body;
    buf_init(&body);
    put_string(&body, 1, CC, strlen(CC));
    put_string(&body, 2, start, start_len);
    put_string(&body, 3, end, end_len);
    assert_int_equal(buf_append_byte(&body, 4 << 3 | 0), STELE_OK);
    assert_int_equal(buf_append_byte(&body, (uint8_t)limit), STELE_OK);
    ProtobufCMessage *m = NULL;
    struct rpc_result res;
    int rc = call_raw("/stele.Query/StateRange", body.data, body.len,
                      &stele__range_response__descriptor, &m, &res);
    if (rc)
        fail_msg("StateRange: %s: %s", rpc_code_name(res.code), res.detail);
    const Stele__RangeResponse *r = (const Stele__RangeResponse *)m;
    out[0] = 0;
    for (size_t i = 0; i < r->n_entries; i++)
        snprintf(out + strlen(out), out_len - strlen(out), "%s%s", i ? " " : "",
                 r->entries[i]->key);
    *more = r->has_more;
    pb_free(m);
    buf_release(&body);
}

static void range_continues_after_a_nul(void **state)
{
    (void)state;
    char tx_id[65];
    ProtobufCBinaryData e = tx_must(&(struct txspec){.writes = {{.key = "rq/a", .value = "1"},
                                                                {.key = "rq/b", .value = "2"},
                                                                {.key = "rq/c", .value = "3"}}},
                                    tx_id);
    submit(ALL_ORDERERS, &e, 1);
    free(e.data);
    assert_int_equal(tx_wait(0, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);

    /* one key a page, each page from the last key followed by "\0" */
    char keys[64], all[256] = "", from[64] = "rq/";
    size_t from_len = strlen(from);
    bool more = true;
    for (int page = 0; more && page < 5; page++) {
        range_raw(from, from_len, "rq0", 3, 1, keys, sizeof keys, &more);
        print_message("page from '%.*s': [%s] has_more %d\n", (int)from_len, from, keys, more);
        if (!keys[0])
            break;
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? " " : "", keys);
        from_len = strlen(keys) + 1; /* the key and its NUL */
        memcpy(from, keys, from_len < sizeof from ? from_len : sizeof from);
    }
    assert_string_equal(all, "rq/a rq/b rq/c");
    assert_false(more);

    /* an end_key K "\0" takes K in */
    range_raw("rq/", 3, "rq/b\0", 5, 0, keys, sizeof keys, &more);
    assert_string_equal(keys, "rq/a rq/b");
    assert_false(more);
    /* and without the NUL it does not */
    range_raw("rq/", 3, "rq/b", 4, 0, keys, sizeof keys, &more);
    assert_string_equal(keys, "rq/a");
}

/* A page of long keys stays under the 4 MiB that gRPC clients (Node, Go, Python) receive by
 * default: 1,000 keys of 4,000 octets with 300-octet values are 4.3 MB, more than one page. */
static void range_pages_fit_a_default_grpc_client(void **state)
{
    (void)state;
    enum { KEYS = 1002, PER_TX = 3, KEY_LEN = 4000, VALUE_LEN = 300 };
    static char keys[KEYS][KEY_LEN + 1];
    static char value[VALUE_LEN + 1];
    memset(value, 'v', VALUE_LEN);
    ProtobufCBinaryData envs[KEYS / PER_TX];
    char ids[KEYS / PER_TX][65];
    for (int i = 0; i < KEYS; i++) {
        memset(keys[i], 'k', KEY_LEN);
        snprintf(keys[i], KEY_LEN, "pg/%05d", i);
        keys[i][strlen(keys[i])] = 'k'; /* the NUL snprintf left */
        keys[i][KEY_LEN] = 0;
    }
    for (int t = 0; t < KEYS / PER_TX; t++) {
        struct txspec s = {0};
        for (int k = 0; k < PER_TX; k++)
            s.writes[k] = (struct wr){.key = keys[t * PER_TX + k], .value = value};
        envs[t] = tx_must(&s, ids[t]);
    }
    submit(ALL_ORDERERS, envs, KEYS / PER_TX);
    for (int t = 0; t < KEYS / PER_TX; t++)
        free(envs[t].data);
    for (int t = 0; t < KEYS / PER_TX; t++)
        assert_int_equal(tx_wait(0, ids[t], 60000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);

    struct buf body;
    buf_init(&body);
    put_string(&body, 1, CC, strlen(CC));
    put_string(&body, 2, "pg/", 3);
    put_string(&body, 3, "pg0", 3);
    ProtobufCMessage *m = NULL;
    struct rpc_result res;
    if (call_raw("/stele.Query/StateRange", body.data, body.len, &stele__range_response__descriptor,
                 &m, &res))
        fail_msg("StateRange: %s: %s", rpc_code_name(res.code), res.detail);
    const Stele__RangeResponse *r = (const Stele__RangeResponse *)m;
    size_t packed = protobuf_c_message_get_packed_size(m);
    print_message("first page: %zu entries, %zu octets, has_more %d\n", r->n_entries, packed,
                  r->has_more);
    assert_true(packed < (4u << 20));
    assert_true(r->has_more);
    assert_true(r->n_entries >= 600 && r->n_entries < 1000);
    pb_free(m);
    buf_release(&body);
}

static void commit_status_refuses_a_tx_id_no_transaction_carries(void **state)
{
    (void)state;
    char tx_id[65];
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.writes = {{.key = "cs", .value = "1"}}}, tx_id);
    submit(ALL_ORDERERS, &e, 1);
    free(e.data);
    assert_int_equal(tx_wait(0, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    char upper[65], nothex[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)toupper((unsigned char)tx_id[i]);
    memcpy(nothex, tx_id, sizeof nothex);
    nothex[10] = 'g';
    const char *bad[] = {upper, nothex};
    for (size_t k = 0; k < 2; k++) {
        Stele__CommitStatusRequest q = STELE__COMMIT_STATUS_REQUEST__INIT;
        q.tx_id = (char *)bad[k];
        ProtobufCMessage *m = NULL;
        struct rpc_result res = {0};
        uint64_t t0 = clock_mono_ms();
        int rc = peer_call_as(0, &N.user, "/stele.Events/CommitStatus", &q.base,
                              &stele__commit_status_response__descriptor, &m, 4000, &res);
        uint64_t took = clock_mono_ms() - t0;
        pb_free(m);
        print_message("CommitStatus(%s): %s after %llu ms: %s\n", bad[k], rpc_code_name(res.code),
                      (unsigned long long)took, res.detail);
        assert_int_not_equal(rc, STELE_OK);
        assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
        assert_non_null(strstr(res.detail, "64 lowercase hex digits"));
        assert_true(took < 2000);
    }
    /* the tx_id itself still answers at once */
    Stele__CommitStatusRequest q = STELE__COMMIT_STATUS_REQUEST__INIT;
    q.tx_id = tx_id;
    ProtobufCMessage *m = NULL;
    assert_int_equal(peer_call_as(0, &N.user, "/stele.Events/CommitStatus", &q.base,
                                  &stele__commit_status_response__descriptor, &m, 4000, NULL),
                     STELE_OK);
    assert_int_equal(((Stele__CommitStatusResponse *)m)->validation_code,
                     STELE__TX_VALIDATION_CODE__VALID);
    pb_free(m);
}

/* Signs a State query of "cs" by N.user dated `ts_ms` into *sr (its octets in *req). */
static void sign_state_at(uint64_t ts_ms, struct buf *req, uint8_t sig[64],
                          Stele__SignedRequest *sr)
{
    Stele__StateQuery q = STELE__STATE_QUERY__INIT;
    q.namespace_ = "cc";
    q.key = "cs";
    struct buf body;
    buf_init(&body);
    assert_int_equal(pb_pack_buf(&q.base, &body), STELE_OK);
    buf_init(req);
    assert_int_equal(signed_request_create(N.user.key, N.user.record->data, N.user.record->len,
                                           "/stele.Query/State", body.data, body.len, ts_ms, req,
                                           sig),
                     STELE_OK);
    buf_release(&body);
    stele__signed_request__init(sr);
    sr->request = (ProtobufCBinaryData){req->len, req->data};
    sr->signature = (ProtobufCBinaryData){64, sig};
}

/* A request dated in the future is dated after the peer's next start, where the floor set at
 * start would not cover it (review of 2026-12-06: one dated 2 minutes ahead, taken before a
 * restart, was taken again after it). So a request may be dated at most REPLAY_MAX_AHEAD_MS
 * ahead of the peer's clock: 2 minutes ahead is refused outright, and one a few seconds ahead,
 * taken before a restart, is refused after it. */
static void a_future_dated_request_is_not_taken_again_after_a_restart(void **state)
{
    (void)state;
    struct buf req;
    uint8_t sig[64];
    Stele__SignedRequest sr;
    ProtobufCMessage *m = NULL;
    struct rpc_result res;
    sign_state_at(clock_wall_ms() + 120000, &req, sig, &sr);
    int rc = send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
    pb_free(m);
    print_message("State dated 2 min ahead: %s %s\n", rpc_code_name(res.code), res.detail);
    assert_int_equal(res.code, RPC_UNAUTHENTICATED);
    assert_non_null(strstr(res.detail, "ahead of the peer's clock"));
    buf_release(&req);

    uint64_t ahead = clock_wall_ms() + REPLAY_MAX_AHEAD_MS - 2000;
    sign_state_at(ahead, &req, sig, &sr);
    rc = send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
    pb_free(m);
    assert_true(rc == STELE_OK || res.code == RPC_NOT_FOUND);
    while (clock_wall_ms() <= ahead) /* the restart ends after the date it carries */
        clock_sleep_ms(100);
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    net_peer_start(0, true);
    rc = send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
    pb_free(m);
    print_message("State dated 3 s ahead, replayed after a restart: %s %s\n",
                  rpc_code_name(res.code), res.detail);
    assert_true(rc != STELE_OK && res.code != RPC_NOT_FOUND); /* a replay: refused */
    buf_release(&req);
}

/* A signed request is taken once: the same octets sent again are refused as a replay (review
 * of 2026-12-06: sixteen replays of one captured Events request opened sixteen streams counted
 * against its signer, who was shut out, while whoever replayed them read along), also after
 * the peer restarted. */
static void a_signed_request_is_taken_once(void **state)
{
    (void)state;
    Stele__StateQuery q = STELE__STATE_QUERY__INIT;
    q.namespace_ = "cc";
    q.key = "cs";
    struct buf body, req;
    uint8_t sig[64];
    buf_init(&body);
    assert_int_equal(pb_pack_buf(&q.base, &body), STELE_OK);
    Stele__SignedRequest sr;
    sign_raw("/stele.Query/State", body.data, body.len, &req, sig, &sr);
    for (int k = 0; k < 2; k++) {
        ProtobufCMessage *m = NULL;
        struct rpc_result res;
        int rc =
            send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
        pb_free(m);
        print_message("State, %s: %s %s\n", k ? "again" : "first", rpc_code_name(res.code),
                      res.detail);
        if (k == 0) {
            assert_true(rc == STELE_OK || res.code == RPC_NOT_FOUND);
        } else {
            assert_int_equal(res.code, RPC_FAILED_PRECONDITION);
            assert_non_null(strstr(res.detail, "replay"));
        }
    }
    /* The peer forgets what it took when it restarts, so it refuses whatever was signed
     * before it started: the captured request is refused after a restart too, and a request
     * signed after it is taken. */
    struct head before, after;
    assert_true(peer_head(0, &before));
    proc_stop(&N.p[0], SIGTERM, "peer0.org1");
    net_peer_start(0, true);
    /* ChainInfo names the same head after the restart (read back from the block store), and
     * its previous_hash is the head block's */
    assert_true(peer_head(0, &after));
    assert_int_equal(after.height, before.height);
    assert_memory_equal(after.hash, before.hash, 32);
    assert_memory_equal(after.prev, before.prev, 32);
    Stele__Block *head = block_get(0, after.height - 1);
    assert_non_null(head);
    assert_int_equal(head->header->previous_hash.len, 32);
    assert_memory_equal(head->header->previous_hash.data, after.prev, 32);
    pb_free(&head->base);
    ProtobufCMessage *m = NULL;
    struct rpc_result res;
    int rc = send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
    pb_free(m);
    print_message("State, after a restart: %s %s\n", rpc_code_name(res.code), res.detail);
    assert_int_not_equal(rc, STELE_OK);
    assert_int_equal(res.code, RPC_UNAUTHENTICATED);
    assert_non_null(strstr(res.detail, "sign it again"));
    buf_release(&req);
    sign_raw("/stele.Query/State", body.data, body.len, &req, sig, &sr);
    rc = send_signed("/stele.Query/State", &sr, &stele__state_response__descriptor, &m, &res);
    pb_free(m);
    assert_true(rc == STELE_OK || res.code == RPC_NOT_FOUND);
    buf_release(&body);
    buf_release(&req);
}

/* GET `path` of process p's operations endpoint: the status, the body into *out (freed by
 * the caller with buf_release). */
static int ops_get(const struct proc *p, const char *path, struct buf *out)
{
    buf_init(out);
    return test_http_get(p->ops, path, NULL, out);
}

/* Every daemon serves /metrics and /healthz on its operations address: the peers' ledger
 * heights are what ChainInfo says, the orderers' chain heights what theirs says, exactly one
 * orderer is the primary, and a request that is not HTTP is refused without harm. */
static void operations_endpoints_report_the_network(void **state)
{
    (void)state;
    struct buf m;
    double v;
    for (int i = 0; i < PEERS; i++) {
        struct head h;
        assert_true(peer_head(i, &h));
        assert_int_equal(ops_get(&N.p[i], "/metrics", &m), 200);
        assert_true(test_metric((char *)m.data, "stele_ledger_height", &v));
        print_message("peer %d: ChainInfo height %llu, metric %.0f\n", i,
                      (unsigned long long)h.height, v);
        assert_true(v >= (double)h.height && v <= (double)h.height + 2); /* it may commit on */
        assert_true(test_metric((char *)m.data, "stele_grpc_calls_total", &v) && v > 0);
        assert_true(test_metric((char *)m.data, "process_cpu_seconds_total", &v) && v > 0);
        assert_true(test_metric((char *)m.data, "process_resident_memory_bytes", &v) && v > 1e6);
        buf_release(&m);
        assert_int_equal(ops_get(&N.p[i], "/healthz", &m), 200);
        assert_non_null(strstr((char *)m.data, "\"status\":\"OK\""));
        buf_release(&m);
    }
    int primaries = 0;
    for (int i = 0; i < ORDERERS; i++) {
        uint64_t height = orderer_height(i);
        assert_int_equal(ops_get(&N.o[i], "/metrics", &m), 200);
        assert_true(test_metric((char *)m.data, "stele_orderer_chain_height", &v));
        assert_true(v >= (double)height && v <= (double)height + 2);
        assert_true(test_metric((char *)m.data, "stele_consensus_role{role=\"primary\"}", &v));
        primaries += v == 1;
        buf_release(&m);
    }
    assert_int_equal(primaries, 1);
    /* not HTTP: 400, and the peer serves on */
    buf_init(&m);
    assert_int_equal(test_http_get(N.p[0].ops, NULL, "\x16\x03\x01\x00\x10garbage\r\n\r\n", &m),
                     400);
    buf_release(&m);
    assert_int_equal(ops_get(&N.p[0], "/nothing", &m), 404);
    buf_release(&m);
    struct head h;
    assert_true(peer_head(0, &h));
}

/* One sample of a scrape (asserted present). */
static double sample_of(const struct buf *m, const char *sample)
{
    double v = -1;
    if (!test_metric((const char *)m->data, sample, &v))
        fail_msg("no sample %s in the scrape", sample);
    return v;
}

/* What the tests below read of one peer's or orderer's scrape. */
struct peer_counts {
    double height, blocks, valid, mvcc, all_codes, endorsed, endorse_refused, submits_ok,
        submits_refused, sig_checks, cc_invocations, commits_timed;
};
struct orderer_counts {
    double height, blocks, accepted, duplicate, refused, streams, view_changes;
};

static void scrape_peer(int i, struct peer_counts *c)
{
    struct buf m;
    assert_int_equal(ops_get(&N.p[i], "/metrics", &m), 200);
    c->height = sample_of(&m, "stele_ledger_height");
    c->blocks = sample_of(&m, "stele_ledger_blocks_committed_total");
    c->valid = sample_of(&m, "stele_ledger_transactions_total{code=\"VALID\"}");
    c->mvcc = sample_of(&m, "stele_ledger_transactions_total{code=\"MVCC_READ_CONFLICT\"}");
    /* every code is printed, 0 when none was seen, so that dashboards find each series */
    const ProtobufCEnumDescriptor *d = &stele__tx_validation_code__descriptor;
    c->all_codes = 0;
    for (unsigned k = 0; k < d->n_values; k++) {
        char name[128];
        snprintf(name, sizeof name, "stele_ledger_transactions_total{code=\"%s\"}",
                 d->values[k].name);
        c->all_codes += sample_of(&m, name);
    }
    c->endorsed = sample_of(&m, "stele_endorser_proposals_total{result=\"endorsed\"}");
    c->endorse_refused = sample_of(&m, "stele_endorser_proposals_total{result=\"refused\"}");
    c->submits_ok = sample_of(&m, "stele_gateway_submits_total{result=\"accepted\"}");
    c->submits_refused = sample_of(&m, "stele_gateway_submits_total{result=\"refused\"}");
    c->sig_checks = sample_of(&m, "stele_signature_cache_hits_total") +
                    sample_of(&m, "stele_signature_verifications_total");
    c->cc_invocations = sample_of(&m, "stele_chaincode_invocations_total");
    /* every block committed is timed: the histogram's count, and its last bucket */
    c->commits_timed = sample_of(&m, "stele_ledger_commit_seconds_count");
    assert_true(sample_of(&m, "stele_ledger_commit_seconds_bucket{le=\"+Inf\"}") ==
                c->commits_timed);
    assert_true(sample_of(&m, "stele_ledger_commit_seconds_sum") >= 0);
    assert_true(sample_of(&m, "stele_chaincode_hosts_killed_total{reason=\"crashed\"}") >= 0);
    assert_true(sample_of(&m, "stele_event_streams") >= 0);
    buf_release(&m);
}

static void scrape_orderer(int i, struct orderer_counts *c)
{
    struct buf m;
    assert_int_equal(ops_get(&N.o[i], "/metrics", &m), 200);
    c->height = sample_of(&m, "stele_orderer_chain_height");
    c->blocks = sample_of(&m, "stele_orderer_blocks_total");
    c->accepted = sample_of(&m, "stele_broadcast_envelopes_total{result=\"accepted\"}");
    c->duplicate = sample_of(&m, "stele_broadcast_envelopes_total{result=\"duplicate\"}");
    c->refused = sample_of(&m, "stele_broadcast_envelopes_total{result=\"refused\"}");
    c->streams = sample_of(&m, "stele_deliver_streams");
    c->view_changes = sample_of(&m, "stele_consensus_view_changes_total");
    buf_release(&m);
}

/* ProcessProposal of kv's `fn` (one argument `arg`) on peer i: the chaincode's status, or -1
 * when the call failed. */
static int propose(int i, const char *fn, const char *arg)
{
    ProtobufCBinaryData args[1] = {{strlen(arg), (uint8_t *)arg}};
    struct tx_proposal_params pp = {.channel_id = CHANNEL,
                                    .creator = N.user.record->data,
                                    .creator_len = N.user.record->len,
                                    .chaincode = CC,
                                    .function = fn,
                                    .args = args,
                                    .n_args = 1};
    struct buf prop;
    uint8_t sig[64];
    buf_init(&prop);
    assert_int_equal(tx_proposal_build(&pp, N.user.key, &prop, sig, NULL), STELE_OK);
    Stele__SignedProposal sp = STELE__SIGNED_PROPOSAL__INIT;
    sp.proposal_bytes = (ProtobufCBinaryData){prop.len, prop.data};
    sp.signature = (ProtobufCBinaryData){64, sig};
    struct rpc_channel *ch = rpc_channel_open(N.p[i].addr, NULL, NULL);
    assert_non_null(ch);
    ProtobufCMessage *m = NULL;
    struct rpc_result res;
    int rc = rpc_unary(ch, "/stele.Endorser/ProcessProposal", &sp.base,
                       &stele__proposal_response__descriptor, &m, 30000, &res);
    rpc_channel_close(ch);
    buf_release(&prop);
    const Stele__ProposalResponse *pr = (const Stele__ProposalResponse *)m;
    int status = rc == STELE_OK && pr->response ? pr->response->status : -1;
    print_message("ProcessProposal %s(%s): %d %s\n", fn, arg, status,
                  rc == STELE_OK ? "" : res.detail);
    pb_free(m);
    return status;
}

/* The counters an operator watches move with what happens: after TXS transactions ordered
 * and committed, each peer counts TXS more VALID transactions and exactly the blocks its
 * height grew by, each orderer answered every envelope sent to it as accepted or duplicate
 * (each was accepted by one at least) and counts the blocks its chain grew by; a stale read counts
 * one MVCC_READ_CONFLICT on each peer; an envelope with a bad signature counts one refusal on every
 * orderer (and, sent to a gateway, one refused Submit); a proposal endorsed and one the chaincode
 * refuses count once each. */
static void operations_endpoints_count_transactions_and_refusals(void **state)
{
    (void)state;
    enum { TXS = 3 };
    install_genesis_cc(0, "tests/chaincode/kv_cc.so");
    assert_peers_agree(30);
    struct peer_counts p0[PEERS], p1[PEERS];
    struct orderer_counts o0[ORDERERS], o1[ORDERERS];
    for (int i = 0; i < PEERS; i++)
        scrape_peer(i, &p0[i]);
    for (int i = 0; i < ORDERERS; i++)
        scrape_orderer(i, &o0[i]);

    /* TXS transactions, each to every orderer, committed VALID on both peers */
    ProtobufCBinaryData envs[TXS];
    char ids[TXS][65], keys[TXS][16];
    for (int t = 0; t < TXS; t++) {
        snprintf(keys[t], sizeof keys[t], "ops/%d", t);
        envs[t] = tx_must(&(struct txspec){.writes = {{.key = keys[t], .value = "v"}}}, ids[t]);
    }
    submit(ALL_ORDERERS, envs, TXS);
    for (int t = 0; t < TXS; t++) {
        free(envs[t].data);
        for (int i = 0; i < PEERS; i++)
            assert_int_equal(tx_wait(i, ids[t], 30000, NULL, NULL),
                             STELE__TX_VALIDATION_CODE__VALID);
    }
    /* a transaction that read ops/0 as absent, committed after ops/0 was written; through
     * peer 0's gateway */
    char stale[65];
    Stele__SubmitResponse *r =
        gateway_submit(0,
                       tx_must(&(struct txspec){.reads = {{.key = "ops/0"}},
                                                .writes = {{.key = "ops/0", .value = "stale"}}},
                               stale),
                       &(struct rpc_result){0});
    assert_non_null(r);
    pb_free(&r->base);
    for (int i = 0; i < PEERS; i++)
        assert_int_equal(tx_wait(i, stale, 30000, NULL, NULL),
                         STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT);
    /* a creator signature that does not verify: every orderer refuses it, so does the gateway */
    char bad_id[65];
    ProtobufCBinaryData g =
        tx_must(&(struct txspec){.writes = {{.key = "ops/bad", .value = "x"}}}, bad_id);
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, g.data, g.len, 0);
    assert_non_null(env);
    env->signature.data[7] ^= 0x40;
    ProtobufCBinaryData bad;
    bad.data = pb_pack(&env->base, &bad.len);
    pb_free(&env->base);
    free(g.data);
    Stele__Status st;
    broadcast(ALL_ORDERERS, &bad, 1, &st);
    assert_int_equal(st, STELE__STATUS__STATUS_FORBIDDEN);
    struct rpc_result res;
    assert_null(gateway_submit(0, bad, &res));
    assert_int_equal(res.code, RPC_UNAUTHENTICATED);
    /* proposals: one endorsed, one its chaincode refuses (status 403) */
    assert_int_equal(propose(0, "get", "ops/1"), 200);
    assert_int_equal(propose(0, "refuse", "-"), 403);

    assert_peers_agree(30);
    for (int i = 0; i < PEERS; i++) {
        scrape_peer(i, &p1[i]);
        print_message(
            "peer %d: height %.0f -> %.0f, blocks +%.0f, VALID +%.0f, MVCC +%.0f, "
            "endorsed +%.0f, refused +%.0f, submits +%.0f/-%.0f, signatures +%.0f\n",
            i, p0[i].height, p1[i].height, p1[i].blocks - p0[i].blocks, p1[i].valid - p0[i].valid,
            p1[i].mvcc - p0[i].mvcc, p1[i].endorsed - p0[i].endorsed,
            p1[i].endorse_refused - p0[i].endorse_refused, p1[i].submits_ok - p0[i].submits_ok,
            p1[i].submits_refused - p0[i].submits_refused, p1[i].sig_checks - p0[i].sig_checks);
        assert_true(p1[i].height > p0[i].height);
        assert_true(p1[i].blocks - p0[i].blocks == p1[i].height - p0[i].height);
        assert_true(p1[i].commits_timed - p0[i].commits_timed == p1[i].blocks - p0[i].blocks);
        assert_true(p1[i].valid - p0[i].valid == TXS);
        assert_true(p1[i].mvcc - p0[i].mvcc == 1);
        assert_true(p1[i].all_codes - p0[i].all_codes == TXS + 1);
        /* validation checks every creator and endorsement signature through the cache */
        assert_true(p1[i].sig_checks - p0[i].sig_checks >= 2 * (TXS + 1));
    }
    assert_true(p1[0].endorsed - p0[0].endorsed == 1);
    assert_true(p1[0].endorse_refused - p0[0].endorse_refused == 1);
    assert_true(p1[0].cc_invocations - p0[0].cc_invocations == 2);
    assert_true(p1[0].submits_ok - p0[0].submits_ok == 1);
    assert_true(p1[0].submits_refused - p0[0].submits_refused == 1);
    assert_true(p1[1].endorsed == p0[1].endorsed && p1[1].submits_ok == p0[1].submits_ok);
    double streams = 0, accepted = 0;
    for (int i = 0; i < ORDERERS; i++) {
        scrape_orderer(i, &o1[i]);
        print_message("orderer %d: height %.0f -> %.0f, blocks +%.0f, accepted +%.0f, duplicate "
                      "+%.0f, refused +%.0f, deliver streams %.0f, view changes %.0f\n",
                      i, o0[i].height, o1[i].height, o1[i].blocks - o0[i].blocks,
                      o1[i].accepted - o0[i].accepted, o1[i].duplicate - o0[i].duplicate,
                      o1[i].refused - o0[i].refused, o1[i].streams, o1[i].view_changes);
        assert_true(o1[i].blocks - o0[i].blocks == o1[i].height - o0[i].height);
        assert_true(o1[i].height == p1[0].height);
        /* each holds TXS from submit() and the stale one from the gateway: accepted, or a
         * duplicate when another orderer's copy (forwarded, or in a PRE-PREPARE) came first */
        assert_true(o1[i].accepted + o1[i].duplicate - o0[i].accepted - o0[i].duplicate == TXS + 1);
        accepted += o1[i].accepted - o0[i].accepted;
        assert_true(o1[i].refused - o0[i].refused == 1);
        assert_true(o1[i].view_changes == o0[i].view_changes);
        streams += o1[i].streams;
    }
    assert_true(accepted >= TXS + 1); /* every envelope was accepted somewhere */
    assert_true(streams >= PEERS);    /* each peer pulls blocks on a Deliver stream */
}

static void events_cli_exits_3_when_its_peer_stops(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/events.out", N.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(N.cli, N.cli, "events", "--peer", N.p[1].addr, "--identity", N.user_dir, "--from",
              "0", (char *)NULL);
        _exit(127);
    }
    /* it follows: block 0 is printed, and it waits for more */
    bool following = false;
    for (int k = 0; k < 200 && !following; k++) {
        clock_sleep_ms(50);
        char *out = test_read_file(path, NULL);
        following = out && strstr(out, "block 0 ");
        free(out);
    }
    assert_true(following);
    proc_stop(&N.p[1], SIGTERM, "peer1");
    int st = 0;
    uint64_t deadline = clock_mono_ms() + 20000;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (clock_mono_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("stele events did not end when its peer stopped");
        }
        clock_sleep_ms(50);
    }
    char *out = test_read_file(path, NULL);
    print_message("stele events exited 0x%x: %s\n", st, out ? out : "");
    bool unavailable = out && strstr(out, "SERVICE_UNAVAILABLE");
    free(out);
    net_peer_start(1, true);
    assert_true(WIFEXITED(st));
    /* the stream ended with the peer's status, not a broken connection */
    assert_true(unavailable);
    assert_int_equal(WEXITSTATUS(st), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(range_continues_after_a_nul),
        cmocka_unit_test(range_pages_fit_a_default_grpc_client),
        cmocka_unit_test(commit_status_refuses_a_tx_id_no_transaction_carries),
        cmocka_unit_test(a_signed_request_is_taken_once),
        cmocka_unit_test(a_future_dated_request_is_not_taken_again_after_a_restart),
        cmocka_unit_test(operations_endpoints_report_the_network),
        cmocka_unit_test(operations_endpoints_count_transactions_and_refusals),
        cmocka_unit_test(events_cli_exits_3_when_its_peer_stops),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
}
