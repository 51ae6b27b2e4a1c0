/*
 * txvalidate_check.c — checks 1-7 of txvalidate.h on one transaction: everything that depends
 * only on the transaction and the state before its block, so the envelopes of a block are
 * checked by several threads at once.
 */
#include "ledger/txvalidate_int.h"

#include "base/arena.h"
#include "base/status.h"
#include "identity/identity.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/statedb.h"
#include "pb/pb.h"
#include "policy/policy.h"
#include "stele/channel.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The code for an envelope that does not open: BAD_PAYLOAD when the envelope or its payload do
 * not decode at all, BAD_HEADER when they do but the header breaks a rule. */
static uint8_t unopened_code(struct arena *a, const ProtobufCBinaryData *raw)
{
    const Stele__Envelope *e =
        (const Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, raw->data, raw->len, 0);
    if (!e || !e->payload.len)
        return STELE__TX_VALIDATION_CODE__BAD_PAYLOAD;
    const Stele__Payload *p = (const Stele__Payload *)pb_unpack(&stele__payload__descriptor, a,
                                                                e->payload.data, e->payload.len, 0);
    if (!p || e->signature.len != 64)
        return STELE__TX_VALIDATION_CODE__BAD_PAYLOAD;
    return STELE__TX_VALIDATION_CODE__BAD_HEADER;
}

/* The transaction's time (validity of identities is judged there), or false without one. */
static bool tx_time(const Stele__Header *h, uint64_t *now_s)
{
    if (!h->timestamp || h->timestamp->seconds < 0)
        return false;
    *now_s = (uint64_t)h->timestamp->seconds;
    return true;
}

/* Check 4: the creator is a member at `now_s` and signed the payload. Returns a code, or a
 * negative STELE_ERR_* for a failure that is not the transaction's. Here and in the other
 * checks a failure of this validator (stele_no_verdict()) fails the block, which is tried
 * again, rather than give a code the other peers would not give. */
static int check_creator(struct txv_job *job, struct arena *a, const struct envelope_view *ev,
                         uint64_t now_s, struct txv_item *it)
{
    const Stele__Header *h = ev->header;
    struct identity id;
    int rc = identity_verify(job->msp, a, h->creator.data, h->creator.len, now_s, &id, NULL);
    switch (rc) {
    case STELE_OK:
        break;
    case STELE_ERR_EXPIRED:
        return STELE__TX_VALIDATION_CODE__CREATOR_EXPIRED;
    case STELE_ERR_REVOKED:
        return STELE__TX_VALIDATION_CODE__CREATOR_REVOKED;
    default:
        return stele_no_verdict(rc) ? rc : STELE__TX_VALIDATION_CODE__BAD_CREATOR_SIGNATURE;
    }
    it->creator_org = id.org;
    it->creator_role = id.role;
    const Stele__Envelope *e = ev->envelope;
    rc = identity_verify_signature(job->msp, &id, e->payload.data, e->payload.len,
                                   e->signature.data, e->signature.len);
    if (stele_no_verdict(rc))
        return rc;
    return rc ? STELE__TX_VALIDATION_CODE__BAD_CREATOR_SIGNATURE : STELE__TX_VALIDATION_CODE__VALID;
}

/* Check 5: the committed definition of the invoked chaincode, into *def (in `a`). Returns a
 * code or a negative STELE_ERR_*. */
static int find_definition(struct txv_job *job, struct arena *a, const struct tx_view *tx,
                           const Stele__ChaincodeDefinition **def)
{
    int rc = lifecycle_definition_get(job->db, a, tx->invocation->chaincode, def);
    if (rc == STELE_ERR_NOT_FOUND)
        return STELE__TX_VALIDATION_CODE__UNKNOWN_CHAINCODE;
    if (rc) /* MALFORMED: we wrote it, a damaged record */
        return rc;
    const Stele__ProposalResponsePayload *r = tx->response;
    if (strcmp(r->chaincode_version ? r->chaincode_version : "", (*def)->version) != 0 ||
        r->definition_sequence != (*def)->sequence)
        return STELE__TX_VALIDATION_CODE__ENDORSEMENT_POLICY_FAILURE;
    return STELE__TX_VALIDATION_CODE__VALID;
}

/* Checks 6-7: every endorser is a member at `now_s` and signed the response payload, and the
 * endorsers satisfy the definition's policy. Returns a code or a negative STELE_ERR_*. */
static int check_endorsements(struct txv_job *job, struct arena *a, const struct tx_view *tx,
                              const Stele__ChaincodeDefinition *def, uint64_t now_s)
{
    const Stele__Transaction *t = tx->tx;
    struct policy_signer signers[TX_MAX_ENDORSEMENTS];
    /* def NULL: a _lifecycle transaction, whose endorsers only need to be valid members */
    for (size_t i = 0; i < t->n_endorsements; i++) {
        const Stele__Endorsement *en = t->endorsements[i];
        struct identity *id = arena_alloc(a, sizeof *id);
        if (!id)
            return STELE_ERR_NOMEM;
        int rc = identity_verify(job->msp, a, en->endorser.data, en->endorser.len, now_s, id, NULL);
        if (stele_no_verdict(rc))
            return rc;
        if (rc || !(id->fields.key_usage & ECQV_USAGE_SIGN))
            return STELE__TX_VALIDATION_CODE__BAD_ENDORSEMENT;
        struct crypto_key *pub = NULL;
        rc = identity_public_key(job->msp, id, &pub);
        if (rc == STELE_OK)
            rc = tx_endorsement_verify(msp_sigcache(job->msp), tx_endorsement_version(job->channel),
                                       pub, t->response_payload.data, t->response_payload.len,
                                       en->endorser.data, en->endorser.len, en->signature.data,
                                       en->signature.len);
        crypto_key_destroy(pub);
        if (stele_no_verdict(rc))
            return rc;
        if (rc)
            return STELE__TX_VALIDATION_CODE__BAD_ENDORSEMENT;
        signers[i] = (struct policy_signer){
            .org = id->org, .role = id->role, .id = id->certhash, .id_len = sizeof id->certhash};
    }
    if (!def)
        return STELE__TX_VALIDATION_CODE__VALID;
    struct policy *p = NULL;
    const char *text = def->endorsement_policy ? def->endorsement_policy : "";
    int rc = policy_parse(text, strlen(text), &p, NULL);
    if (rc == STELE_ERR_NOMEM)
        return rc;
    if (rc) /* a definition whose policy does not parse endorses nothing */
        return STELE__TX_VALIDATION_CODE__ENDORSEMENT_POLICY_FAILURE;
    bool ok = policy_satisfied(p, signers, t->n_endorsements);
    policy_destroy(p);
    return ok ? STELE__TX_VALIDATION_CODE__VALID
              : STELE__TX_VALIDATION_CODE__ENDORSEMENT_POLICY_FAILURE;
}

/* Checks 1-7 on one envelope. Returns a code or a negative STELE_ERR_*. */
static int check_one(struct txv_job *job, struct arena *a, struct txv_item *it,
                     const ProtobufCBinaryData *raw)
{
    struct envelope_view ev;
    int rc = envelope_parse(a, raw->data, raw->len, 0, &ev, NULL);
    if (stele_no_verdict(rc))
        return rc;
    if (rc)
        return unopened_code(a, raw);
    it->tx_id = ev.header->tx_id;
    if (strcmp(ev.header->channel_id, job->channel_id) != 0)
        return STELE__TX_VALIDATION_CODE__BAD_CHANNEL;
    if (ev.header->type == STELE__HEADER_TYPE__CONFIG)
        return STELE__TX_VALIDATION_CODE__INVALID_CONFIG; /* only at genesis, for now */
    if (ev.header->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION)
        return STELE__TX_VALIDATION_CODE__BAD_HEADER;
    uint64_t now_s;
    if (!tx_time(ev.header, &now_s))
        return STELE__TX_VALIDATION_CODE__BAD_HEADER;
    Stele__TxValidationCode code;
    rc = tx_open(a, &ev, &it->tx, &code, NULL);
    if (rc == STELE_ERR_MALFORMED)
        return (int)code;
    if (rc)
        return rc;
    if ((rc = check_creator(job, a, &ev, now_s, it)) != STELE__TX_VALIDATION_CODE__VALID)
        return rc;
    const Stele__ChaincodeDefinition *def = NULL;
    it->lifecycle = job->channel && strcmp(it->tx.invocation->chaincode, LIFECYCLE_NS) == 0;
    if (!it->lifecycle &&
        (rc = find_definition(job, a, &it->tx, &def)) != STELE__TX_VALIDATION_CODE__VALID)
        return rc;
    if ((rc = check_endorsements(job, a, &it->tx, def, now_s)) != STELE__TX_VALIDATION_CODE__VALID)
        return rc;
    it->opened = true;
    return STELE__TX_VALIDATION_CODE__VALID;
}

void txv_check_run(struct txv_job *job, struct arena *a)
{
    for (;;) {
        if (atomic_load(&job->err))
            return;
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->n)
            return;
        struct txv_item *it = &job->items[i];
        size_t failures = arena_failures(a);
        int rc = check_one(job, a, it, &job->block->data->envelopes[i]);
        if (arena_failures(a) != failures) /* a decoding refused for lack of memory: no */
            rc = STELE_ERR_NOMEM;          /* verdict, and the error that says why */
        if (rc < 0) {
            int none = 0;
            atomic_compare_exchange_strong(&job->err, &none, rc);
            return;
        }
        it->code = (uint8_t)rc;
    }
}
