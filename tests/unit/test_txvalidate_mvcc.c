/* test_txvalidate_mvcc.c — the in-order pass of lib/ledger/txvalidate.h in depth, against a real
 * state database and block store, with the state read back after each block is applied:
 * check 8 (tx_ids in the block store and earlier in the block, and a block validated again after
 * it was stored), check 9 (reads at stale versions, reads of absent keys, conflicts between
 * transactions of one block, deletes, range reads with phantoms, exhausted or not), and that
 * 1, 2, 3 and 4 threads reach the same codes and state hash on a block of
 * 200 mixed transactions.
 * The fixture is tests/support/txv_fixture.h. */
#include "txv_fixture.h"

/* Commits one transaction of the default chaincode writing (or, with value NULL, deleting)
 * each key of the comma-separated `keys`, and checks that it is VALID. Returns its block. */
static uint64_t commit_writes(struct txv_fx *fx, const char *keys, const char *value)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    char *list = arena_strdup(fx->a, keys), *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save))
        txv_rw_put(fx->a, rw, k, value, value == NULL);
    ProtobufCBinaryData env = txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
    uint8_t code;
    uint64_t n = txv_commit(fx, &env, 1, &code);
    TXV_EXPECT_CODES(&code, TXC(VALID));
    return n;
}

/* A transaction that read `key` at (block, tx) — or found it absent when block is
 * ABSENT — and writes `own`. */
#define ABSENT UINT64_MAX
static ProtobufCBinaryData read_tx(struct txv_fx *fx, const char *key, uint64_t block, uint32_t tx,
                                   const char *own)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    if (block == ABSENT)
        txv_rw_read_absent(fx->a, rw, key);
    else
        txv_rw_read(fx->a, rw, key, block, tx);
    txv_rw_write(fx->a, rw, own, "x");
    return txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
}

/* A transaction whose range read of [start, end) saw the comma-separated `keys` (each at
 * version (1, 0)), to its end or not, and which writes `own`. */
static ProtobufCBinaryData range_tx(struct txv_fx *fx, const char *start, const char *end,
                                    bool exhausted, const char *keys, const char *own)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    Stele__RangeRead *r = txv_rw_range(fx->a, rw, start, end, exhausted);
    char *list = arena_strdup(fx->a, keys), *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save))
        txv_range_key(fx->a, r, k, 1, 0);
    txv_rw_write(fx->a, rw, own, "x");
    return txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
}

/* A transaction writing `key` that fails its endorsement policy (only Org1 endorses). */
static ProtobufCBinaryData unendorsed_put(struct txv_fx *fx, const char *key)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, key, "x");
    return txv_build(fx, &(struct txv_tx){.rwset = rw, .endorsers = {&fx->peer1}, .n_endorsers = 1},
                     NULL);
}

/* ---- check 8: duplicates ---------------------------------------------------------------- */

static void duplicate_txid_in_the_block(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData x = txv_put_tx(fx, "x", "1");
    ProtobufCBinaryData envs[] = {x, txv_put_tx(fx, "y", "1"), x};
    uint8_t codes[3];
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(DUPLICATE_TXID));
    txv_expect_value(fx, "cc", "x", "1", 1, 0); /* the first counted */
    txv_expect_keys(fx, "cc", "x,y");
}

static void duplicate_txid_of_a_committed_block(void **state)
{
    struct txv_fx *fx = *state;
    char id[ENVELOPE_TXID_LEN + 1];
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "x", "1");
    ProtobufCBinaryData x = txv_build(fx, &(struct txv_tx){.rwset = rw}, id);
    uint8_t codes[2];
    txv_commit(fx, &x, 1, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID));
    ProtobufCBinaryData filler = txv_put_tx(fx, "z", "1");
    txv_commit(fx, &filler, 1, codes); /* block 2: the tx_id is two blocks back */
    uint64_t number = 0;
    assert_int_equal(blockstore_find_txid(fx->bs, id, &number, NULL), STELE_OK);
    assert_int_equal(number, 1);

    ProtobufCBinaryData envs[] = {x, txv_put_tx(fx, "y", "1")};
    assert_int_equal(txv_commit(fx, envs, 2, codes), 3);
    TXV_EXPECT_CODES(codes, TXC(DUPLICATE_TXID), TXC(VALID));
    txv_expect_value(fx, "cc", "x", "1", 1, 0);
    txv_expect_value(fx, "cc", "y", "1", 3, 1);
}

/* `x` with a bit of its creator's signature flipped. */
static ProtobufCBinaryData bad_signature_copy(struct txv_fx *fx, ProtobufCBinaryData x)
{
    Stele__Envelope *e =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, fx->a, x.data, x.len, 0);
    assert_non_null(e);
    uint8_t sig[64];
    memcpy(sig, e->signature.data, sizeof sig);
    sig[63] ^= 1;
    e->signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t len = stele__envelope__get_packed_size(e);
    uint8_t *bytes = malloc(len);
    stele__envelope__pack(e, bytes);
    ProtobufCBinaryData copy = txv_keep(fx, bytes, len);
    free(bytes);
    return copy;
}

/* A copy of a client's envelope with a bad signature (which one orderer could order ahead of
 * the client's own: it holds the client's header, tx_id included) takes no tx_id: the client's
 * transaction after it is VALID, not DUPLICATE_TXID, and the tx_id then stands for it; a
 * replay of the client's own is still a duplicate. */
static void a_refused_copy_takes_no_tx_id(void **state)
{
    struct txv_fx *fx = *state;
    char id[ENVELOPE_TXID_LEN + 1];
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "x", "1");
    ProtobufCBinaryData x = txv_build(fx, &(struct txv_tx){.rwset = rw}, id);
    ProtobufCBinaryData copy = bad_signature_copy(fx, x);

    uint8_t codes[1];
    uint64_t number = 0;
    uint32_t index = 9;
    assert_int_equal(txv_commit(fx, &copy, 1, codes), 1);
    TXV_EXPECT_CODES(codes, TXC(BAD_CREATOR_SIGNATURE));
    assert_int_equal(blockstore_txid_taken(fx->bs, id, NULL), STELE_ERR_NOT_FOUND);
    /* until the client's own commits, the copy is what the tx_id finds (its code, for whoever
     * sent it) */
    assert_int_equal(blockstore_find_txid(fx->bs, id, &number, &index), STELE_OK);
    assert_int_equal(number, 1);

    assert_int_equal(txv_commit(fx, &x, 1, codes), 2);
    TXV_EXPECT_CODES(codes, TXC(VALID));
    txv_expect_value(fx, "cc", "x", "1", 2, 0);
    assert_int_equal(blockstore_find_txid(fx->bs, id, &number, &index), STELE_OK);
    assert_int_equal(number, 2);
    assert_int_equal(index, 0);
    assert_int_equal(blockstore_txid_taken(fx->bs, id, &number), STELE_OK);
    assert_int_equal(number, 2);

    assert_int_equal(txv_commit(fx, &x, 1, codes), 3);
    TXV_EXPECT_CODES(codes, TXC(DUPLICATE_TXID));
    assert_int_equal(blockstore_find_txid(fx->bs, id, &number, NULL), STELE_OK);
    assert_int_equal(number, 2);
}

/* The same, the copy and the client's own in one block: the copy takes no tx_id there either
 * (it did: the client's came out DUPLICATE_TXID, and the tx_id was lost). */
static void a_refused_copy_in_the_same_block_takes_no_tx_id(void **state)
{
    struct txv_fx *fx = *state;
    char id[ENVELOPE_TXID_LEN + 1];
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "x", "1");
    ProtobufCBinaryData x = txv_build(fx, &(struct txv_tx){.rwset = rw}, id);
    ProtobufCBinaryData envs[] = {bad_signature_copy(fx, x), x, x};
    uint8_t codes[3];
    uint64_t number = 0;
    uint32_t index = 9;
    assert_int_equal(txv_commit(fx, envs, 3, codes), 1);
    TXV_EXPECT_CODES(codes, TXC(BAD_CREATOR_SIGNATURE), TXC(VALID), TXC(DUPLICATE_TXID));
    txv_expect_value(fx, "cc", "x", "1", 1, 1);
    assert_int_equal(blockstore_find_txid(fx->bs, id, &number, &index), STELE_OK);
    assert_int_equal(number, 1);
    assert_int_equal(index, 1);
}

/* After a crash between appending a block and applying it, or in `stele audit`, a block is
 * validated while the block store already holds it: its own tx_ids are no duplicates. */
static void revalidating_a_stored_block_gives_the_same_codes(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData old = txv_put_tx(fx, "old", "1");
    uint8_t codes[4], again[4], head[32], h1[32], h2[32];
    txv_commit(fx, &old, 1, codes);
    ProtobufCBinaryData x = txv_put_tx(fx, "x", "1");
    ProtobufCBinaryData envs[] = {x, txv_put_tx(fx, "y", "1"), x, old};
    struct statedb_update *u1 = NULL, *u2 = NULL;
    Stele__Block *b = txv_validate(fx, fx->v, envs, 4, codes, &u1);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(DUPLICATE_TXID), TXC(DUPLICATE_TXID));
    assert_int_equal(blockstore_append(fx->bs, b), STELE_OK); /* stored, not applied */
    assert_int_equal(statedb_height(fx->db), 2);

    char *err = NULL;
    u2 = statedb_update_create(2);
    assert_int_equal(txvalidate_block(fx->v, fx->db, fx->bs, b, again, u2, &err), STELE_OK);
    assert_null(err);
    assert_memory_equal(again, codes, 4);
    statedb_head_hash(fx->db, head);
    assert_int_equal(statedb_update_hash(u1, head, h1), STELE_OK);
    assert_int_equal(statedb_update_hash(u2, head, h2), STELE_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(statedb_apply(fx->db, u2, NULL), STELE_OK);
    txv_expect_value(fx, "cc", "x", "1", 2, 0);
    txv_expect_keys(fx, "cc", "old,x,y");
    statedb_update_destroy(u1);
    statedb_update_destroy(u2);
}

/* ---- check 9: MVCC ---------------------------------------------------------------------- */

static void mvcc_read_conflict(void **state)
{
    struct txv_fx *fx = *state;
    uint8_t codes[2];
    ProtobufCBinaryData e1 = txv_put_tx(fx, "k", "1"), e2 = txv_put_tx(fx, "k", "2");
    txv_commit(fx, &e1, 1, codes);
    txv_commit(fx, &e2, 1, codes); /* k is now at (2, 0) */
    Stele__TxRwSet *stale = txv_rw(fx->a, "cc"), *fresh = txv_rw(fx->a, "cc");
    txv_rw_read(fx->a, stale, "k", 1, 0);
    txv_rw_write(fx->a, stale, "stale", "x");
    txv_rw_read(fx->a, fresh, "k", 2, 0);
    txv_rw_write(fx->a, fresh, "fresh", "x");
    ProtobufCBinaryData envs[] = {txv_build(fx, &(struct txv_tx){.rwset = stale}, NULL),
                                  txv_build(fx, &(struct txv_tx){.rwset = fresh}, NULL)};
    txv_commit(fx, envs, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "fresh,k");
}

static void read_at_a_stale_version_conflicts(void **state)
{
    struct txv_fx *fx = *state;
    assert_int_equal(commit_writes(fx, "k", "1"), 1);
    assert_int_equal(commit_writes(fx, "k", "2"), 2); /* k is at (2, 0) */
    ProtobufCBinaryData envs[] = {
        read_tx(fx, "k", 1, 0, "a"),      /* the version before */
        read_tx(fx, "k", 2, 1, "b"),      /* right block, wrong transaction */
        read_tx(fx, "k", ABSENT, 0, "c"), /* it exists */
        read_tx(fx, "k", 2, 0, "d"),      /* current */
        read_tx(fx, "never", ABSENT, 0, "e"),
        read_tx(fx, "never", 1, 0, "f"), /* a version of a key that does not exist */
    };
    uint8_t codes[6];
    txv_commit(fx, envs, 6, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT),
                     TXC(MVCC_READ_CONFLICT), TXC(VALID), TXC(VALID), TXC(MVCC_READ_CONFLICT));
    txv_expect_keys(fx, "cc", "d,e,k");
    txv_expect_value(fx, "cc", "k", "2", 2, 0);
}

static void absent_key_created_earlier_in_the_block_conflicts(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "new", "1");
    ProtobufCBinaryData envs[] = {
        txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL),
        read_tx(fx, "new", ABSENT, 0, "a"),   /* created by tx 0 */
        read_tx(fx, "other", ABSENT, 0, "b"), /* still absent */
    };
    uint8_t codes[3];
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "b,new");
    txv_expect_value(fx, "cc", "new", "1", 1, 0);
}

static void two_read_modify_writes_of_one_key(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, "k", "0");
    Stele__TxRwSet *rw[3];
    const char *values[3] = {"A", "B", "C"};
    ProtobufCBinaryData envs[3];
    for (int i = 0; i < 3; i++) {
        rw[i] = txv_rw(fx->a, "cc");
        txv_rw_read(fx->a, rw[i], "k", 1, 0);
        txv_rw_write(fx->a, rw[i], "k", values[i]);
        envs[i] = txv_build(fx, &(struct txv_tx){.rwset = rw[i]}, NULL);
    }
    uint8_t codes[3];
    txv_commit(fx, envs, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT));
    txv_expect_value(fx, "cc", "k", "A", 2, 0);
}

static void invalid_transactions_writes_cause_no_conflict(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData dup = txv_put_tx(fx, "d", "1");
    uint8_t codes[6];
    txv_commit(fx, &dup, 1, codes); /* d at (1, 0) */
    commit_writes(fx, "k", "1");    /* k at (2, 0) */
    ProtobufCBinaryData envs[] = {
        unendorsed_put(fx, "p"),     /* ENDORSEMENT_POLICY_FAILURE, writes p */
        read_tx(fx, "k", 1, 0, "m"), /* MVCC_READ_CONFLICT, writes m */
        dup,                         /* DUPLICATE_TXID, writes d */
        read_tx(fx, "p", ABSENT, 0, "x"),
        read_tx(fx, "m", ABSENT, 0, "y"),
        read_tx(fx, "d", 1, 0, "z"),
    };
    txv_commit(fx, envs, 6, codes);
    TXV_EXPECT_CODES(codes, TXC(ENDORSEMENT_POLICY_FAILURE), TXC(MVCC_READ_CONFLICT),
                     TXC(DUPLICATE_TXID), TXC(VALID), TXC(VALID), TXC(VALID));
    txv_expect_keys(fx, "cc", "d,k,x,y,z");
    txv_expect_value(fx, "cc", "d", "1", 1, 0);
}

static void deletes(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, "j,k", "1"); /* both at (1, 0) */
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_read(fx->a, rw, "k", 1, 0);
    txv_rw_delete(fx->a, rw, "k");
    ProtobufCBinaryData envs[] = {
        txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL),
        read_tx(fx, "k", 1, 0, "a"), /* deleted by tx 0 */
        /* absent is what it is now: the header compares versions, and a deleted key has none */
        read_tx(fx, "k", ABSENT, 0, "b"),
        read_tx(fx, "j", 1, 0, "c"),
    };
    uint8_t codes[4];
    assert_int_equal(txv_commit(fx, envs, 4, codes), 2);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(MVCC_READ_CONFLICT), TXC(VALID), TXC(VALID));
    txv_expect_absent(fx, "cc", "k");
    txv_expect_keys(fx, "cc", "b,c,j");

    /* against the committed delete */
    ProtobufCBinaryData next[] = {
        read_tx(fx, "k", 1, 0, "d"),
        read_tx(fx, "k", ABSENT, 0, "e"),
    };
    txv_commit(fx, next, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "b,c,e,j");

    /* a key deleted and written again has the new version */
    commit_writes(fx, "k", "again"); /* block 4 */
    ProtobufCBinaryData last[] = {
        read_tx(fx, "k", ABSENT, 0, "f"),
        read_tx(fx, "k", 1, 0, "g"),
        read_tx(fx, "k", 4, 0, "h"),
    };
    txv_commit(fx, last, 3, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_value(fx, "cc", "k", "again", 4, 0);
}

/* Block 1 of the range tests: r/a, r/c, r/e and s, all at (1, 0). */
#define RANGE_KEYS "r/a,r/c,r/e,s"

static void unchanged_ranges_are_valid(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, RANGE_KEYS, "v");
    ProtobufCBinaryData envs[] = {
        range_tx(fx, "", "", true, RANGE_KEYS, "c"), /* the whole namespace, first */
        range_tx(fx, "r/", "r0", true, "r/a,r/c,r/e", "a"),
        range_tx(fx, "r/b", "r/d", true, "r/c", "b"),
        range_tx(fx, "t", "", true, "", "d"), /* an empty range */
        range_tx(fx, "r/", "r0", false, "r/a", "e"),
        range_tx(fx, "r/", "r0", false, "", "f"), /* stopped before its first key */
    };
    uint8_t codes[6];
    txv_commit(fx, envs, 6, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID), TXC(VALID), TXC(VALID), TXC(VALID));
    txv_expect_keys(fx, "cc", "a,b,c,d,e,f,r/a,r/c,r/e,s");
}

static void range_with_a_key_added_or_deleted_conflicts(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, RANGE_KEYS, "v");
    commit_writes(fx, "r/b", "new"); /* block 2: a phantom */
    ProtobufCBinaryData envs[] = {
        range_tx(fx, "r/", "r0", true, "r/a,r/c,r/e", "a"),
        range_tx(fx, "", "", true, RANGE_KEYS, "b"),
        range_tx(fx, "r/c", "r0", true, "r/c,r/e", "c"), /* the new key is before the range */
        range_tx(fx, "r/a", "r/b", true, "r/a", "d"),    /* ... or at its (excluded) end */
    };
    uint8_t codes[4];
    txv_commit(fx, envs, 4, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT), TXC(VALID),
                     TXC(VALID));

    commit_writes(fx, "r/e", NULL); /* block 4: a listed key deleted */
    ProtobufCBinaryData next[] = {
        range_tx(fx, "r/c", "r0", true, "r/c,r/e", "e"),
        range_tx(fx, "r/c", "r/d", true, "r/c", "f"),
    };
    txv_commit(fx, next, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "c,d,f,r/a,r/b,r/c,s");

    commit_writes(fx, "t", "new"); /* block 6: into a range that was empty */
    ProtobufCBinaryData last = range_tx(fx, "t", "", true, "", "g");
    txv_commit(fx, &last, 1, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT));
    txv_expect_absent(fx, "cc", "g");
}

static void range_not_exhausted_is_checked_up_to_its_last_key(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, RANGE_KEYS, "v");
    commit_writes(fx, "r/d", "new"); /* block 2: between r/c and r/e */
    ProtobufCBinaryData envs[] = {
        range_tx(fx, "r/", "r0", false, "r/a,r/c", "a"),     /* stopped before r/d */
        range_tx(fx, "r/", "r0", false, "r/a,r/c,r/e", "b"), /* went past it */
        range_tx(fx, "r/", "r0", true, "r/a,r/c,r/e", "c"),  /* and to the end */
        range_tx(fx, "r/d", "r0", false, "r/e", "d"),        /* r/d is in its range */
    };
    uint8_t codes[4];
    txv_commit(fx, envs, 4, codes);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT),
                     TXC(MVCC_READ_CONFLICT));
    txv_expect_keys(fx, "cc", "a,r/a,r/c,r/d,r/e,s");

    commit_writes(fx, "r/b", "new"); /* block 4: before r/c */
    ProtobufCBinaryData next[] = {
        range_tx(fx, "r/", "r0", false, "r/a,r/c", "e"),
        range_tx(fx, "r/", "r0", false, "r/a", "f"),
    };
    txv_commit(fx, next, 2, codes);
    TXV_EXPECT_CODES(codes, TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "a,f,r/a,r/b,r/c,r/d,r/e,s");
}

static void range_phantom_from_an_earlier_transaction_of_the_block(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, RANGE_KEYS, "v");
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, "r/b", "new");
    ProtobufCBinaryData envs[] = {
        unendorsed_put(fx, "r/0"), /* invalid: its key is no phantom */
        range_tx(fx, "r/", "r0", true, "r/a,r/c,r/e", "a"),
        txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL), /* adds r/b */
        range_tx(fx, "r/", "r0", true, "r/a,r/c,r/e", "b"),
        range_tx(fx, "r/", "r0", false, "r/a,r/c", "c"),
        range_tx(fx, "r/", "r0", false, "r/a", "d"), /* r/b is after what it saw */
        range_tx(fx, "r/c", "r0", true, "r/c,r/e", "e"),
        range_tx(fx, "s", "", true, "s", "f"),
        range_tx(fx, "r/b", "r0", true, "r/c,r/e", "g"), /* r/b is where it starts */
    };
    uint8_t codes[9];
    txv_commit(fx, envs, 9, codes);
    TXV_EXPECT_CODES(codes, TXC(ENDORSEMENT_POLICY_FAILURE), TXC(VALID), TXC(VALID),
                     TXC(MVCC_READ_CONFLICT), TXC(MVCC_READ_CONFLICT), TXC(VALID), TXC(VALID),
                     TXC(VALID), TXC(MVCC_READ_CONFLICT));
    txv_expect_keys(fx, "cc", "a,d,e,f,r/a,r/b,r/c,r/e,s");
}

static void range_changed_by_an_earlier_transaction_of_the_block(void **state)
{
    struct txv_fx *fx = *state;
    commit_writes(fx, RANGE_KEYS, "v");
    commit_writes(fx, "r/b", "late"); /* block 2: after the range reads below were endorsed */
    Stele__TxRwSet *upd = txv_rw(fx->a, "cc"), *del = txv_rw(fx->a, "cc"),
                   *gone = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, upd, "r/a", "changed");
    txv_rw_delete(fx->a, del, "r/e");
    txv_rw_delete(fx->a, gone, "r/b");
    ProtobufCBinaryData envs[] = {
        txv_build(fx, &(struct txv_tx){.rwset = gone}, NULL), /* r/b is gone again */
        range_tx(fx, "r/b", "r0", true, "r/c,r/e", "a"),      /* so this one saw it all */
        txv_build(fx, &(struct txv_tx){.rwset = upd}, NULL),
        range_tx(fx, "r/", "r/b", true, "r/a", "b"), /* r/a changed version */
        txv_build(fx, &(struct txv_tx){.rwset = del}, NULL),
        range_tx(fx, "r/c", "r0", true, "r/c,r/e", "c"), /* r/e deleted */
        range_tx(fx, "r/c", "r/d", true, "r/c", "d"),
    };
    uint8_t codes[7];
    assert_int_equal(txv_commit(fx, envs, 7, codes), 3);
    TXV_EXPECT_CODES(codes, TXC(VALID), TXC(VALID), TXC(VALID), TXC(MVCC_READ_CONFLICT), TXC(VALID),
                     TXC(MVCC_READ_CONFLICT), TXC(VALID));
    txv_expect_keys(fx, "cc", "a,d,r/a,r/c,s");
    txv_expect_value(fx, "cc", "r/a", "changed", 3, 2);
}

/* ---- determinism ------------------------------------------------------------------------- */

#define MIXED_TXS  200
#define MIXED_KEYS 40

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Block 2 of MIXED_TXS transactions of every kind over the keys block 1 wrote, with the code
 * each must get (written to want). Keys k00..k39 and r/00..r/09 were written at (1, 0). */
static void mixed_block(struct txv_fx *fx, ProtobufCBinaryData *envs, int *want)
{
    struct arena *a = fx->a;
    bool written[MIXED_KEYS] = {false}, range_written = false;
    uint32_t seed = 7;
    for (int i = 0; i < MIXED_TXS; i++) {
        uint32_t kind = lcg(&seed) % 10, j = lcg(&seed) % MIXED_KEYS;
        char key[16], own[16];
        snprintf(key, sizeof key, "k%02u", j);
        snprintf(own, sizeof own, "w%03d", i);
        Stele__TxRwSet *rw = txv_rw(a, "cc");
        struct txv_tx t = {.rwset = rw};
        want[i] = TXC(VALID);
        if (kind <= 3) { /* read-modify-write or read-delete at the committed version */
            txv_rw_read(a, rw, key, 1, 0);
            txv_rw_put(a, rw, key, kind <= 1 ? own : NULL, kind > 1);
            want[i] = written[j] ? TXC(MVCC_READ_CONFLICT) : TXC(VALID);
            written[j] = true;
        } else if (kind == 4 || (kind == 8 && i == 0)) { /* a blind write */
            txv_rw_write(a, rw, own, "blind");
        } else if (kind == 5) {
            txv_rw_write(a, rw, own, "x");
            envs[i] = txv_flip_signature(fx, txv_build(fx, &t, NULL));
            want[i] = TXC(BAD_CREATOR_SIGNATURE);
            continue;
        } else if (kind == 6) {
            txv_rw_write(a, rw, own, "x");
            t.endorsers[0] = &fx->peer2;
            t.n_endorsers = 1;
            want[i] = TXC(ENDORSEMENT_POLICY_FAILURE);
        } else if (kind == 7) {
            t.rwset = txv_rw(a, "nope");
            t.chaincode = "nope";
            want[i] = TXC(UNKNOWN_CHAINCODE);
        } else if (kind == 8) { /* a copy of an earlier transaction that passed checks 1-7 */
            int k = (int)(lcg(&seed) % (uint32_t)i);
            while (k > 0 && (want[k] != TXC(VALID) && want[k] != TXC(MVCC_READ_CONFLICT) &&
                             want[k] != TXC(DUPLICATE_TXID)))
                k--;
            if (want[k] == TXC(VALID) || want[k] == TXC(MVCC_READ_CONFLICT) ||
                want[k] == TXC(DUPLICATE_TXID)) {
                envs[i] = envs[k];
                want[i] = TXC(DUPLICATE_TXID);
                continue;
            }
            txv_rw_write(a, rw, own, "blind");
        } else { /* an exhausted range read of r/ that adds a key to it */
            Stele__RangeRead *r = txv_rw_range(a, rw, "r/", "r0", true);
            for (int k = 0; k < 10; k++)
                txv_range_key(a, r, arena_printf(a, "r/%02d", k), 1, 0);
            txv_rw_write(a, rw, arena_printf(a, "r/n%03d", i), "x");
            want[i] = range_written ? TXC(MVCC_READ_CONFLICT) : TXC(VALID);
            range_written = true;
        }
        envs[i] = txv_build(fx, &t, NULL);
    }
}

static void threads_reach_the_same_codes_and_state_hash(void **state)
{
    struct txv_fx *fx = *state;
    struct arena *a = fx->a;
    Stele__TxRwSet *rw = txv_rw(a, "cc");
    for (int k = 0; k < MIXED_KEYS; k++)
        txv_rw_write(a, rw, arena_printf(a, "k%02d", k), "0");
    for (int k = 0; k < 10; k++)
        txv_rw_write(a, rw, arena_printf(a, "r/%02d", k), "0");
    ProtobufCBinaryData first = txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
    uint8_t code;
    txv_commit(fx, &first, 1, &code);
    TXV_EXPECT_CODES(&code, TXC(VALID));

    ProtobufCBinaryData envs[MIXED_TXS];
    int want[MIXED_TXS];
    mixed_block(fx, envs, want);
    unsigned seen[256] = {0};
    for (int i = 0; i < MIXED_TXS; i++)
        seen[want[i]]++;
    /* the block is mixed: every kind occurs */
    assert_true(seen[TXC(VALID)] >= 20 && seen[TXC(MVCC_READ_CONFLICT)] >= 5 &&
                seen[TXC(DUPLICATE_TXID)] >= 5 && seen[TXC(BAD_CREATOR_SIGNATURE)] >= 5 &&
                seen[TXC(ENDORSEMENT_POLICY_FAILURE)] >= 5 && seen[TXC(UNKNOWN_CHAINCODE)] >= 5);

    static const unsigned threads[] = {1, 2, 4, 4, 2, 3};
    uint8_t head[32], hash[6][32], codes[6][MIXED_TXS];
    statedb_head_hash(fx->db, head);
    struct statedb_update *keep = NULL;
    Stele__Block *b = NULL;
    for (size_t r = 0; r < 6; r++) {
        struct txvalidator *v = txv_validator(fx->msp, fx->cfg, threads[r]);
        struct statedb_update *u = NULL;
        b = txv_validate(fx, v, envs, MIXED_TXS, codes[r], &u);
        txvalidate_destroy(v);
        txv_expect_codes_n(codes[r], want, MIXED_TXS);
        assert_int_equal(statedb_update_hash(u, head, hash[r]), STELE_OK);
        assert_memory_equal(hash[r], hash[0], 32);
        if (r == 0)
            keep = u;
        else
            statedb_update_destroy(u);
    }
    /* what is applied is that hash */
    uint8_t applied[32];
    txv_store(fx, b, keep, codes[0]);
    statedb_update_destroy(keep);
    assert_int_equal(statedb_state_hash(fx->db, 2, applied), STELE_OK);
    assert_memory_equal(applied, hash[0], 32);
    txv_expect_value(fx, "cc", "r/00", "0", 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, txv_setup, txv_teardown)
        T(duplicate_txid_in_the_block),
        T(duplicate_txid_of_a_committed_block),
        T(a_refused_copy_takes_no_tx_id),
        T(a_refused_copy_in_the_same_block_takes_no_tx_id),
        T(revalidating_a_stored_block_gives_the_same_codes),
        T(mvcc_read_conflict),
        T(read_at_a_stale_version_conflicts),
        T(absent_key_created_earlier_in_the_block_conflicts),
        T(two_read_modify_writes_of_one_key),
        T(invalid_transactions_writes_cause_no_conflict),
        T(deletes),
        T(unchanged_ranges_are_valid),
        T(range_with_a_key_added_or_deleted_conflicts),
        T(range_not_exhausted_is_checked_up_to_its_last_key),
        T(range_phantom_from_an_earlier_transaction_of_the_block),
        T(range_changed_by_an_earlier_transaction_of_the_block),
        T(threads_reach_the_same_codes_and_state_hash),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
