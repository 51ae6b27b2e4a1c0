/*
 * tlscert.h — the X.509 certificates that carry TLS between Stele's processes (DESIGN §4.2:
 * "X.509 certificates issued by the CA for that purpose"). Message-level signatures use ECQV
 * identities and never these; TLS only protects the links.
 *
 * A TLS CA is a P-256 key and a self-signed X.509 v3 certificate (CA:TRUE, pathlen 0,
 * keyCertSign and cRLSign). A node's certificate is a fresh P-256 key and a certificate from
 * that CA with the node's name as CN, its host names and IP addresses as subjectAltName, and
 * both serverAuth and clientAuth: a node serves with it and presents it when it dials other
 * nodes that require client certificates (mutual TLS).
 *
 * Files are PEM: certificates 0644, private keys (PKCS#8, unencrypted) 0600, each written to a
 * temporary name ("<path>.tmp") and renamed, so a crash leaves the old file or the new one. Both
 * files are written in full before either is renamed, the key first: only a crash between the
 * two renames leaves a new key beside the old certificate. Nothing is kept in memory between
 * calls; the functions are thread-safe as long as concurrent calls write different files.
 */
#ifndef STELE_CRYPTO_TLSCERT_H
#define STELE_CRYPTO_TLSCERT_H

#include <stddef.h>

/* Longest validity accepted, in days (ten years). */
#define TLSCERT_MAX_DAYS 3650

/* Creates a TLS CA named `cn` (1–64 printable ASCII characters, no space at either end) valid
 * for `days` (1 to TLSCERT_MAX_DAYS) from now, and writes its certificate to `cert_path` and its
 * key to `key_path`; existing files are replaced. Returns STELE_OK, STELE_ERR_INVALID (bad name
 * or days, or the two paths name one file), STELE_ERR_IO (cannot write; nothing is left
 * half-written) or STELE_ERR_CRYPTO; *errmsg (malloc'd, may be NULL; caller frees) says what
 * was wrong. */
int tlscert_ca_create(const char *cert_path, const char *key_path, const char *cn, int days,
                      char **errmsg);

/* Issues a node certificate from the CA in `ca_cert`/`ca_key` (as tlscert_ca_create() writes
 * them; the key must match the certificate): a fresh key, CN `cn` (as above), subjectAltName
 * from `hosts` (each an IPv4 or IPv6 literal, which becomes an IP entry, or a DNS name of
 * letters, digits, '-' and '.', no wildcard; 1–16 entries), valid for `days` but never beyond
 * the CA's own expiry. Writes the certificate to `cert_out` and the key to `key_out`. Returns
 * STELE_OK, STELE_ERR_INVALID (bad name, host or days, or an output path that names the other
 * or a CA file), STELE_ERR_NOT_FOUND (a CA file is missing), STELE_ERR_MALFORMED (a CA file is
 * not PEM, the key does not match the certificate, or the certificate is not a CA's),
 * STELE_ERR_EXPIRED (the CA has expired), STELE_ERR_IO (a file cannot be read or written) or
 * STELE_ERR_CRYPTO; *errmsg as above.
 */
int tlscert_issue(const char *ca_cert, const char *ca_key, const char *cn, const char *const *hosts,
                  size_t n_hosts, int days, const char *cert_out, const char *key_out,
                  char **errmsg);

/* Issues a client certificate from the CA, as tlscert_issue() does but with no host and client
 * authentication only: it cannot serve as any node. Same arguments, returns and errors,
 * without the hosts. */
int tlscert_issue_client(const char *ca_cert, const char *ca_key, const char *cn, int days,
                         const char *cert_out, const char *key_out, char **errmsg);

#endif
