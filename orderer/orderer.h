/*
 * orderer.h — one ordering node: the chain, the intake checks, the consensus plug-in and the
 * gRPC services (stele.AtomicBroadcast, stele.Orderer, grpc.health.v1.Health, stele.Node).
 * main.c only loads the configuration, starts this and waits for SIGTERM.
 */
#ifndef STELE_ORDERER_ORDERER_H
#define STELE_ORDERER_ORDERER_H

#include "config.h"

struct orderer;
struct buf;

/* Loads the identity, opens (or creates from genesis) the chain, creates the plug-in and the
 * server from `cfg` (which must outlive the orderer). Nothing listens yet. Returns STELE_OK
 * with *out set, or an error with *errmsg (malloc'd). */
int orderer_create(const struct orderer_config *cfg, struct orderer **out, char **errmsg);

/* Starts consensus and the server. Returns STELE_OK or an error with *errmsg (malloc'd). */
int orderer_start(struct orderer *o, char **errmsg);

/* The TCP port served (after start). */
int orderer_port(const struct orderer *o);

/* Stops cleanly: health NOT_SERVING, Broadcast refuses new envelopes, consensus cuts and
 * writes what it accepted, Deliver streams end, in-flight calls get the grace period.
 * Idempotent. */
void orderer_stop(struct orderer *o);

/* Stops if needed and frees everything. Accepts NULL. */
void orderer_destroy(struct orderer *o);

/* The operations endpoint's callbacks (lib/ops/ops.h; `arg` is the started orderer): its
 * metrics (metrics.c; docs/METRICS.md lists them) and whether it serves. */
int orderer_metrics(void *arg, struct buf *out);
bool orderer_healthy(void *arg, char *why, size_t len);

#endif
