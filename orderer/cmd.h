/* cmd.h — stele-orderer's subcommands (the table is in main.c). Each takes argv with argv[0]
 * the subcommand's name and returns an exit status (DESIGN §9). */
#ifndef STELE_ORDERER_CMD_H
#define STELE_ORDERER_CMD_H

/* `serve --config FILE [--port-file FILE]`: runs the orderer until SIGTERM or SIGINT. */
int cmd_serve(int argc, char **argv);

/* `check FILE`: loads and checks a configuration, prints its summary. */
int cmd_check(int argc, char **argv);

/* `genesis --config FILE --out FILE`: writes the genesis block for the configuration. */
int cmd_genesis(int argc, char **argv);

#endif
