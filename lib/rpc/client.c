/*
 * client.c — channels, blocking and asynchronous unary calls, client streams.
 *
 * Blocking unary calls use a pluck completion queue of their own, so many threads may call at
 * once without a hand-off. Asynchronous calls and streams of every channel of the process
 * share one completion queue, served by one thread started with the first channel that needs
 * it.
 */
#include "rpc/rpc_internal.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"

#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CACHED_METHODS 64

struct method_handle {
    char *method;
    void *handle;
};

struct rpc_channel {
    grpc_channel *gc;
    char *target;
    struct rpc_channel_opts opts;
    pthread_mutex_t mu;        /* guards the fields below */
    pthread_cond_t idle;       /* signalled when `async` drops to zero */
    grpc_completion_queue *cq; /* the shared queue, once this channel holds a reference */
    size_t async;              /* asynchronous unary calls whose callback has not returned */
    struct method_handle methods[MAX_CACHED_METHODS];
    int nmethods;
};

size_t rpc_channel_max_message(struct rpc_channel *ch)
{
    return ch->opts.max_message;
}

const char *rpc_channel_target(const struct rpc_channel *ch)
{
    return ch->target;
}

struct rpc_channel *rpc_channel_open(const char *target, const struct rpc_channel_opts *opts,
                                     char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    rpc_global_init();
    struct rpc_channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    if (opts)
        ch->opts = *opts;
    if (!ch->opts.max_message)
        ch->opts.max_message = 4u << 20;
    if (!ch->opts.timeout_ms)
        ch->opts.timeout_ms = 10000;
    if (!ch->opts.stream_queue)
        ch->opts.stream_queue = 256;
    ch->target = strdup(target);
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->idle, NULL);

    char *root = NULL, *cert = NULL, *key = NULL;
    const struct rpc_tls *tls = &ch->opts.tls;
    grpc_channel_credentials *creds = NULL;
    if (tls->ca_file || tls->cert_file) {
        if (tls->ca_file && !(root = rpc_read_pem(tls->ca_file, "root CA", errmsg)))
            goto fail;
        if (tls->cert_file || tls->key_file) {
            if (!tls->cert_file || !tls->key_file) {
                rpc_set_err(errmsg, "a client certificate needs both a certificate and a key");
                goto fail;
            }
            if (!(cert = rpc_read_pem(tls->cert_file, "client certificate", errmsg)) ||
                !(key = rpc_read_pem(tls->key_file, "client key", errmsg)))
                goto fail;
        }
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        creds = grpc_ssl_credentials_create(root, cert ? &pair : NULL, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    if (!creds) {
        rpc_set_err(errmsg, "cannot create channel credentials for %s", target);
        goto fail;
    }
    grpc_arg args[7];
    memset(args, 0, sizeof args);
    int n = 0;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[n++].value.integer = (int)ch->opts.max_message;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[n++].value.integer = (int)ch->opts.max_message;
    /* Components start in any order: retry connecting quickly at first. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[n++].value.integer = 100;
    /* gRPC also takes this as the shortest time a connection attempt gets (its "min connect
       timeout"): 100 ms failed CLI calls whenever a busy server was slow to handshake. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MIN_RECONNECT_BACKOFF_MS;
    args[n++].value.integer = 5000;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[n++].value.integer = 2000;
    /* Stele retries at the application level where it is safe (re-endorsement, resubmit);
       the core's transparent retries only add buffering to every call. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_ENABLE_RETRIES;
    args[n++].value.integer = 0;
    if (tls->server_name) {
        args[n].type = GRPC_ARG_STRING;
        args[n].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[n++].value.string = (char *)tls->server_name;
    }
    grpc_channel_args cargs = {.num_args = (size_t)n, .args = args};
    grpc_init();
    ch->gc = grpc_channel_create(target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    free(root);
    free(cert);
    if (key) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    if (!ch->gc) {
        rpc_set_err(errmsg, "cannot open a channel to %s", target);
        rpc_channel_close(ch);
        return NULL;
    }
    return ch;
fail:
    free(root);
    free(cert);
    free(key);
    pthread_mutex_destroy(&ch->mu);
    pthread_cond_destroy(&ch->idle);
    free(ch->target);
    free(ch);
    return NULL;
}

/* One completion queue, served by one thread, for every channel of the process and a server
 * that asks for it (rpc_server_opts.shared_queue): with a queue per channel (or one for the
 * server and one for the channels), gRPC's one poller had to kick another thread awake for
 * nearly every event of a queue whose thread was not polling (an orderer has a channel to
 * each of its peers; a peer's gateway serves and calls at once). Created by the first user,
 * stopped when the last one lets go. */
static struct {
    pthread_mutex_t mu; /* guards the fields below */
    grpc_completion_queue *cq;
    pthread_t thread;
    size_t users;
} shared = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *shared_cq_main(void *arg)
{
    rpc_cq_run(arg);
    return NULL;
}

grpc_completion_queue *rpc_shared_cq_acquire(void)
{
    pthread_mutex_lock(&shared.mu);
    if (shared.users == 0) {
        shared.cq = grpc_completion_queue_create_for_next(NULL);
        if (shared.cq && pthread_create(&shared.thread, NULL, shared_cq_main, shared.cq) != 0) {
            grpc_completion_queue_shutdown(shared.cq);
            grpc_completion_queue_destroy(shared.cq);
            shared.cq = NULL;
        }
    }
    if (shared.cq)
        shared.users++;
    grpc_completion_queue *cq = shared.cq;
    pthread_mutex_unlock(&shared.mu);
    if (!cq)
        log_error("rpc", "cannot start the completion thread");
    return cq;
}

void rpc_shared_cq_release(void)
{
    pthread_mutex_lock(&shared.mu);
    if (shared.users == 1 && pthread_equal(pthread_self(), shared.thread)) {
        /* The last user let go from a completion callback: the thread cannot join itself. A
         * bug in the caller (callbacks must not close channels or stop servers). */
        log_error("rpc", "the last completion-queue user let go on the completion thread");
        abort();
    }
    if (--shared.users == 0) {
        grpc_completion_queue_shutdown(shared.cq);
        pthread_join(shared.thread, NULL);
        grpc_completion_queue_destroy(shared.cq);
        shared.cq = NULL;
    }
    pthread_mutex_unlock(&shared.mu);
}

/* The shared completion queue, taking this channel's reference on first use. */
static grpc_completion_queue *channel_cq(struct rpc_channel *ch)
{
    pthread_mutex_lock(&ch->mu);
    if (!ch->cq)
        ch->cq = rpc_shared_cq_acquire();
    grpc_completion_queue *cq = ch->cq;
    pthread_mutex_unlock(&ch->mu);
    return cq;
}

static grpc_call *create_call(struct rpc_channel *ch, const char *method, grpc_completion_queue *cq,
                              gpr_timespec deadline)
{
    void *handle = NULL;
    pthread_mutex_lock(&ch->mu);
    for (int i = 0; i < ch->nmethods; i++)
        if (strcmp(ch->methods[i].method, method) == 0) {
            handle = ch->methods[i].handle;
            break;
        }
    if (!handle && ch->nmethods < MAX_CACHED_METHODS) {
        handle = grpc_channel_register_call(ch->gc, method, NULL, NULL);
        ch->methods[ch->nmethods].method = strdup(method);
        ch->methods[ch->nmethods++].handle = handle;
    }
    pthread_mutex_unlock(&ch->mu);
    if (handle)
        return grpc_channel_create_registered_call(ch->gc, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                                   handle, deadline, NULL);
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *c = grpc_channel_create_call(ch->gc, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL,
                                            deadline, NULL);
    grpc_slice_unref(m);
    return c;
}

static gpr_timespec call_deadline(struct rpc_channel *ch, int timeout_ms)
{
    return rpc_deadline_ms(timeout_ms == 0 ? ch->opts.timeout_ms : timeout_ms);
}

/* The state of one unary call, blocking or asynchronous. */
struct unary {
    struct rpc_tag tag;
    struct rpc_channel *ch; /* asynchronous calls: counted in ch->async until done */
    grpc_call *call;
    grpc_byte_buffer *req_bb, *resp_bb;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    const ProtobufCMessageDescriptor *resp_desc;
    rpc_unary_cb cb;
    void *arg;
};

static bool unary_start(struct rpc_channel *ch, struct unary *u, const char *method,
                        const ProtobufCMessage *req, grpc_completion_queue *cq, int timeout_ms)
{
    grpc_metadata_array_init(&u->init_md);
    grpc_metadata_array_init(&u->trail_md);
    u->details = grpc_empty_slice();
    u->call = create_call(ch, method, cq, call_deadline(ch, timeout_ms));
    u->req_bb = rpc_pack(req);
    if (!u->call || !u->req_bb)
        return false;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = ch->opts.fail_fast ? 0 : GRPC_INITIAL_METADATA_WAIT_FOR_READY;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->trail_md;
    ops[5].data.recv_status_on_client.status = &u->status;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    ops[5].data.recv_status_on_client.error_string = &u->error_string;
    return grpc_call_start_batch(u->call, ops, 6, &u->tag, NULL) == GRPC_CALL_OK;
}

/* Turns a completed unary call into (result, response) and frees its core resources. */
static ProtobufCMessage *unary_finish(struct unary *u, struct rpc_result *res)
{
    ProtobufCMessage *resp = NULL;
    res->code = (enum rpc_code)u->status;
    rpc_slice_to_str(u->details, res->detail, sizeof res->detail);
    if (u->status == GRPC_STATUS_OK) {
        resp = u->resp_bb ? rpc_bb_decode(u->resp_bb, u->resp_desc, NULL, 0) : NULL;
        if (!resp) {
            res->code = RPC_INTERNAL;
            snprintf(res->detail, sizeof res->detail, "response is not a valid %s",
                     u->resp_desc->name);
        }
    } else if (!res->detail[0]) {
        snprintf(res->detail, sizeof res->detail, "%s", rpc_code_name(res->code));
    }
    if (u->req_bb)
        grpc_byte_buffer_destroy(u->req_bb);
    if (u->resp_bb)
        grpc_byte_buffer_destroy(u->resp_bb);
    grpc_metadata_array_destroy(&u->init_md);
    grpc_metadata_array_destroy(&u->trail_md);
    grpc_slice_unref(u->details);
    if (u->error_string)
        gpr_free((void *)u->error_string);
    if (u->call)
        grpc_call_unref(u->call);
    return resp;
}

int rpc_unary(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int timeout_ms,
              struct rpc_result *res)
{
    struct rpc_result local;
    if (!res)
        res = &local;
    *resp = NULL;
    if (protobuf_c_message_get_packed_size(req) > ch->opts.max_message) {
        res->code = RPC_RESOURCE_EXHAUSTED;
        snprintf(res->detail, sizeof res->detail, "request exceeds the %zu-byte limit",
                 ch->opts.max_message);
        return STELE_ERR_TOO_BIG;
    }
    struct unary u;
    memset(&u, 0, sizeof u);
    u.resp_desc = resp_desc;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    bool started = unary_start(ch, &u, method, req, cq, timeout_ms);
    if (started)
        grpc_completion_queue_pluck(cq, &u.tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    else
        u.status = GRPC_STATUS_INTERNAL;
    *resp = unary_finish(&u, res);
    if (!started)
        snprintf(res->detail, sizeof res->detail, "cannot start a call to %s", method);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    if (res->code == RPC_INTERNAL && u.status == GRPC_STATUS_OK)
        return STELE_ERR_MALFORMED;
    return rpc_status_from_code(res->code);
}

static void on_async_unary(struct rpc_tag *tag, bool ok)
{
    (void)ok;
    struct unary *u = (struct unary *)tag;
    struct rpc_result res;
    ProtobufCMessage *resp = unary_finish(u, &res);
    u->cb(u->arg, &res, resp);
    struct rpc_channel *ch = u->ch;
    free(u);
    pthread_mutex_lock(&ch->mu);
    if (--ch->async == 0)
        pthread_cond_broadcast(&ch->idle);
    pthread_mutex_unlock(&ch->mu);
}

int rpc_unary_async(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, rpc_unary_cb cb,
                    void *arg)
{
    if (protobuf_c_message_get_packed_size(req) > ch->opts.max_message)
        return STELE_ERR_TOO_BIG;
    struct unary *u = calloc(1, sizeof *u);
    if (!u)
        return STELE_ERR_NOMEM;
    u->tag.fn = on_async_unary;
    u->resp_desc = resp_desc;
    u->cb = cb;
    u->arg = arg;
    u->ch = ch;
    grpc_completion_queue *cq = channel_cq(ch);
    if (!cq) {
        free(u);
        return STELE_ERR_UNAVAILABLE;
    }
    pthread_mutex_lock(&ch->mu);
    ch->async++;
    pthread_mutex_unlock(&ch->mu);
    if (!unary_start(ch, u, method, req, cq, timeout_ms)) {
        pthread_mutex_lock(&ch->mu);
        ch->async--;
        pthread_mutex_unlock(&ch->mu);
        struct rpc_result res;
        u->status = GRPC_STATUS_INTERNAL;
        unary_finish(u, &res);
        free(u);
        return STELE_ERR_STATE;
    }
    return STELE_OK;
}

struct rpc_call *rpc_stream_open(struct rpc_channel *ch, const char *method, enum rpc_kind kind,
                                 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms)
{
    if (kind == RPC_UNARY)
        return NULL;
    struct rpc_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (rpc_call_init(c, true, ch->opts.stream_queue, ch->opts.stream_queue_bytes, true) !=
            STELE_OK ||
        !(c->arena = arena_create(0))) {
        rpc_call_free(c);
        return NULL;
    }
    c->ch = ch;
    c->kind = kind;
    c->recv_desc = resp_desc;
    c->max_msg = ch->opts.max_message;
    c->method = arena_strdup(c->arena, method);
    c->deadline = call_deadline(ch, timeout_ms);
    grpc_completion_queue *cq = channel_cq(ch);
    c->call = cq ? create_call(ch, method, cq, c->deadline) : NULL;
    if (!c->call) {
        rpc_call_free(c);
        return NULL;
    }
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = ch->opts.fail_fast ? 0 : GRPC_INITIAL_METADATA_WAIT_FOR_READY;
    ops[1].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[1].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[1].data.recv_status_on_client.status = &c->status;
    ops[1].data.recv_status_on_client.status_details = &c->status_details;
    ops[1].data.recv_status_on_client.error_string = &c->error_string;
    pthread_mutex_lock(&c->mu);
    c->refs++;
    if (grpc_call_start_batch(c->call, ops, 2, &c->tag_close, NULL) != GRPC_CALL_OK) {
        c->refs--;
        pthread_mutex_unlock(&c->mu);
        rpc_call_free(c);
        return NULL;
    }
    rpc_call_start_recv_locked(c);
    pthread_mutex_unlock(&c->mu);
    return c;
}

int rpc_call_close_send(struct rpc_call *c)
{
    if (!c->client)
        return STELE_ERR_STATE;
    pthread_mutex_lock(&c->mu);
    c->end_requested = true;
    rpc_call_maybe_end_locked(c);
    pthread_mutex_unlock(&c->mu);
    return STELE_OK;
}

void rpc_call_cancel(struct rpc_call *c)
{
    if (c->client)
        grpc_call_cancel(c->call, NULL);
}

/* Under mu: asks for the call's end and drops whatever still arrives, so a server blocked on
 * flow control can finish. */
static void let_go_locked(struct rpc_call *c)
{
    if (!c->end_requested) {
        c->end_requested = true;
        rpc_call_maybe_end_locked(c);
    }
    grpc_byte_buffer *bb;
    while ((bb = bbq_pop(&c->recvq)) != NULL)
        grpc_byte_buffer_destroy(bb);
    c->discard_recv = true;
    rpc_call_start_recv_locked(c);
}

int rpc_call_finish(struct rpc_call *c, bool cancel, struct rpc_result *res)
{
    if (cancel)
        grpc_call_cancel(c->call, NULL);
    pthread_mutex_lock(&c->mu);
    let_go_locked(c);
    while (!c->done || c->refs > 1)
        pthread_cond_wait(&c->cv, &c->mu);
    enum rpc_code code = c->code;
    if (res) {
        res->code = code;
        snprintf(res->detail, sizeof res->detail, "%s",
                 c->detail[0] || code == RPC_OK ? c->detail : rpc_code_name(code));
    }
    pthread_mutex_unlock(&c->mu);
    rpc_call_unref(c);
    return rpc_status_from_code(code);
}

void rpc_call_abandon(struct rpc_call *c)
{
    grpc_call_cancel(c->call, NULL);
    pthread_mutex_lock(&c->mu);
    c->broken = true;               /* nothing more is sent or read on it */
    rpc_call_drain_sendq_locked(c); /* what the other side never read goes now, not with it */
    let_go_locked(c);
    pthread_mutex_unlock(&c->mu);
    rpc_call_unref(c); /* the operations still pending hold theirs; the last one frees it */
}

void rpc_channel_close(struct rpc_channel *ch)
{
    if (!ch)
        return;
    if (ch->gc)
        grpc_channel_destroy(ch->gc); /* does not cancel calls in flight */
    pthread_mutex_lock(&ch->mu);
    while (ch->async)
        pthread_cond_wait(&ch->idle, &ch->mu);
    pthread_mutex_unlock(&ch->mu);
    if (ch->cq)
        rpc_shared_cq_release();
    for (int i = 0; i < ch->nmethods; i++)
        free(ch->methods[i].method);
    pthread_mutex_destroy(&ch->mu);
    pthread_cond_destroy(&ch->idle);
    free(ch->target);
    bool inited = ch->gc != NULL;
    free(ch);
    if (inited)
        grpc_shutdown();
}
