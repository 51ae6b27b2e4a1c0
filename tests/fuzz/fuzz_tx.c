/*
 * fuzz_tx.c — arbitrary bytes opened as a peer's validator opens them (lib/ledger/txvalidate.h
 * checks 1 and 3): envelope_parse() (Envelope, Payload, Header, tx_id) and then tx_open()
 * (Transaction, Proposal and its header, ProposalResponsePayload, the read/write set rules of
 * tx.h). No keys are involved: signatures, identities and the state are the validator's. The
 * seeds in corpus/tx are envelopes tx_build_endorsed() made, written by the test
 * fuzz_tx_seeds_open_as_named of tests/unit/test_txvalidate.c (STELE_WRITE_TX_SEEDS=DIR), which
 * also checks that each still opens as its name says.
 *
 * Every call must return a status, never crash or leak, and what it returns must keep the
 * promises of the headers: an opened envelope has a header whose tx_id is 64 digits; a refused
 * transaction names one of BAD_PAYLOAD, BAD_HEADER, BAD_RWSET with a reason; an opened one has
 * every part set, 1 to TX_MAX_ENDORSEMENTS endorsements and a read/write set of the invoked
 * chaincode only, its keys in strictly ascending order.
 */
#include "base/arena.h"
#include "base/status.h"
#include "ledger/envelope.h"
#include "ledger/tx.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
