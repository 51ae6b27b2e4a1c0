/* intake.c — the envelope checks of intake.h. */
#include "intake.h"

#include "auth.h"
#include "envcache.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "pb/pb.h"

#include <string.h>

/* Fills a refusal and returns `rc` (tx_id stays as the caller set it). */
static int refuse(struct intake_verdict *v, Stele__Status status, const char *info, int rc)
{
    v->status = status;
    v->info = info;
    return rc;
}

static Stele__Status status_of_auth(int rc)
{
    return rc == STELE_ERR_NOMEM || rc == STELE_ERR_CRYPTO
               ? STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR
               : STELE__STATUS__STATUS_FORBIDDEN;
}

/* Whether header timestamp `ts` is valid and within `window_ms` of `now_ms` (Unix ms): 0,
 * STELE_ERR_MALFORMED (absent or out of range) or STELE_ERR_EXPIRED (too far). */
/* The checks shared by Broadcast and Deliver once the envelope is decoded. */
static int check_opened(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                        enum orderer_auth_action action, struct envelope_view *view,
                        struct intake_verdict *v, bool checked_before)
{
    const char *why = "";
    int rc = envelope_open(a, env, view, &why);
    if (rc == STELE_ERR_MALFORMED)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST, why, rc);
    if (rc)
        return refuse(v, STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR, stele_strerror(rc), rc);
    const Stele__Header *h = view->header;
    memcpy(v->tx_id, h->tx_id, ENVELOPE_TXID_LEN + 1); /* checked by envelope_open() */
    if (strcmp(h->channel_id, in->channel_id) != 0)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      "header channel_id names a channel this orderer does not serve",
                      STELE_ERR_NOT_FOUND);
    if (action == ORDERER_AUTH_BROADCAST && h->type != STELE__HEADER_TYPE__ENDORSER_TRANSACTION &&
        h->type != STELE__HEADER_TYPE__ADMIN)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      h->type == STELE__HEADER_TYPE__CONFIG
                          ? "CONFIG updates are not supported by this orderer yet"
                          : "header type is not a transaction (ENDORSER_TRANSACTION or ADMIN)",
                      STELE_ERR_INVALID);
    if (action == ORDERER_AUTH_DELIVER && h->type != STELE__HEADER_TYPE__DELIVER_SEEK_INFO)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      "Deliver request header type is not DELIVER_SEEK_INFO", STELE_ERR_INVALID);
    if (action == ORDERER_AUTH_BROADCAST &&
        (rc = envelope_time_check(h->timestamp, in->now_ms ? in->now_ms : clock_wall_ms(),
                                  ENVELOPE_TIME_WINDOW_MS, NULL)))
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      rc == STELE_ERR_MALFORMED
                          ? "transaction header has no valid timestamp"
                          : "transaction timestamp is more than 15 minutes from the orderer's "
                            "clock (check the client's clock; sign transactions when sending)",
                      rc);
    rc = checked_before ? STELE_OK
                        : orderer_auth_check(in->auth, action, h->creator.data, h->creator.len,
                                             env->payload.data, env->payload.len,
                                             env->signature.data, env->signature.len, &why);
    if (rc)
        return refuse(v, status_of_auth(rc), why, rc);
    v->status = STELE__STATUS__STATUS_SUCCESS;
    v->info = "";
    return STELE_OK;
}

/* intake_check_broadcast() that may skip the creator and signature checks of bytes checked
 * before. */
static int check_broadcast(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                           size_t len, struct envelope_view *view, struct intake_verdict *v,
                           bool checked_before)
{
    struct envelope_view local;
    if (!view)
        view = &local;
    memset(view, 0, sizeof *view);
    v->tx_id[0] = 0;
    if (len > in->absolute_max_bytes)
        return refuse(v, STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE,
                      "envelope is larger than the channel's AbsoluteMaxBytes", STELE_ERR_TOO_BIG);
    return check_opened(in, a, env, ORDERER_AUTH_BROADCAST, view, v, checked_before);
}

int intake_check_broadcast(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                           size_t len, struct envelope_view *view, struct intake_verdict *v)
{
    return check_broadcast(in, a, env, len, view, v, false);
}

int intake_check_broadcast_bytes(const struct intake *in, struct arena *a, const uint8_t *data,
                                 size_t len, struct envelope_view *view, struct intake_verdict *v)
{
    v->tx_id[0] = 0;
    if (len > in->absolute_max_bytes)
        return refuse(v, STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE,
                      "envelope is larger than the channel's AbsoluteMaxBytes", STELE_ERR_TOO_BIG);
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, data, len, 0);
    if (!env)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST, "bytes do not decode as stele.Envelope",
                      STELE_ERR_MALFORMED);
    if (crypto_sha256(data, len, v->hash) != STELE_OK)
        return refuse(v, STELE__STATUS__STATUS_INTERNAL_SERVER_ERROR, "cannot hash the envelope",
                      STELE_ERR_CRYPTO);
    uint64_t now = in->checked ? clock_mono_ms() : 0;
    bool cached = in->checked && envcache_seen(in->checked, v->hash, now);
    int rc = check_broadcast(in, a, env, len, view, v, cached);
    if (rc == STELE_OK && in->checked && !cached)
        envcache_put(in->checked, v->hash, now);
    return rc;
}

int intake_check_deliver(const struct intake *in, struct arena *a, const Stele__Envelope *env,
                         uint64_t now_ms, Stele__SeekInfo **seek, const Stele__Header **header,
                         struct intake_verdict *v)
{
    struct envelope_view view;
    v->tx_id[0] = 0;
    int rc = check_opened(in, a, env, ORDERER_AUTH_DELIVER, &view, v, false);
    if (rc)
        return rc;
    rc = envelope_time_check(view.header->timestamp, now_ms, INTAKE_DELIVER_WINDOW_MS, NULL);
    if (rc == STELE_ERR_MALFORMED)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      "Deliver request header has no valid timestamp", rc);
    if (rc)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      "Deliver request timestamp is more than 15 minutes from the orderer's "
                      "clock (check the client's clock, or sign a fresh request)",
                      rc);
    const ProtobufCBinaryData *d = &view.payload->data;
    *seek = (Stele__SeekInfo *)pb_unpack(&stele__seek_info__descriptor, a, d->data, d->len, 0);
    if (!*seek)
        return refuse(v, STELE__STATUS__STATUS_BAD_REQUEST,
                      "payload data does not decode as stele.SeekInfo", STELE_ERR_MALFORMED);
    if (header)
        *header = view.header;
    return STELE_OK;
}
