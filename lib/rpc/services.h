/*
 * services.h — the services every Stele daemon serves besides its own:
 *  - grpc.health.v1.Health (Check, Watch), the standard probe any gRPC tooling understands;
 *  - stele.Node/Info: node id, role, version, uptime.
 */
#ifndef STELE_RPC_SERVICES_H
#define STELE_RPC_SERVICES_H

#include "rpc/rpc.h"

#include <stdbool.h>
#include <stdint.h>

struct rpc_server;
struct rpc_result;
struct rpc_health;
struct rpc_node_service;

/* Creates the health state. The overall service "" starts SERVING; named services are
 * unknown (NOT_FOUND on Check) until set. NULL on OOM. */
struct rpc_health *rpc_health_create(void);
/* Frees it. Call after the server using it has stopped. Accepts NULL. */
void rpc_health_destroy(struct rpc_health *h);
/* Sets `service` ("" = the whole node) to SERVING or NOT_SERVING and wakes Watch streams.
 * Returns STELE_OK or STELE_ERR_NOMEM / STELE_ERR_LIMIT (too many services). */
int rpc_health_set(struct rpc_health *h, const char *service, bool serving);
/* Marks everything NOT_SERVING and ends Watch streams (before stopping the server). */
void rpc_health_shutdown(struct rpc_health *h);
/* Watch streams a server holds at once, counted apart from its max_streams: anybody may open
 * them and keep them open, so they must never take the streams its own services need; more
 * get UNAVAILABLE (Check still answers). */
#define RPC_HEALTH_WATCH_STREAMS 16

/* Registers Check and Watch on `s` (before rpc_server_start). `h` must outlive the server. */
int rpc_health_register(struct rpc_health *h, struct rpc_server *s);

/* What rpc_health_wait() last heard. */
enum rpc_health_state {
    RPC_HEALTH_UNREACHABLE,     /* no answer (not listening yet, refused, handshake failed) */
    RPC_HEALTH_SERVING,         /* SERVING */
    RPC_HEALTH_NOT_SERVING,     /* answered, not (or no longer) serving */
    RPC_HEALTH_UNKNOWN_SERVICE, /* answered NOT_FOUND for `service` */
};

/* Asks grpc.health.v1.Health/Check about `service` ("" = the node) at `target` until it
 * answers SERVING or `wait_ms` has passed (0 = ask once). Each attempt uses a fresh fail-fast
 * channel: a channel that failed to connect waits out gRPC's reconnect backoff (seconds),
 * while a new one connects as soon as the daemon listens. `give_up` (may be NULL) is asked
 * between attempts, e.g. whether the daemon already exited. `tls` (may be NULL: plaintext)
 * says how to dial. Returns the last state; `res`
 * (may be NULL) gets the last call's code and detail. */
enum rpc_health_state rpc_health_wait(const char *target, const struct rpc_tls *tls,
                                      const char *service, uint64_t wait_ms,
                                      bool (*give_up)(void *arg), void *arg,
                                      struct rpc_result *res);

/* Creates the Node/Info service state for a node named `node_id` with `role`; the strings are
 * copied and the uptime counts from now. NULL on OOM. */
struct rpc_node_service *rpc_node_service_create(const char *node_id, const char *role);
void rpc_node_service_destroy(struct rpc_node_service *n);
/* Registers stele.Node/Info on `s`. `n` must outlive the server. */
int rpc_node_service_register(struct rpc_node_service *n, struct rpc_server *s);

#endif
