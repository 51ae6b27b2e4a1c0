/*
 * testutil.h — helpers shared by Stele's cmocka tests.
 *
 * Tests run from the build directory; STELE_SOURCE_DIR and STELE_BINARY_DIR (set by ctest)
 * locate shipped files and built programs.
 */
#ifndef STELE_TESTUTIL_H
#define STELE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Returns a path under the source tree (static buffer per call site is not kept: the result
 * is malloc'd, free it). */
char *test_source_path(const char *rel);
/* Returns a path of a built file under the binary dir (malloc'd). */
char *test_binary_path(const char *rel);
/* Creates a fresh empty temporary directory and returns its path (malloc'd). */
char *test_tmpdir(const char *tag);
/* Removes a directory tree (rm -rf); ignores errors. */
void test_rmtree(const char *path);
/* Reads a whole file into a malloc'd NUL-terminated buffer; *len gets its size. NULL if absent. */
char *test_read_file(const char *path, size_t *len);
/* A loopback port nobody listens on right now, for a daemon a test starts with a fixed
 * address: chosen at random in 10000..19999, below the kernel's ephemeral ports (which every
 * outgoing connection takes from, so a port freed there may be taken again before the daemon
 * binds it) and the shell tests' port ranges (20000 and up). The port is claimed for the rest
 * of the process with flock on /tmp/stele-test-ports/c<port>.lock, as tests/support/ports.sh
 * claims the shell tests' ranges: two tests running at once never get the same port (they
 * did, now and then, between one's check and its daemon's bind). Fails the test if none is
 * free. */
int test_free_port(void);
struct buf;
/* GET `path` from the HTTP server at `addr` (127.0.0.1:port), with `request` sent as it is
 * instead when non-NULL. Returns the status code of the answer (0 when there is none) and
 * appends its body, NUL-terminated, to `body` (may be NULL). No assertion. */
int test_http_get(const char *addr, const char *path, const char *request, struct buf *body);
/* The value of the sample of the Prometheus text `metrics` whose name and labels are exactly
 * `sample` ("stele_ledger_height", "stele_consensus_role{role=\"primary\"}"): true with *v,
 * false when there is no such sample. */
bool test_metric(const char *metrics, const char *sample, double *v);
/* Writes `len` bytes to `path` (created or truncated). Returns 0 or -1. */
int test_write_file(const char *path, const void *data, size_t len);

/* A countdown of allocations for tests that fail the n-th one in turn (test_crypto_failure,
 * test_alloc_failure): their allocators ask test_alloc_fails() before each allocation. One
 * countdown per process; arm it, make the call, disarm it. */
/* From now, the n-th allocation (0: the next) fails; n < 0: none. Resets the failed count. */
void test_alloc_arm(long n);
/* No allocation fails any more; returns how many failed since test_alloc_arm(). */
long test_alloc_disarm(void);
/* True when this allocation is the one to fail (and counts it). */
bool test_alloc_fails(void);

/* An enrolled identity made without a CA server (identity records, ECQV, enrolment dirs). */
struct crypto_key;
struct buf;
struct test_identity {
    struct crypto_key *key; /* d_U (free with crypto_key_destroy) */
    struct buf *record;     /* the serialized stele.Identity (malloc'd buf; test_identity_free) */
    uint8_t cert[78];       /* CertU */
};
/* Issues identity `id` of `org` with `role` from CA key `ca` (issuer `ca_id`), valid from
 * `valid_from` (Unix seconds; 0 = a minute ago) for `valid_s` seconds. Fails the test on error. */
void test_identity_issue(const struct crypto_key *ca, uint64_t ca_id, const char *id,
                         const char *org, const char *role, uint64_t valid_from, uint32_t valid_s,
                         struct test_identity *out);
/* Writes it as an enrolment directory (key.pem, cert, identity, ca.pub) under `dir`. */
void test_identity_save(const struct test_identity *t, const struct crypto_key *ca,
                        const char *dir);
/* Frees what test_identity_issue() made. */
void test_identity_free(struct test_identity *t);

/* A channel configuration that passes genesis_check(), allocated in arena `a`: channel
 * `channel`, consensus `consensus`; organisations "OrdererOrg" (admin "admin.orderers") and
 * "Org1", both trusting `ca`'s public key; `n` orderers "orderer0".. of OrdererOrg with the
 * public keys of `keys` at 127.0.0.1:7050+i; batch 10 envelopes, 50ms, 16KiB, 64KiB; under
 * pbft K=10, L=40, timeouts 2s, 2s, 30s; one chaincode "vote" 1.0 sequence 1; the default
 * lifecycle policy. Fails the test on error. */
struct arena;
struct Stele__ChannelConfig;
struct Stele__ChannelConfig *test_channel_config(struct arena *a, const char *channel,
                                                 const char *consensus,
                                                 struct crypto_key *const *keys, size_t n,
                                                 const struct crypto_key *ca);

#endif
