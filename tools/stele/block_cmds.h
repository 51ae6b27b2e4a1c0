/* block_cmds.h — `stele block get N`: one block from an orderer, with its finality proof. */
#ifndef STELE_TOOLS_BLOCK_CMDS_H
#define STELE_TOOLS_BLOCK_CMDS_H

#include "orderer_client.h"

#include <stdbool.h>
#include <stdint.h>

/* `stele block get N --orderer HOST:PORT --identity DIR [--channel ID] [--json]` */
int cmd_block(int argc, char **argv);

/* Fetches block `n` with Deliver as `o` says (o->identity required) and prints it, or with
 * `config_only` only the channel configuration it carries (block 0). Errors are printed
 * under `prog`. Returns the exit status. */
int block_fetch(const struct chain_opts *o, uint64_t n, bool config_only, const char *prog);

/* Prints the hash of block 0 `b` (untrusted, decoded in `a`) and the channel configuration it
 * carries, as JSON or text. Returns CLI_EXIT_OK, or CLI_EXIT_REFUSED when it is not a valid
 * genesis block (the reason printed). */
struct arena;
int block_print_config(struct arena *a, const Stele__Block *b, bool json);

#endif
