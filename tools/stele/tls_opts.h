/* tls_opts.h — the TLS options of every stele command that dials a daemon: --tls-ca,
 * --tls-cert, --tls-key, the network's own TLS with --network, and their checks. */
#ifndef STELE_TOOLS_TLS_OPTS_H
#define STELE_TOOLS_TLS_OPTS_H

#include "rpc/rpc.h"

#include <stdbool.h>

struct netfile;

/* getopt_long values of the options (no short forms). */
#define TLS_OPT_CA   0x154
#define TLS_OPT_CERT 0x155
#define TLS_OPT_KEY  0x156

/* Their getopt_long entries, for a command's option table. */
#define TLS_OPTS_LONGOPTS                                    \
    {"tls-ca", required_argument, NULL, TLS_OPT_CA},         \
        {"tls-cert", required_argument, NULL, TLS_OPT_CERT}, \
    {                                                        \
        "tls-key", required_argument, NULL, TLS_OPT_KEY      \
    }

/* Takes option `ch` (with `arg`) into *t when it is one of them: returns true. */
bool tls_opts_take(struct rpc_tls *t, int ch, const char *arg);

/* Fills what the options left unset from the network's TLS (network.json): its roots, and
 * its client certificate unless one was given. */
void tls_opts_from_network(struct rpc_tls *t, const struct netfile *nf);

/* After parsing: a client certificate needs both files and roots. Returns 0, or the usage
 * exit status with the error printed (naming `prog`). */
int tls_opts_check(const char *prog, const struct rpc_tls *t);

#endif
