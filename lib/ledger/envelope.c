/* envelope.c — opening and building signed envelopes (see envelope.h). */
#include "ledger/envelope.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

/* Returns STELE_ERR_MALFORMED after setting *why. */
static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return STELE_ERR_MALFORMED;
}

int envelope_time_check(const Stele__Timestamp *ts, uint64_t now_ms, uint64_t window_ms,
                        uint64_t *at_ms)
{
    if (!ts || ts->seconds < 0 || ts->seconds > (int64_t)(UINT64_MAX / 2000) || ts->nanos < 0 ||
        ts->nanos >= 1000000000)
        return STELE_ERR_MALFORMED;
    uint64_t at = (uint64_t)ts->seconds * 1000 + (uint64_t)ts->nanos / 1000000;
    if (at_ms)
        *at_ms = at;
    return (at > now_ms ? at - now_ms : now_ms - at) > window_ms ? STELE_ERR_EXPIRED : STELE_OK;
}

int envelope_tx_id(const uint8_t *nonce, size_t nonce_len, const uint8_t *creator,
                   size_t creator_len, char out[ENVELOPE_TXID_LEN + 1])
{
    struct crypto_sha256 *h = crypto_sha256_create();
    uint8_t d[CRYPTO_SHA256_LEN];
    int rc = STELE_ERR_CRYPTO;
    if (!h)
        return STELE_ERR_NOMEM;
    if (crypto_sha256_update(h, nonce, nonce_len) ||
        crypto_sha256_update(h, creator, creator_len) || crypto_sha256_final(h, d))
        goto out;
    hex_encode(d, sizeof d, out);
    rc = STELE_OK;
out:
    crypto_sha256_destroy(h);
    return rc;
}

int envelope_open(struct arena *a, const Stele__Envelope *env, struct envelope_view *out,
                  const char **why)
{
    memset(out, 0, sizeof *out);
    if (env->payload.len == 0)
        return refuse(why, "envelope has no payload");
    if (env->signature.len != CRYPTO_SIG_LEN)
        return refuse(why, "envelope signature is not 64 octets (r || s)");
    Stele__Payload *p = (Stele__Payload *)pb_unpack(&stele__payload__descriptor, a,
                                                    env->payload.data, env->payload.len, 0);
    if (!p)
        return refuse(why, "payload does not decode as stele.Payload");
    const Stele__Header *h = p->header;
    if (!h)
        return refuse(why, "payload has no header");
    if (h->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION &&
        h->type != STELE__HEADER_TYPE__CONFIG && h->type != STELE__HEADER_TYPE__ADMIN &&
        h->type != STELE__HEADER_TYPE__DELIVER_SEEK_INFO)
        return refuse(why, "header type is missing or unknown");
    if (!h->channel_id || !h->channel_id[0])
        return refuse(why, "header has no channel_id");
    if (h->creator.len == 0)
        return refuse(why, "header has no creator");
    if (h->nonce.len < ENVELOPE_MIN_NONCE || h->nonce.len > ENVELOPE_MAX_NONCE)
        return refuse(why, "header nonce is not 16 to 64 octets");
    if (!h->tx_id || strlen(h->tx_id) != ENVELOPE_TXID_LEN)
        return refuse(why, "header tx_id is not 64 hex digits");
    char expect[ENVELOPE_TXID_LEN + 1];
    int rc = envelope_tx_id(h->nonce.data, h->nonce.len, h->creator.data, h->creator.len, expect);
    if (rc)
        return rc;
    if (memcmp(expect, h->tx_id, ENVELOPE_TXID_LEN) != 0)
        return refuse(why, "header tx_id is not hex(SHA-256(nonce || creator))");
    out->envelope = env;
    out->payload = p;
    out->header = h;
    return STELE_OK;
}

int envelope_parse(struct arena *a, const uint8_t *data, size_t len, size_t max_len,
                   struct envelope_view *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (max_len && len > max_len) {
        if (why)
            *why = "envelope is larger than allowed";
        return STELE_ERR_TOO_BIG;
    }
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, data, len, 0);
    if (!env)
        return refuse(why, "bytes do not decode as stele.Envelope");
    return envelope_open(a, env, out, why);
}

int envelope_build(const struct envelope_params *p, const struct crypto_key *signer,
                   ProtobufCBinaryData *out, char tx_id[ENVELOPE_TXID_LEN + 1])
{
    uint8_t nonce[24], sig[CRYPTO_SIG_LEN];
    char id[ENVELOPE_TXID_LEN + 1];
    uint8_t *pbytes = NULL;
    size_t plen;
    int rc;

    memset(out, 0, sizeof *out);
    if (!p->channel_id || !p->creator || p->creator_len == 0 ||
        p->type == STELE__HEADER_TYPE__HEADER_TYPE_UNSPECIFIED || (!p->data && p->data_len))
        return STELE_ERR_INVALID;
    const uint8_t *n = p->nonce;
    size_t nlen = p->nonce_len;
    if (!n) {
        if ((rc = crypto_random(nonce, sizeof nonce)))
            return rc;
        n = nonce;
        nlen = sizeof nonce;
    }
    if ((rc = envelope_tx_id(n, nlen, p->creator, p->creator_len, id)))
        return rc;

    uint64_t ts = p->timestamp_ms ? p->timestamp_ms : clock_wall_ms();
    Stele__Timestamp t = STELE__TIMESTAMP__INIT;
    t.seconds = (int64_t)(ts / 1000);
    t.nanos = (int32_t)(ts % 1000) * 1000000;
    Stele__Header h = STELE__HEADER__INIT;
    h.channel_id = (char *)p->channel_id;
    h.tx_id = id;
    h.type = p->type;
    h.creator = (ProtobufCBinaryData){p->creator_len, (uint8_t *)p->creator};
    h.timestamp = &t;
    h.nonce = (ProtobufCBinaryData){nlen, (uint8_t *)n};
    Stele__Payload pl = STELE__PAYLOAD__INIT;
    pl.header = &h;
    pl.data = (ProtobufCBinaryData){p->data_len, (uint8_t *)p->data};
    if (!(pbytes = pb_pack(&pl.base, &plen)))
        return STELE_ERR_NOMEM;
    if ((rc = crypto_sign(signer, pbytes, plen, sig)))
        goto out;
    Stele__Envelope e = STELE__ENVELOPE__INIT;
    e.payload = (ProtobufCBinaryData){plen, pbytes};
    e.signature = (ProtobufCBinaryData){sizeof sig, sig};
    if (!(out->data = pb_pack(&e.base, &out->len))) {
        rc = STELE_ERR_NOMEM;
        goto out;
    }
    if (tx_id)
        memcpy(tx_id, id, sizeof id);
    rc = STELE_OK;
out:
    free(pbytes);
    return rc;
}
