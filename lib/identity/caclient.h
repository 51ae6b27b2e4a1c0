/*
 * caclient.h — the client side of the stele.CA protocol, for every program that enrols
 * identities or signs CA requests (stele-ca's commands, stele-bench, the network launcher).
 *
 * Enrolment: the requester makes k_U locally, sends R_U, and accepts the answer only if ECQV
 * reception yields a key pair (d_U·G == e·P_U + Q_CA) and the CA-signed record verifies and
 * names the same certificate. The private key never leaves the caller.
 */
#ifndef STELE_IDENTITY_CACLIENT_H
#define STELE_IDENTITY_CACLIENT_H

#include "base/buf.h"
#include "crypto/ecqv.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "rpc/rpc.h"

#include <stdint.h>

/* A verified enrolment, caller-owned: release with caclient_enrolled_release(). */
struct caclient_enrolled {
    struct crypto_key *key;      /* the private key d_U */
    struct crypto_key *ca_pub;   /* the CA's public key Q_CA */
    uint8_t cert[ECQV_CERT_LEN]; /* CertU */
    struct buf identity;         /* the serialized, CA-signed Identity record */
    uint64_t ca_id;              /* the CA's id */
    struct identity id;          /* decoded record; its strings live in `arena` */
    struct arena *arena;         /* owns id's memory */
};

/* Enrols `id` with `secret` over `ch`. With `pin` non-NULL the CA's key must equal it.
 * Returns STELE_OK with *out filled; otherwise the stele status, with `res` holding the CA's
 * gRPC answer for RPC failures, or *errmsg (malloc'd) for a response that does not check. */
int caclient_enroll(struct rpc_channel *ch, const char *id, const char *secret,
                    const struct crypto_key *pin, struct caclient_enrolled *out,
                    struct rpc_result *res, char **errmsg);

/* Reenrols the identity in `e` (a request signed with its current key; the CA's key must be
 * e->ca_pub). Same results as caclient_enroll(). With `pending_dir` non-NULL, the new key
 * request k_U is kept there (reenroll-<certhash of e's certificate>.pem, mode 0600, created
 * exclusively and synced, the directory too) before it is sent; when that file exists, its key
 * is asked with again: a CA that answered that request already (the answer was lost, e's
 * certificate superseded) sends the same answer again. A key is only ever asked with under the
 * certificate its file is named after. Call caclient_reenroll_done() once the new identity is
 * saved. */
int caclient_reenroll(struct rpc_channel *ch, const struct enrolment *e, const char *pending_dir,
                      struct caclient_enrolled *out, struct rpc_result *res, char **errmsg);

/* Deletes the key kept in `pending_dir` for a reenrolment signed by e's certificate (with the
 * CA's answer, it is the new identity's private key), and what a crash left of its making.
 * Returns STELE_OK, or STELE_ERR_IO when something is left. */
int caclient_reenroll_done(const char *pending_dir, const struct enrolment *e);

/* Writes `en` as an enrolment directory (see enrolment_save()). */
int caclient_save(const struct caclient_enrolled *en, const char *dir, char **errmsg);

/* Frees what caclient_enroll() filled. Accepts a zeroed struct. */
void caclient_enrolled_release(struct caclient_enrolled *en);

/* Sends `body` to `method` as a SignedRequest signed by enrolment `e` (timestamp now, fresh
 * nonce). On STELE_OK *resp is the decoded answer (pb_free()). `res` gets code and detail. */
int caclient_signed_call(struct rpc_channel *ch, const struct enrolment *e, const char *method,
                         const ProtobufCMessage *body, const ProtobufCMessageDescriptor *resp_desc,
                         ProtobufCMessage **resp, struct rpc_result *res);

#endif
