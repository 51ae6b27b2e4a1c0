/*
 * lifecycle.h — the `_lifecycle` system chaincode (proto/stele/lifecycle.proto): the rules of
 * chaincode definitions, shared by the endorser (which runs it natively, not in a sandbox) and
 * the validator (which re-derives every `_lifecycle` transaction's writes and decision from its
 * arguments and the state, so no endorsement policy is involved).
 *
 * Functions (argument 0 is a serialized ChaincodeDefinition in both):
 *   approve  the creator is an admin (role "admin") of a channel organisation O; the
 *            definition is well formed (lifecycle_definition_open()) and its sequence is the
 *            committed one + 1; writes approval/<name>/<sequence>/<O> = the definition's hash in
 *            hex (64 octets), replacing what O approved for that sequence before, and reads
 *            definition/<name>.
 *   commit   the creator is an admin of a channel organisation; the definition is well formed,
 *            its sequence is the committed one + 1, and admins of more than half of the
 *            channel's organisations approved exactly it, as their latest approval for that
 *            sequence (approval/<name>/<sequence>/<O> holds its hash); writes
 *            definition/<name> = the definition's canonical bytes and reads definition/<name>.
 *   definition  (query) NAME: the committed definition's bytes, 404 when none.
 *   readiness   (query, any member) DEFINITION: for a well-formed definition whose sequence is
 *            the committed one + 1, a serialized CommitReadiness (lifecycle.proto): each
 *            channel organisation and whether its latest approval for that sequence is exactly
 *            this definition; what commit would count.
 *   crl      SIGNED_CRL (a serialized stele.Crl, as `stele-ca crl --out` writes it): the
 *            creator is an admin of a channel organisation; the CRL decodes, its entries name
 *            32-octet certificate hashes, it is signed by a CA key of a channel organisation,
 *            and its number is greater than that of the CRL the ledger holds for that CA;
 *            writes crl/<hex of the CA key> = the CRL and reads that key. Peers install the
 *            CRLs of the ledger (kvledger.h) after the block that writes them, so revocation
 *            takes effect at the same block on every peer.
 * Endorsers also refuse (400) to approve, commit or answer readiness for a definition whose
 * policy names an organisation the channel does not have (lifecycle_state.endorsing):
 * validators do not judge that, so blocks committed before the rule validate as they did.
 * The hash of a definition is SHA-256 of its canonical bytes: the decoded message packed again
 * (protobuf-c packs fields in number order, so two equal definitions give equal bytes).
 */
#ifndef STELE_LEDGER_LIFECYCLE_H
#define STELE_LEDGER_LIFECYCLE_H

#include "stele/channel.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

#define LIFECYCLE_NS             "_lifecycle"
#define LIFECYCLE_DEFINITION_PFX "definition/"
#define LIFECYCLE_APPROVAL_PFX   "approval/"
#define LIFECYCLE_CRL_PFX        "crl/"
#define LIFECYCLE_MAX_VERSION    64

/* True when `v` is a chaincode version, in a definition or a package: 1..LIFECYCLE_MAX_VERSION
 * printable ASCII characters without spaces (nothing a log line or a terminal would act on). */
bool lifecycle_version_ok(const char *v);

/* Checks an endorsement policy against the channel `cfg`: it parses, and every organisation
 * it names is one of the channel's (names are case-sensitive: a policy naming "Org1" on a
 * channel of "org1" could never be satisfied). Returns STELE_OK, STELE_ERR_MALFORMED (does not
 * parse), STELE_ERR_NOT_FOUND with the first unknown organisation in unknown[0..len) (cut to
 * fit, NUL-terminated), or STELE_ERR_NOMEM. */
int lifecycle_policy_check(const Stele__ChannelConfig *cfg, const char *policy, char *unknown,
                           size_t len);

/* The rule a commit is judged by: cfg->lifecycle_policy when cfg->lifecycle_version >= 1
 * and it is not empty, else "MAJORITY Admins" (channels created before 2026-12-06 keep the
 * rule their blocks were validated by). Points into cfg or a literal. */
const char *lifecycle_commit_policy(const Stele__ChannelConfig *cfg);

/* Whether the organisations marked in approved[0..cfg->n_organisations) (the admins of each
 * approved the definition as their latest approval for its sequence) may commit it under
 * lifecycle_commit_policy(cfg): "MAJORITY Admins" (the default, also for an empty policy: more
 * than half of the organisations), "ANY Admins", "ALL Admins", or a policy over principals
 * ORG.admin such as "AND(org1.admin, OutOf(1, org2.admin, org3.admin))" (an organisation that
 * approved counts as one signer of role admin). Returns STELE_OK with *ok; STELE_ERR_MALFORMED
 * for a policy that does not parse (genesis_check() refuses it), or STELE_ERR_NOMEM. */
int lifecycle_commit_allowed(const Stele__ChannelConfig *cfg, const bool *approved, bool *ok);

/* Checks a channel's lifecycle_policy (as lifecycle_commit_allowed() reads it; not at all for
 * lifecycle_version 0, which does not read it): one of the implicit forms, or a policy naming
 * only the channel's organisations that their admins can satisfy. Returns STELE_OK, or
 * STELE_ERR_MALFORMED / STELE_ERR_NOT_FOUND / STELE_ERR_PERMISSION (never satisfied) with
 * why[0..len), or STELE_ERR_NOMEM. */
int lifecycle_commit_policy_check(const Stele__ChannelConfig *cfg, char *why, size_t len);

/* An opened definition. Pointers live in the arena given to lifecycle_definition_open(). */
struct lifecycle_def {
    const Stele__ChaincodeDefinition *def; /* decoded */
    ProtobufCBinaryData canonical;         /* its canonical bytes */
    uint8_t hash[32];                      /* SHA-256 of them */
};

/* Decodes the untrusted `len` octets at `data` as a ChaincodeDefinition and checks it: a valid
 * chaincode name not starting with '_', a version of 1..LIFECYCLE_MAX_VERSION printable
 * characters, sequence >= 1, a 32-octet package hash, a policy of at most GENESIS_MAX_POLICY
 * octets without control characters that parses (lib/policy).
 * Returns STELE_OK, STELE_ERR_MALFORMED with *why (a static sentence), STELE_ERR_NOMEM or
 * STELE_ERR_CRYPTO. */
int lifecycle_definition_open(struct arena *a, const uint8_t *data, size_t len,
                              struct lifecycle_def *out, const char **why);

/* "definition/<name>" and "approval/<name>/<seq>/<org>", in `a`; NULL on OOM. */
char *lifecycle_definition_key(struct arena *a, const char *name);
char *lifecycle_approval_key(struct arena *a, const char *name, uint64_t seq, const char *org);

/* "crl/<hex of the CA's SEC 1 key>", in `a`; NULL on OOM. */
char *lifecycle_crl_key(struct arena *a, const uint8_t *ca_key, size_t len);

/* The state lifecycle_execute() reads: the committed definition of a chaincode (get), and
 * the approvals (current). Both return STELE_OK or an error (STELE_ERR_IO, ...). */
struct lifecycle_state {
    /* *found and, when found, *value (in `a`) and its *version, for `key` as committed */
    int (*get)(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value, bool *found,
               Stele__Version **version);
    /* *found and, when found, *value (in `a`) for `key` as it is now: for the validator, after
     * the writes of the block's earlier valid transactions (an approval counts for a commit
     * later in its block) */
    int (*current)(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                   bool *found);
    void *ctx;
    /* The endorser: also the rules that are not validation rules (which every peer must apply
     * alike to every block, old ones included): a policy naming only the channel's
     * organisations (lifecycle_policy_check()). */
    bool endorsing;
};

struct statedb;
struct statedb_snap;

/* A lifecycle_state.get over a state database's _lifecycle namespace, as committed: for the
 * endorser, and for the validator (which checks the rules' reads against the block's earlier
 * writes afterwards). */
int lifecycle_statedb_get(struct statedb *db, const char *key, struct arena *a,
                          ProtobufCBinaryData *value, bool *found, Stele__Version **version);
/* lifecycle_statedb_get() through `snap` (NULL: the latest state). */
int lifecycle_statedb_get_at(struct statedb *db, const struct statedb_snap *snap, const char *key,
                             struct arena *a, ProtobufCBinaryData *value, bool *found,
                             Stele__Version **version);

/* The committed definition of chaincode `name` (decoded into `a`). Returns STELE_OK,
 * STELE_ERR_NOT_FOUND (none, or `name` is not a chaincode name), STELE_ERR_MALFORMED (a
 * damaged record), STELE_ERR_IO or STELE_ERR_NOMEM. */
int lifecycle_definition_get(struct statedb *db, struct arena *a, const char *name,
                             const Stele__ChaincodeDefinition **out);
/* lifecycle_definition_get() through `snap` (NULL: the latest state). */
int lifecycle_definition_get_at(struct statedb *db, const struct statedb_snap *snap,
                                struct arena *a, const char *name,
                                const Stele__ChaincodeDefinition **out);

/* What an execution decided. */
struct lifecycle_result {
    int status;                  /* 200, or 400 (refused) / 404 (no such definition) */
    const char *why;             /* static sentence when refused */
    Stele__TxRwSet *rwset;       /* the read/write set (in `a`) when status is 200 for approve
                                    and commit; NULL for the definition query */
    ProtobufCBinaryData payload; /* the response payload (in `a`) */
};

/* Runs `function` with `args` for a creator of organisation `org` and role `role` against
 * `st` under channel configuration `cfg` (its organisations). Returns STELE_OK with *out
 * filled (a refusal is status 400, not an error, whatever the arguments), or STELE_ERR_NOMEM
 * / STELE_ERR_IO / STELE_ERR_CRYPTO from the state or the hashing, or STELE_ERR_MALFORMED
 * when a stored definition does not decode (only commits write them). */
int lifecycle_execute(struct arena *a, const Stele__ChannelConfig *cfg, const char *function,
                      const ProtobufCBinaryData *args, size_t n_args, const char *org,
                      const char *role, const struct lifecycle_state *st,
                      struct lifecycle_result *out);

/* True when the writes of `got` equal those of `want` (same namespaces, keys, deletes and
 * values, in order). Reads are not compared. */
bool lifecycle_writes_equal(const Stele__TxRwSet *got, const Stele__TxRwSet *want);

#endif
