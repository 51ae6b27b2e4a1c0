/*
 * ca.h — the parts of stele-ca shared by its files: the running CA (key, registry, settings)
 * and the subcommands main.c dispatches to.
 */
#ifndef STELE_CA_CA_H
#define STELE_CA_CA_H

#include "crypto/key.h"
#include "identity/identity.h"
#include "registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct rpc_server;
struct rpc_call;

/* The bootstrap admin `init` registers. It alone may register and revoke ids of every
 * organisation (stele-network registers everyone with it); every other admin acts on its own
 * organisation only, and nobody else may revoke it (service.c may_manage()). */
#define CA_ADMIN_ID "admin"

/* Certificates start this long before the CA's clock (their end stays issued + validity), so
 * that a verifier whose clock is behind the CA's by up to this much accepts a new identity at
 * once; X.509 CAs backdate by the same five minutes. */
#define CA_BACKDATE_S 300
/* At most this many superseded certificates not yet expired per id: each stays on the CRL until
 * it expires, so a reenrolment beyond it is refused until the oldest expires. Bounds the id's
 * record and its share of the CRL. */
#define CA_MAX_SUPERSEDED 32
/* The longest revocation reason, in octets (it is on the CRL for the certificate's lifetime). */
#define CA_REASON_MAX 256

/* How long after a revoked certificate expires the CRL still lists it (seconds). Peers judge an
 * identity at its transaction's timestamp, and orderers and peers accept a timestamp up to
 * ENVELOPE_TIME_WINDOW_MS in the past: a revoked certificate must stay listed that long after it
 * expires, plus CA_BACKDATE_S for a node whose clock is behind the CA's, or it could sign a
 * transaction dated just before its expiry and have it accepted. Test builds may shorten it
 * (STELE_TEST_CA_CRL_AFTER_EXPIRY_S). */
uint64_t ca_crl_after_expiry_s(void);

/* What an operator tunes (configs/ca.yaml). */
struct ca_settings {
    uint64_t validity_s;        /* default certificate validity */
    uint32_t max_enrollments;   /* default enrolments per id */
    uint32_t pbkdf2_iterations; /* for secrets chosen by an admin */
    uint32_t attempt_limit;     /* consecutive wrong secrets before a lockout */
    uint64_t lockout_ms;        /* how long a locked id stays locked */
    uint64_t crl_validity_s;    /* CRL next_update - this_update */
    uint64_t reenroll_grace_s;  /* an expired identity may still reenrol this long */
};

/* Defaults of every setting (the values configs/ca.yaml documents). */
void ca_settings_default(struct ca_settings *s);

/* A running CA. */
#define CA_ID_GUARDS    64
#define CA_RU_BUSY      256  /* key requests being issued at once (ca_hold_request()) */
#define CA_SERIAL_BLOCK 1024 /* serials reserved in the registry at a time */

/* stele.CA's methods, in the order of ca_method_names (metrics). */
enum ca_method {
    CA_M_REGISTER,
    CA_M_ENROLL,
    CA_M_REENROLL,
    CA_M_REVOKE,
    CA_M_CRL,
    CA_M_INFO,
    CA_M_N
};
extern const char *const ca_method_names[CA_M_N];

struct ca;
/* What a method's counting wrapper needs (service.c). */
struct ca_method_slot {
    struct ca *ca;
    enum ca_method m;
};

struct ca {
    struct ca_settings set;                   /* settings */
    struct crypto_key *key;                   /* d_CA and Q_CA */
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN]; /* Q_CA, SEC 1 compressed */
    uint64_t ca_id;                           /* random 64-bit id, the CertU issuer id */
    char *name;                               /* CA name (malloc'd) */
    struct registry *reg;                     /* DIR/registry */
    struct msp *msp; /* trusts this CA only: checks signers of signed requests */
    /* What several ids share: the revocation list and crl_number, the `revoked` flag of
     * cert records (which ca_claim_nonce() reads for any signer), replay nonces, the CRL
     * cache. Taken after an id guard, never before one. */
    pthread_mutex_t lock;
    /* Id guards, striped by a hash of the id (ca_id_guard()): a request holds the guard of
     * the id whose record it writes from reading the record to committing it. Enrol attempts
     * for one id so run one at a time (a guess sees the failures counted before it, and the
     * lockout they caused, before its slow hash), and enrolments of different ids commit
     * concurrently. */
    pthread_mutex_t id_guard[CA_ID_GUARDS];
    pthread_mutex_t serial_mu;       /* guards the two below (ca_next_serial()) */
    uint64_t serial_last;            /* the last serial issued */
    uint64_t serial_reserved;        /* the registry's "serial": none above it was issued */
    uint64_t last_prune_ms;          /* when replay nonces were last pruned (under lock) */
    pthread_mutex_t ru_mu;           /* guards the two below (ca_hold_request()); taken last */
    uint8_t ru_busy[CA_RU_BUSY][32]; /* x-coordinates of the key requests being issued */
    size_t n_ru_busy;
    struct {                  /* the last CRL signed (under lock; service.c handle_crl()) */
        uint64_t number;      /* its crl_number */
        uint64_t this_update; /* when it was signed (seconds) */
        struct buf der;       /* serialized stele.Crl; empty: none yet */
    } crl;
    struct ca_method_slot slots[CA_M_N];   /* the handlers' args (ca_service_register()) */
    atomic_uint_fast64_t answered[CA_M_N]; /* calls answered OK, by method */
    atomic_uint_fast64_t refused[CA_M_N];  /* calls answered with an error, by method */
};

/* The operations endpoint's metrics of the CA (metrics.c; lib/ops/ops.h): requests answered
 * and refused by method, the last CRL's number, the gRPC server `srv` and the process. */
struct rpc_server;
int ca_metrics(struct ca *ca, struct rpc_server *srv, struct buf *out);

/* Opens the CA in `dir` (key, registry, id, name). Returns STELE_OK or an error with *errmsg. */
int ca_open(const char *dir, const struct ca_settings *s, struct ca **out, char **errmsg);
/* Closes it. Accepts NULL. */
void ca_close(struct ca *ca);
/* Registers stele.CA's methods on `s`. */
int ca_service_register(struct ca *ca, struct rpc_server *s);

/* The guard of `id` (one of ca->id_guard, by a hash of the id). Every request that writes an
 * id record holds its guard from reading the record to committing it, so requests for
 * different ids commit concurrently (LevelDB then groups their synced writes); lock order:
 * an id guard, then ca->lock, then serial_mu. */
pthread_mutex_t *ca_id_guard(struct ca *ca, const char *id);

/* Marks the key request R_U (`len` octets, SEC 1) as being issued, from before ca_issue()
 * checks that it was never issued until its batch is committed or dropped, so that two
 * requests with one key, for different ids (whose guards differ), cannot both pass that check
 * (ca_issue(): a key request is issued one certificate, ever). Returns STELE_OK (release with
 * ca_drop_request()), STELE_ERR_EXISTS when another request with that key is being issued, or
 * STELE_ERR_LIMIT when CA_RU_BUSY are. */
int ca_hold_request(struct ca *ca, const uint8_t *r_u, size_t len);
void ca_drop_request(struct ca *ca, const uint8_t *r_u, size_t len);

/* The next certificate serial. Serials are reserved in the registry CA_SERIAL_BLOCK at a time
 * (a synced write), so a crash only skips some. Returns STELE_OK or the registry's error. */
int ca_next_serial(struct ca *ca, uint64_t *out);

/* Handlers of enrol.c, registered by service.c. */
enum rpc_code ca_handle_enroll(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg);
enum rpc_code ca_handle_reenroll(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg);

/* What a signed request handler has checked (service.c). */
struct ca_signed {
    struct signed_request req; /* signer, nonce, body */
    ProtobufCMessage *body;    /* the body decoded as the method's message, in the call arena */
    bool reenrolled; /* Reenroll only: the signer's certificate was superseded by a reenrolment
                        (registry reenr/): only that request sent again may pass */
};
/* Verifies a SignedRequest for the method being called: signer identity (issued by this CA,
 * within validity — or within the reenrol grace when `grace`), not revoked in the registry
 * (for Reenroll, superseded by a reenrolment is let through with out->reenrolled set),
 * signature, method, timestamp, role from the permission table, nonce not seen — and decodes
 * the body as a `body_desc` message into out->body. Answers the call's error itself: returns
 * RPC_OK or the code to return. */
enum rpc_code ca_check_signed(struct ca *ca, struct rpc_call *call, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *body_desc, struct ca_signed *out);

/* Commits `b` (synced), answering the call's error when that fails: RESOURCE_EXHAUSTED when a
 * record would be too large (nothing is written), else INTERNAL. Returns RPC_OK or the code. */
enum rpc_code ca_commit(struct ca *ca, struct rpc_call *call, struct registry_batch *b);
/* Ends a request's critical section: commits `b` (ca_commit()) when `code` is RPC_OK, then
 * releases ca->lock and frees `b`. Returns the code the
 * handler returns. */
enum rpc_code ca_commit_unlock(struct ca *ca, struct rpc_call *call, struct registry_batch *b,
                               enum rpc_code code);

/* Under ca->lock: refuses a signer whose certificate was revoked meanwhile and a nonce used
 * meanwhile (answering the call), prunes old nonces now and then, and adds this request's
 * nonce to the batch. Every signed request that changes the registry calls it. Returns RPC_OK
 * or the code to return. */
enum rpc_code ca_claim_nonce(struct ca *ca, struct rpc_call *call, const struct ca_signed *s,
                             struct registry_batch *b);

/* Copies a record's repeated certs into an arena array with one more slot (for appending). */
int ca_record_add_cert(struct arena *a, Stele__CaIdRecord *rec, Stele__CaCertRef *ref);
/* Drops from a record the certificates that can no longer be used at `now_s`: superseded or
 * revoked ones once expired, others once expired for longer than the reenrol grace (and than
 * ca_crl_after_expiry_s(), so that a revocation still lists them while that matters). What is
 * left is what a revocation must still revoke and what CA_MAX_SUPERSEDED counts. */
void ca_record_prune(const struct ca *ca, Stele__CaIdRecord *rec, uint64_t now_s);
/* How many certificates of the record are superseded or revoked. */
size_t ca_record_superseded(const Stele__CaIdRecord *rec);

/* Validates an R_U from the wire; answers INVALID_ARGUMENT itself on error. */
enum rpc_code ca_check_r_u(struct rpc_call *call, const uint8_t *r_u, size_t len);

/* Issues a certificate and identity record for `rec` (an id record read under its id guard)
 * from R_U with the next serial (ca_next_serial()); appends the cert record to the batch and
 * updates `rec` (cert appended, state enrolled). The certificate is valid from
 * now_s - CA_BACKDATE_S to now_s + the id's validity. Fills `resp` (bytes in `a`). Caller
 * holds the id's guard. Returns STELE_OK, STELE_ERR_EXISTS (a certificate was issued for this
 * key request, or its negation, before: registry ru/), STELE_ERR_TOO_BIG or another error. */
int ca_issue(struct ca *ca, struct arena *a, Stele__CaIdRecord *rec, const uint8_t *r_u,
             size_t r_u_len, struct registry_batch *b, uint64_t now_s, void *resp);

/* Builds a new id record in `a`. `secret` is hashed (HMAC when generated, else PBKDF2). */
int ca_new_id_record(struct ca_settings *set, struct arena *a, const char *id, const char *org,
                     const char *role, const char *secret, bool generated, uint32_t max_enroll,
                     uint64_t validity_s, uint64_t now_s, Stele__CaIdRecord **out);

/* Subcommands. */
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_register(int argc, char **argv);
int cmd_reenroll(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_crl(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tls_ca(int argc, char **argv);
int cmd_tls_issue(int argc, char **argv);

#endif
