/*
 * invoke_cmds.c — `stele invoke` (submit a transaction through a peer's gateway and wait for
 * its commit) and `stele query` (evaluate on one peer; nothing is ordered).
 */
#include "gateway_client.h"
#include "peer_cmds.h"

#include "base/text.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/enrolment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS     64
#define MAX_ENVELOPE (64u << 20) /* a peer refuses larger messages anyway */

static const char invoke_usage[] =
    "Usage: stele invoke CHAINCODE FUNCTION [ARG...] (--peer HOST:PORT | --network DIR)\n"
    "                    --identity DIR [--no-wait] [--retries N] [--timeout MS]\n"
    "                    [--prepare FILE] [--json]\n"
    "       stele submit FILE (--peer HOST:PORT | --network DIR) [--no-wait] [--timeout MS]\n"
    "                    [--json]\n"
    "       stele query  CHAINCODE FUNCTION [ARG...] (--peer HOST:PORT | --network DIR)\n"
    "                    --identity DIR [--json]\n\n"
    "invoke has the peer's gateway endorse the proposal on enough peers to satisfy the\n"
    "chaincode's endorsement policy, signs the transaction with DIR's key, has the gateway send\n"
    "it to the orderers the peer uses (by default every orderer of the channel) and waits\n"
    "until it commits on that peer (--no-wait: only until f + 1 orderers\n"
    "accepted it). It prints the chaincode's answer, the tx_id and its validation code; exit\n"
    "status 1 when the chaincode refused or the transaction committed with another code than\n"
    "VALID. --retries N makes up to N new proposals after an MVCC_READ_CONFLICT (or when\n"
    "the endorsing peers computed different results, being a block apart).\n"
    "--prepare FILE has it endorsed and signed but writes the signed transaction to FILE\n"
    "instead of sending it; `stele submit FILE` sends it later through any peer's gateway\n"
    "(the endorsements stand for the state they read: it may then commit as\n"
    "MVCC_READ_CONFLICT, or be refused if its creator was revoked meanwhile).\n"
    "query runs the chaincode on that peer only and prints its answer.\n"
    "ARGs are passed as text; the answer's payload is printed as text when it is "
    "printable.\n"
    "An ARG that begins with '-' (a negative number) follows `--`, after the options:\n"
    "  stele invoke counter add --peer HOST:PORT --identity DIR -- -5\n"
    "--json prints the chaincode's answer (tx_id, status, message, payload) as one JSON object\n"
    "whatever its status; a call that failed before the chaincode answered prints nothing on\n"
    "stdout.\n" PEER_CLIENT_TLS_HELP;

/* The chaincode's answer: as text when it is well-formed UTF-8 without control characters
 * other than newline and tab (not DEL, not C1: U+009B is a CSI to many terminals), else in
 * hex. */
static void print_payload(const ProtobufCBinaryData *p)
{
    bool text = text_utf8_ok(p->data, p->len);
    for (size_t i = 0; i < p->len && text; i++) {
        uint8_t c = p->data[i];
        text = (c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t';
        if (c == 0xc2 && i + 1 < p->len && p->data[i + 1] <= 0x9f) /* U+0080..U+009F */
            text = false;
    }
    if (text)
        printf("%.*s\n", (int)p->len, (const char *)p->data);
    else {
        for (size_t i = 0; i < p->len; i++)
            printf("%02x", p->data[i]);
        printf("\n");
    }
}

/* The outcome as one JSON object; `prepared` names the file of --prepare (or NULL). */
static void print_json(const struct gw_outcome *o, bool submitted, const char *prepared)
{
    struct buf b;
    struct json j;
    buf_init(&b);
    json_init(&j, &b);
    json_object_begin(&j);
    json_kv_string(&j, "tx_id", o->tx_id);
    json_kv_int(&j, "status", o->status);
    json_kv_string(&j, "message", o->message ? o->message : "");
    json_key(&j, "payload"); /* readable: invalid UTF-8 shows as U+FFFD */
    json_string_len(&j, (const char *)o->payload.data, o->payload.len);
    json_kv_hex(&j, "payload_hex", o->payload.data, o->payload.len); /* exact */
    if (prepared)
        json_kv_string(&j, "prepared", prepared);
    if (submitted) {
        json_kv_uint(&j, "orderers_accepted", o->orderers);
        json_kv_bool(&j, "committed", o->committed);
        if (o->committed) {
            json_kv_string(&j, "validation_code", peer_code_name(o->code));
            json_kv_uint(&j, "block", o->block);
        }
        json_kv_uint(&j, "attempts", o->attempts);
        json_kv_string(&j, "endorsers", o->endorsers ? o->endorsers : "");
    }
    json_object_end(&j);
    printf("%s\n", (char *)b.data);
    buf_release(&b);
}

/* "tx ... committed in block N: CODE", or accepted by the orderers (--no-wait). */
static void print_submitted(const struct gw_outcome *out)
{
    if (out->committed)
        printf("tx %s committed in block %llu: %s\n", out->tx_id, (unsigned long long)out->block,
               peer_code_name(out->code));
    else
        printf("tx %s accepted by %u orderer(s)\n", out->tx_id, out->orderers);
}

/* --timeout MS: 1..600000. */
static bool parse_timeout(const char *arg, uint32_t *ms)
{
    uint64_t t;
    if (!text_parse_u64(arg, strlen(arg), &t) || t == 0 || t > 600000)
        return false;
    *ms = (uint32_t)t;
    return true;
}

static int run(int argc, char **argv, bool submit)
{
    const char *prog = submit ? "stele invoke" : "stele query";
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"no-wait", no_argument, NULL, 'W'},
                                             {"retries", required_argument, NULL, 'r'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"prepare", required_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    struct gw_request r = {.wait = true};
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        switch (ch) {
        case 'h':
            fputs(invoke_usage, stdout);
            return CLI_EXIT_OK;
        case 'W':
            r.wait = false;
            break;
        case 'S':
            if (!submit)
                return cli_usage(prog, "--prepare is for invoke");
            r.prepare = optarg;
            break;
        case 'r': {
            uint64_t n;
            if (!peer_client_number(optarg, 100, &n))
                return cli_usage(prog, "--retries takes 0..100");
            r.retries = (unsigned)n;
            break;
        }
        case 't':
            if (!parse_timeout(optarg, &r.timeout_ms))
                return cli_usage(prog, "--timeout takes 1..600000 milliseconds");
            break;
        default:
            if (!peer_client_option(&o, ch, optarg))
                return cli_bad_option(prog);
        }
    }
    /* argv[0] is "invoke"/"query": the chaincode and function follow the options */
    if (argc - optind < 2)
        return cli_usage(prog, "give CHAINCODE FUNCTION [ARG...]");
    if (argc - optind - 2 > MAX_ARGS)
        return cli_usage(prog, "at most %d arguments", MAX_ARGS);
    ProtobufCBinaryData args[MAX_ARGS];
    r.chaincode = argv[optind];
    r.function = argv[optind + 1];
    r.n_args = (size_t)(argc - optind - 2);
    for (size_t i = 0; i < r.n_args; i++)
        args[i] =
            (ProtobufCBinaryData){strlen(argv[optind + 2 + i]), (uint8_t *)argv[optind + 2 + i]};
    r.args = args;
    if ((rc = peer_client_finish(&o, prog, true))) {
        peer_client_release(&o);
        return rc;
    }
    struct gw_outcome out;
    rc = submit ? gw_submit(&o, prog, &r, &out) : gw_evaluate(&o, prog, &r, &out);
    /* JSON only for what the chaincode answered (accepted or refused): a call that failed
     * before that prints nothing on stdout but the error on stderr */
    if (o.json && out.answered)
        print_json(&out, submit, r.prepare);
    else if (rc == 0 && !submit)
        print_payload(&out.payload);
    else if (rc == 0) {
        if (out.payload.len)
            print_payload(&out.payload);
        if (r.prepare)
            printf("tx %s endorsed and signed, written to %s (not submitted)\n", out.tx_id,
                   r.prepare);
        else
            print_submitted(&out);
    }
    gw_outcome_release(&out);
    peer_client_release(&o);
    return rc;
}

int cmd_invoke(int argc, char **argv)
{
    return run(argc, argv, true);
}

/* stele submit FILE: a transaction signed earlier with `stele invoke --prepare FILE`. */
int cmd_submit(int argc, char **argv)
{
    const char *prog = "stele submit";
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"no-wait", no_argument, NULL, 'W'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    bool wait = true;
    uint32_t timeout_ms = 0;
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(invoke_usage, stdout);
            return CLI_EXIT_OK;
        } else if (ch == 'W') {
            wait = false;
        } else if (ch == 't') {
            if (!parse_timeout(optarg, &timeout_ms))
                return cli_usage(prog, "--timeout takes 1..600000 milliseconds");
        } else if (!peer_client_option(&o, ch, optarg)) {
            return cli_bad_option(prog);
        }
    }
    if (optind != argc - 1)
        return cli_usage(prog, "give the FILE `stele invoke --prepare FILE` wrote");
    struct buf env;
    buf_init(&env);
    if ((rc = enrolment_read_file(argv[optind], MAX_ENVELOPE, &env)))
        return peer_client_read_failed(prog, argv[optind], rc);
    struct gw_outcome out = {0};
    if (!(rc = peer_client_finish(&o, prog, false))) {
        ProtobufCBinaryData e = {env.len, env.data};
        rc = gw_submit_envelope(&o, prog, &e, wait, timeout_ms, &out);
    }
    if (o.json && out.submitted)
        print_json(&out, true, NULL);
    else if (rc == 0)
        print_submitted(&out);
    gw_outcome_release(&out);
    buf_release(&env);
    peer_client_release(&o);
    return rc;
}

int cmd_query(int argc, char **argv)
{
    return run(argc, argv, false);
}
