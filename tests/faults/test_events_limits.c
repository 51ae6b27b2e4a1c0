/*
 * test_events_limits.c — an Events stream whose caller stops reading, with real processes:
 * four pbft stele-orderer processes and two stele-peer processes of two organisations on
 * 127.0.0.1 (peer_fixture.h).
 *
 *   1. a caller that stops reading its Events streams (whole blocks and filtered) loses them
 *      once its certificate expires: the peer gives back their threads and their places among
 *      the identity's streams (a handler used to wait in its send for room that never came,
 *      past the caller's expiry or revocation, until the client hung up).
 *
 * The peers pad every block a stream sends with EVENTS_PAD octets (STELE_TEST_EVENTS_PAD, test
 * builds only) so that a few blocks fill what the peer and the client's gRPC may queue.
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "rpc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS_PAD "8000000" /* octets each block a stream sends is padded with */
#define BLOCKS     12        /* blocks made for the streams to send (besides the genesis) */

#ifdef STELE_TEST_HOOKS
/* The sample `name` of peer 0's /metrics, -1 when there is none. */
static double peer0_metric(const char *name)
{
    struct buf body;
    buf_init(&body);
    double v = -1;
    if (test_http_get(N.p[0].ops, "/metrics", NULL, &body) != 200 ||
        !test_metric((const char *)body.data, name, &v))
        v = -1;
    buf_release(&body);
    return v;
}

/* How often `what` occurs in peer 0's log. */
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

/* A caller that stops reading still loses its streams once its certificate expires (review of
 * 2026-12-06, as the orderer's Deliver: the handler waited in rpc_call_send_bytes() for room
 * that never came). Both forms share the send; one stream of each. */
static void a_caller_that_stops_reading_loses_its_streams(void **state)
{
    (void)state;
    char last[65] = "";
    ProtobufCBinaryData envs[BLOCKS];
    static char value[40 * 1024]; /* over half of preferred_max_bytes (64 KiB): a block each */
    memset(value, 'v', sizeof value - 1);
    for (int i = 0; i < BLOCKS; i++) {
        char key[16];
        snprintf(key, sizeof key, "fill%d", i);
        envs[i] = tx_must(&(struct txspec){.writes = {{.key = key, .value = value}}}, last);
    }
    submit(ALL_ORDERERS, envs, BLOCKS);
    for (int i = 0; i < BLOCKS; i++)
        free(envs[i].data);
    uint64_t number = 0;
    tx_wait(0, last, 30000, &number, NULL);
    print_message("the last of %d transactions is in block %llu\n", BLOCKS,
                  (unsigned long long)number);

    /* a client of Org1 whose certificate expires 5 s from now, reading nothing; its channels
     * queue one message at most */
    struct test_identity brief;
    uint64_t now = clock_wall_ms() / 1000, expiry = now + 5;
    test_identity_issue(N.ca[1], 0, "brief.org1", "Org1", "client", now - 60, 65, &brief);
    struct rpc_channel_opts co = {.fail_fast = true, .max_message = 64u << 20, .stream_queue = 1};
    struct rpc_channel *ch[2];
    double before = peer0_metric("stele_event_streams");
    double grpc_before = peer0_metric("stele_grpc_active_streams");
    int ended_before = peer0_log_count("not reading, ends");
    struct rpc_call *c[2];
    const Stele__EventForm forms[2] = {STELE__EVENT_FORM__EVENT_FORM_BLOCK,
                                       STELE__EVENT_FORM__EVENT_FORM_FILTERED};
    for (int i = 0; i < 2; i++) {
        ch[i] = rpc_channel_open(N.p[0].addr, &co, NULL);
        assert_non_null(ch[i]);
        c[i] = peer_events_open(ch[i], &brief, forms[i], 0);
    }
    usleep(1500 * 1000);
    double open = peer0_metric("stele_event_streams");
    double after = open;
    uint64_t t0 = clock_mono_ms();
    for (int k = 0; k < 100 && after > before; k++) { /* it expires 5 s after it was issued */
        usleep(100 * 1000);
        after = peer0_metric("stele_event_streams");
    }
    uint64_t took = clock_mono_ms() - t0;
    double grpc_after = peer0_metric("stele_grpc_active_streams");
    int ended = peer0_log_count("not reading, ends") - ended_before;
    print_message("Events streams: %.0f before, %.0f with the reader's, %.0f %llu ms on (gRPC "
                  "streams: %.0f before, %.0f then); %d ended as not reading\n",
                  before, open, after, (unsigned long long)took, grpc_before, grpc_after, ended);
    assert_true(clock_wall_ms() / 1000 >= expiry || after == open); /* not before it expired */
    for (int i = 0; i < 2; i++) {
        rpc_call_finish(c[i], true, NULL);
        rpc_channel_close(ch[i]);
    }
    test_identity_free(&brief);
    assert_true(before >= 0);
    assert_true(open == before + 2);
    assert_true(after == before);
    assert_true(grpc_after == grpc_before);
    assert_int_equal(ended, 2); /* both waited for a reader that took nothing */
}
#else
static void a_caller_that_stops_reading_loses_its_streams(void **state)
{
    (void)state;
    skip(); /* the peers pad blocks only in test builds */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_caller_that_stops_reading_loses_its_streams),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
#ifdef STELE_TEST_HOOKS
    setenv("STELE_TEST_EVENTS_PAD", EVENTS_PAD, 1); /* every peer this test starts */
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
#else
    return cmocka_run_group_tests(tests, NULL, NULL); /* skipped: no network needed */
#endif
}
