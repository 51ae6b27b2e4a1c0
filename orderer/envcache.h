/*
 * envcache.h — envelopes this orderer has already checked, by the SHA-256 of their bytes.
 *
 * Under pbft an envelope reaches an orderer twice: from the client (Broadcast) and inside the
 * primary's proposal, in either order. Both paths run the same checks (intake.h), whose cost
 * is the signature verification; the second arrival of the very same bytes finds them here and
 * skips it. Only successful checks are recorded, and an entry is trusted for
 * ENVCACHE_TTL_MS: identical bytes always verify the same way, and the creator's membership,
 * which could change, is re-judged after that. Fixed size: the oldest entries are overwritten.
 * Thread-safe.
 */
#ifndef STELE_ORDERER_ENVCACHE_H
#define STELE_ORDERER_ENVCACHE_H

#include <stdbool.h>
#include <stdint.h>

#define ENVCACHE_TTL_MS 60000

struct envcache;

/* A cache of 2^bits entries (bits in 10..24). NULL on OOM. */
struct envcache *envcache_create(unsigned bits);
void envcache_destroy(struct envcache *c);

/* True when `hash` was recorded less than ENVCACHE_TTL_MS before `now_ms`. */
bool envcache_seen(struct envcache *c, const uint8_t hash[32], uint64_t now_ms);

/* Records `hash` as checked at `now_ms`. */
void envcache_put(struct envcache *c, const uint8_t hash[32], uint64_t now_ms);

#endif
