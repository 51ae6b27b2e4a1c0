/* key.c — P-256 key objects over EVP_PKEY, with SEC 1, scalar and PKCS#8 PEM import/export. */
#include "crypto/key_int.h"

#include "base/status.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEM_MAX_LEN (64 * 1024) /* a P-256 key PEM is ~250 octets; refuse anything huge */

static pthread_once_t group_once = PTHREAD_ONCE_INIT;
static EC_GROUP *group_p256;
/* A parameters-only P-256 EVP_PKEY. Public keys are made by duplicating it and setting the
 * point, which skips rebuilding the curve (EVP_PKEY_fromdata costs ~35 µs, this ~9 µs). */
static EVP_PKEY *params_p256;

static void group_create(void)
{
    OSSL_PARAM params[2];
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    group_p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &params_p256, EVP_PKEY_KEY_PARAMETERS, params) <= 0)
        params_p256 = NULL;
    EVP_PKEY_CTX_free(pctx);
}

const EC_GROUP *p256_group(void)
{
    pthread_once(&group_once, group_create);
    return group_p256;
}

/* Returns a public-only EVP_PKEY for the uncompressed point `pub`, or NULL. */
static EVP_PKEY *pkey_public(const uint8_t pub[CRYPTO_POINT_LEN])
{
    EVP_PKEY *pkey;

    pthread_once(&group_once, group_create);
    if (!params_p256 || !(pkey = EVP_PKEY_dup(params_p256)))
        return NULL;
    if (EVP_PKEY_set1_encoded_public_key(pkey, pub, CRYPTO_POINT_LEN) != 1) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* Returns an EVP_PKEY key pair for the secret `d` and its point `pub`, or NULL. The param
 * builder places a BN_FLG_SECURE bignum in secure memory that is cleared when freed. */
static EVP_PKEY *pkey_keypair(const uint8_t pub[CRYPTO_POINT_LEN], const BIGNUM *d)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *dsec = BN_secure_new();

    if (!bld || !dsec || !BN_copy(dsec, d) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, CRYPTO_POINT_LEN) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, dsec))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
        pkey = NULL;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(dsec);
    return pkey;
}

/* Wraps the uncompressed point `pub` and the optional secret `d` into a new key object. */
static int key_wrap(const uint8_t pub[CRYPTO_POINT_LEN], const BIGNUM *d, struct crypto_key **out)
{
    EVP_PKEY *pkey = d ? pkey_keypair(pub, d) : pkey_public(pub);
    struct crypto_key *k;

    if (!pkey)
        return STELE_ERR_CRYPTO;
    k = calloc(1, sizeof *k);
    if (k && !(k->vpool = calloc(1, sizeof *k->vpool))) {
        free(k);
        k = NULL;
    }
    if (!k) {
        EVP_PKEY_free(pkey);
        return STELE_ERR_NOMEM;
    }
    pthread_mutex_init(&k->vpool->mu, NULL);
    k->pkey = pkey;
    atomic_init(&k->refs, 1);
    k->has_private = d != NULL;
    memcpy(k->pub, pub, CRYPTO_POINT_LEN);
    *out = k;
    return STELE_OK;
}

int key_from_point(const EC_POINT *p, BN_CTX *ctx, struct crypto_key **out)
{
    uint8_t pub[CRYPTO_POINT_LEN];
    if (EC_POINT_is_at_infinity(p256_group(), p))
        return STELE_ERR_CRYPTO;
    if (EC_POINT_point2oct(p256_group(), p, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub, ctx) !=
        sizeof pub)
        return STELE_ERR_CRYPTO;
    return key_wrap(pub, NULL, out);
}

int key_from_bn(const BIGNUM *d, BN_CTX *ctx, struct crypto_key **out)
{
    const EC_GROUP *g = p256_group();
    uint8_t pub[CRYPTO_POINT_LEN];
    EC_POINT *q = NULL;
    int rc = STELE_ERR_CRYPTO;

    if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
        return STELE_ERR_INVALID;
    q = EC_POINT_new(g);
    /* Single-scalar k·G: OpenSSL takes its constant-time path for this form. */
    if (!q || !EC_POINT_mul(g, q, d, NULL, NULL, ctx))
        goto out;
    if (EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub, ctx) != sizeof pub)
        goto out;
    rc = key_wrap(pub, d, out);
out:
    EC_POINT_free(q);
    return rc;
}

int key_point(const struct crypto_key *k, EC_POINT *out, BN_CTX *ctx)
{
    return EC_POINT_oct2point(p256_group(), out, k->pub, sizeof k->pub, ctx) ? STELE_OK
                                                                             : STELE_ERR_CRYPTO;
}

BIGNUM *key_scalar_bn(const struct crypto_key *k)
{
    BIGNUM *d = NULL;
    if (!k->has_private)
        return NULL;
    d = BN_secure_new();
    if (!d)
        return NULL;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d)) {
        BN_clear_free(d);
        return NULL;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    return d;
}

int crypto_key_generate(struct crypto_key **out)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *d = BN_secure_new();
    int rc = STELE_ERR_NOMEM;

    if (!ctx || !d)
        goto out;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    rc = STELE_ERR_CRYPTO;
    /* Uniform in [1, n-1]: BN_priv_rand_range gives [0, n-1]; zero is redrawn. */
    do {
        if (!BN_priv_rand_range_ex(d, EC_GROUP_get0_order(p256_group()), 0, ctx))
            goto out;
    } while (BN_is_zero(d));
    rc = key_from_bn(d, ctx, out);
out:
    BN_clear_free(d);
    BN_CTX_free(ctx);
    return rc;
}

int crypto_failure_or(int verdict)
{
    unsigned long e;
    bool any = false, oom = false;
    while ((e = ERR_get_error()) != 0) {
        any = true;
        oom |= ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE;
    }
    return !any || oom ? STELE_ERR_NOMEM : verdict;
}

int point_decode(const uint8_t *buf, size_t len, EC_POINT *out, BN_CTX *ctx)
{
    const EC_GROUP *g = p256_group();
    /* Only the two SEC 1 forms we promise; this also refuses the 1-octet infinity encoding and
     * the hybrid 06/07 forms that oct2point would take. */
    if (!(len == CRYPTO_POINT_COMPRESSED_LEN && (buf[0] == 0x02 || buf[0] == 0x03)) &&
        !(len == CRYPTO_POINT_LEN && buf[0] == 0x04))
        return STELE_ERR_MALFORMED;
    /* oct2point rejects points off the curve and coordinates >= p, and says so on the error
     * queue; it also fails when OpenSSL cannot allocate, which is no verdict on the point. */
    ERR_clear_error();
    if (!EC_POINT_oct2point(g, out, buf, len, ctx))
        return crypto_failure_or(STELE_ERR_MALFORMED);
    return EC_POINT_is_at_infinity(g, out) ? STELE_ERR_MALFORMED : STELE_OK;
}

int crypto_key_from_public(const uint8_t *buf, size_t len, struct crypto_key **out)
{
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *p = EC_POINT_new(p256_group());
    int rc = STELE_ERR_NOMEM;

    if (!ctx || !p)
        goto out;
    rc = point_decode(buf, len, p, ctx);
    if (rc == STELE_OK)
        rc = key_from_point(p, ctx, out);
out:
    EC_POINT_free(p);
    BN_CTX_free(ctx);
    return rc;
}

int crypto_key_from_scalar(const uint8_t d[CRYPTO_SCALAR_LEN], struct crypto_key **out)
{
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *bn = BN_secure_new();
    int rc = STELE_ERR_NOMEM;

    if (!ctx || !bn)
        goto out;
    BN_set_flags(bn, BN_FLG_CONSTTIME);
    rc = STELE_ERR_CRYPTO;
    if (!BN_bin2bn(d, CRYPTO_SCALAR_LEN, bn))
        goto out;
    rc = key_from_bn(bn, ctx, out);
out:
    BN_clear_free(bn);
    BN_CTX_free(ctx);
    return rc;
}

/* Refuses to prompt for a passphrase: encrypted PEM simply fails to load. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

int crypto_key_from_pem(const char *pem, size_t len, struct crypto_key **out)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *d = NULL;
    BN_CTX *ctx = NULL;
    char group[32];
    int rc = STELE_ERR_MALFORMED;

    if (len == 0 || len > PEM_MAX_LEN)
        return STELE_ERR_MALFORMED;
    bio = BIO_new_mem_buf(pem, (int)len);
    ctx = BN_CTX_secure_new();
    if (!bio || !ctx) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
    if (!pkey || !EVP_PKEY_is_a(pkey, "EC") ||
        !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        NULL) ||
        strcmp(group, "prime256v1") != 0)
        goto out;
    d = BN_secure_new();
    if (!d || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d))
        goto out;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    /* Rebuild from the scalar so the public point is always d·G, whatever the file claimed. */
    rc = key_from_bn(d, ctx, out);
    if (rc == STELE_ERR_INVALID)
        rc = STELE_ERR_MALFORMED;
out:
    if (rc != STELE_OK)
        ERR_clear_error(); /* do not leave a decoder's complaints on this thread's queue */
    BN_clear_free(d);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    BN_CTX_free(ctx);
    return rc;
}

int crypto_key_load_pem(const char *path, struct crypto_key **out)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    FILE *f = fopen(path, "rb");

    if (!f)
        return errno == ENOENT ? STELE_ERR_NOT_FOUND : STELE_ERR_IO;
    text = malloc(PEM_MAX_LEN + 1);
    if (!text) {
        fclose(f);
        return STELE_ERR_NOMEM;
    }
    len = fread(text, 1, PEM_MAX_LEN + 1, f);
    rc = ferror(f) ? STELE_ERR_IO : crypto_key_from_pem(text, len, out);
    fclose(f);
    OPENSSL_cleanse(text, PEM_MAX_LEN + 1);
    free(text);
    return rc;
}

int crypto_key_to_pem(const struct crypto_key *k, struct buf *out)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    int rc = STELE_ERR_CRYPTO;

    if (!k->has_private)
        return STELE_ERR_INVALID;
    /* A secure-memory BIO clears its contents when freed. */
    bio = BIO_new(BIO_s_secmem());
    if (!bio)
        return STELE_ERR_NOMEM;
    if (!PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL))
        goto out;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        goto out;
    rc = buf_append(out, data, (size_t)n);
out:
    BIO_free(bio);
    return rc;
}

int crypto_key_write_pem(const struct crypto_key *k, int fd)
{
    struct buf pem;
    buf_init(&pem);
    int rc = crypto_key_to_pem(k, &pem);
    for (size_t off = 0; rc == STELE_OK && off < pem.len;) {
        ssize_t w = write(fd, pem.data + off, pem.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = STELE_ERR_IO;
        else
            off += (size_t)w;
    }
    if (rc == STELE_OK && fsync(fd) != 0)
        rc = STELE_ERR_IO;
    buf_release_secure(&pem);
    return rc;
}

int crypto_key_save_pem(const struct crypto_key *k, const char *path)
{
    if (!crypto_key_has_private(k))
        return STELE_ERR_INVALID;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd >= 0 && fchmod(fd, 0600) == 0 ? crypto_key_write_pem(k, fd) : STELE_ERR_IO;
    if (fd >= 0 && close(fd) != 0 && rc == STELE_OK)
        rc = STELE_ERR_IO;
    return rc;
}

struct crypto_key *crypto_key_ref(struct crypto_key *k)
{
    atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    return k;
}

void crypto_key_destroy(struct crypto_key *k)
{
    if (!k)
        return;
    if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < k->vpool->n; i++)
        EVP_PKEY_CTX_free(k->vpool->ctx[i]);
    for (int i = 0; i < k->vpool->ns; i++)
        EVP_PKEY_CTX_free(k->vpool->sctx[i]);
    pthread_mutex_destroy(&k->vpool->mu);
    free(k->vpool);
    /* EVP_PKEY_free clears the private scalar held by the provider. */
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

bool crypto_key_has_private(const struct crypto_key *k)
{
    return k->has_private;
}

void crypto_key_public_compressed(const struct crypto_key *k,
                                  uint8_t out[CRYPTO_POINT_COMPRESSED_LEN])
{
    out[0] = (uint8_t)(0x02 | (k->pub[64] & 1));
    memcpy(out + 1, k->pub + 1, 32);
}

void crypto_key_public_uncompressed(const struct crypto_key *k, uint8_t out[CRYPTO_POINT_LEN])
{
    memcpy(out, k->pub, CRYPTO_POINT_LEN);
}

bool crypto_key_public_equal(const struct crypto_key *a, const struct crypto_key *b)
{
    return memcmp(a->pub, b->pub, CRYPTO_POINT_LEN) == 0;
}

int crypto_key_scalar(const struct crypto_key *k, uint8_t out[CRYPTO_SCALAR_LEN])
{
    BIGNUM *d;
    int rc;

    if (!k->has_private)
        return STELE_ERR_INVALID;
    d = key_scalar_bn(k);
    if (!d)
        return STELE_ERR_CRYPTO;
    rc = BN_bn2binpad(d, out, CRYPTO_SCALAR_LEN) == CRYPTO_SCALAR_LEN ? STELE_OK : STELE_ERR_CRYPTO;
    BN_clear_free(d);
    return rc;
}
