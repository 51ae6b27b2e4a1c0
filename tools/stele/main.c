/* stele — the operator and auditor CLI. */
#include "node_cmds.h"

#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd commands[] = {
    {"node", cmd_node, "ask any Stele daemon for its identity, version and health"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele", "Stele operator and auditor CLI", commands, argc, argv);
}
