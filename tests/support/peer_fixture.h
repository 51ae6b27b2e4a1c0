/*
 * peer_fixture.h — a whole Stele network of real processes on 127.0.0.1 for test_peer.c: four
 * pbft stele-orderer processes, two stele-peer processes of two organisations, and a client
 * that builds endorsed transactions by hand (lib/ledger/tx.h), broadcasts them to the
 * orderers and asks the peers what they committed.
 *
 * Identities are real ECQV enrolments issued the way the other process tests issue them
 * (testutil.h): one CA key per organisation (OrdererOrg, Org1, Org2) plus a CA nobody
 * trusts. The genesis block defines chaincode "cc" 1.0 sequence 1 with the endorsement policy
 * AND(Org1.peer, Org2.peer); the peers (not the orderers) install a CRL of Org1 that revokes
 * one client.
 *
 * Functions that may run on a thread other than the test's make no cmocka assertion (said on
 * each); the others fail the test on error.
 */
#ifndef STELE_TESTS_PEER_FIXTURE_H
#define STELE_TESTS_PEER_FIXTURE_H

#include "testutil.h"

#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ORDERERS     4
#define PEERS        2
#define CHANNEL      "ch"
#define CC           "cc"
#define ALL_ORDERERS ((1u << ORDERERS) - 1)

/* One daemon. */
struct proc {
    pid_t pid;      /* running process, 0 when stopped */
    char addr[32];  /* 127.0.0.1:port, the same across restarts */
    char ops[32];   /* 127.0.0.1:port of its operations endpoint (/metrics, /healthz) */
    char dir[512];  /* its directory (config, data, id, log) */
    char conf[600]; /* its configuration file */
    char log[600];  /* its log (appended across restarts) */
};

/* The network and everyone's keys. */
struct net {
    char *dir;                          /* the test's temporary directory */
    char *orderer_bin, *peer_bin, *cli; /* stele-orderer, stele-peer, stele */
    struct crypto_key *ca[3];           /* CA keys of OrdererOrg, Org1, Org2 */
    struct crypto_key *stranger_ca;     /* a CA key the channel does not trust */
    struct test_identity orderer[ORDERERS];
    struct test_identity peer[PEERS]; /* peer0.org1 (role peer, Org1), peer0.org2 */
    struct test_identity user;        /* user1.org1, a client: creator and query signer */
    struct test_identity user2;       /* user1.org2, a client of Org2 */
    struct test_identity revoked;     /* user9.org1, on Org1's CRL at the peers only */
    struct test_identity stranger;    /* peer9.org2 from stranger_ca */
    char user_dir[600];               /* user's enrolment directory (for `stele audit`) */
    struct proc o[ORDERERS], p[PEERS];
};

extern struct net N;

/* ---- the network ---- */

/* Creates the identities, genesis block, CRL and configurations, and starts every orderer and
 * peer (waiting until each serves). */
void net_up(void);
/* Kills whatever still runs and removes the directory (kept with STELE_KEEP_TEST_DIR=1).
 * No assertion. */
void net_down(void);

/* net_up() and net_down() as cmocka group setup and teardown:
 * cmocka_run_group_tests(tests, net_group_up, net_group_down). */
int net_group_up(void **state);
int net_group_down(void **state);
/* Starts orderer i and waits until it serves. */
void net_orderer_start(int i);
/* Starts peer i; with `wait`, waits until it serves queries. */
void net_peer_start(int i, bool wait);
/* Waits until peer i (running) serves queries. */
void peer_wait_serving(int i);
/* Restarts peer i with `orderers` (n addresses; NULL: every orderer) as its configuration's
 * list and `extra` (YAML, may be NULL, e.g. "gateway:\n  peers: ...") appended, the fixture's
 * configuration otherwise; both NULL: the fixture's own file back. Waits until it serves. */
void net_peer_with(int i, const char *const *orderers, size_t n, const char *extra);
/* Sends `sig` to a running process and reaps it. SIGKILL: fails the test unless the process
 * was still running (it died of the kill); SIGTERM: unless it exited with status 0. */
void proc_stop(struct proc *p, int sig, const char *name);

/* ---- transactions ---- */

/* A key read with the version seen (NULL: the key did not exist). */
struct rd {
    const char *key;
    const Stele__Version *ver;
};

/* A key written. */
struct wr {
    const char *key;
    const char *value;
    size_t len; /* octets of value (0: strlen(value)) */
};

/* What a hand-built transaction says; zeroed fields take the defaults. */
struct txspec {
    const char *channel;                      /* NULL: CHANNEL */
    const char *chaincode;                    /* invoked (NULL: CC) */
    const char *ns;                           /* namespace of its rwset (NULL: the chaincode) */
    const char *version;                      /* endorsed definition version (NULL: "1.0") */
    uint64_t sequence;                        /* and sequence (0: 1) */
    const struct test_identity *creator;      /* NULL: N.user */
    const struct test_identity *endorser[3];  /* none given: both peers */
    const struct crypto_key *endorser_key[3]; /* NULL: endorser[i]'s own key */
    bool corrupt_endorsement;                 /* flip a bit of the last endorsement signature */
    struct rd reads[2];                       /* in key order; key NULL ends */
    struct wr writes[3];                      /* key NULL ends; the caller keeps them sorted
                                                 (unsorted is a BAD_RWSET) */
    uint64_t timestamp_ms;                    /* 0: now */
    const uint8_t *nonce;                     /* 24 octets (NULL: random) */
};

/* Installs the test chaincode built as `so_rel` (e.g. "tests/chaincode/kv_cc.so") on peer i as
 * the package of CC the genesis block defines (ccstore.c's layout: <hash>.pkg beside <hash>.so,
 * the hash of "cc package"; only the .so runs, and only if its descriptor's name is "cc": see
 * tests/chaincode/chaincodes.cmake). A peer already running the old one: restart it. Asserts. */
void install_genesis_cc(int i, const char *so_rel);

/* Builds the envelope of `s` (free out.data). Returns false on a build error. No assertion. */
bool tx_make(const struct txspec *s, ProtobufCBinaryData *out, char tx_id[65]);
/* tx_make() that fails the test on error. */
ProtobufCBinaryData tx_must(const struct txspec *s, char tx_id[65]);

/* Broadcasts the `n` envelopes (as they are) to every orderer of `mask` on one stream each;
 * best[k] gets SUCCESS when any orderer accepted envelope k, else the first refusal (or
 * UNKNOWN when no orderer answered). No assertion. */
void broadcast(unsigned mask, const ProtobufCBinaryData *envs, size_t n, Stele__Status *best);
/* broadcast() that fails the test unless every envelope was accepted. */
void submit(unsigned mask, const ProtobufCBinaryData *envs, size_t n);
/* Submits `env` (then freed) through peer i's gateway: its answer (pb_free), or NULL with the
 * call's failure in *res. No assertion. */
struct rpc_result;
Stele__SubmitResponse *gateway_submit(int i, ProtobufCBinaryData env, struct rpc_result *res);

/* ---- asking the peers and orderers ---- */

/* The head of a peer's ledger. */
struct head {
    uint64_t height;
    uint8_t hash[32];  /* header hash of block height-1 */
    uint8_t prev[32];  /* its previous_hash */
    uint8_t state[32]; /* state hash after it */
};

/* Query/ChainInfo of peer i; false when it does not answer. No assertion. */
bool peer_head(int i, struct head *h);
/* The height of orderer i (0 when it does not answer). No assertion. */
uint64_t orderer_height(int i);
/* Calls Query or Events `method` of peer i with `body` signed by N.user; *out (pb_free) on
 * STELE_OK. Returns the call's status. No assertion. */
int peer_call(int i, const char *method, const ProtobufCMessage *body,
              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, int timeout_ms);
/* peer_call() with `body` signed by `who`; `res` (may be NULL) gets the call's code and
 * detail. No assertion. */
int peer_call_as(int i, const struct test_identity *who, const char *method,
                 const ProtobufCMessage *body, const ProtobufCMessageDescriptor *desc,
                 ProtobufCMessage **out, int timeout_ms, struct rpc_result *res);
/* Waits (CommitStatus) up to timeout_ms until peer i committed tx_id; then returns its
 * validation code from Query/Transaction, with its block and index when not NULL. Fails the
 * test on timeout. */
unsigned tx_wait(int i, const char *tx_id, int timeout_ms, uint64_t *block, uint32_t *index);
/* Query/Transaction: the code of tx_id on peer i, or -1 when the peer does not know it. */
int tx_code(int i, const char *tx_id, uint64_t *block, uint32_t *index);
/* Query/State of CC's `key` on peer i: true with its value (malloc'd, NUL-terminated, may be
 * NULL) and version when found. */
bool state_get(int i, const char *key, char **value, Stele__Version *ver);
/* Query/Block `number` of peer i (pb_free), NULL when not found. */
Stele__Block *block_get(int i, uint64_t number);
/* How often tx_id occurs in peer i's chain; codes[] (up to max) gets the code of each
 * occurrence in chain order. */
size_t txid_occurrences(int i, const char *tx_id, unsigned *codes, size_t max);

struct rpc_channel;
struct rpc_call;
/* Opens an Events/Blocks stream of form `form` on `ch` (a channel to a peer) for `who`, from
 * block `from` on, for ever (peer_streams.c); finish it with rpc_call_finish(). Fails the test
 * when it cannot. */
struct rpc_call *peer_events_open(struct rpc_channel *ch, const struct test_identity *who,
                                  Stele__EventForm form, uint64_t from);

/* Waits until both peers and every running orderer are at the same height, then asserts the
 * peers' heads (height, head hash, state hash) are identical. */
void assert_peers_agree(int timeout_s);

#endif
