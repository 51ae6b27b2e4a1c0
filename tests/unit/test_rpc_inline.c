/*
 * test_rpc_inline.c — lib/rpc's rpc_call_serve_inline(): the rest of a bidirectional stream
 * served on the completion-queue thread, against the inline echo service of
 * rpc_inline_fixture.h: replies in order, messages read ahead before serving, back-pressure,
 * errors and oversize messages ending the stream, the call shapes that may not serve inline,
 * and clients that cancel. The client's shared completion queue is tested in
 * test_rpc_client_queue.c; the rest of lib/rpc in test_rpc*.c.
 */
#include "rpc_inline_fixture.h"

#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/bench.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ---- rpc_call_serve_inline() ---- */

/* One reply per message, in order, first in lockstep, then with 1,900 messages pipelined; the
 * client's half-close ends serving with STELE_ERR_NOT_FOUND and the call with OK. */
static void inline_replies_in_order(void **state)
{
    struct inline_fx *f = *state;
    int base = inline_served_count();
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Chat");
    char p[32];
    for (int i = 0; i < 100; i++) {
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
        inline_expect_reply(c, (uint64_t)i, p);
    }
    struct inline_sender s;
    inline_sender_start(&s, c, 100, 2000, 0);
    inline_expect_replies(c, 100, 2000, 0);
    pthread_join(s.t, NULL);
    assert_int_equal(s.rc, STELE_OK);
    inline_expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 2000);
}

/* What arrived before the handler called serve is answered first, in order, without waiting for
 * more; also when the client had already half-closed. */
static void inline_read_ahead_answered_first(void **state)
{
    struct inline_fx *f = *state;
    int base = inline_served_count();
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Late"); /* serves after 100 ms */
    char p[32];
    for (int i = 0; i < 50; i++) {
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
    }
    clock_sleep_ms(INLINE_LATE_MS + 200);
    assert_int_equal(rpc_call_recv_wait(c, 50, WAIT_MS), 50); /* all answered already */
    for (int i = 50; i < 100; i++) {
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
    }
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    inline_expect_replies(c, 0, 100, 0);
    inline_expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 100);

    /* Everything sent and half-closed before the handler serves. */
    c = inline_open(f->ch, "/test.Inline/Late");
    for (int i = 0; i < 30; i++) {
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
    }
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    inline_expect_replies(c, 0, 30, 0);
    inline_expect_clean_end(c);
    assert_int_equal(inline_wait_served(base + 2, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, 30);
}

/* A client that, once the handler serves inline, sends 5,000 messages of 4 KiB without reading
 * a reply: when the transport's windows are full the server stops reading (its send queue, 4
 * messages here, is full) and the client's sender is held back; when the client reads at last,
 * every reply arrives, in order. */
static void inline_back_pressure(void **state)
{
    (void)state;
    enum { N = 5000, SIZE = 4096 };
    struct inline_fx f = {0};
    struct rpc_channel_opts co = {.stream_queue = 4};
    inline_fx_start(&f, 4, &co);
    int base = inline_served_count();
    atomic_store(&inline_fn_calls, 0);
    struct rpc_call *c = inline_open(f.ch, "/test.Inline/Chat");
    char p[SIZE + 32];
    inline_payload(p, sizeof p, 0, SIZE);
    assert_int_equal(inline_send(c, p, 0), STELE_OK);
    inline_expect_reply(c, 0, p);
    clock_sleep_ms(50); /* the handler is serving inline: nothing left read ahead */
    struct inline_sender s;
    inline_sender_start(&s, c, 1, N, SIZE);
    int calls = -1; /* wait until the server has stopped handling messages */
    for (int i = 0; i < 50 && calls != atomic_load(&inline_fn_calls); i++) {
        calls = atomic_load(&inline_fn_calls);
        clock_sleep_ms(200);
    }
    int sent = atomic_load(&s.sent);
    print_message("before the first read: %d of %d sent, %d handled\n", sent, N - 1, calls);
    assert_int_equal(atomic_load(&inline_fn_calls), calls); /* the server reads no more */
    assert_true(calls < N);
    assert_true(sent < N - 1); /* the sender is held back */
    inline_expect_replies(c, 1, N, SIZE);
    pthread_join(s.t, NULL);
    assert_int_equal(s.rc, STELE_OK);
    inline_expect_clean_end(c);
    uint64_t handled;
    assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(handled, N);
    rpc_channel_close(f.ch);
    rpc_server_destroy(f.srv);
}

/* fn refusing a message ends the stream: no reply for it or any later message, fn is not called
 * again, and the client sees the handler's code and detail. Both on the completion-queue thread
 * and for messages read ahead (handled on the handler's thread). */
static void inline_error_ends_stream(void **state)
{
    struct inline_fx *f = *state;
    const char *methods[] = {"/test.Inline/Chat", "/test.Inline/Late"};
    for (int k = 0; k < 2; k++) {
        int base = inline_served_count();
        struct rpc_call *c = inline_open(f->ch, methods[k]);
        char p[32];
        for (int i = 0; i < 10; i++) {
            if (i == 2)
                snprintf(p, sizeof p, "bad");
            else
                inline_payload(p, sizeof p, i, 0);
            int rc = inline_send(c, p, 0); /* late ones may find the call over */
            if (i <= 2)
                assert_int_equal(rc, STELE_OK);
        }
        inline_expect_replies(c, 0, 2, 0);
        inline_expect_no_more(c);
        struct rpc_result res;
        assert_int_equal(rpc_call_finish(c, false, &res), STELE_ERR_INVALID);
        assert_int_equal(res.code, RPC_INVALID_ARGUMENT);
        assert_string_equal(res.detail, "message 2 is bad");
        uint64_t handled;
        assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_MALFORMED);
        assert_int_equal(handled, 3);
    }
}

/* A message over the method's max_request, or a reply over the server's cap, ends the stream
 * with STELE_ERR_TOO_BIG, which the client sees as RESOURCE_EXHAUSTED. */
static void inline_too_big(void **state)
{
    struct inline_fx *f = *state;
    assert_int_equal(rpc_code_from_status(STELE_ERR_TOO_BIG), RPC_RESOURCE_EXHAUSTED);
    static char big[5001];
    memset(big, 'b', sizeof big - 1);
    struct {
        const char *method;
        size_t size;            /* of the second message's payload */
        uint32_t response_size; /* asked of the second message's reply */
    } cases[] = {
        {"/test.Inline/Small", 100, 0},       /* max_request 64, on the completion thread */
        {"/test.Inline/Late", 5000, 0},       /* max_request 4096, read ahead */
        {"/test.Inline/Chat", 2, 300 * 1024}, /* reply over the server's 256 KiB */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int base = inline_served_count();
        struct rpc_call *c = inline_open(f->ch, cases[k].method);
        assert_int_equal(inline_send(c, "m0", 0), STELE_OK);
        big[cases[k].size] = 0;
        assert_int_equal(inline_send(c, big, cases[k].response_size), STELE_OK);
        big[cases[k].size] = 'b';
        inline_send(c, "m2", 0); /* may find the call over */
        inline_expect_reply(c, 0, "m0");
        inline_expect_no_more(c);
        struct rpc_result res;
        rpc_call_finish(c, false, &res);
        assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
        uint64_t handled;
        assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_TOO_BIG);
        /* An oversize message never reaches fn; an oversize reply is fn's second call. */
        assert_int_equal(handled, cases[k].response_size ? 2 : 1);
    }
}

/* Only a server's bidirectional stream may be served inline. */
static void inline_only_on_server_bidi(void **state)
{
    struct inline_fx *f = *state;
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    ProtobufCMessage *m;
    struct rpc_result res;
    assert_int_equal(rpc_unary(f->ch, "/test.Inline/Unary", &req.base,
                               &stele__echo_response__descriptor, &m, WAIT_MS, &res),
                     STELE_OK);
    Stele__EchoResponse *r = (Stele__EchoResponse *)m;
    assert_int_equal(r->payload.len, strlen("ERR_STATE"));
    assert_memory_equal(r->payload.data, "ERR_STATE", r->payload.len);
    pb_free(m);

    enum rpc_kind kinds[] = {RPC_SERVER_STREAM, RPC_CLIENT_STREAM};
    const char *paths[] = {"/test.Inline/Server", "/test.Inline/Client"};
    for (int k = 0; k < 2; k++) {
        struct rpc_call *c =
            rpc_stream_open(f->ch, paths[k], kinds[k], &stele__echo_response__descriptor, WAIT_MS);
        assert_non_null(c);
        if (kinds[k] == RPC_SERVER_STREAM)
            assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
        assert_int_equal(rpc_call_close_send(c), STELE_OK);
        assert_int_equal(rpc_call_recv(c, &m, WAIT_MS, false), STELE_OK);
        r = (Stele__EchoResponse *)m;
        assert_int_equal(r->payload.len, strlen("ERR_STATE"));
        assert_memory_equal(r->payload.data, "ERR_STATE", r->payload.len);
        pb_free(m);
        assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    }

    /* Nor a client's stream. */
    struct inline_stream st = {0};
    struct rpc_call *c = inline_open(f->ch, "/stele.Bench/Chat");
    assert_int_equal(rpc_call_serve_inline(c, inline_echo, &st), STELE_ERR_STATE);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
}

static uint64_t active_streams(struct rpc_server *s)
{
    struct rpc_server_stats st;
    rpc_server_get_stats(s, &st);
    return st.active_streams;
}

/* A client that cancels mid-stream, idle or with messages in flight: serving ends with
 * STELE_ERR_CANCELLED, the stream is freed, and the server goes on serving. As with
 * rpc_call_recv(), the gRPC core may first report the cancel as an end of stream; then
 * rpc_call_cancelled() turns true moments later, before a careful handler acts. */
static void inline_client_cancel(void **state)
{
    struct inline_fx *f = *state;
    int as_end = 0;
    for (int k = 0; k < 10; k++) {
        int base = inline_served_count();
        struct rpc_call *c = inline_open(f->ch, "/test.Inline/Careful");
        char p[32];
        for (int i = 0; i < 100; i++) {
            inline_payload(p, sizeof p, i, 0);
            assert_int_equal(inline_send(c, p, 0), STELE_OK);
        }
        inline_expect_replies(c, 0, 100, 0);
        if (k % 2) /* with messages in flight */
            for (int i = 100; i < 150; i++) {
                inline_payload(p, sizeof p, i, 0);
                assert_int_equal(inline_send(c, p, 0), STELE_OK);
            }
        else /* idle: the server waits for the next message */
            clock_sleep_ms(20);
        struct rpc_result res;
        assert_int_equal(rpc_call_finish(c, true, &res), STELE_ERR_CANCELLED);
        bool cancelled;
        int rc = inline_wait_served(base + 1, NULL, &cancelled);
        if (rc == STELE_ERR_NOT_FOUND)
            as_end++;
        else
            assert_int_equal(rc, STELE_ERR_CANCELLED);
        assert_true(cancelled);
    }
    print_message("%d of 10 cancels first looked like an end of stream\n", as_end);
    uint64_t t0 = clock_mono_ms();
    while (active_streams(f->srv) != 0 && clock_mono_ms() - t0 < 3000)
        clock_sleep_ms(10);
    assert_int_equal(active_streams(f->srv), 0);
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Chat");
    assert_int_equal(inline_send(c, "again", 0), STELE_OK);
    inline_expect_reply(c, 0, "again");
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    inline_expect_clean_end(c);
}

/* A stream served inline with the method's idle_ms (the orderer's Broadcast under PBFT): one
 * that keeps sending lives on; once nothing comes for INLINE_IDLE_MS serving ends with
 * STELE_ERR_TIMEOUT, and the call with it. */
static void inline_idle_stream_ends(void **state)
{
    struct inline_fx *f = *state;
    int base = inline_served_count();
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Idle");
    char p[32];
    for (int i = 0; i < 8; i++) { /* 8 x 100 ms: twice the idle limit, never idle */
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
        inline_expect_reply(c, (uint64_t)i, p);
        clock_sleep_ms(100);
    }
    assert_int_equal(inline_served_count(), base);
    uint64_t t0 = clock_mono_ms(), handled;
    assert_int_equal(inline_wait_served(base + 1, &handled, NULL), STELE_ERR_TIMEOUT);
    uint64_t took = clock_mono_ms() - t0;
    assert_true(took < 5000);
    assert_int_equal(handled, 8);
    inline_expect_no_more(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(inline_replies_in_order, inline_fx_setup,
                                        inline_fx_teardown),
        cmocka_unit_test_setup_teardown(inline_read_ahead_answered_first, inline_fx_setup,
                                        inline_fx_teardown),
        cmocka_unit_test(inline_back_pressure),
        cmocka_unit_test_setup_teardown(inline_error_ends_stream, inline_fx_setup,
                                        inline_fx_teardown),
        cmocka_unit_test_setup_teardown(inline_too_big, inline_fx_setup, inline_fx_teardown),
        cmocka_unit_test_setup_teardown(inline_only_on_server_bidi, inline_fx_setup,
                                        inline_fx_teardown),
        cmocka_unit_test_setup_teardown(inline_client_cancel, inline_fx_setup, inline_fx_teardown),
        cmocka_unit_test_setup_teardown(inline_idle_stream_ends, inline_fx_setup,
                                        inline_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
