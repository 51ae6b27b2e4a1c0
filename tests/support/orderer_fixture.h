/*
 * orderer_fixture.h — the fixture of test_orderer.c and test_orderer_restart.c: a real
 * stele-orderer process (solo) on 127.0.0.1, Broadcast clients and Deliver subscribers.
 *
 * Identities are real (lib/identity records issued by a CA key made here, as stele-ca would):
 * the orderer's enrolment directory, CLIENTS clients of Org1, an auditor (may read, not write)
 * and a client of a CA the orderer does not trust. The orderer cuts blocks of at most 10
 * envelopes or 50 ms, prefers 16 KiB and refuses envelopes over ABSOLUTE_BYTES; its channel is
 * "ch1". The tests of a file run in order on one orderer and record in g_net which tx_ids it
 * accepted and refused, so that every subscriber can be checked against them.
 *
 * Functions fail the test on error unless they say otherwise; those that run on threads of
 * their own make no cmocka assertion (said on each).
 */
#ifndef STELE_TESTS_ORDERER_FIXTURE_H
#define STELE_TESTS_ORDERER_FIXTURE_H

#include "testutil.h"

#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CLIENTS        16          /* clients of Org1, client0.. */
#define PER_CLIENT     25          /* envelopes a sender broadcasts */
#define MAX_TXS        4096        /* tx_ids recorded (accepted, or seen by a subscriber) */
#define ABSOLUTE_BYTES (64 * 1024) /* the orderer's absolute_max_bytes */

/* ---- the orderer process ---- */

/* The orderer, everyone's identities, and what it accepted and refused. */
struct orderer_net {
    char *dir, *bin, *config, *port_file, *log; /* its directory, stele-orderer, files */
    pid_t pid;                                  /* the running orderer */
    pthread_mutex_t mu;                         /* guards target and accepted */
    char target[64];                            /* current address (changes across restarts) */
    struct crypto_key *ca, *other_ca;           /* the channel's CA; a CA it does not trust */
    struct test_identity orderer;               /* orderer0 of OrdererOrg */
    struct test_identity clients[CLIENTS];
    struct test_identity auditor;  /* audrey, role auditor */
    struct test_identity stranger; /* mallory, issued by other_ca */
    char accepted[MAX_TXS][65];    /* tx_ids answered SUCCESS */
    size_t n_accepted;
    char refused[64][65]; /* tx_ids refused (that must never be in a block) */
    size_t n_refused;
};

extern struct orderer_net g_net;

/* Top-level YAML appended to the orderer's configuration by orderer_net_setup() (e.g. a
 * `limits:` section); NULL: none. Set it before the setup. */
extern const char *orderer_fixture_extra_yaml;

/* cmocka group setup: makes the identities, the configuration and the genesis block in a
 * temporary directory, and starts the orderer. */
int orderer_net_setup(void **state);
/* cmocka group teardown: stops the orderer (it must exit cleanly), frees everything and
 * removes the directory. */
int orderer_net_teardown(void **state);
/* Starts the orderer and waits until it has written its port. */
void start_orderer(void);
/* Stops the orderer with SIGTERM; it must exit with status 0. */
void stop_orderer(void);
/* The orderer's current address into `out`. No assertion. */
void orderer_target(char out[64]);

/* ---- clients ---- */

/* A transaction envelope naming `who` as creator, signed with `key`, with `pad` octets of
 * data, for `channel` (free out.data); its tx_id goes to `id`. */
ProtobufCBinaryData orderer_tx(const struct crypto_key *key, const struct test_identity *who,
                               const char *channel, size_t pad, char id[65]);
/* A channel to the orderer's current address. `fail_fast` for subscribers, which reconnect on
 * their own (and must notice a stopped orderer); the others wait for the server to be ready
 * up to their deadline, as daemons do, so a loaded machine's slow handshake is no failure. */
struct rpc_channel *channel_now(bool fail_fast);
/* Sends `n` serialized envelopes (as they are) on one Broadcast stream, all first, then reads
 * the n answers: status[i] and tx_ids[i] for envelope i. */
void orderer_broadcast(const ProtobufCBinaryData *envs, size_t n, Stele__Status *status,
                       char (*tx_ids)[65]);

/* A client broadcasting PER_CLIENT envelopes of its own on one stream. */
struct sender {
    int client; /* index in g_net.clients */
    pthread_t thread;
    bool ok;       /* every envelope was answered SUCCESS, in order */
    char why[160]; /* what went wrong when !ok */
};

/* Runs the sender `arg` (a struct sender), as a thread's main or called directly; its tx_ids
 * go to g_net.accepted when ok. No cmocka assertion. */
void *orderer_sender_main(void *arg);
/* Runs a sender for each of the CLIENTS clients at once; every one must succeed. */
void orderer_broadcast_from_all_clients(void);

/* ---- a Deliver subscriber that survives restarts ---- */

/* A block a subscriber received. */
struct seen_block {
    uint64_t number;
    uint8_t hash[32], prev[32]; /* its header hash; its previous_hash */
    size_t n_txs;               /* envelopes it holds */
};

/* A subscriber thread and what it received; lock `mu` to read it while the thread runs. */
struct subscriber {
    uint64_t next; /* next block number wanted */
    uint64_t stop; /* last block wanted (UINT64_MAX: follow) */
    volatile bool quit;
    pthread_t thread;
    bool joined; /* the thread was joined */
    pthread_mutex_t mu;
    struct seen_block *blocks; /* received, in order */
    size_t n_blocks;
    char (*txs)[65]; /* tx_ids of the blocks after genesis, in order (MAX_TXS at most) */
    size_t n_txs;
    int final_status; /* last status received */
    bool bad;         /* an invariant broke (see why) */
    char why[160];
};

/* A signed Deliver request of the auditor for start..stop (free .data). */
ProtobufCBinaryData deliver_seek(uint64_t start, uint64_t stop, bool fail_if_not_ready);
/* Starts a subscriber for blocks start..stop (UINT64_MAX: follow). Whenever its stream ends
 * without SUCCESS (orderer restarting, connection refused) it subscribes again from the next
 * block it lacks, so what it records is exactly once, in order, across restarts. Each block's
 * hashes, link and solo proof are checked as it arrives. */
struct subscriber *sub_start(uint64_t start, uint64_t stop);
/* Waits until the subscriber holds `n` tx_ids (or 30 s). */
void sub_wait_txs(struct subscriber *s, size_t n);
/* Waits for a subscriber with a stop block to finish on its own. */
void sub_join(struct subscriber *s);
/* Stops the subscriber, fails the test if an invariant broke, and frees it. */
void sub_end(struct subscriber *s);
/* Every accepted tx_id is in the subscriber's blocks exactly once; no refused one is. */
void assert_exactly_once(struct subscriber *s);

#endif
