/*
 * bench.h — shared pieces of stele-bench: common options, scenario results and the report.
 *
 * Every workload measures one or more scenarios and prints either a human table or, with
 * --json, one JSON object: {"workload", "parameters", "throughput_per_s", "latency_ms":
 * {"p50","p99"}, "scenarios": [...], "machine"}. The top-level figures are the workload's
 * headline scenario.
 */
#ifndef STELE_BENCH_H
#define STELE_BENCH_H

#include "hist.h"

#include <stdbool.h>
#include <stdint.h>

struct bench_opts {
    double duration_s; /* per scenario */
    int clients;       /* concurrent callers for the headline scenario */
    bool json;
    const char *target;    /* an external server, or NULL to start one in-process */
    bool baseline;         /* rpc: also measure the raw gRPC core (no wrapper) */
    bool pool;             /* rpc: run Echo on the server's worker pool, not inline */
    const char *network;   /* order: a network directory from `stele-network up`, or NULL */
    const char *consensus; /* order without --network: "solo" (default) or "pbft" */
    double rate;           /* order: envelopes/s offered in total (0 = as fast as answered) */
};

struct bench_result {
    char name[48];   /* scenario name, e.g. "unary_16" */
    char unit[24];   /* what throughput counts: "calls", "messages" */
    int clients;     /* concurrency of this scenario */
    double seconds;  /* measured time */
    uint64_t ops;    /* operations completed */
    uint64_t errors; /* operations failed */
    struct hist lat; /* per-operation latency (empty for pure throughput scenarios) */
};

/* Parses --duration, --clients, --json, --target, --network from argv (other flags are left for the
 * workload and reported as usage errors by it). Returns 0, or 2 after printing usage. */
int bench_parse_common(int argc, char **argv, struct bench_opts *o, const char *usage);

/* Prints the report of `n` results; results[headline] gives the top-level figures. `extra`
 * is a JSON fragment of extra top-level keys (may be NULL), e.g. "\"bound_per_s\":12000". */
void bench_report(const char *workload, const struct bench_opts *o,
                  const struct bench_result *results, int n, int headline, const char *extra);

/* Opens a channel to `url` with options `o`; on failure prints why, prefixed by `prog`, and
 * returns NULL. */
struct rpc_channel;
struct rpc_channel_opts;
struct rpc_channel *bench_channel(const char *prog, const char *url,
                                  const struct rpc_channel_opts *o);

int bench_rpc(int argc, char **argv);
/* Runs the raw-core yardstick (core_baseline.c): fills out[0] (sequential) and out[1] (N in
 * flight). Returns 0, or -1 when its server cannot start. */
int bench_core_baseline(int clients, double secs, struct bench_result out[2]);
int bench_serve(int argc, char **argv);
int bench_ca(int argc, char **argv);
int bench_order(int argc, char **argv);
int bench_commit(int argc, char **argv);
/* `stele-bench submit` (submit_bench.c): through the gateways of a running network. */
int bench_submit(int argc, char **argv);

#endif
