/*
 * node_cmds.c — `stele node info --url H:P` (stele.Node/Info) and
 * `stele node health --url H:P [--service S] [--wait S]` (grpc.health.v1.Health/Check).
 */
#include "node_cmds.h"
#include "peer_client.h"
#include "tls_opts.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "config/config.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/node.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_MAX_WAIT_S 86400 /* --wait: a day at most */

struct node_opts {
    const char *url;
    const char *service;
    double wait_s;
    bool json;
    struct rpc_tls tls; /* --tls-ca, --tls-cert, --tls-key */
};

static const char node_usage[] =
    "Usage: stele node info   --url HOST:PORT [TLS] [--json]\n"
    "       stele node health --url HOST:PORT [--service NAME] [--wait SECONDS] [TLS] [--json]\n"
    "\n"
    "TLS: --tls-ca FILE (the daemon serves TLS with a certificate from these PEM roots) and\n"
    "--tls-cert FILE --tls-key FILE (a client certificate, for daemons that ask for one).\n"
    "info    prints the daemon's node id, role, version and uptime (stele.Node/Info).\n"
    "health  asks grpc.health.v1.Health/Check; exits 0 when SERVING, 1 otherwise.\n"
    "        --wait keeps asking for up to SECONDS until the daemon answers SERVING.\n";

static int parse(int argc, char **argv, struct node_opts *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"service", required_argument, NULL, 's'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        TLS_OPTS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char prog[32]; /* "stele node info" or "stele node health" */
    snprintf(prog, sizeof prog, "stele node %s", argv[0]);
    optind = 1;
    int ch;
    while ((ch = cli_getopt(prog, argc, argv, "u:s:w:jh", longopts)) != -1) {
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 's':
            o->service = optarg;
            break;
        case 'w': {
            char *end = NULL;
            o->wait_s = strtod(optarg, &end);
            /* NaN fails both comparisons; larger values would overflow the milliseconds */
            if (end == optarg || *end || !(o->wait_s >= 0 && o->wait_s <= NODE_MAX_WAIT_S))
                return cli_usage("stele node", "--wait takes 0..%d seconds, not '%s'",
                                 NODE_MAX_WAIT_S, optarg);
            break;
        }
        case 'j':
            o->json = true;
            break;
        case TLS_OPT_CA:
        case TLS_OPT_CERT:
        case TLS_OPT_KEY:
            tls_opts_take(&o->tls, ch, optarg);
            break;
        case 'h':
            fputs(node_usage, stdout);
            exit(CLI_EXIT_OK);
        default:
            return cli_bad_option(prog);
        }
    }
    if (optind < argc)
        return cli_usage("stele node", "unexpected argument '%s'", argv[optind]);
    if (!o->url)
        return cli_usage("stele node", "--url HOST:PORT is required");
    if (!config_addr_valid(o->url, strlen(o->url)))
        return cli_usage("stele node", "--url: expected HOST:PORT, got \"%s\"", o->url);
    return tls_opts_check("stele node", &o->tls);
}

static int node_info(struct rpc_channel *ch, const struct node_opts *o)
{
    Stele__NodeInfoRequest req = STELE__NODE_INFO_REQUEST__INIT;
    ProtobufCMessage *resp;
    struct rpc_result res;
    int rc = rpc_unary(ch, "/stele.Node/Info", &req.base, &stele__node_info__descriptor, &resp,
                       5000, &res);
    char d[PEER_CLIENT_DETAIL_MAX];
    if (rc != STELE_OK)
        return cli_fail("stele node info", peer_client_failure(rc, &res), "%s: %s (%s)", o->url,
                        peer_client_detail(&res, "no detail", d, sizeof d),
                        rpc_code_name(res.code));
    Stele__NodeInfo *info = (Stele__NodeInfo *)resp;
    if (o->json) {
        struct buf b;
        buf_init(&b);
        struct json j;
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_string(&j, "node_id", info->node_id);
        json_kv_string(&j, "role", info->role);
        json_kv_string(&j, "version", info->version);
        json_kv_uint(&j, "uptime_seconds", info->uptime_seconds);
        json_kv_uint(&j, "started_at", info->started_at);
        json_object_end(&j);
        printf("%s\n", (char *)b.data);
        buf_release(&b);
    } else {
        char started[21], id[260], role[260], version[260]; /* what the daemon says */
        clock_format_utc(info->started_at, started);
        printf("node     %s\nrole     %s\nversion  %s\nuptime   %llus (since %s)\n",
               peer_client_printable(info->node_id, id, sizeof id),
               peer_client_printable(info->role, role, sizeof role),
               peer_client_printable(info->version, version, sizeof version),
               (unsigned long long)info->uptime_seconds, started);
    }
    pb_free(resp);
    return CLI_EXIT_OK;
}

/* Asks Health/Check until SERVING or the --wait time is up. */
static int node_health(const struct node_opts *o)
{
    struct rpc_result res = {0};
    enum rpc_health_state st = rpc_health_wait(o->url, &o->tls, o->service,
                                               (uint64_t)(o->wait_s * 1000), NULL, NULL, &res);
    static const char *const names[] = {"UNREACHABLE", "SERVING", "NOT_SERVING", "UNKNOWN"};
    if (o->json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_string(&j, "url", o->url);
        json_kv_string(&j, "status", names[st]);
        json_object_end(&j);
        printf("%s\n", (char *)b.data);
        buf_release(&b);
    } else
        printf("%s %s\n", o->url, names[st]);
    char d[PEER_CLIENT_DETAIL_MAX];
    if (st == RPC_HEALTH_UNREACHABLE)
        return cli_fail("stele node health", rpc_status_from_code(res.code), "%s: %s", o->url,
                        peer_client_detail(&res, "no answer", d, sizeof d));
    return st == RPC_HEALTH_SERVING ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

int cmd_node(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(node_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "info") != 0 && strcmp(sub, "health") != 0)
        return cli_usage("stele node", "unknown subcommand '%s'", sub);
    struct node_opts o = {0};
    int rc = parse(argc - 1, argv + 1, &o);
    if (rc)
        return rc;
    if (strcmp(sub, "health") == 0)
        return node_health(&o);
    struct rpc_channel_opts co = {.fail_fast = true, .tls = o.tls};
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(o.url, &co, &err);
    if (!ch) {
        rc = cli_fail("stele node", STELE_ERR_INVALID, "%s", err ? err : o.url);
        free(err);
        return rc;
    }
    rc = node_info(ch, &o);
    rpc_channel_close(ch);
    return rc;
}
