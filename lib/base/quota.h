/*
 * quota.h — how much of a shared resource each caller holds. A peer's Events streams and commit
 * waits, and an orderer's Deliver streams, can be opened by any member identity, and each holds
 * a thread or a worker while it lasts; a quota caps them in total and per caller, so that one
 * identity cannot take what every client shares. Callers are told apart by a 32-octet key: the
 * SHA-256 of their certificate or of their identity record.
 */
#ifndef STELE_BASE_QUOTA_H
#define STELE_BASE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct quota;

/* Creates a quota of `total` units, at most `per_caller` of them held by one caller (both > 0,
 * per_caller <= total). NULL on OOM or bad arguments. Free with quota_destroy(). */
struct quota *quota_create(unsigned total, unsigned per_caller);
/* Frees the quota. Accepts NULL. Units still held are forgotten. */
void quota_destroy(struct quota *q);

/* Takes one unit for the caller whose key is `who`. Returns STELE_OK, or
 * STELE_ERR_LIMIT when every unit is held (*mine = false) or the caller already holds
 * per_caller of them (*mine = true); `mine` may be NULL. Thread-safe. */
int quota_take(struct quota *q, const uint8_t who[32], bool *mine);
/* Gives back one unit quota_take() took for `who`. Thread-safe. */
void quota_give(struct quota *q, const uint8_t who[32]);

/* Units held in all (`who` NULL) or by `who` (for tests and logs). Thread-safe. */
unsigned quota_held(struct quota *q, const uint8_t *who);

#endif
