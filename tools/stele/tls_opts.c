/* tls_opts.c — the TLS options of the stele commands (tls_opts.h). */
#include "tls_opts.h"

#include "cli/cli.h"
#include "netfile/netfile.h"

bool tls_opts_take(struct rpc_tls *t, int ch, const char *arg)
{
    switch (ch) {
    case TLS_OPT_CA:
        t->ca_file = arg;
        return true;
    case TLS_OPT_CERT:
        t->cert_file = arg;
        return true;
    case TLS_OPT_KEY:
        t->key_file = arg;
        return true;
    default:
        return false;
    }
}

void tls_opts_from_network(struct rpc_tls *t, const struct netfile *nf)
{
    struct rpc_tls nt = netfile_client_tls(nf);
    if (!t->ca_file)
        t->ca_file = nt.ca_file;
    if (!t->cert_file && !t->key_file) {
        t->cert_file = nt.cert_file;
        t->key_file = nt.key_file;
    }
}

int tls_opts_check(const char *prog, const struct rpc_tls *t)
{
    if (!t->cert_file != !t->key_file)
        return cli_usage(prog, "give both --tls-cert and --tls-key, or neither");
    if (t->cert_file && !t->ca_file)
        return cli_usage(prog, "--tls-cert needs --tls-ca (the roots of the daemons' "
                               "certificates)");
    return 0;
}
