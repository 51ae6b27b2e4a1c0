/*
 * pbft.h — what the orderer core hands the "pbft" consensus plug-in as
 * consensus_params.plugin_config: settings of this one orderer, not of the channel (those come
 * from the genesis block, docs/CONSENSUS.md).
 */
#ifndef STELE_ORDERER_PBFT_H
#define STELE_ORDERER_PBFT_H

#include <stdint.h>

#ifndef PBFT_BATCH_DELAY_MS
#define PBFT_BATCH_DELAY_MS 10 /* batch_delay_ms when no configuration is given */
#endif

/* One orderer's pbft settings, from its configuration file (`consensus.batch_delay`); with
 * plugin_config NULL the defaults apply. */
struct pbft_config {
    /* How long, at most, this orderer as primary lets a block that is not full wait for more
     * envelopes, counted from when both the slot is free and an envelope is pooled; 0 proposes
     * whatever is pooled at once. batch_timeout still bounds every envelope's wait. */
    uint64_t batch_delay_ms;
};

#endif
