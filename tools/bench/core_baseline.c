/*
 * core_baseline.c — the yardstick for `stele-bench rpc --baseline`: the same Echo round trip
 * done with the raw gRPC C core and nothing of lib/rpc — a server with one completion-queue
 * thread answering inline, a sequential client on one reused pluck queue, and a client with
 * N calls in flight on one `next` queue. Running it beside the wrapper's scenarios in the same
 * process and minute shows what the wrapper costs on this machine now, whatever its load.
 *
 * This is the one place outside lib/rpc that calls the core directly, on purpose.
 */
#include "bench.h"

#include "base/clock.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO "/stele.Bench/Echo"

/* A 100-byte EchoRequest: field 1 (bytes), length 100. */
static uint8_t request[102] = {0x0a, 100};

struct srv_call {
    int accepted; /* 0: a posted request; 1: a reply batch in flight */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    int cancelled;
};

struct core_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    void *method;
    pthread_t thread;
    int port;
};

static void post(struct core_server *s, struct srv_call *c)
{
    memset(c, 0, sizeof *c);
    grpc_metadata_array_init(&c->md);
    grpc_server_request_registered_call(s->server, s->method, &c->call, &c->deadline, &c->md,
                                        &c->payload, s->cq, s->cq, c);
}

static void *server_main(void *arg)
{
    struct core_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        struct srv_call *c = ev.tag;
        if (!c->accepted && ev.success) {
            struct srv_call *reply = malloc(sizeof *reply);
            *reply = *c;
            reply->accepted = 1;
            post(s, c);
            grpc_op ops[4];
            memset(ops, 0, sizeof ops);
            ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
            ops[1].op = GRPC_OP_SEND_MESSAGE;
            ops[1].data.send_message.send_message = reply->payload;
            ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
            ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
            ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
            ops[3].data.recv_close_on_server.cancelled = &reply->cancelled;
            grpc_call_start_batch(reply->call, ops, 4, reply, NULL);
        } else {
            if (c->payload)
                grpc_byte_buffer_destroy(c->payload);
            grpc_metadata_array_destroy(&c->md);
            if (c->call)
                grpc_call_unref(c->call);
            free(c);
        }
    }
    return NULL;
}

static int core_server_start(struct core_server *s)
{
    s->server = grpc_server_create(NULL, NULL);
    s->method = grpc_server_register_method(s->server, ECHO, NULL,
                                            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
    s->port = grpc_server_add_http2_port(s->server, "127.0.0.1:0", cr);
    grpc_server_credentials_release(cr);
    if (!s->port)
        return -1;
    grpc_server_start(s->server);
    for (int i = 0; i < 32; i++)
        post(s, malloc(sizeof(struct srv_call)));
    pthread_create(&s->thread, NULL, server_main, s);
    return 0;
}

static void core_server_stop(struct core_server *s)
{
    grpc_completion_queue *sq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_shutdown_and_notify(s->server, sq, &s->port);
    grpc_server_cancel_all_calls(s->server);
    grpc_completion_queue_pluck(sq, &s->port, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_completion_queue_shutdown(s->cq);
    pthread_join(s->thread, NULL);
    grpc_server_destroy(s->server);
    grpc_completion_queue_destroy(s->cq);
    grpc_completion_queue_shutdown(sq);
    grpc_completion_queue_destroy(sq);
}

/* One client call's state. */
struct cli_call {
    grpc_call *call;
    grpc_byte_buffer *req, *resp;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    const char *error;
    uint64_t t0;
};

static void cli_start(grpc_channel *ch, void *handle, grpc_completion_queue *cq, struct cli_call *c)
{
    memset(c, 0, sizeof *c);
    grpc_metadata_array_init(&c->init_md);
    grpc_metadata_array_init(&c->trail_md);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)request, sizeof request);
    c->req = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    c->t0 = clock_mono_ns();
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(5000, GPR_TIMESPAN));
    c->call = grpc_channel_create_registered_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, handle, dl,
                                                  NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    ops[5].data.recv_status_on_client.error_string = &c->error;
    grpc_call_start_batch(c->call, ops, 6, c, NULL);
}

/* Records and frees a completed call; returns whether it succeeded. */
static bool cli_finish(struct cli_call *c, struct bench_result *r)
{
    bool ok = c->status == GRPC_STATUS_OK && c->resp;
    if (ok) {
        r->ops++;
        hist_add(&r->lat, (clock_mono_ns() - c->t0) / 1000);
    } else {
        r->errors++;
    }
    grpc_byte_buffer_destroy(c->req);
    if (c->resp)
        grpc_byte_buffer_destroy(c->resp);
    grpc_metadata_array_destroy(&c->init_md);
    grpc_metadata_array_destroy(&c->trail_md);
    grpc_slice_unref(c->details);
    if (c->error)
        gpr_free((void *)c->error);
    grpc_call_unref(c->call);
    return ok;
}

int bench_core_baseline(int clients, double secs, struct bench_result out[2])
{
    grpc_init();
    struct core_server s = {0};
    if (core_server_start(&s) != 0) {
        grpc_shutdown();
        return -1;
    }
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", s.port);
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, cr, NULL);
    grpc_channel_credentials_release(cr);
    void *handle = grpc_channel_register_call(ch, ECHO, NULL, NULL);

    /* Sequential, one reused pluck queue. */
    struct bench_result *r = &out[0];
    snprintf(r->name, sizeof r->name, "core_unary_1");
    snprintf(r->unit, sizeof r->unit, "calls");
    r->clients = 1;
    grpc_completion_queue *pq = grpc_completion_queue_create_for_pluck(NULL);
    uint64_t start = clock_mono_ns(), end = start + (uint64_t)(secs * 1e9);
    struct cli_call c;
    while (clock_mono_ns() < end) {
        cli_start(ch, handle, pq, &c);
        grpc_completion_queue_pluck(pq, &c, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        cli_finish(&c, r);
    }
    r->seconds = (double)(clock_mono_ns() - start) / 1e9;
    grpc_completion_queue_shutdown(pq);
    grpc_completion_queue_destroy(pq);

    /* N in flight on one next queue, driven by this thread. */
    r = &out[1];
    snprintf(r->name, sizeof r->name, "core_unary_%d", clients);
    snprintf(r->unit, sizeof r->unit, "calls");
    r->clients = clients;
    grpc_completion_queue *nq = grpc_completion_queue_create_for_next(NULL);
    struct cli_call *calls = calloc((size_t)clients, sizeof *calls);
    start = clock_mono_ns();
    end = start + (uint64_t)(secs * 1e9);
    for (int i = 0; i < clients; i++)
        cli_start(ch, handle, nq, &calls[i]);
    int outstanding = clients;
    while (outstanding > 0) {
        grpc_event ev = grpc_completion_queue_next(nq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        struct cli_call *done = ev.tag;
        cli_finish(done, r);
        if (clock_mono_ns() < end)
            cli_start(ch, handle, nq, done);
        else
            outstanding--;
    }
    r->seconds = (double)(clock_mono_ns() - start) / 1e9;
    free(calls);
    grpc_channel_destroy(ch);
    grpc_completion_queue_shutdown(nq);
    while (grpc_completion_queue_next(nq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(nq);
    core_server_stop(&s);
    grpc_shutdown();
    return 0;
}
