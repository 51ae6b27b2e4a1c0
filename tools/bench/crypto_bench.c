/*
 * crypto_bench.c — per-operation costs of the identity cryptography, measured in-process on
 * one thread: ECDSA P-256 sign and verify, ECQV public-key extraction (the cost of checking a
 * new identity), ECQV certificate generation (the CA's work per enrolment) and reception
 * (the requester's). Printed beside `openssl speed ecdsap256` when openssl is on the PATH, so
 * a reader can tell our numbers from the machine's.
 */
#include "bench.h"

#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "crypto/key.h"

#include <stdio.h>
#include <string.h>

struct ctx {
    struct crypto_key *ca, *ca_pub, *signer, *k_u;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN];
    uint8_t cert[ECQV_CERT_LEN], r[32], sig[CRYPTO_SIG_LEN], msg[64];
    struct ecqv_cert fields;
};

typedef int (*op_fn)(struct ctx *c);

static int op_sign(struct ctx *c)
{
    return crypto_sign(c->signer, c->msg, sizeof c->msg, c->sig);
}

static int op_verify(struct ctx *c)
{
    return crypto_verify(c->signer, c->msg, sizeof c->msg, c->sig, sizeof c->sig);
}

static int op_extract(struct ctx *c)
{
    struct crypto_key *q = NULL;
    int rc = ecqv_extract(c->cert, sizeof c->cert, c->ca_pub, &q);
    crypto_key_destroy(q);
    return rc;
}

static int op_generate(struct ctx *c)
{
    c->fields.serial++;
    return ecqv_generate(c->ca, c->r_u, sizeof c->r_u, &c->fields, c->cert, c->r);
}

static int op_reception(struct ctx *c)
{
    struct crypto_key *d = NULL;
    int rc = ecqv_reception(c->k_u, c->cert, sizeof c->cert, c->r, c->ca_pub, &d);
    crypto_key_destroy(d);
    return rc;
}

static void measure(const char *name, op_fn fn, struct ctx *c, double secs, struct bench_result *r)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "operations");
    r->clients = 1;
    uint64_t start = clock_mono_ns(), end = start + (uint64_t)(secs * 1e9), now = start;
    while (now < end) {
        uint64_t t0 = now;
        if (fn(c) == STELE_OK)
            r->ops++;
        else
            r->errors++;
        now = clock_mono_ns();
        hist_add(&r->lat, (now - t0) / 1000);
    }
    r->seconds = (double)(now - start) / 1e9;
}

int bench_crypto_ops(double secs, struct bench_result out[5])
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    memset(c.msg, 0x5a, sizeof c.msg);
    uint8_t ca_point[CRYPTO_POINT_COMPRESSED_LEN];
    int rc = crypto_key_generate(&c.ca);
    if (rc == STELE_OK) {
        crypto_key_public_compressed(c.ca, ca_point);
        rc = crypto_key_from_public(ca_point, sizeof ca_point, &c.ca_pub);
    }
    if (rc == STELE_OK)
        rc = crypto_key_generate(&c.signer);
    if (rc == STELE_OK)
        rc = ecqv_request(&c.k_u, c.r_u);
    c.fields.issuer_id = 1;
    c.fields.valid_from = clock_wall_s();
    c.fields.valid_duration = 86400;
    c.fields.key_usage = ECQV_USAGE_SIGN;
    if (rc == STELE_OK)
        rc = op_generate(&c);
    if (rc == STELE_OK)
        rc = op_sign(&c);
    if (rc == STELE_OK) {
        measure("ecdsa_sign", op_sign, &c, secs, &out[0]);
        measure("ecdsa_verify", op_verify, &c, secs, &out[1]);
        measure("ecqv_extract", op_extract, &c, secs, &out[2]);
        measure("ecqv_generate", op_generate, &c, secs, &out[3]);
        measure("ecqv_reception", op_reception, &c, secs, &out[4]);
    }
    crypto_key_destroy(c.ca);
    crypto_key_destroy(c.ca_pub);
    crypto_key_destroy(c.signer);
    crypto_key_destroy(c.k_u);
    return rc == STELE_OK ? 0 : -1;
}

void bench_openssl_speed(char *out, size_t n)
{
    out[0] = 0;
    FILE *p = popen("openssl speed -seconds 2 ecdsap256 2>/dev/null", "r");
    if (!p)
        return;
    char line[256];
    while (fgets(line, sizeof line, p)) {
        double sign_s, verify_s, sign_per, verify_per;
        /* " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  41928.0  15543.2" */
        const char *q = strstr(line, "(nistp256)");
        if (q &&
            sscanf(q + 10, "%lfs %lfs %lf %lf", &sign_s, &verify_s, &sign_per, &verify_per) == 4)
            snprintf(out, n, "openssl speed ecdsap256: %.0f sign/s, %.0f verify/s", sign_per,
                     verify_per);
    }
    pclose(p);
}
