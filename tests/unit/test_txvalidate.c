/* test_txvalidate.c — validating a block's transactions (lib/ledger/txvalidate.h) with real keys,
 * a real state database and block store: one test per validation code of checks 1-7, each
 * checking that only the VALID transactions' writes reach the state; the input checks; the
 * genesis update; the code names; the fuzz_tx seeds. The in-order pass (checks 8-10) and
 * determinism across threads are in test_txvalidate_mvcc.c; the fixture is
 * tests/support/txv_fixture.h. */
#include "txv_fixture.h"

#include "base/clock.h"
#include "ledger/genesis.h"

#include <dirent.h>

/* ---- one test per code ------------------------------------------------------------------- */

static void valid_writes_land_at_their_version(void **state)
{
    struct txv_fx *fx = *state;
    uint8_t codes[3];
    Stele__TxRwSet *rw0 = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw0, "a", "1");
    txv_rw_write(fx->a, rw0, "b", "2");
    Stele__TxRwSet *rw1 = txv_rw(fx->a, "solo");
    txv_rw_write(fx->a, rw1, "s", "x");
    ProtobufCBinaryData envs[3] = {
        txv_build(fx, &(struct txv_tx){.rwset = rw0}, NULL),
        txv_build(
            fx,
            &(struct txv_tx){
                .chaincode = "solo", .rwset = rw1, .endorsers = {&fx->peer2}, .n_endorsers = 1},
            NULL),
        txv_build(fx, &(struct txv_tx){0}, NULL), /* reads and writes nothing */
    };
    assert_int_equal(txv_commit(fx, envs, 3, codes), 1);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID));
    txv_expect_value(fx, "cc", "a", "1", 1, 0);
    txv_expect_value(fx, "cc", "b", "2", 1, 0);
    txv_expect_value(fx, "solo", "s", "x", 1, 1);
    txv_expect_keys(fx, "cc", "a,b");

    /* A read at the current version, an overwrite and a delete. */
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_read(fx->a, rw, "a", 1, 0);
    txv_rw_write(fx->a, rw, "a", "3");
    txv_rw_delete(fx->a, rw, "b");
    ProtobufCBinaryData next = txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
    assert_int_equal(txv_commit(fx, &next, 1, codes), 2);
    TXV_EXPECT_CODES(codes, TXC(VALID));
    txv_expect_value(fx, "cc", "a", "3", 2, 0);
    txv_expect_absent(fx, "cc", "b");
    txv_expect_keys(fx, "cc", "a");
    assert_int_equal(statedb_height(fx->db), 3);
}

static void bad_payload(void **state)
{
    struct txv_fx *fx = *state;
    static const uint8_t truncated[] = {0x0a, 0x05, 'a', 'b', 'c'}; /* 5 octets announced */
    static const uint8_t huge_len[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    uint8_t sig[CRYPTO_SIG_LEN] = {0};
    /* an envelope whose payload does not decode */
    Stele__Envelope e = STELE__ENVELOPE__INIT;
    e.payload = (ProtobufCBinaryData){sizeof junk, (uint8_t *)junk};
    e.signature = (ProtobufCBinaryData){sizeof sig, sig};
    uint8_t bad_payload[128];
    size_t bad_payload_len = protobuf_c_message_pack(&e.base, bad_payload);
    /* a well-signed ENDORSER_TRANSACTION whose data is no Transaction */
    struct envelope_params p = {.channel_id = TXV_CHANNEL,
                                .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                .creator = fx->client.record->data,
                                .creator_len = fx->client.record->len,
                                .data = junk,
                                .data_len = sizeof junk,
                                .timestamp_ms = TXV_T0 * 1000};
    ProtobufCBinaryData not_tx;
    assert_int_equal(envelope_build(&p, fx->client.key, &not_tx, NULL), STELE_OK);
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        {sizeof truncated, (uint8_t *)truncated},
        {sizeof huge_len, (uint8_t *)huge_len},
        {23, (uint8_t *)"not an envelope at all!"},
        {0, (uint8_t *)""},
        {bad_payload_len, bad_payload},
        txv_keep(fx, not_tx.data, not_tx.len),
    };
    free(not_tx.data);
    uint8_t codes[7];
    txv_commit(fx, envs, 7, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_PAYLOAD), TXC(BAD_PAYLOAD), TXC(BAD_PAYLOAD),
                     TXC(BAD_PAYLOAD), TXC(BAD_PAYLOAD), TXC(BAD_PAYLOAD));
    txv_expect_keys(fx, "cc", "ok");
}

static void wrong_tx_id(Stele__Header *h)
{
    h->tx_id[0] = h->tx_id[0] == '0' ? '1' : '0';
}

static void later_timestamp(Stele__Header *h)
{
    h->timestamp->seconds += 1; /* now differs from the proposal's header */
}

static void negative_timestamp(Stele__Header *h)
{
    h->timestamp->seconds = -5;
}

/* An envelope of header type `type` by the client, on the channel. */
static ProtobufCBinaryData typed_envelope(struct txv_fx *fx, Stele__HeaderType type,
                                          const char *channel)
{
    struct envelope_params p = {.channel_id = channel,
                                .type = type,
                                .creator = fx->client.record->data,
                                .creator_len = fx->client.record->len,
                                .data = (const uint8_t *)"data",
                                .data_len = 4,
                                .timestamp_ms = TXV_T0 * 1000};
    ProtobufCBinaryData out;
    assert_int_equal(envelope_build(&p, fx->client.key, &out, NULL), STELE_OK);
    ProtobufCBinaryData kept = txv_keep(fx, out.data, out.len);
    free(out.data);
    return kept;
}

static void bad_header(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "bad", "x");
    const struct txv_tx bad = {.rwset = rw};
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        txv_resign(fx, txv_build(fx, &bad, NULL), fx->client.key, wrong_tx_id),
        txv_build_raw(fx, &bad, TXV_NO_TIMESTAMP),
        txv_resign(fx, txv_build(fx, &bad, NULL), fx->client.key, negative_timestamp),
        txv_resign(fx, txv_build(fx, &bad, NULL), fx->client.key, later_timestamp),
        typed_envelope(fx, STELE__HEADER_TYPE__ADMIN, TXV_CHANNEL),
        typed_envelope(fx, STELE__HEADER_TYPE__DELIVER_SEEK_INFO, TXV_CHANNEL),
        txv_build_raw(fx, &bad, 0), /* the step-by-step builder, unspoiled */
    };
    uint8_t codes[8];
    txv_commit(fx, envs, 8, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_HEADER), TXC(BAD_HEADER), TXC(BAD_HEADER),
                     TXC(BAD_HEADER), TXC(BAD_HEADER), TXC(BAD_HEADER), TXC(VALID));
    txv_expect_keys(fx, "cc", "bad,ok");
    txv_expect_value(fx, "cc", "bad", "x", 1, 7);
}

static void bad_channel(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "bad", "x");
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        txv_build(fx, &(struct txv_tx){.channel = "ch2", .rwset = rw}, NULL),
        typed_envelope(fx, STELE__HEADER_TYPE__CONFIG, "ch2"), /* the channel comes first */
    };
    uint8_t codes[3];
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_CHANNEL), TXC(BAD_CHANNEL));
    txv_expect_keys(fx, "cc", "ok");
}

static void invalid_config(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        typed_envelope(fx, STELE__HEADER_TYPE__CONFIG, TXV_CHANNEL),
    };
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(INVALID_CONFIG));
    txv_expect_keys(fx, "cc", "ok");
}

static void bad_rwset(void **state)
{
    struct txv_fx *fx = *state;
    struct arena *a = fx->a;
    Stele__TxRwSet *other_ns = txv_rw(a, "solo"); /* while invoking "cc" */
    txv_rw_write(a, other_ns, "bad", "x");
    Stele__TxRwSet *two_ns = txv_rw(a, "cc");
    txv_rw_write(a, two_ns, "bad", "x");
    txv_rw_ns(a, two_ns, "solo");
    txv_rw_write(a, two_ns, "bad", "x");
    Stele__TxRwSet *unsorted_writes = txv_rw(a, "cc");
    txv_rw_write(a, unsorted_writes, "bad2", "x");
    txv_rw_write(a, unsorted_writes, "bad1", "x");
    Stele__TxRwSet *twice = txv_rw(a, "cc");
    txv_rw_write(a, twice, "bad", "x");
    txv_rw_write(a, twice, "bad", "y");
    Stele__TxRwSet *unsorted_reads = txv_rw(a, "cc");
    txv_rw_read_absent(a, unsorted_reads, "z");
    txv_rw_read_absent(a, unsorted_reads, "y");
    txv_rw_write(a, unsorted_reads, "bad", "x");
    Stele__TxRwSet *delete_value = txv_rw(a, "cc");
    txv_rw_put(a, delete_value, "bad", "x", true);
    Stele__TxRwSet *range_out = txv_rw(a, "cc");
    txv_range_key(a, txv_rw_range(a, range_out, "m", "n", true), "z", 1, 0);
    txv_rw_write(a, range_out, "bad", "x");
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        txv_build(fx, &(struct txv_tx){.rwset = other_ns}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = two_ns}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = unsorted_writes}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = twice}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = unsorted_reads}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = delete_value}, NULL),
        txv_build(fx, &(struct txv_tx){.rwset = range_out}, NULL),
    };
    uint8_t codes[8];
    txv_commit(fx, envs, 8, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_RWSET), TXC(BAD_RWSET), TXC(BAD_RWSET),
                     TXC(BAD_RWSET), TXC(BAD_RWSET), TXC(BAD_RWSET), TXC(BAD_RWSET));
    txv_expect_keys(fx, "cc", "ok");
    txv_expect_keys(fx, "solo", "");
}

static void no_change(Stele__Header *h)
{
    (void)h;
}

static void bad_creator_signature(void **state)
{
    struct txv_fx *fx = *state;
    struct test_identity rogue, wrong_org;
    txv_member(fx->rogue, TXV_CA1_ID, "mallory", "Org1", "client", &rogue);
    txv_member(fx->ca1, TXV_CA1_ID, "client0.org2", "Org2", "client", &wrong_org);
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "bad", "x");
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        txv_flip_signature(fx, txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL)),
        /* signed by a member, but not by the creator the header names */
        txv_resign(fx, txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL), fx->peer1.key,
                   no_change),
        txv_build(fx, &(struct txv_tx){.creator = &rogue, .rwset = rw}, NULL),
        /* Org1's CA is not trusted for Org2 */
        txv_build(fx, &(struct txv_tx){.creator = &wrong_org, .rwset = rw}, NULL),
    };
    uint8_t codes[5];
    txv_commit(fx, envs, 5, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_CREATOR_SIGNATURE), TXC(BAD_CREATOR_SIGNATURE),
                     TXC(BAD_CREATOR_SIGNATURE), TXC(BAD_CREATOR_SIGNATURE));
    txv_expect_keys(fx, "cc", "ok");
    test_identity_free(&rogue);
    test_identity_free(&wrong_org);
}

/* A transaction by `creator` at `ts_s` writing `key`. */
static ProtobufCBinaryData put_by(struct txv_fx *fx, const struct test_identity *creator,
                                  uint64_t ts_s, const char *key)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, key, "x");
    return txv_build(fx, &(struct txv_tx){.creator = creator, .ts_s = ts_s, .rwset = rw}, NULL);
}

static void creator_expired_is_judged_at_the_tx_time(void **state)
{
    struct txv_fx *fx = *state;
    struct test_identity old, current;
    /* valid for an hour in 2017: expired by the wall clock */
    test_identity_issue(fx->ca1, TXV_CA1_ID, "old.org1", "Org1", "client", 1500000000, 3600, &old);
    /* valid for the coming hour by the wall clock */
    uint64_t now = clock_wall_s();
    test_identity_issue(fx->ca1, TXV_CA1_ID, "now.org1", "Org1", "client", now - 60, 3600,
                        &current);
    ProtobufCBinaryData envs[] = {
        put_by(fx, &old, 1500001000, "a"),     /* inside its validity */
        put_by(fx, &old, TXV_T0, "b"),         /* after it */
        put_by(fx, &old, 1499999000, "c"),     /* before it */
        put_by(fx, &old, 1500003600, "d"),     /* at its end, which is excluded */
        put_by(fx, &current, now + 7200, "e"), /* valid now, expired at the tx time */
        put_by(fx, &current, now, "f"),
    };
    uint8_t codes[6];
    txv_commit(fx, envs, 6, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(CREATOR_EXPIRED), TXC(CREATOR_EXPIRED),
                     TXC(CREATOR_EXPIRED), TXC(CREATOR_EXPIRED), TXC(VALID));
    txv_expect_keys(fx, "cc", "a,f");
    test_identity_free(&old);
    test_identity_free(&current);
}

/* Installs in fx->msp a CRL of Org1's CA revoking `a` and `b`. */
static void revoke(struct txv_fx *fx, const struct test_identity *a, const struct test_identity *b)
{
    const struct test_identity *who[2] = {a, b};
    struct identity_revoked e[2];
    struct buf crl;
    buf_init(&crl);
    for (int i = 0; i < 2; i++) {
        struct identity id;
        assert_int_equal(
            identity_decode(fx->a, who[i]->record->data, who[i]->record->len, &id, NULL), STELE_OK);
        e[i] = (struct identity_revoked){.serial = id.fields.serial,
                                         .id = id.id,
                                         .revoked_at = TXV_T0,
                                         .reason = "key-compromise"};
        memcpy(e[i].certhash, id.certhash, 32);
    }
    assert_int_equal(crl_issue(fx->ca1, TXV_CA1_ID, 1, TXV_T0, TXV_T0 + 86400, e, 2, &crl),
                     STELE_OK);
    assert_int_equal(msp_set_crl(fx->msp, crl.data, crl.len, NULL), STELE_OK);
    buf_release(&crl);
}

static void creator_revoked(void **state)
{
    struct txv_fx *fx = *state;
    struct test_identity eve, peer9;
    txv_member(fx->ca1, TXV_CA1_ID, "eve.org1", "Org1", "client", &eve);
    txv_member(fx->ca1, TXV_CA1_ID, "peer9.org1", "Org1", "peer", &peer9);
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "endorsed", "x");
    const struct txv_tx by_peer9 = {
        .rwset = rw, .endorsers = {&peer9, &fx->peer2}, .n_endorsers = 2};
    uint8_t codes[3];
    ProtobufCBinaryData before[] = {put_by(fx, &eve, 0, "before"), txv_build(fx, &by_peer9, NULL)};
    txv_commit(fx, before, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID));

    revoke(fx, &eve, &peer9);
    Stele__TxRwSet *rw2 = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw2, "endorsed2", "x");
    struct txv_tx by_peer9_again = by_peer9;
    by_peer9_again.rwset = rw2;
    ProtobufCBinaryData envs[] = {
        put_by(fx, &eve, 0, "after"), put_by(fx, NULL, 0, "ok"),
        txv_build(fx, &by_peer9_again, NULL), /* a revoked endorser is a bad endorsement */
    };
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(CREATOR_REVOKED), TXC(VALID), TXC(BAD_ENDORSEMENT));
    txv_expect_keys(fx, "cc", "before,endorsed,ok");
    test_identity_free(&eve);
    test_identity_free(&peer9);
}

/* A peer remembers the endorsements it signed (lib/crypto/sigcache.h): validating them runs
 * no verification, while an endorsement it did not make is verified, and refused when bad. */
static void remembered_endorsements(void **state)
{
    struct txv_fx *fx = *state;
    struct sigcache *sc = msp_sigcache(fx->msp);
    struct sigcache_stats s0, s1;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "spoiled", "x");
    sigcache_get_stats(sc, &s0);
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "mine", "1"), /* endorsed by peer1 and peer2, both signed here */
        txv_build_raw(fx, &(struct txv_tx){.rwset = rw}, TXV_BAD_ENDORSEMENT),
    };
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(BAD_ENDORSEMENT));
    txv_expect_keys(fx, "cc", "mine");
    sigcache_get_stats(sc, &s1);
    /* the first transaction's two endorsements remembered; the two creators' signatures
     * verified and then remembered (identity_verify_signature() goes through the cache too);
     * the spoiled endorsement of the second verified (and refused, ending its checks), and not
     * remembered */
    assert_int_equal(s1.hits - s0.hits, 2);
    assert_int_equal(s1.verified - s0.verified, 3);
    assert_int_equal(s1.added - s0.added, 6); /* the four endorsements signed, two creators */
}

/* An endorser signature that sends verification to the point at infinity (which the
 * endorser, or anyone holding its key, can make) is a bad endorsement, not a failure of the
 * validator: were it taken for one, every peer would try that block again for ever. */
static void endorsement_reaching_infinity_is_bad(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "inf", "x");
    ProtobufCBinaryData envs[] = {
        txv_build_raw(fx, &(struct txv_tx){.rwset = rw}, TXV_INFINITE_ENDORSEMENT),
        txv_put_tx(fx, "after", "1"),
    };
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes); /* fails the test unless the block validates */
    TXV_EXPECT_CODES(codes, TXC(BAD_ENDORSEMENT), TXC(VALID));
    txv_expect_keys(fx, "cc", "after");
}

static void unknown_chaincode(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "nope");
    txv_rw_write(fx->a, rw, "bad", "x");
    ProtobufCBinaryData envs[] = {
        txv_put_tx(fx, "ok", "1"),
        txv_build(fx, &(struct txv_tx){.chaincode = "nope", .rwset = rw}, NULL),
    };
    uint8_t codes[2];
    txv_commit(fx, envs, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(UNKNOWN_CHAINCODE));
    txv_expect_keys(fx, "cc", "ok");
    txv_expect_keys(fx, "nope", "");
}

static void endorsement_policy_failure(void **state)
{
    struct txv_fx *fx = *state;
    const struct test_identity *p1 = &fx->peer1, *p1b = &fx->peer1b, *p2 = &fx->peer2;
    const struct test_identity *one[] = {p1}, *both[] = {p2, p1}, *p1_twice[] = {p1, p1},
                               *two_org1[] = {p1, p1b}, *client_and_p1[] = {&fx->client, p1};
    ProtobufCBinaryData envs[] = {
        txv_endorsed(fx, "cc", "a", one, 1, NULL, 0),           /* AND of two orgs, one endorses */
        txv_endorsed(fx, "cc", "b", both, 2, "2.0", 0),         /* another version */
        txv_endorsed(fx, "cc", "c", both, 2, NULL, 2),          /* another sequence */
        txv_endorsed(fx, "cc", "d", client_and_p1, 2, NULL, 0), /* a client is no Org2 peer */
        txv_endorsed(fx, "twice", "e", p1_twice, 2, NULL, 0),   /* one peer counts once */
        txv_endorsed(fx, "twice", "f", two_org1, 2, NULL, 0),   /* two peers of Org1 */
        txv_endorsed(fx, "cc", "g", both, 2, NULL, 0),          /* both orgs, any order */
    };
    uint8_t codes[7];
    txv_commit(fx, envs, 7, codes);
    TXV_EXPECT_CODES(codes, TXC(ENDORSEMENT_POLICY_FAILURE), TXC(ENDORSEMENT_POLICY_FAILURE),
                     TXC(ENDORSEMENT_POLICY_FAILURE), TXC(ENDORSEMENT_POLICY_FAILURE),
                     TXC(ENDORSEMENT_POLICY_FAILURE), TXC(VALID), TXC(VALID));
    txv_expect_keys(fx, "cc", "g");
    txv_expect_keys(fx, "twice", "f");
}

static void bad_endorsement(void **state)
{
    struct txv_fx *fx = *state;
    struct test_identity old_peer, rogue_peer;
    /* an Org2 peer valid for an hour in 2017 */
    test_identity_issue(fx->ca2, TXV_CA2_ID, "old.org2", "Org2", "peer", 1500000000, 3600,
                        &old_peer);
    txv_member(fx->rogue, TXV_CA2_ID, "peer9.org2", "Org2", "peer", &rogue_peer);
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "bad", "x");
    Stele__TxRwSet *rw_old = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw_old, "old", "x");
    Stele__TxRwSet *rw_raw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw_raw, "raw", "x");
    const struct txv_tx old_then = {.rwset = rw_old,
                                    .endorsers = {&fx->peer1, &old_peer},
                                    .n_endorsers = 2,
                                    .ts_s = 1500001000};
    struct txv_tx old_now = old_then;
    old_now.ts_s = TXV_T0;
    old_now.rwset = rw;
    ProtobufCBinaryData envs[] = {
        txv_build_raw(fx, &(struct txv_tx){.rwset = rw}, TXV_BAD_ENDORSEMENT),
        txv_build(fx, &old_now, NULL),  /* endorser expired at the tx time */
        txv_build(fx, &old_then, NULL), /* the same endorser inside its validity */
        txv_build(
            fx,
            &(struct txv_tx){.rwset = rw, .endorsers = {&fx->peer1, &rogue_peer}, .n_endorsers = 2},
            NULL),
        txv_build_raw(fx, &(struct txv_tx){.rwset = rw_raw}, 0), /* unspoiled */
    };
    uint8_t codes[5];
    txv_commit(fx, envs, 5, codes);
    TXV_EXPECT_CODES(codes, TXC(BAD_ENDORSEMENT), TXC(BAD_ENDORSEMENT), TXC(VALID),
                     TXC(BAD_ENDORSEMENT), TXC(VALID));
    txv_expect_keys(fx, "cc", "old,raw");
    test_identity_free(&old_peer);
    test_identity_free(&rogue_peer);
}

/* ---- the input checks -------------------------------------------------------------------- */

/* Fails unless validating `b` with `u` is refused with STELE_ERR_INVALID, leaving `codes` and
 * `u` as they were. */
static void refused(struct txv_fx *fx, struct statedb *db, const Stele__Block *b,
                    struct statedb_update *u)
{
    uint8_t codes[4] = {0xee, 0xee, 0xee, 0xee}, before[32], after[32], zero[32] = {0};
    assert_int_equal(statedb_update_hash(u, zero, before), STELE_OK);
    char *err = NULL;
    assert_int_equal(txvalidate_block(fx->v, db, fx->bs, b, codes, u, &err), STELE_ERR_INVALID);
    assert_non_null(err);
    free(err);
    assert_int_equal(txvalidate_block(fx->v, db, fx->bs, b, codes, u, NULL), STELE_ERR_INVALID);
    for (int i = 0; i < 4; i++)
        assert_int_equal(codes[i], 0xee);
    assert_int_equal(statedb_update_hash(u, zero, after), STELE_OK);
    assert_memory_equal(before, after, 32);
}

static void block_must_be_the_next_with_data(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData env = txv_put_tx(fx, "k", "1");
    Stele__Block *b = txv_block(fx, &env, 1); /* block 1: the next one */
    struct statedb_update *u1 = statedb_update_create(1), *u2 = statedb_update_create(2);
    assert_true(u1 && u2);

    b->header->number = 2; /* not statedb_height() */
    refused(fx, fx->db, b, u2);
    refused(fx, fx->db, b, u1);
    b->header->number = 1;
    refused(fx, fx->db, b, u2); /* the update is for another block */
    Stele__BlockData *data = b->data;
    b->data = NULL;
    refused(fx, fx->db, b, u1);
    b->data = data;
    Stele__BlockHeader *header = b->header;
    b->header = NULL;
    refused(fx, fx->db, b, u1);
    b->header = header;

    /* Block 0 is never validated, even on an empty state where it is the next block. */
    struct statedb *empty = NULL;
    char *dir = arena_printf(fx->a, "%s/empty-state", fx->dir);
    assert_int_equal(statedb_open(dir, false, &empty, NULL), STELE_OK);
    assert_int_equal(statedb_height(empty), 0);
    struct statedb_update *u0 = statedb_update_create(0);
    b->header->number = 0;
    refused(fx, empty, b, u0);
    statedb_update_destroy(u0);
    statedb_close(empty);

    /* Untouched by all that, block 1 validates. */
    b->header->number = 1;
    uint8_t code = 0xee;
    assert_int_equal(txvalidate_block(fx->v, fx->db, fx->bs, b, &code, u1, NULL), STELE_OK);
    TXV_EXPECT_CODES(&code, TXC(VALID));
    assert_true(statedb_update_lookup(u1, "cc", "k", NULL, NULL));
    assert_int_equal(statedb_height(fx->db), 1);
    statedb_update_destroy(u1);
    statedb_update_destroy(u2);
}

/* The state hash of block 0 over the definitions `defs` written in the given order. */
static void hash_of_writes(const struct txv_def *defs, size_t n, const char *tx_id, uint8_t out[32])
{
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *c = txv_config(a, defs, n);
    struct statedb_update *u = statedb_update_create(0);
    for (size_t i = 0; i < n; i++) {
        uint8_t bytes[512];
        size_t len = protobuf_c_message_pack(&c->chaincodes[i]->base, bytes);
        char *key = arena_printf(a, "%s%s", TXV_DEFINITION_KEY_PREFIX, defs[i].name);
        assert_int_equal(
            statedb_update_write(u, 0, tx_id, TXV_LIFECYCLE_NS, key, bytes, len, false), STELE_OK);
    }
    uint8_t zero[32] = {0};
    assert_int_equal(statedb_update_hash(u, zero, out), STELE_OK);
    statedb_update_destroy(u);
    arena_destroy(a);
}

static void genesis_writes_definitions_in_name_order(void **state)
{
    struct txv_fx *fx = *state;
    const struct txv_def sorted[] = {txv_defs[1], txv_defs[2], txv_defs[0]};
    uint8_t config_order[32], name_order[32], got[32], zero[32] = {0};
    assert_string_equal(sorted[0].name, "cc");
    assert_string_equal(sorted[1].name, "solo");
    assert_string_equal(sorted[2].name, "twice");
    hash_of_writes(txv_defs, TXV_N_DEFS, fx->genesis_txid, config_order);
    hash_of_writes(sorted, TXV_N_DEFS, fx->genesis_txid, name_order);
    assert_memory_not_equal(config_order, name_order, 32); /* the order shows in the hash */
    struct statedb_update *u = statedb_update_create(0);
    assert_int_equal(
        txvalidate_genesis(txv_config(fx->a, txv_defs, TXV_N_DEFS), fx->genesis_txid, u), STELE_OK);
    assert_int_equal(statedb_update_hash(u, zero, got), STELE_OK);
    assert_memory_equal(got, name_order, 32);
    statedb_update_destroy(u);
    /* the fixture's block 0 applied the same */
    assert_int_equal(statedb_state_hash(fx->db, 0, got), STELE_OK);
    assert_memory_equal(got, name_order, 32);

    /* and a definition reads back whole, at version (0, 0) */
    struct buf value;
    struct statedb_version ver;
    buf_init(&value);
    assert_int_equal(
        statedb_get(fx->db, TXV_LIFECYCLE_NS, TXV_DEFINITION_KEY_PREFIX "twice", &value, &ver),
        STELE_OK);
    assert_int_equal(ver.block, 0);
    assert_int_equal(ver.tx, 0);
    Stele__ChaincodeDefinition *d = (Stele__ChaincodeDefinition *)pb_unpack(
        &stele__chaincode_definition__descriptor, fx->a, value.data, value.len, 0);
    assert_non_null(d);
    assert_string_equal(d->name, "twice");
    assert_string_equal(d->version, "1.0");
    assert_int_equal(d->sequence, 1);
    assert_string_equal(d->endorsement_policy, "AND(Org1.peer, Org1.peer)");
    buf_release(&value);
}

static void genesis_refuses_duplicate_and_bad_names(void **state)
{
    struct txv_fx *fx = *state;
    static const struct txv_def dup[] = {{"cc", "1.0", 1, "Org1.peer"},
                                         {"solo", "1.0", 1, "Org1.peer"},
                                         {"cc", "2.0", 2, "Org2.peer"}};
    static const struct txv_def bad_name[] = {{"my cc", "1.0", 1, "Org1.peer"}};
    static const struct txv_def long_name[] = {
        {"c234567890123456789012345678901234567890123456789012345678901234x", "1.0", 1,
         "Org1.peer"}};
    static const struct txv_def longest_name[] = {
        {"c234567890123456789012345678901234567890123456789012345678901234", "1.0", 1,
         "Org1.peer"}};
    struct {
        const struct txv_def *defs;
        size_t n;
        int want;
    } cases[] = {
        {dup, 3, STELE_ERR_INVALID},      {dup, 2, STELE_OK},
        {bad_name, 1, STELE_ERR_INVALID}, {long_name, 1, STELE_ERR_INVALID},
        {longest_name, 1, STELE_OK},      {NULL, 0, STELE_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct statedb_update *u = statedb_update_create(0);
        Stele__ChannelConfig *c = txv_config(fx->a, cases[i].defs, cases[i].n);
        int rc = txvalidate_genesis(c, fx->genesis_txid, u);
        if (rc != cases[i].want)
            fail_msg("case %zu: %s, want %s", i, stele_strerror(rc), stele_strerror(cases[i].want));
        if (rc == STELE_OK)
            for (size_t k = 0; k < cases[i].n; k++) {
                char *key = arena_printf(fx->a, "definition/%s", cases[i].defs[k].name);
                assert_true(statedb_update_lookup(u, TXV_LIFECYCLE_NS, key, NULL, NULL));
            }
        statedb_update_destroy(u);
    }
}

/* Every channel configuration genesis_check() accepts (the orderers' and the CA's tools build
 * genesis blocks only from those) must give its peers a block 0 they can apply. */
static void genesis_applies_every_config_genesis_check_accepts(void **state)
{
    struct txv_fx *fx = *state;
    struct crypto_key *orderer = NULL;
    assert_int_equal(crypto_key_generate(&orderer), STELE_OK);
    Stele__ChannelConfig *c = test_channel_config(fx->a, TXV_CHANNEL, "solo", &orderer, 1, fx->ca1);
    static const char *const names[] = {
        "vote", "my chaincode",                                                  /* a space */
        "c23456789012345678901234567890123456789012345678901234567890123456789", /* 69 octets */
        "caf\xc3\xa9",                                                           /* UTF-8 */
    };
    crypto_key_destroy(orderer);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        c->chaincodes[0]->name = (char *)names[i];
        char *err = NULL;
        int checked = genesis_check(c, &err);
        free(err);
        struct statedb_update *u = statedb_update_create(0);
        int applied = txvalidate_genesis(c, fx->genesis_txid, u);
        statedb_update_destroy(u);
        if (checked == STELE_OK && applied != STELE_OK)
            fail_msg("chaincode name \"%s\": genesis_check() accepts the configuration, "
                     "txvalidate_genesis() refuses it: %s",
                     names[i], stele_strerror(applied));
    }
}

static void validator_configuration(void **state)
{
    struct txv_fx *fx = *state;
    struct txvalidator *v = (struct txvalidator *)fx; /* any non-NULL */
    struct txvalidate_config bad[] = {
        {.channel_id = NULL, .msp = fx->msp},
        {.channel_id = "", .msp = fx->msp},
        {.channel_id = TXV_CHANNEL, .msp = NULL},
    };
    assert_int_equal(txvalidate_create(NULL, &v), STELE_ERR_INVALID);
    assert_null(v);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = (struct txvalidator *)fx;
        assert_int_equal(txvalidate_create(&bad[i], &v), STELE_ERR_INVALID);
        assert_null(v);
    }
    txvalidate_destroy(NULL);
    /* 0 threads means the default; too many are capped; both validate */
    static const unsigned threads[] = {0, 1000};
    for (size_t i = 0; i < 2; i++) {
        struct txvalidator *tv = txv_validator(fx->msp, fx->cfg, threads[i]);
        ProtobufCBinaryData envs[5];
        for (int k = 0; k < 5; k++)
            envs[k] = txv_put_tx(fx, arena_printf(fx->a, "t%zu-%d", i, k), "1");
        uint8_t codes[5];
        struct statedb_update *u = NULL;
        Stele__Block *b = txv_validate(fx, tv, envs, 5, codes, &u);
        TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID), TXC(VALID), TXC(VALID));
        txv_store(fx, b, u, codes);
        statedb_update_destroy(u);
        txvalidate_destroy(tv);
    }
    txv_expect_keys(fx, "cc", "t0-0,t0-1,t0-2,t0-3,t0-4,t1-0,t1-1,t1-2,t1-3,t1-4");
}

static void code_names(void **state)
{
    (void)state;
    assert_string_equal(txvalidate_code_name(4), "MVCC_READ_CONFLICT");
    assert_string_equal(txvalidate_code_name(TXC(VALID)), "VALID");
    assert_string_equal(txvalidate_code_name(TXC(INVALID_CONFIG)), "INVALID_CONFIG");
    assert_string_equal(txvalidate_code_name(TXC(INVALID_OTHER_REASON)), "INVALID_OTHER_REASON");
    assert_string_equal(txvalidate_code_name(14), "LIFECYCLE_REFUSED");
    assert_string_equal(txvalidate_code_name(15), "UNKNOWN");
    assert_string_equal(txvalidate_code_name(253), "UNKNOWN");
    assert_string_equal(txvalidate_code_name(256), "UNKNOWN");
    assert_string_equal(txvalidate_code_name(UINT32_MAX), "UNKNOWN");
}

/* ---- the fuzz corpus --------------------------------------------------------------------- */

/* What a seed of tests/fuzz/corpus/tx must do, by the start of its name. */
static int seed_expectation(const char *name, int *code)
{
    static const struct {
        const char *prefix;
        int rc, code;
    } rules[] = {
        {"valid_", STELE_OK, TXC(VALID)},
        {"rwset_", STELE_ERR_MALFORMED, TXC(BAD_RWSET)},
        {"header_", STELE_ERR_MALFORMED, TXC(BAD_HEADER)},
        {"payload_", STELE_ERR_MALFORMED, TXC(BAD_PAYLOAD)},
    };
    *code = -1;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (strncmp(name, rules[i].prefix, strlen(rules[i].prefix)) == 0) {
            *code = rules[i].code;
            return rules[i].rc;
        }
    fail_msg("seed %s: its name says nothing of what it is", name);
    return -1;
}

/* The fuzz_tx seeds open as their names say. With STELE_WRITE_TX_SEEDS=DIR this writes fresh
 * ones to DIR first (how the committed seeds were made). */
static void fuzz_tx_seeds_open_as_named(void **state)
{
    struct txv_fx *fx = *state;
    const char *out = getenv("STELE_WRITE_TX_SEEDS");
    if (out) {
        struct arena *a = fx->a;
        Stele__TxRwSet *w = txv_rw(a, "cc"), *r = txv_rw(a, "cc"), *ns = txv_rw(a, "solo");
        txv_rw_read(a, w, "a", 1, 0);
        txv_rw_read_absent(a, w, "b");
        txv_rw_write(a, w, "a", "value");
        Stele__RangeRead *rr = txv_rw_range(a, r, "r/", "r0", true);
        txv_range_key(a, rr, "r/1", 3, 2);
        txv_range_key(a, rr, "r/2", 4, 0);
        txv_range_key(a, txv_rw_range(a, r, "", "", false), "a", 1, 1);
        txv_rw_delete(a, r, "r/1");
        txv_rw_write(a, ns, "k", "v");
        struct {
            const char *name;
            ProtobufCBinaryData env;
        } seeds[] = {
            {"valid_write", txv_build(fx, &(struct txv_tx){.rwset = w}, NULL)},
            {"valid_range_delete", txv_build(fx, &(struct txv_tx){.rwset = r}, NULL)},
            {"valid_empty_three_endorsers",
             txv_build(fx,
                       &(struct txv_tx){.endorsers = {&fx->peer1, &fx->peer2, &fx->peer1b},
                                        .n_endorsers = 3},
                       NULL)},
            {"rwset_other_namespace", txv_build(fx, &(struct txv_tx){.rwset = ns}, NULL)},
            {"header_differs_from_proposal",
             txv_resign(fx, txv_build(fx, &(struct txv_tx){.rwset = w}, NULL), fx->client.key,
                        later_timestamp)},
            {"header_config", typed_envelope(fx, STELE__HEADER_TYPE__CONFIG, TXV_CHANNEL)},
            {"payload_not_a_transaction",
             typed_envelope(fx, STELE__HEADER_TYPE__ENDORSER_TRANSACTION, TXV_CHANNEL)},
        };
        for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
            char *path = arena_printf(a, "%s/%s", out, seeds[i].name);
            assert_int_equal(test_write_file(path, seeds[i].env.data, seeds[i].env.len), 0);
        }
    }
    char *dir = out ? strdup(out) : test_source_path("tests/fuzz/corpus/tx");
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seen = 0, valid = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = arena_printf(fx->a, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *data = test_read_file(path, &len);
        assert_non_null(data);
        struct envelope_view ev;
        struct tx_view tv;
        Stele__TxValidationCode code = TXC(NOT_VALIDATED);
        int want_code = -1, want_rc = seed_expectation(de->d_name, &want_code);
        assert_int_equal(envelope_parse(fx->a, (const uint8_t *)data, len, 0, &ev, NULL), STELE_OK);
        int rc = tx_open(fx->a, &ev, &tv, &code, NULL);
        if (rc != want_rc || (rc && (int)code != want_code))
            fail_msg("seed %s: %s %s", de->d_name, stele_strerror(rc), txvalidate_code_name(code));
        valid += rc == STELE_OK;
        seen++;
        free(data);
    }
    closedir(d);
    free(dir);
    assert_true(seen >= 5);
    assert_true(valid >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, txv_setup, txv_teardown)
        T(valid_writes_land_at_their_version),
        T(bad_payload),
        T(bad_header),
        T(bad_channel),
        T(invalid_config),
        T(bad_rwset),
        T(bad_creator_signature),
        T(creator_expired_is_judged_at_the_tx_time),
        T(creator_revoked),
        T(unknown_chaincode),
        T(endorsement_policy_failure),
        T(bad_endorsement),
        T(remembered_endorsements),
        T(endorsement_reaching_infinity_is_bad),
        T(block_must_be_the_next_with_data),
        T(genesis_writes_definitions_in_name_order),
        T(genesis_refuses_duplicate_and_bad_names),
        T(genesis_applies_every_config_genesis_check_accepts),
        T(validator_configuration),
        cmocka_unit_test(code_names),
        T(fuzz_tx_seeds_open_as_named),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
