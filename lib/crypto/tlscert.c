/*
 * tlscert.c — TLS CA and node certificates (tlscert.h), built with OpenSSL 3's X.509 API.
 *
 * Every argument is checked before anything is read or generated. The subjectAltName goes to
 * OpenSSL as a configuration string ("IP:127.0.0.1,DNS:node0"), so host names are limited to
 * letters, digits, '-' and '.': nothing in them can end an entry or start another. A key and
 * its certificate are both staged as "<path>.tmp" (written and synced) before either is
 * renamed over its target, key first: a failure while writing changes neither file.
 */
#include "crypto/tlscert.h"

#include "base/status.h"
#include "base/text.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CN_MAX    64         /* RFC 5280 ub-common-name */
#define HOSTS_MAX 16         /* subjectAltName entries */
#define DNS_MAX   253        /* octets of a DNS name */
#define SKEW_S    300        /* notBefore this far back, for clocks behind ours */
#define PEM_MAX   (64 << 10) /* larger CA files are not what tlscert_ca_create() writes */
#define PATH_BUF  4096

/* Returns `s` for quoting in a message when it is a plain name (text_is_name()), else a
 * placeholder, so that a rejected argument cannot put control characters on a terminal. */
static const char *shown(const char *s)
{
    return text_is_name(s, DNS_MAX) ? s : "(empty, too long or unprintable)";
}

/* Ends with STELE_ERR_CRYPTO, naming what failed and OpenSSL's reason, and empties this
 * thread's OpenSSL error queue. */
static int ossl_fail(char **errmsg, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    int rc = stele_errf(errmsg, STELE_ERR_CRYPTO, "%s: %s", what, why ? why : "OpenSSL error");
    ERR_clear_error();
    return rc;
}

/* Checks the name and validity that both functions take. */
static int check_cn_days(const char *cn, int days, char **errmsg)
{
    bool ok = text_is_name(cn, CN_MAX);
    for (const char *p = cn; ok && *p; p++)
        ok = *p >= 0x20 && *p <= 0x7e;
    if (!ok)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "the name must be 1 to %d printable ASCII characters", CN_MAX);
    if (days < 1 || days > TLSCERT_MAX_DAYS)
        return stele_errf(errmsg, STELE_ERR_INVALID, "days must be 1 to %d, not %d",
                          TLSCERT_MAX_DAYS, days);
    return STELE_OK;
}

/* True for a DNS name: labels of 1–63 letters, digits and inner '-', joined by '.', 253
 * octets at most, the last label not all digits (so a mistyped IPv4 address is refused rather
 * than taken for a name). */
static bool dns_valid(const char *h)
{
    static const char digits[] = "0123456789";
    size_t n = strlen(h);
    if (n == 0 || n > DNS_MAX ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != n)
        return false;
    for (const char *label = h;; label++) {
        size_t len = strcspn(label, ".");
        if (len == 0 || len > 63 || label[0] == '-' || label[len - 1] == '-')
            return false;
        label += len;
        if (!*label)
            return strspn(label - len, digits) != len;
    }
}

/* Builds the subjectAltName configuration string for `hosts` into `out`. */
static int build_san(const char *const *hosts, size_t n, char *out, size_t cap, char **errmsg)
{
    if (!hosts || n < 1 || n > HOSTS_MAX)
        return stele_errf(errmsg, STELE_ERR_INVALID, "give 1 to %d hosts, not %zu", HOSTS_MAX,
                          hosts ? n : 0);
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char addr[sizeof(struct in6_addr)];
        const char *h = hosts[i], *kind;
        if (h && (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1))
            kind = "IP";
        else if (h && dns_valid(h))
            kind = "DNS";
        else
            return stele_errf(errmsg, STELE_ERR_INVALID,
                              "host \"%s\" is neither an IP address nor a DNS name", shown(h));
        /* Cannot truncate: HOSTS_MAX entries of at most DNS_MAX octets fit `cap`. */
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%s", i ? "," : "", kind, h);
    }
    return STELE_OK;
}

/* True when writing one of `a` and `b` (through its "<path>.tmp") could overwrite the other. */
static bool clash(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    struct stat sa, sb;
    if (strcmp(a, b) == 0 || (n == m + 4 && strncmp(a, b, m) == 0 && !strcmp(a + m, ".tmp")) ||
        (m == n + 4 && strncmp(a, b, n) == 0 && !strcmp(b + n, ".tmp")))
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Checks the two output paths against each other and against the `n_in` input paths. */
static int check_paths(const char *cert_out, const char *key_out, const char *const *in,
                       size_t n_in, char **errmsg)
{
    const char *out[2] = {cert_out, key_out};
    for (size_t i = 0; i < 2; i++) {
        if (!out[i] || !out[i][0] || strlen(out[i]) + sizeof ".tmp" > PATH_BUF)
            return stele_errf(errmsg, STELE_ERR_INVALID, "missing or overlong output path");
        for (size_t j = 0; j < n_in; j++)
            if (!in[j] || !in[j][0])
                return stele_errf(errmsg, STELE_ERR_INVALID, "missing CA file path");
            else if (clash(out[i], in[j]))
                return stele_errf(errmsg, STELE_ERR_INVALID,
                                  "cannot write %s: it would replace the CA file %s", out[i],
                                  in[j]);
    }
    if (clash(cert_out, key_out))
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "the certificate and the key need two different files, not %s", cert_out);
    return STELE_OK;
}

/* Sets a random positive 127-bit serial. */
static bool set_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return false;
    b[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok;
}

/* Adds extension `nid` from its configuration string `value` ("critical,..." for critical). */
static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

/* Builds and signs a certificate for `key` named `cn`, valid from SKEW_S ago for `days`. With
 * `issuer` NULL, a self-signed CA; otherwise a certificate signed by issuer_key and expiring no
 * later than `issuer`: a node's (subjectAltName `san`, server and client authentication) or,
 * with `san` NULL, a client's (client authentication only, no host). Returns NULL on failure. */
static X509 *build_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer, EVP_PKEY *issuer_key,
                        const char *san)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = x && name && X509_set_version(x, X509_VERSION_3) && set_serial(x) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                         -1, 0) &&
              X509_set_subject_name(x, name) &&
              X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_S) &&
              X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) && X509_set_pubkey(x, key);
    if (ok && issuer && ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)) > 0)
        ok = X509_set1_notAfter(x, X509_get0_notAfter(issuer));
    if (ok && !issuer)
        ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_ext(x, x, NID_subject_key_identifier, "hash");
    else if (ok)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") &&
             add_ext(x, issuer, NID_ext_key_usage, san ? "serverAuth,clientAuth" : "clientAuth") &&
             add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
             add_ext(x, issuer, NID_authority_key_identifier, "keyid") &&
             (!san || add_ext(x, issuer, NID_subject_alt_name, san));
    ok = ok && X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Writes the PEM in `pem` to "<path>.tmp" (into `tmp`), created afresh with exactly `mode`,
 * and syncs it. On failure nothing is left behind. */
static int stage(const char *path, BIO *pem, mode_t mode, char *tmp, char **errmsg)
{
    char *data = NULL;
    long len = BIO_get_mem_data(pem, &data);
    snprintf(tmp, PATH_BUF, "%s.tmp", path); /* fits: check_paths() */
    if (unlink(tmp) != 0 && errno != ENOENT)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot remove %s: %s", tmp, strerror(errno));
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    int err = fchmod(fd, mode) == 0 ? 0 : errno; /* whatever the umask */
    while (!err && len > 0) {
        ssize_t n = write(fd, data, (size_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        data += n;
        len -= n;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err)
        return STELE_OK;
    unlink(tmp);
    return stele_errf(errmsg, STELE_ERR_IO, "cannot write %s: %s", path, strerror(err));
}

/* Syncs the directory holding `path`, so that a rename in it is durable. Best effort: the
 * files are already in place, whole, when this runs. */
static void sync_parent(const char *path)
{
    char dir[PATH_BUF];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes `key` (PKCS#8, 0600) to key_path and `x` (0644) to cert_path: both staged, then the
 * key renamed into place, then the certificate. */
static int save(X509 *x, EVP_PKEY *key, const char *cert_path, const char *key_path, char **errmsg)
{
    char ktmp[PATH_BUF], ctmp[PATH_BUF];
    BIO *kpem = BIO_new(BIO_s_secmem()); /* cleared when freed */
    BIO *cpem = BIO_new(BIO_s_mem());
    int rc;
    if (!kpem || !cpem || !PEM_write_bio_PrivateKey(kpem, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cpem, x)) {
        rc = ossl_fail(errmsg, "cannot encode PEM");
        goto out;
    }
    if ((rc = stage(key_path, kpem, 0600, ktmp, errmsg)) != STELE_OK)
        goto out;
    if ((rc = stage(cert_path, cpem, 0644, ctmp, errmsg)) != STELE_OK) {
        unlink(ktmp);
        goto out;
    }
    if (rename(ktmp, key_path) != 0) {
        rc = stele_errf(errmsg, STELE_ERR_IO, "cannot replace %s: %s", key_path, strerror(errno));
        unlink(ktmp);
        unlink(ctmp);
        goto out;
    }
    if (rename(ctmp, cert_path) != 0) {
        /* Not expected once the key's rename in the same kind of place worked; say so. */
        rc = stele_errf(errmsg, STELE_ERR_IO,
                        "cannot replace %s: %s (%s already holds the new key; run again)",
                        cert_path, strerror(errno), key_path);
        unlink(ctmp);
        goto out;
    }
    sync_parent(key_path);
    sync_parent(cert_path);
out:
    BIO_free(kpem);
    BIO_free(cpem);
    return rc;
}

/* Reads the file at `path` (at most PEM_MAX octets) into a secure memory BIO, *out. */
static int read_pem(const char *path, BIO **out, char **errmsg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
                   ? stele_errf(errmsg, STELE_ERR_NOT_FOUND, "%s: no such file", path)
                   : stele_errf(errmsg, STELE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    unsigned char chunk[4096];
    size_t total = 0;
    BIO *b = BIO_new(BIO_s_secmem());
    int rc = b ? STELE_OK : stele_errf(errmsg, STELE_ERR_NOMEM, "%s: out of memory", path);
    while (rc == STELE_OK) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0)
            rc = stele_errf(errmsg, STELE_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        else if ((total += (size_t)n) > PEM_MAX)
            rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "%s: too large for a PEM file", path);
        else if (BIO_write(b, chunk, (int)n) != n)
            rc = stele_errf(errmsg, STELE_ERR_NOMEM, "%s: out of memory", path);
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    close(fd);
    if (rc != STELE_OK)
        BIO_free(b);
    else
        *out = b;
    return rc;
}

/* Refuses to prompt for a passphrase: an encrypted key fails to load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

/* Loads a CA's certificate and key and checks that they belong together, that the certificate
 * is a CA's and that it has not expired. The caller frees *cert and *key, whatever happens. */
static int load_ca(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key,
                   char **errmsg)
{
    BIO *b = NULL;
    int rc = read_pem(cert_path, &b, errmsg);
    if (rc != STELE_OK)
        return rc;
    *cert = PEM_read_bio_X509(b, NULL, no_password, NULL);
    BIO_free(b);
    if (!*cert)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "%s: not a PEM certificate", cert_path);
    if ((rc = read_pem(key_path, &b, errmsg)) != STELE_OK)
        return rc;
    *key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
    BIO_free(b);
    if (!*key)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "%s: not an unencrypted PEM private key",
                          key_path);
    if (X509_check_private_key(*cert, *key) != 1)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "%s is not the key of the certificate %s",
                          key_path, cert_path);
    if (X509_check_ca(*cert) == 0)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "%s: not a CA certificate", cert_path);
    int cmp = X509_cmp_current_time(X509_get0_notAfter(*cert));
    struct tm tm;
    char when[32] = "?";
    if (cmp == 0)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "%s: unreadable expiry date", cert_path);
    if (cmp < 0 && ASN1_TIME_to_tm(X509_get0_notAfter(*cert), &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (cmp < 0)
        return stele_errf(errmsg, STELE_ERR_EXPIRED, "%s: the CA expired on %s", cert_path, when);
    return STELE_OK;
}

int tlscert_ca_create(const char *cert_path, const char *key_path, const char *cn, int days,
                      char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    int rc = check_cn_days(cn, days, errmsg);
    if (rc == STELE_OK)
        rc = check_paths(cert_path, key_path, NULL, 0, errmsg);
    if (rc != STELE_OK)
        return rc;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = key ? build_cert(key, cn, days, NULL, NULL, NULL) : NULL;
    rc = x ? save(x, key, cert_path, key_path, errmsg)
           : ossl_fail(errmsg, "cannot make the CA certificate");
    X509_free(x);
    EVP_PKEY_free(key); /* clears the private scalar */
    return rc;
}

/* Issues a certificate from the CA in ca_cert/ca_key: a node's with subjectAltName `san`, or
 * a client's with `san` NULL (see build_cert()). Arguments other than the CA files are
 * checked by the caller. */
static int issue(const char *ca_cert, const char *ca_key, const char *cn, const char *san, int days,
                 const char *cert_out, const char *key_out, char **errmsg)
{
    const char *in[2] = {ca_cert, ca_key};
    int rc = check_paths(cert_out, key_out, in, 2, errmsg);
    if (rc != STELE_OK)
        return rc;
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *ca_pkey = NULL, *key = NULL;
    rc = load_ca(ca_cert, ca_key, &ca, &ca_pkey, errmsg);
    if (rc == STELE_OK) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        x = key ? build_cert(key, cn, days, ca, ca_pkey, san) : NULL;
        rc = x ? save(x, key, cert_out, key_out, errmsg)
               : ossl_fail(errmsg, "cannot make the certificate");
    }
    ERR_clear_error(); /* a decoder's complaints about a bad CA file */
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_pkey);
    return rc;
}

int tlscert_issue(const char *ca_cert, const char *ca_key, const char *cn, const char *const *hosts,
                  size_t n_hosts, int days, const char *cert_out, const char *key_out,
                  char **errmsg)
{
    char san[HOSTS_MAX * (DNS_MAX + sizeof ",DNS:")];
    if (errmsg)
        *errmsg = NULL;
    int rc = check_cn_days(cn, days, errmsg);
    if (rc == STELE_OK)
        rc = build_san(hosts, n_hosts, san, sizeof san, errmsg);
    if (rc == STELE_OK)
        rc = issue(ca_cert, ca_key, cn, san, days, cert_out, key_out, errmsg);
    return rc;
}

int tlscert_issue_client(const char *ca_cert, const char *ca_key, const char *cn, int days,
                         const char *cert_out, const char *key_out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    int rc = check_cn_days(cn, days, errmsg);
    if (rc == STELE_OK)
        rc = issue(ca_cert, ca_key, cn, NULL, days, cert_out, key_out, errmsg);
    return rc;
}
