/* node_cmds.h — `stele node info|health`: probes that work against every Stele daemon. */
#ifndef STELE_TOOLS_NODE_CMDS_H
#define STELE_TOOLS_NODE_CMDS_H

int cmd_node(int argc, char **argv);

#endif
