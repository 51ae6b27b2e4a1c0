/*
 * test_orderer.c — a real stele-orderer process (solo) on 127.0.0.1 (orderer_fixture.h):
 * concurrent Broadcast clients and Deliver subscribers, refusals with their statuses (none of
 * them ever in a block; envelopes stored octet for octet as sent), subscriptions from the
 * middle, seek positions and behaviours, and `stele block get` verifying the solo proof.
 *
 * The tests run in order on one orderer: each builds on the chain the previous ones made.
 * Restarts and kill -9 are tested in test_orderer_restart.c.
 */
#include "orderer_fixture.h"

#include "base/buf.h"
#include "base/status.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tests ---- */

static void concurrent_broadcast_many_subscribers(void **state)
{
    (void)state;
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    struct subscriber *more[3] = {sub_start(0, UINT64_MAX), sub_start(0, UINT64_MAX),
                                  sub_start(0, UINT64_MAX)};
    orderer_broadcast_from_all_clients();
    assert_int_equal(g_net.n_accepted, CLIENTS * PER_CLIENT);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    assert_int_equal(sub->blocks[0].number, 0);
    for (size_t i = 1; i < sub->n_blocks; i++)
        assert_true(sub->blocks[i].n_txs >= 1 && sub->blocks[i].n_txs <= 10);
    /* Every subscriber saw the same chain. */
    for (int k = 0; k < 3; k++) {
        sub_wait_txs(more[k], g_net.n_accepted);
        assert_exactly_once(more[k]);
        pthread_mutex_lock(&more[k]->mu);
        assert_memory_equal(more[k]->blocks[more[k]->n_blocks - 1].hash,
                            sub->blocks[sub->n_blocks - 1].hash, 32);
        pthread_mutex_unlock(&more[k]->mu);
        sub_end(more[k]);
    }
    sub_end(sub);
}

/* The same envelope with its two fields in the other order (valid protobuf, not what an
 * encoder writes). Takes `e` over. */
static ProtobufCBinaryData reversed(ProtobufCBinaryData e)
{
    Stele__Envelope *d =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, e.data, e.len, 0);
    assert_non_null(d);
    Stele__Envelope sig_only = STELE__ENVELOPE__INIT, payload_only = STELE__ENVELOPE__INIT;
    sig_only.signature = d->signature;
    payload_only.payload = d->payload;
    struct buf out;
    buf_init(&out);
    assert_int_equal(pb_pack_buf(&sig_only.base, &out), STELE_OK);
    assert_int_equal(pb_pack_buf(&payload_only.base, &out), STELE_OK);
    assert_int_equal(out.len, e.len);
    assert_memory_not_equal(out.data, e.data, e.len);
    pb_free(&d->base);
    free(e.data);
    ProtobufCBinaryData r;
    r.data = buf_steal(&out, &r.len);
    return r;
}

/* True when some block holds exactly the octets of `e`. */
static bool chain_holds(ProtobufCBinaryData e)
{
    Stele__SeekOldest oldest = STELE__SEEK_OLDEST__INIT;
    Stele__SeekNewest newest = STELE__SEEK_NEWEST__INIT;
    Stele__SeekPosition from = STELE__SEEK_POSITION__INIT, to = STELE__SEEK_POSITION__INIT;
    from.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    from.oldest = &oldest;
    to.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
    to.newest = &newest;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &from;
    si.stop = &to;
    uint8_t data[64];
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = g_net.auditor.record->data,
                                .creator_len = g_net.auditor.record->len,
                                .data = data,
                                .data_len = stele__seek_info__pack(&si, data)};
    ProtobufCBinaryData req;
    assert_int_equal(envelope_build(&p, g_net.auditor.key, &req, NULL), STELE_OK);
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, 10000);
    assert_int_equal(rpc_call_send_bytes(c, req.data, req.len), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    bool found = false;
    for (;;) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        bool done = r->type_case != STELE__DELIVER_RESPONSE__TYPE_BLOCK;
        for (size_t i = 0; !done && i < r->block->data->n_envelopes; i++) {
            const ProtobufCBinaryData *x = &r->block->data->envelopes[i];
            found |= x->len == e.len && memcmp(x->data, e.data, e.len) == 0;
        }
        pb_free(m);
        if (done)
            break;
    }
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    rpc_channel_close(ch);
    free(req.data);
    return found;
}

static void refusals_never_reach_a_block(void **state)
{
    (void)state;
    enum { N = 11 };
    ProtobufCBinaryData envs[N];
    char ids[N][65], got[N][65];
    Stele__Status st[N];
    /* 0: not an Envelope at all. */
    envs[0] = (ProtobufCBinaryData){1, (uint8_t *)strdup("\xff")};
    /* 1: signed by a stranger in a member's name. */
    envs[1] = orderer_tx(g_net.stranger.key, &g_net.clients[1], "ch1", 10, ids[1]);
    /* 2: a stranger (a CA the orderer does not trust) in its own name. */
    envs[2] = orderer_tx(g_net.stranger.key, &g_net.stranger, "ch1", 10, ids[2]);
    /* 4: over AbsoluteMaxBytes. */
    envs[4] =
        orderer_tx(g_net.clients[2].key, &g_net.clients[2], "ch1", ABSOLUTE_BYTES + 100, ids[4]);
    /* 5: another channel. */
    envs[5] = orderer_tx(g_net.clients[3].key, &g_net.clients[3], "ch2", 10, ids[5]);
    /* 6 and 7: a valid one and the same envelope again on the same stream. */
    envs[6] = orderer_tx(g_net.clients[4].key, &g_net.clients[4], "ch1", 10, ids[6]);
    envs[7] = (ProtobufCBinaryData){envs[6].len, malloc(envs[6].len)};
    memcpy(envs[7].data, envs[6].data, envs[6].len);
    /* 8: an auditor may read blocks but not broadcast. */
    envs[8] = orderer_tx(g_net.auditor.key, &g_net.auditor, "ch1", 10, ids[8]);
    /* 9: valid, but encoded with the signature field first: stored exactly like that. */
    envs[9] = reversed(orderer_tx(g_net.clients[5].key, &g_net.clients[5], "ch1", 10, ids[9]));
    /* 10: over PreferredMaxBytes but under AbsoluteMaxBytes: accepted, in a block of its own. */
    envs[10] = orderer_tx(g_net.clients[6].key, &g_net.clients[6], "ch1", 40000, ids[10]);
    /* 3: a replay: the first envelope of block 1, fetched from the chain. */
    {
        struct rpc_channel *ch = channel_now(false);
        ProtobufCBinaryData req = deliver_seek(1, 1, true);
        Stele__Envelope *e =
            (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len, 0);
        struct rpc_call *call =
            rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                            &stele__deliver_response__descriptor, 10000);
        assert_int_equal(rpc_call_send(call, &e->base), STELE_OK);
        rpc_call_close_send(call);
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(call, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        assert_int_equal(r->type_case, STELE__DELIVER_RESPONSE__TYPE_BLOCK);
        ProtobufCBinaryData *first = &r->block->data->envelopes[0];
        envs[3] = (ProtobufCBinaryData){first->len, malloc(first->len)};
        memcpy(envs[3].data, first->data, first->len);
        pb_free(m);
        assert_int_equal(rpc_call_recv(call, &m, 10000, false), STELE_OK);
        assert_int_equal(((Stele__DeliverResponse *)m)->status, STELE__STATUS__STATUS_SUCCESS);
        pb_free(m);
        struct rpc_result res;
        rpc_call_finish(call, false, &res);
        pb_free(&e->base);
        free(req.data);
        rpc_channel_close(ch);
    }
    orderer_broadcast(envs, N, st, got);
    assert_int_equal(st[0], STELE__STATUS__STATUS_BAD_REQUEST);
    assert_int_equal(st[1], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[2], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[3], STELE__STATUS__STATUS_CONFLICT);
    assert_int_equal(st[4], STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(st[5], STELE__STATUS__STATUS_BAD_REQUEST);
    assert_int_equal(st[6], STELE__STATUS__STATUS_SUCCESS);
    assert_int_equal(st[7], STELE__STATUS__STATUS_CONFLICT);
    assert_int_equal(st[8], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[9], STELE__STATUS__STATUS_SUCCESS);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[9], 65);
    assert_int_equal(st[10], STELE__STATUS__STATUS_SUCCESS);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[10], 65);
    assert_string_equal(got[6], ids[6]);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[6], 65);
    for (int i = 1; i < N; i++)
        if (i != 3 && i != 6 && i != 7 && i != 9 && i != 10)
            memcpy(g_net.refused[g_net.n_refused++], ids[i], 65);
    /* Read the whole chain again: accepted ones once, refused ones never. */
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    sub_end(sub);
    /* The blocks hold the envelopes octet for octet as sent. */
    assert_true(chain_holds(envs[6]));
    assert_true(chain_holds(envs[9]));
    assert_true(chain_holds(envs[10]));
    for (int i = 0; i < N; i++)
        free(envs[i].data);
}

static void subscribe_from_the_middle(void **state)
{
    (void)state;
    struct subscriber *a = sub_start(3, 5), *b = sub_start(2, 4);
    sub_join(a);
    sub_join(b);
    assert_int_equal(a->n_blocks, 3);
    assert_int_equal(a->blocks[0].number, 3);
    assert_int_equal(a->blocks[2].number, 5);
    assert_int_equal(a->final_status, STELE__STATUS__STATUS_SUCCESS);
    assert_int_equal(b->n_blocks, 3);
    assert_memory_equal(a->blocks[0].prev, b->blocks[0].hash, 32); /* 3 follows 2 */
    sub_end(a);
    sub_end(b);
}

/* One Deliver call with the given SeekInfo data; returns the blocks received and the final
 * status in *status. */
static size_t deliver_raw(const uint8_t *data, size_t len, Stele__Status *status)
{
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = g_net.auditor.record->data,
                                .creator_len = g_net.auditor.record->len,
                                .data = data,
                                .data_len = len};
    ProtobufCBinaryData req;
    assert_int_equal(envelope_build(&p, g_net.auditor.key, &req, NULL), STELE_OK);
    Stele__Envelope *e =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len, 0);
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, 10000);
    assert_int_equal(rpc_call_send(c, &e->base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    size_t blocks = 0;
    *status = STELE__STATUS__STATUS_UNKNOWN;
    for (;;) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        bool done = r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS;
        if (done) {
            *status = r->status;
        } else {
            assert_int_equal(r->block->header->number, blocks);
            blocks++;
        }
        pb_free(m);
        if (done)
            break;
    }
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    rpc_channel_close(ch);
    pb_free(&e->base);
    free(req.data);
    return blocks;
}

static void seek_positions_and_behaviors(void **state)
{
    (void)state;
    Stele__SeekOldest oldest = STELE__SEEK_OLDEST__INIT;
    Stele__SeekNewest newest = STELE__SEEK_NEWEST__INIT;
    Stele__SeekPosition from = STELE__SEEK_POSITION__INIT, to = STELE__SEEK_POSITION__INIT;
    from.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    from.oldest = &oldest;
    to.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
    to.newest = &newest;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &from;
    si.stop = &to;
    uint8_t buf[64];
    size_t len = stele__seek_info__pack(&si, buf);
    Stele__Status st;
    /* oldest..newest: the whole chain as it is now, then SUCCESS. */
    size_t n = deliver_raw(buf, len, &st);
    assert_int_equal(st, STELE__STATUS__STATUS_SUCCESS);
    assert_true(n > 10);
    /* No stop position: refused. */
    si.stop = NULL;
    len = stele__seek_info__pack(&si, buf);
    assert_int_equal(deliver_raw(buf, len, &st), 0);
    assert_int_equal(st, STELE__STATUS__STATUS_BAD_REQUEST);
    /* Not a SeekInfo at all. */
    assert_int_equal(deliver_raw((const uint8_t *)"\xff\xff", 2, &st), 0);
    assert_int_equal(st, STELE__STATUS__STATUS_BAD_REQUEST);
    /* Past the end with FAIL_IF_NOT_READY: the blocks there are, then NOT_FOUND. */
    Stele__SeekSpecified far = STELE__SEEK_SPECIFIED__INIT;
    far.number = 1000000;
    to.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    to.specified = &far;
    si.stop = &to;
    si.behavior = STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY;
    len = stele__seek_info__pack(&si, buf);
    assert_int_equal(deliver_raw(buf, len, &st), n);
    assert_int_equal(st, STELE__STATUS__STATUS_NOT_FOUND);
}

/* `stele block get` shows a solo proof whose signer it verified with the caller's CA. */
static void cli_verifies_the_proof(void **state)
{
    (void)state;
    char dir[512], cmd[2048], t[64];
    snprintf(dir, sizeof dir, "%s/auditor", g_net.dir);
    test_identity_save(&g_net.auditor, g_net.ca, dir);
    orderer_target(t);
    char *cli = test_binary_path("stele");
    snprintf(cmd, sizeof cmd, "%s block get 1 --orderer %s --identity %s --json", cli, t, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    if (!strstr(out, "\"signature\":\"valid\"") ||
        !strstr(out, "\"signer_identity\":\"verified\"") ||
        !strstr(out, "\"signer_id\":\"orderer0\"") || !strstr(out, "\"data_hash_valid\":true"))
        fail_msg("stele block get: %s", out);
    free(cli);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_broadcast_many_subscribers),
        cmocka_unit_test(refusals_never_reach_a_block),
        cmocka_unit_test(subscribe_from_the_middle),
        cmocka_unit_test(seek_positions_and_behaviors),
        cmocka_unit_test(cli_verifies_the_proof),
    };
    return cmocka_run_group_tests(tests, orderer_net_setup, orderer_net_teardown);
}
