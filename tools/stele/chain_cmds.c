/* chain_cmds.c — `stele chain info`: an orderer's channel, height and current block hash
 * (stele.Orderer/ChainInfo); `stele chain config`: the channel configuration of block 0, from
 * an orderer or a genesis block file. */
#include "chain_cmds.h"
#include "block_cmds.h"
#include "orderer_client.h"
#include "peer_client.h"
#include "peer_cmds.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "identity/enrolment.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char chain_usage[] =
    "Usage: stele chain info (--orderer HOST:PORT[,HOST:PORT...] | --network DIR)\n"
    "                        [--all-orderers] [TLS] [--json]\n"
    "       stele chain info (--peer HOST:PORT[,HOST:PORT...] | --network DIR) --all-peers\n"
    "                        [TLS] [--json]\n"
    "       stele chain config (--orderer HOST:PORT --identity DIR | --network DIR)\n"
    "                          [--channel ID] [TLS] [--json]\n"
    "       stele chain config --file GENESIS_BLOCK [--json]\n"
    "\n"
    "TLS: --tls-ca FILE (the daemons serve TLS with certificates from these PEM roots) and\n"
    "--tls-cert FILE --tls-key FILE (a client certificate, for daemons that ask for one);\n"
    "with --network DIR, the network's own when it runs TLS.\n"
    "info prints the orderer's channel, height and current block hash. --network DIR asks the\n"
    "first orderer of the network `stele-network up --dir DIR` started.\n"
    "--all-orderers asks every orderer (of the network, or listed) and prints one line each:\n"
    "node, height, head hash, view and role (primary/backup), and whether they agree. Exit\n"
    "status 0 when every orderer answered, 3 when one could not be reached, else 1 when one\n"
    "refused (a daemon that is not an orderer does not know the question).\n"
    "--peer / --all-peers ask peers instead (stele.Query/ChainInfo): each peer's height, head\n"
    "hash and state hash, and whether they agree (exit 1 when they differ or one refused, 3\n"
    "when one could not be reached).\n"
    "config prints the channel configuration block 0 carries: organisations and the CA keys\n"
    "they trust, orderers with their keys and addresses, consensus and its parameters, batch\n"
    "parameters, chaincode definitions, lifecycle policy, and who signed it. It reads block 0\n"
    "from an orderer (Deliver, signed with the identity in DIR, as `stele block get 0`) or from\n"
    "a genesis block file. Exits 1 when block 0 is not a valid genesis block.\n";

/* One orderer's answer for --all-orderers. */
struct row {
    const char *url;
    Stele__BlockchainInfo *info; /* NULL: unreachable */
    char err[300];
};

/* Asks every orderer in o->orderers and prints the table (or a JSON array). */
static int all_orderers(const char *prog, struct chain_opts *o)
{
    struct row rows[CHAIN_MAX_ORDERERS] = {0};
    int worst = 0;
    for (size_t i = 0; i < o->n_orderers; i++) {
        rows[i].url = o->orderers[i];
        struct rpc_channel_opts co = {.fail_fast = true, .timeout_ms = 5000, .tls = o->tls};
        char *err = NULL;
        struct rpc_channel *ch = rpc_channel_open(rows[i].url, &co, &err);
        if (!ch) { /* a TLS file missing or not PEM (the addresses parsed): the same for all */
            int rc = cli_fail(prog, STELE_ERR_INVALID, "%s", err ? err : rows[i].url);
            free(err);
            for (size_t k = 0; k < i; k++)
                pb_free(rows[k].info ? &rows[k].info->base : NULL);
            return rc;
        }
        struct rpc_result res = {0};
        ProtobufCMessage *m = NULL;
        int rc = rpc_unary(ch, "/stele.Orderer/ChainInfo",
                           &(Stele__ChainInfoRequest)STELE__CHAIN_INFO_REQUEST__INIT.base,
                           &stele__blockchain_info__descriptor, &m, 0, &res);
        if (rc) {
            snprintf(rows[i].err, sizeof rows[i].err, "%s",
                     res.detail[0] ? res.detail : rpc_code_name(res.code));
            /* as the one-orderer form exits: 3 not reached, 1 refused (not an orderer) */
            int code = stele_exit_code(peer_client_failure(rc, &res));
            worst = code > worst ? code : worst;
        } else {
            rows[i].info = (Stele__BlockchainInfo *)m;
        }
        free(err);
        rpc_channel_close(ch);
    }
    /* They agree when every one that answered has the same head, or the shorter chains' heads
     * are not contradicted by what we can see (heights differ only by blocks in flight). */
    bool same = true;
    const Stele__BlockchainInfo *first = NULL;
    for (size_t i = 0; i < o->n_orderers; i++) {
        const Stele__BlockchainInfo *in = rows[i].info;
        if (!in)
            continue;
        if (!first)
            first = in;
        else if (in->height != first->height || in->current_hash.len != first->current_hash.len ||
                 memcmp(in->current_hash.data, first->current_hash.data, in->current_hash.len) != 0)
            same = false;
    }
    if (o->json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_bool(&j, "same_head", same && first);
        json_key(&j, "orderers");
        json_array_begin(&j);
        for (size_t i = 0; i < o->n_orderers; i++) {
            const Stele__BlockchainInfo *in = rows[i].info;
            json_object_begin(&j);
            json_kv_string(&j, "address", rows[i].url);
            if (in) {
                json_kv_string(&j, "node_id", in->node_id);
                json_kv_uint(&j, "height", in->height);
                json_kv_hex(&j, "current_hash", in->current_hash.data, in->current_hash.len);
                json_kv_string(&j, "consensus_type", in->consensus_type);
                json_kv_uint(&j, "view", in->view);
                json_kv_string(&j, "role", in->role);
            } else {
                json_kv_string(&j, "error", rows[i].err);
            }
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        printf("%s\n", (char *)b.data);
        buf_release(&b);
    } else {
        printf("%-12s %-21s %8s  %-16s %6s  %s\n", "NODE", "ADDRESS", "HEIGHT", "HEAD", "VIEW",
               "ROLE");
        for (size_t i = 0; i < o->n_orderers; i++) {
            const Stele__BlockchainInfo *in = rows[i].info;
            if (!in) {
                char e[sizeof rows[i].err * 4];
                printf("%-12s %-21s unreachable: %s\n", "?", rows[i].url,
                       peer_client_printable(rows[i].err, e, sizeof e));
                continue;
            }
            char head[17] = "";
            if (in->current_hash.len == 32)
                hex_encode(in->current_hash.data, 8, head);
            char node[260], role[260];
            printf("%-12s %-21s %8" PRIu64 "  %-16s %6" PRIu64 "  %s\n",
                   peer_client_printable(in->node_id, node, sizeof node), rows[i].url, in->height,
                   head, in->view, peer_client_printable(in->role, role, sizeof role));
        }
        printf("%s\n", !first ? "no orderer answered"
                       : same ? "the orderers that answered hold the same head"
                              : "heads differ (blocks in flight, a lagging orderer, or a fork: "
                                "compare `stele block get N` across orderers)");
    }
    for (size_t i = 0; i < o->n_orderers; i++)
        pb_free(rows[i].info ? &rows[i].info->base : NULL);
    (void)prog;
    return worst;
}

/* `stele chain config --file FILE [--json]`. */
static int config_from_file(int argc, char **argv, const char *prog)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "f:jh", longopts)) != -1) {
        if (ch == 'f')
            file = optarg;
        else if (ch == 'j')
            json = true;
        else if (ch == 'h') {
            fputs(chain_usage, stdout);
            return CLI_EXIT_OK;
        } else
            return cli_usage(prog, "with --file only --json is accepted");
    }
    if (optind < argc || !file)
        return cli_usage(prog, "give --file GENESIS_BLOCK");
    struct buf raw;
    struct arena *a = arena_create(0);
    buf_init(&raw);
    int rc = a ? enrolment_read_file(file, GENESIS_MAX_BLOCK_LEN, &raw) : STELE_ERR_NOMEM;
    Stele__Block *b = NULL;
    if (rc) {
        rc = peer_client_read_failed(prog, file, rc);
        goto out;
    }
    b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, raw.data, raw.len, 0);
    if (!b || !b->header) {
        rc = cli_fail(prog, STELE_ERR_MALFORMED, "%s is not a serialized stele.Block", file);
        goto out;
    }
    rc = block_print_config(a, b, json);
out:
    buf_release(&raw);
    arena_destroy(a);
    return rc;
}

/* `stele chain config`. */
static int chain_config(int argc, char **argv)
{
    const char *prog = "stele chain config";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--file") == 0 || strncmp(argv[i], "--file=", 7) == 0)
            return config_from_file(argc, argv, prog);
    struct chain_opts o = {0};
    int rc = orderer_client_parse(argc, argv, prog, chain_usage, &o);
    if (rc == 0 && optind < argc)
        rc = cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (rc == 0)
        rc = block_fetch(&o, 0, true, prog);
    orderer_client_release(&o);
    return rc;
}

int cmd_chain(int argc, char **argv)
{
    const char *prog = "stele chain info";
    if (argc >= 2 && strcmp(argv[1], "config") == 0)
        return chain_config(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "info") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(chain_usage, stdout);
            return CLI_EXIT_OK;
        }
        fputs(chain_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_wants_help(argc, argv)) { /* whichever of orderers or peers the options name */
        fputs(chain_usage, stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--peer") == 0 || strcmp(argv[i], "--all-peers") == 0 ||
            strncmp(argv[i], "--peer=", 7) == 0)
            return peer_chain_info(argc - 1, argv + 1);
    struct chain_opts o = {0};
    int rc = orderer_client_parse(argc - 1, argv + 1, prog, chain_usage, &o);
    if (rc == 0 && o.all) {
        rc = all_orderers(prog, &o);
        orderer_client_release(&o);
        return rc;
    }
    struct rpc_channel *ch = rc ? NULL : orderer_client_open(prog, &o, &rc);
    if (!ch) {
        orderer_client_release(&o);
        return rc;
    }
    Stele__BlockchainInfo *info = NULL;
    if ((rc = orderer_client_chain_info(ch, prog, &o, &info)) == 0) {
        if (o.json) {
            struct buf b;
            struct json j;
            buf_init(&b);
            json_init(&j, &b);
            json_object_begin(&j);
            json_kv_string(&j, "channel_id", info->channel_id);
            json_kv_uint(&j, "height", info->height);
            json_kv_hex(&j, "current_hash", info->current_hash.data, info->current_hash.len);
            json_kv_hex(&j, "previous_hash", info->previous_hash.data, info->previous_hash.len);
            json_kv_string(&j, "consensus_type", info->consensus_type);
            json_kv_string(&j, "node_id", info->node_id);
            json_kv_uint(&j, "view", info->view);
            json_kv_string(&j, "role", info->role);
            json_object_end(&j);
            printf("%s\n", (char *)b.data);
            buf_release(&b);
        } else {
            char cur[65] = "", prev[65] = "";
            if (info->current_hash.len == 32)
                hex_encode(info->current_hash.data, 32, cur);
            if (info->previous_hash.len == 32)
                hex_encode(info->previous_hash.data, 32, prev);
            char chan[260], cons[260];
            printf("channel        %s\nheight         %" PRIu64 "\ncurrent_hash   %s\n"
                   "previous_hash  %s\nconsensus      %s\n",
                   peer_client_printable(info->channel_id, chan, sizeof chan), info->height, cur,
                   prev, peer_client_printable(info->consensus_type, cons, sizeof cons));
        }
    }
    pb_free(info ? &info->base : NULL);
    rpc_channel_close(ch);
    orderer_client_release(&o);
    return rc;
}
