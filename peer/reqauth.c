/*
 * reqauth.c — who may query a peer: any identity of one of the channel's organisations, with
 * a SignedRequest for the very method called (proto/stele/peer.proto), taken once: the same
 * request sent again is refused (identity/replay.h). Reads change nothing, but a replayed
 * Events request would open streams counted against its signer, shutting it out, and let
 * whoever holds the octets read along.
 */
#include "peer_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "identity/identity.h"
#include "identity/replay.h"
#include "stele/identity.pb-c.h"

#include <stdlib.h>

enum rpc_code peer_request_verify(struct peer *p, struct rpc_call *call,
                                  const ProtobufCMessage *req, struct signed_request *outp)
{
    const Stele__SignedRequest *sr = (const Stele__SignedRequest *)req;
    const char *method = rpc_call_method(call);
    struct signed_request out = {0};
    char *err = NULL;
    int rc = signed_request_verify(p->msp, rpc_call_arena(call), sr->request.data, sr->request.len,
                                   sr->signature.data, sr->signature.len, method, clock_wall_ms(),
                                   0, &out, &err);
    uint64_t now = clock_wall_ms();
    if (rc == STELE_OK && replay_too_far_ahead(out.timestamp_ms, now))
        rc = stele_errf(&err, STELE_ERR_EXPIRED,
                        "this signed request is dated %llu ms ahead of the peer's clock; at most "
                        "%d ms is accepted: check the clocks (NTP)",
                        (unsigned long long)(out.timestamp_ms - now), REPLAY_MAX_AHEAD_MS);
    else if (rc == STELE_OK && (rc = replay_cache_claim(p->replays, &out, now)) != STELE_OK)
        stele_errf(&err, rc, "%s",
                   rc == STELE_ERR_REPLAY
                       ? "this signed request was taken before (a replay): sign a new one"
                   : rc == STELE_ERR_EXPIRED ? "this signed request is older than the peer can "
                                               "tell from a replay now: sign it again"
                                             : stele_strerror(rc));
    if (rc != STELE_OK) {
        enum rpc_code code = rpc_code_from_status(rc);
        log_info("peer", "%s refused: %s", method, err ? err : stele_strerror(rc));
        rpc_call_error(call, code, "%s", err ? err : stele_strerror(rc));
        free(err);
        return code;
    }
    log_debug("peer", "%s by %s of %s", method, out.signer.id, out.signer.org);
    *outp = out;
    return RPC_OK;
}
