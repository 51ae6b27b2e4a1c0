/*
 * rpc_internal.h — shared between the files of lib/rpc; not for other modules.
 *
 * Every completion-queue tag is a `struct rpc_tag` whose `fn` the completion thread calls with
 * the event's success flag. A call (`struct rpc_call`) serves both sides: on the server it is
 * created when a posted request matches; on the client by rpc_stream_open(). All batches on a
 * call are started with the call's mutex held, which serialises them as the core requires, and
 * each outstanding batch holds a reference on the call.
 */
#ifndef STELE_RPC_INTERNAL_H
#define STELE_RPC_INTERNAL_H

#include "rpc/rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>

struct rpc_tag {
    void (*fn)(struct rpc_tag *tag, bool ok); /* run on the completion-queue thread */
};

/* The process's shared completion queue (client.c) and the one thread that runs its tags:
 * acquire takes a reference, creating both on the first (NULL, and no reference, when they
 * cannot be created); release drops one, and the last shuts the queue down, waits for the
 * thread to deliver what is pending, and destroys it (so the last release must not come from
 * that thread: it aborts). A tag on this queue must not block. */
grpc_completion_queue *rpc_shared_cq_acquire(void);
void rpc_shared_cq_release(void);

/* A FIFO of byte buffers (send or receive queue of a stream), bounded in count and in octets. */
struct bbq {
    grpc_byte_buffer **items; /* ring storage, `cap` slots */
    size_t cap, head, len;
    size_t bytes;     /* octets queued */
    size_t max_bytes; /* full at this many octets (one message of any size always fits) */
};

/* A method as registered on a server. */
struct rpc_method_entry {
    struct rpc_method m;
    void *handle; /* grpc_server_register_method's handle */
    int streams;  /* its streams running, when m.max_streams counts them apart (server mu) */
};

struct rpc_call {
    struct rpc_tag tag_end;   /* server: final status batch (or the single unary batch);
                                 client: unused */
    struct rpc_tag tag_send;  /* one SEND_MESSAGE (or SEND_CLOSE_FROM_CLIENT) at a time */
    struct rpc_tag tag_recv;  /* one RECV_MESSAGE at a time */
    struct rpc_tag tag_close; /* server: RECV_CLOSE_ON_SERVER; client: RECV_STATUS_ON_CLIENT */

    bool client;                  /* which side this call is */
    enum rpc_kind kind;           /* call shape */
    grpc_call *call;              /* the core call; unref'd when the call is freed */
    struct rpc_server *srv;       /* server side: owner */
    struct rpc_method_entry *me;  /* server side: the method (NULL for rejections) */
    struct rpc_channel *ch;       /* client side: owner */
    const char *method;           /* method path (server: from the entry or the details) */
    gpr_timespec deadline;        /* monotonic clock */
    grpc_metadata_array req_md;   /* server: request metadata; client: initial metadata */
    grpc_metadata_array trail_md; /* client: trailing metadata */
    grpc_call_details details;    /* server catch-all: method and host */
    grpc_byte_buffer *payload;    /* server unary/server-stream: the request bytes */
    struct arena *arena;          /* server: per-call memory */
    const ProtobufCMessageDescriptor *recv_desc; /* type of messages received */
    size_t max_msg;                              /* per-message cap for recv */
    size_t queue_cap;                            /* stream queue bound, each way */
    int idle_ms;                                 /* server: end after this long without a
                                                    message (the method's idle_ms; 0: never) */
    uint64_t last_recv_ms;                       /* server, with idle_ms: when a message last
                                                    arrived (or the stream began), mono ms */
    struct rpc_call *next;                       /* server: work-queue link */
    size_t queued;                               /* server: request octets while queued */

    pthread_mutex_t mu; /* guards everything below and batch starts */
    pthread_cond_t cv;  /* signalled on any state change below */
    int refs;           /* owner + one per outstanding batch */

    enum rpc_code code;     /* server: status to send; client: status received */
    char detail[256];       /* its detail text */
    ProtobufCMessage *resp; /* server unary/client-stream: the handler's response */

    struct bbq sendq;          /* messages waiting for the in-flight send */
    grpc_byte_buffer *send_bb; /* the in-flight send's buffer */
    bool send_inflight;        /* a tag_send batch is outstanding */
    bool end_requested;        /* server: status pending; client: half-close pending */
    bool end_started;          /* the status / half-close batch was started */
    bool send_waiting;         /* a sender sleeps on a full queue: wake it at half empty */
    uint64_t sends_done;       /* sends completed: a timed sender's sign the reader takes */

    struct bbq recvq;          /* received messages not yet read */
    grpc_byte_buffer *recv_bb; /* target of the in-flight receive */
    bool recv_inflight;        /* a tag_recv batch is outstanding */
    bool recv_md_requested;    /* client: RECV_INITIAL_METADATA was asked for */
    bool recv_eof;             /* the other side will send no more */
    bool discard_recv;         /* client finishing: drop what arrives, keep reading */
    size_t recv_want;          /* a reader sleeps until this many messages are queued (0: no
                                  reader waits); on_recv wakes it only then */

    rpc_inline_fn inline_fn;  /* rpc_call_serve_inline(): on_recv runs it (NULL: queue) */
    void *inline_arg;         /* its argument */
    struct buf *inline_reply; /* its reply buffer (the serving thread's) */
    bool inline_busy;         /* on_recv is inside inline_fn, mu released */
    bool inline_no_reply;     /* rpc_call_recv_inline(): fn never replies, reading never waits
                                 for send-queue room */
    int inline_rc;            /* inline_fn's error (or size/memory): the stream is over */

    bool done;                 /* the call is over (close / status received) */
    bool broken;               /* it ended abnormally: sends and receives fail */
    int close_cancelled;       /* server: RECV_CLOSE_ON_SERVER's result */
    grpc_status_code status;   /* client: RECV_STATUS_ON_CLIENT's result */
    grpc_slice status_details; /* client: its detail slice */
    const char *error_string;  /* client: debug string (gpr_free) */
};

/* ---- common.c ---- */
/* Turns off Abseil's debug-only mutex deadlock detector, which Debian's Abseil (built without
   NDEBUG) runs on every lock gRPC takes. Returns false, changing nothing, when the installed
   Abseil does not export the function under the name its headers imply. rpc_global_init()
   calls it once; calling it again is harmless. */
bool rpc_absl_deadlock_detection_off(void);
/* Once per process: route gRPC's own log lines into log.h, quiet them to errors, and turn
   Abseil's deadlock detector off. */
void rpc_global_init(void);
/* Runs a completion-queue loop: calls each completed tag's fn until the queue shuts down. */
void rpc_cq_run(grpc_completion_queue *cq);
/* Deadline `ms` from now on the monotonic clock; ms < 0 means none. */
gpr_timespec rpc_deadline_ms(int64_t ms);
/* Packs a message into a new byte buffer; NULL on OOM. */
grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg);
/* Decodes `bb` as `desc` (arena or malloc); NULL if it does not decode or exceeds max. */
ProtobufCMessage *rpc_bb_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                                struct arena *a, size_t max);
/* Checks the validity dates of the first certificate of PEM text `pem` (read from `path`):
 * not yet valid or expired fails with *errmsg set, saying when (a server would only fail its
 * handshakes); one that expires within 30 days is logged as a warning under `component`.
 * Returns 0 or -1. */
int rpc_check_cert_dates(const char *pem, const char *path, const char *component, char **errmsg);

/* Reads a whole PEM file into a malloc'd string; NULL with *errmsg on failure. */
char *rpc_read_pem(const char *path, const char *what, char **errmsg);
/* Sets *errmsg to a malloc'd formatted message (if errmsg is non-NULL). */
void rpc_set_err(char **errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies a slice into a C string buffer. */
void rpc_slice_to_str(grpc_slice s, char *out, size_t out_len);

int bbq_init(struct bbq *q, size_t cap, size_t max_bytes);
/* True when no message may be pushed: `cap` messages, or max_bytes octets, are queued. */
bool bbq_full(const struct bbq *q);
/* True when at most half of either bound is used (a blocked sender is woken then). */
bool bbq_half_empty(const struct bbq *q);
void bbq_release(struct bbq *q); /* destroys queued buffers */
bool bbq_push(struct bbq *q, grpc_byte_buffer *bb);
grpc_byte_buffer *bbq_pop(struct bbq *q);

/* ---- call.c: the streaming machinery shared by both sides ---- */
/* Initialises the fields common to both sides; refs = 1 (the owner). Streaming calls get
 * their send and receive queues of `queue_cap` messages. */
int rpc_call_init(struct rpc_call *c, bool client, size_t queue_cap, size_t queue_bytes,
                  bool streaming);
/* Drops one reference (mu must NOT be held); frees the call at zero. */
void rpc_call_unref(struct rpc_call *c);
/* Frees a call's resources (used by rpc_call_unref and by error paths). */
void rpc_call_free(struct rpc_call *c);
/* With mu held: starts the SEND_MESSAGE of `bb` (taking it); on failure the call is broken. */
void rpc_call_start_send_locked(struct rpc_call *c, grpc_byte_buffer *bb);
/* With mu held: starts a RECV_MESSAGE batch if allowed. */
void rpc_call_start_recv_locked(struct rpc_call *c);
/* With mu held: starts the end batch once the send queue has drained (status / half-close). */
void rpc_call_maybe_end_locked(struct rpc_call *c);
/* Drops the messages queued for sending (not the one in flight). Caller holds mu. */
void rpc_call_drain_sendq_locked(struct rpc_call *c);
/* Server: the status batch of a streaming call (defined in server.c). */
void rpc_server_start_status_locked(struct rpc_call *c);

#endif
