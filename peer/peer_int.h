/* peer_int.h — the state shared by peer.c and the peer's services (intake.c, query.c,
 * events.c, reqauth.c). Not for use outside peer/. */
#ifndef STELE_PEER_PEER_INT_H
#define STELE_PEER_PEER_INT_H

#include "ledger/kvledger.h"
#include "peer.h"

#include "identity/enrolment.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct arena;
struct msp;
struct rpc_health;
struct rpc_node_service;
struct signed_request;

struct peer {
    const struct peer_config *cfg;       /* the configuration (not owned) */
    struct enrolment self;               /* the peer's key pair and identity record */
    char *org;                           /* the organisation of its identity */
    struct msp *msp;                     /* the channel organisations' CAs and CRLs */
    struct kvledger *ledger;             /* blocks and state */
    struct rpc_server *server;           /* gRPC */
    struct rpc_health *health;           /* grpc.health.v1.Health state */
    struct rpc_node_service *node;       /* stele.Node/Info state */
    char **orderers;                     /* addresses to pull blocks from (malloc'd) */
    size_t n_orderers;                   /* entries in orderers */
    pthread_t intake;                    /* the block puller */
    bool intake_running;                 /* intake was started */
    atomic_bool stopping;                /* peer_stop() began */
    atomic_uint_fast64_t orderer_height; /* the highest block number+1 seen from an orderer */
    bool stopped;                        /* peer_stop() finished */
};

/* Starts the thread that pulls blocks from the orderers and commits them (intake.c). */
int peer_intake_start(struct peer *p, char **errmsg);

/* Stops it (within one receive slice) and joins the thread. */
void peer_intake_stop(struct peer *p);

/* Registers stele.Query (query.c). */
int peer_query_register(struct peer *p, struct rpc_server *s);

/* Registers stele.Events (events.c). */
int peer_events_register(struct peer *p, struct rpc_server *s);

/* Checks a Query/Events request: `req` is the handler's SignedRequest; on success *body and
 * *len give the method's request bytes (in the call's arena). On refusal the gRPC error is
 * set on `call` and returned (reqauth.c). */
enum rpc_code peer_request_open(struct peer *p, struct rpc_call *call, const ProtobufCMessage *req,
                                const uint8_t **body, size_t *len);

#endif
