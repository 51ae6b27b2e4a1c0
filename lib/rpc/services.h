/*
 * services.h — the services every Stele daemon serves besides its own:
 *  - grpc.health.v1.Health (Check, Watch), the standard probe any gRPC tooling understands;
 *  - stele.Node/Info: node id, role, version, uptime.
 */
#ifndef STELE_RPC_SERVICES_H
#define STELE_RPC_SERVICES_H

#include <stdbool.h>

struct rpc_server;
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
/* Registers Check and Watch on `s` (before rpc_server_start). `h` must outlive the server. */
int rpc_health_register(struct rpc_health *h, struct rpc_server *s);

/* Creates the Node/Info service state for a node named `node_id` with `role`; the strings are
 * copied and the uptime counts from now. NULL on OOM. */
struct rpc_node_service *rpc_node_service_create(const char *node_id, const char *role);
void rpc_node_service_destroy(struct rpc_node_service *n);
/* Registers stele.Node/Info on `s`. `n` must outlive the server. */
int rpc_node_service_register(struct rpc_node_service *n, struct rpc_server *s);

#endif
