/* genesis.c — the genesis block builder of genesis.h. */
#include "genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <stdlib.h>

int genesis_build(const struct orderer_config *cfg, const struct crypto_key *key,
                  const uint8_t *creator, size_t creator_len, struct buf *out)
{
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    crypto_key_public_compressed(key, pub);
    Stele__OrdererGenesisConfig gc = STELE__ORDERER_GENESIS_CONFIG__INIT;
    gc.channel_id = cfg->channel_id;
    gc.consensus_type = cfg->consensus.type;
    gc.max_message_count = (uint32_t)cfg->batch.max_message_count;
    gc.batch_timeout_ms = cfg->batch.batch_timeout_ms;
    gc.preferred_max_bytes = cfg->batch.preferred_max_bytes;
    gc.absolute_max_bytes = cfg->batch.absolute_max_bytes;
    char *ids[1] = {cfg->node_id};
    ProtobufCBinaryData keys[1] = {{sizeof pub, pub}};
    gc.n_orderer_ids = 1;
    gc.orderer_ids = ids;
    gc.n_orderer_keys = 1;
    gc.orderer_keys = keys;

    struct arena *a = arena_create(0);
    ProtobufCBinaryData env = {0, NULL};
    size_t dlen;
    uint8_t *data = pb_pack(&gc.base, &dlen);
    int rc = STELE_ERR_NOMEM;
    if (!a || !data)
        goto out;
    struct envelope_params p = {
        .channel_id = cfg->channel_id,
        .type = STELE__HEADER_TYPE__CONFIG,
        .creator = creator,
        .creator_len = creator_len,
        .data = data,
        .data_len = dlen,
    };
    if ((rc = envelope_build(&p, key, &env, NULL)))
        goto out;
    static const uint8_t zero[BLOCKHASH_LEN];
    Stele__Block *b;
    if ((rc = blockhash_block_build(a, 0, zero, &env, 1, &b)))
        goto out;
    b->metadata->channel_id = cfg->channel_id;
    b->metadata->timestamp_ms = clock_wall_ms();
    rc = pb_pack_buf(&b->base, out);
out:
    free(env.data);
    free(data);
    arena_destroy(a);
    return rc;
}
