/*
 * rpc_bench.c — `stele-bench rpc` and `stele-bench serve`.
 *
 * Scenarios, each for --duration seconds against stele.Bench (in-process server unless
 * --target names one):
 *   unary_1      one caller, one call in flight (blocking calls): round-trip latency;
 *   unary_N      N calls in flight (--clients, default 16) from one asynchronous caller;
 *   stream_1     one server stream of 100-byte messages: messages per second.
 * The headline is unary_N. With --baseline, core_unary_1 and core_unary_N repeat the unary
 * scenarios on the raw gRPC core (core_baseline.c) for comparison.
 */
#include "bench.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/status.h"
#include "cli/cli.h"
#include "pb/pb.h"
#include "rpc/bench_service.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/bench.pb-c.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char rpc_usage[] =
    "Usage: stele-bench rpc [--duration S] [--clients N] [--target HOST:PORT] [--pool]\n"
    "                       [--baseline] [--json]\n"
    "\n"
    "Measures the RPC layer over loopback: unary round trips with one caller and with N\n"
    "calls in flight, and messages per second on one server stream. Without --target an\n"
    "in-process server (one completion-queue thread) is started on 127.0.0.1.\n"
    "  --duration S   seconds per scenario (default 3)\n"
    "  --clients N    calls in flight for the concurrent scenario (default 16)\n"
    "  --target H:P   benchmark a running 'stele-bench serve' instead\n"
    "  --pool         run Echo on the server's worker pool (as handlers that block do)\n"
    "                 instead of inline on the completion-queue thread (cheap handlers)\n"
    "  --baseline     also run the same round trips on the raw gRPC C core (no wrapper),\n"
    "                 to show what the wrapper costs on this machine now\n"
    "  --json         print one JSON object\n";

static uint8_t payload[100];

static void run_unary_1(struct rpc_channel *ch, double secs, struct bench_result *r)
{
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = payload;
    req.payload.len = sizeof payload;
    snprintf(r->name, sizeof r->name, "unary_1");
    snprintf(r->unit, sizeof r->unit, "calls");
    r->clients = 1;
    uint64_t start = clock_mono_ns(), end = start + (uint64_t)(secs * 1e9), now = start;
    while (now < end) {
        ProtobufCMessage *resp;
        uint64_t t0 = clock_mono_ns();
        int rc = rpc_unary(ch, "/stele.Bench/Echo", &req.base, &stele__echo_response__descriptor,
                           &resp, 5000, NULL);
        now = clock_mono_ns();
        if (rc == STELE_OK) {
            r->ops++;
            hist_add(&r->lat, (now - t0) / 1000);
        } else {
            r->errors++;
        }
        pb_free(resp);
    }
    r->seconds = (double)(now - start) / 1e9;
}

/* The asynchronous window: each completion records its latency and starts the next call. */
struct window {
    struct rpc_channel *ch;
    Stele__EchoRequest req;
    uint64_t end_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int outstanding;
    struct bench_result *r;
};

struct slot {
    struct window *w;
    uint64_t t0;
};

static void on_echo(void *arg, const struct rpc_result *res, ProtobufCMessage *resp);

/* Starts one call for slot `s`; a call that cannot even start retires the slot (counted as an
 * error under the window's lock, since this may run on the main thread). */
static void issue(struct slot *s)
{
    struct window *w = s->w;
    s->t0 = clock_mono_ns();
    if (rpc_unary_async(w->ch, "/stele.Bench/Echo", &w->req.base, &stele__echo_response__descriptor,
                        5000, on_echo, s) == STELE_OK)
        return;
    pthread_mutex_lock(&w->mu);
    w->r->errors++;
    if (--w->outstanding == 0)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_echo(void *arg, const struct rpc_result *res, ProtobufCMessage *resp)
{
    struct slot *s = arg;
    struct window *w = s->w;
    uint64_t now = clock_mono_ns();
    pb_free(resp);
    /* Completions arrive on the channel's one completion thread; the lock orders them with
     * the start-up loop and issue()'s failure path. */
    pthread_mutex_lock(&w->mu);
    if (res->code == RPC_OK) {
        w->r->ops++;
        hist_add(&w->r->lat, (now - s->t0) / 1000);
    } else {
        w->r->errors++;
    }
    pthread_mutex_unlock(&w->mu);
    if (now < w->end_ns) {
        issue(s);
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (--w->outstanding == 0)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void run_unary_n(struct rpc_channel *ch, int n, double secs, struct bench_result *r)
{
    snprintf(r->name, sizeof r->name, "unary_%d", n);
    snprintf(r->unit, sizeof r->unit, "calls");
    r->clients = n;
    struct window w = {
        .ch = ch, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .r = r};
    stele__echo_request__init(&w.req);
    w.req.payload.data = payload;
    w.req.payload.len = sizeof payload;
    struct slot *slots = calloc((size_t)n, sizeof *slots);
    uint64_t start = clock_mono_ns();
    w.end_ns = start + (uint64_t)(secs * 1e9);
    w.outstanding = n;
    for (int i = 0; i < n; i++) {
        slots[i].w = &w;
        issue(&slots[i]);
    }
    pthread_mutex_lock(&w.mu);
    while (w.outstanding > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    r->seconds = (double)(clock_mono_ns() - start) / 1e9;
    free(slots);
}

static void run_stream(struct rpc_channel *ch, double secs, struct bench_result *r)
{
    snprintf(r->name, sizeof r->name, "stream_1");
    snprintf(r->unit, sizeof r->unit, "messages");
    r->clients = 1;
    Stele__EchoRequest req = STELE__ECHO_REQUEST__INIT;
    req.payload.data = payload;
    req.payload.len = sizeof payload;
    req.count = 100000000; /* more than any run can read: the client cancels at the end */
    struct rpc_call *c = rpc_stream_open(ch, "/stele.Bench/Stream", RPC_SERVER_STREAM,
                                         &stele__echo_response__descriptor, -1);
    if (!c || rpc_call_send(c, &req.base) != STELE_OK || rpc_call_close_send(c) != STELE_OK) {
        r->errors++;
        if (c)
            rpc_call_finish(c, true, NULL);
        return;
    }
    uint64_t start = clock_mono_ns(), end = start + (uint64_t)(secs * 1e9), now = start;
    uint64_t expect = 0;
    while (now < end) {
        ProtobufCMessage *m;
        if (rpc_call_recv(c, &m, 5000, false) != STELE_OK) {
            r->errors++;
            break;
        }
        if (((Stele__EchoResponse *)m)->seq != expect++)
            r->errors++; /* out of order or lost */
        pb_free(m);
        r->ops++;
        if ((r->ops & 255) == 0)
            now = clock_mono_ns();
    }
    r->seconds = (double)(clock_mono_ns() - start) / 1e9;
    rpc_call_finish(c, true, NULL);
}

struct local_server {
    struct rpc_server *srv;
    struct rpc_health *health;
    struct rpc_node_service *node;
};

static int start_local(struct local_server *ls, const char *listen, bool pool, int *port)
{
    struct rpc_server_opts o = {.listen = listen, .cq_threads = 1, .component = "bench"};
    char *err = NULL;
    ls->srv = rpc_server_create(&o, &err);
    ls->health = rpc_health_create();
    ls->node = rpc_node_service_create("stele-bench", "bench");
    if (!ls->srv || !ls->health || !ls->node || rpc_health_register(ls->health, ls->srv) ||
        rpc_node_service_register(ls->node, ls->srv) ||
        rpc_bench_service_register(ls->srv, !pool) || rpc_server_start(ls->srv, &err) != STELE_OK) {
        fprintf(stderr, "stele-bench: cannot start the server: %s\n", err ? err : "out of memory");
        free(err);
        return -1;
    }
    *port = rpc_server_port(ls->srv);
    return 0;
}

static void stop_local(struct local_server *ls)
{
    if (ls->health)
        rpc_health_shutdown(ls->health);
    rpc_server_destroy(ls->srv);
    rpc_health_destroy(ls->health);
    rpc_node_service_destroy(ls->node);
}

int bench_rpc(int argc, char **argv)
{
    struct bench_opts o = {.duration_s = 3, .clients = 16};
    int rc = bench_parse_common(argc, argv, &o, rpc_usage);
    if (rc)
        return rc;
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    struct local_server ls = {0};
    char target[128];
    if (o.target) {
        snprintf(target, sizeof target, "%s", o.target);
    } else {
        int port;
        if (start_local(&ls, "127.0.0.1:0", o.pool, &port) != 0)
            return CLI_EXIT_INTERNAL;
        snprintf(target, sizeof target, "127.0.0.1:%d", port);
    }
    struct rpc_channel_opts co = {.fail_fast = true};
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(target, &co, &err);
    if (!ch) {
        fprintf(stderr, "stele-bench: cannot open a channel to %s: %s\n", target,
                err ? err : "out of memory");
        free(err);
        stop_local(&ls);
        return CLI_EXIT_INTERNAL;
    }
    struct bench_result *res = calloc(5, sizeof *res);
    /* One warm-up call also proves the server is there. */
    struct bench_result warm = {0};
    run_unary_1(ch, 0.2, &warm);
    if (warm.ops == 0) {
        fprintf(stderr, "stele-bench: no answer from %s\n", target);
        rpc_channel_close(ch);
        stop_local(&ls);
        free(res);
        return CLI_EXIT_INTERNAL;
    }
    run_unary_1(ch, o.duration_s, &res[0]);
    run_unary_n(ch, o.clients, o.duration_s, &res[1]);
    run_stream(ch, o.duration_s, &res[2]);
    rpc_channel_close(ch);
    stop_local(&ls);
    int n = 3;
    if (o.baseline) {
        if (bench_core_baseline(o.clients, o.duration_s, &res[3]) == 0)
            n = 5;
        else
            fprintf(stderr, "stele-bench: the raw-core baseline could not start\n");
    }
    bench_report("rpc", &o, res, n, 1, NULL);
    int failed = res[0].errors || res[1].errors || res[2].errors;
    free(res);
    return failed ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
}

int bench_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:0", *port_file = NULL;
    bool pool = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "l:p:Ph", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'P':
            pool = true;
            break;
        case 'h':
            printf("Usage: stele-bench serve [--listen HOST:PORT] [--port-file FILE] [--pool]\n\n"
                   "Serves stele.Bench, grpc.health.v1.Health and stele.Node/Info until SIGTERM\n"
                   "or SIGINT. With port 0 a free port is chosen; --port-file writes it.\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage("stele-bench serve", "see 'stele-bench serve --help'");
        }
    }
    sig_block_termination(); /* before the server starts its threads */
    struct local_server ls = {0};
    int port;
    if (start_local(&ls, listen, pool, &port) != 0)
        return CLI_EXIT_INTERNAL;
    if (port_file && cli_write_port_file("stele-bench", port_file, port)) {
        stop_local(&ls);
        return CLI_EXIT_INTERNAL;
    }
    int sig = sig_wait_termination();
    log_info("bench", "signal %d: stopping", sig);
    stop_local(&ls);
    return CLI_EXIT_OK;
}
