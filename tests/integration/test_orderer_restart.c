/*
 * test_orderer_restart.c — a real stele-orderer process (solo) on 127.0.0.1
 * (orderer_fixture.h) stopped and started again: a restart resumes at the height and head
 * hash it had, with subscribers seeing every transaction exactly once across it; and with
 * fsync every_block, kill -9 in the middle of a load loses no block a subscriber has seen,
 * and the restarted orderer continues the same chain.
 *
 * The tests run in order on one orderer, which first orders PER_CLIENT transactions of each
 * of the CLIENTS clients (as test_orderer.c's first test does) so that there is a chain of
 * many blocks to restart with.
 */
#include "orderer_fixture.h"

#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The orderer of orderer_fixture.h, with every client's transactions ordered. */
static int setup_with_chain(void **state)
{
    int rc = orderer_net_setup(state);
    if (rc == 0)
        orderer_broadcast_from_all_clients();
    return rc;
}

static void restart_resumes_at_the_right_height(void **state)
{
    (void)state;
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    sub_wait_txs(sub, g_net.n_accepted);
    uint64_t before = sub->next;
    stop_orderer();
    start_orderer();
    /* ChainInfo agrees with what was delivered. */
    struct rpc_channel *ch = channel_now(false);
    Stele__ChainInfoRequest req = STELE__CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m;
    struct rpc_result res;
    assert_int_equal(rpc_unary(ch, "/stele.Orderer/ChainInfo", &req.base,
                               &stele__blockchain_info__descriptor, &m, 5000, &res),
                     STELE_OK);
    Stele__BlockchainInfo *info = (Stele__BlockchainInfo *)m;
    assert_int_equal(info->height, before);
    pthread_mutex_lock(&sub->mu);
    assert_memory_equal(info->current_hash.data, sub->blocks[sub->n_blocks - 1].hash, 32);
    pthread_mutex_unlock(&sub->mu);
    pb_free(m);
    rpc_channel_close(ch);
    /* New transactions land after the old head, delivered exactly once across the restart. */
    struct sender s = {.client = 5};
    orderer_sender_main(&s);
    if (!s.ok)
        fail_msg("%s", s.why);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    assert_true(sub->next > before);
    sub_end(sub);
}

/* Sends envelopes on one stream until told to stop or the stream breaks; never asserts (the
 * orderer is killed under it). */
struct flood {
    pthread_t thread;
    volatile bool quit;
    size_t acknowledged; /* SUCCESS answers received (for debugging) */
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    while (!f->quit) { /* a new stream whenever one breaks (the orderer gets killed) */
        struct rpc_channel *ch = channel_now(false);
        struct rpc_call *c =
            rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                            &stele__broadcast_response__descriptor, 30000);
        while (c && !f->quit) {
            char id[65];
            ProtobufCBinaryData e =
                orderer_tx(g_net.clients[7].key, &g_net.clients[7], "ch1", 200, id);
            int rc = rpc_call_send_bytes(c, e.data, e.len);
            free(e.data);
            ProtobufCMessage *m = NULL;
            if (rc == STELE_OK)
                rc = rpc_call_recv(c, &m, 5000, false);
            if (rc != STELE_OK)
                break;
            if (((Stele__BroadcastResponse *)m)->status == STELE__STATUS__STATUS_SUCCESS)
                f->acknowledged++;
            pb_free(m);
        }
        struct rpc_result res;
        if (c)
            rpc_call_finish(c, true, &res);
        rpc_channel_close(ch);
        if (!f->quit)
            clock_sleep_ms(50);
    }
    return NULL;
}

/* With fsync every_block, every block a subscriber has seen survives kill -9 of the orderer in
 * the middle of a load, and the restarted orderer continues the same chain. (Envelopes
 * acknowledged but not yet cut are lost with solo; clients resend what Deliver never shows.) */
static void sigkill_keeps_every_delivered_block(void **state)
{
    (void)state;
    size_t len;
    char *cfg = test_read_file(g_net.config, &len), *fixed = NULL;
    char *at = strstr(cfg, "fsync: none");
    assert_non_null(at);
    assert_true(asprintf(&fixed, "%.*sfsync: every_block%s", (int)(at - cfg), cfg,
                         at + strlen("fsync: none")) > 0);
    assert_int_equal(test_write_file(g_net.config, fixed, strlen(fixed)), 0);
    free(fixed);
    free(cfg);
    stop_orderer();
    start_orderer();

    struct subscriber *sub = sub_start(0, UINT64_MAX);
    struct flood f = {0};
    assert_int_equal(pthread_create(&f.thread, NULL, flood_main, &f), 0);
    uint64_t start = clock_mono_ms();
    size_t have = 0;
    for (;;) { /* until a few blocks of the flood were delivered */
        pthread_mutex_lock(&sub->mu);
        have = sub->n_txs;
        pthread_mutex_unlock(&sub->mu);
        if (have >= g_net.n_accepted + 30 || clock_mono_ms() - start > 30000)
            break;
        clock_sleep_ms(5);
    }
    kill(g_net.pid, SIGKILL); /* in the middle of the flood */
    int st;
    assert_int_equal(waitpid(g_net.pid, &st, 0), g_net.pid);
    assert_true(WIFSIGNALED(st));
    f.quit = true;
    pthread_join(f.thread, NULL);
    sub->quit = true;
    pthread_join(sub->thread, NULL);
    sub->joined = true;
    assert_true(have >= g_net.n_accepted + 30);

    start_orderer();
    struct subscriber *after = sub_start(0, UINT64_MAX);
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&after->mu);
        size_t got = after->n_blocks;
        pthread_mutex_unlock(&after->mu);
        if (got >= sub->n_blocks)
            break;
        clock_sleep_ms(5);
    }
    pthread_mutex_lock(&after->mu);
    assert_true(after->n_blocks >= sub->n_blocks);
    for (size_t i = 0; i < sub->n_blocks; i++)
        assert_memory_equal(after->blocks[i].hash, sub->blocks[i].hash, 32);
    pthread_mutex_unlock(&after->mu);
    /* And it goes on ordering on top of that chain. */
    struct sender more = {.client = 8};
    orderer_sender_main(&more);
    if (!more.ok)
        fail_msg("%s", more.why);
    sub_end(after);
    sub_end(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restart_resumes_at_the_right_height),
        cmocka_unit_test(sigkill_keeps_every_delivered_block),
    };
    return cmocka_run_group_tests(tests, setup_with_chain, orderer_net_teardown);
}
