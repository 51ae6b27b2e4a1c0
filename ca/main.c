/* main.c — stele-ca: the certificate authority daemon and its client subcommands. */
#include "ca.h"

#include "cli/cli.h"

static const struct cli_cmd commands[] = {
    {"init", cmd_init, "create a new CA (key, id, registry, bootstrap admin) in a directory"},
    {"serve", cmd_serve, "run the CA daemon (stele.CA over gRPC)"},
    {"enroll", cmd_enroll, "enrol an id with its secret: new key pair and certificate"},
    {"register", cmd_register, "register a new id (admin)"},
    {"reenroll", cmd_reenroll, "replace an enrolled identity's key and certificate"},
    {"revoke", cmd_revoke, "revoke every certificate of an id (admin)"},
    {"crl", cmd_crl, "fetch and verify the CA's certificate revocation list"},
    {"info", cmd_info, "show the CA's id, name and public key"},
    {"inspect", cmd_inspect, "show an enrolment directory, identity or certificate (offline)"},
    {"tls-ca", cmd_tls_ca, "create an X.509 CA for TLS between Stele's processes (offline)"},
    {"tls-issue", cmd_tls_issue, "issue a node's TLS certificate and key from that CA (offline)"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    return cli_dispatch("stele-ca", "Stele certificate authority (ECQV implicit certificates)",
                        commands, argc, argv);
}
