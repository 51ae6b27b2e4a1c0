/*
 * auth.h — who may talk to this orderer: the one place that judges a creator.
 *
 * Broadcast and Deliver hand it an envelope's creator bytes, the payload bytes and the
 * signature; it answers whether the creator is a member allowed to do that action and whether
 * the signature is theirs over exactly those bytes. The rest of the orderer never looks inside
 * a creator, so moving from the interim trust list to lib/identity (ECQV identity records
 * checked against the CA keys, validity, CRL, roles) replaces one file: auth_*.c.
 *
 * The interim implementation (auth_trustlist.c): a creator is the SEC 1 compressed public key
 * (33 octets) of a key listed in the configuration; every listed key may broadcast and
 * deliver.
 */
#ifndef STELE_ORDERER_AUTH_H
#define STELE_ORDERER_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct crypto_key;
struct orderer_auth;

/* What a creator asks to do. */
enum orderer_auth_action {
    ORDERER_AUTH_BROADCAST, /* submit a transaction for ordering (writers) */
    ORDERER_AUTH_DELIVER,   /* read blocks (readers) */
};

/* Membership configuration, filled from the orderer's config file (section `membership`). */
struct orderer_auth_config {
    char **trusted_keys;   /* hex SEC 1 public keys of the members (interim trust list) */
    size_t n_trusted_keys; /* entries in trusted_keys */
};

/* Builds the checker from `cfg` (only read). Returns STELE_OK with *out set (free with
 * orderer_auth_destroy()), or STELE_ERR_CONFIG with *errmsg (malloc'd; may be NULL) naming the
 * bad entry, or STELE_ERR_NOMEM. */
int orderer_auth_create(const struct orderer_auth_config *cfg, struct orderer_auth **out,
                        char **errmsg);

/* Frees the checker. Accepts NULL. */
void orderer_auth_destroy(struct orderer_auth *a);

/* Checks that `creator` (untrusted, creator_len octets) may do `action` and that `sig`
 * (sig_len octets, untrusted) is its signature over the `msg_len` octets at `msg`. Returns
 * STELE_OK; STELE_ERR_PERMISSION (not a member, or a role without the right),
 * STELE_ERR_REVOKED, STELE_ERR_EXPIRED, STELE_ERR_MALFORMED (creator does not decode) or
 * STELE_ERR_AUTH (bad signature), each with *why (may be NULL) set to a static sentence.
 * Thread-safe. */
int orderer_auth_check(struct orderer_auth *a, enum orderer_auth_action action,
                       const uint8_t *creator, size_t creator_len, const uint8_t *msg,
                       size_t msg_len, const uint8_t *sig, size_t sig_len, const char **why);

/* The creator bytes this orderer puts in headers it signs with `key` (its own identity record
 * when `identity` is non-empty, else the compressed public key), appended to *out (malloc'd,
 * caller frees) with *out_len. Returns STELE_OK or STELE_ERR_NOMEM. */
int orderer_auth_self_creator(const struct crypto_key *key, const uint8_t *identity,
                              size_t identity_len, uint8_t **out, size_t *out_len);

#endif
