/*
 * tx.h — endorser transactions: building them (clients, endorsers, tests, benchmarks) and
 * opening them from untrusted bytes (peers, auditors). proto/stele/transaction.proto has the
 * messages and the flow.
 *
 * Opening checks everything that needs no key material and no ledger state:
 *   - the payload's data decodes as a Transaction with a proposal, a response payload and 1 to
 *     TX_MAX_ENDORSEMENTS endorsements;
 *   - the Proposal decodes and its header equals the envelope payload's header field by field
 *     (channel, tx_id, type, creator, nonce, timestamp);
 *   - the ProposalResponsePayload decodes, its proposal_hash is SHA-256(proposal_bytes), it
 *     names the invoked chaincode, and its response is a success (200..299);
 *   - the read/write set touches only the invoked chaincode's namespace, lists namespaces,
 *     reads and writes each in strictly ascending order (so keys are unique and every endorser
 *     produces the same bytes), keys are 1..TX_MAX_KEY_LEN octets, range reads list keys
 *     inside their range in order, and a delete carries no value.
 * Signatures (creator, endorsers), identities, the endorsement policy, duplicates and MVCC are
 * the validator's (txvalidate.h).
 *
 * Nothing here keeps state; every function is thread-safe.
 */
#ifndef STELE_LEDGER_TX_H
#define STELE_LEDGER_TX_H

#include "crypto/sigcache.h"
#include "ledger/envelope.h"
#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;
struct crypto_key;

/* Endorsement signature domains: v1 (a channel's endorsement_version 0) signs the payload and
 * the endorser's record end to end, v2 (endorsement_version 1) puts the payload's length
 * between the domain and the payload, so that no octet can move from one to the other. */
#define TX_DOMAIN_ENDORSE      "STELE-ENDORSE-v1"
#define TX_DOMAIN_ENDORSE_V2   "STELE-ENDORSE-v2"
#define TX_ENDORSEMENT_VERSION 1 /* what genesis builders write; the highest known */
#define TX_DOMAIN_PROPOSAL                                                         \
    "STELE-PROPOSAL-v1"            /* proposal signature domain: a signed proposal \
                                      must never pass for a signed envelope */
#define TX_MAX_ENDORSEMENTS 32     /* per transaction */
#define TX_MAX_KEY_LEN      4096   /* octets of a state key */
#define TX_MAX_NAME_LEN     64     /* octets of a chaincode name */
#define TX_MAX_RWSET_ITEMS  100000 /* reads + writes + range keys, all namespaces */

/* An opened endorser transaction. Every pointer lives in the arena given to tx_open() or
 * points into the envelope view it was given. */
struct tx_view {
    const Stele__Transaction *tx;                   /* the decoded Transaction */
    const Stele__Proposal *proposal;                /* its decoded proposal */
    const Stele__ChaincodeInvocation *invocation;   /* proposal->invocation, never NULL */
    const Stele__ProposalResponsePayload *response; /* the decoded response payload */
    const Stele__TxRwSet *rwset;                    /* response->rwset, never NULL */
};

/* Opens the ENDORSER_TRANSACTION in the opened envelope `env` (only read; must outlive the
 * view) with the checks above; decoded parts go to `a`. Returns STELE_OK, or
 * STELE_ERR_MALFORMED with *code (never NULL) set to the validation code that applies
 * (BAD_PAYLOAD, BAD_HEADER or BAD_RWSET) and *why (may be NULL) to a static sentence; or
 * STELE_ERR_NOMEM / STELE_ERR_CRYPTO. */
int tx_open(struct arena *a, const struct envelope_view *env, struct tx_view *out,
            Stele__TxValidationCode *code, const char **why);

/* True for a chaincode name: 1..TX_MAX_NAME_LEN characters of [A-Za-z0-9_.-]. */
bool tx_chaincode_name_ok(const char *name);

/* What a proposal carries. */
struct tx_proposal_params {
    const char *channel_id;          /* required */
    const uint8_t *creator;          /* the creator's serialized Identity (required) */
    size_t creator_len;              /* octets at creator */
    const char *chaincode;           /* required */
    const char *function;            /* required */
    const ProtobufCBinaryData *args; /* n_args arguments (may be NULL when n_args is 0) */
    size_t n_args;                   /* entries in args */
    const uint8_t *nonce;            /* NULL: 24 fresh random octets */
    size_t nonce_len;                /* octets at nonce when given (16..64) */
    uint64_t timestamp_ms;           /* 0: now */
};

/* Client: builds a Proposal from `p`, appends its bytes to `proposal` (caller-owned), signs
 * "STELE-PROPOSAL-v1\0" || them with `signer` into `sig` and writes the tx_id (when tx_id is not
 * NULL). Returns STELE_OK, STELE_ERR_INVALID, STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int tx_proposal_build(const struct tx_proposal_params *p, const struct crypto_key *signer,
                      struct buf *proposal, uint8_t sig[64], char tx_id[ENVELOPE_TXID_LEN + 1]);

/* What an endorser's response payload carries besides the proposal hash. */
struct tx_result {
    const char *chaincode;              /* required */
    const char *version;                /* its definition's version (may be NULL) */
    uint64_t sequence;                  /* and sequence */
    const Stele__TxRwSet *rwset;        /* may be NULL: an empty read/write set */
    const Stele__Response *response;    /* required */
    const Stele__ChaincodeEvent *event; /* may be NULL */
};

/* Endorser: checks a proposal signature made by tx_proposal_build() with the creator's public
 * key. Returns STELE_OK or the errors of crypto_verify(). */
int tx_proposal_verify(const struct crypto_key *pub, const uint8_t *proposal, size_t len,
                       const uint8_t *sig, size_t sig_len);

/* Endorser: appends the serialized ProposalResponsePayload for the proposal bytes `proposal`
 * (hashed here) and `r` to `out`. Returns STELE_OK, STELE_ERR_INVALID or STELE_ERR_NOMEM. */
int tx_response_payload_build(const uint8_t *proposal, size_t proposal_len,
                              const struct tx_result *r, struct buf *out);

/* The endorsement version of a channel: its configuration's endorsement_version
 * (TX_ENDORSEMENT_VERSION for NULL). */
unsigned tx_endorsement_version(const Stele__ChannelConfig *channel);

/* Appends to `b` what an endorsement of `version` signs (below). Returns STELE_OK,
 * STELE_ERR_INVALID (a version above TX_ENDORSEMENT_VERSION) or STELE_ERR_NOMEM. */
int tx_endorsement_message(struct buf *b, unsigned version, const uint8_t *payload,
                           size_t payload_len, const uint8_t *endorser, size_t endorser_len);

/* Endorser: signs, for endorsement version `version` (tx_endorsement_version()),
 * "STELE-ENDORSE-v2\0" || u64be(payload_len) || payload || endorser (version 1) or
 * "STELE-ENDORSE-v1\0" || payload || endorser (version 0) with `key`, and remembers the
 * signature in `sigs` (crypto/sigcache.h; may be NULL) so this process's own validation of it
 * is free. Returns STELE_OK, STELE_ERR_INVALID (a version above TX_ENDORSEMENT_VERSION),
 * STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int tx_endorse(struct sigcache *sigs, unsigned version, const uint8_t *payload, size_t payload_len,
               const uint8_t *endorser, size_t endorser_len, const struct crypto_key *key,
               uint8_t sig[64]);

/* Verifier: checks an endorsement signature made by tx_endorse() for `version` with the
 * endorser's public key, answered from `sigs` (may be NULL) when it holds that exact
 * signature, remembered there when it verifies. Returns STELE_OK, STELE_ERR_MALFORMED (sig_len
 * is not 64), STELE_ERR_AUTH (any other signature that does not verify), STELE_ERR_INVALID
 * (unknown version), STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int tx_endorsement_verify(struct sigcache *sigs, unsigned version, const struct crypto_key *pub,
                          const uint8_t *payload, size_t payload_len, const uint8_t *endorser,
                          size_t endorser_len, const uint8_t *sig, size_t sig_len);

/* Client: wraps proposal + the response payload its endorsers signed + their `n` endorsements
 * into a Payload whose header is the proposal's, signs it with `creator_key` and sets *out to
 * the serialized Envelope (malloc'd; free(out->data)). The proposal must decode. Returns
 * STELE_OK, STELE_ERR_INVALID, STELE_ERR_NOMEM or STELE_ERR_CRYPTO. */
int tx_envelope_build(const uint8_t *proposal, size_t proposal_len, const uint8_t *response_payload,
                      size_t response_len, const Stele__Endorsement *const *endorsements, size_t n,
                      const struct crypto_key *creator_key, ProtobufCBinaryData *out);

/* Gateway: the unsigned Payload of that envelope (*out malloc'd; free(out->data)), for the
 * client to sign. Returns as tx_envelope_build(). */
int tx_payload_build(const uint8_t *proposal, size_t proposal_len, const uint8_t *response_payload,
                     size_t response_len, const Stele__Endorsement *const *endorsements, size_t n,
                     ProtobufCBinaryData *out);

/* Client: the serialized Envelope of a payload and the creator's signature over it (*out
 * malloc'd). Returns STELE_OK or STELE_ERR_NOMEM. */
int tx_envelope_seal(const uint8_t *payload, size_t payload_len, const uint8_t *sig, size_t sig_len,
                     ProtobufCBinaryData *out);

/* A key and the serialized identity it belongs to. */
struct tx_signer {
    const struct crypto_key *key; /* private key */
    const uint8_t *identity;      /* serialized stele.Identity */
    size_t identity_len;          /* octets at identity */
    struct sigcache *remember;    /* where its endorsements are remembered (tx_endorse), or NULL */
};

/* The whole client and endorser flow in one call, for tests, benchmarks and tools that hold
 * every key: builds the proposal of `p` (its creator fields are taken from `creator`), the
 * response payload of `r` for it, one endorsement per entry of `endorsers` (n of them, at most
 * TX_MAX_ENDORSEMENTS, for endorsement version TX_ENDORSEMENT_VERSION: what the channels of
 * today's genesis builders take), and the envelope signed by the creator. *out gets the serialized
 * Envelope (malloc'd; free(out->data)); tx_id (may be NULL) the tx_id. Returns as the steps
 * above. */
int tx_build_endorsed(const struct tx_proposal_params *p, const struct tx_signer *creator,
                      const struct tx_result *r, const struct tx_signer *endorsers, size_t n,
                      ProtobufCBinaryData *out, char tx_id[ENVELOPE_TXID_LEN + 1]);

#endif
