/*
 * server.c — the gRPC server: posted requests per method and completion queue, dispatch to
 * the worker pool (unary) or a thread per stream (server_stream.c), rejections, and draining
 * shutdown.
 */
#include "rpc/server_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS_PER_METHOD 8 /* requests kept posted per method per completion queue */
/* Octets of requests waiting for a worker: past this a unary call is answered
 * RESOURCE_EXHAUSTED at once instead of queueing (what waits is held in memory). */
#define QUEUED_BYTES_MAX (256u << 20)
/* A connection with calls is pinged this often and closed (its calls cancelled) when no answer
 * comes within KEEPALIVE_TIMEOUT_MS: else a client whose host vanished without a FIN or RST
 * would hold its streams, and their counts against its identity, for good. */
#define KEEPALIVE_MS         60000
#define KEEPALIVE_TIMEOUT_MS 20000

static void on_slot(struct rpc_tag *tag, bool ok);
static void on_end(struct rpc_tag *tag, bool ok);

size_t rpc_server_max_message(struct rpc_server *s)
{
    return s->opts.max_message;
}

void rpc_server_call_released(struct rpc_server *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->live_calls == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
}

static const char *comp(struct rpc_server *s)
{
    return s->component;
}

struct rpc_server *rpc_server_create(const struct rpc_server_opts *opts, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!opts || !opts->listen) {
        rpc_set_err(errmsg, "no listen address given");
        return NULL;
    }
    rpc_global_init();
    struct rpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->opts = *opts;
    s->listen = strdup(opts->listen);
    s->component = strdup(opts->component ? opts->component : "rpc");
    if (s->opts.cq_threads <= 0)
        s->opts.cq_threads = 1;
    if (s->opts.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->opts.workers = n > 0 ? (int)n : 2;
    }
    if (s->opts.max_streams <= 0)
        s->opts.max_streams = 1024;
    if (!s->opts.max_message)
        s->opts.max_message = 4u << 20;
    if (!s->opts.stream_queue)
        s->opts.stream_queue = 256;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->drained, NULL);

    if (opts->tls.cert_file || opts->tls.key_file) {
        if (!opts->tls.cert_file || !opts->tls.key_file) {
            rpc_set_err(errmsg, "TLS needs both a certificate and a key file");
            goto fail;
        }
        s->tls_cert = rpc_read_pem(opts->tls.cert_file, "certificate", errmsg);
        if (!s->tls_cert ||
            rpc_check_cert_dates(s->tls_cert, opts->tls.cert_file, s->component, errmsg) != 0)
            goto fail;
        s->tls_key = rpc_read_pem(opts->tls.key_file, "key", errmsg);
        if (!s->tls_key)
            goto fail;
        if (opts->tls.ca_file) {
            s->tls_ca = rpc_read_pem(opts->tls.ca_file, "client CA", errmsg);
            if (!s->tls_ca)
                goto fail;
        }
    } else if (opts->tls.ca_file) {
        rpc_set_err(errmsg, "a client CA needs a server certificate and key (mutual TLS)");
        goto fail;
    }
    grpc_init();
    return s;
fail:
    free(s->listen);
    free(s->component);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_ca);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->drained);
    free(s);
    return NULL;
}

int rpc_server_add(struct rpc_server *s, const struct rpc_method *methods, size_t n)
{
    if (s->started)
        return STELE_ERR_STATE;
    for (size_t i = 0; i < n; i++) {
        if (!methods[i].path || !methods[i].handler || !methods[i].request)
            return STELE_ERR_INVALID;
        for (size_t j = 0; j < s->nmethods; j++)
            if (strcmp(s->methods[j].m.path, methods[i].path) == 0)
                return STELE_ERR_EXISTS;
        struct rpc_method_entry *p = realloc(s->methods, (s->nmethods + 1) * sizeof *p);
        if (!p)
            return STELE_ERR_NOMEM;
        s->methods = p;
        s->methods[s->nmethods].m = methods[i];
        s->methods[s->nmethods].handle = NULL;
        s->methods[s->nmethods].streams = 0;
        s->nmethods++;
    }
    return STELE_OK;
}

/* Drops the count of slot `sl` (whose tag came back and which is freed, not posted again):
 * the last access to the server on that path, since rpc_server_stop() may then free it. */
static void slot_done(struct rpc_server *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->posted == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
}

/* Posts `sl` for the next call; its tag (on_slot) comes back on the slot's queue, which for a
 * server on the shared queue need not be before rpc_server_stop() has seen the shutdown
 * complete: the stop waits for `posted` to reach 0, so every tag runs while the server lives. */
static void post_slot(struct slot *sl)
{
    struct rpc_server *s = sl->s;
    pthread_mutex_lock(&s->mu);
    s->posted++;
    pthread_mutex_unlock(&s->mu);
    grpc_metadata_array_init(&sl->md);
    sl->payload = NULL;
    sl->call = NULL;
    grpc_call_error e;
    if (sl->me) {
        bool with_payload = sl->me->m.kind == RPC_UNARY || sl->me->m.kind == RPC_SERVER_STREAM;
        e = grpc_server_request_registered_call(s->gs, sl->me->handle, &sl->call, &sl->deadline,
                                                &sl->md, with_payload ? &sl->payload : NULL, sl->cq,
                                                sl->cq, &sl->tag);
    } else {
        grpc_call_details_init(&sl->details);
        e = grpc_server_request_call(s->gs, &sl->call, &sl->details, &sl->md, sl->cq, sl->cq,
                                     &sl->tag);
    }
    if (e != GRPC_CALL_OK) {
        log_error(comp(s), "cannot post a request slot (%d)", (int)e);
        grpc_metadata_array_destroy(&sl->md);
        if (!sl->me)
            grpc_call_details_destroy(&sl->details);
        free(sl);
        slot_done(s);
    }
}

static void new_slot(struct rpc_server *s, struct rpc_method_entry *me, grpc_completion_queue *cq)
{
    struct slot *sl = calloc(1, sizeof *sl);
    if (!sl)
        return;
    sl->tag.fn = on_slot;
    sl->s = s;
    sl->me = me;
    sl->cq = cq;
    post_slot(sl);
}

static void *cq_main(void *arg)
{
    struct cq_thread *t = arg;
    rpc_cq_run(t->cq);
    return NULL;
}

static void *worker_main(void *arg);

int rpc_server_start(struct rpc_server *s, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (s->started)
        return STELE_ERR_STATE;
    int keepalive = KEEPALIVE_MS;
#ifdef STELE_TEST_HOOKS /* STELE_TEST_KEEPALIVE_MS=N: ping every N ms, wait as long */
    if (getenv("STELE_TEST_KEEPALIVE_MS") && *getenv("STELE_TEST_KEEPALIVE_MS"))
        keepalive = atoi(getenv("STELE_TEST_KEEPALIVE_MS"));
#endif
#define INT_ARG(k, v) {.type = GRPC_ARG_INTEGER, .key = (char *)(k), .value.integer = (int)(v)}
    grpc_arg args[] = {
        INT_ARG(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, s->opts.max_message),
        INT_ARG(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, s->opts.max_message),
        INT_ARG(GRPC_ARG_ALLOW_REUSEPORT, 0), /* a second server on a busy port must fail */
        INT_ARG(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive),
        INT_ARG(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                keepalive < KEEPALIVE_TIMEOUT_MS ? keepalive : KEEPALIVE_TIMEOUT_MS),
        INT_ARG(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0), /* a quiet stream is pinged too */
    };
#undef INT_ARG
    grpc_channel_args cargs = {.num_args = sizeof args / sizeof args[0], .args = args};
    s->gs = grpc_server_create(&cargs, NULL);

    for (size_t i = 0; i < s->nmethods; i++) {
        struct rpc_method_entry *me = &s->methods[i];
        bool with_payload = me->m.kind == RPC_UNARY || me->m.kind == RPC_SERVER_STREAM;
        me->handle = grpc_server_register_method(
            s->gs, me->m.path, NULL,
            with_payload ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER : GRPC_SRM_PAYLOAD_NONE, 0);
        if (!me->handle) {
            rpc_set_err(errmsg, "cannot register method %s", me->m.path);
            goto fail;
        }
    }
    /* The process's shared queue, whose thread also serves the client calls (rpc.h), or
     * queues of our own, each with its thread. */
    int ncq = s->opts.shared_queue ? 1 : s->opts.cq_threads;
    s->cqs = calloc((size_t)ncq, sizeof *s->cqs);
    if (!s->cqs) {
        rpc_set_err(errmsg, "out of memory");
        goto fail;
    }
    for (int i = 0; i < ncq; i++) {
        s->cqs[i].s = s;
        s->cqs[i].shared = s->opts.shared_queue;
        s->cqs[i].cq = s->cqs[i].shared ? rpc_shared_cq_acquire()
                                        : grpc_completion_queue_create_for_next(NULL);
        if (!s->cqs[i].cq) {
            rpc_set_err(errmsg, "cannot create a completion queue");
            goto fail;
        }
        s->ncq++;
        grpc_server_register_completion_queue(s->gs, s->cqs[i].cq, NULL);
    }
    s->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_server_register_completion_queue(s->gs, s->shutdown_cq, NULL);

    grpc_server_credentials *creds;
    if (s->tls_cert) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = s->tls_key, .cert_chain = s->tls_cert};
        creds = grpc_ssl_server_credentials_create_ex(
            s->tls_ca, &pair, 1,
            s->tls_ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                      : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    s->port = creds ? grpc_server_add_http2_port(s->gs, s->listen, creds) : 0;
    if (creds)
        grpc_server_credentials_release(creds);
    if (s->port == 0) {
        rpc_set_err(errmsg, "cannot listen on %s: address in use, not local, or malformed%s",
                    s->listen, s->tls_cert ? " (or the TLS certificate/key is invalid)" : "");
        goto fail;
    }
    grpc_server_start(s->gs);
    s->started = true;
    for (int i = 0; i < s->ncq; i++)
        if (!s->cqs[i].shared)
            pthread_create(&s->cqs[i].thread, NULL, cq_main, &s->cqs[i]);
    s->nworkers = s->opts.workers;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    for (int i = 0; i < s->nworkers; i++)
        pthread_create(&s->workers[i], NULL, worker_main, s);
    for (int i = 0; i < s->ncq; i++) {
        for (size_t m = 0; m < s->nmethods; m++)
            for (int k = 0; k < SLOTS_PER_METHOD; k++)
                new_slot(s, &s->methods[m], s->cqs[i].cq);
        for (int k = 0; k < 2; k++)
            new_slot(s, NULL, s->cqs[i].cq);
    }
    log_info(comp(s), "listening on %s (port %d, %s, %d methods)", s->listen, s->port,
             s->tls_cert ? (s->tls_ca ? "mutual TLS" : "TLS") : "plaintext", (int)s->nmethods);
    return STELE_OK;
fail:
    /* Not started: the core lets us destroy the server directly. */
    grpc_server_destroy(s->gs);
    s->gs = NULL;
    for (int i = 0; i < s->ncq; i++) {
        if (s->cqs[i].shared) {
            rpc_shared_cq_release();
            continue;
        }
        grpc_completion_queue_shutdown(s->cqs[i].cq);
        while (grpc_completion_queue_next(s->cqs[i].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(s->cqs[i].cq);
    }
    free(s->cqs);
    s->cqs = NULL;
    s->ncq = 0;
    if (s->shutdown_cq) {
        grpc_completion_queue_shutdown(s->shutdown_cq);
        grpc_completion_queue_destroy(s->shutdown_cq);
        s->shutdown_cq = NULL;
    }
    return STELE_ERR_UNAVAILABLE;
}

int rpc_server_port(const struct rpc_server *s)
{
    return s->started ? s->port : 0;
}

/* ---- answering calls ---- */

void rpc_server_set_status(struct rpc_call *c, enum rpc_code code)
{
    c->code = code;
    if (code != RPC_OK && !c->detail[0])
        snprintf(c->detail, sizeof c->detail, "%s", rpc_code_name(code));
}

/* One batch: initial metadata, optional message, status, and (unary) the close. */
static void send_final(struct rpc_call *c, grpc_byte_buffer *msg, bool with_close)
{
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    grpc_slice detail = grpc_slice_from_copied_string(c->detail);
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
        c->send_bb = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)c->code;
    ops[n++].data.send_status_from_server.status_details = c->detail[0] ? &detail : NULL;
    if (with_close) {
        ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        ops[n++].data.recv_close_on_server.cancelled = &c->close_cancelled;
    }
    if (c->code != RPC_OK)
        atomic_fetch_add(&c->srv->n_errors, 1);
    pthread_mutex_lock(&c->mu);
    c->refs++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->tag_end, NULL);
    if (e != GRPC_CALL_OK)
        c->refs--;
    pthread_mutex_unlock(&c->mu);
    grpc_slice_unref(detail);
    if (e != GRPC_CALL_OK)
        log_warn(comp(c->srv), "%s: cannot send the reply (%d)", c->method, (int)e);
}

void rpc_server_start_status_locked(struct rpc_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    grpc_slice detail = grpc_slice_from_copied_string(c->detail);
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = (grpc_status_code)c->code;
    op.data.send_status_from_server.status_details = c->detail[0] ? &detail : NULL;
    if (c->code != RPC_OK)
        atomic_fetch_add(&c->srv->n_errors, 1);
    c->refs++;
    if (grpc_call_start_batch(c->call, &op, 1, &c->tag_end, NULL) != GRPC_CALL_OK)
        c->refs--;
    grpc_slice_unref(detail);
}

static void on_end(struct rpc_tag *tag, bool ok)
{
    (void)ok;
    struct rpc_call *c = (struct rpc_call *)((char *)tag - offsetof(struct rpc_call, tag_end));
    rpc_call_unref(c);
}

void rpc_server_reject(struct rpc_call *c, enum rpc_code code, const char *fmt, const char *arg)
{
    snprintf(c->detail, sizeof c->detail, fmt, arg);
    rpc_server_set_status(c, code);
    send_final(c, NULL, true);
    rpc_call_unref(c);
}

bool rpc_server_check_payload(struct rpc_call *c, const ProtobufCMessage **req)
{
    const struct rpc_method *m = &c->me->m;
    size_t cap = m->max_request ? m->max_request : c->srv->opts.max_message;
    size_t len = c->payload ? grpc_byte_buffer_length(c->payload) : 0;
    if (len > cap) {
        rpc_call_error(c, RPC_RESOURCE_EXHAUSTED, "request of %zu bytes exceeds the %zu-byte limit",
                       len, cap);
        return false;
    }
    ProtobufCMessage *msg = NULL;
    if (c->payload)
        msg = rpc_bb_decode(c->payload, m->request, c->arena, 0);
    else /* the client half-closed without a message: an empty request */
        msg = pb_unpack(m->request, c->arena, NULL, 0, 0);
    if (!msg) {
        rpc_call_error(c, RPC_INVALID_ARGUMENT, "malformed request: %zu bytes are not a valid %s",
                       len, m->request->name);
        return false;
    }
    *req = msg;
    return true;
}

static void run_unary(struct rpc_call *c)
{
    const ProtobufCMessage *req = NULL;
    ProtobufCMessage *resp = NULL;
    enum rpc_code code;
    if (!rpc_server_check_payload(c, &req))
        code = c->code;
    else
        code = c->me->m.handler(c, req, &resp, c->me->m.arg);
    grpc_byte_buffer *bb = NULL;
    if (code == RPC_OK) {
        if (!resp) {
            code = rpc_call_error(c, RPC_INTERNAL, "handler returned no response");
        } else if (protobuf_c_message_get_packed_size(resp) > c->srv->opts.max_message) {
            code = rpc_call_error(c, RPC_RESOURCE_EXHAUSTED, "response exceeds the %zu-byte limit",
                                  c->srv->opts.max_message);
        } else {
            bb = rpc_pack(resp);
        }
    }
    rpc_server_set_status(c, code);
    send_final(c, bb, true);
    rpc_call_unref(c);
}

static void *worker_main(void *arg)
{
    struct rpc_server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->jobs_head && !s->pool_stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->jobs_head)
            break;
        struct rpc_call *c = s->jobs_head;
        s->jobs_head = c->next;
        if (!s->jobs_head)
            s->jobs_tail = NULL;
        s->queued_bytes -= c->queued;
        pthread_mutex_unlock(&s->mu);
        run_unary(c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void dispatch(struct slot *sl, bool ok);

/* A posted slot's tag: a matched call to dispatch, or (ok false) a request cancelled at
 * shutdown. Its count in s->posted is dropped last (slot_done()). */
static void on_slot(struct rpc_tag *tag, bool ok)
{
    struct slot *sl = (struct slot *)tag;
    struct rpc_server *s = sl->s;
    dispatch(sl, ok);
    slot_done(s);
}

/* Takes the call `sl` matched (if any), posting `sl` again or freeing it. */
static void dispatch(struct slot *sl, bool ok)
{
    struct rpc_server *s = sl->s;
    if (!ok || !sl->call) { /* shutting down: the request was cancelled */
        grpc_metadata_array_destroy(&sl->md);
        if (!sl->me)
            grpc_call_details_destroy(&sl->details);
        if (sl->payload)
            grpc_byte_buffer_destroy(sl->payload);
        free(sl);
        return;
    }
    struct rpc_call *c = calloc(1, sizeof *c);
    bool streaming = sl->me && sl->me->m.kind != RPC_UNARY;
    if (!c || rpc_call_init(c, false, s->opts.stream_queue, s->opts.stream_queue_bytes,
                            streaming) != STELE_OK) {
        /* Out of memory: drop the call; the client sees its deadline. */
        grpc_call_cancel(sl->call, NULL);
        grpc_call_unref(sl->call);
        grpc_metadata_array_destroy(&sl->md);
        if (!sl->me)
            grpc_call_details_destroy(&sl->details);
        if (sl->payload)
            grpc_byte_buffer_destroy(sl->payload);
        if (c)
            rpc_call_free(c); /* c->srv is unset: no live-call count to release */
        if (!atomic_load(&s->stopping))
            post_slot(sl);
        else
            free(sl);
        return;
    }
    c->srv = s;
    c->tag_end.fn = on_end;
    c->call = sl->call;
    c->deadline = sl->deadline;
    c->req_md = sl->md;
    c->payload = sl->payload;
    c->me = sl->me;
    c->max_msg = s->opts.max_message;
    if (sl->me) {
        c->kind = sl->me->m.kind;
        c->method = sl->me->m.path;
        c->recv_desc = sl->me->m.request;
        if (sl->me->m.max_request)
            c->max_msg = sl->me->m.max_request;
    } else {
        c->details = sl->details;
        c->deadline = sl->details.deadline;
    }
    pthread_mutex_lock(&s->mu);
    s->live_calls++;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(&s->n_calls, 1);

    if (!atomic_load(&s->stopping))
        post_slot(sl);
    else
        free(sl);

    if (!c->me) {
        char method[200];
        rpc_slice_to_str(c->details.method, method, sizeof method);
        atomic_fetch_add(&s->n_unimpl, 1);
        rpc_server_reject(c, RPC_UNIMPLEMENTED, "unknown method %s", method);
        return;
    }
    c->arena = arena_create(0);
    if (!c->arena) {
        rpc_server_reject(c, RPC_RESOURCE_EXHAUSTED, "%s", "out of memory");
        return;
    }
    if (c->kind != RPC_UNARY) {
        rpc_server_start_stream(c);
    } else if (c->me->m.flags & RPC_METHOD_INLINE) {
        run_unary(c);
    } else {
        size_t len = c->payload ? grpc_byte_buffer_length(c->payload) : 0;
        pthread_mutex_lock(&s->mu);
        bool full = s->jobs_head && s->queued_bytes + len > QUEUED_BYTES_MAX;
        if (!full) {
            c->next = NULL;
            c->queued = len;
            s->queued_bytes += len;
            if (s->jobs_tail)
                s->jobs_tail->next = c;
            else
                s->jobs_head = c;
            s->jobs_tail = c;
            pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (full)
            rpc_server_reject(c, RPC_RESOURCE_EXHAUSTED, "the server is busy: %s", "retry shortly");
    }
}

/* ---- shutdown ---- */

void rpc_server_stop(struct rpc_server *s, int grace_ms)
{
    if (!s || !s->started || s->stopped)
        return;
    s->stopped = true;
    atomic_store(&s->stopping, true);
    log_info(comp(s), "stopping (grace %d ms)", grace_ms);
    int shutdown_tag;
    grpc_server_shutdown_and_notify(s->gs, s->shutdown_cq, &shutdown_tag);
    grpc_event ev = grpc_completion_queue_pluck(s->shutdown_cq, &shutdown_tag,
                                                rpc_deadline_ms(grace_ms < 0 ? 0 : grace_ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        log_info(comp(s), "grace period over: cancelling the calls still open");
        grpc_server_cancel_all_calls(s->gs);
        grpc_completion_queue_pluck(s->shutdown_cq, &shutdown_tag,
                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    pthread_mutex_lock(&s->mu);
    while (s->live_calls > 0 || s->stream_threads > 0 || s->posted > 0)
        pthread_cond_wait(&s->drained, &s->mu);
    s->pool_stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    for (int i = 0; i < s->ncq; i++)
        if (!s->cqs[i].shared)
            grpc_completion_queue_shutdown(s->cqs[i].cq);
    for (int i = 0; i < s->ncq; i++)
        if (!s->cqs[i].shared)
            pthread_join(s->cqs[i].thread, NULL);
    grpc_server_destroy(s->gs);
    s->gs = NULL;
    for (int i = 0; i < s->ncq; i++) {
        if (s->cqs[i].shared)
            rpc_shared_cq_release(); /* the last user shuts it down once it is drained */
        else
            grpc_completion_queue_destroy(s->cqs[i].cq);
    }
    grpc_completion_queue_shutdown(s->shutdown_cq);
    grpc_completion_queue_destroy(s->shutdown_cq);
    s->shutdown_cq = NULL;
    log_info(comp(s), "stopped");
}

void rpc_server_destroy(struct rpc_server *s)
{
    if (!s)
        return;
    rpc_server_stop(s, 1000);
    free(s->workers);
    free(s->cqs);
    free(s->methods);
    free(s->listen);
    free(s->component);
    free(s->tls_cert);
    if (s->tls_key) {
        explicit_bzero(s->tls_key, strlen(s->tls_key));
        free(s->tls_key);
    }
    free(s->tls_ca);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->drained);
    free(s);
    grpc_shutdown();
}

void rpc_server_get_stats(struct rpc_server *s, struct rpc_server_stats *out)
{
    out->calls = atomic_load(&s->n_calls);
    out->errors = atomic_load(&s->n_errors);
    out->unimplemented = atomic_load(&s->n_unimpl);
    pthread_mutex_lock(&s->mu);
    out->active_streams = (uint64_t)s->stream_threads;
    pthread_mutex_unlock(&s->mu);
}
