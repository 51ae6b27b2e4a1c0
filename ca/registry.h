/*
 * registry.h — stele-ca's LevelDB registry (DIR/registry).
 *
 * Keys:  id/<id>            CaIdRecord (org, role, attributes, limits, state, secret hash,
 *                           failed attempts, lockout, certificates)
 *        cert/<certhash>    CaCertRecord (owner id, serial, revoked)
 *        rev/<certhash>     RevokedEntry (what the CRL lists)
 *        revexp/<certhash>  u64be: when that certificate expires (Unix seconds); the CRL leaves
 *                           it out a while later (ca.h ca_crl_after_expiry_s()), and the three
 *                           entries of the certificate go later still (registry_prune_revoked())
 *        reenr/<certhash>   the reenrolment that superseded that certificate: u8 length of
 *                           R_U, R_U, the serialized EnrollResponse sent, so that the same
 *                           request, sent again after its answer was lost, gets the same answer
 *                           (ca_handle_reenroll()); deleted with the certificate's rev/ entry
 *        ru/<x of R_U>      the id a key request R_U (by its x-coordinate: R_U and -R_U alike)
 *                           was issued a certificate for; kept for ever, so that no k_U is
 *                           issued two certificates (ca_issue())
 *        nonce/<16 octets>  u64be timestamp (ms) of a signed request seen
 *        meta/<name>        u64be values: serial (no serial above it was issued: the CA
 *                           reserves them in blocks), crl_number, ca_id; and the CA name
 * Reads see committed data; every request's writes go into one batch committed with fsync, so
 * a request is applied entirely or not at all. Thread-safe (LevelDB is); callers serialise
 * read-modify-write sequences themselves (ca.h: id guards, ca->lock).
 */
#ifndef STELE_CA_REGISTRY_H
#define STELE_CA_REGISTRY_H

#include "identity/identity.h"
#include "stele/ca_store.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct registry;
struct registry_batch;

/* Opens DIR/registry; with `create` it must not exist yet (a new CA), otherwise it must.
 * Returns STELE_OK, STELE_ERR_EXISTS, STELE_ERR_NOT_FOUND or STELE_ERR_IO with *errmsg. */
int registry_open(const char *dir, bool create, struct registry **out, char **errmsg);
/* Closes it. Accepts NULL. */
void registry_close(struct registry *r);

/* Reads id/<id> into the arena. Returns STELE_OK, STELE_ERR_NOT_FOUND, STELE_ERR_MALFORMED or
 * STELE_ERR_IO. */
int registry_get_id(struct registry *r, struct arena *a, const char *id, Stele__CaIdRecord **out);
/* Reads cert/<certhash>. Same returns. */
int registry_get_cert(struct registry *r, struct arena *a, const uint8_t certhash[32],
                      Stele__CaCertRecord **out);
/* Reads meta/<name> as u64 (0 when absent). */
int registry_get_u64(struct registry *r, const char *name, uint64_t *v);
/* Reads meta/<name> as a string into the arena (NULL when absent). */
int registry_get_str(struct registry *r, struct arena *a, const char *name, char **out);
/* True when the nonce was recorded. */
bool registry_nonce_seen(struct registry *r, const uint8_t nonce[IDENTITY_NONCE_LEN]);
/* Lists into the arena every rev/ entry whose certificate has not expired at `now_s` (entries
 * without a recorded expiry are always listed). */
int registry_list_revoked(struct registry *r, struct arena *a, uint64_t now_s,
                          struct identity_revoked **out, size_t *n);
/* Deletes the rev/, revexp/, cert/ and reenr/ entries of every revoked certificate that expired
 * before `before_s` (entries without a recorded expiry are kept), so that revocations and
 * reenrolments do not grow the registry, and the scan that builds each CRL, without end. The
 * caller picks `before_s` so that nothing deleted is still listed or still signs. Returns
 * STELE_OK or the write's error; how many certificates via *n (may be NULL). */
int registry_prune_revoked(struct registry *r, uint64_t before_s, size_t *n);
/* True when the last write failed on the disk (LevelDB refuses every write after a failed
 * sync, until the CA restarts); false again once a write succeeds. */
bool registry_failed(struct registry *r);
/* True when a write can be stored now: at once when none failed; else it tries one that
 * changes nothing (and clears the mark when it succeeds). */
bool registry_writable(struct registry *r);
/* Deletes nonces recorded before `before_ms`. Returns how many via *n (may be NULL). */
int registry_prune_nonces(struct registry *r, uint64_t before_ms, size_t *n);

/* A write batch (opaque). The put functions return STELE_OK or an error that the batch also
 * keeps, so that registry_commit() refuses it whole: a record over 1 MiB (STELE_ERR_TOO_BIG;
 * it could not be read back) or one that does not encode. */
struct registry_batch *registry_batch_create(void);
void registry_batch_destroy(struct registry_batch *b);
int registry_batch_put_id(struct registry_batch *b, const Stele__CaIdRecord *rec);
int registry_batch_put_cert(struct registry_batch *b, const uint8_t certhash[32],
                            const Stele__CaCertRecord *rec);
/* Puts rev/<certhash> and the certificate's expiry `expires_at` (revexp/). */
int registry_batch_put_revoked(struct registry_batch *b, const struct identity_revoked *e,
                               uint64_t expires_at);
/* Puts reenr/<old_certhash>: the reenrolment request's R_U (1..255 octets) and the answer. */
int registry_batch_put_reenrolled(struct registry_batch *b, const uint8_t old_certhash[32],
                                  const uint8_t *r_u, size_t r_u_len, const uint8_t *resp,
                                  size_t resp_len);
/* Reads reenr/<certhash> into the arena: *r_u and *resp. STELE_OK, STELE_ERR_NOT_FOUND,
 * STELE_ERR_MALFORMED, STELE_ERR_IO or STELE_ERR_NOMEM. */
int registry_get_reenrolled(struct registry *r, struct arena *a, const uint8_t certhash[32],
                            ProtobufCBinaryData *r_u, ProtobufCBinaryData *resp);
/* Whether a certificate was issued for the key request whose x-coordinate is `x` (len octets):
 * *seen. STELE_OK, STELE_ERR_IO or STELE_ERR_INVALID. */
int registry_request_seen(struct registry *r, const uint8_t *x, size_t len, bool *seen);
/* Records that one was, for `id`. */
void registry_batch_put_request(struct registry_batch *b, const uint8_t *x, size_t len,
                                const char *id);
int registry_batch_put_nonce(struct registry_batch *b, const uint8_t nonce[IDENTITY_NONCE_LEN],
                             uint64_t ts_ms);
void registry_batch_put_u64(struct registry_batch *b, const char *name, uint64_t v);
void registry_batch_put_str(struct registry_batch *b, const char *name, const char *v);
/* Applies the batch atomically and durably (a synced LevelDB write). Returns STELE_OK,
 * STELE_ERR_IO or the batch's own error (above), in which case nothing is written. Concurrent
 * callers' synced writes are grouped by LevelDB itself: enrolments of different ids commit under
 * their ids' guards only (ca.h ca_id_guard()), serials being reserved in blocks. (A group commit of
 * our own, writing unsynced under a lock and syncing once after it, is NOT durable with LevelDB: on
 * a memtable switch the old log is closed without fsync, and a later synced write covers only the
 * new log.) */
int registry_commit(struct registry *r, struct registry_batch *b);
/* Like registry_commit() but without waiting for the disk: for what a crash may lose at no
 * cost (failed-attempt counters), and so that a wrong secret is answered as fast as an
 * unknown id (enrol.c). */
int registry_commit_unsynced(struct registry *r, struct registry_batch *b);

#endif
