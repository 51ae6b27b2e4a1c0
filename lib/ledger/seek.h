/* seek.h — resolving the SeekInfo positions of Deliver and Events requests
 * (proto/stele/orderer.proto) against a chain's height; shared by the orderer and the peer. */
#ifndef STELE_LEDGER_SEEK_H
#define STELE_LEDGER_SEEK_H

#include "stele/orderer.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

/* Resolves `p` (untrusted; may be NULL) against a chain of `height` blocks: oldest is 0,
 * newest the last block, specified its number. Returns false when the position is missing or
 * names the newest block of an empty chain. */
bool seek_resolve(const Stele__SeekPosition *p, uint64_t height, uint64_t *out);

#endif
