/*
 * ops.h — a daemon's operations endpoint (DESIGN §9): plain HTTP/1.1 on its own address,
 * apart from the gRPC services, for monitoring systems and load balancers:
 *
 *   GET /metrics   the daemon's metrics in the Prometheus text format (version 0.0.4)
 *   GET /healthz   200 {"status":"OK"} when the daemon serves, 503 {"status":"...",...} not
 *
 * Anything else is answered 404 (another path), 405 (another method), 414 (a path of 256
 * octets or more) or 400 (not HTTP); a request line and headers over OPS_MAX_REQUEST octets get
 * 431; HEAD gets the headers only. One thread serves up to 32 connections at once in a poll
 * loop and closes each after its answer (lingering briefly to read what the client sent beyond
 * its request, so that the close does not reset the answer away). A client gets
 * OPS_IO_TIMEOUT_MS to send its request and to take the answer; one that stalls holds only its
 * own connection, and with all 32 taken (or no descriptor left) the oldest connection already
 * answered gives way to a new one, else the oldest still sending its request.
 * There is no TLS and no authentication: bind it to 127.0.0.1 or a management network
 * (docs/METRICS.md).
 *
 * The metrics are written at each scrape by the daemon's collect function with
 * ops_family() and ops_sample(): counters it keeps anyway, read when asked, so that serving
 * metrics costs nothing between scrapes.
 */
#ifndef STELE_OPS_OPS_H
#define STELE_OPS_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define OPS_MAX_REQUEST   8192
#define OPS_IO_TIMEOUT_MS 2000

/* ---- the Prometheus text format ---------------------------------------------------------- */

enum ops_type { OPS_COUNTER, OPS_GAUGE, OPS_HISTOGRAM };

/* Appends the "# HELP" and "# TYPE" lines of metric `name` (letters, digits, '_', ':'; a
 * counter's ends in "_total"). Every sample of `name` must follow before the next family.
 * Returns STELE_OK or STELE_ERR_NOMEM. */
int ops_family(struct buf *out, const char *name, enum ops_type type, const char *help);

/* A family of one sample without labels: ops_family() and ops_sample(). */
int ops_metric(struct buf *out, const char *name, enum ops_type type, const char *help, double v);

/* Appends one sample of `name`: without labels when `label` is NULL, else with the one label
 * label="value" (value escaped as the format wants). Returns STELE_OK or STELE_ERR_NOMEM. */
int ops_sample(struct buf *out, const char *name, const char *label, const char *value, double v);

/* A histogram of durations: how many observations fell at or below each bound (seconds,
 * ascending, at most OPS_HIST_MAX), their sum and their count. Observing is a few relaxed
 * atomic adds, no lock, from any thread; a scrape reads it while observations go on, so a
 * sample may count an observation its sum does not have yet (the buckets and the count always
 * agree). Zero it (or ops_hist_init()) before use; never freed. */
#define OPS_HIST_MAX 16
struct ops_hist {
    const double *bounds; /* static */
    size_t n;
    _Atomic(uint64_t) in[OPS_HIST_MAX + 1]; /* observations in each bucket alone; [n]: above all */
    _Atomic(uint64_t) sum_us;               /* their sum, in microseconds */
};

/* The bounds every Stele latency histogram uses, in seconds: 1 ms to 10 s. */
extern const double ops_latency_bounds[];
extern const size_t ops_latency_n;

/* Sets the bounds (static, ascending, n <= OPS_HIST_MAX) and zeroes the counts. */
void ops_hist_init(struct ops_hist *h, const double *bounds, size_t n);
/* Counts one observation of `us` microseconds. Thread-safe. */
void ops_hist_observe_us(struct ops_hist *h, uint64_t us);
/* Appends histogram `name` (HELP, TYPE histogram, name_bucket{le=...} cumulative up to "+Inf",
 * name_sum in seconds, name_count). Returns STELE_OK or STELE_ERR_NOMEM. */
int ops_histogram(struct buf *out, const char *name, const char *help, struct ops_hist *h);

/* Appends the process metrics Prometheus clients conventionally export, read from /proc/self:
 * process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds, process_threads. A value
 * that cannot be read is left out. Returns STELE_OK or STELE_ERR_NOMEM. */
int ops_process_metrics(struct buf *out);

/* ---- requests ------------------------------------------------------------------------------ */

enum ops_method { OPS_GET, OPS_HEAD, OPS_OTHER_METHOD };

struct ops_request {
    bool complete; /* the headers ended: the rest is filled */
    enum ops_method method;
    char path[256]; /* the target's path, without its query; NUL-terminated */
};

/* Reads the request in the `len` octets at `data` (untrusted: what a client sent so far).
 * Returns STELE_OK with out->complete false while the headers have not ended (an empty line
 * ends them) and it may still be a request, and true with *out filled once they have;
 * STELE_ERR_MALFORMED when this is not an HTTP/1.x request (answered 400); STELE_ERR_LIMIT
 * when the headers do not end within OPS_MAX_REQUEST octets (431); STELE_ERR_TOO_BIG when the
 * path is longer than out->path holds (414). */
int ops_parse_request(const uint8_t *data, size_t len, struct ops_request *out);

/* ---- the endpoint ---------------------------------------------------------------------------- */

/* Writes the daemon's metrics into `out`; returns STELE_OK, or an error status (answered
 * 500). Called on the endpoint's thread, one scrape at a time. */
typedef int (*ops_collect_fn)(void *arg, struct buf *out);
/* True when the daemon serves; false with a reason (NUL-terminated, at most `len` octets)
 * otherwise. Called on the endpoint's thread. */
typedef bool (*ops_health_fn)(void *arg, char *why, size_t len);

struct ops_server_opts {
    const char *listen;    /* host:port ("127.0.0.1:9443"; port 0: any free one) */
    const char *component; /* log component ("peer-ops") */
    ops_collect_fn collect;
    ops_health_fn health; /* NULL: always healthy */
    void *arg;            /* passed to both */
};

struct ops_server;

/* Listens on o->listen and starts serving on a thread of its own. Returns STELE_OK with *out,
 * or an error with *errmsg (free()): the address does not parse, or cannot be bound. */
int ops_server_start(const struct ops_server_opts *o, struct ops_server **out, char **errmsg);

/* The port it listens on (the one chosen when o->listen asked for port 0). */
int ops_server_port(const struct ops_server *s);

/* Stops serving (an answer being written is cut short), joins its thread and frees it.
 * Accepts NULL. */
void ops_server_stop(struct ops_server *s);

#endif
