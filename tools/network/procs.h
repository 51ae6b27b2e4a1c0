/*
 * procs.h — the processes of a local network: running the other Stele programs, starting a
 * daemon in the background under a keeper, waiting until it is healthy, stopping it.
 *
 * A daemon is started through `stele-network keep`, a small process in a session of its own
 * that forks and execs the daemon with its output in a log file, writes the daemon's pid file,
 * waits for it and writes its exit status ("exited 0", "killed by signal 9") to an exit file.
 * The daemon outlives `stele-network up`; `down` reads the exit file to report how it ended.
 */
#ifndef STELE_TOOLS_NETWORK_PROCS_H
#define STELE_TOOLS_NETWORK_PROCS_H

#include "rpc/rpc.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

/* Writes the path of program `name` in the directory of this executable into `out`. */
void procs_sibling(const char *name, char *out, size_t n);

/* Runs argv (argv[0] a path) to completion with stdout appended to `out` (may be NULL: to
 * /dev/null) and stderr to ours. Returns its exit status, or -1 when it could not run. */
int procs_run(char *const argv[], struct buf *out);

/* Starts argv in the background under a keeper (see above): output to `log`, pid to
 * `pid_file`, exit status to `exit_file`. Waits up to 5 s for the pid file. Returns STELE_OK
 * with *pid the daemon's pid, or an error. */
int procs_start(char *const argv[], const char *log, const char *pid_file, const char *exit_file,
                pid_t *pid);

/* Asks grpc.health.v1.Health/Check at `url` (a fresh channel per attempt, dialled as `tls`
 * says; NULL = plaintext) until SERVING or
 * `wait_ms` has passed; stops early when `exit_file` (may be NULL) appears. Returns STELE_OK
 * when SERVING, else STELE_ERR_UNAVAILABLE (unreachable or dead) or STELE_ERR_STATE (answers,
 * not serving); *state (may be NULL) gets "SERVING", "NOT_SERVING", "UNREACHABLE" or
 * "EXITED" (static); `res` (may be NULL) the last call's code and detail (why it could not be
 * reached). */
int procs_health(const char *url, const struct rpc_tls *tls, uint64_t wait_ms,
                 const char *exit_file, const char **state, struct rpc_result *res);

/* True when `pid` is the daemon whose configuration file is `conf`: a live process running
 * `program` ("stele-orderer", the file name of a sibling of this executable) as
 * `program serve --config FILE`, FILE being `conf` (the same file, however spelled), or its
 * keeper about to become it. A pid network.json records may since have been given to another
 * process: only a pid this accepts may be signalled. False when /proc/PID cannot be read. */
bool procs_is_daemon(int64_t pid, const char *program, const char *conf);

/* True when another process listens on (or holds) the port of `addr` ("host:port"): a daemon
 * started there could not serve, and the other could answer its health check instead. False
 * when the port can be bound, or the host does not resolve (the daemon then says why). */
bool procs_addr_in_use(const char *addr);

/* The termination signal (SIGINT, SIGTERM, SIGHUP) that arrived since procs_catch_signals(),
 * or 0. procs_health() gives up at once when it is set. */
extern volatile sig_atomic_t procs_signal;

/* Records SIGINT, SIGTERM and SIGHUP in procs_signal instead of dying of them, so that a long
 * operation can undo what it did; a signal ignored when this is called stays ignored (nohup). */
void procs_catch_signals(void);

/* Reads the exit file into `out` ("exited 0"); false when it does not exist yet. */
bool procs_exit_status(const char *exit_file, char *out, size_t n);

/* `stele-network keep`: the keeper itself. */
int cmd_keep(int argc, char **argv);

#endif
