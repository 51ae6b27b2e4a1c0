/*
 * fuzz_identity.c — lib/identity's decoders on arbitrary bytes: the input is tried as an
 * Identity record (decode and verify against a fixed MSP), as a CRL (msp_set_crl) and as the
 * parts of a SignedRequest (request bytes with a zero signature). None may crash, leak or
 * accept what it should not: nothing here is signed by the MSP's CA, so verification and CRL
 * installation must always fail.
 */
#include "base/arena.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/identity.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An MSP trusting one fixed CA public key (the CAMP vectors' Q_CA, whose private key nobody
 * here has). Built once; reachable until exit. */
static struct msp *fixed_msp(void)
{
    static struct msp *m;
    static const uint8_t q[33] = {0x02, 0x3b, 0xb8, 0xff, 0xd1, 0x9b, 0x25, 0xee, 0x1b, 0xb9, 0x39,
                                  0xcd, 0x49, 0x35, 0xfb, 0xfa, 0x8f, 0xba, 0xad, 0xba, 0x64, 0x84,
                                  0x33, 0x38, 0xa9, 0x55, 0x95, 0xa7, 0x0e, 0xd7, 0x47, 0x9b, 0x70};
    if (!m) {
        struct crypto_key *ca = NULL;
        if (crypto_key_from_public(q, sizeof q, &ca) != STELE_OK || !(m = msp_create(16)) ||
            msp_add_ca(m, NULL, 0, ca) != STELE_OK)
            abort();
        crypto_key_destroy(ca);
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_create(0);
    struct identity id;
    struct signed_request sr;
    char *err = NULL;
    uint8_t sig[64] = {0};

    if (identity_decode(a, data, size, &id, &err) == STELE_OK) {
        /* A decoded record names its fields; they must be NUL-terminated strings. */
        if (strlen(id.id) == 0 || (id.n_attrs && !id.attrs))
            abort();
        (void)identity_has_role(&id, "admin");
        (void)identity_attr(&id, "table");
    }
    free(err);
    err = NULL;
    if (identity_verify(fixed_msp(), a, data, size, 1800000000u, &id, &err) == STELE_OK)
        abort();
    free(err);
    err = NULL;
    if (msp_set_crl(fixed_msp(), data, size, &err) == STELE_OK)
        abort();
    free(err);
    err = NULL;
    if (signed_request_verify(fixed_msp(), a, data, size, sig, sizeof sig, "/stele.CA/Revoke",
                              1800000000000ull, 0, &sr, &err) == STELE_OK)
        abort();
    free(err);
    arena_destroy(a);
    return 0;
}
