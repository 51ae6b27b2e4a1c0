/*
 * rpc_inline_fixture.h — the fixture of test_rpc_inline.c and test_rpc_client_queue.c: a server
 * on 127.0.0.1 with the bench service and a test service whose bidirectional methods serve their
 * streams inline (rpc_call_serve_inline() with an echo function), a channel to it, and client
 * helpers that send numbered echo requests and check the numbered replies.
 *
 * The inline methods ("/test.Inline/..."):
 *   Chat     serves at once;
 *   Late     serves after INLINE_LATE_MS: what the client sends meanwhile is read ahead;
 *            max_request 4096;
 *   Careful  at the end of stream, waits up to 300 ms for a cancellation before acting;
 *   Small    max_request 64;
 *   Unary, Server, Client  other call shapes, whose handler reports (as the payload of its one
 *            EchoResponse) the status name rpc_call_serve_inline() returned.
 * The echo function answers each EchoRequest with an EchoResponse numbered from 0 carrying the
 * same payload (or `response_size` octets of 'r'), and refuses a request whose payload is "bad"
 * with STELE_ERR_MALFORMED and the detail "message <n> is bad".
 *
 * Every receive has a timeout (WAIT_MS): a hang fails the test instead. Functions fail the test
 * on error unless they say otherwise.
 */
#ifndef STELE_TESTS_RPC_INLINE_FIXTURE_H
#define STELE_TESTS_RPC_INLINE_FIXTURE_H

#include "testutil.h"

#include "rpc/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAIT_MS        10000 /* every receive has a timeout: a hang fails the test instead */
#define INLINE_LATE_MS 100   /* how long "/test.Inline/Late" waits before serving */

#define INLINE_IDLE_MS 400 /* /test.Inline/Idle ends after this long without a message */

struct buf;

/* One served stream: what the inline echo function keeps between messages. */
struct inline_stream {
    uint64_t seq;  /* messages handled so far */
    char why[128]; /* why it refused a message */
};

/* Calls of inline_echo(), all streams (tests may reset it). */
extern atomic_int inline_fn_calls;

/* The echo function the inline methods serve with (rpc_call_serve_inline()'s fn); `arg` is a
 * struct inline_stream. */
int inline_echo(void *arg, const uint8_t *data, size_t len, struct buf *reply);

/* A server with the bench service and the inline test service, and a channel to it. */
struct inline_fx {
    struct rpc_server *srv; /* rpc_server_destroy() */
    struct rpc_channel *ch; /* rpc_channel_close() */
    char target[64];        /* the server's address, 127.0.0.1:port */
    bool shared_queue;      /* set before inline_fx_start(): the server's shared_queue option */
};

/* Starts a server (256 KiB messages, 16 workers, `stream_queue` per stream) and opens a
 * channel to it with `co` (may be NULL). */
void inline_fx_start(struct inline_fx *f, size_t stream_queue, const struct rpc_channel_opts *co);
/* cmocka setup: a heap inline_fx started with stream_queue 64 and default channel options. */
int inline_fx_setup(void **state);
/* The same with a server on the process's shared completion queue (shared_queue). */
int inline_fx_setup_shared(void **state);
/* cmocka teardown of inline_fx_setup(): closes the channel (may be NULL), destroys the server. */
int inline_fx_teardown(void **state);

/* Message i's payload into `out` (cap octets): "m<i>", padded with 'x' to `size` octets when
 * that is longer. Returns its length. */
size_t inline_payload(char *out, size_t cap, int i, size_t size);
/* Sends an EchoRequest with `payload` asking for a reply of `response_size` octets (0: the
 * payload). Returns rpc_call_send()'s status. No assertion. */
int inline_send(struct rpc_call *c, const char *payload, uint32_t response_size);
/* Opens a bidirectional stream of `method` (EchoResponse replies, deadline 2 * WAIT_MS). */
struct rpc_call *inline_open(struct rpc_channel *ch, const char *method);

/* Receives the next reply and checks it is number `seq` with `payload`. */
void inline_expect_reply(struct rpc_call *c, uint64_t seq, const char *payload);
/* Receives replies [from, to) of `size`-octet payloads (inline_payload()), in order. */
void inline_expect_replies(struct rpc_call *c, int from, int to, size_t size);
/* Expects the end of a stream whose handler returned RPC_OK. */
void inline_expect_clean_end(struct rpc_call *c);
/* Expects no further reply: the end of the stream, or its error status (whichever the client
 * learns first). */
void inline_expect_no_more(struct rpc_call *c);

/* How many times an inline handler has returned, in all. No assertion. */
int inline_served_count(void);
/* Waits until the inline handlers have returned `n` times in all; returns the last one's
 * rpc_call_serve_inline() result, with the messages its echo function handled (`handled`) and
 * whether it found the call cancelled (`cancelled`), each when not NULL. */
int inline_wait_served(int n, uint64_t *handled, bool *cancelled);

/* A thread sending messages [from, to) of `size` octets, then half-closing. */
struct inline_sender {
    pthread_t t; /* join it */
    struct rpc_call *c;
    int from, to;    /* messages it sends */
    size_t size;     /* octets of each payload */
    atomic_int sent; /* messages sent so far */
    int rc;          /* first failure */
};

/* Starts `s` sending on `c`. */
void inline_sender_start(struct inline_sender *s, struct rpc_call *c, int from, int to,
                         size_t size);

#endif
