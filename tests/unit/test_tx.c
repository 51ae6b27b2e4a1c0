/* test_tx.c — lib/ledger/tx: the proposal signature is domain-separated. A Proposal and a
 * Payload share their encoding (header = 1, then bytes = 2), so a proposal signed over its bare
 * bytes would be a validly signed envelope that any endorser could send to the orderers under
 * the client's tx_id; tx_proposal_build() signs "STELE-PROPOSAL-v1\0" || bytes instead. */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/envelope.h"
#include "ledger/tx.h"

#include <string.h>

static void proposal_signature_is_not_an_envelope_signature(void **state)
{
    (void)state;
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    const uint8_t creator[] = "a creator identity";
    struct tx_proposal_params p = {.channel_id = "stele",
                                   .creator = creator,
                                   .creator_len = sizeof creator,
                                   .chaincode = "asset",
                                   .function = "create"};
    struct buf prop;
    uint8_t sig[64];
    char tx_id[ENVELOPE_TXID_LEN + 1];
    buf_init(&prop);
    assert_int_equal(tx_proposal_build(&p, k, &prop, sig, tx_id), STELE_OK);
    assert_int_equal(tx_proposal_verify(k, prop.data, prop.len, sig, sizeof sig), STELE_OK);
    /* over the bare bytes (what the orderers check on an envelope) it does not verify */
    assert_int_not_equal(crypto_verify(k, prop.data, prop.len, sig, sizeof sig), STELE_OK);
    /* and a changed proposal does not verify either */
    prop.data[prop.len - 1] ^= 1;
    assert_int_not_equal(tx_proposal_verify(k, prop.data, prop.len, sig, sizeof sig), STELE_OK);
    buf_release(&prop);
    crypto_key_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proposal_signature_is_not_an_envelope_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
