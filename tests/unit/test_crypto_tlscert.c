/*
 * test_crypto_tlscert.c — the TLS CA and node certificates of lib/crypto/tlscert.h: a CA and
 * a node certificate verify (strict X.509, SSL server and client purposes) against a store
 * holding only the CA, with the hosts as IP and DNS subjectAltNames and the files' modes fixed;
 * a node certificate of another CA does not; bad arguments and bad CA files are refused with
 * the documented status and nothing written; a node certificate never outlives its CA;
 * reissuing replaces both files, and a failed write leaves them as they were; and a real TLS
 * call (server-only and mutual) to lib/rpc with the files, refused when trusting another CA.
 */
#include "testutil.h"
#include "tls_fixture.h"

#include "base/status.h"
#include "crypto/tlscert.h"
#include "rpc/rpc.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;

static const char *const local_hosts[] = {"127.0.0.1", "localhost", "::1", "node0.example.org"};
#define N_LOCAL (sizeof local_hosts / sizeof local_hosts[0])

/* Paths of the files most tests use, set by setup(). */
static char ca_crt[512], ca_key[512], leaf_crt[512], leaf_key[512], new_crt[512], new_key[512];

/* A path in the test's directory (a few buffers in rotation: use at once, do not keep). */
static const char *p(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* Makes the CA "ca" and a second CA "other", each as NAME.crt and NAME.key. */
static int setup(void **state)
{
    (void)state;
    dir = test_tmpdir("tlscert");
    snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", dir);
    snprintf(leaf_crt, sizeof leaf_crt, "%s/leaf.crt", dir);
    snprintf(leaf_key, sizeof leaf_key, "%s/leaf.key", dir);
    snprintf(new_crt, sizeof new_crt, "%s/new.crt", dir);
    snprintf(new_key, sizeof new_key, "%s/new.key", dir);
    char *err = NULL;
    if (tlscert_ca_create(ca_crt, ca_key, "stele-tls-ca", 825, &err) != STELE_OK ||
        tlscert_ca_create(p("other.crt"), p("other.key"), "other-ca", 825, &err) != STELE_OK) {
        fprintf(stderr, "setup: %s\n", err ? err : "?");
        free(err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmtree(dir);
    free(dir);
    return 0;
}

static X509 *load_cert(const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    assert_non_null(b);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

/* Verifies `leaf` against a store holding only `ca`, strictly, for `purpose`. Returns the
 * X509_V_* result. */
static int verify(const char *ca, const char *leaf, int purpose)
{
    X509 *c = load_cert(ca), *l = load_cert(leaf);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_true(store && ctx && X509_STORE_add_cert(store, c));
    assert_int_equal(X509_STORE_CTX_init(ctx, store, l, NULL), 1);
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
    int ok = X509_verify_cert(ctx);
    int result = X509_STORE_CTX_get_error(ctx);
    assert_true(ok == 1 ? result == X509_V_OK : result != X509_V_OK);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(c);
    X509_free(l);
    ERR_clear_error();
    return result;
}

static int mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Issues "node0" for local_hosts from `ca` as leaf.crt and leaf.key. */
static int issue(const char *ca, int days, char **err)
{
    char crt[64], key[64];
    snprintf(crt, sizeof crt, "%s.crt", ca);
    snprintf(key, sizeof key, "%s.key", ca);
    return tlscert_issue(p(crt), p(key), "node0", local_hosts, N_LOCAL, days, leaf_crt, leaf_key,
                         err);
}

static void ca_and_leaf_verify(void **state)
{
    (void)state;
    mode_t old = umask(077); /* the modes are the documented ones whatever the umask */
    char *err = NULL;
    assert_int_equal(issue("ca", 397, &err), STELE_OK);
    umask(old);
    assert_null(err);
    assert_int_equal(verify(ca_crt, leaf_crt, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    assert_int_equal(verify(ca_crt, leaf_crt, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_equal(verify(ca_crt, ca_crt, X509_PURPOSE_ANY), X509_V_OK);
    assert_int_equal(mode_of(leaf_key), 0600);
    assert_int_equal(mode_of(leaf_crt), 0644);
    assert_int_equal(mode_of(ca_key), 0600);
    assert_int_equal(mode_of(ca_crt), 0644);
    assert_false(exists(p("leaf.crt.tmp")) || exists(p("leaf.key.tmp")));

    X509 *ca = load_cert(ca_crt), *leaf = load_cert(leaf_crt);
    assert_int_equal(X509_get_version(ca), X509_VERSION_3);
    assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
    assert_int_equal(X509_check_ca(ca), 1);
    assert_int_equal(X509_check_ca(leaf), 0);
    assert_int_equal(X509_get_pathlen(ca), 0);
    assert_true(X509_get_extension_flags(ca) & EXFLAG_SS);
    assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
    assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
    assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
    assert_false(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN);
    /* A random positive serial of up to 127 bits (shorter than 9 octets with odds 2^-63). */
    const ASN1_INTEGER *serial = X509_get0_serialNumber(leaf);
    assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
    assert_in_range(ASN1_STRING_length(serial), 9, 16);
    char cn[80];
    assert_int_equal(
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn), 5);
    assert_string_equal(cn, "node0");
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(ca)), 0);

    /* subjectAltName: the addresses as IP entries, the names as DNS entries, in order. */
    GENERAL_NAMES *san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    assert_non_null(san);
    assert_int_equal(sk_GENERAL_NAME_num(san), N_LOCAL);
    unsigned char v4[4], v6[16];
    inet_pton(AF_INET, "127.0.0.1", v4);
    inet_pton(AF_INET6, "::1", v6);
    GENERAL_NAME *g = sk_GENERAL_NAME_value(san, 0);
    assert_int_equal(g->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 4);
    assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), v4, 4);
    g = sk_GENERAL_NAME_value(san, 1);
    assert_int_equal(g->type, GEN_DNS);
    assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), "localhost");
    g = sk_GENERAL_NAME_value(san, 2);
    assert_int_equal(g->type, GEN_IPADD);
    assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 16);
    assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), v6, 16);
    assert_int_equal(sk_GENERAL_NAME_value(san, 3)->type, GEN_DNS);
    GENERAL_NAMES_free(san);
    assert_int_equal(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_host(leaf, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(leaf, "127.0.0.1", 0, 0, NULL), 0); /* not a DNS entry */

    /* The key file is unencrypted PKCS#8 and holds the certificate's key. */
    size_t len = 0;
    char *pem = test_read_file(leaf_key, &len);
    assert_non_null(pem);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    free(pem);
    BIO *b = BIO_new_file(leaf_key, "r");
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(key);
    assert_true(EVP_PKEY_is_a(key, "EC"));
    assert_int_equal(X509_check_private_key(leaf, key), 1);
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_free(leaf);
}

static void leaf_of_another_ca_refused(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(issue("other", 30, &err), STELE_OK);
    assert_int_equal(verify(ca_crt, leaf_crt, X509_PURPOSE_SSL_SERVER),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_int_equal(verify(p("other.crt"), leaf_crt, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

/* Asserts that `rc` is `want` with a message, and that the call wrote nothing. */
static void refused(int rc, int want, char **err, const char *mention)
{
    assert_int_equal(rc, want);
    assert_non_null(*err);
    if (mention && !strstr(*err, mention))
        fail_msg("\"%s\" does not mention \"%s\"", *err, mention);
    free(*err);
    *err = NULL;
    const char *files[] = {"leaf.crt", "leaf.key", "leaf.crt.tmp", "leaf.key.tmp",
                           "new.crt",  "new.key",  "new.crt.tmp",  "new.key.tmp"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (exists(p(files[i])))
            fail_msg("%s was written", files[i]);
}

static void bad_arguments_refused(void **state)
{
    (void)state;
    char *err = NULL, cn65[66], cn64[65];
    memset(cn65, 'a', 65);
    cn65[65] = 0;
    memset(cn64, 'b', 64);
    cn64[64] = 0;
    const char *ca = ca_crt, *cakey = ca_key, *crt = leaf_crt, *key = leaf_key;
    const char *ncrt = new_crt, *nkey = new_key;
    const char *h1[] = {"127.0.0.1"};
#define ISSUE(cn, hosts, n, days) tlscert_issue(ca, cakey, cn, hosts, n, days, crt, key, &err)
#define CREATE(cn, days)          tlscert_ca_create(ncrt, nkey, cn, days, &err)

    refused(CREATE("", 825), STELE_ERR_INVALID, &err, "name");
    refused(CREATE(cn65, 825), STELE_ERR_INVALID, &err, "name");
    refused(CREATE(NULL, 825), STELE_ERR_INVALID, &err, "name");
    refused(CREATE("tab\tname", 825), STELE_ERR_INVALID, &err, "name");
    refused(CREATE("ca", 0), STELE_ERR_INVALID, &err, "days");
    refused(CREATE("ca", TLSCERT_MAX_DAYS + 1), STELE_ERR_INVALID, &err, "days");
    refused(tlscert_ca_create(ncrt, ncrt, "ca", 1, &err), STELE_ERR_INVALID, &err, "different");
    refused(tlscert_ca_create(ncrt, p("new.crt.tmp"), "ca", 1, &err), STELE_ERR_INVALID, &err,
            NULL);

    refused(ISSUE("", h1, 1, 30), STELE_ERR_INVALID, &err, "name");
    refused(ISSUE(cn65, h1, 1, 30), STELE_ERR_INVALID, &err, "name");
    refused(ISSUE("node0", h1, 1, 0), STELE_ERR_INVALID, &err, "days");
    refused(ISSUE("node0", h1, 1, TLSCERT_MAX_DAYS + 1), STELE_ERR_INVALID, &err, "days");
    const char *bad_hosts[] = {"a,b",          "bad host", "",   "1.2.3", "-node", "node-",
                               "a..b",         ".a",       "a.", "*.x",   "h:1",   "DNS:x",
                               "fe80::1%eth0", "n\x1b[0m"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++)
        refused(ISSUE("node0", &bad_hosts[i], 1, 30), STELE_ERR_INVALID, &err, "host");
    const char *one_bad[] = {"127.0.0.1", "localhost", "a,DNS:evil.example"};
    refused(ISSUE("node0", one_bad, 3, 30), STELE_ERR_INVALID, &err, "a,DNS:evil.example");
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const char *too_long[] = {long_name};
    refused(ISSUE("node0", too_long, 1, 30), STELE_ERR_INVALID, &err, "host");
    refused(ISSUE("node0", h1, 0, 30), STELE_ERR_INVALID, &err, "hosts");
    refused(ISSUE("node0", NULL, 1, 30), STELE_ERR_INVALID, &err, "hosts");
    const char *h17[17];
    for (int i = 0; i < 17; i++)
        h17[i] = "localhost";
    refused(ISSUE("node0", h17, 17, 30), STELE_ERR_INVALID, &err, "hosts");
    /* Outputs that would overwrite an input, or each other. */
    refused(tlscert_issue(ca, cakey, "node0", h1, 1, 30, ca, key, &err), STELE_ERR_INVALID, &err,
            "ca.crt");
    refused(tlscert_issue(ca, cakey, "node0", h1, 1, 30, crt, cakey, &err), STELE_ERR_INVALID, &err,
            "ca.key");
    refused(tlscert_issue(ca, cakey, "node0", h1, 1, 30, crt, crt, &err), STELE_ERR_INVALID, &err,
            "different");
    refused(tlscert_issue(ca, cakey, "node0", h1, 1, 30, p("ca.key.tmp"), key, &err),
            STELE_ERR_INVALID, &err, NULL);

    /* The limits themselves are accepted; errmsg may be NULL. */
    const char *h16[16];
    for (int i = 0; i < 16; i++)
        h16[i] = i % 2 ? "localhost" : "10.0.0.1";
    assert_int_equal(tlscert_issue(ca, cakey, cn64, h16, 16, TLSCERT_MAX_DAYS, crt, key, NULL),
                     STELE_OK);
    assert_int_equal(tlscert_ca_create(ncrt, nkey, cn64, TLSCERT_MAX_DAYS, NULL), STELE_OK);
    assert_int_equal(tlscert_issue(ca, cakey, "node0", h1, 1, 30, crt, crt, NULL),
                     STELE_ERR_INVALID);
#undef ISSUE
#undef CREATE
}

/* Writes a copy of ca.crt that expired yesterday, signed again with ca.key, as `out`. */
/* Writes `in` (a certificate the CA signed, or the CA's own) to `out`, its validity moved to
 * now + before_s .. now + after_s and signed again with the CA's key. */
static void write_redated(const char *in, long before_s, long after_s, const char *out)
{
    X509 *x = load_cert(in);
    BIO *b = BIO_new_file(ca_key, "r");
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(key);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), before_s));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), after_s));
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    b = BIO_new_file(out, "w");
    assert_true(b && PEM_write_bio_X509(b, x));
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void write_expired_ca(const char *out)
{
    write_redated(ca_crt, -3 * 86400, -86400, out);
}

static void bad_ca_files_refused(void **state)
{
    (void)state;
    char *err = NULL;
    const char *h1[] = {"localhost"};
    const char *crt = leaf_crt, *key = leaf_key;
#define ISSUE_FROM(cacrt, cakey) tlscert_issue(cacrt, cakey, "node0", h1, 1, 30, crt, key, &err)

    refused(ISSUE_FROM(p("missing.crt"), ca_key), STELE_ERR_NOT_FOUND, &err, "missing.crt");
    refused(ISSUE_FROM(ca_crt, p("missing.key")), STELE_ERR_NOT_FOUND, &err, "missing.key");
    refused(ISSUE_FROM(ca_crt, p("other.key")), STELE_ERR_MALFORMED, &err, "other.key");
    refused(ISSUE_FROM(ca_key, ca_key), STELE_ERR_MALFORMED, &err, "ca.key");
    refused(ISSUE_FROM(ca_crt, ca_crt), STELE_ERR_MALFORMED, &err, "ca.crt");
    assert_int_equal(test_write_file(p("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnope\n", 34),
                     0);
    refused(ISSUE_FROM(p("garbage.pem"), ca_key), STELE_ERR_MALFORMED, &err, "garbage.pem");
    refused(ISSUE_FROM(ca_crt, p("garbage.pem")), STELE_ERR_MALFORMED, &err, "garbage.pem");
    assert_int_equal(test_write_file(p("empty.pem"), "", 0), 0);
    refused(ISSUE_FROM(p("empty.pem"), ca_key), STELE_ERR_MALFORMED, &err, "empty.pem");
    refused(ISSUE_FROM(dir, ca_key), STELE_ERR_IO, &err, NULL); /* a directory */

    /* A node certificate and its key are no CA. */
    assert_int_equal(
        tlscert_issue(ca_crt, ca_key, "node9", h1, 1, 30, p("n9.crt"), p("n9.key"), NULL),
        STELE_OK);
    refused(ISSUE_FROM(p("n9.crt"), p("n9.key")), STELE_ERR_MALFORMED, &err, "not a CA");

    write_expired_ca(p("expired.crt"));
    refused(ISSUE_FROM(p("expired.crt"), ca_key), STELE_ERR_EXPIRED, &err, "expired");
    assert_int_equal(ERR_peek_error(), 0); /* nothing left on this thread's error queue */
#undef ISSUE_FROM
}

static void leaf_never_outlives_ca(void **state)
{
    (void)state;
    assert_int_equal(tlscert_ca_create(p("short.crt"), p("short.key"), "short-lived", 2, NULL),
                     STELE_OK);
    assert_int_equal(issue("short", 397, NULL), STELE_OK);
    X509 *ca = load_cert(p("short.crt")), *leaf = load_cert(leaf_crt);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(ca)), 0);
    assert_int_equal(verify(p("short.crt"), leaf_crt, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    X509_free(leaf);

    /* Shorter than the CA: `days` from now; valid from a few minutes ago (clock skew). */
    assert_int_equal(issue("ca", 1, NULL), STELE_OK);
    leaf = load_cert(leaf_crt);
    int d, s;
    assert_int_equal(ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(leaf)), 1);
    assert_true(d == 1 || (d == 0 && s > 86000));
    assert_int_equal(ASN1_TIME_diff(&d, &s, NULL, X509_get0_notBefore(leaf)), 1);
    assert_true(d == 0 && s < -200 && s > -400);
    X509_free(leaf);
    X509_free(ca);
}

static void reissue_replaces_and_failure_keeps(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(issue("ca", 30, NULL), STELE_OK);
    char *crt1 = test_read_file(leaf_crt, &len), *key1 = test_read_file(leaf_key, &len);
    /* A stale temporary file from a crash is replaced, and gone afterwards. */
    assert_int_equal(test_write_file(p("leaf.key.tmp"), "stale", 5), 0);
    assert_int_equal(issue("ca", 30, NULL), STELE_OK);
    char *crt2 = test_read_file(leaf_crt, &len), *key2 = test_read_file(leaf_key, &len);
    assert_string_not_equal(crt1, crt2);
    assert_string_not_equal(key1, key2);
    assert_false(exists(p("leaf.key.tmp")));
    assert_int_equal(verify(ca_crt, leaf_crt, X509_PURPOSE_SSL_SERVER), X509_V_OK);
    X509 *a = load_cert(leaf_crt);
    assert_int_equal(test_write_file(p("old.crt"), crt1, strlen(crt1)), 0);
    X509 *b = load_cert(p("old.crt"));
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    X509_free(a);
    X509_free(b);

    /* The certificate cannot be written (no such directory): the key is left as it was. */
    char *err = NULL;
    const char *h1[] = {"localhost"};
    assert_int_equal(tlscert_issue(ca_crt, ca_key, "node0", h1, 1, 30, p("no/such/dir/leaf.crt"),
                                   leaf_key, &err),
                     STELE_ERR_IO);
    assert_non_null(strstr(err, "no/such/dir/leaf.crt"));
    free(err);
    char *key3 = test_read_file(leaf_key, &len);
    assert_string_equal(key2, key3);
    assert_false(exists(p("leaf.key.tmp")));
    /* Nor the key: neither changes. */
    assert_int_equal(tlscert_issue(ca_crt, ca_key, "node0", h1, 1, 30, leaf_crt,
                                   p("no/such/dir/leaf.key"), NULL),
                     STELE_ERR_IO);
    char *crt3 = test_read_file(leaf_crt, &len);
    assert_string_equal(crt2, crt3);
    free(crt1);
    free(crt2);
    free(crt3);
    free(key1);
    free(key2);
    free(key3);

    /* A CA made again over its files is a new CA. */
    char *ca1 = test_read_file(ca_crt, &len);
    assert_int_equal(tlscert_ca_create(ca_crt, ca_key, "stele-tls-ca", 825, NULL), STELE_OK);
    char *ca2 = test_read_file(ca_crt, &len);
    assert_string_not_equal(ca1, ca2);
    free(ca1);
    free(ca2);
    assert_int_not_equal(verify(ca_crt, leaf_crt, X509_PURPOSE_SSL_SERVER), X509_V_OK);
}

/* ---- a real TLS call through lib/rpc ---- */

/* The whoami server with the leaf issued by the test, asking for client certificates of
 * `client_ca` (NULL: none). */
static struct rpc_server *start_server(const char *client_ca, char *target, size_t tlen)
{
    const struct rpc_tls tls = {.cert_file = leaf_crt, .key_file = leaf_key, .ca_file = client_ca};
    return tls_fx_whoami_server(&tls, target, tlen);
}

static void tls_round_trip(void **state)
{
    (void)state;
    char target[64], cn[128];
    assert_int_equal(issue("ca", 30, NULL), STELE_OK);
    struct rpc_server *s = start_server(NULL, target, sizeof target);
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls.ca_file = ca_crt;
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_OK);
    assert_string_equal(cn, "(none)");
    o.tls.ca_file = p("other.crt");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_ERR_UNAVAILABLE);
    rpc_server_destroy(s);

    /* Mutual TLS: the same kind of certificate, issued to a client, is accepted as one. */
    const char *h[] = {"localhost"};
    assert_int_equal(
        tlscert_issue(ca_crt, ca_key, "juror7@org1", h, 1, 30, p("cli.crt"), p("cli.key"), NULL),
        STELE_OK);
    assert_int_equal(tlscert_issue(p("other.crt"), p("other.key"), "rogue", h, 1, 30,
                                   p("rogue.crt"), p("rogue.key"), NULL),
                     STELE_OK);
    s = start_server(ca_crt, target, sizeof target);
    o.tls.ca_file = ca_crt;
    o.tls.cert_file = p("cli.crt");
    o.tls.key_file = p("cli.key");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_OK);
    assert_string_equal(cn, "juror7@org1");
    o.tls.cert_file = p("rogue.crt");
    o.tls.key_file = p("rogue.key");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_ERR_UNAVAILABLE);
    rpc_server_destroy(s);
}

/* A client certificate authenticates a client and nothing else: it verifies for TLS clients,
 * not servers, names no host, and a server presenting it is refused. */
static void client_certificate_is_only_a_client(void **state)
{
    (void)state;
    char *err = NULL, target[64], cn[128];
    assert_int_equal(
        tlscert_issue_client(ca_crt, ca_key, "clients", 30, p("cli.crt"), p("cli.key"), &err),
        STELE_OK);
    assert_null(err);
    assert_int_equal(mode_of(p("cli.key")), 0600);
    assert_int_equal(verify(ca_crt, p("cli.crt"), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    assert_int_not_equal(verify(ca_crt, p("cli.crt"), X509_PURPOSE_SSL_SERVER), X509_V_OK);
    X509 *x = load_cert(p("cli.crt"));
    assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL));
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 0);
    X509_free(x);
    /* Bad names and days are refused as for node certificates, and nothing is written. */
    refused(tlscert_issue_client(ca_crt, ca_key, "", 30, p("c2.crt"), p("c2.key"), &err),
            STELE_ERR_INVALID, &err, NULL);
    refused(tlscert_issue_client(ca_crt, ca_key, "c", 0, p("c2.crt"), p("c2.key"), &err),
            STELE_ERR_INVALID, &err, NULL);
    assert_false(exists(p("c2.crt")) || exists(p("c2.key")));

    /* Accepted by a server asking for client certificates of the CA... */
    assert_int_equal(issue("ca", 30, NULL), STELE_OK);
    struct rpc_server *s = start_server(ca_crt, target, sizeof target);
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls =
        (struct rpc_tls){.ca_file = ca_crt, .cert_file = p("cli.crt"), .key_file = p("cli.key")};
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_OK);
    assert_string_equal(cn, "clients");
    rpc_server_destroy(s);
    /* ...but a server presenting it is refused by its clients. */
    const struct rpc_tls as_server = {.cert_file = p("cli.crt"), .key_file = p("cli.key")};
    s = tls_fx_whoami_server(&as_server, target, sizeof target);
    o.tls = (struct rpc_tls){.ca_file = ca_crt};
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, NULL), STELE_ERR_UNAVAILABLE);
    rpc_server_destroy(s);
}

/* A server does not start with a certificate that has expired or is not valid yet, and says
 * when; one that expires soon still serves. */
static void server_certificate_dates_checked(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(issue("ca", 30, NULL), STELE_OK);
    const struct {
        long before, after;
        const char *says; /* NULL: starts */
    } cases[] = {
        {-3 * 86400, -86400, "expired on"},
        {86400, 3 * 86400, "is not valid before"},
        {-3600, 5 * 86400, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_redated(leaf_crt, cases[i].before, cases[i].after, p("dated.crt"));
        struct rpc_server_opts o = {.listen = "127.0.0.1:0",
                                    .tls = {.cert_file = p("dated.crt"), .key_file = leaf_key}};
        struct rpc_server *s = rpc_server_create(&o, &err);
        if (!cases[i].says) {
            assert_non_null(s);
            rpc_server_destroy(s);
            continue;
        }
        assert_null(s);
        assert_non_null(err);
        if (!strstr(err, cases[i].says) || !strstr(err, "dated.crt"))
            fail_msg("\"%s\" does not say \"%s\" of dated.crt", err, cases[i].says);
        free(err);
        err = NULL;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ca_and_leaf_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(leaf_of_another_ca_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_ca_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(leaf_never_outlives_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(reissue_replaces_and_failure_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(tls_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(client_certificate_is_only_a_client, setup, teardown),
        cmocka_unit_test_setup_teardown(server_certificate_dates_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
