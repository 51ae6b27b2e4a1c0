/* genesis.c — the genesis block builder of genesis.h. */
#include "ledger/genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <stdlib.h>

int genesis_build(const struct genesis_params *p, const struct crypto_key *signer,
                  const uint8_t *creator, size_t creator_len, struct buf *out)
{
    if (!p->channel_id || !p->channel_id[0] || !p->consensus_type)
        return STELE_ERR_INVALID;
    struct arena *a = arena_create(0);
    ProtobufCBinaryData env = {0, NULL};
    uint8_t *data = NULL;
    int rc = STELE_ERR_NOMEM;
    char **ids = NULL;
    ProtobufCBinaryData *keys = NULL;
    if (!a || (p->n_orderers && (!(ids = arena_calloc(a, p->n_orderers, sizeof *ids)) ||
                                 !(keys = arena_calloc(a, p->n_orderers, sizeof *keys)))))
        goto out;
    for (size_t i = 0; i < p->n_orderers; i++) {
        ids[i] = (char *)p->orderers[i].node_id;
        keys[i] = (ProtobufCBinaryData){p->orderers[i].public_key_len,
                                        (uint8_t *)p->orderers[i].public_key};
    }
    Stele__OrdererGenesisConfig gc = STELE__ORDERER_GENESIS_CONFIG__INIT;
    gc.channel_id = (char *)p->channel_id;
    gc.consensus_type = (char *)p->consensus_type;
    gc.max_message_count = p->max_message_count;
    gc.batch_timeout_ms = p->batch_timeout_ms;
    gc.preferred_max_bytes = p->preferred_max_bytes;
    gc.absolute_max_bytes = p->absolute_max_bytes;
    gc.n_orderer_ids = gc.n_orderer_keys = p->n_orderers;
    gc.orderer_ids = ids;
    gc.orderer_keys = keys;
    size_t dlen;
    if (!(data = pb_pack(&gc.base, &dlen)))
        goto out;
    uint64_t now = p->timestamp_ms ? p->timestamp_ms : clock_wall_ms();
    struct envelope_params ep = {
        .channel_id = p->channel_id,
        .type = STELE__HEADER_TYPE__CONFIG,
        .creator = creator,
        .creator_len = creator_len,
        .data = data,
        .data_len = dlen,
        .timestamp_ms = now,
    };
    if ((rc = envelope_build(&ep, signer, &env, NULL)))
        goto out;
    static const uint8_t zero[BLOCKHASH_LEN];
    Stele__Block *b;
    if ((rc = blockhash_block_build(a, 0, zero, &env, 1, &b)))
        goto out;
    b->metadata->channel_id = (char *)p->channel_id;
    b->metadata->timestamp_ms = now;
    rc = pb_pack_buf(&b->base, out);
out:
    free(env.data);
    free(data);
    arena_destroy(a);
    return rc;
}
