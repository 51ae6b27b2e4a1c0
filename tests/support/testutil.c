/* testutil.c — helpers shared by the cmocka tests. */
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *join(const char *env, const char *fallback, const char *rel)
{
    const char *base = getenv(env);
    if (!base)
        base = fallback;
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *test_source_path(const char *rel)
{
    return join("STELE_SOURCE_DIR", "..", rel);
}

char *test_binary_path(const char *rel)
{
    return join("STELE_BINARY_DIR", ".", rel);
}

char *test_tmpdir(const char *tag)
{
    const char *t = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/stele-%s-XXXXXX", t ? t : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void test_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "testutil: could not remove %s\n", path);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    size_t got = fread(p, 1, (size_t)n, f);
    fclose(f);
    p[got] = 0;
    if (len)
        *len = got;
    return p;
}

int test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

void test_identity_issue(const struct crypto_key *ca, uint64_t ca_id, const char *id,
                         const char *org, const char *role, uint64_t valid_from, uint32_t valid_s,
                         struct test_identity *out)
{
    static atomic_ulong serial = 1000;
    struct crypto_key *k_u = NULL;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN], r[32], h[32];
    struct ecqv_cert f = {.serial = atomic_fetch_add(&serial, 1),
                          .issuer_id = ca_id,
                          .valid_from = valid_from ? valid_from : clock_wall_s() - 60,
                          .valid_duration = valid_s,
                          .key_usage = ECQV_USAGE_SIGN};
    memset(out, 0, sizeof *out);
    assert_int_equal(crypto_sha256(id, strlen(id), h), STELE_OK);
    memcpy(f.subject_id, h, ECQV_SUBJECT_ID_LEN);
    assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
    assert_int_equal(ecqv_generate(ca, r_u, sizeof r_u, &f, out->cert, r), STELE_OK);
    assert_int_equal(ecqv_reception(k_u, out->cert, sizeof out->cert, r, ca, &out->key), STELE_OK);
    crypto_key_destroy(k_u);
    out->record = calloc(1, sizeof *out->record);
    assert_int_equal(
        identity_issue(ca, out->cert, id, org, role, NULL, 0, f.valid_from, out->record), STELE_OK);
}

void test_identity_save(const struct test_identity *t, const struct crypto_key *ca, const char *dir)
{
    char *err = NULL;
    int rc = enrolment_save(dir, t->key, t->cert, t->record->data, t->record->len, ca, &err);
    if (rc != STELE_OK)
        fail_msg("enrolment_save %s: %s", dir, err ? err : "?");
}

void test_identity_free(struct test_identity *t)
{
    crypto_key_destroy(t->key);
    if (t->record)
        buf_release(t->record);
    free(t->record);
    memset(t, 0, sizeof *t);
}
