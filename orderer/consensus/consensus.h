/*
 * consensus.h — the consensus plug-in interface (DESIGN §5).
 *
 * A plug-in is one const `struct consensus_ops` in its own file (solo.c, later pbft.c, pow.c),
 * listed in the registry of consensus.c and chosen by name from the configuration. The
 * orderer core (Broadcast intake, chain, Deliver) never knows which one runs: it creates the
 * plug-in through consensus_create(), hands it accepted envelopes with consensus_order(), and
 * receives finished blocks — with their finality proof in the metadata — through the
 * callbacks, which append them to the chain and wake Deliver streams.
 *
 * Plug-ins batch with the block cutter (blockcutter.h) using the parameters given here, build
 * blocks with ledger/blockhash.h on top of the head the callbacks report, and sign with the
 * orderer's key. Their own configuration (peers, timers) arrives as `plugin_config`, owned by
 * the core.
 */
#ifndef STELE_ORDERER_CONSENSUS_H
#define STELE_ORDERER_CONSENSUS_H

#include "orderer/blockcutter.h"
#include "rpc/rpc.h"

#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct crypto_key;
struct rpc_server;
struct consensus;

/* What the core lends a plug-in; every pointer stays valid until consensus_destroy(). */
struct consensus_params {
    const char *node_id;              /* this orderer's configured name */
    const char *channel_id;           /* the channel ordered */
    struct blockcutter_config cutter; /* batch parameters */
    const struct crypto_key *signer;  /* the orderer's key pair */
    const uint8_t *identity;          /* the orderer's serialized identity record, or NULL */
    size_t identity_len;              /* octets at identity */
    const void *plugin_config;        /* plug-in specific settings, or NULL */
    struct rpc_tls peer_tls;          /* how to dial the other orderers: roots (ca_file) and
                                         client certificate; all NULL = plaintext. The paths
                                         stay valid for the plug-in's life */
    /* The channel configuration of block 0 (orderer set with addresses and keys, consensus
     * parameters), or NULL when the core has none (unit tests of solo). */
    const Stele__ChannelConfig *channel;
    const char *data_dir; /* the orderer's data directory: a plug-in may keep files here */
    bool sync;            /* fsync what the plug-in persists (the orderer's fsync policy) */
    const char *fault;    /* test builds only (STELE_TEST_HOOKS): a Byzantine behaviour to
                             simulate ("equivocate", "bad-signatures", "silent"); else NULL */
};

/* What a plug-in says about itself (for ChainInfo and operators). */
struct consensus_status {
    uint64_t view;         /* current view (pbft), else 0 */
    const char *role;      /* "primary", "backup", "view-changing", "syncing", "solo" (static) */
    uint64_t view_changes; /* times the view rose since the plug-in started (pbft), else 0 */
    bool persist_failed;   /* the last write of its state failed on the disk (pbft): it sends
                              nothing that depends on it until a write succeeds */
};

/* How a plug-in talks back to the core. Called from the plug-in's own threads. */
struct consensus_callbacks {
    void *arg; /* passed to every callback */
    /* Current height and head header hash of the chain (32 zero octets when empty). */
    void (*chain_head)(void *arg, uint64_t *height, uint8_t hash[32]);
    /* A block is final: the core appends it (block number == height) and wakes Deliver. The
     * block is only read. Returns a stele status; on failure the plug-in stops ordering. */
    int (*deliver_block)(void *arg, const Stele__Block *block);
    /* Reads block `number` of the chain into *out (in `a`). Returns STELE_OK,
     * STELE_ERR_NOT_FOUND or the block store's error. */
    int (*read_block)(void *arg, uint64_t number, struct arena *a, Stele__Block **out);
    /* Runs Broadcast's checks on an envelope that reached the plug-in another way (in a
     * proposed block, forwarded by another orderer): structure, channel, type, creator and
     * signature, and that its tx_id is in no block yet. On STELE_OK `tx_id` holds it; else
     * *why is a static sentence. Thread-safe. */
    int (*check_envelope)(void *arg, const uint8_t *env, size_t len, char tx_id[65],
                          const char **why);
};

/* One plug-in. Every member is required unless marked optional. */
struct consensus_ops {
    const char *name; /* "solo", "pbft", "pow": the configuration's consensus.type */
    /* Builds the plug-in's state from `p` and `cb` (both copied or kept as documented above).
     * Returns STELE_OK with *state set, or an error with *errmsg (malloc'd). */
    int (*create)(const struct consensus_params *p, const struct consensus_callbacks *cb,
                  void **state, char **errmsg);
    /* Starts its threads and network. */
    int (*start)(void *state);
    /* Takes a copy of one accepted envelope (`len` octets) for ordering, with what Broadcast's
     * checks learned of it: its tx_id and the SHA-256 of its bytes (so the plug-in need not
     * decode or hash it again). Returns STELE_OK, STELE_ERR_UNAVAILABLE (stopping, or not the
     * node that can order now), STELE_ERR_TOO_BIG or STELE_ERR_NOMEM. Thread-safe; may block
     * for back-pressure. */
    int (*order)(void *state, const uint8_t *env, size_t len, const char *tx_id,
                 const uint8_t hash[32]);
    /* True when order() never waits (it refuses when full instead): Broadcast then calls it
     * on the server's completion-queue thread, saving a thread hand-off per envelope. */
    bool order_never_waits;
    /* Stops ordering: what was accepted is still cut and delivered where the algorithm allows,
     * then the threads end. Idempotent. */
    void (*stop)(void *state);
    /* Frees the state (after stop). */
    void (*destroy)(void *state);
    /* Optional (NULL when unused): registers the plug-in's own RPC services (PBFT's Cluster) on
     * the orderer's server, before it starts. */
    int (*attach)(void *state, struct rpc_server *server);
    /* Optional: fills *st. Thread-safe. */
    void (*status)(void *state, struct consensus_status *st);
};

/* The plug-in registered as `name`, or NULL. */
const struct consensus_ops *consensus_find(const char *name);

/* Writes the registered names, separated by ", ", into `out` (for error messages). */
void consensus_names(char *out, size_t out_len);

/* Creates the plug-in named `name` (see consensus_ops.create). Returns STELE_OK with *out set,
 * STELE_ERR_CONFIG for an unknown name, or the plug-in's error; *errmsg as above. */
int consensus_create(const char *name, const struct consensus_params *p,
                     const struct consensus_callbacks *cb, struct consensus **out, char **errmsg);
/* Starts it. */
int consensus_start(struct consensus *c);
/* Hands it an accepted envelope (see consensus_ops.order). */
int consensus_order(struct consensus *c, const uint8_t *env, size_t len, const char *tx_id,
                    const uint8_t hash[32]);
/* Whether consensus_order() never waits (consensus_ops.order_never_waits). */
bool consensus_order_never_waits(const struct consensus *c);
/* Stops it (idempotent). */
void consensus_stop(struct consensus *c);
/* Stops and frees it. Accepts NULL. */
void consensus_destroy(struct consensus *c);
/* Its name. */
const char *consensus_name(const struct consensus *c);
/* Registers the plug-in's services on `server` (see consensus_ops.attach). */
int consensus_attach(struct consensus *c, struct rpc_server *server);
/* Fills *st (see consensus_ops.status; {0, name} when the plug-in has no status op). */
void consensus_status(struct consensus *c, struct consensus_status *st);

#endif
