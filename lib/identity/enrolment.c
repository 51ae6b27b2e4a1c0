/* enrolment.c — load and save an enrolled identity's directory. */
#include "identity/enrolment.h"

#include "base/status.h"
#include "identity/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int enrolment_read_file(const char *path, size_t max, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? STELE_ERR_NOT_FOUND : STELE_ERR_IO;
    int rc = STELE_OK;
    uint8_t chunk[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = STELE_ERR_IO;
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

int enrolment_write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return STELE_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return STELE_ERR_IO;
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
    if (rc == STELE_OK && rename(tmp, path) != 0)
        rc = STELE_ERR_IO;
    if (rc != STELE_OK)
        unlink(tmp);
    return rc;
}

static int read_named(const char *dir, const char *name, size_t max, struct buf *out, char **errmsg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
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
    struct buf cert = {0}, pub = {0};
    struct crypto_key *q = NULL;
    char path[4096];
    int rc = read_named(dir, "cert", 1024, &cert, errmsg);
    if (rc == STELE_OK && ecqv_cert_decode(cert.data, cert.len, &(struct ecqv_cert){0}) != 0)
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "%s/cert: not a 78-octet CertU", dir);
    if (rc == STELE_OK)
        rc = read_named(dir, "ca.pub", 1024, &pub, errmsg);
    if (rc == STELE_OK && crypto_key_from_public(pub.data, pub.len, &out->ca_pub) != STELE_OK)
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "%s/ca.pub: not a SEC 1 P-256 point", dir);
    if (rc == STELE_OK)
        rc = read_named(dir, "identity", IDENTITY_MAX_LEN, &out->identity, errmsg);
    if (rc == STELE_OK) {
        snprintf(path, sizeof path, "%s/key.pem", dir);
        rc = crypto_key_load_pem(path, &out->key);
        if (rc != STELE_OK)
            rc = stele_errf(errmsg, rc, "%s: %s", path, stele_strerror(rc));
    }
    if (rc == STELE_OK) {
        memcpy(out->cert, cert.data, ECQV_CERT_LEN);
        rc = ecqv_extract(out->cert, ECQV_CERT_LEN, out->ca_pub, &q);
        if (rc != STELE_OK || !crypto_key_public_equal(q, out->key))
            rc = stele_errf(errmsg, STELE_ERR_AUTH, "%s: key.pem does not match cert and ca.pub",
                            dir);
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

int enrolment_save(const char *dir, const struct crypto_key *key, const uint8_t *cert,
                   const uint8_t *identity, size_t identity_len, const struct crypto_key *ca_pub,
                   char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    char path[4096];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/key.pem", dir);
    int rc = crypto_key_save_pem(key, path);
    if (rc != STELE_OK)
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
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (enrolment_write_file(path, files[i].data, files[i].len, 0644) != STELE_OK)
            return stele_errf(errmsg, STELE_ERR_IO, "cannot write %s", path);
    }
    return STELE_OK;
}

void enrolment_release(struct enrolment *e)
{
    crypto_key_destroy(e->key);
    crypto_key_destroy(e->ca_pub);
    buf_release(&e->identity);
    memset(e, 0, sizeof *e);
}
