/*
 * test_ca_registry.c — stele-ca's secret hashing and LevelDB registry.
 *
 * ca/ is a program folder, not part of libstele, so this test compiles the two files it checks
 * directly.
 */
#include "testutil.h"

#include "../../ca/registry.c"
#include "../../ca/secret.c"

#include "base/arena.h"

#include <ctype.h>

static void generated_secrets_are_base64url_and_distinct(void **state)
{
    char a[SECRET_GENERATED_LEN + 1], b[SECRET_GENERATED_LEN + 1];
    assert_int_equal(secret_generate(a), STELE_OK);
    assert_int_equal(secret_generate(b), STELE_OK);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 32; i++)
        assert_true(isalnum((unsigned char)a[i]) || a[i] == '-' || a[i] == '_');
}

static void hashes_check_in_both_schemes(void **state)
{
    struct secret_hash h, h2;
    /* Generated secrets: salted HMAC. */
    assert_int_equal(secret_hash("s3cret-generated", true, 0, &h), STELE_OK);
    assert_string_equal(h.scheme, SECRET_SCHEME_HMAC);
    assert_true(secret_check(h.scheme, h.salt, sizeof h.salt, h.iterations, h.hash, sizeof h.hash,
                             "s3cret-generated"));
    assert_false(secret_check(h.scheme, h.salt, sizeof h.salt, h.iterations, h.hash, sizeof h.hash,
                              "s3cret-generateD"));
    /* Same secret, fresh salt: another hash. */
    assert_int_equal(secret_hash("s3cret-generated", true, 0, &h2), STELE_OK);
    assert_memory_not_equal(h.hash, h2.hash, sizeof h.hash);

    /* Chosen secrets: PBKDF2 with the given iterations. */
    assert_int_equal(secret_hash("chosen", false, 1000, &h), STELE_OK);
    assert_string_equal(h.scheme, SECRET_SCHEME_PBKDF2);
    assert_int_equal(h.iterations, 1000);
    assert_true(
        secret_check(h.scheme, h.salt, sizeof h.salt, 1000, h.hash, sizeof h.hash, "chosen"));
    assert_false(
        secret_check(h.scheme, h.salt, sizeof h.salt, 999, h.hash, sizeof h.hash, "chosen"));
    h.salt[0] ^= 1;
    assert_false(
        secret_check(h.scheme, h.salt, sizeof h.salt, 1000, h.hash, sizeof h.hash, "chosen"));
    /* Unknown scheme, short hash, empty inputs. */
    assert_false(secret_check("md5", h.salt, sizeof h.salt, 1000, h.hash, sizeof h.hash, "x"));
    assert_false(secret_check(h.scheme, h.salt, sizeof h.salt, 1000, h.hash, 31, "chosen"));
    assert_int_equal(secret_hash("", true, 0, &h), STELE_ERR_INVALID);
    assert_int_equal(secret_hash("x", false, 0, &h), STELE_ERR_INVALID);
}

static void registry_round_trip_and_reopen(void **state)
{
    char *dir = test_tmpdir("registry");
    struct registry *r = NULL;
    struct arena *a = arena_create(0);
    char *err = NULL;
    assert_int_equal(registry_open(dir, false, &r, &err), STELE_ERR_NOT_FOUND);
    free(err);
    assert_int_equal(registry_open(dir, true, &r, NULL), STELE_OK);

    /* One batch: an id, a cert, a revocation, a nonce, counters. */
    struct registry_batch *b = registry_batch_create();
    Stele__CaIdRecord rec = STELE__CA_ID_RECORD__INIT;
    rec.id = "alice";
    rec.org = "Org1";
    rec.role = "client";
    rec.max_enrollments = 2;
    Stele__CaCertRecord cr = STELE__CA_CERT_RECORD__INIT;
    cr.id = "alice";
    cr.serial = 7;
    uint8_t ch[32], nonce[IDENTITY_NONCE_LEN] = {1, 2, 3};
    memset(ch, 0xab, sizeof ch);
    struct identity_revoked e = {.serial = 7, .id = "alice", .revoked_at = 100, .reason = "lost"};
    memcpy(e.certhash, ch, 32);
    registry_batch_put_id(b, &rec);
    registry_batch_put_cert(b, ch, &cr);
    registry_batch_put_revoked(b, &e);
    registry_batch_put_nonce(b, nonce, 1000);
    registry_batch_put_u64(b, "serial", 7);
    registry_batch_put_str(b, "name", "test-ca");
    /* Nothing is visible before the commit. */
    Stele__CaIdRecord *got;
    assert_int_equal(registry_get_id(r, a, "alice", &got), STELE_ERR_NOT_FOUND);
    assert_false(registry_nonce_seen(r, nonce));
    assert_int_equal(registry_commit(r, b), STELE_OK);
    registry_batch_destroy(b);
    registry_close(r);

    /* Reopened: everything is there. */
    assert_int_equal(registry_open(dir, true, &r, NULL), STELE_ERR_EXISTS);
    assert_int_equal(registry_open(dir, false, &r, NULL), STELE_OK);
    assert_int_equal(registry_get_id(r, a, "alice", &got), STELE_OK);
    assert_string_equal(got->org, "Org1");
    assert_int_equal(got->max_enrollments, 2);
    Stele__CaCertRecord *gc;
    assert_int_equal(registry_get_cert(r, a, ch, &gc), STELE_OK);
    assert_int_equal(gc->serial, 7);
    uint64_t v;
    char *name;
    assert_int_equal(registry_get_u64(r, "serial", &v), STELE_OK);
    assert_int_equal(v, 7);
    assert_int_equal(registry_get_u64(r, "crl_number", &v), STELE_OK);
    assert_int_equal(v, 0);
    assert_int_equal(registry_get_str(r, a, "name", &name), STELE_OK);
    assert_string_equal(name, "test-ca");
    struct identity_revoked *list;
    size_t n;
    assert_int_equal(registry_list_revoked(r, a, &list, &n), STELE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].reason, "lost");
    assert_memory_equal(list[0].certhash, ch, 32);

    /* Nonces: seen until pruned. */
    assert_true(registry_nonce_seen(r, nonce));
    assert_int_equal(registry_prune_nonces(r, 500, &n), STELE_OK);
    assert_int_equal(n, 0);
    assert_true(registry_nonce_seen(r, nonce));
    assert_int_equal(registry_prune_nonces(r, 1001, &n), STELE_OK);
    assert_int_equal(n, 1);
    assert_false(registry_nonce_seen(r, nonce));

    registry_close(r);
    arena_destroy(a);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_secrets_are_base64url_and_distinct),
        cmocka_unit_test(hashes_check_in_both_schemes),
        cmocka_unit_test(registry_round_trip_and_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
