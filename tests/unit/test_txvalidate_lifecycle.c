/* test_txvalidate_lifecycle.c — check 10 of lib/ledger/txvalidate.h: _lifecycle transactions
 * re-run by the rules in block order (LIFECYCLE_REFUSED, approvals and commits),
 * and a transaction endorsed under a definition that an earlier transaction of its block
 * replaced. The fixture is tests/support/txv_fixture.h. */
#include "txv_lifecycle.h"

/* ---- _lifecycle transactions (check 10) --------------------------------------------------- */

static void lifecycle_refused(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d1 = txv_definition(fx, "new", "1.0", 1, "Org1.peer");
    ProtobufCBinaryData d2 = txv_definition(fx, "new", "1.0", 2, "Org1.peer");
    ProtobufCBinaryData envs[] = {
        txv_lifecycle_tx(fx, &fx->client, "approve", d1, 0), /* not an admin */
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d2, 0), /* sequence 2 of a new chaincode */
        txv_lifecycle_tx(fx, &fx->admin1, "commit", d1, 0),  /* nobody approved it */
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d1, 0),
        txv_lifecycle_tx(fx, &fx->admin1, "commit", d1, 0), /* one of two organisations approved */
    };
    uint8_t codes[6];
    txv_commit(fx, envs, 5, codes);
    TXV_EXPECT_CODES(codes, TXC(LIFECYCLE_REFUSED), TXC(LIFECYCLE_REFUSED), TXC(LIFECYCLE_REFUSED),
                     TXC(VALID), TXC(LIFECYCLE_REFUSED));
    txv_expect_absent(fx, LIFECYCLE_NS, "definition/new");

    /* a function the rules do not have, and a definition they refuse */
    ProtobufCBinaryData bad_name = txv_definition(fx, "_new", "1.0", 1, "Org1.peer");
    ProtobufCBinaryData *args = arena_alloc(fx->a, sizeof *args);
    *args = bad_name;
    const struct txv_tx t = {.creator = &fx->admin1,
                             .chaincode = LIFECYCLE_NS,
                             .function = "approve",
                             .args = args,
                             .n_args = 1,
                             .endorsers = {&fx->peer1},
                             .n_endorsers = 1};
    struct txv_tx invoke = t;
    invoke.function = "invoke";
    invoke.args = &d1;
    ProtobufCBinaryData next[] = {txv_build(fx, &t, NULL), txv_build(fx, &invoke, NULL)};
    txv_commit(fx, next, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(LIFECYCLE_REFUSED), TXC(LIFECYCLE_REFUSED));
    txv_expect_absent(fx, LIFECYCLE_NS, "definition/new");
    txv_expect_absent(fx, LIFECYCLE_NS, "definition/_new");
}

static void lifecycle_commit_after_a_majority_approved(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "new", "1.0", 1, "OR(Org1.peer, Org2.peer)");
    ProtobufCBinaryData envs[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, LC_OTHER_ORG), /* on Org2's behalf */
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, LC_OTHER_VALUE), /* writes another one */
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, 0), /* approvals of this block count */
    };
    uint8_t codes[5];
    txv_commit(fx, envs, 5, codes);
    TXV_EXPECT_CODES(codes, TXC(LIFECYCLE_REFUSED), TXC(VALID), TXC(VALID), TXC(LIFECYCLE_REFUSED),
                     TXC(VALID));
    struct buf value;
    struct statedb_version ver;
    buf_init(&value);
    assert_int_equal(statedb_get(fx->db, LIFECYCLE_NS, "definition/new", &value, &ver), STELE_OK);
    assert_int_equal(ver.block, 1);
    assert_int_equal(ver.tx, 4);
    assert_int_equal(value.len, d.len); /* canonical: packed as built */
    assert_memory_equal(value.data, d.data, d.len);
    buf_release(&value);

    /* from the next block the chaincode runs under its policy */
    const struct test_identity *p2[] = {&fx->peer2};
    ProtobufCBinaryData next = txv_endorsed(fx, "new", "k", p2, 1, NULL, 0);
    txv_commit(fx, &next, 1, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID));
    txv_expect_keys(fx, "new", "k");
}

/* An approval replaces the organisation's earlier one for the sequence, also within a block:
 * Org1 approves 1.0, then 1.1; Org2 approves 1.0; a commit of 1.0 lacks Org1's approval. */
static void lifecycle_approval_replaced_in_the_block(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "new", "1.0", 1, "OR(Org1.peer, Org2.peer)");
    ProtobufCBinaryData e = txv_definition(fx, "new", "1.1", 1, "OR(Org1.peer, Org2.peer)");
    ProtobufCBinaryData envs[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin1, "approve", e, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, 0),
    };
    uint8_t codes[4];
    txv_commit(fx, envs, 4, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID), TXC(LIFECYCLE_REFUSED));
    txv_expect_absent(fx, LIFECYCLE_NS, "definition/new");
    /* Org2 follows Org1 to 1.1: that one commits */
    ProtobufCBinaryData next[] = {
        txv_lifecycle_tx(fx, &fx->admin2, "approve", e, 0),
        txv_lifecycle_tx(fx, &fx->admin1, "commit", e, 0),
    };
    uint8_t codes2[2];
    txv_commit(fx, next, 2, codes2);
    TXV_EXPECT_CODES(codes2, TXC(VALID), TXC(VALID));
    struct buf value;
    buf_init(&value);
    assert_int_equal(statedb_get(fx->db, LIFECYCLE_NS, "definition/new", &value, NULL), STELE_OK);
    assert_int_equal(value.len, e.len);
    assert_memory_equal(value.data, e.data, e.len);
    buf_release(&value);
}

/* A policy naming an organisation the channel lacks is refused by endorsers, not judged by
 * validators: blocks committed before that rule validate as they did. */
static void lifecycle_unknown_org_policy_is_not_a_validation_rule(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "odd", "1.0", 1, "OR(Org1.peer, Org9.peer)");
    ProtobufCBinaryData envs[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, 0),
    };
    uint8_t codes[3];
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID));
    struct buf value;
    buf_init(&value);
    assert_int_equal(statedb_get(fx->db, LIFECYCLE_NS, "definition/odd", &value, NULL), STELE_OK);
    buf_release(&value);
}

/* A definition is committed once per sequence: a second commit of the same sequence in the
 * same block is refused, whatever reads its read/write set lists. */
static void lifecycle_one_commit_per_sequence(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData a = txv_definition(fx, "new", "1.0", 1, "Org1.peer");
    ProtobufCBinaryData approvals[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "approve", a, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", a, 0),
    };
    uint8_t codes[3];
    txv_commit(fx, approvals, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID));
    /* (an organisation approves one definition per sequence at a time, so the second and third
     * commits are of the same one: still a second commit of sequence 1) */
    ProtobufCBinaryData commits[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "commit", a, 0),
        txv_lifecycle_tx(fx, &fx->admin1, "commit", a, 0), /* read definition/new: absent */
        txv_lifecycle_tx(fx, &fx->admin2, "commit", a, LC_NO_READ),
    };
    txv_commit(fx, commits, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(MVCC_READ_CONFLICT), codes[2]);
    if (codes[2] == TXC(VALID))
        fail_msg("a second commit of sequence 1 in the block, listing no read, is VALID and "
                 "wrote the definition again after the commit just before it");
    struct statedb_version ver;
    assert_int_equal(statedb_get(fx->db, LIFECYCLE_NS, "definition/new", NULL, &ver), STELE_OK);
    assert_int_equal(ver.tx, 0);
}

/* Without a channel configuration, _lifecycle transactions are UNKNOWN_CHAINCODE
 * (txvalidate.h). And the lifecycle namespace holds every chaincode's definition and policy,
 * which only the lifecycle rules may change: a chaincode named like it must not rewrite them. */
static void lifecycle_namespace_is_no_chaincode(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "new", "1.0", 1, "Org1.peer");
    ProtobufCBinaryData approve = txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0);
    struct txvalidator *bare = txv_validator(fx->msp, NULL, 1);
    uint8_t code;
    struct statedb_update *u = NULL;
    txv_validate(fx, bare, &approve, 1, &code, &u);
    statedb_update_destroy(u);
    TXV_EXPECT_CODES(&code, TXC(UNKNOWN_CHAINCODE));

    static const struct txv_def defs[] = {
        {"cc", "1.0", 1, "AND(Org1.peer, Org2.peer)"},
        {LIFECYCLE_NS, "1.0", 1, "Org1.peer"},
    };
    if (txv_restart(fx, "lifecycle", defs, 2) != STELE_OK) {
        txvalidate_destroy(bare);
        return; /* the genesis refuses the name: fine */
    }
    /* Org1 alone rewrites cc's policy ... */
    ProtobufCBinaryData weak = txv_definition(fx, "cc", "1.0", 1, "Org1.peer");
    Stele__TxRwSet *rw = txv_rw(fx->a, LIFECYCLE_NS);
    txv_rw_write(fx->a, rw, "definition/cc", "");
    rw->ns_rwsets[0]->writes[0]->value = weak;
    ProtobufCBinaryData env = txv_build(
        fx,
        &(struct txv_tx){
            .chaincode = LIFECYCLE_NS, .rwset = rw, .endorsers = {&fx->peer1}, .n_endorsers = 1},
        NULL);
    Stele__Block *b = txv_validate(fx, bare, &env, 1, &code, &u);
    txvalidate_destroy(bare);
    if (code == TXC(VALID)) {
        txv_store(fx, b, u, &code);
        statedb_update_destroy(u);
        /* ... after which one Org1 peer endorses cc alone. */
        const struct test_identity *one[] = {&fx->peer1};
        ProtobufCBinaryData next = txv_endorsed(fx, "cc", "k", one, 1, NULL, 0);
        txv_commit(fx, &next, 1, &code);
        fail_msg("with a chaincode named %s in the genesis block, a validator without channel "
                 "configuration let its transaction rewrite cc's definition; cc then took one "
                 "endorsement under AND(Org1.peer, Org2.peer): %s",
                 LIFECYCLE_NS, txvalidate_code_name(code));
    }
    statedb_update_destroy(u);
    TXV_EXPECT_CODES(&code, TXC(UNKNOWN_CHAINCODE));
}

/* A transaction is endorsed under the chaincode definition its endorsers had: one endorsed
 * under sequence 1 that comes after the commit of sequence 2 in the same block is judged as a
 * read of the definition that changed (MVCC_READ_CONFLICT), as in the blocks after it. It used
 * to pass under the old policy until the next block. */
static void definition_replaced_earlier_in_the_block(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "solo", "2.0", 2, "AND(Org1.peer, Org2.peer)");
    ProtobufCBinaryData approvals[] = {
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", d, 0),
    };
    uint8_t codes[3];
    txv_commit(fx, approvals, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID));
    const struct test_identity *p1[] = {&fx->peer1};
    ProtobufCBinaryData blk[] = {
        txv_endorsed(fx, "solo", "k0", p1, 1, "1.0", 1), /* before the commit: still 1.0 */
        txv_lifecycle_tx(fx, &fx->admin1, "commit", d, 0),
        txv_endorsed(fx, "solo", "k1", p1, 1, "1.0", 1), /* after it: endorsed under 1.0 */
    };
    txv_commit(fx, blk, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(MVCC_READ_CONFLICT));
    /* the next block judges by sequence 2: one endorser no longer satisfies AND */
    ProtobufCBinaryData later = txv_endorsed(fx, "solo", "k2", p1, 1, "1.0", 1);
    txv_commit(fx, &later, 1, codes);
    TXV_EXPECT_CODES(codes, TXC(ENDORSEMENT_POLICY_FAILURE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, txv_setup, txv_teardown)
        T(lifecycle_refused),
        T(lifecycle_commit_after_a_majority_approved),
        T(lifecycle_approval_replaced_in_the_block),
        T(lifecycle_unknown_org_policy_is_not_a_validation_rule),
        T(lifecycle_one_commit_per_sequence),
        T(lifecycle_namespace_is_no_chaincode),
        T(definition_replaced_earlier_in_the_block),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
