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
    registry_batch_put_revoked(b, &e, 0);
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
    assert_int_equal(registry_list_revoked(r, a, 100, &list, &n), STELE_OK);
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

/* An id record with `n` certificate references (the shape a reenrolment loop grows). */
static Stele__CaIdRecord *big_record(struct arena *a, const char *id, size_t n)
{
    Stele__CaIdRecord *rec = arena_calloc(a, 1, sizeof *rec);
    stele__ca_id_record__init(rec);
    rec->id = (char *)id;
    rec->org = "Org1";
    rec->role = "client";
    rec->n_certs = n;
    rec->certs = arena_calloc(a, n, sizeof *rec->certs);
    static uint8_t hash[32];
    for (size_t i = 0; i < n; i++) {
        Stele__CaCertRef *c = arena_calloc(a, 1, sizeof *c);
        stele__ca_cert_ref__init(c);
        c->serial = i + 1;
        c->certhash.data = hash;
        c->certhash.len = sizeof hash;
        c->issued_at = c->expires_at = 1700000000;
        c->revoked = true;
        rec->certs[i] = c;
    }
    return rec;
}

/* A record that could not be read back (over 1 MiB) is refused with the whole batch, so the
 * registry never holds an id record that Revoke cannot read; one written before the cap still
 * reads, so that it can be revoked (which shrinks it). */
static void oversized_records_refused_old_ones_still_read(void **state)
{
    char *dir = test_tmpdir("registry-cap");
    struct registry *r = NULL;
    struct arena *a = arena_create(0);
    assert_int_equal(registry_open(dir, true, &r, NULL), STELE_OK);
    Stele__CaIdRecord *big = big_record(a, "looper", 25000), *got;
    assert_true(protobuf_c_message_get_packed_size(&big->base) > MAX_RECORD);

    struct registry_batch *b = registry_batch_create();
    registry_batch_put_u64(b, "serial", 9);
    assert_int_equal(registry_batch_put_id(b, big), STELE_ERR_TOO_BIG);
    assert_int_equal(registry_commit(r, b), STELE_ERR_TOO_BIG);
    registry_batch_destroy(b);
    uint64_t v;
    assert_int_equal(registry_get_u64(r, "serial", &v), STELE_OK);
    assert_int_equal(v, 0); /* nothing of the batch was written */
    assert_int_equal(registry_get_id(r, a, "looper", &got), STELE_ERR_NOT_FOUND);

    /* Just under the cap is written and read back. */
    b = registry_batch_create();
    assert_int_equal(registry_batch_put_id(b, big_record(a, "looper", 15000)), STELE_OK);
    assert_int_equal(registry_commit(r, b), STELE_OK);
    registry_batch_destroy(b);
    assert_int_equal(registry_get_id(r, a, "looper", &got), STELE_OK);
    assert_int_equal(got->n_certs, 15000);

    /* A record written over the cap by an older CA still reads. */
    struct buf v2 = {0};
    assert_int_equal(pb_pack_buf(&big->base, &v2), STELE_OK);
    b = registry_batch_create();
    leveldb_writebatch_put(b->wb, "id/looper", 9, (const char *)v2.data, v2.len);
    assert_int_equal(registry_commit(r, b), STELE_OK);
    registry_batch_destroy(b);
    buf_release(&v2);
    assert_int_equal(registry_get_id(r, a, "looper", &got), STELE_OK);
    assert_int_equal(got->n_certs, 25000);

    registry_close(r);
    arena_destroy(a);
    test_rmtree(dir);
    free(dir);
}

/* The CRL lists a revoked certificate until it expires, then leaves it out; an entry written
 * without an expiry (by an older CA) is always listed. */
static void revoked_entries_listed_until_they_expire(void **state)
{
    char *dir = test_tmpdir("registry-rev");
    struct registry *r = NULL;
    struct arena *a = arena_create(0);
    assert_int_equal(registry_open(dir, true, &r, NULL), STELE_OK);
    struct registry_batch *b = registry_batch_create();
    struct identity_revoked e = {.id = "alice", .revoked_at = 50, .reason = "superseded"};
    for (int i = 0; i < 3; i++) {
        memset(e.certhash, i + 1, sizeof e.certhash);
        e.serial = (uint64_t)i + 1;
        registry_batch_put_revoked(b, &e, i == 0 ? 100 : i == 1 ? 1000 : 0);
    }
    assert_int_equal(registry_commit(r, b), STELE_OK);
    registry_batch_destroy(b);
    struct identity_revoked *list;
    size_t n;
    assert_int_equal(registry_list_revoked(r, a, 99, &list, &n), STELE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(registry_list_revoked(r, a, 100, &list, &n), STELE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].serial, 2);
    assert_int_equal(list[1].serial, 3);
    assert_int_equal(registry_list_revoked(r, a, 5000, &list, &n), STELE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].serial, 3);
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
        cmocka_unit_test(oversized_records_refused_old_ones_still_read),
        cmocka_unit_test(revoked_entries_listed_until_they_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
