/*
 * test_alloc_failure.c — Stele's own allocations failing while a block is validated are never
 * taken for a bad transaction. The validator decodes envelopes, payloads, transactions and
 * identity records into arenas through protobuf-c, which answers an allocation failure as it
 * answers octets that do not decode: NULL. Read as "does not decode", a peer short of memory
 * would record BAD_PAYLOAD or BAD_CREATOR_SIGNATURE for a transaction every other peer finds
 * VALID, and its state would differ from theirs for good. test_crypto_failure.c does the same
 * for OpenSSL's allocations.
 *
 * This test is linked with `-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc` (CMakeLists.txt):
 * every malloc, calloc and realloc made by Stele's code (the arena's chunks included) goes
 * through the functions below, which fail the n-th allocation after a point; allocations made
 * inside shared libraries (LevelDB, OpenSSL, protobuf-c's own defaults) are not affected. For
 * every n that falls inside the call, a block of transactions must get exactly the codes it
 * gets with memory to spare, or not be validated at all (STELE_ERR_NOMEM: the committer tries
 * the block again).
 */
#include "txv_lifecycle.h"

#include "base/arena.h"
#include "base/status.h"
#include "identity/identity.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

/* Stele's allocations ask the process's countdown (testutil.h) */
void *__wrap_malloc(size_t n)
{
    return test_alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return test_alloc_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return test_alloc_fails() ? NULL : __real_realloc(p, n);
}

/* The wrapping is in place: a malloc of this file fails when armed. */
static void the_allocator_is_wrapped(void **state)
{
    (void)state;
    test_alloc_arm(0);
    void *p = malloc(16);
    assert_int_equal(test_alloc_disarm(), 1);
    assert_null(p);
    struct arena *a = arena_create(0);
    assert_non_null(a);
    test_alloc_arm(0);
    p = arena_alloc(a, 16); /* the arena's first chunk */
    test_alloc_disarm();
    assert_null(p);
    assert_int_equal(arena_failures(a), 1);
    assert_non_null(arena_alloc(a, 16));
    assert_null(arena_alloc(a, SIZE_MAX)); /* an impossible size is not a lack of memory */
    assert_int_equal(arena_failures(a), 1);
    arena_destroy(a);
}

/* The first half of `env`'s octets: an envelope that does not decode, so that the block also
 * holds a transaction refused for its octets. */
static ProtobufCBinaryData truncated(struct txv_fx *fx, ProtobufCBinaryData env)
{
    return txv_keep(fx, env.data, env.len / 2);
}

/* Validates `envs` as the next block with a new MSP and a one-thread validator (no remembered
 * record, key or signature; one countdown), the n-th allocation from now failing (n < 0: none).
 * Returns txvalidate_block()'s status; `codes` gets the codes, *failed (may be NULL) how many
 * allocations failed. */
static int validate_with_failure(struct txv_fx *fx, const ProtobufCBinaryData *envs, size_t n_envs,
                                 long n, uint8_t *codes, long *failed)
{
    struct msp *m = msp_create(0);
    assert_non_null(m);
    assert_int_equal(msp_add_ca(m, "Org1", TXV_CA1_ID, fx->ca1), STELE_OK);
    assert_int_equal(msp_add_ca(m, "Org2", TXV_CA2_ID, fx->ca2), STELE_OK);
    struct txvalidator *v = txv_validator(m, fx->cfg, 1);
    Stele__Block *b = txv_block(fx, envs, n_envs);
    struct statedb_update *u = statedb_update_create(b->header->number);
    assert_non_null(u);
    memset(codes, 0xee, n_envs);
    test_alloc_arm(n);
    int rc = txvalidate_block(v, fx->db, fx->bs, b, codes, u, NULL);
    long f = test_alloc_disarm();
    if (failed)
        *failed = f;
    statedb_update_destroy(u);
    txvalidate_destroy(v);
    msp_destroy(m);
    return rc;
}

/* Valid transactions before those a test is about: the validator's arena needs a new chunk
 * (256 KiB) inside the block, so failures also fall between two decodings. */
#define FILLERS  40
#define MAX_TAIL 8

/* Validates FILLERS valid transactions followed by the n_tail envelopes `tail` (whose codes are
 * `tail_want`) with the n-th allocation failing, for n = 0, 1, ... until a run needs fewer
 * than n: each run gives the codes of a run without failure, or no codes at all. */
static void same_codes_or_none(struct txv_fx *fx, const ProtobufCBinaryData *tail,
                               const int *tail_want, size_t n_tail)
{
    ProtobufCBinaryData envs[FILLERS + MAX_TAIL];
    int want[FILLERS + MAX_TAIL];
    uint8_t got[FILLERS + MAX_TAIL];
    assert_true(n_tail <= MAX_TAIL);
    for (size_t i = 0; i < FILLERS; i++) {
        char key[16];
        snprintf(key, sizeof key, "f%zu", i);
        envs[i] = txv_put_tx(fx, key, "v");
        want[i] = TXC(VALID);
    }
    memcpy(envs + FILLERS, tail, n_tail * sizeof *tail);
    memcpy(want + FILLERS, tail_want, n_tail * sizeof *tail_want);
    size_t n_envs = FILLERS + n_tail;
    assert_int_equal(validate_with_failure(fx, envs, n_envs, -1, got, NULL), STELE_OK);
    txv_expect_codes_n(got, want, n_envs);
    long refusals = 0, n;
    for (n = 0; n < 1000000; n++) {
        long failed = 0;
        int rc = validate_with_failure(fx, envs, n_envs, n, got, &failed);
        bool done = failed == 0;
        if (rc == STELE_OK) {
            for (size_t i = 0; i < n_envs; i++)
                if (got[i] != want[i]) {
                    fprintf(stderr, "allocation %ld failing changed code %zu:\n", n, i);
                    txv_expect_codes_n(got, want, n_envs);
                }
        } else if (rc != STELE_ERR_NOMEM) {
            fail_msg("allocation %ld failing made the block's validation %s", n,
                     stele_strerror(rc));
        } else {
            refusals++;
        }
        if (done)
            break;
    }
    assert_true(refusals > 0); /* some failure did reach the validator */
    print_message("%ld allocations failed in turn, %ld left the block unvalidated\n", n, refusals);
}

/* Checks 1-9: decoding, signatures, the policy, MVCC. */
static void codes_never_depend_on_memory(void **state)
{
    struct txv_fx *fx = *state;
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_read_absent(fx->a, rw, "k");
    txv_rw_write(fx->a, rw, "k", "again");
    const struct test_identity *org1_only[] = {&fx->peer1};
    const ProtobufCBinaryData tail[] = {
        txv_put_tx(fx, "k", "v"),
        txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL), /* reads k, which the last wrote */
        txv_flip_signature(fx, txv_put_tx(fx, "j", "v")),   /* the creator's signature */
        txv_endorsed(fx, "cc", "i", org1_only, 1, NULL, 0), /* the policy */
        truncated(fx, txv_put_tx(fx, "h", "v")),            /* does not decode */
        txv_put_tx(fx, "g", "v"),
    };
    const int want[] = {TXC(VALID),
                        TXC(MVCC_READ_CONFLICT),
                        TXC(BAD_CREATOR_SIGNATURE),
                        TXC(ENDORSEMENT_POLICY_FAILURE),
                        TXC(BAD_PAYLOAD),
                        TXC(VALID)};
    same_codes_or_none(fx, tail, want, sizeof want / sizeof *want);
}

/* Check 10: _lifecycle transactions re-run by the rules, which decode definitions. */
static void lifecycle_codes_never_depend_on_memory(void **state)
{
    struct txv_fx *fx = *state;
    ProtobufCBinaryData d = txv_definition(fx, "new", "1.0", 1, "OR(Org1.peer, Org2.peer)");
    const ProtobufCBinaryData tail[] = {
        txv_lifecycle_tx(fx, &fx->client, "approve", d, 0), /* not an admin */
        txv_lifecycle_tx(fx, &fx->admin1, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "approve", d, 0),
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, LC_OTHER_VALUE),
        txv_lifecycle_tx(fx, &fx->admin2, "commit", d, 0),
    };
    const int want[] = {TXC(LIFECYCLE_REFUSED), TXC(VALID), TXC(VALID), TXC(LIFECYCLE_REFUSED),
                        TXC(VALID)};
    same_codes_or_none(fx, tail, want, sizeof want / sizeof *want);
}

/* A block stored with the n-th allocation failing, for n = 0, 1, ... until an append needs
 * fewer than n: an append refused for lack of memory stored nothing and can be tried again
 * at once (a committer retries the block), and once stored every one of the block's tx_ids is
 * found, so that the duplicate check cannot let a replay through on this peer alone. */
static void a_stored_block_indexes_every_tx_id(void **state)
{
    struct txv_fx *fx = *state;
    enum { N = 30 };
    ProtobufCBinaryData envs[N];
    char ids[N][ENVELOPE_TXID_LEN + 1];
    for (size_t i = 0; i < N; i++) {
        Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
        char key[16];
        snprintf(key, sizeof key, "b%zu", i);
        txv_rw_write(fx->a, rw, key, "v");
        envs[i] = txv_build(fx, &(struct txv_tx){.rwset = rw}, ids[i]);
    }
    uint8_t zero[32] = {0};
    Stele__Block *b = NULL;
    assert_int_equal(blockhash_block_build(fx->a, 0, zero, envs, N, &b), STELE_OK);
    long refusals = 0, n;
    for (n = 0; n < 100000; n++) {
        char *dir = arena_printf(fx->a, "%s/append-%ld", fx->dir, n);
        struct blockstore_options o = {.sync = BLOCKSTORE_SYNC_NONE};
        struct blockstore *bs = NULL;
        char *err = NULL;
        assert_int_equal(blockstore_open(dir, &o, &bs, &err), STELE_OK);
        test_alloc_arm(n);
        int rc = blockstore_append(bs, b);
        bool done = test_alloc_disarm() == 0;
        if (rc != STELE_OK) { /* nothing stored: the append can be tried again at once */
            assert_int_equal(rc, STELE_ERR_NOMEM);
            refusals++;
            assert_int_equal(blockstore_height(bs), 0);
            assert_int_equal(blockstore_append(bs, b), STELE_OK);
        }
        if (blockstore_height(bs) == 1)
            for (size_t i = 0; i < N; i++)
                if (blockstore_txid_taken(bs, ids[i], NULL) != STELE_OK)
                    fail_msg("allocation %ld failing: block 0 is stored without tx_id %zu", n, i);
        blockstore_close(bs);
        test_rmtree(dir);
        if (done)
            break;
    }
    assert_true(refusals > 0);
    print_message("%ld allocations failed in turn, %ld appends refused\n", n, refusals);
}

/* Size of a file, -1 when absent. */
static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A store whose index was lost, opened with the n-th allocation failing, for n = 0, 1, ...:
 * reopening re-reads the block files to index them again, and a record it could not read or
 * decode for lack of memory is not taken for a torn write and cut off: the open fails with
 * STELE_ERR_NOMEM and the block file is as it was, or the block is there with its tx_ids. */
static void reopening_short_of_memory_never_cuts_a_block(void **state)
{
    struct txv_fx *fx = *state;
    enum { N = 30 };
    ProtobufCBinaryData envs[N];
    char ids[N][ENVELOPE_TXID_LEN + 1];
    for (size_t i = 0; i < N; i++)
        envs[i] = txv_build(fx, &(struct txv_tx){0}, ids[i]);
    uint8_t zero[32] = {0};
    Stele__Block *b = NULL;
    assert_int_equal(blockhash_block_build(fx->a, 0, zero, envs, N, &b), STELE_OK);
    char *dir = arena_printf(fx->a, "%s/reopen", fx->dir);
    char *index = arena_printf(fx->a, "%s/index", dir);
    char *file = arena_printf(fx->a, "%s/blocks/000000.blk", dir);
    struct blockstore_options o = {.sync = BLOCKSTORE_SYNC_NONE};
    struct blockstore *bs = NULL;
    char *err = NULL;
    assert_int_equal(blockstore_open(dir, &o, &bs, &err), STELE_OK);
    assert_int_equal(blockstore_append(bs, b), STELE_OK);
    blockstore_close(bs);
    long size = file_size(file);
    assert_true(size > 0);
    long refusals = 0, n = 0;
    /* with its index lost (the block files are read again), then with it kept (the last
     * indexed block is checked against the files) */
    for (int kept = 0; kept < 2; kept++)
        for (n = 0; n < 100000; n++) {
            if (!kept)
                test_rmtree(index);
            bs = NULL;
            test_alloc_arm(n);
            int rc = blockstore_open(dir, &o, &bs, &err);
            bool done = test_alloc_disarm() == 0;
            assert_int_equal(file_size(file), size);
            if (rc != STELE_OK) {
                if (rc != STELE_ERR_NOMEM)
                    fail_msg("allocation %ld failing: the store does not open: %s (%s)", n,
                             stele_strerror(rc), err ? err : "");
                refusals++;
                free(err);
                err = NULL;
            } else {
                assert_int_equal(blockstore_height(bs), 1);
                for (size_t i = 0; i < N; i++)
                    assert_int_equal(blockstore_txid_taken(bs, ids[i], NULL), STELE_OK);
                blockstore_close(bs);
            }
            if (done)
                break;
        }
    assert_true(refusals > 0);
    print_message("%ld opens refused, each for one allocation failing\n", refusals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_allocator_is_wrapped),
        cmocka_unit_test_setup_teardown(codes_never_depend_on_memory, txv_setup, txv_teardown),
        cmocka_unit_test_setup_teardown(lifecycle_codes_never_depend_on_memory, txv_setup,
                                        txv_teardown),
        cmocka_unit_test_setup_teardown(a_stored_block_indexes_every_tx_id, txv_setup,
                                        txv_teardown),
        cmocka_unit_test_setup_teardown(reopening_short_of_memory_never_cuts_a_block, txv_setup,
                                        txv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
