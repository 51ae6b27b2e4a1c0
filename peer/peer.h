/*
 * peer.h — one committing peer (DESIGN §1, §6): joins its channel from the genesis block,
 * pulls blocks from the orderers, validates and commits them (ledger.h), and serves the
 * Query and Events services (proto/stele/peer.proto), health and Node/Info.
 */
#ifndef STELE_PEER_PEER_H
#define STELE_PEER_PEER_H

#include "config.h"

struct peer;
struct buf;

/* Loads the enrolment, opens (joining if empty) and recovers the ledger, and sets up the
 * server. `cfg` must outlive the peer. Returns STELE_OK with *out, or an error with *errmsg
 * (malloc'd) saying what is wrong and what to do. */
int peer_create(const struct peer_config *cfg, struct peer **out, char **errmsg);

/* Starts serving and pulling blocks. Returns STELE_OK or an error with *errmsg. */
int peer_start(struct peer *p, char **errmsg);

/* The port served. */
int peer_port(const struct peer *p);

/* Stops pulling blocks, ends Events streams and stops the server. Idempotent. */
void peer_stop(struct peer *p);

/* Stops and frees. Accepts NULL. */
void peer_destroy(struct peer *p);

/* The operations endpoint's callbacks (lib/ops/ops.h; `arg` is the started peer): its metrics
 * (metrics.c; docs/METRICS.md lists them) and whether it serves. */
int peer_metrics(void *arg, struct buf *out);
bool peer_healthy(void *arg, char *why, size_t len);

#endif
