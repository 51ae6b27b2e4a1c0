/*
 * fuzz_envelope.c — arbitrary bytes through the orderer's Broadcast checks (orderer/intake.h):
 * Envelope, Payload and Header decoding, tx_id recomputation, channel and type rules, the
 * creator's identity record (lib/identity: CA signature, validity, role) and the signature.
 * The trusted CA key is fixed (scalar 1..32 below) and the seeds' creators are identities it
 * issued with a validity of about a century; the checks run at the seeds' date (now_ms), so
 * seeds reach the signature verification (fuzz_replay_check() makes sure of it). The
 * same bytes then go through the Deliver request checks (SeekInfo). A verdict must always be
 * SUCCESS exactly when the status is OK, with a reason.
 */
#include "base/arena.h"
#include "crypto/key.h"
#include "orderer/auth.h"
#include "orderer/intake.h"
#include "pb/pb.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The seed corpus's CA key: d = 0x0102...20. */
static const uint8_t ca_scalar[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* The checker, built once (its CA key goes through a file, as in a configuration). */
static struct orderer_auth *fixed_auth(void)
{
    static struct orderer_auth *auth;
    static struct orderer_auth_ca cas[1];
    static struct orderer_auth_config ac = {.cas = cas, .n_cas = 1};
    static char path[] = "/tmp/fuzz_envelope_caXXXXXX";
    if (auth)
        return auth;
    struct crypto_key *ca = NULL;
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    int fd = mkstemp(path);
    if (fd < 0 || crypto_key_from_scalar(ca_scalar, &ca) != 0)
        abort();
    crypto_key_public_compressed(ca, pub);
    crypto_key_destroy(ca);
    if (write(fd, pub, sizeof pub) != (ssize_t)sizeof pub)
        abort();
    close(fd);
    cas[0].public_key = path;
    if (orderer_auth_create(&ac, &auth, NULL) != 0)
        abort();
    unlink(path);
    return auth;
}

static unsigned broadcasts_accepted; /* inputs that passed every Broadcast check */

/* The replay fails unless a seed gets through the creator and signature checks of Broadcast. */
int fuzz_replay_check(void);
int fuzz_replay_check(void)
{
    return broadcasts_accepted == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_create(0);
    if (!a)
        abort();
    /* The seeds are dated 1790000000000 (Unix ms): with the wall clock, every Broadcast would
     * be refused as more than 15 minutes old before its creator and signature are checked. */
    struct intake in = {.channel_id = "ch1",
                        .absolute_max_bytes = 1u << 20,
                        .auth = fixed_auth(),
                        .now_ms = 1790000000000ull};
    struct intake_verdict v;
    struct envelope_view view;
    int rc = intake_check_broadcast_bytes(&in, a, data, size, &view, &v);
    if ((rc == 0) != (v.status == STELE__STATUS__STATUS_SUCCESS) || !v.info)
        abort();
    if (rc == 0 && (!view.header || view.header->tx_id[64] != 0))
        abort();
    broadcasts_accepted += rc == 0;
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, data, size, 1u << 20);
    Stele__SeekInfo *seek = NULL;
    if (env) {
        rc = intake_check_deliver(&in, a, env, in.now_ms, &seek, NULL, &v);
        if ((rc == 0) != (v.status == STELE__STATUS__STATUS_SUCCESS) || (rc == 0 && !seek))
            abort();
    }
    arena_destroy(a);
    return 0;
}
