/*
 * fuzz_envelope.c — arbitrary bytes through the orderer's Broadcast checks (orderer/intake.h):
 * Envelope, Payload and Header decoding, tx_id recomputation, channel and type rules, and the
 * trust-list membership and signature check. The one trusted member's key is fixed (scalar 1..32
 * below), so seeds signed with it reach the signature verification. A verdict must always be
 * one of the documented statuses with a reason.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "crypto/key.h"
#include "orderer/auth.h"
#include "orderer/intake.h"

#include <stdint.h>
#include <stdlib.h>

/* The seed corpus's member key: d = 0x0102...20. */
static const uint8_t member_scalar[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                          23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct crypto_key *k = NULL;
    struct orderer_auth *auth = NULL;
    struct arena *a = arena_create(0);
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    char hex[2 * CRYPTO_POINT_COMPRESSED_LEN + 1];
    if (!a || crypto_key_from_scalar(member_scalar, &k) != 0)
        abort();
    crypto_key_public_compressed(k, pub);
    hex_encode(pub, sizeof pub, hex);
    char *keys[1] = {hex};
    struct orderer_auth_config ac = {.trusted_keys = keys, .n_trusted_keys = 1};
    if (orderer_auth_create(&ac, &auth, NULL) != 0)
        abort();
    struct intake in = {.channel_id = "ch1", .absolute_max_bytes = 1u << 20, .auth = auth};
    struct intake_verdict v;
    struct envelope_view view;
    int rc = intake_check_broadcast_bytes(&in, a, data, size, &view, &v);
    if ((rc == 0) != (v.status == STELE__STATUS__STATUS_SUCCESS) || !v.info)
        abort();
    if (rc == 0 && (!view.header || view.header->tx_id[64] != 0))
        abort();
    orderer_auth_destroy(auth);
    crypto_key_destroy(k);
    arena_destroy(a);
    return 0;
}
