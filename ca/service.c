/* service.c — stele.CA: opening the CA, the permission table, signed-request checks, and the
 * RegisterIdentity, Revoke, GetCRL and GetInfo handlers (Enroll and Reenroll are in enrol.c). */
#include "ca.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "base/text.h"
#include "crypto/hash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "secret.h"
#include "stele/ca.pb-c.h"
#include "stele/identity.pb-c.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_REGISTER "/stele.CA/RegisterIdentity"
#define M_ENROLL   "/stele.CA/Enroll"
#define M_REENROLL "/stele.CA/Reenroll"
#define M_REVOKE   "/stele.CA/Revoke"
#define M_CRL      "/stele.CA/GetCRL"
#define M_INFO     "/stele.CA/GetInfo"

/* Who may make each signed request (NULL role = any enrolled identity, for itself). Register
 * and Revoke also need the target id's organisation to be the signer's (may_manage()). */
static const struct {
    const char *method;
    const char *role;
    bool expired_grace; /* an identity expired within the reenrol grace may call it */
} permissions[] = {
    {M_REGISTER, "admin", false},
    {M_REVOKE, "admin", false},
    {M_REENROLL, NULL, true},
};

/* Roles an id may be registered with (DESIGN §4.2); application roles are attributes. */
static const char *const roles[] = {"admin", "orderer", "peer", "client", "auditor", NULL};

uint64_t ca_crl_after_expiry_s(void)
{
#ifdef STELE_TEST_HOOKS
    const char *v = getenv("STELE_TEST_CA_CRL_AFTER_EXPIRY_S");
    if (v && *v)
        return strtoull(v, NULL, 10);
#endif
    return ENVELOPE_TIME_WINDOW_MS / 1000 + CA_BACKDATE_S;
}

void ca_settings_default(struct ca_settings *s)
{
    s->validity_s = 365ull * 24 * 3600;
    s->max_enrollments = 1;
    s->pbkdf2_iterations = 100000;
    s->attempt_limit = 5;
    s->lockout_ms = 15ull * 60 * 1000;
    s->crl_validity_s = 24ull * 3600;
    s->reenroll_grace_s = 7ull * 24 * 3600;
}

int ca_open(const char *dir, const struct ca_settings *s, struct ca **out, char **errmsg)
{
    struct ca *ca = calloc(1, sizeof *ca);
    struct arena *a = arena_create(0);
    char path[4096], *name = NULL;
    int rc = STELE_ERR_NOMEM;
    *out = NULL;
    if (!ca || !a)
        goto fail;
    ca->set = *s;
    pthread_mutex_init(&ca->lock, NULL);
    for (size_t i = 0; i < CA_ID_GUARDS; i++)
        pthread_mutex_init(&ca->id_guard[i], NULL);
    pthread_mutex_init(&ca->serial_mu, NULL);
    pthread_mutex_init(&ca->ru_mu, NULL);
    snprintf(path, sizeof path, "%s/ca.key", dir);
    rc = crypto_key_load_pem(path, &ca->key);
    if (rc != STELE_OK) {
        if (errmsg && asprintf(errmsg, "%s: %s (run 'stele-ca init --dir %s')", path,
                               stele_strerror(rc), dir) < 0)
            *errmsg = NULL;
        goto fail;
    }
    crypto_key_public_compressed(ca->key, ca->pub);
    rc = registry_open(dir, false, &ca->reg, errmsg);
    if (rc == STELE_OK)
        rc = registry_get_u64(ca->reg, "ca_id", &ca->ca_id);
    if (rc == STELE_OK)
        rc = registry_get_u64(ca->reg, "serial", &ca->serial_reserved);
    ca->serial_last = ca->serial_reserved;
    if (rc == STELE_OK)
        rc = registry_get_str(ca->reg, a, "name", &name);
    if (rc != STELE_OK)
        goto fail;
    if (!ca->ca_id) {
        rc = STELE_ERR_MALFORMED;
        if (errmsg && asprintf(errmsg, "%s/registry has no CA id", dir) < 0)
            *errmsg = NULL;
        goto fail;
    }
    ca->name = strdup(name ? name : "stele-ca");
    ca->msp = msp_create(4096);
    if (!ca->name || !ca->msp || msp_add_ca(ca->msp, NULL, ca->ca_id, ca->key) != STELE_OK) {
        rc = STELE_ERR_NOMEM;
        goto fail;
    }
    arena_destroy(a);
    *out = ca;
    return STELE_OK;
fail:
    arena_destroy(a);
    ca_close(ca);
    return rc;
}

void ca_close(struct ca *ca)
{
    if (!ca)
        return;
    registry_close(ca->reg);
    msp_destroy(ca->msp);
    crypto_key_destroy(ca->key);
    free(ca->name);
    buf_release(&ca->crl.der);
    pthread_mutex_destroy(&ca->lock);
    for (size_t i = 0; i < CA_ID_GUARDS; i++)
        pthread_mutex_destroy(&ca->id_guard[i]);
    pthread_mutex_destroy(&ca->serial_mu);
    pthread_mutex_destroy(&ca->ru_mu);
    free(ca);
}

pthread_mutex_t *ca_id_guard(struct ca *ca, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 16777619u;
    return &ca->id_guard[h % CA_ID_GUARDS];
}

int ca_next_serial(struct ca *ca, uint64_t *out)
{
    int rc = STELE_OK;
    pthread_mutex_lock(&ca->serial_mu);
    if (ca->serial_last == ca->serial_reserved) {
        uint64_t upto = ca->serial_reserved + CA_SERIAL_BLOCK;
        struct registry_batch *b = upto > ca->serial_reserved ? registry_batch_create() : NULL;
        rc = b ? STELE_OK : upto > ca->serial_reserved ? STELE_ERR_NOMEM : STELE_ERR_LIMIT;
        if (b) {
            registry_batch_put_u64(b, "serial", upto);
            rc = registry_commit(ca->reg, b);
        }
        registry_batch_destroy(b);
        if (rc == STELE_OK)
            ca->serial_reserved = upto;
    }
    if (rc == STELE_OK)
        *out = ++ca->serial_last;
    pthread_mutex_unlock(&ca->serial_mu);
    return rc;
}

enum rpc_code ca_commit(struct ca *ca, struct rpc_call *call, struct registry_batch *b)
{
    int rc = registry_commit(ca->reg, b);
    if (rc == STELE_ERR_TOO_BIG)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                              "the id's registry record would exceed 1 MiB; nothing was changed");
    if (rc != STELE_OK)
        return rpc_call_error(call, RPC_INTERNAL, "registry write failed");
    return RPC_OK;
}

enum rpc_code ca_commit_unlock(struct ca *ca, struct rpc_call *call, struct registry_batch *b,
                               enum rpc_code code)
{
    if (code == RPC_OK)
        code = ca_commit(ca, call, b);
    pthread_mutex_unlock(&ca->lock);
    registry_batch_destroy(b);
    return code;
}

/* Refuses (answering the call) a request whose signer's certificate this CA did not issue or
 * has revoked, or whose nonce was used already. With `reenrolled` non-NULL, a certificate
 * superseded by a reenrolment passes, and *reenrolled says so. */
static enum rpc_code signer_fresh(struct ca *ca, struct rpc_call *call,
                                  const struct signed_request *req, bool *reenrolled)
{
    const struct identity *who = &req->signer;
    Stele__CaCertRecord *cert = NULL;
    int rc = registry_get_cert(ca->reg, rpc_call_arena(call), who->certhash, &cert);
    if (rc == STELE_ERR_NOT_FOUND)
        return rpc_call_error(call, RPC_UNAUTHENTICATED,
                              "signer's certificate (serial %llu) was not issued by this CA",
                              (unsigned long long)who->fields.serial);
    if (rc != STELE_OK)
        return rpc_call_error(call, RPC_INTERNAL, "registry: %s", stele_strerror(rc));
    ProtobufCBinaryData u, answer;
    if (cert->revoked && reenrolled &&
        registry_get_reenrolled(ca->reg, rpc_call_arena(call), who->certhash, &u, &answer) ==
            STELE_OK)
        *reenrolled = true;
    else if (cert->revoked)
        return rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "signer \"%s\": certificate serial %llu is revoked", who->id,
                              (unsigned long long)who->fields.serial);
    if (registry_nonce_seen(ca->reg, req->nonce))
        return rpc_call_error(call, RPC_FAILED_PRECONDITION,
                              "replayed request: this nonce was already used");
    return RPC_OK;
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_CA_HOLD="METHOD@SIGNER=MS" holds each
 * request of METHOD signed by the id SIGNER that long once its checks passed, before it takes
 * the CA's lock, so that a test can commit another request (a revocation of that signer) in
 * between. */
static void test_hold(const char *method, const char *signer)
{
#ifdef STELE_TEST_HOOKS
    const char *v = getenv("STELE_TEST_CA_HOLD");
    char want[512];
    int n = snprintf(want, sizeof want, "%s@%s=", method, signer);
    if (v && n > 0 && (size_t)n < sizeof want && strncmp(v, want, (size_t)n) == 0) {
        log_info("ca", "test hold: %s by \"%s\" waits %s ms before the lock", method, signer,
                 v + n);
        clock_sleep_ms(strtoull(v + n, NULL, 10));
    }
#else
    (void)method;
    (void)signer;
#endif
}

enum rpc_code ca_check_signed(struct ca *ca, struct rpc_call *call, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *body_desc, struct ca_signed *out)
{
    const Stele__SignedRequest *sr = (const Stele__SignedRequest *)req;
    const char *method = rpc_call_method(call);
    struct arena *a = rpc_call_arena(call);
    char *err = NULL;
    size_t p = 0, np = sizeof permissions / sizeof permissions[0];
    while (p < np && strcmp(permissions[p].method, method) != 0)
        p++;
    if (p == np)
        return rpc_call_error(call, RPC_INTERNAL, "no permission entry for %s", method);
    uint64_t grace = permissions[p].expired_grace ? ca->set.reenroll_grace_s : 0;
    int rc =
        signed_request_verify(ca->msp, a, sr->request.data, sr->request.len, sr->signature.data,
                              sr->signature.len, method, clock_wall_ms(), grace, &out->req, &err);
    if (rc != STELE_OK) {
        enum rpc_code code = rpc_code_from_status(rc);
        log_info("ca", "%s refused: %s", method, err ? err : stele_strerror(rc));
        rpc_call_error(call, code, "%s", err ? err : stele_strerror(rc));
        free(err);
        return code;
    }
    const struct identity *who = &out->req.signer;
    out->reenrolled = false;
    enum rpc_code code = signer_fresh(
        ca, call, &out->req, strcmp(method, "/stele.CA/Reenroll") == 0 ? &out->reenrolled : NULL);
    if (code != RPC_OK)
        return code;
    if (permissions[p].role && !identity_has_role(who, permissions[p].role))
        return rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "\"%s\" has role \"%s\"; %s needs role \"%s\"", who->id, who->role,
                              method, permissions[p].role);
    out->body = pb_unpack(body_desc, a, out->req.body, out->req.body_len, 0);
    if (!out->body)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "body is not a %s", body_desc->name);
    test_hold(method, who->id);
    return RPC_OK;
}

/* Under ca->lock: refuses a signer whose certificate was revoked or superseded meanwhile (it
 * was checked before the lock: a request committed since may have revoked it), refuses a nonce
 * seen meanwhile, prunes old nonces now and then, and adds this request's nonce to the batch. */
enum rpc_code ca_claim_nonce(struct ca *ca, struct rpc_call *call, const struct ca_signed *s,
                             struct registry_batch *b)
{
    uint64_t now = clock_wall_ms();
    bool again = false; /* a reenrolment sent again stays one (ca_handle_reenroll()) */
    enum rpc_code code = signer_fresh(ca, call, &s->req, s->reenrolled ? &again : NULL);
    if (code != RPC_OK)
        return code;
    if (now - ca->last_prune_ms > 60000) {
        size_t n = 0;
        /* A nonce older than the timestamp window can no longer be accepted anyway. */
        if (registry_prune_nonces(ca->reg, now - 2 * IDENTITY_REQ_WINDOW_MS, &n) == STELE_OK && n)
            log_debug("ca", "pruned %zu replay nonces", n);
        ca->last_prune_ms = now;
    }
    registry_batch_put_nonce(b, s->req.nonce, s->req.timestamp_ms);
    return RPC_OK;
}

int ca_record_add_cert(struct arena *a, Stele__CaIdRecord *rec, Stele__CaCertRef *ref)
{
    Stele__CaCertRef **v = arena_calloc(a, rec->n_certs + 1, sizeof *v);
    if (!v)
        return STELE_ERR_NOMEM;
    if (rec->n_certs)
        memcpy(v, rec->certs, rec->n_certs * sizeof *v);
    v[rec->n_certs++] = ref;
    rec->certs = v;
    return STELE_OK;
}

void ca_record_prune(const struct ca *ca, Stele__CaIdRecord *rec, uint64_t now_s)
{
    size_t k = 0;
    for (size_t i = 0; i < rec->n_certs; i++) {
        const Stele__CaCertRef *c = rec->certs[i];
        /* A revoked certificate signs nothing; a valid one may reenrol during the grace, and
         * must stay revocable while a transaction dated before its expiry is accepted. */
        uint64_t keep = ca->set.reenroll_grace_s > ca_crl_after_expiry_s()
                            ? ca->set.reenroll_grace_s
                            : ca_crl_after_expiry_s();
        uint64_t usable_until = c->revoked ? c->expires_at : c->expires_at + keep;
        if (usable_until > now_s)
            rec->certs[k++] = rec->certs[i];
    }
    rec->n_certs = k;
}

size_t ca_record_superseded(const Stele__CaIdRecord *rec)
{
    size_t n = 0;
    for (size_t i = 0; i < rec->n_certs; i++)
        n += rec->certs[i]->revoked;
    return n;
}

/* True when `who` (an admin) may register or revoke an id of organisation `org`: an admin acts
 * on its own organisation, the CA's bootstrap admin on all of them. Otherwise an admin of one
 * organisation could make admins of another (counted by that organisation's policies) and
 * revoke its peers and admins. */
static bool may_manage(const struct identity *who, const char *org)
{
    return strcmp(who->id, CA_ADMIN_ID) == 0 || strcmp(who->org, org) == 0;
}

int ca_new_id_record(struct ca_settings *set, struct arena *a, const char *id, const char *org,
                     const char *role, const char *secret, bool generated, uint32_t max_enroll,
                     uint64_t validity_s, uint64_t now_s, Stele__CaIdRecord **out)
{
    Stele__CaIdRecord *r = arena_calloc(a, 1, sizeof *r);
    Stele__CaSecretHash *h = arena_calloc(a, 1, sizeof *h);
    struct secret_hash sh;
    if (!r || !h)
        return STELE_ERR_NOMEM;
    int rc = secret_hash(secret, generated, set->pbkdf2_iterations, &sh);
    if (rc != STELE_OK)
        return rc;
    stele__ca_id_record__init(r);
    stele__ca_secret_hash__init(h);
    h->scheme = (char *)sh.scheme;
    h->salt.data = arena_memdup(a, sh.salt, sizeof sh.salt);
    h->salt.len = sizeof sh.salt;
    h->hash.data = arena_memdup(a, sh.hash, sizeof sh.hash);
    h->hash.len = sizeof sh.hash;
    h->iterations = sh.iterations;
    r->id = arena_strdup(a, id);
    r->org = arena_strdup(a, org);
    r->role = arena_strdup(a, role);
    r->max_enrollments = max_enroll ? max_enroll : set->max_enrollments;
    r->validity_seconds = validity_s ? validity_s : set->validity_s;
    r->state = STELE__CA_ID_STATE__CA_ID_REGISTERED;
    r->secret = h;
    r->registered_at = now_s;
    if (!r->id || !r->org || !r->role || !h->salt.data || !h->hash.data)
        return STELE_ERR_NOMEM;
    *out = r;
    return STELE_OK;
}

/* The most octets the signed identity record of an id registered by `r` can take (its
 * certificate, id, org, role and attributes, with the widest issue time and the signature). */
static size_t identity_record_bound(const Stele__RegisterRequest *r)
{
    static uint8_t cert[ECQV_CERT_LEN];
    Stele__IdentityBody b = STELE__IDENTITY_BODY__INIT;
    b.cert.data = cert;
    b.cert.len = sizeof cert;
    b.id = r->id;
    b.org = r->org;
    b.role = r->role;
    b.n_attributes = r->n_attributes;
    b.attributes = r->attributes;
    b.issued_at = UINT64_MAX;
    size_t body = stele__identity_body__get_packed_size(&b);
    return body + 16 + CRYPTO_SIG_LEN; /* Identity {body, ca_signature}: tags and lengths */
}

static enum rpc_code handle_register(struct rpc_call *call, const ProtobufCMessage *req,
                                     ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    struct arena *a = rpc_call_arena(call);
    struct ca_signed s;
    enum rpc_code code = ca_check_signed(ca, call, req, &stele__register_request__descriptor, &s);
    if (code != RPC_OK)
        return code;
    Stele__RegisterRequest *r = (Stele__RegisterRequest *)s.body;
    if (!text_is_name(r->id, 128) || !text_is_name(r->org, 128))
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "id and org must be 1..128 printable characters");
    size_t i = 0;
    while (roles[i] && strcmp(roles[i], r->role) != 0)
        i++;
    if (!roles[i])
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "unknown role \"%s\" (admin, orderer, peer, client, auditor)",
                              r->role);
    if (r->validity_seconds > UINT32_MAX)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "validity too long");
    if (!may_manage(&s.req.signer, r->org))
        return rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "\"%s\" is an admin of organisation \"%s\" and may not register an "
                              "id of organisation \"%s\" (only the CA's admin \"%s\" acts across "
                              "organisations)",
                              s.req.signer.id, s.req.signer.org, r->org, CA_ADMIN_ID);
    for (i = 0; i < r->n_attributes; i++)
        if (!text_is_name(r->attributes[i]->key, 64) || strlen(r->attributes[i]->value) > 256)
            return rpc_call_error(call, RPC_INVALID_ARGUMENT, "bad attribute %zu", i);
    size_t record_len = identity_record_bound(r);
    if (record_len > IDENTITY_MAX_LEN)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "%zu attributes make an identity record of about %zu octets; "
                              "verifiers accept at most %d",
                              r->n_attributes, record_len, IDENTITY_MAX_LEN);
    char gen[SECRET_GENERATED_LEN + 1];
    bool generated = r->secret[0] == 0;
    if (!generated &&
        (strlen(r->secret) < SECRET_CHOSEN_MIN || !text_is_name(r->secret, SECRET_CHOSEN_MAX)))
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "a chosen secret must be %d to %d characters, no control "
                              "characters and no space at either end (leave --secret out to have "
                              "the CA generate one)",
                              SECRET_CHOSEN_MIN, SECRET_CHOSEN_MAX);
    if (generated && secret_generate(gen) != STELE_OK)
        return rpc_call_error(call, RPC_INTERNAL, "cannot generate a secret");
    const char *secret = generated ? gen : r->secret;
    Stele__CaIdRecord *rec;
    int rc = ca_new_id_record(&ca->set, a, r->id, r->org, r->role, secret, generated,
                              r->max_enrollments, r->validity_seconds, clock_wall_s(), &rec);
    if (rc != STELE_OK) {
        OPENSSL_cleanse(gen, sizeof gen);
        return rpc_call_error(call, RPC_INTERNAL, "cannot hash the secret");
    }
    rec->n_attributes = r->n_attributes;
    rec->attributes = r->attributes;
    Stele__RegisterResponse *out = arena_calloc(a, 1, sizeof *out);
    if (out) {
        stele__register_response__init(out);
        out->secret = arena_strdup(a, secret);
    }
    OPENSSL_cleanse(gen, sizeof gen);
    if (!out || !out->secret)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");

    struct registry_batch *b = registry_batch_create();
    if (!b)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    Stele__CaIdRecord *old;
    pthread_mutex_t *g = ca_id_guard(ca, r->id); /* then ca->lock */
    pthread_mutex_lock(g);
    pthread_mutex_lock(&ca->lock);
    rc = registry_get_id(ca->reg, a, r->id, &old);
    if (rc == STELE_OK)
        code = rpc_call_error(call, RPC_ALREADY_EXISTS, "id \"%s\" is already registered", r->id);
    else if (rc != STELE_ERR_NOT_FOUND)
        code = rpc_call_error(call, RPC_INTERNAL, "registry: %s", stele_strerror(rc));
    else
        code = ca_claim_nonce(ca, call, &s, b);
    if (code == RPC_OK) {
        registry_batch_put_id(b, rec);
    }
    code = ca_commit_unlock(ca, call, b, code);
    pthread_mutex_unlock(g);
    if (code != RPC_OK)
        return code;
    log_info("ca", "registered \"%s\" (org %s, role %s) by \"%s\"", r->id, r->org, r->role,
             s.req.signer.id);
    *resp = &out->base;
    return RPC_OK;
}

static enum rpc_code handle_revoke(struct rpc_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    struct arena *a = rpc_call_arena(call);
    struct ca_signed s;
    enum rpc_code code = ca_check_signed(ca, call, req, &stele__revoke_request__descriptor, &s);
    if (code != RPC_OK)
        return code;
    Stele__RevokeRequest *r = (Stele__RevokeRequest *)s.body;
    if (!r->id[0])
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "a revocation needs the id to revoke");
    if (strlen(r->reason) > CA_REASON_MAX)
        return rpc_call_error(
            call, RPC_INVALID_ARGUMENT,
            "the reason is %zu octets; at most %d are allowed (it goes on the CRL)",
            strlen(r->reason), CA_REASON_MAX);
    const struct identity *who = &s.req.signer;
    const char *reason = r->reason[0] ? r->reason : "unspecified";
    Stele__RevokeResponse *out = arena_calloc(a, 1, sizeof *out);
    if (!out)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    stele__revoke_response__init(out);
    struct registry_batch *b = registry_batch_create();
    if (!b)
        return rpc_call_error(call, RPC_INTERNAL, "out of memory");
    Stele__CaIdRecord *rec;
    uint64_t now = clock_wall_s(), crl_number = 0;
    pthread_mutex_t *g = ca_id_guard(ca, r->id); /* then ca->lock */
    pthread_mutex_lock(g);
    pthread_mutex_lock(&ca->lock);
    int rc = registry_get_id(ca->reg, a, r->id, &rec);
    if (rc == STELE_ERR_NOT_FOUND)
        code = rpc_call_error(call, RPC_NOT_FOUND, "no id \"%s\" is registered", r->id);
    else if (rc != STELE_OK)
        code = rpc_call_error(call, RPC_INTERNAL, "registry: %s", stele_strerror(rc));
    else if (!may_manage(who, rec->org))
        code = rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "\"%s\" is an admin of organisation \"%s\" and may not revoke \"%s\" "
                              "of organisation \"%s\" (only the CA's admin \"%s\" acts across "
                              "organisations)",
                              who->id, who->org, rec->id, rec->org, CA_ADMIN_ID);
    else if (strcmp(rec->id, CA_ADMIN_ID) == 0 && strcmp(who->id, CA_ADMIN_ID) != 0)
        code = rpc_call_error(call, RPC_PERMISSION_DENIED,
                              "only the CA's admin \"%s\" may revoke itself", CA_ADMIN_ID);
    else
        code = ca_claim_nonce(ca, call, &s, b);
    if (code == RPC_OK)
        rc = registry_get_u64(ca->reg, "crl_number", &crl_number);
    for (size_t i = 0; code == RPC_OK && i < rec->n_certs; i++) {
        Stele__CaCertRef *c = rec->certs[i];
        if (c->revoked)
            continue;
        c->revoked = true;
        struct identity_revoked e = {
            .serial = c->serial, .id = rec->id, .revoked_at = now, .reason = reason};
        memcpy(e.certhash, c->certhash.data, 32);
        Stele__CaCertRecord cr = STELE__CA_CERT_RECORD__INIT;
        cr.id = rec->id;
        cr.serial = c->serial;
        cr.revoked = true;
        registry_batch_put_cert(b, e.certhash, &cr);
        registry_batch_put_revoked(b, &e, c->expires_at);
        out->revoked++;
    }
    if (code == RPC_OK) {
        /* A revoked id never uses a certificate again (its state says so), so its record keeps
         * none. That also shrinks a record grown past the size cap before there was one, so
         * that its revocation can always be written. */
        rec->n_certs = 0;
        rec->state = STELE__CA_ID_STATE__CA_ID_REVOKED;
        registry_batch_put_id(b, rec);
        if (out->revoked)
            crl_number++;
        registry_batch_put_u64(b, "crl_number", crl_number);
        out->crl_number = crl_number;
        if (rc != STELE_OK)
            code = rpc_call_error(call, RPC_INTERNAL, "registry write failed");
    }
    code = ca_commit_unlock(ca, call, b, code);
    pthread_mutex_unlock(g);
    if (code != RPC_OK)
        return code;
    log_info("ca", "revoked \"%s\" (%u certificates, reason %s) by \"%s\"", r->id, out->revoked,
             reason, who->id);
    *resp = &out->base;
    return RPC_OK;
}

/* The CRL: the one last signed while it is the current number and has at least half its
 * validity left, else a new one. Under ca->lock, where every revocation commits, so the list
 * and the number it is signed with always belong together. */
static enum rpc_code handle_crl(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    struct arena *a = rpc_call_arena(call);
    struct identity_revoked *e;
    size_t n;
    uint64_t number, now = clock_wall_s();
    pthread_mutex_lock(&ca->lock);
    int rc = registry_get_u64(ca->reg, "crl_number", &number);
    bool fresh = rc == STELE_OK && ca->crl.der.len && ca->crl.number == number &&
                 now >= ca->crl.this_update &&
                 now - ca->crl.this_update < ca->set.crl_validity_s / 2;
    if (rc == STELE_OK && !fresh) {
        struct buf crl = {0};
        /* A revoked certificate stays listed ca_crl_after_expiry_s() after it expires; its
         * entries are deleted once it can neither be listed nor sign a reenrolment. */
        uint64_t after = ca_crl_after_expiry_s();
        uint64_t gone = after > ca->set.reenroll_grace_s ? after : ca->set.reenroll_grace_s;
        size_t pruned = 0;
        if (now > gone && registry_prune_revoked(ca->reg, now - gone, &pruned) == STELE_OK &&
            pruned)
            log_info("ca", "dropped %zu revoked certificates expired before the CRL needs them",
                     pruned);
        rc = registry_list_revoked(ca->reg, a, now > after ? now - after : 0, &e, &n);
        if (rc == STELE_OK)
            rc = crl_issue(ca->key, ca->ca_id, number, now, now + ca->set.crl_validity_s, e, n,
                           &crl);
        if (rc == STELE_OK && crl.len > IDENTITY_CRL_MAX_LEN) {
            log_error("ca",
                      "the CRL of %zu certificates is %zu octets, over the %u a verifier "
                      "accepts",
                      n, crl.len, IDENTITY_CRL_MAX_LEN);
            rc = STELE_ERR_TOO_BIG;
        }
        if (rc == STELE_OK) {
            buf_release(&ca->crl.der);
            ca->crl.der = crl;
            ca->crl.number = number;
            ca->crl.this_update = now;
        } else {
            buf_release(&crl);
        }
    }
    /* the answer's own copy: the cache may be replaced while it is sent */
    uint8_t *der = rc == STELE_OK ? arena_memdup(a, ca->crl.der.data, ca->crl.der.len) : NULL;
    size_t der_len = ca->crl.der.len;
    pthread_mutex_unlock(&ca->lock);
    Stele__Crl *out =
        der ? (Stele__Crl *)pb_unpack(&stele__crl__descriptor, a, der, der_len, 0) : NULL;
    if (rc != STELE_OK)
        return rpc_call_error(call, RPC_INTERNAL, "cannot build the CRL: %s", stele_strerror(rc));
    if (!out)
        return rpc_call_error(call, RPC_INTERNAL, "CRL does not decode");
    *resp = &out->base;
    return RPC_OK;
}

static enum rpc_code handle_info(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    struct ca *ca = arg;
    Stele__CaInfo *out = arena_calloc(rpc_call_arena(call), 1, sizeof *out);
    if (!out)
        return RPC_INTERNAL;
    stele__ca_info__init(out);
    out->ca_id = ca->ca_id;
    out->name = ca->name;
    out->public_key.data = ca->pub;
    out->public_key.len = sizeof ca->pub;
    out->version = (char *)STELE_VERSION;
    *resp = &out->base;
    return RPC_OK;
}

const char *const ca_method_names[CA_M_N] = {"Register", "Enroll", "Reenroll",
                                             "Revoke",   "GetCRL", "GetInfo"};

static const rpc_handler_fn handlers[CA_M_N] = {
    handle_register, ca_handle_enroll, ca_handle_reenroll, handle_revoke, handle_crl, handle_info};

/* Runs the method's handler and counts its answer (ca_metrics()). */
static enum rpc_code counted(struct rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *arg)
{
    struct ca_method_slot *slot = arg;
    enum rpc_code code = handlers[slot->m](call, req, resp, slot->ca);
    atomic_fetch_add_explicit(code == RPC_OK ? &slot->ca->answered[slot->m]
                                             : &slot->ca->refused[slot->m],
                              1, memory_order_relaxed);
    return code;
}

int ca_service_register(struct ca *ca, struct rpc_server *s)
{
    for (int m = 0; m < CA_M_N; m++)
        ca->slots[m] = (struct ca_method_slot){ca, (enum ca_method)m};
    const struct rpc_method methods[] = {
        {.path = M_REGISTER,
         .kind = RPC_UNARY,
         .request = &stele__signed_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_REGISTER]},
        {.path = M_ENROLL,
         .kind = RPC_UNARY,
         .request = &stele__enroll_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_ENROLL]},
        {.path = M_REENROLL,
         .kind = RPC_UNARY,
         .request = &stele__signed_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_REENROLL]},
        {.path = M_REVOKE,
         .kind = RPC_UNARY,
         .request = &stele__signed_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_REVOKE]},
        {.path = M_CRL,
         .kind = RPC_UNARY,
         .request = &stele__crl_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_CRL]},
        {.path = M_INFO,
         .kind = RPC_UNARY,
         .request = &stele__ca_info_request__descriptor,
         .handler = counted,
         .arg = &ca->slots[CA_M_INFO]},
    };
    return rpc_server_add(s, methods, sizeof methods / sizeof methods[0]);
}
