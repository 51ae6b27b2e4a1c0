/* genesis.c — building block 0 and reading the channel configuration back (genesis.h); the
 * configuration's rules are in genesis_check.c. */
#include "ledger/genesis.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int genesis_build(const Stele__ChannelConfig *cfg, const struct crypto_key *signer,
                  const uint8_t *creator, size_t creator_len, uint64_t timestamp_ms,
                  struct buf *out, char **errmsg)
{
    int rc = genesis_check_build(cfg, errmsg);
    if (rc)
        return rc;
    if (cfg->sequence != 0)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "sequence is %u; a genesis configuration has 0", cfg->sequence);
    struct arena *a = arena_create(0);
    ProtobufCBinaryData env = {0, NULL};
    uint8_t *data = NULL;
    size_t dlen;
    rc = STELE_ERR_NOMEM;
    if (!a || !(data = pb_pack(&cfg->base, &dlen)))
        goto out;
    uint64_t now = timestamp_ms ? timestamp_ms : clock_wall_ms();
    struct envelope_params ep = {
        .channel_id = cfg->channel_id,
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
    b->metadata->channel_id = cfg->channel_id;
    b->metadata->timestamp_ms = now;
    rc = pb_pack_buf(&b->base, out);
out:
    free(env.data);
    free(data);
    arena_destroy(a);
    return rc;
}

/* The checks that make `b` a genesis block, up to its envelope's opened view. */
static int open_block(struct arena *a, const Stele__Block *b, struct envelope_view *v,
                      char **errmsg)
{
    static const uint8_t zero[BLOCKHASH_LEN];
    const char *why = NULL;
    if (!b->header)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "the block has no header");
    if (b->header->number != 0)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "block %llu is not a genesis block (number 0)",
                          (unsigned long long)b->header->number);
    if (b->header->previous_hash.len != BLOCKHASH_LEN ||
        memcmp(b->header->previous_hash.data, zero, BLOCKHASH_LEN) != 0)
        return stele_errf(
            errmsg, STELE_ERR_MALFORMED,
            "block 0's previous_hash is not 32 zero octets: it is not a genesis block");
    int rc = blockhash_check_data(b);
    if (rc == STELE_ERR_NOMEM || rc == STELE_ERR_CRYPTO)
        return rc;
    if (rc)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "block 0's data hash does not match its envelopes");
    size_t n = b->data ? b->data->n_envelopes : 0;
    if (n != 1)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "block 0 holds %zu envelopes; a genesis block holds exactly one, of type "
                          "CONFIG",
                          n);
    const ProtobufCBinaryData *e = &b->data->envelopes[0];
    rc = envelope_parse(a, e->data, e->len, GENESIS_MAX_BLOCK_LEN, v, &why);
    if (rc == STELE_ERR_NOMEM || rc == STELE_ERR_CRYPTO)
        return rc;
    if (rc)
        return stele_errf(errmsg, STELE_ERR_MALFORMED, "block 0's envelope is malformed: %s",
                          why ? why : stele_strerror(rc));
    if (v->header->type != STELE__HEADER_TYPE__CONFIG) {
        const ProtobufCEnumValue *t =
            protobuf_c_enum_descriptor_get_value(&stele__header_type__descriptor, v->header->type);
        return stele_errf(
            errmsg, STELE_ERR_MALFORMED,
            "block 0's envelope is of header type %s, not CONFIG: it is not a genesis "
            "block",
            t ? t->name : "unknown");
    }
    return STELE_OK;
}

int genesis_read(struct arena *a, const Stele__Block *b, const char *channel_id,
                 Stele__ChannelConfig **out, char **errmsg)
{
    struct envelope_view v;
    if (errmsg)
        *errmsg = NULL;
    *out = NULL;
    int rc = open_block(a, b, &v, errmsg);
    if (rc)
        return rc;
    Stele__ChannelConfig *c = (Stele__ChannelConfig *)pb_unpack(
        &stele__channel_config__descriptor, a, v.payload->data.data, v.payload->data.len,
        GENESIS_MAX_BLOCK_LEN);
    if (!c)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "block 0's CONFIG data is not a stele.ChannelConfig");
    if ((rc = genesis_check(c, errmsg)))
        return rc;
    if (c->sequence != 0)
        return stele_errf(
            errmsg, STELE_ERR_INVALID,
            "the configuration in block 0 has sequence %u; a genesis configuration has 0",
            c->sequence);
    if (strcmp(v.header->channel_id, c->channel_id) != 0 || !b->metadata ||
        strcmp(b->metadata->channel_id, c->channel_id) != 0)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "block 0's envelope header or metadata names another channel than its "
                          "configuration (%.128s)",
                          c->channel_id);
    if (channel_id && strcmp(channel_id, c->channel_id) != 0)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "the genesis block is of channel %.128s, not of channel %.128s",
                          c->channel_id, channel_id);
    *out = c;
    return STELE_OK;
}

int genesis_read_bytes(struct arena *a, const uint8_t *data, size_t len, const char *channel_id,
                       const Stele__Block **block, Stele__ChannelConfig **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    *out = NULL;
    if (block)
        *block = NULL;
    if (len > GENESIS_MAX_BLOCK_LEN)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "%zu octets is larger than a genesis block may be (%u)", len,
                          GENESIS_MAX_BLOCK_LEN);
    Stele__Block *b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, data, len, 0);
    if (!b)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "the bytes are not a serialized stele.Block");
    if (block)
        *block = b;
    return genesis_read(a, b, channel_id, out, errmsg);
}
