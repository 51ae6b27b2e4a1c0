/*
 * submit.h — the parts of `stele-bench submit`, shared by its files only: submit_bench.c (the
 * command and its report), submit_load.c (the load) and submit_env.c (what surrounds it: the
 * network's processes and identities, the signature costs and the bound).
 *
 * The load: client threads that propose, have a peer's gateway endorse, sign and submit
 * `create` transactions, each keeping up to `window` of them between proposal and commit, and
 * one subscriber that follows a peer's filtered block events and records when and how each
 * transaction committed.
 *
 * Timeline: clients start at start_ns; what counts starts at meas_ns (after the warm-up) and
 * ends at end_ns, when clients stop proposing. Throughput is the transactions committed VALID
 * between meas_ns and end_ns; latency is that of the transactions proposed in that window.
 */
#ifndef STELE_BENCH_SUBMIT_H
#define STELE_BENCH_SUBMIT_H

#include "hist.h"

#include "identity/enrolment.h"
#include "stele/identity.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crypto_key;
struct rpc_channel;
struct rpc_call;
struct sub_client;

#define SUBMIT_MAX_PEERS 16
#define SUBMIT_CODES     256 /* validation codes are one octet */

/* One transaction. Written by its client until it is submitted, by the subscriber after. */
struct sub_tx {
    uint64_t t0_ns;                    /* before the proposal was built and signed */
    uint64_t endorsed_ns;              /* the gateway answered Endorse */
    atomic_uint_fast64_t submitted_ns; /* the gateway answered Submit (orderers accepted) */
    atomic_uint_fast64_t committed_ns; /* the subscriber saw it in a block (0: not yet) */
    atomic_bool released;              /* its client's window slot was given back (once only) */
    uint32_t client;                   /* index of the client that made it */
    uint8_t code;                      /* its validation code, once committed */
    char tx_id[65];                    /* hex, NUL-terminated; set before it is indexed */
};

/* A client identity the transactions are made with. */
struct sub_identity {
    struct enrolment e; /* key and serialized identity */
    char name[64];      /* its directory name under the network's ids/ */
};

/* One run: set up by submit_bench.c, driven by submit_load_start() and submit_load_finish(). */
struct sub_run {
    /* what to do (the caller's) */
    const char *channel;                      /* the channel the peers serve */
    const char *chaincode;                    /* invoked with create ID COLOR SIZE VALUE */
    struct rpc_channel *gw[SUBMIT_MAX_PEERS]; /* one shared channel per gateway peer */
    size_t n_peers;                           /* entries in gw; client i uses gw[i % n] */
    struct rpc_channel *events;               /* to the peer whose commits are followed */
    const struct sub_identity *ids;           /* client identities, used in turn */
    size_t n_ids;                             /* entries in ids */
    int clients;                              /* client threads */
    unsigned window;                          /* proposed, not yet committed, per client */
    unsigned endorsing;                       /* of those, in Endorse at once, per client */
    uint64_t gap_ns;                          /* --rate: time between two proposals of one
                                                 client (0: as fast as the window allows) */
    uint64_t start_ns, meas_ns, end_ns;       /* see the top of this file; the caller sets
                                                 meas_ns and end_ns as offsets from the start,
                                                 submit_load_start() makes them times */
    char prefix[32];                          /* asset ids are prefix + tx index */
    struct sub_tx *txs;                       /* room for n_txs transactions */
    size_t n_txs;                             /* capacity */
    /* state and results (the load's) */
    atomic_size_t next_tx;               /* next free entry of txs */
    _Atomic uint32_t *index;             /* tx_id -> tx + 1, open addressing */
    size_t index_mask;                   /* its size - 1 (a power of two) */
    struct sub_client *cl;               /* the clients */
    pthread_t sub;                       /* the subscriber */
    bool sub_started;                    /* submit_load_start() started it */
    struct rpc_call *stream;             /* its Events/Blocks stream */
    atomic_bool stop;                    /* the subscriber should end */
    atomic_bool sub_failed;              /* the stream ended before it was stopped */
    atomic_uint_fast64_t proposed;       /* transactions proposed */
    atomic_uint_fast64_t endorse_errors; /* Endorse failed (gRPC error) */
    atomic_uint_fast64_t refused;        /* the chaincode answered other than 2xx */
    atomic_uint_fast64_t submit_errors;  /* Submit failed or no orderer accepted */
    atomic_uint_fast64_t submitted;      /* accepted by at least one orderer */
    atomic_uint_fast64_t endorsers;      /* endorsements gathered, summed over txs */
    atomic_uint_fast64_t out_of_room;    /* proposals not made: txs was full */
    atomic_uint_fast64_t committed;      /* ours seen in a block (subscriber) */
    uint64_t valid;                      /* of those, VALID */
    uint64_t valid_in_window;            /* VALID with committed_ns in the window */
    uint64_t codes[SUBMIT_CODES];        /* committed, by validation code */
    uint64_t blocks, block_txs;          /* blocks seen committing in the window, and
                                            the transactions in them (ours or not) */
    atomic_uint_fast64_t blocks_total;   /* every block seen */
    struct hist lat;                     /* proposal -> commit, txs proposed in window */
    struct hist endorse_lat;             /* proposal -> endorsed, same txs */
    struct hist submit_lat;              /* endorsed -> accepted by the orderers */
    struct hist order_lat;               /* accepted -> seen committed */
    pthread_mutex_t err_mu;              /* guards first_error */
    char first_error[320];               /* the first failure, for the report */
};

/* Starts the subscriber from the peer's current height (signed with ids[0]) and the clients.
 * Returns STELE_OK or an error; after an error, submit_load_finish() stops whatever started. */
int submit_load_start(struct sub_run *r);

/* Waits for the clients to stop (they stop proposing at end_ns and finish their calls), then
 * for the commits of every submitted transaction (as long as blocks keep coming, at most
 * `drain_ms` without one), stops the subscriber and merges the clients' histograms. */
void submit_load_finish(struct sub_run *r, uint64_t drain_ms);

/* Frees what the load allocated (not the caller's parts). */
void submit_load_release(struct sub_run *r);

/* ---- the environment (submit_env.c) ------------------------------------------------------ */

#define SUBMIT_MAX_PROCS 64

/* A process of the network whose CPU time is read from /proc. */
struct sub_proc {
    int64_t pid;
    char name[48]; /* "orderer0", "peer0.org1", "chaincode" */
    char kind[16]; /* "ca", "orderer", "peer", "chaincode" */
    double cpu0_s; /* CPU seconds at the start of the window (-1 unknown) */
    double used_s; /* during it (-1 unknown) */
};

/* Adds the chaincode host processes (children of the peers in ps[0..*n]) to ps. */
void submit_find_hosts(struct sub_proc *ps, size_t *n);

/* Reads every process's CPU time at the start, and what it used since at the end. */
void submit_cpu_start(struct sub_proc *ps, size_t n);
void submit_cpu_stop(struct sub_proc *ps, size_t n);

/* CPU seconds this process has used, and that every core of the machine has been busy (user,
 * nice, system, irq, softirq; -1 when unknown). */
double submit_self_cpu_s(void);
double submit_machine_busy_s(void);

/* Loads every enrolment of role client under `ids_dir` into ids[0..max). Returns how many;
 * release each with enrolment_release(). */
size_t submit_load_clients(const char *ids_dir, struct sub_identity *ids, size_t max);

/* What the channel's genesis block (DIR/genesis.block) says; zeros when it cannot be read. */
struct sub_channel {
    unsigned checkpoint_interval; /* pbft K */
    unsigned max_message_count;   /* transactions in a full block */
};
void submit_channel_params(const char *dir, const char *channel, struct sub_channel *out);

/* Has gateway `ch` (at `url`) endorse one `create` of r->chaincode as r->ids[0], before the
 * clock. Returns 0, or CLI_EXIT_REFUSED with the reason and how to deploy printed. */
int submit_probe(struct rpc_channel *ch, const char *url, const struct sub_run *r, int i);

/* Packs `body` and signs it for `method` as r->ids[0] into *sr, whose octets live in `req`
 * (initialised here; the caller releases it, also on failure) and `sig`. Returns STELE_OK,
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int submit_sign_request(const struct sub_run *r, const char *method, const ProtobufCMessage *body,
                        struct buf *req, uint8_t sig[64], Stele__SignedRequest *sr);

/* The endorsement policy of r->chaincode's committed definition, as gateway `ch` answers
 * Lifecycle/Committed asked by r->ids[0], into out[len] ("" when it cannot be read). */
void submit_policy(struct rpc_channel *ch, const struct sub_run *r, char *out, size_t len);

/* Microseconds of CPU time one crypto_sign() and one crypto_verify() of a `len`-octet message
 * take on this thread. */
void submit_sig_costs(const struct crypto_key *k, size_t len, double *sign_us, double *verify_us);

/* The signature operations one committed transaction costs the topology (submit_bench.c's top
 * comment gives the count). Fill the inputs, then submit_sig_model() sets the outputs. */
struct sub_sig_model {
    double endorsers;     /* endorsements per transaction (observed; 0: 2) */
    double txs_per_block; /* what per-block operations are spread over */
    unsigned orderers;    /* O */
    unsigned peers;       /* P, each validating every block */
    unsigned k;           /* pbft checkpoint interval (0: 10) */
    double signs;         /* out: signatures per transaction */
    double verifies;      /* out: verifications per transaction */
    double us;            /* out: their cost in microseconds */
};
void submit_sig_model(struct sub_sig_model *m, double sign_us, double verify_us);

#endif
