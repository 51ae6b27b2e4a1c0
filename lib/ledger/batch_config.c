/* batch_config.c — schema of the block-cutting parameters. */
#include "ledger/batch_config.h"

#include <stddef.h>

#define F(field) offsetof(struct batch_config, field)

static const struct config_field batch_fields[] = {
    {.key = "max_message_count",
     .type = CONFIG_UINT64,
     .offset = F(max_message_count),
     .def = "500",
     .umin = 1,
     .umax = BATCH_MAX_MESSAGE_COUNT,
     .help = "envelopes per block (Fabric BatchSize.MaxMessageCount)"},
    {.key = "batch_timeout",
     .type = CONFIG_DURATION,
     .offset = F(batch_timeout_ms),
     .def = "2s",
     .umin = 1,
     .umax = BATCH_MAX_TIMEOUT_MS,
     .help = "cut a non-empty batch this long after its first envelope (BatchTimeout)"},
    {.key = "preferred_max_bytes",
     .type = CONFIG_SIZE,
     .offset = F(preferred_max_bytes),
     .def = "2MiB",
     .umin = 1,
     .umax = BATCH_MAX_BYTES,
     .help = "a block's envelopes stay within this; a bigger envelope gets its own block"},
    {.key = "absolute_max_bytes",
     .type = CONFIG_SIZE,
     .offset = F(absolute_max_bytes),
     .def = "10MiB",
     .umin = 1,
     .umax = BATCH_MAX_BYTES,
     .help = "larger envelopes are refused at Broadcast (REQUEST_ENTITY_TOO_LARGE)"},
    {.key = NULL},
};

const struct config_schema batch_config_schema = {"batch", sizeof(struct batch_config),
                                                  batch_fields};
