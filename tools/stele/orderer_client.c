/* orderer_client.c — what `stele block` and `stele chain` share: options, the channel to an
 * orderer, Orderer/ChainInfo. */
#include "orderer_client.h"
#include "peer_client.h"

#include "base/status.h"
#include "cli/cli.h"
#include "config/config.h"
#include "netfile/netfile.h"
#include "pb/pb.h"
#include "tls_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int orderer_client_parse(int argc, char **argv, const char *prog, const char *usage,
                         struct chain_opts *o)
{
    static const struct option longopts[] = {
        {"orderer", required_argument, NULL, 'o'},
        {"identity", required_argument, NULL, 'i'},
        {"channel", required_argument, NULL, 'c'},
        TLS_OPTS_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"network", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {"all-orderers", no_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    const char *network = NULL;
    int ch;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "o:i:c:t:n:jh", longopts)) != -1) {
        switch (ch) {
        case 'o':
            o->orderer = optarg;
            break;
        case 'i':
            o->identity = optarg;
            break;
        case 'c':
            o->channel = optarg;
            break;
        case TLS_OPT_CA:
        case TLS_OPT_CERT:
        case TLS_OPT_KEY:
            tls_opts_take(&o->tls, ch, optarg);
            break;
        case 'n':
            network = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'A':
            o->all = true;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(CLI_EXIT_OK);
        default:
            return cli_bad_option(prog);
        }
    }
    if (network && o->orderer)
        return cli_usage(prog, "give --orderer or --network, not both");
    if (network) {
        struct netfile nf;
        char *err = NULL;
        int rc = netfile_load(network, &nf, &o->net, &err);
        if (rc) {
            rc = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
            free(err);
            return rc;
        }
        const struct netfile_process *p = netfile_find(&nf, "orderer");
        if (!p)
            return cli_fail(prog, STELE_ERR_NOT_FOUND, "the network in %s has no orderer", network);
        o->orderer = p->url;
        for (size_t i = 0; i < nf.n_processes && o->n_orderers < CHAIN_MAX_ORDERERS; i++)
            if (strcmp(nf.processes[i].kind, "orderer") == 0)
                o->orderers[o->n_orderers++] = nf.processes[i].url;
        if (!o->channel)
            o->channel = nf.channel_id;
        if (!o->identity)
            o->identity = nf.admin;
        tls_opts_from_network(&o->tls, &nf);
    }
    if (!o->orderer)
        return cli_usage(prog, "--orderer HOST:PORT (or --network DIR) is required");
    int rc = tls_opts_check(prog, &o->tls);
    if (rc)
        return rc;
    if (!network) {
        /* --orderer may list several, separated by commas; the first is the one asked. */
        if (!(o->orderer_list = strdup(o->orderer)))
            return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
        char *save = NULL;
        for (char *t = strtok_r(o->orderer_list, ",", &save);
             t && o->n_orderers < CHAIN_MAX_ORDERERS; t = strtok_r(NULL, ",", &save)) {
            /* gRPC would take "HOST:99999" for another port, and "HOST:1x" for port 1 */
            if (!config_addr_valid(t, strlen(t)))
                return cli_usage(prog, "--orderer: expected HOST:PORT, got \"%s\"", t);
            o->orderers[o->n_orderers++] = t;
        }
        if (!o->n_orderers)
            return cli_usage(prog, "--orderer: expected HOST:PORT, got \"%s\"", o->orderer);
        o->orderer = o->orderers[0];
    }
    return 0;
}

void orderer_client_release(struct chain_opts *o)
{
    config_destroy(o->net);
    o->net = NULL;
    free(o->orderer_list);
    o->orderer_list = NULL;
}

struct rpc_channel *orderer_client_open(const char *prog, const struct chain_opts *o, int *rc)
{
    struct rpc_channel_opts co = {
        .fail_fast = true, .max_message = MAX_BLOCK_MESSAGE, .tls = o->tls};
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(o->orderer, &co, &err);
    if (!ch)
        *rc = cli_fail(prog, STELE_ERR_INVALID, "%s", err ? err : o->orderer);
    free(err);
    return ch;
}

int orderer_client_chain_info(struct rpc_channel *ch, const char *prog, const struct chain_opts *o,
                              Stele__BlockchainInfo **out)
{
    Stele__ChainInfoRequest req = STELE__CHAIN_INFO_REQUEST__INIT;
    struct rpc_result res;
    int rc = rpc_unary(ch, "/stele.Orderer/ChainInfo", &req.base,
                       &stele__blockchain_info__descriptor, (ProtobufCMessage **)out, 5000, &res);
    char d[PEER_CLIENT_DETAIL_MAX];
    if (rc != STELE_OK)
        return cli_fail(prog, peer_client_failure(rc, &res), "%s: %s (%s)", o->orderer,
                        peer_client_detail(&res, "no detail", d, sizeof d),
                        rpc_code_name(res.code));
    return 0;
}
