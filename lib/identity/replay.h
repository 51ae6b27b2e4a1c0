/*
 * replay.h — remembers which signed requests (lib/identity/identity.h, SignedRequest) a
 * server took, so that the same request sent again is refused: a reader's request replayed
 * would otherwise open streams counted against its signer (and let whoever holds the octets
 * read along) for as long as the request's timestamp stays within IDENTITY_REQ_WINDOW_MS.
 *
 * A request is known by its signer's certhash and its nonce. The cache holds a fixed number of
 * them; when it is full the oldest taken gives way, and from then on a request dated at or
 * before the one that gave way is refused as too old (it might be a replay of it), so no
 * replay gets through however many requests arrive: under a flood, only requests whose clocks
 * lag fall back to "sign it again". Thread-safe.
 *
 * The cache lives in memory, so a server that restarts forgets what it took. It is created
 * with a floor instead: requests dated at or before the server's start are refused (sign it
 * again). A request is also refused when it is dated more than REPLAY_MAX_AHEAD_MS ahead of
 * the server's clock, whatever window its kind allows in the past: one taken before a restart
 * is then dated at most that much after it was taken, so it can be taken again after the
 * restart only when the server was back within REPLAY_MAX_AHEAD_MS of taking it. A client
 * whose clock lags the server's by d is refused for the first d after a restart; one whose
 * clock runs more than REPLAY_MAX_AHEAD_MS ahead is always refused.
 */
#ifndef STELE_IDENTITY_REPLAY_H
#define STELE_IDENTITY_REPLAY_H

#include "identity/identity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replay_cache;

/* How far ahead of the server's clock a request may be dated (clocks kept by NTP agree far
 * better; PBFT's orderers must agree within 10 s already). */
#define REPLAY_MAX_AHEAD_MS 5000
#define REPLAY_AHEAD_TEXT                                                                  \
    "this request is dated more than 5000 ms (REPLAY_MAX_AHEAD_MS) ahead of the server's " \
    "clock: check the clocks (NTP)"

/* True when a request dated `ts_ms` is dated too far ahead of `now_ms` to be taken. */
static inline bool replay_too_far_ahead(uint64_t ts_ms, uint64_t now_ms)
{
    return ts_ms > now_ms + REPLAY_MAX_AHEAD_MS;
}

/* A cache of `capacity` requests (at least 16) for requests accepted within `window_ms` of
 * the server's clock either way, refusing from the start those dated at or before `floor_ms`
 * (the server's start, clock_wall_ms(); 0 = none). Returns NULL when out of memory. */
struct replay_cache *replay_cache_create(size_t capacity, uint64_t window_ms, uint64_t floor_ms);
void replay_cache_destroy(struct replay_cache *c);

/* Takes the request `r` (verified: signer, nonce, timestamp) at server time `now_ms`. Returns
 * STELE_OK the first time, STELE_ERR_REPLAY when it was taken before, STELE_ERR_EXPIRED when it
 * is dated at or before what the cache can still tell apart (sign it again) or too far ahead
 * (replay_too_far_ahead(): check the clocks). */
int replay_cache_claim(struct replay_cache *c, const struct signed_request *r, uint64_t now_ms);

/* As replay_cache_claim(), for a request known by `key` (e.g. an envelope's tx_id, which
 * binds its creator and nonce) dated `ts_ms`. */
int replay_cache_claim_key(struct replay_cache *c, const uint8_t key[32], uint64_t ts_ms,
                           uint64_t now_ms);

#endif
