/* cmds.h — the subcommands of stele-network (main.c's table). */
#ifndef STELE_TOOLS_NETWORK_CMDS_H
#define STELE_TOOLS_NETWORK_CMDS_H

/* Each takes argv with argv[0] = the subcommand name and returns the exit status. */
int cmd_up(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_check(int argc, char **argv);

#endif
