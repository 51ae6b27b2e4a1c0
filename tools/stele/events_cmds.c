/*
 * events_cmds.c — `stele events`: blocks as a peer commits them (stele.Events/Blocks), one
 * line per block, or per chaincode event; and `stele chain info --peer/--all-peers`: each
 * peer's height, head hash and state hash (stele.Query/ChainInfo), and whether they agree.
 */
#include "peer_cmds.h"
#include "peer_client.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char events_usage[] =
    "Usage: stele events (--peer HOST:PORT | --network DIR) [--identity DIR] [--from N]\n"
    "                    [--to N] [--filtered | --chaincode NAME] [--json]\n\n"
    "Follows the blocks the peer commits, from block N (default: the newest committed) until "
    "block\n"
    "--to (default: forever, until interrupted). Prints one line per block with its number,\n"
    "hash and the validation code of each transaction; --chaincode NAME (\"\" for any)\n"
    "prints the chaincode events of VALID transactions instead. --json prints one JSON\n"
    "object per line.\n"
    "Exits 0 after block --to, 1 when the peer refuses the request or its caller (revoked,\n"
    "expired), 3 when the peer cannot be reached, fails or stops.\n" PEER_CLIENT_TLS_HELP;

/* Prints one EventsResponse; returns false at the status that ends the stream. */
static bool print_event(const Stele__EventsResponse *r, bool json, int *status)
{
    struct buf b;
    struct json j;
    buf_init(&b);
    json_init(&j, &b);
    switch (r->type_case) {
    case STELE__EVENTS_RESPONSE__TYPE_STATUS:
        *status = r->status;
        buf_release(&b);
        return false;
    case STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK: {
        const Stele__FilteredBlock *fb = r->filtered_block;
        if (json) {
            json_object_begin(&j);
            json_kv_uint(&j, "block", fb->number);
            json_kv_hex(&j, "hash", fb->hash.data, fb->hash.len);
            json_key(&j, "transactions");
            json_array_begin(&j);
            for (size_t i = 0; i < fb->n_transactions; i++) {
                json_object_begin(&j);
                json_kv_string(&j, "tx_id", fb->transactions[i]->tx_id);
                json_kv_string(&j, "validation_code",
                               peer_code_name(fb->transactions[i]->validation_code));
                json_kv_string(&j, "chaincode", fb->transactions[i]->chaincode);
                json_object_end(&j);
            }
            json_array_end(&j);
            json_object_end(&j);
            break;
        }
        printf("block %" PRIu64 " ", fb->number);
        for (size_t i = 0; i < 8 && i < fb->hash.len; i++)
            printf("%02x", fb->hash.data[i]);
        printf("  %zu transactions\n", fb->n_transactions);
        for (size_t i = 0; i < fb->n_transactions; i++) {
            printf("  ");
            peer_client_fput_printable(fb->transactions[i]->tx_id, stdout);
            printf(" %s ", peer_code_name(fb->transactions[i]->validation_code));
            peer_client_fput_printable(fb->transactions[i]->chaincode, stdout);
            putchar('\n');
        }
        break;
    }
    case STELE__EVENTS_RESPONSE__TYPE_CHAINCODE_EVENTS: {
        const Stele__ChaincodeEvents *ce = r->chaincode_events;
        for (size_t i = 0; i < ce->n_events; i++) {
            const Stele__ChaincodeEvent *e = ce->events[i];
            if (json) {
                buf_clear(&b);
                json_init(&j, &b);
                json_object_begin(&j);
                json_kv_uint(&j, "block", ce->block_number);
                json_kv_string(&j, "chaincode", e->chaincode);
                json_kv_string(&j, "tx_id", e->tx_id);
                json_kv_string(&j, "name", e->name);
                json_kv_hex(&j, "payload_hex", e->payload.data, e->payload.len);
                json_object_end(&j);
                printf("%s\n", (char *)b.data);
            } else { /* the chaincode names its events as it likes */
                printf("block %" PRIu64 " ", ce->block_number);
                peer_client_fput_printable(e->chaincode, stdout);
                putchar(' ');
                peer_client_fput_printable(e->name, stdout);
                putchar(' ');
                peer_client_fput_printable(e->tx_id, stdout);
                printf(" (%zu octets)\n", e->payload.len);
            }
        }
        buf_release(&b);
        fflush(stdout);
        return true;
    }
    default:
        break;
    }
    if (json && b.len)
        printf("%s\n", (char *)b.data);
    buf_release(&b);
    fflush(stdout);
    return true;
}

/* The number of the block `r` announces into *n; false for a status (or a block without a
 * header). */
static bool block_number(const Stele__EventsResponse *r, uint64_t *n)
{
    switch (r->type_case) {
    case STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK:
        *n = r->filtered_block->number;
        return true;
    case STELE__EVENTS_RESPONSE__TYPE_CHAINCODE_EVENTS:
        *n = r->chaincode_events->block_number;
        return true;
    case STELE__EVENTS_RESPONSE__TYPE_BLOCK:
        if (!r->block->header)
            return false;
        *n = r->block->header->number;
        return true;
    default:
        return false;
    }
}

/* What the status that ended a stream means for the exit status: the caller refused (1), a bad
 * request or a block not there (1), or the peer failing or stopping (3: try again later). */
static int stream_status(int status)
{
    switch (status) {
    case STELE__STATUS__STATUS_FORBIDDEN:
        return STELE_ERR_PERMISSION;
    case STELE__STATUS__STATUS_BAD_REQUEST:
    case STELE__STATUS__STATUS_NOT_FOUND:
        return STELE_ERR_INVALID;
    case STELE__STATUS__STATUS_SERVICE_UNAVAILABLE:
        return STELE_ERR_UNAVAILABLE;
    default:
        return STELE_ERR_INTERNAL;
    }
}

int cmd_events(int argc, char **argv)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"filtered", no_argument, NULL, 'F'},
                                             {"chaincode", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *prog = "stele events";
    struct peer_opts o = {0};
    long long from = -1, to = -1;
    const char *chaincode = NULL;
    bool filtered = false;
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        uint64_t v;
        if (ch == 'h') {
            fputs(events_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'f' || ch == 't') {
            if (!peer_client_number(optarg, INT64_MAX, &v))
                return cli_usage(prog, "--%s takes a block number, not '%s'",
                                 ch == 'f' ? "from" : "to", optarg);
            *(ch == 'f' ? &from : &to) = (long long)v;
        } else if (ch == 'c') {
            chaincode = optarg;
        } else if (ch == 'F') {
            filtered = true;
        } else if (!peer_client_option(&o, ch, optarg)) {
            return cli_bad_option(prog);
        }
    }
    if (optind != argc)
        return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (to >= 0 && from >= 0 && to < from)
        return cli_usage(prog, "--to %lld is before --from %lld", to, from);
    if (filtered && chaincode)
        return cli_usage(prog, "give --filtered or --chaincode, not both");
    if ((rc = peer_client_finish(&o, prog, true)))
        goto out;
    Stele__SeekSpecified s_from = STELE__SEEK_SPECIFIED__INIT, s_to = STELE__SEEK_SPECIFIED__INIT;
    Stele__SeekNewest newest = STELE__SEEK_NEWEST__INIT;
    Stele__SeekPosition start = STELE__SEEK_POSITION__INIT, stop = STELE__SEEK_POSITION__INIT;
    if (from >= 0) {
        s_from.number = (uint64_t)from;
        start.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
        start.specified = &s_from;
    } else {
        start.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
        start.newest = &newest;
    }
    s_to.number = to >= 0 ? (uint64_t)to : UINT64_MAX;
    stop.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    stop.specified = &s_to;
    Stele__SeekInfo seek = STELE__SEEK_INFO__INIT;
    seek.start = &start;
    seek.stop = &stop;
    Stele__EventsRequest er = STELE__EVENTS_REQUEST__INIT;
    er.seek = &seek;
    er.form = chaincode ? STELE__EVENT_FORM__EVENT_FORM_CHAINCODE
                        : STELE__EVENT_FORM__EVENT_FORM_FILTERED;
    er.chaincode = (char *)(chaincode ? chaincode : "");
    struct buf req;
    uint8_t sig[64];
    Stele__SignedRequest sr;
    buf_init(&req);
    if ((rc = peer_client_sign(&o, "/stele.Events/Blocks", &er.base, &req, sig, &sr))) {
        rc = cli_fail(prog, rc, "cannot sign the request: %s", stele_strerror(rc));
        buf_release(&req);
        goto out;
    }
    if (!(o.ch = peer_client_open(&o, prog, NULL, &rc))) {
        buf_release(&req);
        goto out;
    }
    struct rpc_call *call = rpc_stream_open(o.ch, "/stele.Events/Blocks", RPC_SERVER_STREAM,
                                            &stele__events_response__descriptor, -1);
    int status = 0;
    uint64_t shown = 0; /* the number of the last block shown, when `any` */
    bool any = false;
    if (!call || rpc_call_send(call, &sr.base) || rpc_call_close_send(call)) {
        rc = cli_fail(prog, STELE_ERR_UNAVAILABLE, "cannot open the Events stream to %s", o.peer);
    } else {
        for (;;) {
            ProtobufCMessage *m = NULL;
            int r = rpc_call_recv(call, &m, -1, false);
            if (r) {
                struct rpc_result res = {0};
                char d[PEER_CLIENT_DETAIL_MAX];
                rpc_call_finish(call, false, &res);
                call = NULL;
                /* the transport's failure (unreachable: 3) rather than the receive's */
                rc = cli_fail(
                    prog,
                    res.code != RPC_OK ? peer_client_failure(rpc_status_from_code(res.code), &res)
                                       : r,
                    "%s: %s (%s)", o.peer, peer_client_detail(&res, "no detail", d, sizeof d),
                    rpc_code_name(res.code));
                break;
            }
            /* --to ends here, whatever the peer sends next: a peer that never sends the status
             * cannot keep us waiting, and a block past --to (block --to skipped) is refused */
            uint64_t n = 0;
            bool numbered = block_number((Stele__EventsResponse *)m, &n);
            if (to >= 0 && numbered && n > (uint64_t)to) {
                pb_free(m);
                rc = cli_fail(prog, STELE_ERR_MALFORMED,
                              "%s sent block %" PRIu64 ", past --to %lld, without block %lld",
                              o.peer, n, to, to);
                break;
            }
            /* blocks come once each, in order, from --from: a peer repeating or going back
             * (which could keep us printing the same blocks for ever) or leaving one out is
             * refused */
            if (numbered && (any ? n != shown + 1 : from >= 0 && n < (uint64_t)from)) {
                pb_free(m);
                if (any)
                    rc = cli_fail(prog, STELE_ERR_MALFORMED,
                                  "%s sent block %" PRIu64 " after block %" PRIu64, o.peer, n,
                                  shown);
                else
                    rc = cli_fail(prog, STELE_ERR_MALFORMED,
                                  "%s sent block %" PRIu64 " for --from %lld", o.peer, n, from);
                break;
            }
            if (numbered)
                shown = n, any = true;
            bool more = print_event((Stele__EventsResponse *)m, o.json, &status);
            pb_free(m);
            if (more && to >= 0 && numbered && n == (uint64_t)to) {
                rc = CLI_EXIT_OK;
                break;
            }
            if (!more) {
                const ProtobufCEnumValue *v =
                    protobuf_c_enum_descriptor_get_value(&stele__status__descriptor, status);
                rc = status == STELE__STATUS__STATUS_SUCCESS
                         ? CLI_EXIT_OK
                         : cli_fail(prog, stream_status(status),
                                    "%s ended the stream with status %d (%s)", o.peer, status,
                                    v ? v->name : "unknown");
                break;
            }
        }
    }
    if (call)
        rpc_call_finish(call, true, NULL);
    buf_release(&req);
out:
    peer_client_release(&o);
    return rc;
}

/* ---- chain info --peer / --all-peers ---------------------------------------------------- */

/* One peer's answer. */
struct peer_row {
    const char *url;
    Stele__PeerChainInfo *info; /* NULL: unreachable, or refused (`exit` says which) */
    char err[300];
    int exit; /* with info NULL, as the one-peer form exits: 3 not reached, 1 refused */
};

static void hex8(const ProtobufCBinaryData *h, char out[17])
{
    out[0] = 0;
    for (size_t i = 0; i < 8 && i < h->len; i++)
        snprintf(out + 2 * i, 3, "%02x", h->data[i]);
}

/* True when every reachable peer at the lowest common height... agree: same height, same
 * head hash and state hash. */
static bool agree(const struct peer_row *rows, size_t n)
{
    const Stele__PeerChainInfo *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const Stele__PeerChainInfo *p = rows[i].info;
        if (!p)
            return false;
        if (!first) {
            first = p;
            continue;
        }
        if (p->height != first->height || p->current_hash.len != first->current_hash.len ||
            memcmp(p->current_hash.data, first->current_hash.data, p->current_hash.len) ||
            p->state_hash.len != first->state_hash.len ||
            memcmp(p->state_hash.data, first->state_hash.data, p->state_hash.len))
            return false;
    }
    return true;
}

static void print_rows(const struct peer_row *rows, size_t n, bool json, bool same)
{
    if (json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_bool(&j, "agree", same);
        json_key(&j, "peers");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            const Stele__PeerChainInfo *p = rows[i].info;
            json_object_begin(&j);
            json_kv_string(&j, "url", rows[i].url);
            if (!p) {
                json_kv_string(&j, "error", rows[i].err);
            } else {
                json_kv_string(&j, "peer_id", p->peer_id);
                json_kv_string(&j, "org", p->org);
                json_kv_string(&j, "channel_id", p->channel_id);
                json_kv_uint(&j, "height", p->height);
                json_kv_hex(&j, "current_hash", p->current_hash.data, p->current_hash.len);
                json_kv_hex(&j, "state_hash", p->state_hash.data, p->state_hash.len);
                json_kv_uint(&j, "orderer_height", p->orderer_height);
            }
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        printf("%s\n", (char *)b.data);
        buf_release(&b);
        return;
    }
    printf("%-14s %-8s %-22s %8s  %-16s  %-16s\n", "peer", "org", "url", "height", "head", "state");
    for (size_t i = 0; i < n; i++) {
        const Stele__PeerChainInfo *p = rows[i].info;
        if (!p) {
            char e[sizeof rows[i].err * 4];
            printf("%-14s %-8s %-22s unreachable: %s\n", "?", "?", rows[i].url,
                   peer_client_printable(rows[i].err, e, sizeof e));
            continue;
        }
        char head[17], state[17], id[260], org[260]; /* the peer names itself as it likes */
        hex8(&p->current_hash, head);
        hex8(&p->state_hash, state);
        printf("%-14s %-8s %-22s %8" PRIu64 "  %-16s  %-16s\n",
               peer_client_printable(p->peer_id, id, sizeof id),
               peer_client_printable(p->org, org, sizeof org), rows[i].url, p->height, head, state);
    }
    bool all = true; /* every peer answered */
    for (size_t i = 0; i < n; i++)
        all = all && rows[i].info;
    if (n > 1)
        printf("%s\n", same   ? "the peers agree"
                       : !all ? "not every peer answered"
                              : "the peers DIFFER (or one is behind)");
}

int peer_chain_info(int argc, char **argv)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"all-peers", no_argument, NULL, 'A'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *prog = "stele chain info";
    struct peer_opts o = {0};
    bool all = false;
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        if (ch == 'A')
            all = true;
        else if (ch == 'h' || !peer_client_option(&o, ch, optarg))
            return cli_bad_option(prog);
    }
    /* argv[0] is "info" (chain_cmds.c passes the arguments after "chain") */
    if (optind != argc)
        return cli_usage(prog, "unexpected argument to 'chain info'");
    if ((rc = peer_client_finish(&o, prog, false)))
        goto out;
    struct peer_row rows[PEER_CLIENT_MAX_PEERS] = {0};
    size_t n = all ? o.n_peers : 1;
    for (size_t i = 0; i < n; i++) {
        rows[i].url = o.peers[i];
        struct rpc_channel *c = peer_client_open(&o, prog, o.peers[i], &rc);
        if (!c) { /* said: a TLS file missing or not PEM (the addresses parsed), for every peer */
            for (size_t k = 0; k < i; k++)
                pb_free(rows[k].info ? &rows[k].info->base : NULL);
            goto out;
        }
        Stele__PeerChainInfoRequest rq = STELE__PEER_CHAIN_INFO_REQUEST__INIT;
        struct rpc_result res = {0};
        ProtobufCMessage *m = NULL;
        int r = rpc_unary(c, "/stele.Query/ChainInfo", &rq.base,
                          &stele__peer_chain_info__descriptor, &m, 5000, &res);
        if (r) {
            snprintf(rows[i].err, sizeof rows[i].err, "%s",
                     res.detail[0] ? res.detail : rpc_code_name(res.code));
            rows[i].exit = stele_exit_code(peer_client_failure(r, &res));
        } else
            rows[i].info = (Stele__PeerChainInfo *)m;
        rpc_channel_close(c);
    }
    bool same = agree(rows, n);
    print_rows(rows, n, o.json, same);
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].info && rows[i].exit > rc)
            rc = rows[i].exit;
        pb_free(rows[i].info ? &rows[i].info->base : NULL);
    }
    if (rc == CLI_EXIT_OK && n > 1 && !same)
        rc = CLI_EXIT_REFUSED;
out:
    peer_client_release(&o);
    return rc;
}
