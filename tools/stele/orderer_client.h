/* orderer_client.h — options and calls shared by `stele block` and `stele chain`. */
#ifndef STELE_TOOLS_ORDERER_CLIENT_H
#define STELE_TOOLS_ORDERER_CLIENT_H

#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <stdbool.h>

struct config;

#define MAX_BLOCK_MESSAGE (80u << 20) /* AbsoluteMaxBytes tops out at 64 MiB */

#define CHAIN_MAX_ORDERERS 64

/* Command-line options of the orderer commands. */
struct chain_opts {
    const char *orderer;  /* HOST:PORT */
    const char *identity; /* DIR with key.pem (and identity) */
    const char *channel;  /* channel named in requests; NULL = the orderer's */
    struct rpc_tls tls;   /* --tls-ca roots, or the network's TLS; all NULL = plaintext */
    bool json;            /* --json */
    bool all;             /* --all-orderers */
    const char *orderers[CHAIN_MAX_ORDERERS]; /* every orderer known (network or --orderer
                                                 A,B,...), orderers[0] == orderer */
    size_t n_orderers;                        /* entries in orderers */
    char *orderer_list;                       /* malloc'd copy of --orderer split in place */
    struct config *net; /* with --network: owns the strings taken from DIR/network.json */
};

/* Parses --orderer (HOST:PORT, or several separated by commas), --identity, --channel,
 * --tls-ca, --network, --json, --all-orderers and --help (prints
 * `usage`, exits 0) into *o; positional arguments are left at argv[optind..]. --network DIR
 * takes the first orderer's address, the channel and (unless --identity is given) the CA
 * admin's identity from DIR/network.json. Returns 0 or an exit status (the error printed);
 * release *o with orderer_client_release() either way. */
int orderer_client_parse(int argc, char **argv, const char *prog, const char *usage,
                         struct chain_opts *o);

/* Frees what orderer_client_parse() loaded. */
void orderer_client_release(struct chain_opts *o);

/* Opens a fail-fast channel to o->orderer (TLS as o->tls says) that accepts blocks. NULL
 * (with *rc the exit status, the error printed) on failure. */
struct rpc_channel *orderer_client_open(const char *prog, const struct chain_opts *o, int *rc);

/* Calls stele.Orderer/ChainInfo; *out is freed with pb_free(). Returns 0 or the exit status
 * (the error printed). */
int orderer_client_chain_info(struct rpc_channel *ch, const char *prog, const struct chain_opts *o,
                              Stele__BlockchainInfo **out);

#endif
