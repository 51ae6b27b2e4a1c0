/* seek.h — the SeekInfo of Deliver and Events requests (proto/stele/orderer.proto): resolving
 * its positions against a chain's height (the orderer and the peer), and building a range and
 * a signed Deliver request for one (every program that pulls blocks). */
#ifndef STELE_LEDGER_SEEK_H
#define STELE_LEDGER_SEEK_H

#include "crypto/key.h"
#include "stele/orderer.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Resolves `p` (untrusted; may be NULL) against a chain of `height` blocks: oldest is 0,
 * newest the last block, specified its number. Returns false when the position is missing or
 * names the newest block of an empty chain. */
bool seek_resolve(const Stele__SeekPosition *p, uint64_t height, uint64_t *out);

/* A SeekInfo for blocks `from` .. `to` (UINT64_MAX: no end), both specified by number, with
 * `behavior`. Everything lives in the struct: no allocation, valid while it is. */
struct seek_range {
    Stele__SeekSpecified from, to;
    Stele__SeekPosition start, stop;
    Stele__SeekInfo info;
};

/* Fills `r` and returns &r->info. */
Stele__SeekInfo *seek_range_init(struct seek_range *r, uint64_t from, uint64_t to,
                                 Stele__SeekInfo__SeekBehavior behavior);

/* The signed Deliver request for blocks from .. to of `channel` (an envelope of type
 * DELIVER_SEEK_INFO around seek_range_init()'s SeekInfo) by `creator` (its identity record),
 * signed with `key`. *out is malloc'd (free out->data). Returns STELE_OK, STELE_ERR_NOMEM or
 * envelope_build()'s error. */
int seek_deliver_request(const char *channel, uint64_t from, uint64_t to,
                         Stele__SeekInfo__SeekBehavior behavior, const uint8_t *creator,
                         size_t creator_len, const struct crypto_key *key,
                         ProtobufCBinaryData *out);

#endif
