/* stele-network — start, inspect and stop a local Stele network (DESIGN §1, §8). */
#include "cmds.h"
#include "procs.h"

#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd commands[] = {
    {"up", cmd_up, "create and start the network a description file gives, under --dir DIR"},
    {"status", cmd_status, "each process of a network: pid, alive, health"},
    {"down", cmd_down, "stop every process of a network (SIGTERM, then SIGKILL after a timeout)"},
    {"restart", cmd_restart, "stop one process of a network and start it again"},
    {"check", cmd_check, "check a network description and print it"},
    {"keep", cmd_keep, "internal: run one daemon and record its exit status (used by up)"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele-network", "Stele local network launcher", commands, argc, argv);
}
