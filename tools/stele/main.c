/* stele — the operator and auditor CLI. */
#include "block_cmds.h"
#include "chain_cmds.h"
#include "node_cmds.h"
#include "peer_cmds.h"

#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd commands[] = {
    {"block", cmd_block, "fetch a block from an orderer or a peer: header, tx ids, finality proof"},
    {"chain", cmd_chain, "ask orderers or peers for their chain's height and hashes"},
    {"tx", cmd_tx, "a committed transaction and its validation code, from a peer"},
    {"state", cmd_state, "world state from a peer: one key, or a range"},
    {"history", cmd_history, "every committed write of a key, from a peer"},
    {"events", cmd_events, "follow the blocks (or chaincode events) a peer commits"},
    {"chaincode", cmd_chaincode,
     "package, install, approve and commit chaincode; list what is installed and committed"},
    {"crl", cmd_crl, "put a CA's signed CRL on the ledger, so that every peer applies it"},
    {"invoke", cmd_invoke, "submit a transaction through a peer's gateway and wait for its commit"},
    {"submit", cmd_submit, "send a transaction signed earlier (stele invoke --prepare)"},
    {"query", cmd_query, "run a chaincode function on one peer (nothing is ordered)"},
    {"audit", cmd_audit, "walk a peer's whole chain and recompute it; report the first flaw"},
    {"node", cmd_node, "ask any Stele daemon for its identity, version and health"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele", "Stele operator and auditor CLI", commands, argc, argv);
}
