/* query_cmds.c — `stele-ca crl`, `stele-ca info` (over gRPC) and `stele-ca inspect` (offline). */
#include "ca.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "client.h"
#include "pb/pb.h"
#include "stele/ca.pb-c.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Fetches CaInfo. Returns 0 or an exit code. */
static int get_info(const char *prog, struct rpc_channel *ch, Stele__CaInfo **info)
{
    Stele__CaInfoRequest req = STELE__CA_INFO_REQUEST__INIT;
    struct rpc_result res;
    int rc = rpc_unary(ch, "/stele.CA/GetInfo", &req.base, &stele__ca_info__descriptor,
                       (ProtobufCMessage **)info, 0, &res);
    return rc == STELE_OK ? 0 : client_rpc_fail(prog, rc, &res);
}

static const char info_help[] = "Usage: stele-ca info --url HOST:PORT [--json]\n"
                                "\n"
                                "Shows the CA's id, name, public key (Q_CA, SEC 1 compressed, "
                                "hex) and version.\n";

int cmd_info(int argc, char **argv)
{
    const char *prog = "stele-ca info";
    struct client_opts o;
    int code = client_parse(prog, info_help, "uTj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (o.n_rest)
        return cli_usage(prog, "unexpected argument '%s'", o.rest[0]);
    struct rpc_channel *ch = NULL;
    Stele__CaInfo *info = NULL;
    if ((code = client_open(prog, &o, &ch)) != 0)
        return code;
    if ((code = get_info(prog, ch, &info)) == 0) {
        struct buf out = {0};
        if (o.json) {
            struct json j;
            json_init(&j, &out);
            json_object_begin(&j);
            json_kv_uint(&j, "ca_id", info->ca_id);
            json_kv_string(&j, "name", info->name);
            json_kv_hex(&j, "public_key", info->public_key.data, info->public_key.len);
            json_kv_string(&j, "version", info->version);
            json_object_end(&j);
            json_finish(&j);
            client_print_json(&out);
        } else {
            buf_append_hex(&out, info->public_key.data, info->public_key.len);
            printf("name:       %s\nca_id:      %llu\npublic_key: %s\nversion:    %s\n", info->name,
                   (unsigned long long)info->ca_id, out.data ? (char *)out.data : "",
                   info->version);
            buf_release(&out);
        }
    }
    pb_free(info ? &info->base : NULL);
    rpc_channel_close(ch);
    return code;
}

static const char crl_help[] =
    "Usage: stele-ca crl --url HOST:PORT [--as DIR | --ca-pub FILE] [--out FILE] [--json]\n"
    "\n"
    "Fetches the CA's signed CRL, verifies its signature with the CA key from DIR/ca.pub or\n"
    "FILE (without either, with the key the CA reports) and lists the revoked certificates.\n"
    "--out FILE also writes the signed CRL (a serialized stele.Crl) for other tools.\n";

static void print_crl(const Stele__CrlBody *b, bool json)
{
    struct buf out = {0};
    if (!json) {
        printf("CRL number %llu of CA %llu, %zu revoked certificate(s)\n",
               (unsigned long long)b->number, (unsigned long long)b->issuer_id, b->n_entries);
        for (size_t i = 0; i < b->n_entries; i++) {
            char t[21];
            clock_format_utc(b->entries[i]->revoked_at, t);
            printf("  serial %llu  %s  %s  %s\n", (unsigned long long)b->entries[i]->serial,
                   b->entries[i]->id, t, b->entries[i]->reason);
        }
        return;
    }
    struct json j;
    json_init(&j, &out);
    json_object_begin(&j);
    json_kv_uint(&j, "issuer_id", b->issuer_id);
    json_kv_uint(&j, "number", b->number);
    json_kv_uint(&j, "this_update", b->this_update);
    json_kv_uint(&j, "next_update", b->next_update);
    json_key(&j, "entries");
    json_array_begin(&j);
    for (size_t i = 0; i < b->n_entries; i++) {
        const Stele__RevokedEntry *e = b->entries[i];
        json_object_begin(&j);
        json_kv_hex(&j, "certhash", e->certhash.data, e->certhash.len);
        json_kv_uint(&j, "serial", e->serial);
        json_kv_string(&j, "id", e->id);
        json_kv_uint(&j, "revoked_at", e->revoked_at);
        json_kv_string(&j, "reason", e->reason);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
    json_finish(&j);
    client_print_json(&out);
}

/* Loads the CA key from --ca-pub or --as DIR/ca.pub; *key stays NULL when neither is given. */
static int load_ca_pub(const char *prog, const struct client_opts *o, struct crypto_key **key)
{
    char path[4096];
    *key = NULL;
    if (!o->ca_pub && !o->as)
        return 0;
    if (o->ca_pub)
        snprintf(path, sizeof path, "%s", o->ca_pub);
    else
        snprintf(path, sizeof path, "%s/ca.pub", o->as);
    struct buf b = {0};
    int rc = enrolment_read_file(path, 1024, &b);
    if (rc == STELE_OK)
        rc = crypto_key_from_public(b.data, b.len, key);
    buf_release(&b);
    return rc == STELE_OK ? 0 : cli_fail(prog, rc, "%s: not a readable SEC 1 public key", path);
}

int cmd_crl(int argc, char **argv)
{
    const char *prog = "stele-ca crl";
    struct client_opts o;
    int code = client_parse(prog, crl_help, "uTacOj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (o.n_rest)
        return cli_usage(prog, "unexpected argument '%s'", o.rest[0]);
    struct rpc_channel *ch = NULL;
    struct crypto_key *ca = NULL;
    Stele__CaInfo *info = NULL;
    Stele__Crl *crl = NULL;
    Stele__CrlBody *body = NULL;
    if ((code = load_ca_pub(prog, &o, &ca)) != 0)
        return code;
    if ((code = client_open(prog, &o, &ch)) != 0)
        goto out;
    if (!ca) {
        if ((code = get_info(prog, ch, &info)) != 0)
            goto out;
        if (crypto_key_from_public(info->public_key.data, info->public_key.len, &ca)) {
            code = cli_fail(prog, STELE_ERR_MALFORMED, "the CA reports an invalid public key");
            goto out;
        }
    }
    Stele__CrlRequest req = STELE__CRL_REQUEST__INIT;
    struct rpc_result res;
    int rc = rpc_unary(ch, "/stele.CA/GetCRL", &req.base, &stele__crl__descriptor,
                       (ProtobufCMessage **)&crl, 0, &res);
    if (rc != STELE_OK) {
        code = client_rpc_fail(prog, rc, &res);
        goto out;
    }
    if (identity_verify_domain(ca, IDENTITY_DOMAIN_CRL, crl->body.data, crl->body.len,
                               crl->signature.data, crl->signature.len) != STELE_OK ||
        !(body = (Stele__CrlBody *)pb_unpack(&stele__crl_body__descriptor, NULL, crl->body.data,
                                             crl->body.len, 0))) {
        code = cli_fail(prog, STELE_ERR_AUTH, "the CRL's signature does not verify");
        goto out;
    }
    if (o.out) {
        struct buf b = {0};
        if (pb_pack_buf(&crl->base, &b) != STELE_OK ||
            enrolment_write_file(o.out, b.data, b.len, 0644) != STELE_OK)
            code = cli_fail(prog, STELE_ERR_IO, "cannot write %s", o.out);
        buf_release(&b);
        if (code)
            goto out;
    }
    print_crl(body, o.json);
out:
    pb_free(body ? &body->base : NULL);
    pb_free(crl ? &crl->base : NULL);
    pb_free(info ? &info->base : NULL);
    crypto_key_destroy(ca);
    rpc_channel_close(ch);
    return code;
}
