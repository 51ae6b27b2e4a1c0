/*
 * bench_service.h — stele.Bench, the conformance and benchmark service (proto/stele/bench.proto).
 *
 * Echo answers the payload (or `response_size` bytes) after `sleep_ms`; Stream sends `count`
 * messages numbered from 0; Sink counts what it receives; Chat echoes each message. Served by
 * stele-bench and the rpc tests, never by a daemon.
 */
#ifndef STELE_RPC_BENCH_SERVICE_H
#define STELE_RPC_BENCH_SERVICE_H

struct rpc_server;

/* Registers the four methods on `s` (before start). Echo runs inline on the completion-queue
 * thread when `inline_echo` is non-zero, on the worker pool otherwise. */
int rpc_bench_service_register(struct rpc_server *s, int inline_echo);

#endif
