/* stele — the operator and auditor CLI. */
#include "block_cmds.h"
#include "chain_cmds.h"
#include "node_cmds.h"

#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd commands[] = {
    {"block", cmd_block, "fetch a block from an orderer: header, tx ids, finality proof"},
    {"chain", cmd_chain, "ask an orderer for its chain's height and current hash"},
    {"node", cmd_node, "ask any Stele daemon for its identity, version and health"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele", "Stele operator and auditor CLI", commands, argc, argv);
}
