/* chain_cmds.c — `stele chain info`: an orderer's channel, height and current block hash
 * (stele.Orderer/ChainInfo). */
#include "chain_cmds.h"
#include "orderer_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char chain_usage[] =
    "Usage: stele chain info (--orderer HOST:PORT | --network DIR) [--tls-ca FILE] [--json]\n"
    "\n"
    "Prints the orderer's channel, height and current block hash. --network DIR asks the\n"
    "first orderer of the network `stele-network up --dir DIR` started.\n";

int cmd_chain(int argc, char **argv)
{
    const char *prog = "stele chain info";
    if (argc < 2 || strcmp(argv[1], "info") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(chain_usage, stdout);
            return CLI_EXIT_OK;
        }
        fputs(chain_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    struct chain_opts o = {0};
    int rc = orderer_client_parse(argc - 1, argv + 1, prog, chain_usage, &o);
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
            json_object_end(&j);
            printf("%s\n", (char *)b.data);
            buf_release(&b);
        } else {
            char cur[65] = "", prev[65] = "";
            if (info->current_hash.len == 32)
                hex_encode(info->current_hash.data, 32, cur);
            if (info->previous_hash.len == 32)
                hex_encode(info->previous_hash.data, 32, prev);
            printf("channel        %s\nheight         %" PRIu64 "\ncurrent_hash   %s\n"
                   "previous_hash  %s\nconsensus      %s\n",
                   info->channel_id, info->height, cur, prev, info->consensus_type);
        }
    }
    pb_free(info ? &info->base : NULL);
    rpc_channel_close(ch);
    orderer_client_release(&o);
    return rc;
}
