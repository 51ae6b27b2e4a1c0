/* cli.c — subcommand dispatch, usage and error reporting. */
#include "cli/cli.h"

#include "base/status.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void print_commands(FILE *f, const char *prog, const char *about, const struct cli_cmd *cmds)
{
    fprintf(f, "%s — %s\n\nUsage: %s COMMAND [OPTIONS]\n\nCommands:\n", prog, about, prog);
    for (const struct cli_cmd *c = cmds; c->name; c++)
        fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", prog);
}

int cli_dispatch(const char *prog, const char *about, const struct cli_cmd *cmds, int argc,
                 char **argv)
{
    if (argc < 2) {
        print_commands(stderr, prog, about, cmds);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_commands(stdout, prog, about, cmds);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("%s %s\n", prog, STELE_VERSION);
        return CLI_EXIT_OK;
    }
    for (const struct cli_cmd *c = cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c->fn(argc - 1, argv + 1);
    return cli_usage(prog, "unknown command '%s'", name);
}

int cli_usage(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *prog, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    int code = stele_exit_code(status);
    return code == 0 ? CLI_EXIT_REFUSED : code;
}

int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    /* getopt names argv[0] in its messages: the subcommand's own name is only its last word */
    char *name = argv[0];
    argv[0] = (char *)prog;
    opterr = 1;
    int ch = getopt_long(argc, argv, shortopts, longopts, NULL);
    argv[0] = name;
    if (ch == '?' && isdigit((unsigned char)optopt))
        fprintf(stderr,
                "%s: an argument that starts with '-' (a negative number?) goes after '--', "
                "which ends the options: %s [OPTIONS] -- ARG...\n",
                prog, prog);
    return ch;
}

int cli_bad_option(const char *prog)
{
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return CLI_EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int cli_write_port_file(const char *prog, const char *path, int port)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "%d\n", port) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    return ok ? 0 : cli_fail(prog, STELE_ERR_IO, "cannot write %s", path);
}
