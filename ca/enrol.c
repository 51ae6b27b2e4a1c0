/* enrol.c — issuing certificates: Enroll (id + one-time secret) and Reenroll (signed by the
 * identity being replaced), with per-id attempt limiting. */
#include "ca.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "secret.h"
#include "stele/ca.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* What a wrong secret, an unknown id and a locked id all answer, so that the answer does not
 * tell which ids exist or are locked (the CA's log does). */
#define BAD_CREDENTIALS "invalid id or secret"

enum rpc_code ca_check_r_u(struct rpc_call *call, const uint8_t *r_u, size_t len)
{
    if (len != CRYPTO_POINT_COMPRESSED_LEN && len != CRYPTO_POINT_LEN)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "r_u must be a SEC 1 point of 33 or 65 octets, got %zu", len);
    struct crypto_key *k = NULL;
    int rc = crypto_key_from_public(r_u, len, &k);
    crypto_key_destroy(k);
    if (rc != STELE_OK)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "r_u is not a valid P-256 point (off the curve or infinity)");
    return RPC_OK;
}

int ca_hold_request(struct ca *ca, const uint8_t *r_u, size_t len)
{
    if (len < 33)
        return STELE_OK; /* not a point: ca_issue() refuses it */
    int rc = STELE_OK;
    pthread_mutex_lock(&ca->ru_mu);
    for (size_t i = 0; i < ca->n_ru_busy && rc == STELE_OK; i++)
        if (memcmp(ca->ru_busy[i], r_u + 1, 32) == 0)
            rc = STELE_ERR_EXISTS;
    if (rc == STELE_OK && ca->n_ru_busy == CA_RU_BUSY)
        rc = STELE_ERR_LIMIT;
    if (rc == STELE_OK)
        memcpy(ca->ru_busy[ca->n_ru_busy++], r_u + 1, 32);
    pthread_mutex_unlock(&ca->ru_mu);
    return rc;
}

void ca_drop_request(struct ca *ca, const uint8_t *r_u, size_t len)
{
    if (len < 33)
        return;
    pthread_mutex_lock(&ca->ru_mu);
    for (size_t i = 0; i < ca->n_ru_busy; i++)
        if (memcmp(ca->ru_busy[i], r_u + 1, 32) == 0) {
            memcpy(ca->ru_busy[i], ca->ru_busy[--ca->n_ru_busy], 32);
            break;
        }
    pthread_mutex_unlock(&ca->ru_mu);
}

int ca_issue(struct ca *ca, struct arena *a, Stele__CaIdRecord *rec, const uint8_t *r_u,
             size_t r_u_len, struct registry_batch *b, uint64_t now_s, void *respv)
{
    Stele__EnrollResponse *resp = respv;
    struct ecqv_cert f = {0};
    uint8_t h[32], r[32];
    uint8_t *cert = arena_alloc(a, ECQV_CERT_LEN);
    uint64_t serial;
    struct buf record = {0};
    if (!cert)
        return STELE_ERR_NOMEM;
    /* A key request is issued one certificate, ever: with ECQV d_U = r + e·k_U, two
     * certificates of one k_U (or of -k_U: the same x) give the newer private key to whoever
     * holds the older one. R_U's x-coordinate follows its first octet in either encoding. */
    bool seen = false;
    int rc = r_u_len >= 33 ? registry_request_seen(ca->reg, r_u + 1, 32, &seen) : STELE_OK;
    if (rc != STELE_OK)
        return rc;
    if (seen)
        return STELE_ERR_EXISTS;
    if (r_u_len >= 33)
        registry_batch_put_request(b, r_u + 1, 32, rec->id);
    rc = ca_next_serial(ca, &serial);
    if (rc != STELE_OK)
        return rc;
    /* Backdated (CA_BACKDATE_S) so that a verifier whose clock is a little behind the CA's,
     * the enrolling client's first of all, accepts the new identity at once: its one
     * enrolment is already counted. The end of validity stays now_s + the id's validity. */
    uint64_t from = now_s > CA_BACKDATE_S ? now_s - CA_BACKDATE_S : 0;
    uint64_t duration = rec->validity_seconds + (now_s - from);
    f.serial = serial;
    f.issuer_id = ca->ca_id;
    f.valid_from = from;
    f.valid_duration = (uint32_t)(duration > UINT32_MAX ? UINT32_MAX : duration);
    if ((rc = crypto_sha256(rec->id, strlen(rec->id), h)) != STELE_OK)
        return rc;
    memcpy(f.subject_id, h, ECQV_SUBJECT_ID_LEN);
    f.key_usage = ECQV_USAGE_SIGN | ECQV_USAGE_ENCRYPT;
    if ((rc = ecqv_generate(ca->key, r_u, r_u_len, &f, cert, r)) != STELE_OK)
        return rc;

    struct identity_attr *attrs = arena_calloc(a, rec->n_attributes + 1, sizeof *attrs);
    if (!attrs)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < rec->n_attributes; i++) {
        attrs[i].key = rec->attributes[i]->key;
        attrs[i].value = rec->attributes[i]->value;
    }
    rc = identity_issue(ca->key, cert, rec->id, rec->org, rec->role, attrs, rec->n_attributes,
                        now_s, &record);
    if (rc == STELE_OK && record.len > IDENTITY_MAX_LEN)
        rc = STELE_ERR_TOO_BIG; /* no verifier would accept it: issue nothing */
    if (rc == STELE_OK)
        rc = ecqv_certhash(cert, ECQV_CERT_LEN, h);
    Stele__CaCertRef *ref = arena_calloc(a, 1, sizeof *ref);
    uint8_t *rec_bytes = record.len ? arena_memdup(a, record.data, record.len) : NULL;
    size_t rec_len = record.len;
    buf_release(&record);
    if (rc != STELE_OK)
        return rc;
    if (!ref || !rec_bytes)
        return STELE_ERR_NOMEM;
    stele__ca_cert_ref__init(ref);
    ref->serial = serial;
    ref->certhash.data = arena_memdup(a, h, 32);
    ref->certhash.len = 32;
    ref->issued_at = now_s;
    ref->expires_at = identity_valid_until(&f);
    if (!ref->certhash.data || ca_record_add_cert(a, rec, ref) != STELE_OK)
        return STELE_ERR_NOMEM;
    rec->state = STELE__CA_ID_STATE__CA_ID_ENROLLED;

    Stele__CaCertRecord cr = STELE__CA_CERT_RECORD__INIT;
    cr.id = rec->id;
    cr.serial = serial;
    registry_batch_put_cert(b, h, &cr);

    stele__enroll_response__init(resp);
    resp->cert.data = cert;
    resp->cert.len = ECQV_CERT_LEN;
    resp->r.data = arena_memdup(a, r, sizeof r);
    resp->r.len = sizeof r;
    resp->identity.data = rec_bytes;
    resp->identity.len = rec_len;
    resp->ca_public_key.data = ca->pub;
    resp->ca_public_key.len = sizeof ca->pub;
    resp->ca_id = ca->ca_id;
    return resp->r.data ? STELE_OK : STELE_ERR_NOMEM;
}

/* True when the id's secret was chosen by an admin (PBKDF2). Only such a secret can be guessed,
 * so only such an id is locked after attempt_limit wrong ones: a generated secret has 192
 * random bits, and locking its id would only let anyone keep a new member from enrolling. */
static bool secret_is_chosen(const Stele__CaIdRecord *rec)
{
    return rec->secret && rec->secret->scheme &&
           strcmp(rec->secret->scheme, SECRET_SCHEME_PBKDF2) == 0;
}

/* Whether `secret` is the id's. A refusal always costs one PBKDF2 hash of the configured
 * iterations (a chosen secret's own check, or a dummy one after a generated secret's HMAC), as
 * for an unknown or locked id, so that the time of the answer does not tell them apart. */
static bool secret_matches(const struct ca *ca, const Stele__CaIdRecord *rec, const char *secret)
{
    const Stele__CaSecretHash *h = rec->secret;
    bool ok = h && secret_check(h->scheme, h->salt.data, h->salt.len, h->iterations, h->hash.data,
                                h->hash.len, secret);
    if (!ok && !secret_is_chosen(rec))
        secret_check_dummy(ca->set.pbkdf2_iterations, secret);
    return ok;
}

/* Records a wrong secret for `id` (re-read; the caller holds its guard) and locks the id at
 * the limit. The write is not synced: a crash losing a count costs little, and a synced write
 * would make a wrong secret slower to answer than an unknown id. */
static void count_failure(struct ca *ca, struct arena *a, const char *id)
{
    Stele__CaIdRecord *rec;
    if (registry_get_id(ca->reg, a, id, &rec) == STELE_OK) {
        rec->failed_attempts++;
        if (rec->failed_attempts >= ca->set.attempt_limit) {
            rec->locked_until_ms = clock_wall_ms() + ca->set.lockout_ms;
            rec->failed_attempts = 0;
            log_warn("ca", "id \"%s\" locked for %llu s after %u wrong secrets", id,
                     (unsigned long long)(ca->set.lockout_ms / 1000), ca->set.attempt_limit);
        }
        struct registry_batch *b = registry_batch_create();
        if (b) {
            registry_batch_put_id(b, rec);
            registry_commit_unsynced(ca->reg, b);
        }
        registry_batch_destroy(b);
    }
}

static enum rpc_code enroll_guarded(struct ca *ca, struct rpc_call *call,
                                    const Stele__EnrollRequest *r, ProtobufCMessage **resp);

/* Refuses to issue for an id whose attributes (registered before register bounded them) make
 * an identity record larger than any verifier accepts; nothing is counted or written. */
/* The answer to a key request that was issued a certificate already (ca_issue()). */
static enum rpc_code request_used(struct rpc_call *call)
{
    return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                          "this key request (R_U) was issued a certificate already; ask with a "
                          "new one (nothing was issued)");
}

/* ca_hold_request() for a handler: RPC_OK with *held, or the refusal sent. */
static enum rpc_code hold(struct ca *ca, struct rpc_call *call, const ProtobufCBinaryData *r_u,
                          bool *held)
{
    int rc = ca_hold_request(ca, r_u->data, r_u->len);
    *held = rc == STELE_OK;
    if (rc == STELE_ERR_EXISTS)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "this key request (R_U) is being issued a certificate for another "
                              "request; ask with a new one (nothing was issued)");
    if (rc != STELE_OK)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "too many certificates are being issued at once: retry");
    return RPC_OK;
}

static enum rpc_code too_big(struct rpc_call *call, const char *id)
{
    return rpc_call_error(call, RPC_FAILED_PRECONDITION,
                          "the attributes of \"%s\" make an identity record over the %d octets "
                          "verifiers accept; nothing was issued (an admin must register a new "
                          "id with fewer)",
                          id, IDENTITY_MAX_LEN);
}

enum rpc_code ca_handle_enroll(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    const Stele__EnrollRequest *r = (const Stele__EnrollRequest *)req;
    if (!r->id[0] || strlen(r->id) > 128 || !r->secret[0] || strlen(r->secret) > 1024)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "id and secret are required");
    enum rpc_code code = ca_check_r_u(call, r->r_u.data, r->r_u.len);
    if (code != RPC_OK)
        return code;
    /* One attempt per id at a time, from the lockout check to the failure counted: guesses
     * made at once cannot get past attempt_limit (the slow hash still overlaps for other ids). */
    pthread_mutex_t *g = ca_id_guard(ca, r->id);
    pthread_mutex_lock(g);
    code = enroll_guarded(ca, call, r, resp);
    pthread_mutex_unlock(g);
    return code;
}

static enum rpc_code enroll_guarded(struct ca *ca, struct rpc_call *call,
                                    const Stele__EnrollRequest *r, ProtobufCMessage **resp)
{
    struct arena *a = rpc_call_arena(call);
    enum rpc_code code = RPC_OK;
    Stele__CaIdRecord *rec;
    /* A chosen secret's wrong guesses are counted toward its lock: while the registry cannot
     * be written (its disk failed; /healthz says so) no secret is checked, or guessing would
     * be free until the disk is back. Every id gets this answer, known or not, so that it
     * tells nobody which ids exist. */
    if (!registry_writable(ca->reg)) {
        log_warn("ca", "enrol of \"%s\" refused unchecked: the registry cannot be written", r->id);
        return rpc_call_error(call, RPC_UNAVAILABLE,
                              "the CA cannot write to its disk now; nothing was checked: try "
                              "later");
    }
    int rc = registry_get_id(ca->reg, a, r->id, &rec);
    if (rc != STELE_OK && rc != STELE_ERR_NOT_FOUND)
        return rpc_call_error(call, RPC_INTERNAL, "registry: %s", stele_strerror(rc));
    uint64_t now_ms = clock_wall_ms();
    /* An unknown id, a locked id and a wrong secret get the same answer after the same work (a
     * PBKDF2 hash); only the log tells them apart. Unknown ids are not locked: no answer shows
     * whether an id is locked, so that would hide nothing, and counting attempts for any name
     * would let anyone fill the registry. The slow hash runs under the id's guard only, so that
     * enrolments of different ids overlap. */
    if (rc == STELE_ERR_NOT_FOUND) {
        secret_check_dummy(ca->set.pbkdf2_iterations, r->secret);
        log_info("ca", "enrol refused: unknown id \"%s\"", r->id);
        return rpc_call_error(call, RPC_UNAUTHENTICATED, BAD_CREDENTIALS);
    }
    if (rec->locked_until_ms > now_ms) {
        secret_check_dummy(ca->set.pbkdf2_iterations, r->secret);
        log_info("ca", "enrol refused: id \"%s\" is locked (%llu s left)", r->id,
                 (unsigned long long)((rec->locked_until_ms - now_ms + 999) / 1000));
        return rpc_call_error(call, RPC_UNAUTHENTICATED, BAD_CREDENTIALS);
    }
    if (!secret_matches(ca, rec, r->secret)) {
        log_info("ca", "enrol refused: wrong secret for \"%s\"", r->id);
        if (secret_is_chosen(rec))
            count_failure(ca, a, r->id);
        return rpc_call_error(call, RPC_UNAUTHENTICATED, BAD_CREDENTIALS);
    }

    Stele__EnrollResponse *out = arena_calloc(a, 1, sizeof *out);
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    /* Under the id's guard (held by the caller), not ca->lock: enrolments of different ids
     * commit their synced writes concurrently. */
    rc = registry_get_id(ca->reg, a, r->id, &rec);
    if (rc != STELE_OK)
        code = rpc_call_error(call, RPC_INTERNAL, "registry: %s", stele_strerror(rc));
    else if (rec->locked_until_ms > now_ms)
        code = rpc_call_error(call, RPC_UNAUTHENTICATED, BAD_CREDENTIALS);
    else if (rec->state == STELE__CA_ID_STATE__CA_ID_REVOKED)
        code = rpc_call_error(call, RPC_PERMISSION_DENIED, "id \"%s\" is revoked", r->id);
    else if (rec->enrollments >= rec->max_enrollments)
        code = rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "id \"%s\" has used all its enrolments (%u of %u)", r->id,
                              rec->enrollments, rec->max_enrollments);
    bool held = false; /* from before ca_issue()'s check to the commit */
    if (code == RPC_OK)
        code = hold(ca, call, &r->r_u, &held);
    if (code == RPC_OK) {
        ca_record_prune(ca, rec, now_ms / 1000);
        rec->enrollments++;
        rec->failed_attempts = 0;
        rc = out && b ? ca_issue(ca, a, rec, r->r_u.data, r->r_u.len, b, now_ms / 1000, out)
                      : STELE_ERR_NOMEM;
        if (rc == STELE_ERR_MALFORMED)
            code = rpc_call_error(call, RPC_INVALID_ARGUMENT, "r_u is not a valid point");
        else if (rc == STELE_ERR_EXISTS)
            code = request_used(call);
        else if (rc == STELE_ERR_TOO_BIG)
            code = too_big(call, rec->id);
        else if (rc != STELE_OK)
            code = rpc_call_error(call, RPC_INTERNAL, "issuing failed: %s", stele_strerror(rc));
    }
    if (code == RPC_OK) {
        registry_batch_put_id(b, rec);
        code = ca_commit(ca, call, b);
    }
    if (held)
        ca_drop_request(ca, r->r_u.data, r->r_u.len);
    registry_batch_destroy(b);
    if (code != RPC_OK)
        return code;
    log_info("ca", "enrolled \"%s\" (serial %llu, %u of %u enrolments)", r->id,
             (unsigned long long)rec->certs[rec->n_certs - 1]->serial, rec->enrollments,
             rec->max_enrollments);
    *resp = &out->base;
    return RPC_OK;
}

/* Prunes the record (ca_record_prune()) and refuses a reenrolment that would leave the id more
 * than CA_MAX_SUPERSEDED superseded certificates not yet expired. Each is on the CRL until it
 * expires, so without a cap one client reenrolling in a loop grows the CRL and its own record
 * without end (and a record too large to write could no longer be revoked). */
static enum rpc_code check_superseded(const struct ca *ca, struct rpc_call *call,
                                      Stele__CaIdRecord *rec, uint64_t now_s)
{
    ca_record_prune(ca, rec, now_s);
    if (ca_record_superseded(rec) < CA_MAX_SUPERSEDED)
        return RPC_OK;
    uint64_t first = UINT64_MAX;
    for (size_t i = 0; i < rec->n_certs; i++)
        if (rec->certs[i]->revoked && rec->certs[i]->expires_at < first)
            first = rec->certs[i]->expires_at;
    return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                          "id \"%s\" already has %d superseded certificates that have not expired "
                          "(each stays on the CRL until it does); it may reenrol again in %llu s, "
                          "or an admin may register a new id",
                          rec->id, CA_MAX_SUPERSEDED, (unsigned long long)(first - now_s));
}

/* A reenrolment whose signer's certificate a reenrolment already superseded: when it is the
 * same request (the same R_U: the client keeps its k_U until it has the answer), its answer was
 * lost on the way, and it gets the same answer again; nothing else changes but the nonce.
 * Another R_U is refused: the identity has moved on to the new certificate. */
static enum rpc_code reenroll_again(struct ca *ca, struct rpc_call *call, const struct ca_signed *s,
                                    ProtobufCMessage **resp)
{
    struct arena *a = rpc_call_arena(call);
    const Stele__ReenrollRequest *r = (const Stele__ReenrollRequest *)s->body;
    const struct identity *who = &s->req.signer;
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    Stele__CaIdRecord *rec = NULL;
    ProtobufCBinaryData u = {0}, sent = {0};
    pthread_mutex_t *g = ca_id_guard(ca, who->id); /* then ca->lock */
    pthread_mutex_lock(g);
    pthread_mutex_lock(&ca->lock);
    enum rpc_code code = RPC_OK;
    int rc = registry_get_id(ca->reg, a, who->id, &rec);
    if (rc != STELE_OK)
        code = rpc_call_error(call, RPC_NOT_FOUND, "id \"%s\" is not registered", who->id);
    else if (rec->state == STELE__CA_ID_STATE__CA_ID_REVOKED)
        code = rpc_call_error(call, RPC_PERMISSION_DENIED, "id \"%s\" is revoked", who->id);
    else if (registry_get_reenrolled(ca->reg, a, who->certhash, &u, &sent) != STELE_OK)
        code = rpc_call_error(call, RPC_INTERNAL, "the reenrolment record cannot be read");
    else if (u.len != r->r_u.len || memcmp(u.data, r->r_u.data, u.len) != 0)
        code = rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "signer \"%s\": certificate serial %llu was superseded by a "
                              "reenrolment with another key request; use the certificate it "
                              "issued (or ask an admin for a new id)",
                              who->id, (unsigned long long)who->fields.serial);
    else
        code = ca_claim_nonce(ca, call, s, b);
    code = ca_commit_unlock(ca, call, b, code);
    pthread_mutex_unlock(g);
    if (code != RPC_OK)
        return code;
    *resp = pb_unpack(&stele__enroll_response__descriptor, a, sent.data, sent.len, 0);
    if (!*resp)
        return rpc_call_error(call, RPC_INTERNAL, "the reenrolment record is damaged");
    log_info("ca", "reenrolment of \"%s\" (serial %llu) answered again: its answer was lost",
             who->id, (unsigned long long)who->fields.serial);
    return RPC_OK;
}

/* Under ca->lock: whether the certificate `certhash` was superseded by a reenrolment since
 * the request signed by it was checked. */
static bool reenrolled_meanwhile(struct ca *ca, struct arena *a, const uint8_t certhash[32])
{
    Stele__CaCertRecord *cert = NULL;
    ProtobufCBinaryData u, sent;
    return registry_get_cert(ca->reg, a, certhash, &cert) == STELE_OK && cert->revoked &&
           registry_get_reenrolled(ca->reg, a, certhash, &u, &sent) == STELE_OK;
}

enum rpc_code ca_handle_reenroll(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    struct arena *a = rpc_call_arena(call);
    struct ca_signed s;
    enum rpc_code code = ca_check_signed(ca, call, req, &stele__reenroll_request__descriptor, &s);
    if (code != RPC_OK)
        return code;
    Stele__ReenrollRequest *r = (Stele__ReenrollRequest *)s.body;
    if ((code = ca_check_r_u(call, r->r_u.data, r->r_u.len)) != RPC_OK)
        return code;
    if (s.reenrolled)
        return reenroll_again(ca, call, &s, resp);
    const struct identity *who = &s.req.signer;
    Stele__EnrollResponse *out = arena_calloc(a, 1, sizeof *out);
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    Stele__CaIdRecord *rec = NULL;
    uint64_t now = clock_wall_s(), crl_number = 0;
    pthread_mutex_t *g = ca_id_guard(ca, who->id); /* then ca->lock */
    pthread_mutex_lock(g);
    pthread_mutex_lock(&ca->lock);
    int rc = registry_get_id(ca->reg, a, who->id, &rec);
    if (rc == STELE_OK && rec->state != STELE__CA_ID_STATE__CA_ID_REVOKED &&
        reenrolled_meanwhile(ca, a, who->certhash)) {
        /* the same request sent again before the first's answer came: answered as a retry */
        pthread_mutex_unlock(&ca->lock);
        pthread_mutex_unlock(g);
        registry_batch_destroy(b);
        s.reenrolled = true;
        return reenroll_again(ca, call, &s, resp);
    }
    if (rc != STELE_OK)
        code = rpc_call_error(call, RPC_NOT_FOUND, "id \"%s\" is not registered", who->id);
    else if (rec->state == STELE__CA_ID_STATE__CA_ID_REVOKED)
        code = rpc_call_error(call, RPC_PERMISSION_DENIED, "id \"%s\" is revoked", who->id);
    else
        code = ca_claim_nonce(ca, call, &s, b);
    if (code == RPC_OK)
        code = check_superseded(ca, call, rec, now);
    bool held = false; /* from before ca_issue()'s check to the commit */
    if (code == RPC_OK)
        code = hold(ca, call, &r->r_u, &held);
    if (code == RPC_OK) {
        rc = registry_get_u64(ca->reg, "crl_number", &crl_number);
        if (rc == STELE_OK)
            rc = out && b ? ca_issue(ca, a, rec, r->r_u.data, r->r_u.len, b, now, out)
                          : STELE_ERR_NOMEM;
        if (rc == STELE_ERR_EXISTS)
            code = request_used(call);
        else if (rc == STELE_ERR_TOO_BIG)
            code = too_big(call, rec->id);
        else if (rc != STELE_OK)
            code = rpc_call_error(call, RPC_INTERNAL, "issuing failed: %s", stele_strerror(rc));
    }
    if (code == RPC_OK) {
        /* The certificate that signed this request is superseded. */
        for (size_t i = 0; i < rec->n_certs; i++)
            if (memcmp(rec->certs[i]->certhash.data, who->certhash, 32) == 0)
                rec->certs[i]->revoked = true;
        struct identity_revoked e = {
            .serial = who->fields.serial, .id = who->id, .revoked_at = now, .reason = "superseded"};
        memcpy(e.certhash, who->certhash, 32);
        Stele__CaCertRecord cr = STELE__CA_CERT_RECORD__INIT;
        cr.id = (char *)who->id;
        cr.serial = who->fields.serial;
        cr.revoked = true;
        registry_batch_put_cert(b, who->certhash, &cr);
        registry_batch_put_revoked(b, &e, identity_valid_until(&who->fields));
        registry_batch_put_u64(b, "crl_number", crl_number + 1);
        registry_batch_put_id(b, rec);
        /* the answer, for the same request sent again should this one be lost */
        struct buf sent = {0};
        if (pb_pack_buf(&out->base, &sent) != STELE_OK ||
            registry_batch_put_reenrolled(b, who->certhash, r->r_u.data, r->r_u.len, sent.data,
                                          sent.len) != STELE_OK)
            code = rpc_call_error(call, RPC_INTERNAL, "out of memory");
        buf_release(&sent);
    }
    code = ca_commit_unlock(ca, call, b, code);
    if (held)
        ca_drop_request(ca, r->r_u.data, r->r_u.len);
    pthread_mutex_unlock(g);
    if (code != RPC_OK)
        return code;
    log_info("ca", "reenrolled \"%s\": serial %llu supersedes %llu", who->id,
             (unsigned long long)rec->certs[rec->n_certs - 1]->serial,
             (unsigned long long)who->fields.serial);
    *resp = &out->base;
    return RPC_OK;
}
