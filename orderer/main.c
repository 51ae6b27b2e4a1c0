/* stele-orderer — the ordering node. `stele-orderer --config FILE` runs it, `--check FILE`
 * checks a configuration; both are shorthands for the subcommands below. */
#include "cmd.h"

#include "cli/cli.h"

#include <stddef.h>
#include <string.h>

static const struct cli_cmd commands[] = {
    {"serve", cmd_serve, "run the orderer (same as --config FILE)"},
    {"check", cmd_check, "check a configuration file and print it (same as --check FILE)"},
    {"genesis", cmd_genesis, "write the genesis block for a configuration"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--config") == 0)
        return cmd_serve(argc, argv); /* argv[0] stands in for "serve" */
    if (argc >= 2 && strcmp(argv[1], "--check") == 0)
        return cmd_check(argc - 1, argv + 1);
    return cli_dispatch("stele-orderer", "Stele ordering node", commands, argc, argv);
}
