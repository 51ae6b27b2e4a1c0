/* peer_client.c — options and signed calls shared by the peer commands (peer_client.h). */
#include "peer_client.h"

#include "base/text.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "cli/cli.h"
#include "config/config.h"
#include "identity/identity.h"
#include "netfile/netfile.h"
#include "pb/pb.h"
#include "stele/block.pb-c.h"
#include "stele/identity.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int peer_client_parse(int argc, char **argv, struct peer_opts *o, const char *prog,
                      const char *usage)
{
    static const struct option longopts[] = {
        PEER_CLIENT_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!peer_client_option(o, ch, optarg))
            return cli_bad_option(prog);
    }
    return -1;
}

bool peer_client_option(struct peer_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case 'P':
        o->peer = arg;
        return true;
    case 'i':
        o->identity = arg;
        return true;
    case 'n':
        o->network = arg;
        return true;
    case 'j':
        o->json = true;
        return true;
    default:
        return tls_opts_take(&o->tls, ch, arg);
    }
}

int peer_client_finish(struct peer_opts *o, const char *prog, bool need_identity)
{
    char *err = NULL;
    int rc;
    if (o->network && o->peer)
        return cli_usage(prog, "give --peer or --network, not both");
    if (o->network) {
        struct netfile nf;
        if ((rc = netfile_load(o->network, &nf, &o->net, &err))) {
            rc = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
            free(err);
            return rc;
        }
        for (size_t i = 0; i < nf.n_processes && o->n_peers < PEER_CLIENT_MAX_PEERS; i++)
            if (strcmp(nf.processes[i].kind, "peer") == 0)
                o->peers[o->n_peers++] = nf.processes[i].url;
        if (!o->n_peers)
            return cli_fail(prog, STELE_ERR_NOT_FOUND, "the network in %s has no peer", o->network);
        if (!o->identity)
            o->identity = nf.admin;
        tls_opts_from_network(&o->tls, &nf);
    } else if (o->peer) {
        if (!(o->peer_list = strdup(o->peer)))
            return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
        char *save = NULL;
        for (char *t = strtok_r(o->peer_list, ",", &save); t && o->n_peers < PEER_CLIENT_MAX_PEERS;
             t = strtok_r(NULL, ",", &save)) {
            /* gRPC would take "HOST:99999" for another port, and "HOST:1x" for port 1 */
            if (!config_addr_valid(t, strlen(t)))
                return cli_usage(prog, "--peer: expected HOST:PORT, got \"%s\"", t);
            o->peers[o->n_peers++] = t;
        }
    }
    if (!o->n_peers)
        return cli_usage(prog, "--peer HOST:PORT (or --network DIR) is required");
    if ((rc = tls_opts_check(prog, &o->tls)))
        return rc;
    o->peer = o->peers[0];
    if (!need_identity)
        return 0;
    if (!o->identity)
        return cli_usage(prog, "--identity DIR (an enrolment of a channel member) is required");
    if ((rc = enrolment_load(o->identity, &o->self, &err))) {
        rc = cli_fail(prog, rc, "--identity %s: %s", o->identity, err ? err : stele_strerror(rc));
        free(err);
        return rc;
    }
    o->have_self = true;
    return 0;
}

void peer_client_release(struct peer_opts *o)
{
    rpc_channel_close(o->ch);
    o->ch = NULL;
    if (o->have_self)
        enrolment_release(&o->self);
    o->have_self = false;
    config_destroy(o->net);
    o->net = NULL;
    free(o->peer_list);
    o->peer_list = NULL;
}

struct rpc_channel *peer_client_open(struct peer_opts *o, const char *prog, const char *addr,
                                     int *rc)
{
    struct rpc_channel_opts co = {
        .fail_fast = true, .max_message = PEER_MAX_MESSAGE, .tls = o->tls};
    char *err = NULL;
    const char *target = addr ? addr : o->peer;
    struct rpc_channel *ch = rpc_channel_open(target, &co, &err);
    if (!ch)
        *rc = cli_fail(prog, STELE_ERR_INVALID, "%s", err ? err : target);
    free(err);
    return ch;
}

int peer_client_sign(struct peer_opts *o, const char *method, const ProtobufCMessage *body,
                     struct buf *req, uint8_t sig[64], Stele__SignedRequest *sr)
{
    struct buf b;
    buf_init(&b);
    int rc = pb_pack_buf(body, &b);
    if (rc == STELE_OK)
        rc = signed_request_create(o->self.key, o->self.identity.data, o->self.identity.len, method,
                                   b.data, b.len, clock_wall_ms(), req, sig);
    buf_release(&b);
    if (rc == STELE_OK) {
        stele__signed_request__init(sr);
        sr->request = (ProtobufCBinaryData){req->len, req->data};
        sr->signature = (ProtobufCBinaryData){64, sig};
    }
    return rc;
}

int peer_client_call(struct peer_opts *o, const char *prog, const char *method,
                     const ProtobufCMessage *body, const ProtobufCMessageDescriptor *resp_desc,
                     ProtobufCMessage **resp, bool quiet_not_found)
{
    int rc = 0;
    if (!o->ch && !(o->ch = peer_client_open(o, prog, NULL, &rc)))
        return rc;
    struct buf req;
    uint8_t sig[64];
    Stele__SignedRequest sr;
    buf_init(&req);
    if ((rc = peer_client_sign(o, method, body, &req, sig, &sr))) {
        buf_release(&req);
        return cli_fail(prog, rc, "cannot sign the request: %s", stele_strerror(rc));
    }
    struct rpc_result res = {0};
    rc = rpc_unary(o->ch, method, &sr.base, resp_desc, resp, 30000, &res);
    buf_release(&req);
    if (rc == STELE_OK)
        return 0;
    if (rc == STELE_ERR_NOT_FOUND && quiet_not_found)
        return PEER_CLIENT_NOT_FOUND;
    char d[PEER_CLIENT_DETAIL_MAX];
    return cli_fail(prog, peer_client_failure(rc, &res), "%s: %s (%s)", o->peer,
                    peer_client_detail(&res, "no detail", d, sizeof d), rpc_code_name(res.code));
}

bool peer_client_number(const char *arg, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (!arg || !text_parse_u64(arg, strlen(arg), &v) || v > max)
        return false;
    *out = v;
    return true;
}

/* The escaped form of the character at `p` into out[9] (as peer_client_fput_printable()
 * writes it); returns how many octets of `p` it stands for. */
static size_t printable_at(const unsigned char *p, char out[9])
{
    if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* C1, as UTF-8 */
        snprintf(out, 9, "\\x%02x\\x%02x", p[0], p[1]);
        return 2;
    }
    if (*p < 0x20 || *p == 0x7f)
        snprintf(out, 9, "\\x%02x", *p);
    else
        out[0] = (char)*p, out[1] = 0;
    return 1;
}

void peer_client_fput_printable(const char *s, FILE *f)
{
    char e[9];
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = printable_at(p, e);
        fputs(e, f);
        p += k;
    }
}

const char *peer_client_printable(const char *s, char *buf, size_t n)
{
    size_t used = 0;
    char e[9];
    buf[0] = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        size_t k = printable_at(p, e), len = strlen(e);
        if (used + len + 1 > n)
            break; /* cut: never half an escape */
        memcpy(buf + used, e, len + 1);
        used += len;
        p += k;
    }
    return buf;
}

const char *peer_client_detail(const struct rpc_result *res, const char *none, char *buf, size_t n)
{
    return peer_client_printable(res->detail[0] ? res->detail : none, buf, n);
}

int peer_client_failure(int rc, const struct rpc_result *res)
{
    return res->code == RPC_UNIMPLEMENTED ? STELE_ERR_INVALID : rc;
}

int peer_client_write_failed(const char *prog, const char *path, int err)
{
    bool input = err == ENOENT || err == ENOTDIR || err == EACCES || err == EPERM ||
                 err == EISDIR || err == EROFS || err == ELOOP || err == ENAMETOOLONG;
    return cli_fail(prog, input ? STELE_ERR_INVALID : STELE_ERR_IO, "cannot write %s: %s", path,
                    err ? strerror(err) : stele_strerror(STELE_ERR_IO));
}

int peer_client_read_failed(const char *prog, const char *path, int rc)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) /* enrolment_read_file(): INVALID */
        return cli_fail(prog, STELE_ERR_INVALID, "cannot read %s: it is a directory", path);
    return cli_fail(prog, rc, "cannot read %s: %s", path, stele_strerror(rc));
}

const char *peer_code_name(unsigned code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&stele__tx_validation_code__descriptor, (int)code);
    return v ? v->name : "UNKNOWN";
}
