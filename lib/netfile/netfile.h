/*
 * netfile.h — the file `stele-network up` leaves in a network directory (DIR/network.json):
 * where the CA and the orderers listen, which processes run (pid, log, pid and exit files) and
 * where the enrolled identities are. Every program that takes `--network DIR` reads it here.
 *
 * The file is JSON written by netfile_write(); netfile_load() reads it with the schema-driven
 * loader of config/config.h (JSON is YAML), so every key is checked and paths in it are
 * relative to DIR. Nothing here starts or stops processes.
 */
#ifndef STELE_NETFILE_NETFILE_H
#define STELE_NETFILE_NETFILE_H

#include "rpc/rpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* The file's name inside a network directory. */
#define NETFILE_NAME "network.json"

/* One background process of the network. */
struct netfile_process {
    char *name;      /* unique name: "ca", or the orderer's id */
    char *kind;      /* "ca", "orderer" or "peer" */
    char *url;       /* host:port it serves gRPC on */
    char *ops_url;   /* host:port of its /metrics and /healthz, or NULL: none */
    int64_t pid;     /* its process id */
    char *log;       /* its log file (stdout and stderr) */
    char *pid_file;  /* file holding its pid */
    char *exit_file; /* file its keeper writes the exit status to when it ends */
};

/* The whole file. Strings live in the `struct config` netfile_load() returns. */
struct netfile {
    char *network;    /* the network's name */
    char *channel_id; /* the channel the orderers order */
    char *consensus;  /* consensus type: "solo" */
    char *ca_url;     /* the CA's host:port */
    char *ids_dir;    /* directory of enrolments, one subdirectory per id */
    char *admin;      /* the CA admin's enrolment directory */
    char *tls_ca;     /* PEM roots of the daemons' TLS certificates; NULL: they serve plaintext */
    char *tls_cert;   /* client certificate to present (mutual TLS), or NULL */
    char *tls_key;    /* its private key, or NULL */
    struct netfile_process *processes; /* every process, the CA first */
    size_t n_processes;                /* entries in processes */
};

/* Loads DIR/network.json into *out; paths come out prefixed with DIR. Returns STELE_OK with
 * *cfgp owning the strings (config_destroy()), STELE_ERR_NOT_FOUND when DIR holds no network
 * file, or another error; *errmsg (malloc'd, may be NULL) says what was wrong. */
int netfile_load(const char *dir, struct netfile *out, struct config **cfgp, char **errmsg);

/* Writes `nf` as DIR/network.json (atomically, mode 0644). Paths in `nf` must be relative to
 * DIR. Returns STELE_OK or STELE_ERR_IO / STELE_ERR_NOMEM. */
int netfile_write(const char *dir, const struct netfile *nf);

/* Records `pid` as the process id of process `name` in DIR/network.json (after a restart).
 * Returns STELE_OK, STELE_ERR_NOT_FOUND when the file or the process is missing, or
 * another error (*errmsg, malloc'd, may be NULL, says what). */
int netfile_set_pid(const char *dir, const char *name, int64_t pid, char **errmsg);

/* How a client of the network dials its daemons: TLS with tls_ca as roots (and the client
 * certificate, when there is one), or plaintext (all NULL). Points into `nf`. */
struct rpc_tls netfile_client_tls(const struct netfile *nf);

/* The first process of `kind` ("orderer"), or NULL. */
const struct netfile_process *netfile_find(const struct netfile *nf, const char *kind);

/* True when `pid` names a live process (signal 0 succeeds or is refused for permission). */
bool netfile_pid_alive(int64_t pid);

#endif
