/* peer_client.h — what the peer commands of `stele` share (tx, state, history, events, audit,
 * block get --peer, chain info --all-peers): options, signed Query/Events calls. */
#ifndef STELE_TOOLS_PEER_CLIENT_H
#define STELE_TOOLS_PEER_CLIENT_H

#include "identity/enrolment.h"
#include "rpc/rpc.h"
#include "tls_opts.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config;

#define PEER_CLIENT_MAX_PEERS 16
#define PEER_MAX_MESSAGE      (80u << 20)

/* Options shared by the peer commands. */
struct peer_opts {
    const char *peer;                         /* the peer asked: peers[0] */
    const char *peers[PEER_CLIENT_MAX_PEERS]; /* every peer given or in the network */
    size_t n_peers;                           /* entries in peers */
    const char *identity;                     /* DIR of the enrolment signing requests */
    const char *network;                      /* --network DIR */
    bool json;                                /* --json */
    char *peer_list;                          /* malloc'd copy of --peer split in place */
    struct config *net;                       /* owns the strings of network.json */
    struct enrolment self;                    /* loaded by peer_client_finish() if needed */
    bool have_self;                           /* self is loaded */
    struct rpc_channel *ch;                   /* channel to `peer` once opened */
    struct rpc_tls tls; /* --tls-ca roots, or the network's TLS; all NULL = plaintext */
};

/* The help line of --tls-ca, for the commands' usage texts. */
#define PEER_CLIENT_TLS_HELP                                                            \
    "  --tls-ca FILE      the peers serve TLS with certificates from these PEM roots\n" \
    "                     (with --network DIR: that network's, when it runs TLS)\n"     \
    "  --tls-cert FILE, --tls-key FILE\n"                                               \
    "                     client certificate and key, for peers that ask for one\n"

/* getopt_long entries of the shared options; commands append their own and a terminator. */
#define PEER_CLIENT_LONGOPTS                                                            \
    {"peer", required_argument, NULL, 'P'}, {"identity", required_argument, NULL, 'i'}, \
        {"network", required_argument, NULL, 'n'}, TLS_OPTS_LONGOPTS,                   \
    {                                                                                   \
        "json", no_argument, NULL, 'j'                                                  \
    }

/* Takes option `ch` (with `arg`) when it is a shared one: returns true. */
bool peer_client_option(struct peer_opts *o, int ch, const char *arg);

/* Parses the options of a command that takes only the shared ones and --help (which prints
 * `usage`), resetting getopt first. Returns -1 to go on, with optind at the first operand, or
 * an exit status: 0 after the help, or a usage error (printed, naming `prog`). */
int peer_client_parse(int argc, char **argv, struct peer_opts *o, const char *prog,
                      const char *usage);

/* After parsing: takes the peers and the default identity from --network, splits --peer A,B
 * and, when `need_identity`, loads the enrolment. Returns 0 or an exit status (printed). */
int peer_client_finish(struct peer_opts *o, const char *prog, bool need_identity);

/* Frees what the options hold. */
void peer_client_release(struct peer_opts *o);

/* Opens a fail-fast channel to `addr` (NULL: o->peer) accepting blocks. NULL with the error
 * printed and *rc the exit status. */
struct rpc_channel *peer_client_open(struct peer_opts *o, const char *prog, const char *addr,
                                     int *rc);

/* What peer_client_call() returns for a NOT_FOUND answer with `quiet_not_found`: never an
 * exit status, so that a caller tells it from a failure already printed. */
#define PEER_CLIENT_NOT_FOUND (-1)

/* Calls the unary Query/Events `method` ("/stele.Query/State") on o->peer with `body` signed
 * by o->self. *resp is freed with pb_free(). Returns 0, or the exit status with the error
 * printed (a NOT_FOUND answer returns PEER_CLIENT_NOT_FOUND, printing nothing, when
 * `quiet_not_found`). */
int peer_client_call(struct peer_opts *o, const char *prog, const char *method,
                     const ProtobufCMessage *body, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, bool quiet_not_found);

/* Fills `sr` (a Stele__SignedRequest, caller-owned, pointing into `req` and `sig`) for
 * `method` with `body`. Returns STELE_OK or an error. */
struct Stele__SignedRequest;
struct buf;
int peer_client_sign(struct peer_opts *o, const char *method, const ProtobufCMessage *body,
                     struct buf *req, uint8_t sig[64], struct Stele__SignedRequest *sr);

/* Parses `arg` as a decimal number 0..max (digits only: no sign, no space, no overflow).
 * Returns false when it is not one. */
bool peer_client_number(const char *arg, uint64_t max, uint64_t *out);

/* Writes `s` to `f`, its control characters (C0, DEL, and C1 encoded as UTF-8) as \xNN: text
 * from the ledger or a chaincode cannot move a terminal's cursor or retitle its window. */
void peer_client_fput_printable(const char *s, FILE *f);
/* The same escaping of `s` (NULL: "") into buf[n] (n > 0), cut to fit; returns buf. For text
 * an orderer or peer sends (node ids, roles, status details) printed with printf. */
const char *peer_client_printable(const char *s, char *buf, size_t n);

/* Room for peer_client_detail()'s text: every octet of a detail escaped. */
#define PEER_CLIENT_DETAIL_MAX (sizeof(((struct rpc_result *)0)->detail) * 4)
/* The detail text of a failed call (what the server said, `none` when it said nothing) as
 * peer_client_printable() escapes it, into buf[n]; returns buf. Every error message that
 * quotes a daemon goes through it: the daemon chooses the words, and their control
 * characters. */
const char *peer_client_detail(const struct rpc_result *res, const char *none, char *buf, size_t n);

/* The status to exit with after a call that failed with `rc` and result `res`: a daemon that
 * does not serve the method (UNIMPLEMENTED: another kind of daemon at that address, a peer
 * given as an orderer) refuses, as bad input does (exit 1), rather than failing in a way that
 * trying again could mend (3). Other failures keep `rc`. */
int peer_client_failure(int rc, const struct rpc_result *res);

/* After enrolment_write_file() failed to write `path`, with `err` the errno it left: prints
 * "cannot write PATH: why" and returns the exit status. A path that cannot be written (no such
 * directory, no permission, a directory, a read-only file system) is bad input (1); a disk
 * that failed or filled up is a failure that may pass (3). */
int peer_client_write_failed(const char *prog, const char *path, int err);

/* After enrolment_read_file() failed with `rc` to read `path`: prints "cannot read PATH: why"
 * ("it is a directory" for one) and returns the exit status. */
int peer_client_read_failed(const char *prog, const char *path, int rc);

/* The short name of a validation code ("VALID", "MVCC_READ_CONFLICT"). */
const char *peer_code_name(unsigned code);

#endif
