/*
 * batch_config.h — the block-cutting parameters (Fabric's BatchSize and BatchTimeout) and
 * their YAML schema, shared by the orderer's configuration and the network description so
 * both read `batch:` the same way.
 */
#ifndef STELE_LEDGER_BATCH_CONFIG_H
#define STELE_LEDGER_BATCH_CONFIG_H

#include "config/config.h"

#include <stdint.h>

/* Upper bounds of the parameters, in YAML and in a channel configuration alike. */
#define BATCH_MAX_MESSAGE_COUNT 100000u     /* envelopes per block */
#define BATCH_MAX_TIMEOUT_MS    3600000u    /* an hour */
#define BATCH_MAX_BYTES         (64u << 20) /* preferred and absolute max bytes */

/* Section `batch`. */
struct batch_config {
    uint64_t max_message_count;   /* envelopes per block */
    uint64_t batch_timeout_ms;    /* cut a non-empty batch this long after its first envelope */
    uint64_t preferred_max_bytes; /* a block's envelopes stay within this; bigger go alone */
    uint64_t absolute_max_bytes;  /* larger envelopes are refused at Broadcast */
    struct config_pos pos;        /* where the section was written ({0, 0}: absent) */
};

/* Schema of `struct batch_config` for lib/config (defaults 500, 2s, 2MiB, 10MiB). A field
 * that uses it should record the position (.has_pos, .pos_offset = offsetof(struct
 * batch_config, pos)). */
extern const struct config_schema batch_config_schema;

#endif
