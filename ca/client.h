/* client.h — helpers shared by stele-ca's client subcommands (client_cmds.c, enrol_cmds.c,
 * query_cmds.c). */
#ifndef STELE_CA_CLIENT_H
#define STELE_CA_CLIENT_H

#include "identity/enrolment.h"
#include "identity/identity.h"
#include "rpc/rpc.h"

#include <stdbool.h>
#include <stdint.h>

#define CLIENT_MAX_ATTRS 32

/* Every option any client subcommand takes; each subcommand allows a subset. */
struct client_opts {
    const char *url, *as, *id, *secret, *out, *org, *role, *reason, *ca_pub;
    const char *tls_ca; /* --tls-ca FILE: the CA serves TLS; PEM roots to trust */
    struct identity_attr attrs[CLIENT_MAX_ATTRS]; /* --attr KEY=VALUE */
    size_t n_attrs;
    uint64_t validity_s;      /* --validity, 0 = CA default */
    uint32_t max_enrollments; /* --max-enrollments, 0 = CA default */
    bool json;                /* --json */
    char **rest;              /* positional arguments */
    int n_rest;
};

/* Parses argv; `allowed` lists the short codes of the options this subcommand takes
 * (u url, a as, i id, s secret, O out, o org, r role, A attr, R reason, c ca-pub, v validity,
 * m max-enrollments, T tls-ca, j json). `--secret -` reads the secret from stdin. Returns 0, -1
 * after printing `help`, or a usage exit code. */
int client_parse(const char *prog, const char *help, const char *allowed, int argc, char **argv,
                 struct client_opts *o);
/* Opens a fail-fast channel to o->url (TLS with o->tls_ca). Returns 0 or an exit code (message
 * printed). */
int client_open(const char *prog, const struct client_opts *o, struct rpc_channel **ch);
/* Prints a failed call and returns its exit code (1 refused, 3 unreachable/internal). */
int client_rpc_fail(const char *prog, int rc, const struct rpc_result *res);
/* Loads an enrolment directory. Returns 0 or an exit code (message printed). */
int client_load(const char *prog, const char *dir, struct enrolment *e);
/* Prints a JSON document built in `out` and releases it. */
void client_print_json(struct buf *out);

#endif
