/* block_cmds.h — `stele block get N`: one block from an orderer, with its finality proof. */
#ifndef STELE_TOOLS_BLOCK_CMDS_H
#define STELE_TOOLS_BLOCK_CMDS_H

/* `stele block get N --orderer HOST:PORT --identity DIR [--channel ID] [--json]` */
int cmd_block(int argc, char **argv);

#endif
