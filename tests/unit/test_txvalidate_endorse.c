/* test_txvalidate_endorse.c — what an endorsement's signature covers (lib/ledger/tx.h,
 * ChannelConfig.endorsement_version), from the review of 2026-12-06: with the payload and the
 * endorser's record signed end to end (v1), a client could move the chaincode event at the
 * end of the response payload to the front of every endorser record, where stele.Identity
 * skips it as an unknown field; every signature still verified, and the transaction
 * committed VALID without the event its endorsers signed (its subscribers never saw it). */
#include "txv_fixture.h"

/* A transaction of "cc" writing `key`, whose response payload carries a chaincode event, every
 * endorser (peer1, peer2) signing it for `version`. With `splice`, the event's field moves
 * from the end of the payload to the front of each endorser record, and only the envelope is
 * signed again (by its creator, the client). */
static ProtobufCBinaryData event_tx(struct txv_fx *fx, unsigned version, bool splice,
                                    const char *key)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, key, "x");
    struct tx_proposal_params p = {.channel_id = TXV_CHANNEL,
                                   .chaincode = "cc",
                                   .function = "invoke",
                                   .timestamp_ms = TXV_T0 * 1000,
                                   .creator = fx->client.record->data,
                                   .creator_len = fx->client.record->len};
    struct buf prop, resp;
    buf_init(&prop);
    buf_init(&resp);
    uint8_t psig[CRYPTO_SIG_LEN];
    assert_int_equal(tx_proposal_build(&p, fx->client.key, &prop, psig, NULL), STELE_OK);
    Stele__Response r6 = STELE__RESPONSE__INIT;
    r6.status = 200;
    Stele__ChaincodeEvent ev = STELE__CHAINCODE_EVENT__INIT;
    ev.chaincode = "cc";
    ev.name = "transferred";
    ev.payload = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
    struct tx_result r = {.chaincode = "cc",
                          .version = "1.0",
                          .sequence = 1,
                          .rwset = rw,
                          .response = &r6,
                          .event = &ev};
    assert_int_equal(tx_response_payload_build(prop.data, prop.len, &r, &resp), STELE_OK);
    /* the event is the payload's last field (7, tag 0x3a) */
    size_t evlen = protobuf_c_message_get_packed_size(&ev.base);
    size_t tail = 2 + evlen;
    assert_true(evlen < 128 && resp.len > tail && resp.data[resp.len - tail] == 0x3a);
    const struct test_identity *ends[2] = {&fx->peer1, &fx->peer2};
    Stele__Endorsement e[2];
    const Stele__Endorsement *ep[2];
    uint8_t sigs[2][CRYPTO_SIG_LEN];
    struct buf recs[2];
    for (size_t i = 0; i < 2; i++) {
        const struct buf *rec = ends[i]->record;
        assert_int_equal(tx_endorse(NULL, version, resp.data, resp.len, rec->data, rec->len,
                                    ends[i]->key, sigs[i]),
                         STELE_OK);
        buf_init(&recs[i]);
        if (splice)
            buf_append(&recs[i], resp.data + resp.len - tail, tail);
        buf_append(&recs[i], rec->data, rec->len);
        stele__endorsement__init(&e[i]);
        e[i].endorser = (ProtobufCBinaryData){recs[i].len, recs[i].data};
        e[i].signature = (ProtobufCBinaryData){CRYPTO_SIG_LEN, sigs[i]};
        ep[i] = &e[i];
    }
    ProtobufCBinaryData out;
    assert_int_equal(tx_envelope_build(prop.data, prop.len, resp.data,
                                       splice ? resp.len - tail : resp.len, ep, 2, fx->client.key,
                                       &out),
                     STELE_OK);
    ProtobufCBinaryData kept = txv_keep(fx, out.data, out.len);
    free(out.data);
    for (size_t i = 0; i < 2; i++)
        buf_release(&recs[i]);
    buf_release(&prop);
    buf_release(&resp);
    return kept;
}

/* On a channel of today (endorsement_version 1): the spliced transaction is refused
 * (BAD_ENDORSEMENT: the endorsers signed the payload's length), the honest one commits. */
static void a_moved_event_does_not_keep_the_endorsements(void **state)
{
    struct txv_fx *fx = *state;
    assert_int_equal(fx->cfg->endorsement_version, TX_ENDORSEMENT_VERSION);
    ProtobufCBinaryData envs[2] = {event_tx(fx, TX_ENDORSEMENT_VERSION, false, "k1"),
                                   event_tx(fx, TX_ENDORSEMENT_VERSION, true, "k2")};
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes);
    assert_int_equal(codes[0], TXC(VALID));
    assert_int_equal(codes[1], TXC(BAD_ENDORSEMENT));
}

/* Endorsements signed the old way (v1) are refused on a channel of today, and a channel
 * created before keeps its rule: v1 endorsements valid there, v2 ones not (its blocks are
 * validated again as they were). A version this program does not know signs nothing and
 * verifies nothing. */
static void each_channel_keeps_its_endorsement_version(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData old = txv_build_raw(fx, &(struct txv_tx){0}, TXV_V1_ENDORSEMENTS);
    uint8_t code;
    txv_commit(fx, &old, 1, &code);
    assert_int_equal(code, TXC(BAD_ENDORSEMENT));

    fx->cfg->endorsement_version = 0; /* a channel created before 2026-12-06 */
    txvalidate_destroy(fx->v);
    fx->v = txv_validator(fx->msp, fx->cfg, 2);
    ProtobufCBinaryData envs[2] = {txv_build_raw(fx, &(struct txv_tx){0}, TXV_V1_ENDORSEMENTS),
                                   txv_build_raw(fx, &(struct txv_tx){0}, 0)};
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes);
    assert_int_equal(codes[0], TXC(VALID));
    assert_int_equal(codes[1], TXC(BAD_ENDORSEMENT));
    /* there the splice is refused too: a record padded with the event is no record
     * (lib/identity: only the CA's encoding) */
    ProtobufCBinaryData spliced[2] = {event_tx(fx, 0, false, "k3"), event_tx(fx, 0, true, "k4")};
    txv_commit(fx, spliced, 2, codes);
    assert_int_equal(codes[0], TXC(VALID));
    assert_int_equal(codes[1], TXC(BAD_ENDORSEMENT));

    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(tx_endorse(NULL, TX_ENDORSEMENT_VERSION + 1, (const uint8_t *)"p", 1,
                                fx->peer1.record->data, fx->peer1.record->len, fx->peer1.key, sig),
                     STELE_ERR_INVALID);
    const struct crypto_key *pub = fx->peer1.key; /* its public half verifies */
    assert_int_equal(tx_endorse(NULL, 1, (const uint8_t *)"p", 1, fx->peer1.record->data,
                                fx->peer1.record->len, fx->peer1.key, sig),
                     STELE_OK);
    assert_int_equal(tx_endorsement_verify(NULL, 1, pub, (const uint8_t *)"p", 1,
                                           fx->peer1.record->data, fx->peer1.record->len, sig,
                                           sizeof sig),
                     STELE_OK);
    assert_int_equal(tx_endorsement_verify(NULL, TX_ENDORSEMENT_VERSION + 1, pub,
                                           (const uint8_t *)"p", 1, fx->peer1.record->data,
                                           fx->peer1.record->len, sig, sizeof sig),
                     STELE_ERR_INVALID);
}

/* tx.h: a signature that is not 64 octets long is refused as STELE_ERR_MALFORMED (what
 * crypto_verify() answers), one of 64 octets that does not verify as STELE_ERR_AUTH, for both
 * endorsement versions. The header listed only the second. */
static void a_signature_of_another_length_is_malformed(void **state)
{
    struct txv_fx *fx = *state;
    const uint8_t *who = fx->peer1.record->data;
    size_t who_len = fx->peer1.record->len;
    for (unsigned v = 0; v <= TX_ENDORSEMENT_VERSION; v++) {
        uint8_t sig[CRYPTO_SIG_LEN + 1] = {0};
        assert_int_equal(
            tx_endorse(NULL, v, (const uint8_t *)"p", 1, who, who_len, fx->peer1.key, sig),
            STELE_OK);
        const struct crypto_key *pub = fx->peer1.key;
        assert_int_equal(tx_endorsement_verify(NULL, v, pub, (const uint8_t *)"p", 1, who, who_len,
                                               sig, CRYPTO_SIG_LEN - 1),
                         STELE_ERR_MALFORMED);
        assert_int_equal(tx_endorsement_verify(NULL, v, pub, (const uint8_t *)"p", 1, who, who_len,
                                               sig, CRYPTO_SIG_LEN + 1),
                         STELE_ERR_MALFORMED);
        sig[0] ^= 1;
        assert_int_equal(tx_endorsement_verify(NULL, v, pub, (const uint8_t *)"p", 1, who, who_len,
                                               sig, CRYPTO_SIG_LEN),
                         STELE_ERR_AUTH);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_moved_event_does_not_keep_the_endorsements, txv_setup,
                                        txv_teardown),
        cmocka_unit_test_setup_teardown(each_channel_keeps_its_endorsement_version, txv_setup,
                                        txv_teardown),
        cmocka_unit_test_setup_teardown(a_signature_of_another_length_is_malformed, txv_setup,
                                        txv_teardown),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
