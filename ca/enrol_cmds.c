/* enrol_cmds.c — `stele-ca enroll` and `stele-ca reenroll`: make k_U locally, send R_U, check
 * what the CA returns (ECQV reception, the signed record) and write the enrolment directory.
 * The private key never leaves this process. */
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void client_print_json(struct buf *out)
{
    printf("%s\n", out->data ? (char *)out->data : "null");
    buf_release(out);
}

/* Checks an EnrollResponse against k_U (and a pinned CA key when `pin` is not NULL) and
 * writes the enrolment directory `dir`. Returns an exit code.
 * NEEDSWORK: reenrol in place replaces the four files one by one; a crash in between leaves
 * key.pem and cert mismatched (enrolment_load() then refuses the directory). Write a sibling
 * directory and swap it in instead. */
static int finish(const char *prog, const struct crypto_key *k_u, const Stele__EnrollResponse *r,
                  const struct crypto_key *pin, const char *dir, bool json)
{
    struct crypto_key *ca_pub = NULL, *d_u = NULL;
    struct msp *msp = NULL;
    struct arena *a = arena_create(0);
    struct identity id;
    char *err = NULL;
    int code = CLI_EXIT_OK, rc;

    if (!a) {
        code = cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (crypto_key_from_public(r->ca_public_key.data, r->ca_public_key.len, &ca_pub) != STELE_OK) {
        code = cli_fail(prog, STELE_ERR_MALFORMED, "the CA sent an invalid public key");
        goto out;
    }
    if (pin && !crypto_key_public_equal(pin, ca_pub)) {
        code = cli_fail(prog, STELE_ERR_AUTH, "the CA's public key is not the expected one");
        goto out;
    }
    if (r->r.len != 32 || (rc = ecqv_reception(k_u, r->cert.data, r->cert.len, r->r.data, ca_pub,
                                               &d_u)) != STELE_OK) {
        code = cli_fail(prog, STELE_ERR_AUTH,
                        "ECQV reception failed: the certificate does not yield a key pair "
                        "(d_U·G != e·P_U + Q_CA)");
        goto out;
    }
    msp = msp_create(16);
    if (!msp || msp_add_ca(msp, NULL, r->ca_id, ca_pub) != STELE_OK) {
        code = cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = identity_verify(msp, a, r->identity.data, r->identity.len, clock_wall_s(), &id, &err);
    if (rc != STELE_OK || memcmp(id.cert, r->cert.data, ECQV_CERT_LEN) != 0) {
        code = cli_fail(prog, STELE_ERR_AUTH, "the identity record does not verify: %s",
                        err ? err : "it is for another certificate");
        goto out;
    }
    rc = enrolment_save(dir, d_u, r->cert.data, r->identity.data, r->identity.len, ca_pub, &err);
    if (rc != STELE_OK) {
        code = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
        goto out;
    }
    if (json) {
        struct buf out = {0};
        struct json j;
        json_init(&j, &out);
        json_object_begin(&j);
        json_kv_string(&j, "id", id.id);
        json_kv_string(&j, "org", id.org);
        json_kv_string(&j, "role", id.role);
        json_kv_uint(&j, "serial", id.fields.serial);
        json_kv_hex(&j, "certhash", id.certhash, 32);
        json_kv_uint(&j, "valid_from", id.fields.valid_from);
        json_kv_uint(&j, "valid_until", identity_valid_until(&id.fields));
        json_kv_uint(&j, "ca_id", r->ca_id);
        json_kv_string(&j, "dir", dir);
        json_object_end(&j);
        json_finish(&j);
        client_print_json(&out);
    } else {
        char until[21];
        clock_format_utc(identity_valid_until(&id.fields), until);
        printf("enrolled %s (org %s, role %s, serial %llu, valid until %s) into %s\n", id.id,
               id.org, id.role, (unsigned long long)id.fields.serial, until, dir);
    }
out:
    free(err);
    msp_destroy(msp);
    crypto_key_destroy(ca_pub);
    crypto_key_destroy(d_u);
    arena_destroy(a);
    return code;
}

static const char enroll_help[] =
    "Usage: stele-ca enroll --url HOST:PORT --id ID --secret SECRET --out DIR [--ca-pub FILE]\n"
    "                       [--json]\n"
    "\n"
    "Enrols ID with its one-time secret: makes a fresh k_U here, sends only R_U = k_U·G, checks\n"
    "the CA's answer (ECQV reception and the CA-signed identity record) and writes DIR:\n"
    "key.pem (private key, PKCS#8 PEM, 0600), cert (78-octet CertU), identity (CA-signed\n"
    "record) and ca.pub (the CA's public key). With --ca-pub FILE (SEC 1) the CA's key must be\n"
    "that one; otherwise it is trusted on first use. --secret - reads the secret from the\n"
    "first line of stdin, keeping it out of the process list.\n";

int cmd_enroll(int argc, char **argv)
{
    const char *prog = "stele-ca enroll";
    struct client_opts o;
    int code = client_parse(prog, enroll_help, "uTisOcj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (!o.id || !o.secret || !o.out || o.n_rest)
        return cli_usage(prog, "--id, --secret and --out are required");
    struct crypto_key *pin = NULL, *k_u = NULL;
    if (o.ca_pub) {
        struct buf b = {0};
        int rc = enrolment_read_file(o.ca_pub, 1024, &b);
        if (rc == STELE_OK)
            rc = crypto_key_from_public(b.data, b.len, &pin);
        buf_release(&b);
        if (rc != STELE_OK)
            return cli_fail(prog, rc, "%s: not a readable SEC 1 public key", o.ca_pub);
    }
    struct rpc_channel *ch = NULL;
    if ((code = client_open(prog, &o, &ch)) != 0) {
        crypto_key_destroy(pin);
        return code;
    }
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN];
    ProtobufCMessage *resp = NULL;
    struct rpc_result res;
    if (ecqv_request(&k_u, r_u) != STELE_OK) {
        code = cli_fail(prog, STELE_ERR_CRYPTO, "cannot make a key");
        goto out;
    }
    req.id = (char *)o.id;
    req.secret = (char *)o.secret;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    int rc = rpc_unary(ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor,
                       &resp, 0, &res);
    if (rc != STELE_OK)
        code = client_rpc_fail(prog, rc, &res);
    else
        code = finish(prog, k_u, (Stele__EnrollResponse *)resp, pin, o.out, o.json);
out:
    pb_free(resp);
    crypto_key_destroy(k_u);
    crypto_key_destroy(pin);
    rpc_channel_close(ch);
    return code;
}

static const char reenroll_help[] =
    "Usage: stele-ca reenroll --url HOST:PORT --as DIR [--out DIR2] [--json]\n"
    "\n"
    "Replaces the enrolled identity in DIR with a new certificate for the same id, signed by\n"
    "the current one, and writes it to DIR2 (default: DIR, replacing its files).\n"
    "The key pair is always new: ECQV binds the private key to the certificate it was issued\n"
    "with, so a certificate cannot be renewed for the same key. The old certificate goes on the\n"
    "CRL with reason \"superseded\" and its key can no longer sign requests to the CA. An\n"
    "identity that has expired may still reenrol within the CA's grace period.\n";

int cmd_reenroll(int argc, char **argv)
{
    const char *prog = "stele-ca reenroll";
    struct client_opts o;
    int code = client_parse(prog, reenroll_help, "uTaOj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (!o.as || o.n_rest)
        return cli_usage(prog, "--as DIR is required");
    struct rpc_channel *ch = NULL;
    struct enrolment e;
    struct crypto_key *k_u = NULL;
    if ((code = client_open(prog, &o, &ch)) != 0)
        return code;
    if ((code = client_load(prog, o.as, &e)) != 0) {
        rpc_channel_close(ch);
        return code;
    }
    Stele__ReenrollRequest req = STELE__REENROLL_REQUEST__INIT;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN];
    ProtobufCMessage *resp = NULL;
    struct rpc_result res;
    if (ecqv_request(&k_u, r_u) != STELE_OK) {
        code = cli_fail(prog, STELE_ERR_CRYPTO, "cannot make a key");
        goto out;
    }
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    int rc = client_signed_call(ch, &e, "/stele.CA/Reenroll", &req.base,
                                &stele__enroll_response__descriptor, &resp, &res);
    if (rc != STELE_OK)
        code = client_rpc_fail(prog, rc, &res);
    else
        code = finish(prog, k_u, (Stele__EnrollResponse *)resp, e.ca_pub, o.out ? o.out : o.as,
                      o.json);
out:
    pb_free(resp);
    crypto_key_destroy(k_u);
    enrolment_release(&e);
    rpc_channel_close(ch);
    return code;
}
