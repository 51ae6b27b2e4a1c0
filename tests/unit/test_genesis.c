/* test_genesis.c — lib/ledger/genesis: block 0 of a channel, its CONFIG envelope and what it
 * says, as a peer or another orderer would read it. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <string.h>

static void genesis_block_reads_back(void **state)
{
    (void)state;
    struct crypto_key *signer, *o2;
    assert_int_equal(crypto_key_generate(&signer), STELE_OK);
    assert_int_equal(crypto_key_generate(&o2), STELE_OK);
    uint8_t k1[33], k2[33];
    crypto_key_public_compressed(signer, k1);
    crypto_key_public_compressed(o2, k2);
    const struct genesis_orderer orderers[] = {{"orderer0", k1, 33}, {"orderer1", k2, 33}};
    struct genesis_params p = {.channel_id = "elections",
                               .consensus_type = "pbft",
                               .max_message_count = 100,
                               .batch_timeout_ms = 500,
                               .preferred_max_bytes = 1 << 20,
                               .absolute_max_bytes = 4 << 20,
                               .orderers = orderers,
                               .n_orderers = 2,
                               .timestamp_ms = 1790000000123ull};
    static const uint8_t creator[] = "the signer's identity record";
    struct buf out;
    buf_init(&out);
    assert_int_equal(genesis_build(&p, signer, creator, sizeof creator, &out), STELE_OK);

    struct arena *a = arena_create(0);
    Stele__Block *b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, out.data, out.len, 0);
    assert_non_null(b);
    static const uint8_t zero[32];
    assert_int_equal(b->header->number, 0);
    assert_memory_equal(b->header->previous_hash.data, zero, 32);
    assert_int_equal(blockhash_check_data(b), STELE_OK);
    assert_string_equal(b->metadata->channel_id, "elections");
    assert_int_equal(b->metadata->timestamp_ms, 1790000000123ull);
    assert_int_equal(b->metadata->finality_proof.len, 0);
    assert_int_equal(b->data->n_envelopes, 1);

    struct envelope_view v;
    assert_int_equal(
        envelope_parse(a, b->data->envelopes[0].data, b->data->envelopes[0].len, 0, &v, NULL),
        STELE_OK);
    assert_int_equal(v.header->type, STELE__HEADER_TYPE__CONFIG);
    assert_string_equal(v.header->channel_id, "elections");
    assert_memory_equal(v.header->creator.data, creator, sizeof creator);
    assert_int_equal(v.header->timestamp->seconds, 1790000000);
    assert_int_equal(crypto_verify(signer, v.envelope->payload.data, v.envelope->payload.len,
                                   v.envelope->signature.data, v.envelope->signature.len),
                     STELE_OK);
    Stele__OrdererGenesisConfig *gc =
        (Stele__OrdererGenesisConfig *)pb_unpack(&stele__orderer_genesis_config__descriptor, a,
                                                 v.payload->data.data, v.payload->data.len, 0);
    assert_non_null(gc);
    assert_string_equal(gc->channel_id, "elections");
    assert_string_equal(gc->consensus_type, "pbft");
    assert_int_equal(gc->max_message_count, 100);
    assert_int_equal(gc->batch_timeout_ms, 500);
    assert_int_equal(gc->preferred_max_bytes, 1 << 20);
    assert_int_equal(gc->absolute_max_bytes, 4 << 20);
    assert_int_equal(gc->n_orderer_ids, 2);
    assert_string_equal(gc->orderer_ids[1], "orderer1");
    assert_int_equal(gc->n_orderer_keys, 2);
    assert_memory_equal(gc->orderer_keys[1].data, k2, 33);

    p.channel_id = "";
    assert_int_equal(genesis_build(&p, signer, creator, sizeof creator, &out), STELE_ERR_INVALID);
    arena_destroy(a);
    buf_release(&out);
    crypto_key_destroy(signer);
    crypto_key_destroy(o2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genesis_block_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
