/* test_blockhash.c — header hash, Merkle data hash, inclusion proofs, block helpers, CRC-32C. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/blockhash.h"
#include "ledger/crc32c.h"
#include "pb/pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference tree: RFC 6962 §2.1 written out as plainly as possible, independent of the
 * library's code (it splits by looping over powers of two and hashes through a buf). */
static void ref_root(const uint8_t (*leaves)[32], size_t n, uint8_t out[32])
{
    struct buf b;
    buf_init(&b);
    if (n == 0) {
        assert_int_equal(crypto_sha256("", 0, out), STELE_OK);
    } else if (n == 1) {
        buf_append_byte(&b, 0x00);
        buf_append(&b, leaves[0], 32);
        assert_int_equal(crypto_sha256(b.data, b.len, out), STELE_OK);
    } else {
        size_t k = 1;
        while (k * 2 < n)
            k *= 2;
        uint8_t l[32], r[32];
        ref_root(leaves, k, l);
        ref_root(leaves + k, n - k, r);
        buf_append_byte(&b, 0x01);
        buf_append(&b, l, 32);
        buf_append(&b, r, 32);
        assert_int_equal(crypto_sha256(b.data, b.len, out), STELE_OK);
    }
    buf_release(&b);
}

static void make_leaves(uint8_t (*leaves)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char s[32];
        snprintf(s, sizeof s, "envelope %zu", i);
        assert_int_equal(crypto_sha256(s, strlen(s), leaves[i]), STELE_OK);
    }
}

static void header_hash_known_answer(void **state)
{
    (void)state;
    /* Derived once, outside this code, from the 72-octet layout u64be(258) || 0x11 * 32 ||
     * 0x22 * 32:
     *   { printf '\0\0\0\0\0\0\1\2'; head -c 32 /dev/zero | tr '\0' '\021';
     *     head -c 32 /dev/zero | tr '\0' '\042'; } | openssl dgst -sha256 */
    static const char want[] = "d196f8950b4b8511a0d9eaa1a4a51bdf481edb024b3448d896d9eda7ced54bff";
    uint8_t prev[32], data[32], got[32];
    memset(prev, 0x11, 32);
    memset(data, 0x22, 32);
    assert_int_equal(blockhash_header(258, prev, data, got), STELE_OK);
    char hex[65];
    hex_encode(got, 32, hex);
    assert_string_equal(hex, want);

    Stele__BlockHeader h = STELE__BLOCK_HEADER__INIT;
    h.number = 258;
    h.previous_hash = (ProtobufCBinaryData){32, prev};
    h.data_hash = (ProtobufCBinaryData){32, data};
    uint8_t got2[32];
    assert_int_equal(blockhash_header_pb(&h, got2), STELE_OK);
    assert_memory_equal(got, got2, 32);
    h.data_hash.len = 31;
    assert_int_equal(blockhash_header_pb(&h, got2), STELE_ERR_MALFORMED);
}

static void data_hash_known_answers(void **state)
{
    (void)state;
    uint8_t got[32];
    char hex[65];
    /* Empty block: SHA-256 of the empty string (printf '' | openssl dgst -sha256). */
    assert_int_equal(blockhash_data_hash(NULL, 0, got), STELE_OK);
    hex_encode(got, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* Envelopes "a", "b", "c", derived once with Python's hashlib:
     *   H = lambda b: hashlib.sha256(b).digest(); L = [H(x) for x in (b'a', b'b', b'c')]
     *   leaf = lambda d: H(b'\0' + d); node = lambda l, r: H(b'\1' + l + r)
     *   node(node(leaf(L[0]), leaf(L[1])), leaf(L[2])).hex() */
    ProtobufCBinaryData envs[3] = {{1, (uint8_t *)"a"}, {1, (uint8_t *)"b"}, {1, (uint8_t *)"c"}};
    assert_int_equal(blockhash_data_hash(envs, 3, got), STELE_OK);
    hex_encode(got, 32, hex);
    assert_string_equal(hex, "cac3d448d4e20a2ad5eae1f500e63c2a7f9217cd14572ba7fd22e26dc1ec2648");
}

static void merkle_matches_reference(void **state)
{
    (void)state;
    uint8_t leaves[70][32];
    make_leaves(leaves, 70);
    for (size_t n = 0; n <= 70; n++) {
        uint8_t got[32], want[32];
        assert_int_equal(blockhash_merkle_root((const uint8_t(*)[32])leaves, n, got), STELE_OK);
        ref_root((const uint8_t(*)[32])leaves, n, want);
        assert_memory_equal(got, want, 32);
    }
}

static void proofs_verify_and_break(void **state)
{
    (void)state;
    uint8_t leaves[33][32];
    make_leaves(leaves, 33);
    const uint8_t(*cl)[32] = (const uint8_t(*)[32])leaves;
    for (size_t n = 1; n <= 33; n++) {
        uint8_t root[32];
        assert_int_equal(blockhash_merkle_root(cl, n, root), STELE_OK);
        for (size_t i = 0; i < n; i++) {
            uint8_t path[BLOCKHASH_MAX_PATH][32];
            size_t len = 99;
            assert_int_equal(blockhash_inclusion_proof(cl, n, i, path, &len), STELE_OK);
            const uint8_t(*cp)[32] = (const uint8_t(*)[32])path;
            assert_true(blockhash_verify_inclusion(leaves[i], i, n, cp, len, root));

            /* Any changed byte of the path breaks it. */
            for (size_t j = 0; j < len; j++) {
                path[j][j % 32] ^= 0x01;
                assert_false(blockhash_verify_inclusion(leaves[i], i, n, cp, len, root));
                path[j][j % 32] ^= 0x01;
            }
            /* Another index, another leaf, a shorter or longer path, another size. */
            for (size_t k = 0; k < n + 2; k++)
                if (k != i)
                    assert_false(blockhash_verify_inclusion(leaves[i], k, n, cp, len, root));
            uint8_t other[32];
            memcpy(other, leaves[i], 32);
            other[31] ^= 0x80;
            assert_false(blockhash_verify_inclusion(other, i, n, cp, len, root));
            if (len > 0)
                assert_false(blockhash_verify_inclusion(leaves[i], i, n, cp, len - 1, root));
            memcpy(path[len], root, 32);
            assert_false(blockhash_verify_inclusion(leaves[i], i, n, cp, len + 1, root));
            root[0] ^= 1;
            assert_false(blockhash_verify_inclusion(leaves[i], i, n, cp, len, root));
            root[0] ^= 1;
        }
        uint8_t path[BLOCKHASH_MAX_PATH][32];
        size_t len;
        assert_int_equal(blockhash_inclusion_proof(cl, n, n, path, &len), STELE_ERR_INVALID);
    }
}

static void build_check_and_link(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    ProtobufCBinaryData envs[2] = {{3, (uint8_t *)"one"}, {3, (uint8_t *)"two"}};
    uint8_t zero[32] = {0}, h0[32];
    Stele__Block *b0, *b1;
    assert_int_equal(blockhash_block_build(a, 0, zero, envs, 2, &b0), STELE_OK);
    assert_int_equal(blockhash_check_data(b0), STELE_OK);
    assert_int_equal(b0->data->n_envelopes, 2);
    assert_ptr_not_equal(b0->data->envelopes[0].data, envs[0].data); /* copied */
    assert_int_equal(blockhash_header_pb(b0->header, h0), STELE_OK);
    assert_int_equal(blockhash_block_build(a, 1, h0, NULL, 0, &b1), STELE_OK);
    assert_int_equal(blockhash_check_data(b1), STELE_OK);
    assert_int_equal(blockhash_check_link(b0->header, b1->header), STELE_OK);
    assert_int_equal(blockhash_check_link(b1->header, b0->header), STELE_ERR_CONFLICT);

    /* Round trip through protobuf keeps both hashes. */
    size_t n;
    uint8_t *wire = pb_pack(&b0->base, &n);
    Stele__Block *back = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, wire, n, 0);
    free(wire);
    assert_non_null(back);
    assert_int_equal(blockhash_check_data(back), STELE_OK);
    assert_int_equal(blockhash_check_link(back->header, b1->header), STELE_OK);

    /* A changed envelope no longer matches the data hash; a changed previous hash breaks the
     * link. */
    back->data->envelopes[1].data[0] ^= 1;
    assert_int_equal(blockhash_check_data(back), STELE_ERR_MALFORMED);
    b1->header->previous_hash.data[5] ^= 1;
    assert_int_equal(blockhash_check_link(b0->header, b1->header), STELE_ERR_CONFLICT);
    b1->header->previous_hash.len = 0;
    assert_int_equal(blockhash_check_link(b0->header, b1->header), STELE_ERR_MALFORMED);
    arena_destroy(a);
}

static void crc32c_known_answers(void **state)
{
    (void)state;
    /* RFC 3720 §B.4 check value and test vectors. */
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    assert_int_equal(crc32c(zeros, 32), 0x8A9136AAu);
    assert_int_equal(crc32c(ones, 32), 0x62A8AB43u);
    assert_int_equal(crc32c(NULL, 0), 0);
    assert_int_equal(crc32c_update(crc32c("1234", 4), "56789", 5), 0xE3069283u);
    assert_int_equal(crc32c_update_portable(0, "123456789", 9), 0xE3069283u);
    /* the CPU's instruction (where used) and the table agree at every length and alignment */
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 7)
            assert_int_equal(crc32c_update(0x12345678u, buf + off, len),
                             crc32c_update_portable(0x12345678u, buf + off, len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_hash_known_answer), cmocka_unit_test(data_hash_known_answers),
        cmocka_unit_test(merkle_matches_reference), cmocka_unit_test(proofs_verify_and_break),
        cmocka_unit_test(build_check_and_link),     cmocka_unit_test(crc32c_known_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
