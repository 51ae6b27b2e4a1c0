/*
 * ca_fixture.h — the fixture of test_ca.c and test_ca_limits.c: a real stele-ca process,
 * made with `stele-ca init` and run with `serve` in a temporary directory TMP, on 127.0.0.1,
 * driven through its command line (register, enroll, reenroll, revoke) and over gRPC.
 *
 * The CA's directory is TMP/ca, its configuration TMP/ca.yaml (attempt_limit 3, lockout 1h)
 * and its log TMP/ca.log (appended across restarts). An id enrolled through the command line
 * keeps its enrolment directory in TMP/<id>, where `--as <id>` finds it.
 *
 * Functions fail the test on error unless they say otherwise; those that run on threads of
 * their own make no cmocka assertion (said on each).
 */
#ifndef STELE_TESTS_CA_FIXTURE_H
#define STELE_TESTS_CA_FIXTURE_H

#include "testutil.h"

#include "rpc/rpc.h"
#include "stele/ca.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CA_SECRET_LEN 128 /* room for an enrolment secret the CLI prints, with its NUL */

struct buf;
struct crypto_key;
struct enrolment;
struct msp;

/* ---- the CA process ---- */

/* The CA under test. */
struct ca_fixture {
    char *bin, *tmp, *dir;            /* stele-ca, temp root TMP, CA directory TMP/ca */
    char cfg[512], url[64];           /* configuration file, HOST:PORT */
    char ops[64];                     /* HOST:PORT of its operations endpoint */
    char admin_secret[CA_SECRET_LEN]; /* the bootstrap admin's one-time secret (init --json) */
    char pub_hex[80];                 /* Q_CA in hex (init --json) */
    pid_t pid;                        /* the serving CA */
    struct rpc_channel *ch;           /* to it (fail-fast) */
};

extern struct ca_fixture g_ca;

/* Makes TMP (test_tmpdir(`tag`)), writes the configuration of a CA named `name` listening on
 * a free loopback port with `iterations` PBKDF2 iterations for chosen secrets, runs
 * `stele-ca init` into TMP/ca with the bootstrap admin in organisation `org`, records its
 * secret and public key in g_ca and starts the CA. The admin is not enrolled. */
void ca_fixture_setup(const char *tag, const char *name, const char *org, int iterations);
/* cmocka group teardown: stops the CA (it must exit cleanly), removes TMP and frees g_ca. */
int ca_fixture_teardown(void **state);
/* Starts `stele-ca serve`, waits until it reports healthy and opens g_ca.ch. */
void start_ca(void);
/* Closes g_ca.ch and sends the CA `sig`. After SIGTERM it must exit with status 0; after any
 * other signal (SIGKILL: a crash, no clean stop) it must die of it. */
void stop_ca(int sig);
/* The whole CA log (malloc'd, NUL-terminated; free it). */
char *ca_log(void);
/* How many times the CA's log contains `what`. */
int ca_log_count(const char *what);

/* ---- the command line ---- */

/* Runs the shell command line `fmt` (printf-style), its stdout and stderr appended to *out
 * (may be NULL; a buf stays NUL-terminated). Returns the exit status (128: killed). */
int sh_run(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies the JSON string or number value of "key" in `doc` into `val` (at most cap - 1
 * characters). False when `doc` is NULL or has no "key". No assertion. */
bool json_field(const char *doc, const char *key, char *val, size_t cap);
/* `stele-ca register` of `id` in `org` with `role` and `extra` flags (may be NULL), signed by
 * the enrolled `as`. On success the new secret goes to `secret` (may be NULL); the output is
 * appended to *out (may be NULL). Returns the exit status. */
int cli_register(const char *as, const char *id, const char *org, const char *role,
                 const char *extra, char secret[CA_SECRET_LEN], struct buf *out);
/* `stele-ca enroll` of `id` with `secret` into TMP/`dir` (NULL: TMP/`id`); the output is
 * appended to *out (may be NULL). Returns the exit status. */
int cli_enroll(const char *id, const char *secret, const char *dir, struct buf *out);
/* `stele-ca reenroll` as the enrolled `id` (its directory is replaced); the output is appended
 * to *out (may be NULL). Returns the exit status. */
int cli_reenroll(const char *id, struct buf *out);
/* `stele-ca revoke` of `id` for `reason` (quoted for the shell), signed by the enrolled `as`;
 * the output is appended to *out (may be NULL). Returns the exit status. */
int cli_revoke(const char *as, const char *id, const char *reason, struct buf *out);
/* Registers `id` (org, role, extra flags as cli_register) by the CA's admin and enrols it
 * into TMP/`id`. */
void cli_make_identity(const char *id, const char *org, const char *role, const char *extra);
/* True when the CRL the CA serves now (`stele-ca crl --json`) lists `hex`. */
bool crl_lists(const char *hex);

/* ---- identities and requests ---- */

/* Loads the enrolment directory TMP/`name` into *e (enrolment_release it). */
void ca_load(const char *name, struct enrolment *e);
/* The certhash of TMP/`id`'s certificate, in hex. */
void certhash_hex(const char *id, char hex[65]);
/* An MSP trusting only the CA key in TMP/ca/ca.pub, as a third party would hold it
 * (msp_destroy it). */
struct msp *third_party_msp(void);
/* A signed request (stele.AdminRequest) by `e` for `method` with `body`, timestamped `ts_ms`
 * (0 = now): the request into *req (buf_release it), its signature into `sig`. */
void make_signed(const struct enrolment *e, const char *method, const ProtobufCMessage *body,
                 uint64_t ts_ms, struct buf *req, uint8_t sig[64]);
/* Sends `req` signed with `sig` to `method` on g_ca.ch, expecting a `d` answer (dropped).
 * Returns the call's status; the code and detail go to *res. No assertion (threads call it). */
int send_signed(const char *method, const struct buf *req, const uint8_t sig[64],
                const ProtobufCMessageDescriptor *d, struct rpc_result *res);
/* Asks g_ca.ch to enrol `id` with `secret` for a fresh request key (deadline 20 s). Returns
 * the status (the request key's or the call's). The code and detail go to *res (may be NULL);
 * when no key could be made, no call is sent and they are INTERNAL "no request key". The
 * request key k_U goes to *k_u (may be NULL: destroyed; else crypto_key_destroy it), the answer
 * to *resp (may be NULL: dropped; else pb_free it). No assertion (threads call it). */
int enrol_rpc(const char *id, const char *secret, struct crypto_key **k_u,
              Stele__EnrollResponse **resp, struct rpc_result *res);

#endif
