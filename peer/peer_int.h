/* peer_int.h — the state shared by peer.c and the peer's services (intake.c, query.c,
 * events.c, reqauth.c). Not for use outside peer/. */
#ifndef STELE_PEER_PEER_INT_H
#define STELE_PEER_PEER_INT_H

#include "ledger/kvledger.h"
#include "peer.h"

#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ops/ops.h"
#include "stele/lifecycle.pb-c.h"
#include "stele/orderer.pb-c.h"
#include "stele/transaction.pb-c.h"
#include "rpc/rpc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct arena;
struct msp;
struct rpc_health;
struct rpc_node_service;
struct quota;
struct signed_request;

#define PEER_WORKERS                     32 /* unary handlers; CommitStatus may wait in one */
#define PEER_MAX_COMMIT_WAITERS          (PEER_WORKERS / 4) /* CommitStatus and Submit waits at once */
#define PEER_MAX_COMMIT_WAITS_PER_CALLER 2                  /* of them, by one identity */
/* Proposals one identity may have executing on this peer at once (ProcessProposal, Evaluate,
 * a gateway's own endorsement; waiting for a chaincode host counts): each holds a worker, and
 * the other half of the workers stays for everybody else, other peers' gateways included. */
#define PEER_MAX_EXECUTING_PER_CALLER (PEER_WORKERS / 2)
/* Query calls (blocks, state, history) running at once: in all, and of one caller, so that
 * one member's queries cannot hold the workers that endorse and answer the gateway. */
#define PEER_MAX_QUERIES            (PEER_WORKERS / 2)
#define PEER_MAX_QUERIES_PER_CALLER (PEER_MAX_QUERIES / 2)
/* How every refusal for want of an execution slot (RESOURCE_EXHAUSTED) begins: how a gateway
 * tells a peer too busy for the caller from gRPC's own RESOURCE_EXHAUSTED (an answer over its
 * size limit), to answer its client "busy, retry later" rather than "the policy is not met". */
#define PEER_BUSY_MARK "too many proposals executing on peer "
/* Valid signatures remembered (32 octets each; crypto/sigcache.h): the endorsements this peer
 * signed and the other peers' endorsements its gateway checked, until the block carrying them
 * is validated — at 2,000 transactions/s and a few seconds from endorsement to commit, well
 * under this. */
#define PEER_SIGCACHE (1u << 16)
/* Signed requests a peer remembers to refuse them sent again (identity/replay.h): ~6 MiB; at
 * 1,000 requests a second a request may lag the peer's clock by up to ~4 minutes. */
#define PEER_REPLAY_CACHE (1u << 18)
/* Request caps per method, so that nobody makes the peer read and decode more than a method
 * can use before it is authenticated: a proposal's octets (and the SignedProposal around
 * them), a signed request (identity/identity.h), and little more for a bare one. */
#define PEER_MAX_PROPOSAL        (4u << 20)
#define PEER_MAX_SIGNED_PROPOSAL (PEER_MAX_PROPOSAL + (64u << 10))
#define PEER_MAX_SIGNED_REQUEST  (IDENTITY_REQ_MAX_LEN + (4u << 10))
#define PEER_MAX_SMALL_REQUEST   (4u << 10)

/* Events counted for the operations endpoint (metrics.c): each where it happens with one
 * relaxed atomic add (atomic_fetch_add_explicit(..., memory_order_relaxed)), no lock; read
 * with relaxed loads at each scrape. Zeroed with the peer; never reset. */
struct peer_counts {
    atomic_uint_fast64_t endorsed;        /* peer_endorse() with `sign`: signed an endorsement */
    atomic_uint_fast64_t endorse_refused; /* ... and did not (a check, the chaincode's status) */
    atomic_uint_fast64_t submits_ok;      /* Gateway/Submit answered OK */
    atomic_uint_fast64_t submits_refused; /* Gateway/Submit answered an error */
    struct ops_hist commit_time;          /* kvledger_commit() of a block, validation included */
    struct ops_hist endorse_time;         /* Gateway/Endorse calls that ran the proposal */
};

struct peer {
    const struct peer_config *cfg;       /* the configuration (not owned) */
    struct enrolment self;               /* the peer's key pair and identity record */
    char *org;                           /* the organisation of its identity */
    struct msp *msp;                     /* the channel organisations' CAs and CRLs, with the
                                            CRL files of the configuration: the services' */
    struct msp *ledger_msp;              /* the same CAs and the ledger's CRLs only: what
                                            validation judges with (shares msp's signature
                                            cache) */
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
    struct quota *commit_waits;          /* peer_wait_commit() calls in progress, by caller */
    struct replay_cache *replays;        /* signed requests taken (peer_request_verify) */
    struct quota *event_streams;         /* Events/Blocks streams open, by caller */
    struct quota *executing;             /* proposals executing, by creator (certhash) */
    struct quota *querying;              /* Query calls running, by caller (certhash) */
    void *query_methods;                 /* query.c's handler table (malloc'd) */
    bool stopped;                        /* peer_stop() finished */
    struct peer_gateway *gw;             /* the gateway's channels (gateway.c) */
    struct ccrt *ccrt;                   /* the chaincode runtime (endorser_cc.c) */
    struct cc_current *cc_current;       /* the package each chaincode runs from (endorser_cc.c) */
    struct peer_counts counts;           /* for the metrics (metrics.c) */
};

/* Starts the thread that pulls blocks from the orderers and commits them (intake.c). */
int peer_intake_start(struct peer *p, char **errmsg);

/* Stops it (within one receive slice) and joins the thread. */
void peer_intake_stop(struct peer *p);

/* Registers stele.Query (query.c). */
int peer_query_register(struct peer *p, struct rpc_server *s);

/* Registers stele.Events (events.c). */
int peer_events_register(struct peer *p, struct rpc_server *s);

/* An installed chaincode package (ccstore.c). */
struct ccstore_entry {
    uint8_t hash[32]; /* SHA-256 of the package */
    char name[65];    /* the chaincode's name and version, as packaged */
    char version[65];
    bool already; /* install: it was installed before */
};

/* Installs the untrusted package `pkg` (a serialized ChaincodePackage): checks it, stores it
 * and its shared object under <data_dir>/chaincodes/. Returns STELE_OK with *out, or
 * STELE_ERR_MALFORMED / STELE_ERR_IO with *errmsg. */
int ccstore_install(struct peer *p, const uint8_t *pkg, size_t len, struct ccstore_entry *out,
                    char **errmsg);

/* The path of the shared object of installed package `hash`. Returns STELE_OK,
 * STELE_ERR_NOT_FOUND (not installed) or STELE_ERR_IO / STELE_ERR_INVALID. */
int ccstore_so_path(struct peer *p, const uint8_t hash[32], char *out, size_t n);

/* The name and version of installed package `hash` into *out. Returns STELE_OK,
 * STELE_ERR_NOT_FOUND (not installed), or STELE_ERR_IO / STELE_ERR_MALFORMED. */
int ccstore_get(struct peer *p, const uint8_t hash[32], struct ccstore_entry *out);

/* Removes an installed package (an install refused after storing it). */
void ccstore_remove(struct peer *p, const uint8_t hash[32]);

/* Calls fn for each installed package (until it returns non-zero, which is returned). */
typedef int (*ccstore_fn)(void *ctx, const struct ccstore_entry *e);
int ccstore_list(struct peer *p, ccstore_fn fn, void *ctx);

/* Registers stele.Lifecycle (lifecycle_svc.c). */
int peer_lifecycle_register(struct peer *p, struct rpc_server *s);

/* Checks a Query/Events/Lifecycle request: `req` is the handler's SignedRequest, signed for the
 * method called by an identity of a channel organisation, and not taken before (a replay).
 * Gives the whole verified request (the signer's identity, the body) in the call's arena; on
 * refusal the gRPC error is set on `call` and returned (reqauth.c). */
enum rpc_code peer_request_verify(struct peer *p, struct rpc_call *call,
                                  const ProtobufCMessage *req, struct signed_request *out);

/* One execution of a user chaincode (endorser_cc.c), everything in the caller's arena. */
struct cc_call {
    const char *chaincode;                 /* its name: the namespace */
    const char *so_path;                   /* the installed shared object */
    const Stele__ChaincodeInvocation *inv; /* function and arguments */
    const char *tx_id;                     /* the proposal's tx_id */
    uint64_t timestamp_ms;                 /* its header's timestamp */
    const struct identity *creator;        /* the verified creator */
    const struct statedb_snap *snap;       /* the state to read (NULL: the latest) */
};

struct cc_outcome {
    int status;                   /* the chaincode's status */
    const char *message;          /* its message ("" when none) */
    ProtobufCBinaryData payload;  /* its response payload */
    Stele__TxRwSet *rwset;        /* the read/write set (status 200..299) */
    Stele__ChaincodeEvent *event; /* its event, or NULL */
};

/* Runs a user chaincode in a sandboxed host against the committed state. Returns STELE_OK when
 * it ran (whatever its status), or an error (STELE_ERR_TIMEOUT, STELE_ERR_LIMIT,
 * STELE_ERR_PERMISSION, STELE_ERR_INTERNAL, STELE_ERR_INVALID) with *errmsg. */
int peer_run_chaincode(struct peer *p, struct arena *a, const struct cc_call *c,
                       struct cc_outcome *o, char **errmsg);

/* What executing a proposal gave (endorser.c). In the arena given to peer_endorse(). */
struct endorse_result {
    enum rpc_code code;          /* RPC_OK, or why the proposal was not executed */
    const char *why;             /* a sentence when code is not RPC_OK */
    const char *tx_id;           /* the proposal's tx_id */
    Stele__Response *response;   /* the chaincode's response */
    bool endorsed;               /* success: payload and sig are set */
    ProtobufCBinaryData payload; /* the serialized ProposalResponsePayload */
    uint8_t sig[64];             /* this peer's endorsement signature over it */
    uint64_t height;             /* the ledger's height when the chaincode started */
};

/* Called by peer_endorse() once the proposal has passed every check, just before its
 * chaincode runs (in a host, or the _lifecycle rules), with its verified creator and the
 * chaincode's definition it runs under (in the state it executes against; NULL for
 * _lifecycle): the gateway takes the creator's share of its Endorse calls then, and asks the
 * other peers, so that they execute the proposal while this peer does; never for a proposal
 * this peer refused. Returns STELE_OK, or STELE_ERR_LIMIT with *why (a sentence, not freed)
 * to refuse the proposal with RESOURCE_EXHAUSTED. */
struct endorse_hook {
    int (*checked)(void *arg, const struct identity *creator, const Stele__ChaincodeDefinition *def,
                   const char **why);
    void *arg;
};

/* Checks and executes the signed proposal `sp` (untrusted); signs a success when `sign`.
 * `hook` may be NULL. Returns out->code. Thread-safe. */
enum rpc_code peer_endorse(struct peer *p, struct arena *a, const Stele__SignedProposal *sp,
                           bool sign, const struct endorse_hook *hook, struct endorse_result *out);
/* Counts a proposal this peer was asked to endorse, once per call however many times it ran
 * it (the gateway runs it again when endorsers disagree): stele_endorser_proposals_total. */
void peer_count_proposal(struct peer *p, bool endorsed);

/* The ProposalResponse of `r` in the call's arena. */
enum rpc_code peer_endorse_response(struct peer *p, struct rpc_call *call,
                                    const struct endorse_result *r, ProtobufCMessage **resp);

/* Waits up to `left` ms (capped at 10 min) for `tx_id` to commit on this peer, or until the
 * call (may be NULL) is cancelled or the peer stops: *vc gets its validation code, *number its
 * block. `who` is the certificate hash of the caller the wait is for. Returns STELE_OK,
 * STELE_ERR_TIMEOUT, STELE_ERR_LIMIT (PEER_MAX_COMMIT_WAITERS waits are in progress, or
 * PEER_MAX_COMMIT_WAITS_PER_CALLER of `who`'s; *mine says which) or a lookup error
 * (events.c). */
int peer_wait_commit(struct peer *p, struct rpc_call *call, const uint8_t who[32],
                     const char *tx_id, int64_t left, unsigned *vc, uint64_t *number, bool *mine);

/* Frees what endorser_cc.c remembers of the packages chaincodes run from. */
void peer_cc_current_free(struct peer *p);

/* Creates and frees the chaincode runtime (endorser_cc.c). */
int peer_ccrt_create(struct peer *p, char **errmsg);
void peer_ccrt_destroy(struct peer *p);

/* The gateway's Broadcast streams, one per orderer (broadcaster.c). */
struct peer_broadcaster;

/* Creates them over `channels` (n of them, in p->orderers order; borrowed, must outlive the
 * broadcaster). Streams open on first use. Returns STELE_OK or STELE_ERR_NOMEM. */
int peer_broadcaster_create(struct peer *p, struct rpc_channel *const *channels, size_t n,
                            struct peer_broadcaster **out);

/* Cancels the streams, joins their readers, frees. Accepts NULL. */
void peer_broadcaster_destroy(struct peer_broadcaster *b);

/* Sends the serialized envelope `env` to every orderer at once and waits, up to `timeout_ms`,
 * until `enough` of them hold it (peer_broadcast_held) or all have answered: status[i] (n entries)
 * is orderer i's answer, STATUS_UNKNOWN when none came by then (answers that come later are
 * dropped). */
void peer_broadcast(struct peer_broadcaster *b, const ProtobufCBinaryData *env, int timeout_ms,
                    size_t enough, Stele__Status *status);

/* Whether an orderer that answered `status` holds the envelope: it accepted it now (SUCCESS),
 * or it already had that tx_id in flight or in a block (CONFLICT: forwarded by another orderer
 * or in a pre-prepare before our copy came). A tx_id is SHA-256(nonce || creator) and an
 * orderer checks the creator's signature before claiming it, so what it holds was signed by
 * the same creator. */
bool peer_broadcast_held(Stele__Status status);

/* Creates and frees the gateway's state (gateway.c). */
int peer_gateway_create(struct peer *p, char **errmsg);
void peer_gateway_destroy(struct peer *p);
/* The gateway's Broadcast streams (gateway.c; owned by the gateway). */
struct peer_broadcaster *peer_gateway_broadcaster(const struct peer *p);
/* The largest envelope the channel's orderers take (its absolute_max_bytes; gateway.c). */
uint64_t peer_gateway_submit_cap(const struct peer *p);
/* stele.Gateway/Submit's handler (gateway_submit.c); `arg` is the peer. Counts the call once
 * in p->counts (answered OK or not). */
enum rpc_code peer_gateway_submit(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg);

/* Registers stele.Endorser (endorser.c) and stele.Gateway (gateway.c). */
int peer_endorser_register(struct peer *p, struct rpc_server *s);
int peer_gateway_register(struct peer *p, struct rpc_server *s);

#endif
