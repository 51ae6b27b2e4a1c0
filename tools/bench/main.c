/* stele-bench — benchmark workloads that print numbers (DESIGN §10). */
#include "bench.h"

#include "cli/cli.h"

#include <stddef.h>

static const struct cli_cmd commands[] = {
    {"rpc", bench_rpc, "unary round trips and streamed messages per second over loopback"},
    {"ca", bench_ca, "identities registered and enrolled per second; ECDSA and ECQV costs"},
    {"order", bench_order, "signed envelopes per second through Broadcast into delivered blocks"},
    {"commit", bench_commit, "endorsed transactions validated and committed per second"},
    {"submit", bench_submit,
     "transactions submitted through the gateways and committed per second"},
    {"serve", bench_serve, "serve stele.Bench, Health and Node/Info for remote runs"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele-bench", "Stele benchmark workloads", commands, argc, argv);
}
