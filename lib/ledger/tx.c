/* tx.c — building and opening endorser transactions (see tx.h). */
#include "ledger/tx.h"

#include "identity/identity.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/sigcache.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

/* Sets *code and *why and returns STELE_ERR_MALFORMED. */
static int refuse(Stele__TxValidationCode *code, const char **why, Stele__TxValidationCode c,
                  const char *reason)
{
    *code = c;
    if (why)
        *why = reason;
    return STELE_ERR_MALFORMED;
}

static bool bytes_equal(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static bool str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares two headers field by field (never re-encoding either). */
static bool header_equal(const Stele__Header *a, const Stele__Header *b)
{
    if (!str_equal(a->channel_id, b->channel_id) || !str_equal(a->tx_id, b->tx_id) ||
        a->type != b->type || !bytes_equal(a->creator, b->creator) ||
        !bytes_equal(a->nonce, b->nonce))
        return false;
    if (!a->timestamp || !b->timestamp)
        return !a->timestamp && !b->timestamp;
    return a->timestamp->seconds == b->timestamp->seconds &&
           a->timestamp->nanos == b->timestamp->nanos;
}

/* Compares two keys as octet strings (memcmp order, shorter first on a tie), the order LevelDB
 * keeps them in. */
static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* A chaincode name: 1..TX_MAX_NAME_LEN of [A-Za-z0-9_.-]. */
bool tx_chaincode_name_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0 && n <= TX_MAX_NAME_LEN;
}

static bool key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    return n > 0 && n <= TX_MAX_KEY_LEN;
}

/* Checks one namespace's reads, range reads and writes; adds their count to *items. */
static bool ns_ok(const Stele__NsRwSet *ns, size_t *items, const char **reason)
{
    *items += ns->n_reads + ns->n_writes;
    for (size_t i = 0; i < ns->n_reads; i++) {
        const char *k = ns->reads[i]->key;
        if (!key_ok(k)) {
            *reason = "read/write set has an empty or oversize key";
            return false;
        }
        if (i && key_cmp(ns->reads[i - 1]->key, strlen(ns->reads[i - 1]->key), k, strlen(k)) >= 0) {
            *reason = "read/write set reads are not in strictly ascending key order";
            return false;
        }
    }
    for (size_t i = 0; i < ns->n_writes; i++) {
        const Stele__KVWrite *w = ns->writes[i];
        if (!key_ok(w->key)) {
            *reason = "read/write set has an empty or oversize key";
            return false;
        }
        if (i && key_cmp(ns->writes[i - 1]->key, strlen(ns->writes[i - 1]->key), w->key,
                         strlen(w->key)) >= 0) {
            *reason = "read/write set writes are not in strictly ascending key order";
            return false;
        }
        if (w->is_delete && w->value.len) {
            *reason = "read/write set deletes a key and gives it a value";
            return false;
        }
    }
    for (size_t r = 0; r < ns->n_range_reads; r++) {
        const Stele__RangeRead *rr = ns->range_reads[r];
        const char *start = rr->start_key ? rr->start_key : "";
        const char *end = rr->end_key ? rr->end_key : "";
        if (strlen(start) > TX_MAX_KEY_LEN || strlen(end) > TX_MAX_KEY_LEN ||
            (end[0] && key_cmp(start, strlen(start), end, strlen(end)) >= 0)) {
            *reason = "read/write set has a range read with an empty or oversize range";
            return false;
        }
        *items += rr->n_reads + 1;
        for (size_t i = 0; i < rr->n_reads; i++) {
            const char *k = rr->reads[i]->key;
            size_t kl = k ? strlen(k) : 0;
            bool in = key_ok(k) && key_cmp(k, kl, start, strlen(start)) >= 0 &&
                      (!end[0] || key_cmp(k, kl, end, strlen(end)) < 0);
            const char *prev = i ? rr->reads[i - 1]->key : NULL;
            if (!in || (prev && key_cmp(prev, strlen(prev), k, kl) >= 0)) {
                *reason = "read/write set has a range read listing keys out of range or order";
                return false;
            }
        }
    }
    return true;
}

/* Checks the read/write set against the rules of tx.h for chaincode `cc`. */
static bool rwset_ok(const Stele__TxRwSet *rw, const char *cc, const char **reason)
{
    size_t items = 0;
    for (size_t i = 0; i < rw->n_ns_rwsets; i++) {
        const Stele__NsRwSet *ns = rw->ns_rwsets[i];
        if (!str_equal(ns->namespace_, cc)) {
            *reason = "read/write set touches another namespace than the invoked chaincode's";
            return false;
        }
        if (i > 0) {
            *reason = "read/write set lists a namespace twice";
            return false;
        }
        if (!ns_ok(ns, &items, reason))
            return false;
        if (items > TX_MAX_RWSET_ITEMS) {
            *reason = "read/write set has too many entries";
            return false;
        }
    }
    return true;
}

int tx_open(struct arena *a, const struct envelope_view *env, struct tx_view *out,
            Stele__TxValidationCode *code, const char **why)
{
    static const Stele__TxRwSet empty = STELE__TX_RW_SET__INIT;
    memset(out, 0, sizeof *out);
    *code = STELE__TX_VALIDATION_CODE__VALID;
    const Stele__Header *h = env->header;
    if (h->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_HEADER,
                      "header type is not ENDORSER_TRANSACTION");
    const ProtobufCBinaryData *d = &env->payload->data;
    Stele__Transaction *tx =
        (Stele__Transaction *)pb_unpack(&stele__transaction__descriptor, a, d->data, d->len, 0);
    if (!tx)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "payload data does not decode as stele.Transaction");
    if (!tx->proposal_bytes.len || !tx->response_payload.len)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "transaction lacks its proposal or response payload");
    if (tx->n_endorsements == 0 || tx->n_endorsements > TX_MAX_ENDORSEMENTS)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "transaction carries no endorsement or more than 32");

    Stele__Proposal *p = (Stele__Proposal *)pb_unpack(
        &stele__proposal__descriptor, a, tx->proposal_bytes.data, tx->proposal_bytes.len, 0);
    if (!p || !p->header || !p->invocation)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "transaction proposal does not decode or lacks header or invocation");
    if (!header_equal(p->header, h))
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_HEADER,
                      "proposal header differs from the transaction's header");
    if (!p->invocation->chaincode || !tx_chaincode_name_ok(p->invocation->chaincode))
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "proposal names no valid chaincode");

    Stele__ProposalResponsePayload *r = (Stele__ProposalResponsePayload *)pb_unpack(
        &stele__proposal_response_payload__descriptor, a, tx->response_payload.data,
        tx->response_payload.len, 0);
    if (!r)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "response payload does not decode as stele.ProposalResponsePayload");
    uint8_t ph[CRYPTO_SHA256_LEN];
    int rc = crypto_sha256(tx->proposal_bytes.data, tx->proposal_bytes.len, ph);
    if (rc)
        return rc;
    if (r->proposal_hash.len != sizeof ph || memcmp(r->proposal_hash.data, ph, sizeof ph) != 0)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "response payload was made for another proposal");
    if (!str_equal(r->chaincode, p->invocation->chaincode))
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "response payload names another chaincode than the proposal");
    if (!r->response || r->response->status < 200 || r->response->status > 299)
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_PAYLOAD,
                      "chaincode response is not a success");
    const Stele__TxRwSet *rw = r->rwset ? r->rwset : &empty;
    const char *reason = NULL;
    if (!rwset_ok(rw, p->invocation->chaincode, &reason))
        return refuse(code, why, STELE__TX_VALIDATION_CODE__BAD_RWSET, reason);

    out->tx = tx;
    out->proposal = p;
    out->invocation = p->invocation;
    out->response = r;
    out->rwset = rw;
    return STELE_OK;
}

int tx_proposal_build(const struct tx_proposal_params *p, const struct crypto_key *signer,
                      struct buf *proposal, uint8_t sig[64], char tx_id[ENVELOPE_TXID_LEN + 1])
{
    uint8_t nonce[24];
    char id[ENVELOPE_TXID_LEN + 1];
    int rc;
    if (!p->channel_id || !p->creator || !p->creator_len || !p->chaincode || !p->function ||
        (p->n_args && !p->args))
        return STELE_ERR_INVALID;
    const uint8_t *n = p->nonce;
    size_t nlen = p->nonce_len;
    if (!n) {
        if ((rc = crypto_random(nonce, sizeof nonce)))
            return rc;
        n = nonce;
        nlen = sizeof nonce;
    } else if (nlen < ENVELOPE_MIN_NONCE || nlen > ENVELOPE_MAX_NONCE) {
        return STELE_ERR_INVALID;
    }
    if ((rc = envelope_tx_id(n, nlen, p->creator, p->creator_len, id)))
        return rc;
    uint64_t ts = p->timestamp_ms ? p->timestamp_ms : clock_wall_ms();
    Stele__Timestamp t = STELE__TIMESTAMP__INIT;
    t.seconds = (int64_t)(ts / 1000);
    t.nanos = (int32_t)(ts % 1000) * 1000000;
    Stele__Header h = STELE__HEADER__INIT;
    h.channel_id = (char *)p->channel_id;
    h.tx_id = id;
    h.type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION;
    h.creator = (ProtobufCBinaryData){p->creator_len, (uint8_t *)p->creator};
    h.timestamp = &t;
    h.nonce = (ProtobufCBinaryData){nlen, (uint8_t *)n};
    Stele__ChaincodeInvocation inv = STELE__CHAINCODE_INVOCATION__INIT;
    inv.chaincode = (char *)p->chaincode;
    inv.function = (char *)p->function;
    inv.n_args = p->n_args;
    inv.args = (ProtobufCBinaryData *)p->args;
    Stele__Proposal prop = STELE__PROPOSAL__INIT;
    prop.header = &h;
    prop.invocation = &inv;
    size_t start = proposal->len;
    if ((rc = pb_pack_buf(&prop.base, proposal)))
        return rc;
    if ((rc = identity_sign_domain(signer, TX_DOMAIN_PROPOSAL, proposal->data + start,
                                   proposal->len - start, sig))) {
        proposal->len = start;
        return rc;
    }
    if (tx_id)
        memcpy(tx_id, id, sizeof id);
    return STELE_OK;
}

int tx_response_payload_build(const uint8_t *proposal, size_t proposal_len,
                              const struct tx_result *r, struct buf *out)
{
    uint8_t ph[CRYPTO_SHA256_LEN];
    if (!proposal || !r->chaincode || !r->response)
        return STELE_ERR_INVALID;
    int rc = crypto_sha256(proposal, proposal_len, ph);
    if (rc)
        return rc;
    Stele__ProposalResponsePayload p = STELE__PROPOSAL_RESPONSE_PAYLOAD__INIT;
    p.proposal_hash = (ProtobufCBinaryData){sizeof ph, ph};
    p.chaincode = (char *)r->chaincode;
    p.chaincode_version = (char *)(r->version ? r->version : "");
    p.definition_sequence = r->sequence;
    p.rwset = (Stele__TxRwSet *)r->rwset;
    p.response = (Stele__Response *)r->response;
    p.event = (Stele__ChaincodeEvent *)r->event;
    return pb_pack_buf(&p.base, out);
}

unsigned tx_endorsement_version(const Stele__ChannelConfig *channel)
{
    return channel ? channel->endorsement_version : TX_ENDORSEMENT_VERSION;
}

int tx_endorsement_message(struct buf *b, unsigned version, const uint8_t *payload,
                           size_t payload_len, const uint8_t *endorser, size_t endorser_len)
{
    if (version > TX_ENDORSEMENT_VERSION)
        return STELE_ERR_INVALID;
    int rc;
    if (version == 0) {
        rc = buf_append(b, TX_DOMAIN_ENDORSE, sizeof TX_DOMAIN_ENDORSE);
    } else {
        uint8_t n[8];
        for (int i = 0; i < 8; i++)
            n[i] = (uint8_t)((uint64_t)payload_len >> (56 - 8 * i));
        rc = buf_append(b, TX_DOMAIN_ENDORSE_V2, sizeof TX_DOMAIN_ENDORSE_V2);
        if (!rc)
            rc = buf_append(b, n, sizeof n);
    }
    if (rc || buf_append(b, payload, payload_len) || buf_append(b, endorser, endorser_len))
        return STELE_ERR_NOMEM;
    return STELE_OK;
}

int tx_endorse(struct sigcache *sigs, unsigned version, const uint8_t *payload, size_t payload_len,
               const uint8_t *endorser, size_t endorser_len, const struct crypto_key *key,
               uint8_t sig[64])
{
    struct buf b;
    buf_init(&b);
    int rc = tx_endorsement_message(&b, version, payload, payload_len, endorser, endorser_len);
    if (!rc)
        rc = sigcache_sign(sigs, key, b.data, b.len, sig);
    buf_release(&b);
    return rc;
}

int tx_proposal_verify(const struct crypto_key *pub, const uint8_t *proposal, size_t len,
                       const uint8_t *sig, size_t sig_len)
{
    return identity_verify_domain(pub, TX_DOMAIN_PROPOSAL, proposal, len, sig, sig_len);
}

int tx_endorsement_verify(struct sigcache *sigs, unsigned version, const struct crypto_key *pub,
                          const uint8_t *payload, size_t payload_len, const uint8_t *endorser,
                          size_t endorser_len, const uint8_t *sig, size_t sig_len)
{
    struct buf b;
    buf_init(&b);
    int rc = tx_endorsement_message(&b, version, payload, payload_len, endorser, endorser_len);
    if (!rc)
        rc = sigcache_verify(sigs, pub, b.data, b.len, sig, sig_len);
    buf_release(&b);
    return rc;
}

int tx_payload_build(const uint8_t *proposal, size_t proposal_len, const uint8_t *response_payload,
                     size_t response_len, const Stele__Endorsement *const *endorsements, size_t n,
                     ProtobufCBinaryData *out)
{
    uint8_t *tbytes = NULL;
    size_t tlen;
    int rc = STELE_ERR_NOMEM;
    memset(out, 0, sizeof *out);
    Stele__Proposal *p =
        (Stele__Proposal *)pb_unpack(&stele__proposal__descriptor, NULL, proposal, proposal_len, 0);
    if (!p || !p->header) {
        pb_free(p ? &p->base : NULL);
        return STELE_ERR_INVALID;
    }
    Stele__Transaction t = STELE__TRANSACTION__INIT;
    t.proposal_bytes = (ProtobufCBinaryData){proposal_len, (uint8_t *)proposal};
    t.response_payload = (ProtobufCBinaryData){response_len, (uint8_t *)response_payload};
    t.n_endorsements = n;
    t.endorsements = (Stele__Endorsement **)endorsements;
    if (!(tbytes = pb_pack(&t.base, &tlen)))
        goto out;
    Stele__Payload pl = STELE__PAYLOAD__INIT;
    pl.header = p->header;
    pl.data = (ProtobufCBinaryData){tlen, tbytes};
    rc = (out->data = pb_pack(&pl.base, &out->len)) ? STELE_OK : STELE_ERR_NOMEM;
out:
    free(tbytes);
    pb_free(&p->base);
    return rc;
}

int tx_envelope_seal(const uint8_t *payload, size_t payload_len, const uint8_t *sig, size_t sig_len,
                     ProtobufCBinaryData *out)
{
    Stele__Envelope e = STELE__ENVELOPE__INIT;
    e.payload = (ProtobufCBinaryData){payload_len, (uint8_t *)payload};
    e.signature = (ProtobufCBinaryData){sig_len, (uint8_t *)sig};
    return (out->data = pb_pack(&e.base, &out->len)) ? STELE_OK : STELE_ERR_NOMEM;
}

int tx_envelope_build(const uint8_t *proposal, size_t proposal_len, const uint8_t *response_payload,
                      size_t response_len, const Stele__Endorsement *const *endorsements, size_t n,
                      const struct crypto_key *creator_key, ProtobufCBinaryData *out)
{
    uint8_t sig[CRYPTO_SIG_LEN];
    ProtobufCBinaryData pl;
    memset(out, 0, sizeof *out);
    int rc = tx_payload_build(proposal, proposal_len, response_payload, response_len, endorsements,
                              n, &pl);
    if (rc)
        return rc;
    if (!(rc = crypto_sign(creator_key, pl.data, pl.len, sig)))
        rc = tx_envelope_seal(pl.data, pl.len, sig, sizeof sig, out);
    free(pl.data);
    return rc;
}

int tx_build_endorsed(const struct tx_proposal_params *p, const struct tx_signer *creator,
                      const struct tx_result *r, const struct tx_signer *endorsers, size_t n,
                      ProtobufCBinaryData *out, char tx_id[ENVELOPE_TXID_LEN + 1])
{
    Stele__Endorsement e[TX_MAX_ENDORSEMENTS];
    const Stele__Endorsement *ep[TX_MAX_ENDORSEMENTS];
    uint8_t sigs[TX_MAX_ENDORSEMENTS][CRYPTO_SIG_LEN], psig[CRYPTO_SIG_LEN];
    struct buf prop, resp;
    int rc;
    memset(out, 0, sizeof *out);
    if (n > TX_MAX_ENDORSEMENTS)
        return STELE_ERR_INVALID;
    buf_init(&prop);
    buf_init(&resp);
    struct tx_proposal_params pp = *p;
    pp.creator = creator->identity;
    pp.creator_len = creator->identity_len;
    if ((rc = tx_proposal_build(&pp, creator->key, &prop, psig, tx_id)) ||
        (rc = tx_response_payload_build(prop.data, prop.len, r, &resp)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = tx_endorse(endorsers[i].remember, TX_ENDORSEMENT_VERSION, resp.data, resp.len,
                             endorsers[i].identity, endorsers[i].identity_len, endorsers[i].key,
                             sigs[i])))
            goto out;
        stele__endorsement__init(&e[i]);
        e[i].endorser =
            (ProtobufCBinaryData){endorsers[i].identity_len, (uint8_t *)endorsers[i].identity};
        e[i].signature = (ProtobufCBinaryData){CRYPTO_SIG_LEN, sigs[i]};
        ep[i] = &e[i];
    }
    rc = tx_envelope_build(prop.data, prop.len, resp.data, resp.len, ep, n, creator->key, out);
out:
    buf_release(&prop);
    buf_release(&resp);
    return rc;
}
