/* test_statedb_hash.c — the state database's state hash (statedb_fixture.h): a known answer
 * computed field by field as statedb.h spells the preimage (and checked against a digest made
 * outside C), the chaining of empty blocks, and the same updates giving the same hashes in
 * synced and unsynced databases while one changed value changes every hash after it.
 */
#include "statedb_fixture.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/statedb.h"

#include <stdlib.h>
#include <string.h>

/* ---- the state hash --------------------------------------------------------------------- */

/* Appends w_i as statedb.h spells it, field by field. */
static void preimage_write(struct buf *b, uint32_t tx, const char *ns, const char *key,
                           bool is_delete, const char *value)
{
    size_t vlen = is_delete ? 0 : strlen(value);
    assert_int_equal(buf_append_u32be(b, tx), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)strlen(ns)), 0);
    assert_int_equal(buf_append(b, ns, strlen(ns)), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)strlen(key)), 0);
    assert_int_equal(buf_append(b, key, strlen(key)), 0);
    assert_int_equal(buf_append_byte(b, is_delete), 0);
    assert_int_equal(buf_append_u32be(b, (uint32_t)vlen), 0);
    assert_int_equal(buf_append(b, value, vlen), 0);
}

static void preimage_start(struct buf *b, const uint8_t prev[32], uint64_t number)
{
    buf_clear(b);
    assert_int_equal(buf_append(b, "STELE-STATE-v1", 14), 0);
    assert_int_equal(buf_append_byte(b, 0), 0);
    assert_int_equal(buf_append(b, prev, 32), 0);
    assert_int_equal(buf_append_u64be(b, number), 0);
}

static void state_hash_known_answer(void **state)
{
    struct sdb_fx *fx = *state;
    struct statedb_update *u = statedb_update_create(0);
    sdb_put(u, 0, "a", "k1", "v1");
    sdb_del(u, 1, "a", "k\xff");
    sdb_put(u, 1, "bb", "x", "");
    sdb_put(u, 2, "a", "k1", "v1b");
    uint8_t h0[32], h1[32], want[32], stored[32], zero[32] = {0};
    sdb_apply(fx->db, u, h0);

    struct buf pre;
    buf_init(&pre);
    preimage_start(&pre, zero, 0);
    preimage_write(&pre, 0, "a", "k1", false, "v1");
    preimage_write(&pre, 1, "a", "k\xff", true, NULL);
    preimage_write(&pre, 1, "bb", "x", false, "");
    preimage_write(&pre, 2, "a", "k1", false, "v1b");
    assert_int_equal(crypto_sha256(pre.data, pre.len, want), 0);
    assert_memory_equal(h0, want, 32);
    /* The same digest from outside C (Python's hashlib over the same bytes). */
    uint8_t lit[32];
    assert_int_equal(
        hex_decode("7540285111e9a8374b0bd3750a3100b5e148c5492c6c3aef40bb4d02cb6842db", lit, 32), 0);
    assert_memory_equal(h0, lit, 32);
    assert_int_equal(statedb_state_hash(fx->db, 0, stored), STELE_OK);
    assert_memory_equal(stored, h0, 32);

    /* An empty block chains on the previous hash. */
    sdb_apply(fx->db, statedb_update_create(1), h1);
    preimage_start(&pre, h0, 1);
    assert_int_equal(crypto_sha256(pre.data, pre.len, want), 0);
    assert_memory_equal(h1, want, 32);
    assert_int_equal(
        hex_decode("b56e030b578a552363ff16d107cf97befed185b947815dd6e87d2befd781426a", lit, 32), 0);
    assert_memory_equal(h1, lit, 32);
    assert_int_equal(statedb_state_hash(fx->db, 1, stored), STELE_OK);
    assert_memory_equal(stored, h1, 32);
    assert_int_equal(statedb_state_hash(fx->db, 2, stored), STELE_ERR_NOT_FOUND);
    buf_release(&pre);
}

static void same_updates_give_same_hashes(void **state)
{
    struct sdb_fx *fx = *state;
    char *p2, *p3;
    struct statedb *synced = sdb_open_sibling(fx, "synced", true, &p2);
    struct statedb *twisted = sdb_open_sibling(fx, "twisted", false, &p3);
    uint8_t a[32], b[32], c[32], prev[32];
    for (uint64_t n = 0; n < 6; n++) {
        /* One update may be applied to several databases. */
        struct statedb_update *u = sdb_workload_block(n, false);
        assert_int_equal(statedb_apply(fx->db, u, a), STELE_OK);
        assert_int_equal(statedb_apply(synced, u, b), STELE_OK);
        statedb_update_destroy(u);
        sdb_apply(twisted, sdb_workload_block(n, n == 3), c);
        assert_memory_equal(a, b, 32);
        if (n < 3)
            assert_memory_equal(a, c, 32);
        else
            assert_memory_not_equal(a, c, 32); /* and every hash after it differs */
        if (n > 0)
            assert_memory_not_equal(a, prev, 32);
        memcpy(prev, a, 32);
    }
    for (uint64_t n = 0; n < 6; n++) {
        assert_int_equal(statedb_state_hash(fx->db, n, a), STELE_OK);
        assert_int_equal(statedb_state_hash(synced, n, b), STELE_OK);
        assert_memory_equal(a, b, 32);
    }
    statedb_close(synced);
    statedb_close(twisted);
    free(p2);
    free(p3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(state_hash_known_answer, sdb_fx_setup, sdb_fx_teardown),
        cmocka_unit_test_setup_teardown(same_updates_give_same_hashes, sdb_fx_setup,
                                        sdb_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
