/*
 * auth.h — who may talk to this orderer: the one place that judges a creator.
 *
 * Broadcast and Deliver hand it an envelope's creator bytes, the payload bytes and the
 * signature; it answers whether the creator is a member allowed to do that action and whether
 * the signature is theirs over exactly those bytes. The rest of the orderer never looks inside
 * a creator.
 *
 * The implementation (auth_identity.c) uses lib/identity: a creator is a serialized
 * stele.Identity record, verified against the trusted CA keys — those of `membership.cas`, or
 * when it lists none those of the genesis block's organisations, each for its organisation (CA
 * signature, organisation and issuer, validity period now, the CA's CRL when one is
 * configured); its role must be listed for the action; the signature is checked with the
 * identity's ECQV-extracted public key (cached by certhash).
 */
#ifndef STELE_ORDERER_AUTH_H
#define STELE_ORDERER_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct orderer_auth;

/* What a creator asks to do. */
enum orderer_auth_action {
    ORDERER_AUTH_BROADCAST, /* submit a transaction for ordering (writers) */
    ORDERER_AUTH_DELIVER,   /* read blocks (readers) */
};

/* One trusted CA (a `membership.cas` entry). */
struct orderer_auth_ca {
    char *public_key; /* path of the CA's SEC 1 public key file (ca.pub) */
    char *org;        /* organisation it issues for; NULL = any */
    uint64_t ca_id;   /* issuer id expected in certificates; 0 = any */
    char *crl;        /* path of its latest serialized stele.Crl, installed at start; or NULL */
};

/* Membership configuration, filled from the orderer's config file (section `membership`). */
struct orderer_auth_config {
    struct orderer_auth_ca *cas; /* trusted CAs; none: those added with orderer_auth_add_ca() */
    size_t n_cas;                /* entries in cas */
    char **broadcast_roles;      /* roles that may Broadcast; none listed = client, peer, admin */
    size_t n_broadcast_roles;    /* entries in broadcast_roles */
    char **deliver_roles;        /* roles that may Deliver; none listed = peer, orderer,
                                    auditor, admin, client */
    size_t n_deliver_roles;      /* entries in deliver_roles */
};

/* Builds the checker from `cfg`, which must outlive it (role lists are not copied). Returns
 * STELE_OK with *out set (free with orderer_auth_destroy()), or STELE_ERR_CONFIG with *errmsg
 * (malloc'd; may be NULL) naming the bad file, or STELE_ERR_NOMEM. */
int orderer_auth_create(const struct orderer_auth_config *cfg, struct orderer_auth **out,
                        char **errmsg);

/* Trusts one more CA: `key` (key_len octets, SEC 1) for identities of organisation `org` (NULL:
 * any). The orderer adds the CA keys of its genesis block's organisations this way when
 * `membership.cas` is empty. Call before the first orderer_auth_check(). Returns STELE_OK,
 * STELE_ERR_MALFORMED (not a P-256 point) or STELE_ERR_NOMEM. */
int orderer_auth_add_ca(struct orderer_auth *a, const char *org, const uint8_t *key,
                        size_t key_len);

/* Frees the checker. Accepts NULL. */
void orderer_auth_destroy(struct orderer_auth *a);

/* Checks that `creator` (untrusted, creator_len octets) may do `action` and that `sig`
 * (sig_len octets, untrusted) is its signature over the `msg_len` octets at `msg`. Returns
 * STELE_OK; STELE_ERR_MALFORMED (creator is not an identity record), STELE_ERR_PERMISSION (no
 * trusted CA issued it, or its role may not do this), STELE_ERR_REVOKED, STELE_ERR_EXPIRED or
 * STELE_ERR_AUTH (bad signature), each with *why (may be NULL) set to a static sentence; or
 * STELE_ERR_NOMEM. Thread-safe. */
int orderer_auth_check(struct orderer_auth *a, enum orderer_auth_action action,
                       const uint8_t *creator, size_t creator_len, const uint8_t *msg,
                       size_t msg_len, const uint8_t *sig, size_t sig_len, const char **why);

/* Installs the serialized CRL `crl` (`len` untrusted octets) after checking that a trusted CA
 * signed it and that it is newer than the one installed for that CA. Returns STELE_OK,
 * STELE_ERR_STATE (not newer), or msp_set_crl()'s errors with *errmsg (malloc'd; may be NULL).
 * Thread-safe. */
int orderer_auth_install_crl(struct orderer_auth *a, const uint8_t *crl, size_t len, char **errmsg);

/* orderer_auth_check() without the signature: whether `creator` may still do `action` now
 * (trusted CA, validity period, CRL, role). For a Deliver stream, which re-checks its reader
 * before each block. Returns as orderer_auth_check(), never STELE_ERR_AUTH. Thread-safe. */
int orderer_auth_check_identity(struct orderer_auth *a, enum orderer_auth_action action,
                                const uint8_t *creator, size_t creator_len, const char **why);

#endif
