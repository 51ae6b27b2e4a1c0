/*
 * test_orderer_limits.c — what one reader may take of an orderer, with a real stele-orderer
 * process (solo, orderer_fixture.h). Any member identity may read blocks, and each Deliver
 * stream holds a thread while it lasts:
 *
 *   1. a Deliver stream ends with STATUS_FORBIDDEN once its reader's certificate expires, even
 *      with no block to send (it used to keep reading for as long as it stayed open);
 *   2. one identity holds at most 16 Deliver streams (limits.max_streams_per_client); its 17th
 *      is refused while another identity's is served, and a stream it closes is given back;
 *   3. a Broadcast stream that brings no envelope for limits.broadcast_idle (1 s here) ends
 *      cleanly, while one that keeps sending lives on (Broadcast needs no identity to open, so
 *      idle streams used to hold the orderer's stream slots forever);
 *   4. health watches and Broadcast streams, which anybody may open and keep, leave a reader's
 *      Deliver its stream;
 *   5. a reader that stops reading loses its stream once its certificate expires;
 *   6. a reader whose host vanishes without closing its connection loses its stream;
 *   7. a Broadcast stream whose client never reads the answers ends after broadcast_idle too.
 */
#include "orderer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "ledger/seek.h"
#include "grpc/health/v1/health.pb-c.h"
#include "pb/pb.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAMS_PER_CLIENT 16 /* limits.max_streams_per_client by default */
#define MAX_STREAMS        24 /* limits.max_streams here (main) */

/* Opens a Deliver stream of blocks start..stop for `who`. */
static struct rpc_call *deliver_open(struct rpc_channel *ch, const struct test_identity *who,
                                     uint64_t start, uint64_t stop)
{
    ProtobufCBinaryData req;
    assert_int_equal(seek_deliver_request("ch1", start, stop,
                                          STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
                                          who->record->data, who->record->len, who->key, &req),
                     STELE_OK);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, -1);
    assert_non_null(c);
    assert_int_equal(rpc_call_send_bytes(c, req.data, req.len), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    free(req.data);
    return c;
}

/* The next message of stream `c` within timeout_ms: STELE_OK with *block (its number) or
 * *status (the status that ends the stream), or the receive's error. */
static int deliver_next(struct rpc_call *c, int timeout_ms, uint64_t *block, int *status)
{
    ProtobufCMessage *m = NULL;
    int rc = rpc_call_recv(c, &m, timeout_ms, false);
    if (rc)
        return rc;
    const Stele__DeliverResponse *r = (const Stele__DeliverResponse *)m;
    *status = 0;
    if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS)
        *status = r->status;
    else if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_BLOCK && r->block->header)
        *block = r->block->header->number;
    else
        rc = STELE_ERR_MALFORMED;
    pb_free(m);
    return rc;
}

/* A stream from block 0 on is being served: it sends the genesis block at once. */
static bool served(struct rpc_call *c)
{
    uint64_t n = UINT64_MAX;
    int st = 0;
    return deliver_next(c, 5000, &n, &st) == STELE_OK && st == 0 && n == 0;
}

static void deliver_stream_ends_when_its_reader_expires(void **state)
{
    (void)state;
    /* an auditor whose certificate expires 4 s from now */
    struct test_identity brief;
    uint64_t now = clock_wall_ms() / 1000, expiry = now + 4;
    test_identity_issue(g_net.ca, 0, "brief", "Org1", "auditor", now - 60, 64, &brief);
    struct rpc_channel *ch = channel_now(true);
    struct rpc_call *c = deliver_open(ch, &brief, 0, UINT64_MAX);
    assert_true(served(c));
    int st = 0, rc = STELE_OK;
    uint64_t n;
    while (rc == STELE_OK && st == 0)
        rc = deliver_next(c, 10000, &n, &st);
    assert_int_equal(rc, STELE_OK);
    assert_int_equal(st, STELE__STATUS__STATUS_FORBIDDEN);
    assert_true(clock_wall_ms() / 1000 >= expiry); /* not before it expired */
    rpc_call_finish(c, false, NULL);
    rpc_channel_close(ch);
    test_identity_free(&brief);
}

/* A signed Deliver request for block 0 onwards by clients[1], into *req (free its data). */
static void seek_from_0(ProtobufCBinaryData *req)
{
    assert_int_equal(seek_deliver_request("ch1", 0, 0,
                                          STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
                                          g_net.clients[1].record->data,
                                          g_net.clients[1].record->len, g_net.clients[1].key, req),
                     STELE_OK);
}

/* Sends the Deliver request `req` on `ch` and returns the status of its first answer (0 for
 * a block, which must be block 0). */
static int deliver_first(struct rpc_channel *ch, const ProtobufCBinaryData *req)
{
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, -1);
    assert_non_null(c);
    assert_int_equal(rpc_call_send_bytes(c, req->data, req->len), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    uint64_t n = UINT64_MAX;
    int st = -1;
    assert_int_equal(deliver_next(c, 10000, &n, &st), STELE_OK);
    if (st == 0)
        assert_int_equal(n, 0);
    rpc_call_finish(c, true, NULL);
    return st;
}

/* A Deliver request is taken once: the same octets sent again are refused (review of
 * 2026-12-06: replayed sixteen times, one captured request held every stream its signer may
 * open, shutting it out, while whoever replayed it read along). */
static void a_deliver_request_is_taken_once(void **state)
{
    (void)state;
    struct rpc_channel *ch = channel_now(true);
    ProtobufCBinaryData req;
    seek_from_0(&req);
    assert_int_equal(deliver_first(ch, &req), 0);
    assert_int_equal(deliver_first(ch, &req), STELE__STATUS__STATUS_BAD_REQUEST);
    rpc_channel_close(ch);
    /* The orderer forgets what it took when it restarts, so it refuses whatever was signed
     * before it started: the request is refused after a restart too; one signed after is
     * served. */
    stop_orderer();
    start_orderer();
    ch = channel_now(true);
    int st = deliver_first(ch, &req);
    print_message("Deliver after a restart, the old request: status %d\n", st);
    assert_int_equal(st, STELE__STATUS__STATUS_BAD_REQUEST);
    free(req.data);
    seek_from_0(&req);
    assert_int_equal(deliver_first(ch, &req), 0);
    free(req.data);
    rpc_channel_close(ch);
}

static void one_identity_cannot_hold_every_deliver_stream(void **state)
{
    (void)state;
    struct rpc_channel *ch = channel_now(true);
    struct rpc_call *mine[STREAMS_PER_CLIENT];
    for (int i = 0; i < STREAMS_PER_CLIENT; i++) {
        mine[i] = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
        assert_true(served(mine[i]));
    }
    /* the 17th of the same identity is refused */
    struct rpc_call *extra = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
    uint64_t n;
    int st, rc;
    struct rpc_result res = {0};
    assert_int_not_equal(deliver_next(extra, 5000, &n, &st), STELE_OK);
    rpc_call_finish(extra, false, &res);
    assert_int_equal(res.code, RPC_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(res.detail, "already has 16 Deliver streams open"));
    /* and one with the same certificate in a record re-encoded with a field the CA's
     * signature does not cover (the octets differ, the reader does not): no such record is
     * taken at all (lib/identity: only the CA's encoding) */
    struct buf rec;
    buf_init(&rec);
    assert_int_equal(buf_append(&rec, g_net.auditor.record->data, g_net.auditor.record->len),
                     STELE_OK);
    assert_int_equal(buf_append(&rec, "\x7a\x01x", 3), STELE_OK); /* field 15: "x" */
    struct test_identity variant = g_net.auditor;
    variant.record = &rec;
    extra = deliver_open(ch, &variant, 0, UINT64_MAX);
    st = 0;
    rc = deliver_next(extra, 5000, &n, &st);
    rpc_call_finish(extra, false, &res);
    assert_int_equal(rc, STELE_OK); /* refused as a record, before any count */
    assert_int_equal(st, STELE__STATUS__STATUS_FORBIDDEN);
    buf_release(&rec);
    /* another identity's is served */
    struct rpc_call *other = deliver_open(ch, &g_net.clients[0], 0, UINT64_MAX);
    assert_true(served(other));
    rpc_call_finish(other, true, NULL);
    /* a stream closed is given back (the orderer notices within its 200 ms poll) */
    rpc_call_finish(mine[0], true, NULL);
    bool again = false;
    for (int k = 0; k < 20 && !again; k++) {
        usleep(100 * 1000);
        struct rpc_call *c = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
        if ((again = served(c)))
            mine[0] = c;
        else
            rpc_call_finish(c, true, NULL);
    }
    assert_true(again);
    for (int i = 0; i < STREAMS_PER_CLIENT; i++)
        rpc_call_finish(mine[i], true, NULL);
    rpc_channel_close(ch);
}

/* ---- idle Broadcast streams ---- */

static void idle_broadcast_stream_ends(void **state)
{
    (void)state;
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *idle = rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                            &stele__broadcast_response__descriptor, 20000);
    struct rpc_call *busy = rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                            &stele__broadcast_response__descriptor, 20000);
    assert_non_null(idle);
    assert_non_null(busy);
    /* busy sends an envelope every 400 ms for 3 s, and has each accepted */
    uint64_t t0 = clock_mono_ms();
    for (int i = 0; i < 8; i++) {
        char id[65];
        ProtobufCBinaryData e = orderer_tx(g_net.clients[1].key, &g_net.clients[1], "ch1", 10, id);
        assert_int_equal(rpc_call_send_bytes(busy, e.data, e.len), STELE_OK);
        free(e.data);
        ProtobufCMessage *m = NULL;
        assert_int_equal(rpc_call_recv(busy, &m, 5000, false), STELE_OK);
        assert_int_equal(((Stele__BroadcastResponse *)m)->status, STELE__STATUS__STATUS_SUCCESS);
        pb_free(m);
        usleep(400 * 1000);
    }
    /* meanwhile the idle one was ended, cleanly: the client reads the end of the stream */
    ProtobufCMessage *m = NULL;
    assert_int_equal(rpc_call_recv(idle, &m, 100, false), STELE_ERR_NOT_FOUND);
    struct rpc_result res = {0};
    assert_int_equal(rpc_call_finish(idle, false, &res), STELE_OK);
    assert_true(clock_mono_ms() - t0 >= 1000);
    assert_int_equal(rpc_call_close_send(busy), STELE_OK);
    assert_int_equal(rpc_call_recv(busy, &m, 5000, false), STELE_ERR_NOT_FOUND);
    assert_int_equal(rpc_call_finish(busy, false, &res), STELE_OK);
    rpc_channel_close(ch);
}

/* ---- streams anybody may open ---- */

/* Opens a grpc.health.v1.Health/Watch stream, which needs no identity, and returns it once the
 * orderer answered its first status; NULL (the call finished) when the orderer refused it. */
static struct rpc_call *watch_open(struct rpc_channel *ch)
{
    Grpc__Health__V1__HealthCheckRequest q = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    q.service = "";
    struct rpc_call *c = rpc_stream_open(ch, "/grpc.health.v1.Health/Watch", RPC_SERVER_STREAM,
                                         &grpc__health__v1__health_check_response__descriptor, -1);
    assert_non_null(c);
    assert_int_equal(rpc_call_send(c, &q.base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    ProtobufCMessage *m = NULL;
    if (rpc_call_recv(c, &m, 5000, false) == STELE_OK) {
        pb_free(m);
        return c;
    }
    rpc_call_finish(c, true, NULL);
    return NULL;
}

/* Health watches are open to anybody and last as long as their client wants: as many as the
 * orderer lets in must leave a reader's Deliver its stream (review of 2026-12-06: they were
 * counted with Broadcast and Deliver in limits.max_streams, so that anybody who could reach the
 * port shut every peer out of its blocks with that many watches). */
static void health_watches_leave_deliver_its_streams(void **state)
{
    (void)state;
    struct rpc_channel *ch = channel_now(true);
    struct rpc_call *w[2 * MAX_STREAMS];
    size_t n = 0;
    while (n < 2 * MAX_STREAMS && (w[n] = watch_open(ch)) != NULL)
        n++;
    print_message("%zu health watches taken of %d streams\n", n, MAX_STREAMS);
    struct rpc_call *d = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
    bool ok = served(d);
    rpc_call_finish(d, true, NULL);
    for (size_t i = 0; i < n; i++)
        rpc_call_finish(w[i], true, NULL);
    rpc_channel_close(ch);
    assert_true(ok);
}

/* Broadcast streams need no identity to open, and one that brings anything (even octets that
 * are no envelope) lives on: as many as the orderer lets in must leave a reader's Deliver its
 * stream (review of 2026-12-06: both counted in limits.max_streams, so that anybody shut every
 * peer out of its blocks with that many Broadcast streams sending a byte a minute). */
static void broadcast_streams_leave_deliver_its_streams(void **state)
{
    (void)state;
    struct rpc_channel *ch = channel_now(true);
    struct rpc_call *b[2 * MAX_STREAMS];
    /* all at once, within broadcast_idle (1 s here): each is answered BAD_REQUEST if taken */
    for (int i = 0; i < 2 * MAX_STREAMS; i++) {
        b[i] = rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                               &stele__broadcast_response__descriptor, 20000);
        assert_non_null(b[i]);
        rpc_call_send_bytes(b[i], (const uint8_t *)"\xff\xff", 2);
    }
    int taken = 0;
    for (int i = 0; i < 2 * MAX_STREAMS; i++) {
        ProtobufCMessage *m = NULL;
        if (rpc_call_recv(b[i], &m, 5000, false) == STELE_OK) {
            assert_int_equal(((Stele__BroadcastResponse *)m)->status,
                             STELE__STATUS__STATUS_BAD_REQUEST);
            taken++;
        }
        pb_free(m);
    }
    struct rpc_call *d = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
    bool ok = served(d);
    print_message("%d Broadcast streams taken of %d streams; Deliver %s\n", taken, MAX_STREAMS,
                  ok ? "served" : "refused");
    rpc_call_finish(d, true, NULL);
    for (int i = 0; i < 2 * MAX_STREAMS; i++)
        rpc_call_finish(b[i], true, NULL);
    rpc_channel_close(ch);
    assert_true(taken >= MAX_STREAMS - 2); /* they did fill the streams Broadcast has */
    assert_true(ok);
}

/* ---- a reader that stops reading ---- */

static char g_ops[64]; /* the orderer's operations endpoint */

/* Streaming calls the orderer's handlers are serving now (its stele_grpc_active_streams). */
static double active_streams(void)
{
    struct buf body;
    buf_init(&body);
    double v = -1;
    if (test_http_get(g_ops, "/metrics", NULL, &body) != 200 ||
        !test_metric((const char *)body.data, "stele_grpc_active_streams", &v))
        v = -1;
    buf_release(&body);
    return v;
}

/* A reader that stops reading still loses its stream once its certificate expires (review of
 * 2026-12-06: the stream's handler waited in its send for room that never came, past the
 * reader's expiry or revocation, holding its thread and its stream until the client hung up).
 * The orderer pads each block to about 1 MB (STELE_TEST_DELIVER_PAD) so that some fifty fill
 * what the orderer and the client's gRPC may queue. */
static void a_reader_that_stops_reading_loses_its_stream(void **state)
{
    (void)state;
    ProtobufCBinaryData envs[50];
    Stele__Status st[50];
    char ids[50][65];
    for (int i = 0; i < 50; i++) /* each over half of preferred_max_bytes: a block each */
        envs[i] = orderer_tx(g_net.clients[2].key, &g_net.clients[2], "ch1", 12000, ids[i]);
    orderer_broadcast(envs, 50, st, ids);
    for (int i = 0; i < 50; i++)
        free(envs[i].data);
    usleep(300 * 1000); /* the last block is cut */
    stop_orderer();
    setenv("STELE_TEST_DELIVER_PAD", "1000000", 1);
    start_orderer();
    unsetenv("STELE_TEST_DELIVER_PAD");

    struct test_identity brief;
    uint64_t now = clock_wall_ms() / 1000;
    test_identity_issue(g_net.ca, 0, "brief-reader", "Org1", "auditor", now - 60, 66, &brief);
    struct rpc_channel *ch = channel_now(true);
    double before = active_streams();
    struct rpc_call *c = deliver_open(ch, &brief, 0, UINT64_MAX); /* and never read */
    usleep(1500 * 1000);
    double open = active_streams();
    double after = open;
    for (int k = 0; k < 100 && after >= open; k++) { /* it expires 6 s after it was issued */
        usleep(100 * 1000);
        after = active_streams();
    }
    print_message("streams served: %.0f before, %.0f with the reader, %.0f 10 s on\n", before, open,
                  after);
    rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
    test_identity_free(&brief);
    stop_orderer();
    start_orderer();
    assert_true(before >= 0);
    assert_true(open == before + 1);
    assert_true(after == before);
}

/* ---- a reader that vanishes ---- */

/* A TCP relay to the orderer for one connection that can turn into a black hole: it stops
 * passing octets either way but keeps both connections open, as a network that loses a host
 * (or a NAT that forgets a connection) does; or go deaf: stop passing the orderer's octets
 * only, with `rcvbuf` octets of socket buffer on that side (0: the system's), as a client that
 * reads nothing does. */
struct relay {
    int listen_fd; /* 127.0.0.1, port `port` */
    int port;
    char target[64]; /* the orderer's host:port */
    int rcvbuf;
    atomic_bool hole, deaf, done;
    atomic_int fd[2]; /* the client's connection, the orderer's (-1: none) */
    pthread_t thread;
};

static int relay_dial(const char *target, int rcvbuf)
{
    char host[64];
    snprintf(host, sizeof host, "%s", target);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    struct pollfd l = {.fd = r->listen_fd, .events = POLLIN};
    while (!atomic_load(&r->done) && poll(&l, 1, 100) <= 0)
        ;
    int fd[2] = {atomic_load(&r->done) ? -1 : accept(r->listen_fd, NULL, NULL), -1};
    if (fd[0] >= 0)
        fd[1] = relay_dial(r->target, r->rcvbuf);
    atomic_store(&r->fd[0], fd[0]);
    atomic_store(&r->fd[1], fd[1]);
    char buf[16384];
    while (fd[0] >= 0 && fd[1] >= 0 && !atomic_load(&r->done)) {
        if (atomic_load(&r->hole)) {
            usleep(50 * 1000);
            continue;
        }
        struct pollfd p[2] = {{.fd = fd[0], .events = POLLIN},
                              {.fd = fd[1], .events = atomic_load(&r->deaf) ? 0 : POLLIN}};
        if (poll(p, 2, 50) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fd[i], buf, sizeof buf);
            if (n <= 0 || write(fd[1 - i], buf, (size_t)n) != n)
                atomic_store(&r->done, true);
        }
    }
    return NULL; /* relay_stop() closes the connections */
}

static void relay_start(struct relay *r, int rcvbuf)
{
    memset(r, 0, sizeof *r);
    r->rcvbuf = rcvbuf;
    atomic_store(&r->fd[0], -1);
    atomic_store(&r->fd[1], -1);
    orderer_target(r->target);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->listen_fd >= 0);
    assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(r->listen_fd, 4), 0);
    assert_int_equal(getsockname(r->listen_fd, (struct sockaddr *)&sa, &len), 0);
    r->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, relay_main, r), 0);
}

static void relay_stop(struct relay *r)
{
    atomic_store(&r->done, true);
    for (int i = 0; i < 2; i++) /* a write that waits for the other side ends */
        if (atomic_load(&r->fd[i]) >= 0)
            shutdown(atomic_load(&r->fd[i]), SHUT_RDWR);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < 2; i++)
        if (atomic_load(&r->fd[i]) >= 0)
            close(atomic_load(&r->fd[i]));
    close(r->listen_fd);
}

/* A Broadcast stream whose client sends and never reads the answers ends after
 * broadcast_idle too (review of 2026-12-06: once the answers filled what the orderer queues and
 * the transport lets through, its handler waited in its send for good, where the idle rule
 * never looked, so that anybody held Broadcast streams without sending again). The client
 * sends through a relay that passes nothing back (4 KiB of socket buffer). */
static void broadcast_stream_not_read_ends(void **state)
{
    (void)state;
    struct relay r;
    relay_start(&r, 4096);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", r.port);
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(addr, &co, NULL);
    assert_non_null(ch);
    double before = active_streams();
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                         &stele__broadcast_response__descriptor, -1);
    assert_non_null(c);
    ProtobufCMessage *m = NULL; /* one answer read: the stream is served; then none */
    assert_int_equal(rpc_call_send_bytes(c, (const uint8_t *)"\xff\xff", 2), STELE_OK);
    assert_int_equal(rpc_call_recv(c, &m, 5000, false), STELE_OK);
    pb_free(m);
    atomic_store(&r.deaf, true);
    int sent = 0; /* octets that are no envelope, each answered BAD_REQUEST */
    for (int idle = 0; sent < 60000 && idle < 10;) {
        if (rpc_call_try_send_bytes(c, (const uint8_t *)"\xff\xff", 2) == STELE_OK) {
            sent++;
            idle = 0;
        } else {
            idle++;
            usleep(20 * 1000);
        }
    }
    double open = active_streams(), after = open;
    for (int k = 0; k < 100 && after >= open; k++) { /* broadcast_idle is 1 s here */
        usleep(100 * 1000);
        after = active_streams();
    }
    print_message("%d sent; streams served: %.0f before, %.0f while sending, %.0f then\n", sent,
                  before, open, after);
    rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
    relay_stop(&r);
    assert_true(before >= 0);
    assert_true(open == before + 1);
    assert_true(after == before);
}

/* A reader whose host vanishes without a word (no FIN, no RST) loses its stream (review of
 * 2026-12-06: nothing ever noticed, so each such stream held its thread and one of its
 * reader's 16 streams until the orderer restarted: a peer whose network dropped it silently
 * 16 times could no longer read its blocks). The orderer here pings every 1 s
 * (STELE_TEST_KEEPALIVE_MS) instead of every minute. */
static void a_reader_that_vanishes_loses_its_stream(void **state)
{
    (void)state;
    stop_orderer();
    setenv("STELE_TEST_KEEPALIVE_MS", "1000", 1);
    start_orderer();
    unsetenv("STELE_TEST_KEEPALIVE_MS");
    struct relay r;
    relay_start(&r, 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", r.port);
    struct rpc_channel_opts co = {.max_message = 8u << 20, .fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(addr, &co, NULL);
    assert_non_null(ch);
    double before = active_streams();
    struct rpc_call *c = deliver_open(ch, &g_net.auditor, 0, UINT64_MAX);
    assert_true(served(c));
    double open = active_streams();
    atomic_store(&r.hole, true);
    double after = open;
    for (int k = 0; k < 150 && after >= open; k++) {
        usleep(100 * 1000);
        after = active_streams();
    }
    print_message("streams served: %.0f before, %.0f with the reader, %.0f once it vanished\n",
                  before, open, after);
    rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
    relay_stop(&r);
    stop_orderer();
    start_orderer();
    assert_true(before >= 0);
    assert_true(open == before + 1);
    assert_true(after == before);
}

int main(void)
{
    static char yaml[256];
    snprintf(g_ops, sizeof g_ops, "127.0.0.1:%d", test_free_port());
    snprintf(yaml, sizeof yaml,
             "limits:\n  broadcast_idle: 1s\n  max_streams: 24\noperations:\n  listen: %s\n",
             g_ops);
    orderer_fixture_extra_yaml = yaml;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deliver_stream_ends_when_its_reader_expires),
        cmocka_unit_test(one_identity_cannot_hold_every_deliver_stream),
        cmocka_unit_test(a_deliver_request_is_taken_once),
        cmocka_unit_test(idle_broadcast_stream_ends),
        cmocka_unit_test(health_watches_leave_deliver_its_streams),
        cmocka_unit_test(broadcast_streams_leave_deliver_its_streams),
        cmocka_unit_test(a_reader_that_stops_reading_loses_its_stream),
        cmocka_unit_test(a_reader_that_vanishes_loses_its_stream),
        cmocka_unit_test(broadcast_stream_not_read_ends),
    };
    return cmocka_run_group_tests(tests, orderer_net_setup, orderer_net_teardown);
}
