/* chain_cmds.h — `stele chain info`: where an orderer's chain is. */
#ifndef STELE_TOOLS_CHAIN_CMDS_H
#define STELE_TOOLS_CHAIN_CMDS_H

/* `stele chain info --orderer HOST:PORT [--json]` */
int cmd_chain(int argc, char **argv);

#endif
