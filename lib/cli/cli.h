/*
 * cli.h — what every Stele command-line program shares (DESIGN §9).
 *
 * `program subcommand [options]`; --help on every level; exit status 0 on success, 1 for a
 * refused operation, 2 for a usage error, 3 or more for internal or transport failures.
 * A program's main() is a table of {name, fn, summary} handed to cli_dispatch().
 */
#ifndef STELE_CLI_CLI_H
#define STELE_CLI_CLI_H

#include <stdbool.h>

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_REFUSED = 1,  /* bad input, policy, not found */
    CLI_EXIT_USAGE = 2,    /* wrong flags or arguments */
    CLI_EXIT_INTERNAL = 3, /* internal error or unreachable service */
};

/* One subcommand: `fn` receives argv with argv[0] = the subcommand name. */
struct cli_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary; /* one line for the program's help */
};

/* Runs the subcommand named by argv[1]. Handles `--help`, `-h`, `help` and `--version` itself,
 * and an unknown or missing subcommand as a usage error (exit 2). `about` is the one-line
 * description of the program. Returns the exit status. */
int cli_dispatch(const char *prog, const char *about, const struct cli_cmd *cmds, int argc,
                 char **argv);

/* Prints "PROG: message" and a hint to use --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "PROG: error: message" on stderr and returns the exit status for stele `status`
 * (1 for refusals, 3 for internal/transport failures). */
int cli_fail(const char *prog, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct option;

/* getopt_long() for the subcommand `prog`, its full name ("stele chain info"): getopt's own
 * message on a bad option names `prog` ("stele chain info: unrecognized option '--x'"), and an
 * invalid option that looks like a negative number ("-5") adds that arguments starting with
 * '-' go after "--". Returns what getopt_long() returns ('?' after such a message): the caller
 * then returns cli_bad_option(prog). */
int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* After the message cli_getopt() printed: prints "Try 'PROG --help'." on stderr and returns
 * CLI_EXIT_USAGE. */
int cli_bad_option(const char *prog);

/* True when argv holds -h or --help (before any "--"). */
bool cli_wants_help(int argc, char **argv);

/* Writes `port` and a newline to `path` (daemons started on port 0 tell tests and launchers
 * where they listen). Returns 0, or CLI_EXIT_INTERNAL with "PROG: cannot write PATH" printed. */
int cli_write_port_file(const char *prog, const char *path, int port);

#endif
