/* test_crypto_hash.c — SHA-256 (RFC 6234 / FIPS 180 examples), HKDF (RFC 5869 A.1–A.3),
 * random bytes and constant-time comparison. */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"

#include <stdlib.h>
#include <string.h>

static void expect_hex(const uint8_t *got, size_t len, const char *hex)
{
    char s[2 * 512 + 1];
    assert_true(len <= 512);
    hex_encode(got, len, s);
    assert_string_equal(s, hex);
}

static void sha256_vectors(void **state)
{
    (void)state;
    uint8_t d[CRYPTO_SHA256_LEN];

    assert_int_equal(crypto_sha256(NULL, 0, d), STELE_OK);
    expect_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(crypto_sha256("abc", 3, d), STELE_OK);
    expect_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(crypto_sha256(two, strlen(two), d), STELE_OK);
    expect_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256_incremental(void **state)
{
    (void)state;
    uint8_t d[CRYPTO_SHA256_LEN], a[1000];
    struct crypto_sha256 *h = crypto_sha256_create();
    assert_non_null(h);

    /* One million 'a' fed in 1000-octet pieces (RFC 6234 test 3). */
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(crypto_sha256_update(h, a, sizeof a), STELE_OK);
    assert_int_equal(crypto_sha256_final(h, d), STELE_OK);
    expect_hex(d, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* final() resets: the same object hashes a new message, split anywhere. */
    assert_int_equal(crypto_sha256_update(h, "a", 1), STELE_OK);
    assert_int_equal(crypto_sha256_update(h, NULL, 0), STELE_OK);
    assert_int_equal(crypto_sha256_update(h, "bc", 2), STELE_OK);
    assert_int_equal(crypto_sha256_final(h, d), STELE_OK);
    expect_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_destroy(h);
    crypto_sha256_destroy(NULL);
}

struct hkdf_case {
    const char *ikm, *salt, *info; /* hex */
    size_t len;
    const char *prk, *okm;
};

static void hkdf_rfc5869(void **state)
{
    (void)state;
    static const struct hkdf_case cases[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
         "f0f1f2f3f4f5f6f7f8f9", 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b"
         "2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
         "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b"
         "8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
         "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb"
         "dcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         82, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65"
         "e"
         "590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct hkdf_case *c = &cases[i];
        struct buf ikm, salt, info;
        uint8_t prk[32], okm[128];
        buf_init(&ikm);
        buf_init(&salt);
        buf_init(&info);
        assert_int_equal(buf_append_unhex(&ikm, c->ikm), STELE_OK);
        assert_int_equal(buf_append_unhex(&salt, c->salt), STELE_OK);
        assert_int_equal(buf_append_unhex(&info, c->info), STELE_OK);

        assert_int_equal(crypto_hkdf_sha256(salt.data, salt.len, ikm.data, ikm.len, info.data,
                                            info.len, okm, c->len),
                         STELE_OK);
        expect_hex(okm, c->len, c->okm);
        assert_int_equal(crypto_hkdf_sha256_extract(salt.data, salt.len, ikm.data, ikm.len, prk),
                         STELE_OK);
        expect_hex(prk, 32, c->prk);
        memset(okm, 0, sizeof okm);
        assert_int_equal(crypto_hkdf_sha256_expand(prk, 32, info.data, info.len, okm, c->len),
                         STELE_OK);
        expect_hex(okm, c->len, c->okm);
        buf_release(&ikm);
        buf_release(&salt);
        buf_release(&info);
    }

    /* Test case 3 again with salt absent (NULL): the RFC's default of 32 zero octets. */
    uint8_t ikm[22], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, okm, sizeof okm),
                     STELE_OK);
    expect_hex(okm, 42, cases[2].okm);

    assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, okm, 0),
                     STELE_ERR_INVALID);
    uint8_t *big = malloc(CRYPTO_HKDF_MAX_LEN + 1);
    assert_int_equal(
        crypto_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, big, CRYPTO_HKDF_MAX_LEN + 1),
        STELE_ERR_INVALID);
    assert_int_equal(
        crypto_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, big, CRYPTO_HKDF_MAX_LEN), STELE_OK);
    free(big);
}

static void random_and_compare(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    assert_int_equal(crypto_random(a, sizeof a), STELE_OK);
    assert_int_equal(crypto_random(b, sizeof b), STELE_OK);
    assert_false(crypto_equal(a, b, sizeof a)); /* 2^-512 */
    memcpy(b, a, sizeof a);
    assert_true(crypto_equal(a, b, sizeof a));
    b[63] ^= 0x80;
    assert_false(crypto_equal(a, b, sizeof a));
    assert_true(crypto_equal(a, b, 0));
    assert_int_equal(crypto_random(a, 0), STELE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_vectors),
        cmocka_unit_test(sha256_incremental),
        cmocka_unit_test(hkdf_rfc5869),
        cmocka_unit_test(random_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
