/*
 * fuzz_certu.c — STELE-ECQV-v1 CertU and SEC 1 point decoders on arbitrary bytes.
 *
 * Decodes the input as a CertU (and, when that succeeds, checks that re-encoding gives the same
 * bytes and that extraction either works or fails cleanly), as a SEC 1 public key (and checks
 * the compressed/uncompressed exports re-import to the same key), and runs the raw extraction
 * with the input's tail as P_U.
 */
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed CA public key: the CAMP vectors' Q_CA. Built once; reachable until exit. */
static struct crypto_key *ca_pub(void)
{
    static struct crypto_key *ca;
    static const uint8_t q[33] = {0x02, 0x3b, 0xb8, 0xff, 0xd1, 0x9b, 0x25, 0xee, 0x1b, 0xb9, 0x39,
                                  0xcd, 0x49, 0x35, 0xfb, 0xfa, 0x8f, 0xba, 0xad, 0xba, 0x64, 0x84,
                                  0x33, 0x38, 0xa9, 0x55, 0x95, 0xa7, 0x0e, 0xd7, 0x47, 0x9b, 0x70};
    if (!ca && crypto_key_from_public(q, sizeof q, &ca) != STELE_OK)
        abort();
    return ca;
}

static void check_point(const uint8_t *data, size_t size)
{
    struct crypto_key *k = NULL, *k2 = NULL;
    uint8_t c[CRYPTO_POINT_COMPRESSED_LEN], u[CRYPTO_POINT_LEN];

    if (crypto_key_from_public(data, size, &k) != STELE_OK)
        return;
    crypto_key_public_compressed(k, c);
    crypto_key_public_uncompressed(k, u);
    if (crypto_key_from_public(c, sizeof c, &k2) != STELE_OK || !crypto_key_public_equal(k, k2))
        abort();
    crypto_key_destroy(k2);
    if (crypto_key_from_public(u, sizeof u, &k2) != STELE_OK || !crypto_key_public_equal(k, k2))
        abort();
    crypto_key_destroy(k2);
    crypto_key_destroy(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ecqv_cert c;
    struct crypto_key *q = NULL;
    uint8_t again[ECQV_CERT_LEN];

    if (ecqv_cert_decode(data, size, &c) == STELE_OK) {
        if (ecqv_cert_encode(&c, again) != STELE_OK || memcmp(again, data, size) != 0)
            abort();
        int rc = ecqv_extract(data, size, ca_pub(), &q);
        if (rc != STELE_OK && rc != STELE_ERR_CRYPTO)
            abort(); /* a decodable CertU must not be refused as malformed */
        crypto_key_destroy(q);
        q = NULL;
    } else if (ecqv_extract(data, size, ca_pub(), &q) == STELE_OK) {
        abort(); /* extraction must not accept what decode refuses */
    }
    check_point(data, size);
    if (size >= CRYPTO_POINT_COMPRESSED_LEN &&
        ecqv_extract_raw(data, size, data + size - CRYPTO_POINT_COMPRESSED_LEN,
                         CRYPTO_POINT_COMPRESSED_LEN, ca_pub(), &q) == STELE_OK)
        crypto_key_destroy(q);
    return 0;
}
