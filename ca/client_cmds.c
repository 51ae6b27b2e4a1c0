/* client_cmds.c — the client subcommands of stele-ca: enroll, register, reenroll, revoke, crl,
 * info. Each talks to a CA over gRPC (--url HOST:PORT, failing fast when it is unreachable). */
#include "ca.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "client.h"
#include "identity/caclient.h"
#include "config/config.h"
#include "identity/enrolment.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/ca.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int client_parse(const char *prog, const char *help, const char *allowed, int argc, char **argv,
                 struct client_opts *o)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"as", required_argument, NULL, 'a'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"secret", required_argument, NULL, 's'},
                                         {"out", required_argument, NULL, 'O'},
                                         {"org", required_argument, NULL, 'o'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"attr", required_argument, NULL, 'A'},
                                         {"reason", required_argument, NULL, 'R'},
                                         {"ca-pub", required_argument, NULL, 'c'},
                                         {"validity", required_argument, NULL, 'v'},
                                         {"max-enrollments", required_argument, NULL, 'm'},
                                         {"tls-ca", required_argument, NULL, 'T'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof *o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            if (strchr(allowed, 'u'))
                fputs("\nCommon options: --url HOST:PORT of the CA; --tls-ca FILE when it serves "
                      "TLS (PEM\nroots to trust); --json for machine-readable output. Exit "
                      "status: 0 done, 1 refused,\n2 usage, 3 CA unreachable or internal "
                      "error.\n",
                      stdout);
            return -1;
        }
        if (c == '?' || c == ':' || !strchr(allowed, c))
            return cli_usage(prog, "unknown or incomplete option '%s'", argv[optind - 1]);
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 'a':
            o->as = optarg;
            break;
        case 'i':
            o->id = optarg;
            break;
        case 's':
            o->secret = optarg;
            break;
        case 'O':
            o->out = optarg;
            break;
        case 'o':
            o->org = optarg;
            break;
        case 'r':
            o->role = optarg;
            break;
        case 'R':
            o->reason = optarg;
            break;
        case 'c':
            o->ca_pub = optarg;
            break;
        case 'T':
            o->tls_ca = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'A': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || o->n_attrs == CLIENT_MAX_ATTRS)
                return cli_usage(prog, "--attr expects KEY=VALUE (at most %d)", CLIENT_MAX_ATTRS);
            *eq = 0;
            o->attrs[o->n_attrs].key = optarg;
            o->attrs[o->n_attrs++].value = eq + 1;
            break;
        }
        case 'v': {
            uint64_t ms;
            if (config_parse_duration(optarg, strlen(optarg), &ms) != STELE_OK || ms < 1000)
                return cli_usage(prog, "--validity expects a duration such as 90d, 12h or 30s");
            o->validity_s = ms / 1000;
            break;
        }
        case 'm': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v == 0 || v > 1000000)
                return cli_usage(prog, "--max-enrollments expects a number 1..1000000");
            o->max_enrollments = (uint32_t)v;
            break;
        }
        }
    }
    o->rest = argv + optind;
    o->n_rest = argc - optind;
    if (o->secret && strcmp(o->secret, "-") == 0) {
        /* --secret - reads it from the first line of stdin, out of the process list. */
        static char line[1024];
        if (!fgets(line, sizeof line, stdin))
            return cli_usage(prog, "--secret -: no secret on stdin");
        line[strcspn(line, "\r\n")] = 0;
        o->secret = line;
    }
    return 0;
}

int client_open(const char *prog, const struct client_opts *co, struct rpc_channel **ch)
{
    const char *url = co->url;
    char *err = NULL;
    if (!url)
        return cli_usage(prog, "--url HOST:PORT is required");
    if (!config_addr_valid(url, strlen(url)))
        return cli_usage(prog, "--url: expected HOST:PORT, got \"%s\"", url);
    struct rpc_channel_opts o = {.fail_fast = true, .timeout_ms = 15000};
    o.tls.ca_file = co->tls_ca;
    *ch = rpc_channel_open(url, &o, &err);
    if (!*ch) {
        int code =
            cli_fail(prog, STELE_ERR_UNAVAILABLE, "cannot open %s: %s", url, err ? err : "?");
        free(err);
        return code;
    }
    return 0;
}

int client_rpc_fail(const char *prog, int rc, const struct rpc_result *res)
{
    int status = rc;
    if (res->code == RPC_UNAVAILABLE || res->code == RPC_DEADLINE_EXCEEDED ||
        res->code == RPC_INTERNAL || res->code == RPC_UNIMPLEMENTED)
        status = STELE_ERR_UNAVAILABLE;
    else if (status == STELE_ERR_INTERNAL || stele_exit_code(status) != 1)
        status = STELE_ERR_PERMISSION; /* refused by the CA: exit 1 */
    return cli_fail(prog, status, "%s: %s", rpc_code_name(res->code),
                    res->detail[0] ? res->detail : stele_strerror(rc));
}

int client_load(const char *prog, const char *dir, struct enrolment *e)
{
    char *err = NULL;
    int rc = enrolment_load(dir, e, &err);
    if (rc != STELE_OK) {
        int code = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        return code;
    }
    return 0;
}

static const char register_help[] =
    "Usage: stele-ca register --url HOST:PORT --as DIR --id ID --org ORG --role ROLE\n"
    "                         [--secret S] [--attr KEY=VALUE]... [--max-enrollments N]\n"
    "                         [--validity DURATION] [--json]\n"
    "\n"
    "Registers a new id, signed by the enrolled admin in DIR, and prints its enrolment secret:\n"
    "a generated one unless --secret is given (--secret - reads it from stdin; a chosen secret\n"
    "is 12 to 1024 characters, no control characters, no space at either end). ROLE is admin,\n"
    "orderer, peer, client or auditor; application roles go in attributes (--attr table=T-17).\n"
    "--max-enrollments and --validity (e.g. 90d, 12h) default to the CA's settings.\n";

int cmd_register(int argc, char **argv)
{
    const char *prog = "stele-ca register";
    struct client_opts o;
    int code = client_parse(prog, register_help, "uTaisorAvmj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (!o.as || !o.id || !o.org || !o.role || o.n_rest)
        return cli_usage(prog, "--as, --id, --org and --role are required");
    struct rpc_channel *ch = NULL;
    struct enrolment e;
    if ((code = client_open(prog, &o, &ch)) != 0)
        return code;
    if ((code = client_load(prog, o.as, &e)) != 0) {
        rpc_channel_close(ch);
        return code;
    }
    Stele__RegisterRequest r = STELE__REGISTER_REQUEST__INIT;
    Stele__Attribute av[CLIENT_MAX_ATTRS], *ap[CLIENT_MAX_ATTRS];
    for (size_t i = 0; i < o.n_attrs; i++) {
        stele__attribute__init(&av[i]);
        av[i].key = (char *)o.attrs[i].key;
        av[i].value = (char *)o.attrs[i].value;
        ap[i] = &av[i];
    }
    r.id = (char *)o.id;
    r.secret = (char *)(o.secret ? o.secret : "");
    r.org = (char *)o.org;
    r.role = (char *)o.role;
    r.n_attributes = o.n_attrs;
    r.attributes = ap;
    r.max_enrollments = o.max_enrollments;
    r.validity_seconds = o.validity_s;
    ProtobufCMessage *resp = NULL;
    struct rpc_result res;
    int rc = caclient_signed_call(ch, &e, "/stele.CA/RegisterIdentity", &r.base,
                                  &stele__register_response__descriptor, &resp, &res);
    if (rc != STELE_OK) {
        code = client_rpc_fail(prog, rc, &res);
    } else {
        const char *secret = ((Stele__RegisterResponse *)resp)->secret;
        if (o.json) {
            struct buf out = {0};
            struct json j;
            json_init(&j, &out);
            json_object_begin(&j);
            json_kv_string(&j, "id", o.id);
            json_kv_string(&j, "secret", secret);
            json_object_end(&j);
            json_finish(&j);
            printf("%s\n", (char *)out.data);
            buf_release_secure(&out);
        } else {
            printf("registered %s; enrolment secret: %s\n", o.id, secret);
        }
    }
    pb_free(resp);
    enrolment_release(&e);
    rpc_channel_close(ch);
    return code;
}

static const char revoke_help[] =
    "Usage: stele-ca revoke --url HOST:PORT --as DIR --id ID --reason REASON [--json]\n"
    "\n"
    "Revokes every certificate of ID (signed by the enrolled admin in DIR). The certificates\n"
    "go on the CA's CRL and the id can no longer enrol.\n";

int cmd_revoke(int argc, char **argv)
{
    const char *prog = "stele-ca revoke";
    struct client_opts o;
    int code = client_parse(prog, revoke_help, "uTaiRj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (!o.as || !o.id || !o.reason || o.n_rest)
        return cli_usage(prog, "--as, --id and --reason are required");
    struct rpc_channel *ch = NULL;
    struct enrolment e;
    if ((code = client_open(prog, &o, &ch)) != 0)
        return code;
    if ((code = client_load(prog, o.as, &e)) != 0) {
        rpc_channel_close(ch);
        return code;
    }
    Stele__RevokeRequest r = STELE__REVOKE_REQUEST__INIT;
    r.id = (char *)o.id;
    r.reason = (char *)o.reason;
    ProtobufCMessage *resp = NULL;
    struct rpc_result res;
    int rc = caclient_signed_call(ch, &e, "/stele.CA/Revoke", &r.base,
                                  &stele__revoke_response__descriptor, &resp, &res);
    if (rc != STELE_OK) {
        code = client_rpc_fail(prog, rc, &res);
    } else {
        Stele__RevokeResponse *rr = (Stele__RevokeResponse *)resp;
        if (o.json) {
            struct buf out = {0};
            struct json j;
            json_init(&j, &out);
            json_object_begin(&j);
            json_kv_string(&j, "id", o.id);
            json_kv_uint(&j, "revoked", rr->revoked);
            json_kv_uint(&j, "crl_number", rr->crl_number);
            json_object_end(&j);
            json_finish(&j);
            printf("%s\n", (char *)out.data);
            buf_release(&out);
        } else
            printf("revoked %s: %u certificate(s); CRL number %llu\n", o.id, rr->revoked,
                   (unsigned long long)rr->crl_number);
    }
    pb_free(resp);
    enrolment_release(&e);
    rpc_channel_close(ch);
    return code;
}
