/*
 * test_gateway_broadcaster.c — the gateway's Broadcast streams (peer/broadcaster.c) against an
 * orderer played in this process (an AtomicBroadcast/Broadcast service on 127.0.0.1):
 *
 *   1. an orderer that reads every envelope and never answers (Byzantine, or wedged after its
 *      intake) does not make the gateway keep a waiter per envelope for as long as the stream
 *      lasts: past gateway.orderer_queue + 65,536 unanswered envelopes the stream is dropped
 *      (the orderer sees it cancelled) and its waiters fail;
 *   2. an orderer that answers every envelope keeps its one stream through more envelopes than
 *      that bound: only envelopes awaiting an answer count.
 */
#include "peer/peer_int.h"
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define QUEUE          16    /* gateway.orderer_queue of the test */
#define MAX_UNANSWERED 65536 /* broadcaster.c's bound beyond it */

/* ---- the orderer ---- */

static atomic_bool answers;       /* answer SUCCESS to every envelope, or nothing */
static atomic_int streams_opened; /* Broadcast streams the gateway opened */
static atomic_int streams_ended;  /* ... that have ended */
static atomic_ulong received;     /* envelopes read */

static int on_envelope(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    (void)arg;
    (void)data;
    (void)len;
    atomic_fetch_add(&received, 1);
    if (!atomic_load(&answers))
        return STELE_OK; /* read, never answered */
    Stele__BroadcastResponse r = STELE__BROADCAST_RESPONSE__INIT;
    r.status = STELE__STATUS__STATUS_SUCCESS;
    r.info = (char *)"ok";
    return pb_pack_buf(&r.base, reply);
}

static enum rpc_code broadcast(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    atomic_fetch_add(&streams_opened, 1);
    int rc = rpc_call_serve_inline(call, on_envelope, NULL);
    atomic_fetch_add(&streams_ended, 1);
    return rc == STELE_ERR_NOT_FOUND ? RPC_OK : rpc_call_error(call, RPC_CANCELLED, "ended");
}

/* ---- the gateway's side ---- */

struct fx {
    struct rpc_server *srv;
    char addr[32];
    char *orderers[1];
    struct peer_config cfg;
    struct peer p; /* only what the broadcaster reads: cfg, orderers */
    struct rpc_channel *ch;
    struct peer_broadcaster *bc;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    atomic_store(&streams_opened, 0);
    atomic_store(&streams_ended, 0);
    atomic_store(&received, 0);
    struct rpc_server_opts so = {.listen = "127.0.0.1:0", .max_message = 1 << 20};
    char *err = NULL;
    f.srv = rpc_server_create(&so, &err);
    assert_non_null(f.srv);
    const struct rpc_method m = {.path = "/stele.AtomicBroadcast/Broadcast",
                                 .kind = RPC_BIDI_STREAM,
                                 .request = &stele__envelope__descriptor,
                                 .handler = broadcast};
    assert_int_equal(rpc_server_add(f.srv, &m, 1), STELE_OK);
    assert_int_equal(rpc_server_start(f.srv, &err), STELE_OK);
    snprintf(f.addr, sizeof f.addr, "127.0.0.1:%d", rpc_server_port(f.srv));
    f.orderers[0] = f.addr;
    f.cfg.gateway.orderer_queue = QUEUE;
    f.p.cfg = &f.cfg;
    f.p.orderers = f.orderers;
    f.p.n_orderers = 1;
    /* as the gateway opens them (gateway.c): the send queue is gateway.orderer_queue */
    struct rpc_channel_opts co = {
        .max_message = 1 << 20, .stream_queue = QUEUE, .stream_queue_bytes = 256u << 20};
    f.ch = rpc_channel_open(f.addr, &co, &err);
    assert_non_null(f.ch);
    assert_int_equal(peer_broadcaster_create(&f.p, &f.ch, 1, &f.bc), STELE_OK);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    peer_broadcaster_destroy(f->bc);
    rpc_channel_close(f->ch);
    rpc_server_stop(f->srv, 0);
    rpc_server_destroy(f->srv);
    return 0;
}

static const ProtobufCBinaryData envelope = {5, (uint8_t *)"envel"};

/* Waits up to `ms` for `*v` to reach `want`. */
static bool reaches(atomic_int *v, int want, int ms)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)ms;
    while (atomic_load(v) < want && clock_mono_ms() < deadline)
        clock_sleep_ms(20);
    return atomic_load(v) >= want;
}

/* Waits until the orderer has read `n` envelopes (false after 5 s, or once a stream ended). */
static bool read_up_to(unsigned long n)
{
    uint64_t deadline = clock_mono_ms() + 5000;
    for (int spins = 0; atomic_load(&received) < n; spins++) {
        if (clock_mono_ms() > deadline || atomic_load(&streams_ended) > 0)
            return false;
        if (spins > 200)
            clock_sleep_ms(1);
    }
    return true;
}

static void an_orderer_that_never_answers_loses_its_stream(void **state)
{
    struct fx *f = *state;
    atomic_store(&answers, false);
    Stele__Status st;
    size_t sent = 0;
    /* Each Submit gives up at once (timeout 0); its waiter stays for the answer. Sent in
     * bursts of 8 that the orderer reads before the next: it reads everything, so the send
     * queue (gateway.orderer_queue) never fills. */
    while (sent < QUEUE + MAX_UNANSWERED + 64 && atomic_load(&streams_ended) == 0) {
        for (int k = 0; k < 8; k++, sent++) {
            peer_broadcast(f->bc, &envelope, 0, 1, &st);
            assert_int_equal(st, STELE__STATUS__STATUS_UNKNOWN);
        }
        if (atomic_load(&streams_ended) == 0 && !read_up_to(sent))
            break; /* not read: the stream was dropped */
    }
    print_message("%zu envelopes sent, %lu read by the orderer\n", sent, atomic_load(&received));
    assert_true(atomic_load(&received) >= QUEUE + MAX_UNANSWERED - 8);
    assert_int_equal(atomic_load(&streams_opened), 1);
    assert_true(reaches(&streams_ended, 1, 10000)); /* dropped, not kept forever */
}

static void an_orderer_that_answers_keeps_its_stream(void **state)
{
    struct fx *f = *state;
    atomic_store(&answers, true);
    Stele__Status st = STELE__STATUS__STATUS_UNKNOWN;
    for (size_t sent = 0; sent < QUEUE + MAX_UNANSWERED + 1000;) {
        for (int k = 0; k < 7; k++, sent++)
            peer_broadcast(f->bc, &envelope, 0, 1, &st);
        /* answers come in order: once this one is answered, every earlier one is */
        peer_broadcast(f->bc, &envelope, 10000, 1, &st);
        sent++;
        assert_int_equal(st, STELE__STATUS__STATUS_SUCCESS);
    }
    assert_int_equal(atomic_load(&streams_opened), 1);
    assert_int_equal(atomic_load(&streams_ended), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_orderer_that_never_answers_loses_its_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_orderer_that_answers_keeps_its_stream, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
