/*
 * enrolment.c — load and save an enrolled identity's directory.
 *
 * Replacing an enrolment (reenrol in place) must never leave key.pem from one certificate next
 * to the cert of another: the CA has already superseded the old certificate, so a mixed
 * directory would lose the identity. enrolment_save() therefore writes the four files as
 * NAME.new first, then the mark `enrolment.commit`, then renames each over NAME and removes the
 * mark. enrolment_load() finishes what a crash interrupted: with the mark, or with four .new
 * files that hold a consistent enrolment, it completes the renames; otherwise it removes the
 * .new files of a save that had not finished writing them (the old enrolment is intact). Saves
 * and recoveries lock the directory (flock), so a program loading it never undoes a save that
 * another is making. Where the directory cannot be written, a whole enrolment in place is used
 * as it is, with a warning.
 */
#include "identity/enrolment.h"

#include "base/log.h"
#include "base/status.h"
#include "identity/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int enrolment_read_file(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) /* "/etc/passwd/identity" is not there either (ENOTDIR) */
        return errno == ENOENT || errno == ENOTDIR ? STELE_ERR_NOT_FOUND
               : errno == EACCES || errno == EPERM ? STELE_ERR_PERMISSION
                                                   : STELE_ERR_IO;
    int rc = STELE_OK;
    uint8_t chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errno == EISDIR ? STELE_ERR_INVALID : STELE_ERR_IO; /* a directory: a refusal */
            break;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > max) {
            rc = STELE_ERR_TOO_BIG;
            break;
        }
        if ((rc = buf_append(out, chunk, (size_t)n)) != STELE_OK)
            break;
    }
    close(fd);
    return rc;
}

/* Writes `len` octets to `fd`, gives it `mode` and syncs it. Returns STELE_OK or STELE_ERR_IO;
 * closes `fd` either way. */
static int write_sync_close(int fd, const void *data, size_t len, int mode)
{
    const uint8_t *p = data;
    size_t left = len;
    int rc = fchmod(fd, (mode_t)mode) == 0 ? STELE_OK : STELE_ERR_IO;
    while (rc == STELE_OK && left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = STELE_ERR_IO;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (rc == STELE_OK && fsync(fd) != 0)
        rc = STELE_ERR_IO;
    if (close(fd) != 0)
        rc = STELE_ERR_IO;
    return rc;
}

/* Renames the written `tmp` over `path`, or removes it when `rc` says the write failed. */
static int commit_tmp(const char *tmp, const char *path, int rc)
{
    if (rc == STELE_OK && rename(tmp, path) != 0)
        rc = STELE_ERR_IO;
    if (rc != STELE_OK)
        unlink(tmp);
    return rc;
}

int enrolment_write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return STELE_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return STELE_ERR_IO;
    return commit_tmp(tmp, path, write_sync_close(fd, data, len, mode));
}

int enrolment_write_file_unique(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) /* mkstemp's template */
        return STELE_ERR_IO;
    int fd = mkstemp(tmp); /* 0600 until written, a name no other writer uses */
    if (fd < 0)
        return STELE_ERR_IO;
    return commit_tmp(tmp, path, write_sync_close(fd, data, len, mode));
}

#define STAGED ".new"
#define MARK   "enrolment.commit"

static const char *const enrolment_files[] = {"key.pem", "cert", "identity", "ca.pub"};
#define N_FILES (sizeof enrolment_files / sizeof enrolment_files[0])

/* Makes the directory's entries durable; `dfd` is the descriptor lock_dir() holds. */
static int sync_dir(int dfd)
{
    return fsync(dfd) == 0 ? STELE_OK : STELE_ERR_IO;
}

/* Renames every staged file over its name, then removes the mark. Returns STELE_OK or
 * STELE_ERR_IO with *errmsg. */
static int roll_forward(const char *dir, int dfd, char **errmsg)
{
    char from[4096], to[4096];
    for (size_t i = 0; i < N_FILES; i++) {
        snprintf(from, sizeof from, "%s/%s" STAGED, dir, enrolment_files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, enrolment_files[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            return stele_errf(errmsg, STELE_ERR_IO, "cannot rename %s to %s: %s", from, to,
                              strerror(errno));
    }
    snprintf(to, sizeof to, "%s/" MARK, dir);
    if (sync_dir(dfd) != STELE_OK || (unlink(to) != 0 && errno != ENOENT) ||
        sync_dir(dfd) != STELE_OK)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot complete the enrolment in %s: %s", dir,
                          strerror(errno));
    return STELE_OK;
}

static bool exists(const char *dir, const char *name, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    return access(path, F_OK) == 0;
}

static int load_files(const char *dir, const char *suffix, struct enrolment *out, char **errmsg);

/* Locks `dir` against other saves and recoveries (flock on the directory itself, which needs
 * no write permission). Returns the descriptor (for sync_dir(), then unlock_dir()), or -1. */
static int lock_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* Whether a save left anything behind (checked without the lock). */
static bool leftovers(const char *dir)
{
    for (size_t i = 0; i < N_FILES; i++)
        if (exists(dir, enrolment_files[i], STAGED))
            return true;
    return exists(dir, MARK, "");
}

/* Finishes a save that a crash interrupted (see the top of this file). The caller holds the
 * directory's lock, so no save is under way. */
static int recover_locked(const char *dir, int dfd, char **errmsg)
{
    size_t staged = 0;
    for (size_t i = 0; i < N_FILES; i++)
        staged += exists(dir, enrolment_files[i], STAGED);
    bool marked = exists(dir, MARK, "");
    if (!marked && staged == 0)
        return STELE_OK;
    if (!marked && staged == N_FILES) {
        struct enrolment e;
        int rc = load_files(dir, STAGED, &e, errmsg);
        if (rc == STELE_OK) {
            enrolment_release(&e);
            char mark[4096];
            snprintf(mark, sizeof mark, "%s/" MARK, dir);
            if (enrolment_write_file(mark, "", 0, 0600) != STELE_OK || sync_dir(dfd) != STELE_OK)
                return stele_errf(errmsg, STELE_ERR_IO, "cannot complete the enrolment in %s", dir);
            marked = true;
        } else if (rc != STELE_ERR_MALFORMED && rc != STELE_ERR_AUTH) {
            return rc; /* cannot tell (unreadable): keep them */
        }
        if (errmsg) { /* not a whole enrolment: undone below */
            free(*errmsg);
            *errmsg = NULL;
        }
    }
    if (marked)
        return roll_forward(dir, dfd, errmsg);
    /* a save that had not finished writing: the enrolment in place is whole */
    char path[4096];
    for (size_t i = 0; i < N_FILES; i++) {
        snprintf(path, sizeof path, "%s/%s" STAGED, dir, enrolment_files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            return stele_errf(errmsg, STELE_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        snprintf(path, sizeof path, "%s/%s" STAGED ".tmp", dir, enrolment_files[i]);
        unlink(path);
    }
    return STELE_OK;
}

static int read_named(const char *dir, const char *name, const char *suffix, size_t max,
                      struct buf *out, char **errmsg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
    int rc = enrolment_read_file(path, max, out);
    if (rc != STELE_OK)
        return stele_errf(errmsg, rc, "%s: %s", path, stele_strerror(rc));
    return STELE_OK;
}

int enrolment_load(const char *dir, struct enrolment *out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    memset(out, 0, sizeof *out);
    if (!leftovers(dir))
        return load_files(dir, "", out, errmsg);
    char *why = NULL;
    int fd = lock_dir(dir);
    int rc = fd < 0 ? stele_errf(&why, STELE_ERR_IO, "cannot lock %s: %s", dir, strerror(errno))
                    : recover_locked(dir, fd, &why);
    unlock_dir(fd);
    if (rc == STELE_OK) {
        free(why);
        return load_files(dir, "", out, errmsg);
    }
    /* say so, and use what is in place if it is whole (a read-only directory, say) */
    if (load_files(dir, "", out, NULL) == STELE_OK) {
        log_warn("identity", "%s: an interrupted enrolment was left as it is: %s", dir,
                 why ? why : stele_strerror(rc));
        free(why);
        return STELE_OK;
    }
    if (errmsg)
        *errmsg = why;
    else
        free(why);
    return rc;
}

/* Loads the four files, each named with `suffix`, and checks they belong together. */
static int load_files(const char *dir, const char *suffix, struct enrolment *out, char **errmsg)
{
    memset(out, 0, sizeof *out);
    struct buf cert = {0}, pub = {0};
    struct crypto_key *q = NULL;
    char path[4096];
    int rc = read_named(dir, "cert", suffix, 1024, &cert, errmsg);
    if (rc == STELE_OK && ecqv_cert_decode(cert.data, cert.len, &(struct ecqv_cert){0}) != 0)
        rc =
            stele_errf(errmsg, STELE_ERR_MALFORMED, "%s/cert%s: not a 78-octet CertU", dir, suffix);
    if (rc == STELE_OK)
        rc = read_named(dir, "ca.pub", suffix, 1024, &pub, errmsg);
    if (rc == STELE_OK && crypto_key_from_public(pub.data, pub.len, &out->ca_pub) != STELE_OK)
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "%s/ca.pub%s: not a SEC 1 P-256 point", dir,
                        suffix);
    if (rc == STELE_OK)
        rc = read_named(dir, "identity", suffix, IDENTITY_MAX_LEN, &out->identity, errmsg);
    if (rc == STELE_OK) {
        snprintf(path, sizeof path, "%s/key.pem%s", dir, suffix);
        rc = crypto_key_load_pem(path, &out->key);
        if (rc != STELE_OK)
            rc = stele_errf(errmsg, rc, "%s: %s", path, stele_strerror(rc));
    }
    if (rc == STELE_OK) {
        memcpy(out->cert, cert.data, ECQV_CERT_LEN);
        rc = ecqv_extract(out->cert, ECQV_CERT_LEN, out->ca_pub, &q);
        if (rc != STELE_OK || !crypto_key_public_equal(q, out->key))
            rc = stele_errf(errmsg, STELE_ERR_AUTH,
                            "%s: key.pem%s does not match cert%s and ca.pub%s", dir, suffix, suffix,
                            suffix);
    }
    crypto_key_destroy(q);
    buf_release(&cert);
    buf_release(&pub);
    if (rc != STELE_OK)
        enrolment_release(out);
    return rc;
}

int enrolment_prepare_dir(const char *dir, bool replace, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    char path[4096];
    if (!dir || !*dir || strlen(dir) >= sizeof path - 16)
        return stele_errf(errmsg, STELE_ERR_INVALID, "invalid output directory");
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) { /* mkdir -p */
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    if (access(dir, W_OK | X_OK) != 0)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot write into %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/key.pem", dir);
    if (!replace && access(path, F_OK) == 0)
        return stele_errf(errmsg, STELE_ERR_EXISTS,
                          "%s already holds an enrolment; choose another directory", dir);
    return STELE_OK;
}

static int save_locked(const char *dir, int dfd, const struct crypto_key *key, const uint8_t *cert,
                       const uint8_t *identity, size_t identity_len,
                       const struct crypto_key *ca_pub, char **errmsg);

int enrolment_save(const char *dir, const struct crypto_key *key, const uint8_t *cert,
                   const uint8_t *identity, size_t identity_len, const struct crypto_key *ca_pub,
                   char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    int lock = lock_dir(dir); /* one save or recovery at a time */
    if (lock < 0)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot lock %s: %s", dir, strerror(errno));
    int rc = save_locked(dir, lock, key, cert, identity, identity_len, ca_pub, errmsg);
    unlock_dir(lock);
    return rc;
}

static int save_locked(const char *dir, int dfd, const struct crypto_key *key, const uint8_t *cert,
                       const uint8_t *identity, size_t identity_len,
                       const struct crypto_key *ca_pub, char **errmsg)
{
    char path[4096];
    int rc = recover_locked(dir, dfd, errmsg); /* an earlier save's leftovers go first */
    if (rc != STELE_OK)
        return rc;
    snprintf(path, sizeof path, "%s/key.pem" STAGED, dir);
    if ((rc = crypto_key_save_pem(key, path)) != STELE_OK)
        return stele_errf(errmsg, rc, "cannot write %s", path);
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    crypto_key_public_compressed(ca_pub, pub);
    struct {
        const char *name;
        const void *data;
        size_t len;
    } files[] = {{"cert", cert, ECQV_CERT_LEN},
                 {"identity", identity, identity_len},
                 {"ca.pub", pub, sizeof pub}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s" STAGED, dir, files[i].name);
        if (enrolment_write_file(path, files[i].data, files[i].len, 0644) != STELE_OK)
            return stele_errf(errmsg, STELE_ERR_IO, "cannot write %s", path);
    }
    /* the commit point: from here on a crash is finished forward by enrolment_load() */
    snprintf(path, sizeof path, "%s/" MARK, dir);
    if (sync_dir(dfd) != STELE_OK || enrolment_write_file(path, "", 0, 0600) != STELE_OK ||
        sync_dir(dfd) != STELE_OK)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot write %s", path);
    return roll_forward(dir, dfd, errmsg);
}

void enrolment_release(struct enrolment *e)
{
    crypto_key_destroy(e->key);
    crypto_key_destroy(e->ca_pub);
    buf_release(&e->identity);
    memset(e, 0, sizeof *e);
}
