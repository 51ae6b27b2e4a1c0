/*
 * fuzz_tx.c — arbitrary bytes opened as a peer's validator opens them (lib/ledger/txvalidate.h
 * checks 1 and 3): envelope_parse() (Envelope, Payload, Header, tx_id) and then tx_open()
 * (Transaction, Proposal and its header, ProposalResponsePayload, the read/write set rules of
 * tx.h); then, for every transaction tx_open() accepts, the endorsement signature code of check
 * 6 (tx_endorsement_message(), tx_endorse(), tx_endorsement_verify()) on each endorsement's
 * response payload and endorser octets. The seeds in corpus/tx are envelopes
 * tx_build_endorsed() made, written by the test fuzz_tx_seeds_open_as_named of
 * tests/unit/test_txvalidate.c (STELE_WRITE_TX_SEEDS=DIR), which also checks that each still
 * opens as its name says.
 *
 * Every call must return a status, never crash or leak, and what it returns must keep the
 * promises of the headers: an opened envelope has a header whose tx_id is 64 digits; a refused
 * transaction names one of BAD_PAYLOAD, BAD_HEADER, BAD_RWSET with a reason; an opened one has
 * every part set, 1 to TX_MAX_ENDORSEMENTS endorsements and a read/write set of the invoked
 * chaincode only, its keys in strictly ascending order.
 *
 * Endorsements (no endorser's key is needed): for each one, the message of both endorsement
 * versions is exactly the domain with its NUL, for version 1 ("STELE-ENDORSE-v2") u64be of the
 * payload's length, the payload, then the endorser octets; under version 1, moving the boundary
 * between payload and endorser by one octet either way gives another message (the framing is
 * unambiguous); a version above TX_ENDORSEMENT_VERSION is refused and appends nothing. With a
 * fixed key of the harness (private scalar 0x5e..5e), the first endorsement's fuzzed signature
 * must be refused under both versions (STELE_ERR_AUTH, or STELE_ERR_MALFORMED when it is not
 * 64 octets long); a signature the harness makes over the same pair, for each version, must
 * verify under that version, fail under the other, and fail once one of its bits is flipped.
 * fuzz_replay_check() makes sure the seeds reach all of this for both versions.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/envelope.h"
#include "ledger/tx.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENVELOPE (1u << 20)

/* Checks the promises of tx_open() on an opened transaction, touching every key. */
static void check_opened(const struct envelope_view *ev, const struct tx_view *tv)
{
    if (!tv->tx || !tv->proposal || !tv->invocation || !tv->response || !tv->rwset)
        abort();
    if (tv->tx->n_endorsements == 0 || tv->tx->n_endorsements > TX_MAX_ENDORSEMENTS)
        abort();
    if (!tx_chaincode_name_ok(tv->invocation->chaincode))
        abort();
    if (strcmp(tv->proposal->header->tx_id, ev->header->tx_id) != 0)
        abort();
    const Stele__TxRwSet *rw = tv->rwset;
    if (rw->n_ns_rwsets > 1)
        abort();
    for (size_t n = 0; n < rw->n_ns_rwsets; n++) {
        const Stele__NsRwSet *ns = rw->ns_rwsets[n];
        if (strcmp(ns->namespace_, tv->invocation->chaincode) != 0)
            abort();
        for (size_t i = 1; i < ns->n_reads; i++)
            if (strcmp(ns->reads[i - 1]->key, ns->reads[i]->key) >= 0)
                abort();
        for (size_t i = 0; i < ns->n_writes; i++) {
            const Stele__KVWrite *w = ns->writes[i];
            if (!w->key[0] || strlen(w->key) > TX_MAX_KEY_LEN || (w->is_delete && w->value.len))
                abort();
            if (i && strcmp(ns->writes[i - 1]->key, w->key) >= 0)
                abort();
        }
        for (size_t r = 0; r < ns->n_range_reads; r++) {
            const Stele__RangeRead *rr = ns->range_reads[r];
            for (size_t i = 0; i < rr->n_reads; i++)
                if (strcmp(rr->reads[i]->key, rr->start_key) < 0 ||
                    (rr->end_key[0] && strcmp(rr->reads[i]->key, rr->end_key) >= 0))
                    abort();
        }
    }
}

/* The fixed endorser key of the harness (private scalar 0x5e..5e; no test or seed uses it):
 * `signer` signs, `pub` is its public half imported from its SEC 1 point, as a validator
 * imports an endorser's key. Made once; reachable until exit. */
static struct crypto_key *signer, *pub;

static void setup(void)
{
    if (pub)
        return;
    uint8_t d[CRYPTO_SCALAR_LEN], q[CRYPTO_POINT_COMPRESSED_LEN];
    memset(d, 0x5e, sizeof d);
    if (crypto_key_from_scalar(d, &signer) != STELE_OK)
        abort();
    crypto_key_public_compressed(signer, q);
    if (crypto_key_from_public(q, sizeof q, &pub) != STELE_OK)
        abort();
}

/* What the replay counts, for fuzz_replay_check(): endorsements whose messages were checked,
 * and signatures the harness made and verified for each version. */
static unsigned checked_endorsements, signed_verified[2];

/* True when `m` (len octets) is exactly what endorsement `version` signs for (p, e): the
 * domain with its NUL, for version 1 the payload's length as 8 octets big-endian, then the
 * payload and the endorser octets after it, nothing else. */
static bool message_is(const struct buf *m, unsigned version, const ProtobufCBinaryData *p,
                       const ProtobufCBinaryData *e)
{
    const char *domain = version ? TX_DOMAIN_ENDORSE_V2 : TX_DOMAIN_ENDORSE;
    size_t dl = strlen(domain) + 1, at = dl;
    if (m->len != dl + (version ? 8 : 0) + p->len + e->len || memcmp(m->data, domain, dl) != 0)
        return false;
    if (version) {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | m->data[at + i];
        if (n != p->len)
            return false;
        at += 8;
    }
    return (!p->len || memcmp(m->data + at, p->data, p->len) == 0) &&
           (!e->len || memcmp(m->data + at + p->len, e->data, e->len) == 0);
}

/* Builds the message of `version` for (p, e) into `m` (cleared first); aborts unless it is
 * built or memory ran out. Returns true when built. */
static bool build(struct buf *m, unsigned version, const ProtobufCBinaryData *p,
                  const ProtobufCBinaryData *e)
{
    buf_clear(m);
    int rc = tx_endorsement_message(m, version, p->data, p->len, e->data, e->len);
    if (rc == STELE_ERR_NOMEM)
        return false;
    if (rc != STELE_OK || !message_is(m, version, p, e))
        abort();
    return true;
}

/* Aborts unless version-1 messages ("STELE-ENDORSE-v2") of (p, e) and of the pair with the
 * boundary moved by one octet differ (when they can be built): the octet that ends the payload
 * cannot pass for one that starts the endorser record, nor the other way round. `m` holds the
 * message of (p, e); `tmp` is scratch space of at least p->len + e->len octets. */
static void check_framing(const struct buf *m, const ProtobufCBinaryData *p,
                          const ProtobufCBinaryData *e, uint8_t *tmp)
{
    struct buf o;
    buf_init(&o);
    if (p->len)
        memcpy(tmp, p->data, p->len);
    if (e->len)
        memcpy(tmp + p->len, e->data, e->len);
    for (int later = 0; later <= 1; later++) {
        if (!(later ? e->len : p->len))
            continue;
        size_t cut = later ? p->len + 1 : p->len - 1;
        ProtobufCBinaryData p2 = {cut, tmp}, e2 = {p->len + e->len - cut, tmp + cut};
        if (build(&o, 1, &p2, &e2) && o.len == m->len && memcmp(o.data, m->data, o.len) == 0)
            abort();
    }
    buf_release(&o);
}

/* Checks tx_endorsement_verify() on the message of `version` for (p, e) with the fixed key:
 * the fuzzed signature `sig` must be refused (no one but the harness holds the key); a
 * signature the harness makes must verify for that version only, and no longer once one of
 * its octets is flipped (`flip` picks which). */
static void check_verify(unsigned version, const ProtobufCBinaryData *p,
                         const ProtobufCBinaryData *e, const ProtobufCBinaryData *sig, size_t flip)
{
    int rc = tx_endorsement_verify(NULL, version, pub, p->data, p->len, e->data, e->len, sig->data,
                                   sig->len);
    if (rc != (sig->len == CRYPTO_SIG_LEN ? STELE_ERR_AUTH : STELE_ERR_MALFORMED) &&
        !stele_no_verdict(rc))
        abort();
    uint8_t s[CRYPTO_SIG_LEN];
    rc = tx_endorse(NULL, version, p->data, p->len, e->data, e->len, signer, s);
    if (stele_no_verdict(rc))
        return;
    if (rc != STELE_OK)
        abort();
    rc = tx_endorsement_verify(NULL, version, pub, p->data, p->len, e->data, e->len, s, sizeof s);
    if (stele_no_verdict(rc))
        return;
    if (rc != STELE_OK)
        abort();
    signed_verified[version]++;
    rc = tx_endorsement_verify(NULL, version ^ 1u, pub, p->data, p->len, e->data, e->len, s,
                               sizeof s);
    if (rc != STELE_ERR_AUTH && !stele_no_verdict(rc))
        abort();
    rc = tx_endorsement_verify(NULL, TX_ENDORSEMENT_VERSION + 1, pub, p->data, p->len, e->data,
                               e->len, s, sizeof s);
    if (rc != STELE_ERR_INVALID)
        abort();
    s[flip % sizeof s] ^= (uint8_t)(1u << (flip / sizeof s % 8)); /* one bit of one octet */
    rc = tx_endorsement_verify(NULL, version, pub, p->data, p->len, e->data, e->len, s, sizeof s);
    if (rc != STELE_ERR_AUTH && !stele_no_verdict(rc))
        abort();
}

/* The endorsement signatures of an opened transaction, without the endorsers' keys: the
 * message of every endorsement for both versions (exact layout, unambiguous framing for
 * version 1, a version above TX_ENDORSEMENT_VERSION refused), then, for the first endorsement
 * and each version, check_verify() with the fixed key. Cost per transaction: 2 signings and 8
 * signature verifications (about 0.5 ms), whatever the number of endorsements. */
static void check_endorsements(const Stele__Transaction *t)
{
    const ProtobufCBinaryData *p = &t->response_payload;
    struct buf m;
    buf_init(&m);
    for (size_t i = 0; i < t->n_endorsements; i++) {
        const ProtobufCBinaryData *e = &t->endorsements[i]->endorser;
        build(&m, 0, p, e);
        if (build(&m, 1, p, e)) {
            uint8_t *tmp = malloc(p->len + e->len + 1);
            if (tmp)
                check_framing(&m, p, e, tmp);
            free(tmp);
        }
        size_t before = m.len;
        if (tx_endorsement_message(&m, TX_ENDORSEMENT_VERSION + 1, p->data, p->len, e->data,
                                   e->len) != STELE_ERR_INVALID ||
            m.len != before)
            abort();
        checked_endorsements++;
    }
    buf_release(&m);
    const Stele__Endorsement *e0 = t->endorsements[0];
    const ProtobufCBinaryData *sig = &e0->signature;
    size_t flip = sig->len ? sig->data[sig->len - 1] : 0;
    for (unsigned v = 0; v <= TX_ENDORSEMENT_VERSION; v++)
        check_verify(v, p, &e0->endorser, sig, flip + v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    struct arena *a = arena_create(0);
    if (!a)
        abort();
    struct envelope_view ev;
    const char *why = NULL;
    int rc = envelope_parse(a, data, size, MAX_ENVELOPE, &ev, &why);
    if (rc == STELE_OK) {
        if (!ev.envelope || !ev.payload || !ev.header || strlen(ev.header->tx_id) != 64)
            abort();
        struct tx_view tv;
        Stele__TxValidationCode code = STELE__TX_VALIDATION_CODE__NOT_VALIDATED;
        why = NULL;
        rc = tx_open(a, &ev, &tv, &code, &why);
        if (rc == STELE_OK) {
            if (code != STELE__TX_VALIDATION_CODE__VALID)
                abort();
            check_opened(&ev, &tv);
            check_endorsements(tv.tx);
        } else if (rc == STELE_ERR_MALFORMED) {
            if (!why || (code != STELE__TX_VALIDATION_CODE__BAD_PAYLOAD &&
                         code != STELE__TX_VALIDATION_CODE__BAD_HEADER &&
                         code != STELE__TX_VALIDATION_CODE__BAD_RWSET))
                abort();
        } else if (rc != STELE_ERR_NOMEM && rc != STELE_ERR_CRYPTO) {
            abort();
        }
    } else if (rc == STELE_ERR_MALFORMED || rc == STELE_ERR_TOO_BIG) {
        if (!why)
            abort();
    } else if (rc != STELE_ERR_NOMEM && rc != STELE_ERR_CRYPTO) {
        abort();
    }
    arena_destroy(a);
    return 0;
}

/* The seeds must reach the endorsement checks, and the harness's own signature must verify
 * under both versions (a replay that never opens a transaction checks nothing). */
int fuzz_replay_check(void);
int fuzz_replay_check(void)
{
    return checked_endorsements && signed_verified[0] && signed_verified[1] ? 0 : 1;
}
