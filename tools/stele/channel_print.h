/*
 * channel_print.h — a channel configuration (block 0, ledger/genesis.h) for people and
 * scripts: `stele block get 0` and `stele chain config` print it.
 *
 * Besides what the configuration says, it judges who signed block 0's CONFIG envelope against
 * the configuration's own organisations: the creator must be an identity issued by the CA of
 * the organisation it names, and its signature must cover the payload. A network trusts its
 * genesis block by configuration, so this says who wrote it, not that anyone agreed.
 */
#ifndef STELE_TOOLS_CHANNEL_PRINT_H
#define STELE_TOOLS_CHANNEL_PRINT_H

#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"

#include <stdint.h>
#include <stdio.h>

struct arena;
struct json;

/* What a genesis block says: its configuration (NULL when it is not a valid genesis block)
 * and the verdict on its signer. Strings live in the arena given to channel_view_read(). */
struct channel_view {
    const Stele__ChannelConfig *cfg; /* the configuration, or NULL */
    const char *error;               /* why block 0 is not a valid genesis block, or NULL */
    const char *signer_id;           /* the CONFIG envelope creator's id, or NULL */
    const char *signer_org;          /* its organisation, or NULL */
    const char *signer;              /* "verified", or why not */
};

/* Reads block 0 (`b`, untrusted) with genesis_read() into `v`; everything goes to `a`. */
void channel_view_read(struct arena *a, const Stele__Block *b, struct channel_view *v);

/* Writes the view as the value of the current JSON key or array slot: an object with
 * (block_hash, when `block_hash` is not NULL) channel_id, sequence, consensus (type, pbft),
 * batch, organisations, orderers, chaincodes, lifecycle_policy and signed_by; or
 * {"error": ...}. */
void channel_view_json(struct json *j, const struct channel_view *v, const uint8_t *block_hash);

/* Prints a readable summary of the view to `f`. */
void channel_view_text(FILE *f, const struct channel_view *v);

#endif
