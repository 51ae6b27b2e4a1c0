/* inspect.c — `stele-ca inspect DIR|FILE`: what an enrolment directory, identity record or
 * certificate holds, offline. */
#include "ca.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char inspect_help[] =
    "Usage: stele-ca inspect DIR|FILE [--ca-pub FILE] [--json]\n"
    "\n"
    "Shows an enrolment directory (its identity record, or its cert), an identity record file\n"
    "or a 78-octet certificate: certificate (hex), certhash, serial, issuer, validity, key\n"
    "usage, and for records id, org, role and attributes. With the CA's public key (--ca-pub,\n"
    "or a ca.pub beside the file) it also shows the extracted public key Q_U and whether the\n"
    "record's CA signature verifies. Works offline.\n";

/* Reads `path` and a CA key beside it; fills what it finds. */
static int load(const char *prog, const char *path, const char *ca_pub, struct buf *data,
                struct crypto_key **ca)
{
    char file[4096], pubpath[4096];
    struct stat st;
    if (stat(path, &st) != 0)
        return cli_fail(prog, STELE_ERR_NOT_FOUND, "%s: no such file or directory", path);
    if (S_ISDIR(st.st_mode)) {
        snprintf(file, sizeof file, "%s/identity", path);
        if (stat(file, &st) != 0)
            snprintf(file, sizeof file, "%s/cert", path);
        snprintf(pubpath, sizeof pubpath, "%s/ca.pub", path);
    } else {
        snprintf(file, sizeof file, "%s", path);
        const char *slash = strrchr(path, '/');
        snprintf(pubpath, sizeof pubpath, "%.*s%sca.pub", slash ? (int)(slash - path) : 0, path,
                 slash ? "/" : "");
    }
    int rc = enrolment_read_file(file, IDENTITY_MAX_LEN, data);
    if (rc != STELE_OK)
        return cli_fail(prog, rc, "%s: %s", file, stele_strerror(rc));
    struct buf b = {0};
    const char *keyfile = ca_pub ? ca_pub : pubpath;
    rc = enrolment_read_file(keyfile, 1024, &b);
    if (rc == STELE_OK)
        rc = crypto_key_from_public(b.data, b.len, ca);
    buf_release(&b);
    if (rc != STELE_OK && ca_pub)
        return cli_fail(prog, rc, "%s: not a readable SEC 1 public key", ca_pub);
    return 0;
}

static void write_json(const struct identity *id, bool is_record, const struct crypto_key *q,
                       int verified, const char *verify_err)
{
    struct buf out = {0};
    struct json j;
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    json_init(&j, &out);
    json_object_begin(&j);
    json_kv_string(&j, "kind", is_record ? "identity" : "cert");
    json_kv_hex(&j, "cert", id->cert, ECQV_CERT_LEN);
    json_kv_hex(&j, "certhash", id->certhash, 32);
    if (q) {
        crypto_key_public_compressed(q, pub);
        json_kv_hex(&j, "public_key", pub, sizeof pub);
    } else {
        json_key(&j, "public_key");
        json_null(&j);
    }
    if (is_record) {
        json_kv_string(&j, "id", id->id);
        json_kv_string(&j, "org", id->org);
        json_kv_string(&j, "role", id->role);
        json_key(&j, "attributes");
        json_object_begin(&j);
        for (size_t i = 0; i < id->n_attrs; i++)
            json_kv_string(&j, id->attrs[i].key, id->attrs[i].value);
        json_object_end(&j);
        json_kv_uint(&j, "issued_at", id->issued_at);
    }
    json_kv_uint(&j, "serial", id->fields.serial);
    json_kv_uint(&j, "issuer_id", id->fields.issuer_id);
    json_key(&j, "validity");
    json_object_begin(&j);
    json_kv_uint(&j, "from", id->fields.valid_from);
    json_kv_uint(&j, "until", identity_valid_until(&id->fields));
    json_kv_uint(&j, "seconds", id->fields.valid_duration);
    json_kv_bool(&j, "expired", clock_wall_s() >= identity_valid_until(&id->fields));
    json_object_end(&j);
    json_key(&j, "key_usage");
    json_array_begin(&j);
    if (id->fields.key_usage & ECQV_USAGE_SIGN)
        json_string(&j, "sign");
    if (id->fields.key_usage & ECQV_USAGE_ENCRYPT)
        json_string(&j, "encrypt");
    if (id->fields.key_usage & ECQV_USAGE_CA)
        json_string(&j, "ca");
    json_array_end(&j);
    json_key(&j, "verified");
    if (verified < 0)
        json_null(&j);
    else
        json_bool(&j, verified);
    if (verify_err)
        json_kv_string(&j, "verify_error", verify_err);
    json_object_end(&j);
    json_finish(&j);
    client_print_json(&out);
}

static void write_text(const struct identity *id, bool is_record, const struct crypto_key *q,
                       int verified, const char *verify_err)
{
    char from[21], until[21], hex[2 * ECQV_CERT_LEN + 1];
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    clock_format_utc(id->fields.valid_from, from);
    clock_format_utc(identity_valid_until(&id->fields), until);
    if (is_record) {
        printf("id:         %s\norg:        %s\nrole:       %s\n", id->id, id->org, id->role);
        for (size_t i = 0; i < id->n_attrs; i++)
            printf("attribute:  %s=%s\n", id->attrs[i].key, id->attrs[i].value);
    }
    printf("serial:     %llu\nissuer_id:  %llu\nvalidity:   %s .. %s\n",
           (unsigned long long)id->fields.serial, (unsigned long long)id->fields.issuer_id, from,
           until);
    hex_encode(id->certhash, 32, hex);
    printf("certhash:   %s\n", hex);
    hex_encode(id->cert, ECQV_CERT_LEN, hex);
    printf("cert:       %s\n", hex);
    if (q) {
        crypto_key_public_compressed(q, pub);
        hex_encode(pub, sizeof pub, hex);
        printf("public_key: %s\n", hex);
    }
    if (verified >= 0)
        printf("verified:   %s%s%s\n", verified ? "yes" : "NO", verify_err ? " — " : "",
               verify_err ? verify_err : "");
}

int cmd_inspect(int argc, char **argv)
{
    const char *prog = "stele-ca inspect";
    struct client_opts o;
    int code = client_parse(prog, inspect_help, "cj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (o.n_rest != 1)
        return cli_usage(prog, "give one DIR or FILE to inspect");
    struct buf data = {0};
    struct crypto_key *ca = NULL, *q = NULL;
    struct arena *a = arena_create(0);
    struct identity id = {0};
    struct msp *msp = NULL;
    char *err = NULL;
    int verified = -1;
    bool is_record = false;
    if (!a)
        return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
    if ((code = load(prog, o.rest[0], o.ca_pub, &data, &ca)) != 0)
        goto out;
    if (ecqv_cert_decode(data.data, data.len, &id.fields) == STELE_OK) {
        memcpy(id.cert, data.data, ECQV_CERT_LEN);
        ecqv_certhash(id.cert, ECQV_CERT_LEN, id.certhash);
    } else if (identity_decode(a, data.data, data.len, &id, &err) == STELE_OK) {
        is_record = true;
    } else {
        code = cli_fail(prog, STELE_ERR_MALFORMED,
                        "%s is neither a 78-octet certificate nor an identity record: %s",
                        o.rest[0], err ? err : "?");
        goto out;
    }
    if (ca) {
        ecqv_extract(id.cert, ECQV_CERT_LEN, ca, &q);
        if (is_record) {
            struct identity v;
            free(err);
            err = NULL;
            msp = msp_create(4);
            if (msp && msp_add_ca(msp, NULL, 0, ca) == STELE_OK)
                verified = identity_verify(msp, a, data.data, data.len, clock_wall_s(), &v, &err) ==
                           STELE_OK;
        }
    }
    if (o.json)
        write_json(&id, is_record, q, verified, verified == 0 ? err : NULL);
    else
        write_text(&id, is_record, q, verified, verified == 0 ? err : NULL);
out:
    free(err);
    msp_destroy(msp);
    crypto_key_destroy(q);
    crypto_key_destroy(ca);
    buf_release(&data);
    arena_destroy(a);
    return code;
}
