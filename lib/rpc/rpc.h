/*
 * rpc.h — the one wrapper over the gRPC C core that every Stele program uses.
 *
 * Servers register handlers by full method name ("/stele.Node/Info") for the four gRPC call
 * shapes. Completion-queue threads (one by default, or the one the process's client calls use)
 * accept calls and move bytes; handlers run off those threads: unary handlers on a fixed pool
 * of worker threads, streaming handlers on a thread of their own for the life of the stream,
 * so a handler may block. Sends on a stream are queued and chained by the completion-queue
 * thread; a sender blocks only when its queue is full (back-pressure from HTTP/2 flow
 * control). Receives are read ahead into a bounded queue.
 *
 * Every call has a deadline; every server caps message size; a request that does not decode
 * as the method's message type is answered INVALID_ARGUMENT with a detail naming the type;
 * unknown methods get UNIMPLEMENTED at once. Stopping a server lets in-flight calls finish for
 * a grace period, then cancels what remains; handlers see rpc_call_send/recv fail with
 * STELE_ERR_CANCELLED and return.
 *
 * Clients open a channel to "HOST:PORT" and make blocking unary calls, asynchronous unary
 * calls (completion callback), or open streams they drive with the same send/recv calls as
 * server handlers. By default calls wait for the server to become ready (up to their
 * deadline), so components may start in any order; `fail_fast` channels report an unreachable
 * server (refused connection, failed TLS handshake) at once instead.
 *
 * Status: functions return a stele status (base/status.h); the gRPC status code and its
 * detail travel in `struct rpc_result`.
 */
#ifndef STELE_RPC_RPC_H
#define STELE_RPC_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Octets a stream queues each way by default, besides the message count: enough for a few
 * full blocks, so that 256 queued blocks of a reader that stopped reading (or read ahead for a
 * handler that is busy) do not pin gigabytes. */
#define RPC_STREAM_QUEUE_BYTES (8u << 20)

struct arena;
struct buf;
struct rpc_server;
struct rpc_channel;
struct rpc_call;

/* gRPC status codes (the same numbers as on the wire). */
enum rpc_code {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_UNKNOWN = 2,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_ALREADY_EXISTS = 6,
    RPC_PERMISSION_DENIED = 7,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_FAILED_PRECONDITION = 9,
    RPC_ABORTED = 10,
    RPC_OUT_OF_RANGE = 11,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
    RPC_DATA_LOSS = 15,
    RPC_UNAUTHENTICATED = 16,
};

/* Name of a code ("INVALID_ARGUMENT"), static. */
const char *rpc_code_name(enum rpc_code code);
/* Maps a stele status to the gRPC code a handler should answer, and back. */
enum rpc_code rpc_code_from_status(int status);
int rpc_status_from_code(enum rpc_code code);

/* The four call shapes. */
enum rpc_kind {
    RPC_UNARY,         /* one request, one response */
    RPC_SERVER_STREAM, /* one request, a stream of responses */
    RPC_CLIENT_STREAM, /* a stream of requests, one response */
    RPC_BIDI_STREAM,   /* streams both ways */
};

/* Outcome of a client call: the gRPC code and the server's detail text. Caller-owned. */
struct rpc_result {
    enum rpc_code code;
    char detail[256]; /* NUL-terminated, possibly truncated */
};

/* TLS material, as PEM file paths. All NULL = plaintext. */
struct rpc_tls {
    const char *cert_file;   /* our certificate chain (server; or client for mutual TLS) */
    const char *key_file;    /* its private key (PKCS#8 or SEC 1 PEM) */
    const char *ca_file;     /* server: client CAs to require (mutual TLS); client: roots */
    const char *server_name; /* client: name to expect in the server certificate (override) */
};

/* Reads every file `tls` names (each a PEM file) and checks the certificate's dates, as a
 * server (`server`) or a client made with it would at start: a daemon calls it first so that a
 * missing, unreadable or expired file is its operator's to fix (STELE_ERR_CONFIG, *errmsg
 * naming the file; malloc'd, errmsg may be NULL) rather than a failure to start. Returns
 * STELE_OK (also when `tls` names nothing). A certificate expiring within 30 days is logged
 * under `component`. */
int rpc_tls_check(const struct rpc_tls *tls, bool server, const char *component, char **errmsg);

/* ------------------------------------------------------------------------------------------ */
/* Server                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * A handler. It runs on a worker thread (unary) or on the stream's own thread (streams) and
 * may block.
 *  - RPC_UNARY, RPC_SERVER_STREAM: `req` is the decoded request, valid until the handler
 *    returns (it lives in the call's arena).
 *  - RPC_CLIENT_STREAM, RPC_BIDI_STREAM: `req` is NULL; read requests with rpc_call_recv().
 *  - RPC_UNARY, RPC_CLIENT_STREAM: set `*resp` to the response before returning RPC_OK. It
 *    must stay valid after return: allocate it (and what it points to) in rpc_call_arena(), or
 *    point at static data. The wrapper packs it.
 *  - Streams that send use rpc_call_send().
 * Return RPC_OK, or an error code — preferably through rpc_call_error(), which also sets the
 * detail text the client sees.
 */
typedef enum rpc_code (*rpc_handler_fn)(struct rpc_call *call, const ProtobufCMessage *req,
                                        ProtobufCMessage **resp, void *arg);

/* Method flags. */
#define RPC_METHOD_INLINE                                          \
    0x1u /* unary handler is cheap and never blocks: run it on the \
            completion-queue thread, skipping the pool hand-off */

/* One method of a service. The server copies the struct; `path` and the descriptor must stay
 * valid for the server's life (they are normally static). */
struct rpc_method {
    const char *path;                          /* "/package.Service/Method" */
    enum rpc_kind kind;                        /* call shape */
    const ProtobufCMessageDescriptor *request; /* request message type */
    rpc_handler_fn handler;                    /* see rpc_handler_fn */
    void *arg;                                 /* passed to the handler */
    unsigned flags;                            /* RPC_METHOD_* */
    size_t max_request;                        /* per-message cap in bytes; 0 = server cap */
    int max_streams; /* streams of this method at once, counted apart from the server's
                        max_streams (0: it shares those): so that clients' streams can never
                        take what another service needs (an orderer's Cluster links) */
    int idle_ms;     /* a client or bidi stream that receives nothing for this long ends: its
                        handler's rpc_call_recv() without a timeout, or rpc_call_serve_inline(),
                        returns STELE_ERR_TIMEOUT (0: never) */
};

struct rpc_server_opts {
    const char *listen;        /* "127.0.0.1:7050"; port 0 picks a free one */
    int cq_threads;            /* completion-queue threads of its own; 0 = 1 */
    bool shared_queue;         /* serve on the process's shared completion queue and thread, the
                                  ones its channels use, instead (cq_threads is ignored): for a
                                  process that serves and calls at once (a peer's gateway), it
                                  spares gRPC's poller a hand-over to the other thread for nearly
                                  every event. Not for a server whose inline handlers are heavy
                                  (the orderer's Broadcast checks signatures there): its channels'
                                  completions would wait behind them. */
    int workers;               /* unary handler threads; 0 = number of cores */
    int max_streams;           /* concurrent streaming calls; 0 = 1024; more get UNAVAILABLE */
    size_t max_message;        /* receive and send cap in bytes; 0 = 4 MiB */
    size_t stream_queue;       /* messages a stream may queue each way; 0 = 256 */
    size_t stream_queue_bytes; /* and octets (at least one message whatever its size): a reader
                                  that stops reading pins no more; 0 = RPC_STREAM_QUEUE_BYTES */
    struct rpc_tls tls;        /* server certificate, and client CA for mutual TLS */
    const char *component;     /* log component name; NULL = "rpc" */
};

/* Creates a server (not yet listening). Returns NULL on failure with *errmsg set (malloc'd,
 * caller frees; errmsg may be NULL). `opts` is copied; its strings must stay valid until
 * rpc_server_start() returns. */
struct rpc_server *rpc_server_create(const struct rpc_server_opts *opts, char **errmsg);

/* Registers methods; only before rpc_server_start(). Returns STELE_OK, STELE_ERR_EXISTS for a
 * path registered twice, or STELE_ERR_STATE after start. */
int rpc_server_add(struct rpc_server *s, const struct rpc_method *methods, size_t n);

/* Binds, starts accepting calls. Returns STELE_OK, or an error with *errmsg set (e.g. the
 * address is in use, a TLS file is unreadable). */
int rpc_server_start(struct rpc_server *s, char **errmsg);

/* The TCP port the server listens on (useful with port 0), or 0 before start. */
int rpc_server_port(const struct rpc_server *s);

/* Stops accepting calls, lets in-flight calls finish for `grace_ms`, cancels the rest, waits
 * for every handler to return. Idempotent; safe to call from any thread but a handler. */
void rpc_server_stop(struct rpc_server *s, int grace_ms);

/* Stops (with a 1 s grace) if needed and frees the server. Accepts NULL. */
void rpc_server_destroy(struct rpc_server *s);

/* Counters for metrics (monotonic since start). */
struct rpc_server_stats {
    uint64_t calls;          /* calls accepted, all methods */
    uint64_t errors;         /* calls answered with a non-OK code */
    uint64_t unimplemented;  /* calls to unknown methods */
    uint64_t active_streams; /* streaming calls in progress now */
};
void rpc_server_get_stats(struct rpc_server *s, struct rpc_server_stats *out);
/* Appends those counters in the Prometheus text format (lib/ops/ops.h): stele_grpc_calls_total,
 * stele_grpc_errors_total, stele_grpc_unimplemented_total, stele_grpc_active_streams.
 * Returns STELE_OK or STELE_ERR_NOMEM. */
int rpc_server_metrics(struct rpc_server *s, struct buf *out);

/* ------------------------------------------------------------------------------------------ */
/* Inside a call (server handlers and client streams)                                          */
/* ------------------------------------------------------------------------------------------ */

/* The call's arena: freed when the call ends. */
struct arena *rpc_call_arena(struct rpc_call *call);

/* Sets the status detail the client will see and returns `code`, so a handler can write
 * `return rpc_call_error(call, RPC_NOT_FOUND, "no block %llu", n);`. */
enum rpc_code rpc_call_error(struct rpc_call *call, enum rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queues `msg` for sending. Blocks while the call's send queue is full. Returns STELE_OK,
 * STELE_ERR_CANCELLED when the call ended (client gone, deadline, server stopping), or
 * STELE_ERR_TOO_BIG when the message exceeds the size cap. `msg` is packed before return;
 * the caller keeps ownership. Not for unary calls. */
int rpc_call_send(struct rpc_call *call, const ProtobufCMessage *msg);

/* Like rpc_call_send() but waits for room in the send queue only while the other side takes
 * something at least every `timeout_ms` (-1: as long as it takes): STELE_ERR_TIMEOUT, with
 * nothing sent, once it took nothing for that long (the last message of a stream whose reader
 * may have stopped reading). A slow reader that keeps taking is waited for. */
int rpc_call_send_wait(struct rpc_call *call, const ProtobufCMessage *msg, int timeout_ms);

/* Like rpc_call_send() for a message already serialized: the `len` octets at `data` (copied)
 * are sent exactly as they are. */
int rpc_call_send_bytes(struct rpc_call *call, const uint8_t *data, size_t len);

/* Like rpc_call_send_bytes() but never waits: STELE_ERR_LIMIT, with nothing sent, when the
 * send queue is full (the other side is not reading). */
int rpc_call_try_send_bytes(struct rpc_call *call, const uint8_t *data, size_t len);

/* Like rpc_call_send_bytes() but waits for room in the send queue only while the other side
 * takes something at least every `timeout_ms` (-1: as long as it takes): STELE_ERR_TIMEOUT,
 * with nothing sent, once it took nothing for that long. For a
 * sender that must look up now and then while its reader takes nothing (a Deliver stream
 * re-checks its reader). */
int rpc_call_send_bytes_wait(struct rpc_call *call, const uint8_t *data, size_t len,
                             int timeout_ms);

/* Waits for the next message from the other side, up to `timeout_ms` (-1 = until the call
 * ends). Returns STELE_OK with *msg set (malloc'd: free with pb_free(), or in the call arena
 * on the server when `in_arena` is true), STELE_ERR_NOT_FOUND when the other side finished
 * sending (end of stream), STELE_ERR_TIMEOUT, STELE_ERR_CANCELLED when the call ended, or
 * STELE_ERR_MALFORMED when the bytes did not decode (the message is dropped).
 * On a server, a client that cancels at that very moment may first look like an end of stream
 * (the gRPC core completes the pending read before it reports the cancellation, as C++'s
 * Read()/IsCancelled() pair does); rpc_call_cancelled() turns true moments later. A handler
 * that must not act on a truncated stream checks it before committing, or frames its data. */
int rpc_call_recv(struct rpc_call *call, ProtobufCMessage **msg, int timeout_ms, bool in_arena);

/* Waits until at least `count` received messages are queued for rpc_call_recv() (`count` is
 * capped at the stream's queue size), the other side ended the stream, the call ended, or
 * `timeout_ms` passed (-1: no limit). Returns how many are queued, possibly 0; the receives
 * that follow report an end or failure as usual. A reader that takes its messages in batches
 * this way is woken once per batch instead of once per message. One reader at a time. */
size_t rpc_call_recv_wait(struct rpc_call *call, size_t count, int timeout_ms);

/* Like rpc_call_recv() but appends the message's exact octets to `out` (caller-owned) without
 * decoding them: for handlers that must keep what the client sent byte for byte (a Broadcast
 * envelope goes into a block as sent). Returns STELE_OK, STELE_ERR_NOT_FOUND (end of stream),
 * STELE_ERR_TIMEOUT, STELE_ERR_CANCELLED, STELE_ERR_TOO_BIG or STELE_ERR_NOMEM. */
int rpc_call_recv_bytes(struct rpc_call *call, struct buf *out, int timeout_ms);

/*
 * Serves the rest of a server's bidirectional stream on the completion-queue thread instead
 * of the handler's: `fn` is called there for each message received, in order, with its raw
 * octets, and `reply` cleared; it puts the octets to send back in `reply` and returns
 * STELE_OK to go on, or an error to end the stream. An empty `reply` sends nothing (so a
 * message that packs to zero octets cannot be a reply). Nothing else may send on the call
 * meanwhile. `fn` must not
 * block: every call on that completion queue waits while it runs. Messages already read ahead
 * are handled first, on the calling thread. A client that stops reading its replies stops the
 * reading of its messages once the send queue is full.
 * Returns when the stream ends and no call of `fn` is running: STELE_ERR_NOT_FOUND at the
 * client's end of stream (or a cancel the core first reports as one, as for rpc_call_recv()),
 * STELE_ERR_CANCELLED when the call broke, STELE_ERR_TOO_BIG for a
 * message or reply over the size cap, STELE_ERR_NOMEM, or fn's error. STELE_ERR_STATE on
 * anything but a server bidirectional stream. Saves rpc_call_recv()'s thread hand-off per
 * message, for handlers whose work per message is short and never waits.
 */
typedef int (*rpc_inline_fn)(void *arg, const uint8_t *data, size_t len, struct buf *reply);
int rpc_call_serve_inline(struct rpc_call *call, rpc_inline_fn fn, void *arg);

/*
 * The client's counterpart: reads the rest of a client stream (bidirectional or server
 * streaming) on the completion-queue thread, calling `fn` there for each message received, in
 * order, with `reply` cleared (messages already read ahead go first, on the calling thread);
 * `fn` must leave `reply` empty (a reply ends the stream with STELE_ERR_STATE) and must not
 * block. Other threads may keep sending on the call meanwhile
 * with rpc_call_send(): reading never waits for the send queue. Returns, as
 * rpc_call_serve_inline(), when the stream ends and no call of `fn` is running:
 * STELE_ERR_NOT_FOUND at the server's end of stream (or a cancel the core first reports as
 * one), STELE_ERR_CANCELLED when the call broke (rpc_call_cancel() from another thread ends it
 * so), STELE_ERR_TOO_BIG, STELE_ERR_NOMEM or
 * fn's error; STELE_ERR_STATE on a server's call or a client-streaming one. Finish the call
 * with rpc_call_finish() afterwards. Saves waking a reader thread per message.
 */
int rpc_call_recv_inline(struct rpc_call *call, rpc_inline_fn fn, void *arg);

/* True once the call has ended abnormally (client cancelled, deadline, disconnect). */
bool rpc_call_cancelled(struct rpc_call *call);

/* Milliseconds left before the call's deadline (INT64_MAX when it has none). */
int64_t rpc_call_remaining_ms(struct rpc_call *call);

/* The method path, e.g. "/stele.Node/Info". */
const char *rpc_call_method(struct rpc_call *call);

/* Server side with TLS: copies the client certificate's common name into `out` and returns
 * STELE_OK, or STELE_ERR_NOT_FOUND without mutual TLS. */
int rpc_call_peer_cn(struct rpc_call *call, char *out, size_t out_len);

/* ------------------------------------------------------------------------------------------ */
/* Client                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct rpc_channel_opts {
    size_t max_message;        /* receive cap in bytes; 0 = 4 MiB */
    int timeout_ms;            /* default deadline for calls given timeout_ms = 0; 0 = 10 s */
    size_t stream_queue;       /* messages a stream may queue each way; 0 = 256 */
    size_t stream_queue_bytes; /* and octets (at least one message); 0 = RPC_STREAM_QUEUE_BYTES */
    bool fail_fast;            /* fail at once with UNAVAILABLE (and the reason) when the server
                                  cannot be reached, instead of waiting for it until the deadline:
                                  for command-line tools; daemons leave it false */
    struct rpc_tls tls;        /* roots (ca_file), optional client certificate, name override */
};

/* Opens a channel to `target` ("127.0.0.1:7050"); the connection is made lazily. `opts` may
 * be NULL. Returns NULL with *errmsg set on failure (unreadable TLS files). */
struct rpc_channel *rpc_channel_open(const char *target, const struct rpc_channel_opts *opts,
                                     char **errmsg);
/* Closes the channel. Every stream on it must have finished; for asynchronous unary calls
 * still in flight it waits until their callbacks have run (a call still connecting waits out
 * its deadline). Not from a completion callback. Accepts NULL. */
void rpc_channel_close(struct rpc_channel *ch);

/* The channel's target string. */
const char *rpc_channel_target(const struct rpc_channel *ch);

/* Blocking unary call. On RPC_OK, *resp is the decoded response (free with pb_free()).
 * Returns STELE_OK or the stele status matching the gRPC code (STELE_ERR_MALFORMED if the
 * response did not decode as `resp_desc`); `res` (may be NULL) gets code and detail.
 * timeout_ms = 0 uses the channel default. Thread-safe: many threads may call at once. */
int rpc_unary(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int timeout_ms,
              struct rpc_result *res);

/* Completion of an asynchronous unary call. Runs on the completion thread that every channel
 * of the process shares: keep it short and never wait in it for another call. `resp` is NULL
 * unless res->code is RPC_OK; the callback owns it (pb_free()). */
typedef void (*rpc_unary_cb)(void *arg, const struct rpc_result *res, ProtobufCMessage *resp);

/* Starts an asynchronous unary call; `cb` runs exactly once, also when starting failed after
 * this function returned STELE_OK (and never when it returned an error). Returns STELE_OK,
 * STELE_ERR_TOO_BIG (the request exceeds the channel's max_message), STELE_ERR_NOMEM,
 * STELE_ERR_STATE, or STELE_ERR_UNAVAILABLE when the client completion thread cannot be
 * started. */
int rpc_unary_async(struct rpc_channel *ch, const char *method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, rpc_unary_cb cb,
                    void *arg);

/* Opens a streaming call of `kind` (any but RPC_UNARY) whose responses are `resp_desc`
 * messages. timeout_ms = -1 means no deadline (long-lived streams such as Deliver), 0 the
 * channel default. Use rpc_call_send(), rpc_call_close_send(), rpc_call_recv() on it, then
 * rpc_call_finish(). Returns NULL on OOM. */
struct rpc_call *rpc_stream_open(struct rpc_channel *ch, const char *method, enum rpc_kind kind,
                                 const ProtobufCMessageDescriptor *resp_desc, int timeout_ms);

/* Client side: no more messages will be sent (half-close), after the queued ones. */
int rpc_call_close_send(struct rpc_call *call);

/* Client side: cancels the call (CANCELLED to both sides). Safe from any thread. */
void rpc_call_cancel(struct rpc_call *call);

/* Client side: waits for the call's status and frees the call. Cancels it first if
 * `cancel` is true. Returns the stele status of the final code; `res` gets code and detail. */
int rpc_call_finish(struct rpc_call *call, bool cancel, struct rpc_result *res);

/* Client side: cancels the call and lets go of it without waiting for it to wind down, for a
 * call whose server may never answer (a hung process keeps a send in flight, and
 * rpc_call_finish() would wait for it). The call frees itself once the gRPC core has finished
 * with it; `call` must not be used afterwards. */
void rpc_call_abandon(struct rpc_call *call);

#endif
