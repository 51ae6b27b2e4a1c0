/* caclient.c — client side of the stele.CA protocol. */
#include "identity/caclient.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/key.h"
#include "pb/pb.h"
#include "stele/ca.pb-c.h"
#include "stele/identity.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void caclient_enrolled_release(struct caclient_enrolled *en)
{
    crypto_key_destroy(en->key);
    crypto_key_destroy(en->ca_pub);
    buf_release(&en->identity);
    arena_destroy(en->arena);
    memset(en, 0, sizeof *en);
}

/* Checks an EnrollResponse against k_U and fills *out. */
static int accept(const struct crypto_key *k_u, const Stele__EnrollResponse *r,
                  const struct crypto_key *pin, struct caclient_enrolled *out, char **errmsg)
{
    struct msp *msp = NULL;
    char *err = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (!(out->arena = arena_create(0)))
        return stele_errf(errmsg, STELE_ERR_NOMEM, "out of memory");
    if (crypto_key_from_public(r->ca_public_key.data, r->ca_public_key.len, &out->ca_pub) !=
        STELE_OK) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "the CA sent an invalid public key");
        goto out;
    }
    if (pin && !crypto_key_public_equal(pin, out->ca_pub)) {
        rc = stele_errf(errmsg, STELE_ERR_AUTH, "the CA's public key is not the expected one");
        goto out;
    }
    if (r->cert.len != ECQV_CERT_LEN || r->r.len != 32 ||
        ecqv_reception(k_u, r->cert.data, r->cert.len, r->r.data, out->ca_pub, &out->key) !=
            STELE_OK) {
        rc = stele_errf(errmsg, STELE_ERR_AUTH,
                        "ECQV reception failed: the certificate does not yield a key pair "
                        "(d_U·G != e·P_U + Q_CA)");
        goto out;
    }
    memcpy(out->cert, r->cert.data, ECQV_CERT_LEN);
    out->ca_id = r->ca_id;
    msp = msp_create(16);
    if (!msp || msp_add_ca(msp, NULL, r->ca_id, out->ca_pub) != STELE_OK) {
        rc = stele_errf(errmsg, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = identity_verify(msp, out->arena, r->identity.data, r->identity.len, clock_wall_s(),
                         &out->id, &err);
    if (rc != STELE_OK) {
        rc = stele_errf(errmsg, STELE_ERR_AUTH, "the identity record does not verify: %s",
                        err ? err : stele_strerror(rc));
        goto out;
    }
    if (memcmp(out->id.cert, r->cert.data, ECQV_CERT_LEN) != 0) {
        rc = stele_errf(errmsg, STELE_ERR_AUTH, "the identity record is for another certificate");
        goto out;
    }
    if ((rc = buf_append(&out->identity, r->identity.data, r->identity.len)) != STELE_OK)
        stele_errf(errmsg, rc, "out of memory");
out:
    free(err);
    msp_destroy(msp);
    if (rc != STELE_OK)
        caclient_enrolled_release(out);
    return rc;
}

int caclient_enroll(struct rpc_channel *ch, const char *id, const char *secret,
                    const struct crypto_key *pin, struct caclient_enrolled *out,
                    struct rpc_result *res, char **errmsg)
{
    struct crypto_key *k_u = NULL;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN];
    ProtobufCMessage *resp = NULL;
    if (errmsg)
        *errmsg = NULL;
    memset(out, 0, sizeof *out);
    int rc = ecqv_request(&k_u, r_u);
    if (rc != STELE_OK)
        return stele_errf(errmsg, rc, "cannot make a key");
    Stele__EnrollRequest req = STELE__ENROLL_REQUEST__INIT;
    req.id = (char *)id;
    req.secret = (char *)secret;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    rc = rpc_unary(ch, "/stele.CA/Enroll", &req.base, &stele__enroll_response__descriptor, &resp, 0,
                   res);
    if (rc == STELE_OK)
        rc = accept(k_u, (Stele__EnrollResponse *)resp, pin, out, errmsg);
    pb_free(resp);
    crypto_key_destroy(k_u);
    return rc;
}

/* dir/reenroll-<hex certhash of `cert`>.pem into out[n]: the pending key request of a
 * reenrolment signed by that certificate. STELE_OK or STELE_ERR_INVALID (too long). */
static int pending_path(const char *dir, const uint8_t cert[ECQV_CERT_LEN], char *out, size_t n)
{
    uint8_t h[32];
    char hx[65];
    if (ecqv_certhash(cert, ECQV_CERT_LEN, h) != STELE_OK)
        return STELE_ERR_INVALID;
    hex_encode(h, sizeof h, hx);
    return snprintf(out, n, "%s/reenroll-%s.pem", dir, hx) < (int)n ? STELE_OK : STELE_ERR_INVALID;
}

/* Puts k_U at `path` if nothing is there yet: written to a file of its own (mkstemp), synced,
 * then linked into place (link() refuses an existing name); where the file system has no hard
 * links, created in place with O_EXCL. STELE_OK, STELE_ERR_EXISTS (another run's key is
 * there) or STELE_ERR_IO. */
static int keep_key(const char *path, const struct crypto_key *k_u)
{
    char tmp[PATH_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return STELE_ERR_INVALID;
    int fd = mkstemp(tmp), rc;
    if (fd < 0)
        return STELE_ERR_IO;
    rc = fchmod(fd, 0600) == 0 ? crypto_key_write_pem(k_u, fd) : STELE_ERR_IO;
    if (close(fd) != 0 && rc == STELE_OK)
        rc = STELE_ERR_IO;
    bool no_links = false;
    if (rc == STELE_OK && link(tmp, path) != 0) {
        no_links = errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP;
        rc = errno == EEXIST ? STELE_ERR_EXISTS : STELE_ERR_IO;
    }
    unlink(tmp);
    if (!no_links)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? STELE_ERR_EXISTS : STELE_ERR_IO;
    rc = crypto_key_write_pem(k_u, fd);
    if (close(fd) != 0 && rc == STELE_OK)
        rc = STELE_ERR_IO;
    if (rc != STELE_OK)
        unlink(path); /* never a half-written key that a retry would read */
    return rc;
}

/* Makes `path` hold a new key request, or finds the one another run put there first, and
 * syncs the directory before the request may be sent. */
static int pending_create(const char *dir, const char *path, struct crypto_key **k_u,
                          uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN])
{
    int rc = ecqv_request(k_u, r_u);
    if (rc != STELE_OK)
        return rc;
    rc = keep_key(path, *k_u);
    if (rc == STELE_ERR_EXISTS) { /* another run's request: ask with it */
        crypto_key_destroy(*k_u);
        *k_u = NULL;
        if ((rc = crypto_key_load_pem(path, k_u)) == STELE_OK)
            crypto_key_public_compressed(*k_u, r_u);
    }
    int fd = rc == STELE_OK ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rc == STELE_OK && (fd < 0 || fsync(fd) != 0))
        rc = STELE_ERR_IO;
    if (fd >= 0)
        close(fd);
    if (rc != STELE_OK) {
        crypto_key_destroy(*k_u);
        *k_u = NULL;
    }
    return rc;
}

/* The key request of a reenrolment signed by e's certificate: k_U kept in `dir` (may be NULL:
 * none kept) from an attempt whose answer never came, or a new one, kept there before it is
 * sent. */
static int reenroll_request(const char *dir, const struct enrolment *e, struct crypto_key **k_u,
                            uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN], char **errmsg)
{
    char path[PATH_MAX];
    if (!dir) {
        int rc = ecqv_request(k_u, r_u);
        return rc ? stele_errf(errmsg, rc, "cannot make a key") : STELE_OK;
    }
    if (pending_path(dir, e->cert, path, sizeof path) != STELE_OK)
        return stele_errf(errmsg, STELE_ERR_INVALID, "%s: the path is too long", dir);
    int rc = crypto_key_load_pem(path, k_u);
    if (rc == STELE_OK) {
        crypto_key_public_compressed(*k_u, r_u);
        return STELE_OK;
    }
    if (rc != STELE_ERR_NOT_FOUND)
        return stele_errf(errmsg, rc, "cannot read the pending reenrolment key %s", path);
    if ((rc = pending_create(dir, path, k_u, r_u)) != STELE_OK)
        return stele_errf(errmsg, rc, "cannot keep the reenrolment key in %s: %s", dir,
                          stele_strerror(rc));
    return STELE_OK;
}

int caclient_reenroll(struct rpc_channel *ch, const struct enrolment *e, const char *pending_dir,
                      struct caclient_enrolled *out, struct rpc_result *res, char **errmsg)
{
    struct crypto_key *k_u = NULL;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN];
    ProtobufCMessage *resp = NULL;
    if (errmsg)
        *errmsg = NULL;
    memset(out, 0, sizeof *out);
    int rc = reenroll_request(pending_dir, e, &k_u, r_u, errmsg);
    if (rc != STELE_OK)
        return rc;
    Stele__ReenrollRequest req = STELE__REENROLL_REQUEST__INIT;
    req.r_u.data = r_u;
    req.r_u.len = sizeof r_u;
    rc = caclient_signed_call(ch, e, "/stele.CA/Reenroll", &req.base,
                              &stele__enroll_response__descriptor, &resp, res);
    if (rc == STELE_OK)
        rc = accept(k_u, (Stele__EnrollResponse *)resp, e->ca_pub, out, errmsg);
    pb_free(resp);
    crypto_key_destroy(k_u);
    return rc;
}

int caclient_reenroll_done(const char *pending_dir, const struct enrolment *e)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (pending_path(pending_dir, e->cert, path, sizeof path) != STELE_OK)
        return STELE_ERR_INVALID;
    const char *base = strrchr(path, '/') + 1;
    size_t bn = strlen(base), left = 0;
    /* the kept key, and what a crash left of its making (BASE.XXXXXX) */
    if (unlink(path) != 0 && errno != ENOENT)
        left++;
    DIR *d = opendir(pending_dir);
    if (!d)
        return left ? STELE_ERR_IO : STELE_OK;
    for (struct dirent *de; (de = readdir(d));)
        if (strncmp(de->d_name, base, bn) == 0 && de->d_name[bn] == '.' &&
            snprintf(tmp, sizeof tmp, "%s/%s", pending_dir, de->d_name) < (int)sizeof tmp &&
            unlink(tmp) != 0 && errno != ENOENT)
            left++;
    closedir(d);
    return left ? STELE_ERR_IO : STELE_OK;
}

int caclient_save(const struct caclient_enrolled *en, const char *dir, char **errmsg)
{
    return enrolment_save(dir, en->key, en->cert, en->identity.data, en->identity.len, en->ca_pub,
                          errmsg);
}

int caclient_signed_call(struct rpc_channel *ch, const struct enrolment *e, const char *method,
                         const ProtobufCMessage *body, const ProtobufCMessageDescriptor *resp_desc,
                         ProtobufCMessage **resp, struct rpc_result *res)
{
    struct buf b = {0}, request = {0};
    uint8_t sig[CRYPTO_SIG_LEN];
    int rc = pb_pack_buf(body, &b);
    if (rc == STELE_OK)
        rc = signed_request_create(e->key, e->identity.data, e->identity.len, method, b.data, b.len,
                                   clock_wall_ms(), &request, sig);
    if (rc == STELE_OK) {
        Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
        sr.request.data = request.data;
        sr.request.len = request.len;
        sr.signature.data = sig;
        sr.signature.len = sizeof sig;
        rc = rpc_unary(ch, method, &sr.base, resp_desc, resp, 0, res);
    } else if (res) {
        res->code = RPC_INTERNAL;
        snprintf(res->detail, sizeof res->detail, "cannot sign the request");
    }
    buf_release(&b);
    buf_release(&request);
    return rc;
}
