/*
 * test_rpc_recv_inline.c — lib/rpc's rpc_call_recv_inline(): a client reads the rest of its
 * stream on the completion-queue thread while another thread keeps sending, against the inline
 * echo service of rpc_inline_fixture.h: every reply in order and, but for what was read ahead,
 * off the calling thread; no stall when both sides' queues fill; the server's end and a cancel
 * ending it; a reply or the wrong call shape refused.
 */
#include "rpc_inline_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/bench.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* What the receiving function saw. */
struct seen {
    pthread_t caller;    /* the thread that called rpc_call_recv_inline() */
    uint64_t next;       /* the reply number expected next */
    size_t size;         /* octets of each payload (inline_payload()) */
    int on_caller;       /* calls made on the caller's thread */
    int out_of_order;    /* replies not numbered as expected, or with another payload */
    bool reply_anyway;   /* write a reply (which must be refused) */
    const char *payload; /* when set, every reply's expected payload */
};

static int take(void *arg, const uint8_t *data, size_t len, struct buf *reply)
{
    struct seen *s = arg;
    if (pthread_equal(pthread_self(), s->caller))
        s->on_caller++;
    Stele__EchoResponse *r =
        (Stele__EchoResponse *)pb_unpack(&stele__echo_response__descriptor, NULL, data, len, 0);
    if (!r)
        return STELE_ERR_MALFORMED;
    char want[2048];
    size_t n =
        s->payload ? strlen(s->payload) : inline_payload(want, sizeof want, (int)s->next, s->size);
    const char *p = s->payload ? s->payload : want;
    if (r->seq != s->next || r->payload.len != n || memcmp(r->payload.data, p, n) != 0)
        s->out_of_order++;
    s->next++;
    pb_free(&r->base);
    if (s->reply_anyway)
        return buf_append(reply, "x", 1);
    return STELE_OK;
}

/* 3,000 replies of 1 KiB while a thread sends the requests: all of them, in order, none on the
 * calling thread; the server's end of stream returns STELE_ERR_NOT_FOUND and the call ends OK.
 * Both sides' stream queues (64) fill many times over: reading must not wait for sending. */
static void replies_in_order_while_sending(void **state)
{
    struct inline_fx *f = *state;
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Chat");
    struct seen s = {.caller = pthread_self(), .size = 1024};
    struct inline_sender snd;
    inline_sender_start(&snd, c, 0, 3000, 1024);
    int rc = rpc_call_recv_inline(c, take, &s);
    pthread_join(snd.t, NULL); /* before any assertion can leave the test */
    assert_int_equal(rc, STELE_ERR_NOT_FOUND);
    assert_int_equal(snd.rc, STELE_OK);
    assert_int_equal(s.next, 3000);
    assert_int_equal(s.out_of_order, 0);
    /* only what was read ahead before the call (at most the stream queue, 64) ran there */
    assert_true(s.on_caller <= 64);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    assert_int_equal(res.code, RPC_OK);
}

static void *cancel_later(void *arg)
{
    clock_sleep_ms(200);
    rpc_call_cancel(arg);
    return NULL;
}

/* A cancel from another thread ends the reading: STELE_ERR_CANCELLED, or STELE_ERR_NOT_FOUND
 * when the gRPC core first reports the cancel as an end of stream (as for rpc_call_recv()); the
 * call ends cancelled either way. */
static void cancel_ends_it(void **state)
{
    struct inline_fx *f = *state;
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Chat");
    char p[32];
    for (int i = 0; i < 10; i++) {
        inline_payload(p, sizeof p, i, 0);
        assert_int_equal(inline_send(c, p, 0), STELE_OK);
    }
    struct seen s = {.caller = pthread_self()};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, c), 0);
    int rc = rpc_call_recv_inline(c, take, &s);
    pthread_join(t, NULL); /* before any assertion can leave the test */
    assert_true(rc == STELE_ERR_CANCELLED || rc == STELE_ERR_NOT_FOUND);
    assert_int_equal(s.next, 10); /* the ten replies came before the cancel */
    assert_int_equal(s.out_of_order, 0);
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_ERR_CANCELLED);
}

/* A function that writes a reply ends the reading with STELE_ERR_STATE, sending nothing. */
static void no_replies(void **state)
{
    struct inline_fx *f = *state;
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Chat");
    assert_int_equal(inline_send(c, "m0", 0), STELE_OK);
    struct seen s = {.caller = pthread_self(), .reply_anyway = true};
    assert_int_equal(rpc_call_recv_inline(c, take, &s), STELE_ERR_STATE);
    assert_int_equal(s.next, 1);
    struct rpc_result res;
    rpc_call_finish(c, true, &res);
}

/* A client's server-streaming call may read inline too; a client-streaming one may not. */
static void call_shapes(void **state)
{
    struct inline_fx *f = *state;
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    struct rpc_result res;
    struct rpc_call *c = rpc_stream_open(f->ch, "/test.Inline/Server", RPC_SERVER_STREAM,
                                         &stele__echo_response__descriptor, WAIT_MS);
    assert_non_null(c);
    assert_int_equal(rpc_call_send(c, &req.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    /* its handler answers with what rpc_call_serve_inline() said about its call: ERR_STATE */
    struct seen s = {.caller = pthread_self(), .payload = "ERR_STATE"};
    assert_int_equal(rpc_call_recv_inline(c, take, &s), STELE_ERR_NOT_FOUND);
    assert_int_equal(s.next, 1);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);

    c = rpc_stream_open(f->ch, "/test.Inline/Client", RPC_CLIENT_STREAM,
                        &stele__echo_response__descriptor, WAIT_MS);
    assert_non_null(c);
    assert_int_equal(rpc_call_recv_inline(c, take, &s), STELE_ERR_STATE);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
}

/* A client that reads no replies makes the inline echo server stop reading (its reply queue
 * is full), so the stream backs up: rpc_call_try_send_bytes() then says STELE_ERR_LIMIT instead
 * of waiting, and rpc_call_abandon() lets go of the call at once; the server sees the cancel
 * and the channel goes on serving. */
static void backed_up_stream_try_send_and_abandon(void **state)
{
    struct inline_fx *f = *state;
    int base = inline_served_count();
    struct rpc_call *c = inline_open(f->ch, "/test.Inline/Careful");
    /* the server has the stream before the burst (cancelled earlier, it never would) */
    assert_int_equal(inline_send(c, "m0", 0), STELE_OK);
    inline_expect_reply(c, 0, "m0");
    char p[1024];
    int rc = STELE_OK, sent = 1;
    while (sent < 200000) {
        size_t n = inline_payload(p, sizeof p, sent, 1000);
        Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
        req.payload = (ProtobufCBinaryData){n, (uint8_t *)p};
        uint8_t msg[1100];
        size_t len = protobuf_c_message_pack(&req.base, msg);
        if ((rc = rpc_call_try_send_bytes(c, msg, len)) != STELE_OK)
            break;
        sent++;
    }
    assert_int_equal(rc, STELE_ERR_LIMIT);
    print_message("%d messages sent before the stream backed up\n", sent);
    uint64_t t0 = clock_mono_ms();
    rpc_call_abandon(c);
    assert_true(clock_mono_ms() - t0 < 1000);
    bool cancelled = false;
    int served_rc = inline_wait_served(base + 1, NULL, &cancelled);
    assert_true(served_rc == STELE_ERR_CANCELLED || served_rc == STELE_ERR_NOT_FOUND);
    assert_true(cancelled);
    c = inline_open(f->ch, "/test.Inline/Chat");
    assert_int_equal(inline_send(c, "after", 0), STELE_OK);
    inline_expect_reply(c, 0, "after");
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    inline_expect_clean_end(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(replies_in_order_while_sending, inline_fx_setup,
                                        inline_fx_teardown),
        cmocka_unit_test_setup_teardown(cancel_ends_it, inline_fx_setup, inline_fx_teardown),
        cmocka_unit_test_setup_teardown(no_replies, inline_fx_setup, inline_fx_teardown),
        cmocka_unit_test_setup_teardown(call_shapes, inline_fx_setup, inline_fx_teardown),
        cmocka_unit_test_setup_teardown(backed_up_stream_try_send_and_abandon, inline_fx_setup,
                                        inline_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
