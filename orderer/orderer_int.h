/* orderer_int.h — the state shared by orderer.c and the service handlers (broadcast.c,
 * deliver.c). Not for use outside orderer/. */
#ifndef STELE_ORDERER_ORDERER_INT_H
#define STELE_ORDERER_ORDERER_INT_H

#include "auth.h"
#include "chain.h"
#include "consensus/consensus.h"
#include "intake.h"
#include "orderer.h"

#include "identity/enrolment.h"
#include "rpc/rpc.h"

#include <stdatomic.h>

struct quota;
#include <stdbool.h>

struct rpc_health;
struct rpc_node_service;

/* Deliver requests an orderer remembers to refuse them sent again (identity/replay.h): ~1.5 MiB;
 * at 70 Deliver requests a second a request may lag the orderer's clock by up to 15 minutes. */
#define ORDERER_DELIVER_REPLAYS (1u << 16)

/* Broadcast envelopes answered (broadcast.c), for the operations endpoint (metrics.c): one
 * relaxed atomic add per envelope, no lock; read with relaxed loads at each scrape. Zeroed with
 * the orderer; never reset. */
struct orderer_counts {
    atomic_uint_fast64_t accepted;  /* SUCCESS: handed to consensus */
    atomic_uint_fast64_t duplicate; /* CONFLICT: its tx_id is in flight or in a block already */
    atomic_uint_fast64_t refused;   /* any other status */
};

struct orderer {
    const struct orderer_config *cfg;     /* the configuration (not owned) */
    struct enrolment self;                /* the orderer's key pair and identity record */
    struct orderer_auth *auth;            /* membership checks */
    struct envcache *checked;             /* Broadcast envelopes checked before (envcache.h) */
    struct intake intake;                 /* envelope checks (points at cfg and auth) */
    struct chain *chain;                  /* block store and notifications */
    struct consensus *consensus;          /* the plug-in */
    struct rpc_server *server;            /* gRPC */
    struct rpc_health *health;            /* grpc.health.v1.Health state */
    struct rpc_node_service *node;        /* stele.Node/Info state */
    struct quota *deliver_streams;        /* Deliver streams open, by reader */
    struct replay_cache *deliver_replays; /* Deliver requests taken, by tx_id (taken once) */
    struct orderer_counts counts;         /* for the metrics (metrics.c) */
    atomic_bool stopping;                 /* orderer_stop() began */
    atomic_bool chain_failed;             /* a block could not be appended: orders no more */
    bool started;                         /* orderer_start() succeeded */
    bool stopped;                         /* orderer_stop() finished */
    bool crls_unkept;                     /* a CRL file could not be written (crls.c) */
};

/* Registers stele.AtomicBroadcast/Broadcast (broadcast.c). */
int orderer_broadcast_register(struct orderer *o, struct rpc_server *s);

/* Registers stele.AtomicBroadcast/Deliver and stele.Orderer/ChainInfo (deliver.c). */
int orderer_deliver_register(struct orderer *o, struct rpc_server *s);

#endif
