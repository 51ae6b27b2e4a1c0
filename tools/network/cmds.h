/* cmds.h — the subcommands of stele-network (main.c's table). */
#ifndef STELE_TOOLS_NETWORK_CMDS_H
#define STELE_TOOLS_NETWORK_CMDS_H

#include <stdbool.h>

/* Each takes argv with argv[0] = the subcommand name and returns the exit status. */
int cmd_up(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_check(int argc, char **argv);

struct netfile_process;
/* Whether process `p` of the network in `dir` still runs: its pid is alive and is the daemon
 * started with p's configuration file (or its keeper), not another process the system gave
 * that pid since (ops.c). */
bool net_process_runs(const char *dir, const struct netfile_process *p);

#endif
