/*
 * server_int.h — what the server's files share (server.c: posting, dispatch, unary calls,
 * shutdown; server_stream.c: a thread per streaming call). Not for use outside lib/rpc.
 */
#ifndef STELE_RPC_SERVER_INT_H
#define STELE_RPC_SERVER_INT_H

#include "rpc/rpc_internal.h"

#include <stdatomic.h>
#include <stdbool.h>

/* A posted request waiting for an incoming call of one method (or of any, for the catch-all
 * that answers UNIMPLEMENTED). */
struct slot {
    struct rpc_tag tag;
    struct rpc_server *s;
    struct rpc_method_entry *me; /* NULL: catch-all */
    grpc_completion_queue *cq;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;
    grpc_call_details details;
};

struct cq_thread {
    struct rpc_server *s;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool shared; /* the process's shared queue (rpc_shared_cq_acquire): no thread of ours */
};

struct rpc_server {
    struct rpc_server_opts opts; /* copy; strings below are owned duplicates */
    char *listen, *component;
    char *tls_cert, *tls_key, *tls_ca; /* PEM contents */
    grpc_server *gs;
    struct cq_thread *cqs;
    int ncq;
    grpc_completion_queue *shutdown_cq;
    struct rpc_method_entry *methods;
    size_t nmethods;

    pthread_t *workers;
    int nworkers;
    pthread_mutex_t mu;     /* guards the job queue and the counters below */
    pthread_cond_t cv;      /* workers wait here for a job, and nothing else does */
    pthread_cond_t drained; /* rpc_server_stop() waits here for the counters to reach 0 */
    struct rpc_call *jobs_head, *jobs_tail;
    size_t queued_bytes; /* request octets of the calls in the job queue */
    bool pool_stop;
    int live_calls;     /* calls not yet freed */
    int posted;         /* request slots whose tag has not come back (on_slot) */
    int stream_threads; /* streaming handlers running */
    int pooled_streams; /* of them, those counted against opts.max_streams */

    atomic_bool stopping;
    bool started, stopped;
    int port;
    atomic_ullong n_calls, n_errors, n_unimpl;
};

/* Sets the call's status code, and its detail to the code's name when it has none. */
void rpc_server_set_status(struct rpc_call *c, enum rpc_code code);
/* Answers a call at once with an error status (detail: fmt with arg) and drops the owner
 * reference. */
void rpc_server_reject(struct rpc_call *c, enum rpc_code code, const char *fmt, const char *arg);
/* Decodes the call's request into its arena, checked against the method's size cap: true with
 * *req, or false with the call's error set (RESOURCE_EXHAUSTED, INVALID_ARGUMENT). */
bool rpc_server_check_payload(struct rpc_call *c, const ProtobufCMessage **req);
/* Starts a streaming call on a thread of its own (server_stream.c), or rejects it with
 * UNAVAILABLE when its method's streams (or the server's) are all taken. Takes the owner
 * reference. */
void rpc_server_start_stream(struct rpc_call *c);

#endif
