/*
 * enrolment.h — an enrolled identity's directory (DESIGN §4.1): key.pem (the ECQV private key
 * d_U, PKCS#8 PEM, 0600), cert (the 78-octet CertU), identity (the CA-signed record) and ca.pub
 * (the CA's public key, SEC 1). Every client program loads its identity with enrolment_load().
 */
#ifndef STELE_IDENTITY_ENROLMENT_H
#define STELE_IDENTITY_ENROLMENT_H

#include "base/buf.h"
#include "crypto/ecqv.h"
#include "crypto/key.h"

#include <stdbool.h>
#include <stdint.h>

/* A loaded enrolment directory. Caller-owned; enrolment_release() frees what it holds. */
struct enrolment {
    struct crypto_key *key;      /* d_U with its public point (one reference) */
    struct crypto_key *ca_pub;   /* Q_CA (one reference) */
    uint8_t cert[ECQV_CERT_LEN]; /* CertU */
    struct buf identity;         /* serialized Identity */
};

/* Loads DIR/key.pem, DIR/cert, DIR/identity and DIR/ca.pub, and checks that the key's public
 * point equals the ECQV extraction from cert and ca.pub. A save a crash interrupted is first
 * finished (its new files had all been written) or undone (they had not): see enrolment.c.
 * Returns STELE_OK, STELE_ERR_NOT_FOUND
 * or STELE_ERR_IO (missing or unreadable file), STELE_ERR_MALFORMED (a file is not what it
 * should be) or STELE_ERR_AUTH (key and certificate do not match), with *errmsg (may be NULL)
 * a malloc'd reason naming the file. `out` is zeroed on error. */
int enrolment_load(const char *dir, struct enrolment *out, char **errmsg);

/* Makes `dir` ready to receive an enrolment before anything is asked of a CA: creates it and
 * any missing parents (mode 0700), checks it is writable, and refuses (STELE_ERR_EXISTS) a
 * directory that already holds an enrolment unless `replace`. Returns STELE_OK or an error with
 * *errmsg (malloc'd, may be NULL). */
int enrolment_prepare_dir(const char *dir, bool replace, char **errmsg);

/* Writes the four files into `dir` (created 0700 if absent): key.pem 0600, the others 0644,
 * replacing an enrolment there as one step: a crash leaves the old enrolment or the new one,
 * never a mix (enrolment_load() finishes or undoes an interrupted save). Returns STELE_OK or
 * STELE_ERR_IO with *errmsg set. */
int enrolment_save(const char *dir, const struct crypto_key *key, const uint8_t *cert,
                   const uint8_t *identity, size_t identity_len, const struct crypto_key *ca_pub,
                   char **errmsg);

/* Frees the keys and buffer. Accepts a zeroed struct. */
void enrolment_release(struct enrolment *e);

/* Reads a whole file (at most `max` octets) into `out` (appended). Returns STELE_OK,
 * STELE_ERR_NOT_FOUND (absent, or a path through a file), STELE_ERR_PERMISSION (not
 * readable by this user), STELE_ERR_IO or STELE_ERR_TOO_BIG. */
int enrolment_read_file(const char *path, size_t max, struct buf *out);

/* Writes `len` octets to `path` with `mode` via a temporary file and rename, fsync'ed. Returns
 * STELE_OK or STELE_ERR_IO. */
int enrolment_write_file(const char *path, const void *data, size_t len, int mode);

/* enrolment_write_file() through a temporary name of its own (mkstemp) instead of
 * "<path>.tmp": for files several writers may write at once, and where a crash must leave
 * nothing in the next writer's way (a read-only "<path>.tmp" would). Returns the same. */
int enrolment_write_file_unique(const char *path, const void *data, size_t len, int mode);

#endif
