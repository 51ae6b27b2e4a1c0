/* cmd.h — stele-peer's subcommands. Each takes argc/argv from its own name on and returns the
 * process exit status. */
#ifndef STELE_PEER_CMD_H
#define STELE_PEER_CMD_H

/* serve --config FILE [--port-file FILE]: runs the peer until SIGTERM/SIGINT. */
int cmd_serve(int argc, char **argv);

/* check FILE: loads and checks a configuration, prints it. */
int cmd_check(int argc, char **argv);

#endif
