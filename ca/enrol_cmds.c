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
#include "identity/caclient.h"
#include "pb/pb.h"
#include "stele/ca.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void client_print_json(struct buf *out)
{
    printf("%s\n", out->data ? (char *)out->data : "null");
    buf_release(out);
}

/* Writes a verified enrolment into `dir` (replacing one there as one step: enrolment_save())
 * and reports it, `verb` ("enrolled", "reenrolled") first. Returns an exit code. */
static int finish(const char *prog, const char *verb, const struct caclient_enrolled *en,
                  const char *dir, bool json)
{
    char *err = NULL;
    int rc = caclient_save(en, dir, &err);
    if (rc != STELE_OK) {
        int code = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        return code;
    }
    const struct identity *id = &en->id;
    if (json) {
        struct buf out = {0};
        struct json j;
        json_init(&j, &out);
        json_object_begin(&j);
        json_kv_string(&j, "id", id->id);
        json_kv_string(&j, "org", id->org);
        json_kv_string(&j, "role", id->role);
        json_kv_uint(&j, "serial", id->fields.serial);
        json_kv_hex(&j, "certhash", id->certhash, 32);
        json_kv_uint(&j, "valid_from", id->fields.valid_from);
        json_kv_uint(&j, "valid_until", identity_valid_until(&id->fields));
        json_kv_uint(&j, "ca_id", en->ca_id);
        json_kv_string(&j, "dir", dir);
        json_object_end(&j);
        json_finish(&j);
        client_print_json(&out);
    } else {
        char until[21];
        clock_format_utc(identity_valid_until(&id->fields), until);
        printf("%s %s (org %s, role %s, serial %llu, valid until %s) into %s\n", verb, id->id,
               id->org, id->role, (unsigned long long)id->fields.serial, until, dir);
    }
    return CLI_EXIT_OK;
}

/* Removes a directory this command created for an enrolment that failed, with whatever part of
 * the enrolment it already holds. Parents it created are left (they may be shared). */
static void remove_enrolment_dir(const char *dir)
{
    static const char *const files[] = {"key.pem", "cert", "identity", "ca.pub"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Reports a failed enrolment: the CA's refusal, or a response that did not check. */
static int enrol_fail(const char *prog, int rc, const struct rpc_result *res, char *err)
{
    int code;
    if (err)
        code = cli_fail(prog, rc, "%s", err);
    else if (res && res->code != RPC_OK)
        code = client_rpc_fail(prog, rc, res);
    else /* failed here, after the CA answered */
        code = cli_fail(prog, rc, "%s", stele_strerror(rc));
    free(err);
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
    struct crypto_key *pin = NULL;
    if (o.ca_pub) {
        struct buf b = {0};
        int rc = enrolment_read_file(o.ca_pub, 1024, &b);
        if (rc == STELE_OK)
            rc = crypto_key_from_public(b.data, b.len, &pin);
        buf_release(&b);
        if (rc != STELE_OK)
            return cli_fail(prog, rc, "%s: not a readable SEC 1 public key", o.ca_pub);
    }
    /* Check the output directory first: an enrolment the CA counts must not be lost. A
     * directory made here is removed again if the enrolment fails. */
    char *err = NULL;
    bool made_dir = access(o.out, F_OK) != 0;
    int rc = enrolment_prepare_dir(o.out, false, &err);
    if (rc != STELE_OK) {
        crypto_key_destroy(pin);
        return enrol_fail(prog, rc, NULL, err);
    }
    struct rpc_channel *ch = NULL;
    struct caclient_enrolled en = {0};
    if ((code = client_open(prog, &o, &ch)) == 0) {
        struct rpc_result res;
        rc = caclient_enroll(ch, o.id, o.secret, pin, &en, &res, &err);
        if (rc != STELE_OK)
            code = enrol_fail(prog, rc, &res, err);
        else
            code = finish(prog, "enrolled", &en, o.out, o.json);
    }
    if (code != CLI_EXIT_OK && made_dir)
        remove_enrolment_dir(o.out);
    caclient_enrolled_release(&en);
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
    "identity that has expired may still reenrol within the CA's grace period.\n"
    "The new key request is kept in the directory written (reenroll-CERTHASH.pem) until the new\n"
    "identity is saved: if the CA's answer is lost, the same command (same --as and --out) asks\n"
    "with the same key, and the CA sends the same answer again.\n";

int cmd_reenroll(int argc, char **argv)
{
    const char *prog = "stele-ca reenroll";
    struct client_opts o;
    int code = client_parse(prog, reenroll_help, "uTaOj", argc, argv, &o);
    if (code)
        return code < 0 ? CLI_EXIT_OK : code;
    if (!o.as || o.n_rest)
        return cli_usage(prog, "--as DIR is required");
    const char *dir = o.out ? o.out : o.as;
    char *err = NULL;
    int rc = enrolment_prepare_dir(dir, o.out == NULL, &err);
    if (rc != STELE_OK)
        return enrol_fail(prog, rc, NULL, err);
    struct rpc_channel *ch = NULL;
    struct enrolment e;
    if ((code = client_open(prog, &o, &ch)) != 0)
        return code;
    if ((code = client_load(prog, o.as, &e)) != 0) {
        rpc_channel_close(ch);
        return code;
    }
    struct caclient_enrolled en;
    struct rpc_result res;
    /* the key request waits in the directory written (DIR2 or DIR) until its answer is saved:
     * if the answer is lost, the same command asks with the same key and the CA sends the same
     * answer again */
    rc = caclient_reenroll(ch, &e, dir, &en, &res, &err);
    if (rc != STELE_OK)
        code = enrol_fail(prog, rc, &res, err);
    else if ((code = finish(prog, "reenrolled", &en, dir, o.json)) == CLI_EXIT_OK &&
             caclient_reenroll_done(dir, &e) != STELE_OK)
        fprintf(stderr,
                "%s: warning: cannot delete the kept reenrolment key in %s; delete "
                "%s/reenroll-*.pem* (with the CA's answer it is your new private key)\n",
                prog, dir, dir);
    caclient_enrolled_release(&en);
    enrolment_release(&e);
    rpc_channel_close(ch);
    return code;
}
