/*
 * ccstore.c — installed chaincode packages (proto/stele/lifecycle.proto), under
 * <data_dir>/chaincodes/:
 *   <hex hash>.pkg  the package exactly as installed (its SHA-256 is the hash)
 *   <hex hash>.so   its shared object, extracted at install (read-only), which the chaincode
 *                   hosts dlopen
 * Each file is written to a temporary name of its own (mkstemp: a crash leaves no file in the
 * way of the next install, and two installs of one package at once do not share one), synced,
 * given its mode and renamed: the .so first, then it is loaded once as the chaincode hosts
 * would load it (the runtime's check), and only then the .pkg. So a package that is listed is
 * whole and was checked: a crash during the check leaves a .so that no listing, lookup or
 * later install takes for an installed package. Installing the same package again changes
 * nothing.
 */
#include "ccrt.h"
#include "peer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"
#include "pb/pb.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CCSTORE_DIR "chaincodes"

/* The store's directory; with `create`, made if missing (installing and listing). Not on every
 * endorsement's lookup (ccstore_so_path): a mkdir per call is a path walk under the parent's
 * lock for nothing. */
static int store_dir(struct peer *p, char *out, size_t n, bool create)
{
    if (snprintf(out, n, "%s/%s", p->cfg->data_dir, CCSTORE_DIR) >= (int)n)
        return STELE_ERR_INVALID;
    if (create && mkdir(out, 0700) != 0 && errno != EEXIST)
        return STELE_ERR_IO;
    return STELE_OK;
}

static int file_path(struct peer *p, const uint8_t hash[32], const char *ext, char *out, size_t n)
{
    char dir[PATH_MAX], hx[65];
    int rc = store_dir(p, dir, sizeof dir, false);
    if (rc)
        return rc;
    hex_encode(hash, 32, hx);
    return snprintf(out, n, "%s/%s.%s", dir, hx, ext) >= (int)n ? STELE_ERR_INVALID : STELE_OK;
}

/* `msg` with the runtime's "chaincode PATH: " prefix dropped and every other occurrence of
 * `path` replaced by "the shared object", in `a` (the store's long paths would push the cause
 * past what a gRPC status detail shows). */
static const char *without_path(struct arena *a, const char *msg, const char *path)
{
    size_t pl = strlen(path);
    if (strncmp(msg, "chaincode ", 10) == 0 && strncmp(msg + 10, path, pl) == 0 &&
        strncmp(msg + 10 + pl, ": ", 2) == 0)
        msg += 10 + pl + 2;
    const char *out = "";
    for (const char *at; pl && out && (at = strstr(msg, path)); msg = at + pl)
        out = arena_printf(a, "%s%.*sthe shared object", out, (int)(at - msg), msg);
    out = out ? arena_printf(a, "%s%s", out, msg) : NULL;
    return out ? out : "refused";
}

/* Loads the stored shared object `so` in a chaincode host and checks that it is the chaincode
 * `name`; the check's host is not kept (a pool starts when the chaincode is invoked). Without
 * a runtime (unit tests of the store alone) there is nothing to check with. Returns STELE_OK,
 * or STELE_ERR_MALFORMED with *errmsg ("package refused: ..."). */
static int load_check(struct peer *p, const char *so, const char *name, char **errmsg)
{
    if (!p->ccrt)
        return STELE_OK;
    struct ccrt_info info;
    char *err = NULL;
    int rc = ccrt_load(p->ccrt, so, &info, &err);
    if (rc == STELE_OK && strcmp(info.name, name) != 0)
        rc = stele_errf(&err, STELE_ERR_INVALID,
                        "the shared object is chaincode '%s', the package says '%s'", info.name,
                        name);
    ccrt_evict(p->ccrt, so);
    if (rc) {
        struct arena *a = arena_create(0);
        const char *why = err ? err : stele_strerror(rc);
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "package refused: %s",
                        a ? without_path(a, why, so) : why);
        arena_destroy(a);
    }
    free(err);
    return rc;
}

int ccstore_install(struct peer *p, const uint8_t *pkg, size_t len, struct ccstore_entry *out,
                    char **errmsg)
{
    Stele__ChaincodePackage *cp = (Stele__ChaincodePackage *)pb_unpack(
        &stele__chaincode_package__descriptor, NULL, pkg, len, 0);
    if (!cp)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "the package does not decode");
    int rc = STELE_OK;
    if (!tx_chaincode_name_ok(cp->name) || cp->name[0] == '_' ||
        !lifecycle_version_ok(cp->version)) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED,
                        "the package's name or version is not valid (name: 1..64 of "
                        "[A-Za-z0-9_.-] not starting with '_'; version: 1..64 printable "
                        "characters without spaces)");
        goto out;
    }
    if (cp->so.len < 4 || memcmp(cp->so.data,
                                 "\x7f"
                                 "ELF",
                                 4) != 0) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "the package holds no ELF shared object");
        goto out;
    }
    memset(out, 0, sizeof *out);
    if ((rc = crypto_sha256(pkg, len, out->hash)))
        goto out;
    snprintf(out->name, sizeof out->name, "%s", cp->name);
    snprintf(out->version, sizeof out->version, "%s", cp->version);
    char so[PATH_MAX], pk[PATH_MAX];
    if ((rc = store_dir(p, so, sizeof so, true)) ||
        (rc = file_path(p, out->hash, "so", so, sizeof so)) ||
        (rc = file_path(p, out->hash, "pkg", pk, sizeof pk))) {
        rc = stele_errf(errmsg, rc, "cannot prepare %s/%s", p->cfg->data_dir, CCSTORE_DIR);
        goto out;
    }
    if (access(pk, F_OK) == 0) {
        out->already = true;
        goto out;
    }
    if ((rc = enrolment_write_file_unique(so, cp->so.data, cp->so.len, 0500))) {
        rc = stele_errf(errmsg, rc, "cannot store the package: %s", stele_strerror(rc));
        goto out;
    }
    if ((rc = load_check(p, so, cp->name, errmsg)))
        goto unstore;
    if ((rc = enrolment_write_file_unique(pk, pkg, len, 0400))) {
        rc = stele_errf(errmsg, rc, "cannot store the package: %s", stele_strerror(rc));
        goto unstore;
    }
    log_info("peer", "installed chaincode %s %s (package %.16s...)", cp->name, cp->version,
             strrchr(pk, '/') + 1);
    goto out;
unstore:
    if (access(pk, F_OK) != 0) /* no listed package: no shared object left behind */
        unlink(so);
out:
    pb_free(&cp->base);
    return rc;
}

int ccstore_so_path(struct peer *p, const uint8_t hash[32], char *out, size_t n)
{
    char pk[PATH_MAX];
    int rc = file_path(p, hash, "pkg", pk, sizeof pk);
    if (rc)
        return rc;
    if (access(pk, R_OK) != 0)
        return STELE_ERR_NOT_FOUND;
    return file_path(p, hash, "so", out, n);
}

/* Reads a varint at the file position; false at the end of the file or on more than 10
 * octets. */
static bool file_varint(FILE *f, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        int c = getc(f);
        if (c == EOF)
            return false;
        if (shift < 64)
            r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* Reads the name and version of the package file at `path` into *en (hash set by the caller)
 * without reading its shared object, which may be up to 1 GiB: approvals and listings only
 * need the two strings. The file is the package exactly as installed, which decoded then
 * (ccstore_install), so its top-level fields are walked in whatever order they come, `so`
 * skipped by its length, the last occurrence of a field winning as in protobuf. Returns
 * STELE_OK, STELE_ERR_IO, or STELE_ERR_MALFORMED when the file is not such a package. */
static int read_entry(const char *path, struct ccstore_entry *en)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f)
        return STELE_ERR_IO;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return STELE_ERR_IO;
    }
    bool name = false, version = false, name_long = false, version_long = false;
    int rc = STELE_OK;
    for (uint64_t key; rc == STELE_OK && ftello(f) < st.st_size;) {
        uint64_t v, left;
        if (!file_varint(f, &key) || (key >> 3) == 0) {
            rc = STELE_ERR_MALFORMED;
            break;
        }
        switch (key & 7) {
        case 0:
            rc = file_varint(f, &v) ? STELE_OK : STELE_ERR_MALFORMED;
            break;
        case 1:
        case 5:
            rc = fseeko(f, (key & 7) == 1 ? 8 : 4, SEEK_CUR) == 0 ? STELE_OK : STELE_ERR_IO;
            break;
        case 2:
            left = (uint64_t)st.st_size - (uint64_t)ftello(f);
            if (!file_varint(f, &v) || v > left) {
                rc = STELE_ERR_MALFORMED;
            } else if ((key >> 3) == 1 || (key >> 3) == 2) {
                /* as protobuf-c decoded it at install: the last occurrence counts, as a C
                 * string (up to its first NUL), of at most 64 octets (install checked that) */
                bool is_name = (key >> 3) == 1;
                char t[sizeof en->name + 1];
                size_t keep = v < sizeof en->name ? (size_t)v : sizeof en->name;
                if (fread(t, 1, keep, f) != keep ||
                    (v > keep && fseeko(f, (off_t)(v - keep), SEEK_CUR) != 0)) {
                    rc = STELE_ERR_MALFORMED;
                } else {
                    t[keep] = '\0';
                    bool fits = strlen(t) < sizeof en->name;
                    *(is_name ? &name_long : &version_long) = !fits;
                    if (fits)
                        memcpy(is_name ? en->name : en->version, t, strlen(t) + 1);
                }
                *(is_name ? &name : &version) = true;
            } else {
                rc = fseeko(f, (off_t)v, SEEK_CUR) == 0 ? STELE_OK : STELE_ERR_IO;
            }
            break;
        default:
            rc = STELE_ERR_MALFORMED;
        }
    }
    if (ferror(f))
        rc = STELE_ERR_IO;
    bool past_end = ftello(f) > st.st_size; /* a fixed-size field cut short */
    fclose(f);
    if (rc == STELE_OK && (!name || !version || name_long || version_long || past_end))
        rc = STELE_ERR_MALFORMED;
    if (rc == STELE_OK)
        en->already = true;
    return rc;
}

int ccstore_get(struct peer *p, const uint8_t hash[32], struct ccstore_entry *out)
{
    char pk[PATH_MAX];
    memset(out, 0, sizeof *out);
    memcpy(out->hash, hash, 32);
    int rc = file_path(p, hash, "pkg", pk, sizeof pk);
    if (rc)
        return rc;
    if (access(pk, F_OK) != 0)
        return STELE_ERR_NOT_FOUND;
    return read_entry(pk, out);
}

int ccstore_list(struct peer *p, ccstore_fn fn, void *ctx)
{
    char dir[PATH_MAX];
    int rc = store_dir(p, dir, sizeof dir, true);
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return STELE_ERR_IO;
    struct dirent *e;
    while (rc == STELE_OK && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        struct ccstore_entry en = {0};
        char hx[65];
        if (l != 68 || strcmp(e->d_name + 64, ".pkg") != 0)
            continue;
        memcpy(hx, e->d_name, 64);
        hx[64] = 0;
        if (hex_decode(hx, en.hash, 32) != STELE_OK)
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (read_entry(path, &en) == STELE_OK)
            rc = fn(ctx, &en);
    }
    closedir(d);
    return rc;
}

void ccstore_remove(struct peer *p, const uint8_t hash[32])
{
    char path[PATH_MAX];
    if (file_path(p, hash, "pkg", path, sizeof path) == STELE_OK)
        unlink(path);
    if (file_path(p, hash, "so", path, sizeof path) == STELE_OK)
        unlink(path);
}
