/* init.c — `stele-ca init`: a new CA key, id, registry and bootstrap admin in a directory. */
#include "ca.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/fsdir.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "secret.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char init_help[] =
    "Usage: stele-ca init --dir DIR [--name NAME] [--org ORG] [--json]\n"
    "\n"
    "Creates a new certificate authority in DIR: the CA key (DIR/ca.key, PKCS#8 PEM, mode\n"
    "0600), its public key (DIR/ca.pub, SEC 1 compressed), a random 64-bit CA id, the\n"
    "registry (DIR/registry) and a bootstrap identity \"admin\" (role admin, organisation ORG,\n"
    "default NAME) with a one-time enrolment secret that is printed once: enrol it with\n"
    "'stele-ca enroll --id admin --secret SECRET --out DIR'. Refuses to overwrite a CA.\n"
    "\n"
    "  --dir DIR     directory of the CA (created with its parents if missing)\n"
    "  --name NAME   CA name shown by 'info' (default stele-ca)\n"
    "  --org ORG     organisation of the bootstrap admin (default: NAME)\n"
    "  --json        print {\"ca_id\", \"public_key\", \"name\", \"admin_id\", \"admin_secret\"}\n"
    "                as JSON\n";

/* Creates the CA files; fills the id and the admin secret. */
static int create_ca(const char *dir, const char *name, const char *org, uint64_t *ca_id,
                     uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN],
                     char secret[SECRET_GENERATED_LEN + 1], char **errmsg)
{
    char path[4096];
    struct crypto_key *key = NULL;
    struct registry *reg = NULL;
    struct registry_batch *b = NULL;
    struct arena *a = arena_create(0);
    struct ca_settings set;
    Stele__CaIdRecord *admin;
    int rc;

    if (!a)
        return STELE_ERR_NOMEM;
    ca_settings_default(&set);
    if ((rc = fsdir_make(dir, 0700, errmsg)) != STELE_OK)
        goto out;
    snprintf(path, sizeof path, "%s/ca.key", dir);
    if (access(path, F_OK) == 0) {
        rc = STELE_ERR_EXISTS;
        if (asprintf(errmsg, "%s already holds a CA (%s exists); not overwriting", dir, path) < 0)
            *errmsg = NULL;
        goto out;
    }
    if ((rc = registry_open(dir, true, &reg, errmsg)) != STELE_OK)
        goto out;
    do {
        if ((rc = crypto_random(ca_id, sizeof *ca_id)) != STELE_OK)
            goto out;
    } while (*ca_id == 0);
    if ((rc = crypto_key_generate(&key)) != STELE_OK)
        goto out;
    crypto_key_public_compressed(key, pub);
    if ((rc = secret_generate(secret)) != STELE_OK)
        goto out;
    rc = ca_new_id_record(&set, a, CA_ADMIN_ID, org, "admin", secret, true, 1, 0, clock_wall_s(),
                          &admin);
    if (rc != STELE_OK)
        goto out;
    rc = crypto_key_save_pem(key, path);
    if (rc != STELE_OK) {
        if (asprintf(errmsg, "cannot write %s", path) < 0)
            *errmsg = NULL;
        goto out;
    }
    snprintf(path, sizeof path, "%s/ca.pub", dir);
    if ((rc = enrolment_write_file(path, pub, CRYPTO_POINT_COMPRESSED_LEN, 0644)) != STELE_OK) {
        if (asprintf(errmsg, "cannot write %s", path) < 0)
            *errmsg = NULL;
        goto out;
    }
    b = registry_batch_create();
    if (!b) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    registry_batch_put_u64(b, "ca_id", *ca_id);
    registry_batch_put_str(b, "name", name);
    registry_batch_put_u64(b, "serial", 0);
    registry_batch_put_u64(b, "crl_number", 0);
    registry_batch_put_id(b, admin);
    rc = registry_commit(reg, b);
out:
    registry_batch_destroy(b);
    registry_close(reg);
    crypto_key_destroy(key);
    arena_destroy(a);
    return rc;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"name", required_argument, NULL, 'n'},
        {"org", required_argument, NULL, 'o'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *dir = NULL, *name = "stele-ca", *org = NULL;
    bool json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(init_help, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage("stele-ca init", "unknown or incomplete option '%s'",
                             argv[optind - 1]);
        }
    }
    if (!dir || optind != argc)
        return cli_usage("stele-ca init", "--dir DIR is required (and nothing else)");
    if (!name[0] || strlen(name) > 128)
        return cli_usage("stele-ca init", "--name must be 1..128 characters");
    uint64_t ca_id = 0;
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    char secret[SECRET_GENERATED_LEN + 1], *err = NULL;
    int rc = create_ca(dir, name, org ? org : name, &ca_id, pub, secret, &err);
    if (rc != STELE_OK) {
        int code = cli_fail("stele-ca init", rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        OPENSSL_cleanse(secret, sizeof secret);
        return code;
    }
    if (json) {
        struct buf out = {0};
        struct json j;
        json_init(&j, &out);
        json_object_begin(&j);
        json_kv_uint(&j, "ca_id", ca_id);
        json_kv_hex(&j, "public_key", pub, sizeof pub);
        json_kv_string(&j, "name", name);
        json_kv_string(&j, "admin_id", CA_ADMIN_ID);
        json_kv_string(&j, "admin_secret", secret);
        json_object_end(&j);
        json_finish(&j);
        printf("%s\n", (char *)out.data);
        buf_release_secure(&out);
    } else {
        char hex[2 * CRYPTO_POINT_COMPRESSED_LEN + 1];
        hex_encode(pub, sizeof pub, hex);
        printf("created CA \"%s\" in %s\n  ca_id:        %llu\n  public_key:   %s\n"
               "  admin_id:     %s\n  admin_secret: %s   (shown once; enrol the admin with it)\n",
               name, dir, (unsigned long long)ca_id, hex, CA_ADMIN_ID, secret);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    return CLI_EXIT_OK;
}
