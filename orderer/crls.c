/*
 * crls.c — the CRLs the channel's blocks carry (`_lifecycle` crl/<CA key>, lib/ledger/
 * lifecycle.h), installed in the orderer's membership checks as blocks are appended, so that
 * Broadcast and Deliver refuse an identity once its revocation is on the chain, as the peers
 * do from the block after the CRL's (DESIGN §4.2: peers and orderers refuse revoked
 * identities).
 *
 * A CRL is its CA's signed word whatever the transaction that carries it: the orderer takes it
 * from any envelope of an appended block, VALID at the peers or not (it does not validate
 * transactions), and orderer_auth_install_crl() checks the CA's signature and that it is newer
 * than the one installed. Every orderer appends the same blocks in the same order, so all of
 * them hold the same CRLs when they check the envelopes of the next block.
 *
 * What was installed is kept in DATA_DIR/crls/: one file per CRL installed (`<SHA-256 of its
 * octets>.crl`, written atomically) and `scanned`, the height up to which blocks have been
 * read (written after a block's CRL files, and every CRLS_MARK_EVERY blocks; never again in a
 * run where a CRL file could not be written). At start the files are installed and the blocks
 * from `scanned` on are read again, so neither a crash nor a failed write loses a CRL.
 */
#include "crls.h"

#include "orderer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/testhook.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRLS_DIR        "crls"
#define CRLS_MARK       "scanned"
#define CRLS_MARK_EVERY 1024 /* blocks read again at most after a crash */

/* DATA_DIR/crls/<name> into `out`; false when it does not fit. */
static bool crls_path(const struct orderer *o, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/" CRLS_DIR "%s%s", o->cfg->data_dir, name ? "/" : "",
                     name ? name : "");
    return n > 0 && (size_t)n < cap;
}

/* Writes the height up to which blocks have been read. */
static int write_mark(struct orderer *o, uint64_t height)
{
    char path[4096], text[32];
    if (!crls_path(o, CRLS_MARK, path, sizeof path))
        return STELE_ERR_IO;
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", height);
    return enrolment_write_file(path, text, (size_t)n, 0644);
}

/* Test builds only (STELE_TEST_HOOKS): while the file STELE_TEST_ORDERER_CRL_KEEP_FAIL names
 * exists, keeping a CRL file fails as on a failed disk. */
static bool test_keep_fails(void)
{
    return test_hook_file("STELE_TEST_ORDERER_CRL_KEEP_FAIL");
}

/* Installs one CRL found in block `number` under key `key` (crl/...); keeps it on disk when it
 * is newer than what was installed, named after the SHA-256 of its octets: the key is what the
 * transaction says (the orderer validates no transaction, so anyone may choose it), while the
 * CA is the one whose signature verifies, so a name taken from the key could let one CA's CRL
 * replace another's file. Older files of a CA are refused as not newer when they are read
 * again. Returns true when it installed one. */
static bool install(struct orderer *o, uint64_t number, const char *key, const uint8_t *crl,
                    size_t len)
{
    char *err = NULL;
    int rc = orderer_auth_install_crl(o->auth, crl, len, &err);
    if (rc == STELE_OK) {
        char path[4096], name[2 * CRYPTO_SHA256_LEN + 8];
        uint8_t h[CRYPTO_SHA256_LEN];
        bool kept = crypto_sha256(crl, len, h) == STELE_OK;
        for (size_t i = 0; kept && i < sizeof h; i++)
            snprintf(name + 2 * i, 3, "%02x", h[i]);
        if (kept)
            memcpy(name + 2 * sizeof h, ".crl", 5);
        if (!kept || !crls_path(o, name, path, sizeof path) || test_keep_fails() ||
            enrolment_write_file(path, crl, len, 0644) != STELE_OK) {
            /* No later block may be marked as read: a restart must read this one again. */
            o->crls_unkept = true;
            log_error("orderer",
                      "cannot keep the CRL of block %" PRIu64 " in %s/" CRLS_DIR
                      ": it is installed, and read from its block again when the orderer "
                      "restarts",
                      number, o->cfg->data_dir);
        }
        log_info("orderer", "installed the CRL %s of block %" PRIu64, key, number);
    } else if (rc != STELE_ERR_STATE) { /* not newer: nothing to do */
        log_warn("orderer", "block %" PRIu64 " carries a CRL under %s that is not installed: %s",
                 number, key, err ? err : stele_strerror(rc));
    }
    free(err);
    return rc == STELE_OK;
}

/* Installs the CRLs the envelopes of block `b` write; true when it installed one. */
static bool learn(struct orderer *o, struct arena *a, const Stele__Block *b)
{
    bool any = false;
    size_t n = b->data ? b->data->n_envelopes : 0;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *e = &b->data->envelopes[i];
        struct envelope_view ev;
        struct tx_view tv;
        Stele__TxValidationCode code;
        arena_reset(a);
        if (envelope_parse(a, e->data, e->len, 0, &ev, NULL) != STELE_OK ||
            ev.header->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION ||
            tx_open(a, &ev, &tv, &code, NULL) != STELE_OK)
            continue;
        for (size_t k = 0; k < tv.rwset->n_ns_rwsets; k++) {
            const Stele__NsRwSet *ns = tv.rwset->ns_rwsets[k];
            if (strcmp(ns->namespace_, LIFECYCLE_NS) != 0)
                continue;
            for (size_t w = 0; w < ns->n_writes; w++) {
                const Stele__KVWrite *kv = ns->writes[w];
                if (!kv->is_delete &&
                    strncmp(kv->key, LIFECYCLE_CRL_PFX, strlen(LIFECYCLE_CRL_PFX)) == 0 &&
                    install(o, b->header->number, kv->key, kv->value.data, kv->value.len))
                    any = true;
            }
        }
    }
    return any;
}

void orderer_crls_block(struct orderer *o, const Stele__Block *b)
{
    struct arena *a = arena_create(0);
    if (!a) {
        log_error("orderer", "out of memory reading block %" PRIu64 " for CRLs", b->header->number);
        return;
    }
    bool any = learn(o, a, b);
    arena_destroy(a);
    /* after every CRL file of the block, so that a crash between two of them reads it again */
    if (!o->crls_unkept && (any || (b->header->number + 1) % CRLS_MARK_EVERY == 0))
        write_mark(o, b->header->number + 1);
}

/* Installs the CRL files of DATA_DIR/crls/. */
static int load_files(struct orderer *o, char **errmsg)
{
    char dir[4096];
    if (!crls_path(o, NULL, dir, sizeof dir))
        return stele_errf(errmsg, STELE_ERR_CONFIG, "data_dir is too long");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot read %s: %s", dir, strerror(errno));
    struct buf b;
    buf_init(&b);
    int rc = STELE_OK;
    struct dirent *de;
    while (rc == STELE_OK && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[4096 + 256];
        if (len < 5 || strcmp(de->d_name + len - 4, ".crl") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        buf_clear(&b);
        char *err = NULL;
        rc = enrolment_read_file(path, IDENTITY_CRL_MAX_LEN, &b);
        if (rc == STELE_OK)
            rc = orderer_auth_install_crl(o->auth, b.data, b.len, &err);
        if (rc == STELE_ERR_STATE) /* an older CRL of that CA, or the configuration has newer */
            rc = STELE_OK;
        if (rc)
            rc = stele_errf(errmsg, rc, "%s: %s", path, err ? err : stele_strerror(rc));
        free(err);
    }
    closedir(d);
    buf_release(&b);
    return rc;
}

/* The height recorded in DATA_DIR/crls/scanned (0 when there is none). */
static uint64_t read_mark(struct orderer *o)
{
    char path[4096];
    struct buf b;
    uint64_t h = 0;
    buf_init(&b);
    if (crls_path(o, CRLS_MARK, path, sizeof path) &&
        enrolment_read_file(path, 64, &b) == STELE_OK && buf_append(&b, "", 1) == STELE_OK)
        h = strtoull((const char *)b.data, NULL, 10);
    buf_release(&b);
    return h;
}

int orderer_crls_open(struct orderer *o, char **errmsg)
{
    int rc = load_files(o, errmsg);
    if (rc)
        return rc;
    uint64_t from = read_mark(o), height = chain_height(o->chain);
    struct arena *a = arena_create(0), *ba = arena_create(0);
    if (!a || !ba) {
        arena_destroy(a);
        arena_destroy(ba);
        return STELE_ERR_NOMEM;
    }
    if (from < 1 || from > height)
        from = 1; /* block 0 is the configuration */
    for (uint64_t n = from; n < height; n++) {
        Stele__Block *b = NULL;
        arena_reset(ba);
        if ((rc = blockstore_get(chain_store(o->chain), n, ba, &b)) != STELE_OK) {
            rc = stele_errf(errmsg, rc, "cannot read block %" PRIu64 " for its CRLs", n);
            break;
        }
        learn(o, a, b);
    }
    arena_destroy(a);
    arena_destroy(ba);
    if (rc == STELE_OK && height > from && !o->crls_unkept)
        write_mark(o, height);
    return rc;
}
