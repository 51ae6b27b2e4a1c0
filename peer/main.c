/* stele-peer — the committing peer. `stele-peer --config FILE` runs it, `--check FILE` checks a
 * configuration; both are shorthands for the subcommands below. */
#include "ccrt.h"
#include "cmd.h"

#include "cli/cli.h"

#include <stddef.h>
#include <string.h>

static const struct cli_cmd commands[] = {
    {"serve", cmd_serve, "run the peer (same as --config FILE)"},
    {"check", cmd_check, "check a configuration file and print it (same as --check FILE)"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--config") == 0)
        return cmd_serve(argc, argv); /* argv[0] stands in for "serve" */
    if (argc >= 2 && strcmp(argv[1], "--check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "chaincode-host") == 0) /* hidden: started by the peer */
        return ccrt_host_main(argc - 1, argv + 1);
    return cli_dispatch("stele-peer", "Stele committing peer", commands, argc, argv);
}
