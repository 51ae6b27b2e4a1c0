/*
 * fuzz_genesis.c — arbitrary bytes as a genesis block file (genesis_read_bytes(), what an
 * orderer does with its genesis_file and with block 0 of its store) and as a bare
 * stele.ChannelConfig (genesis_check()). A configuration that is accepted must name each of
 * its orderers and organisations back, and serialize to a configuration that is accepted too.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "ledger/genesis.h"
#include "pb/pb.h"

#include <stdint.h>
#include <stdlib.h>

/* What an accepted configuration promises. */
static void accepted(struct arena *a, const Stele__ChannelConfig *c)
{
    for (size_t i = 0; i < c->n_orderers; i++)
        if (genesis_find_orderer(c, c->orderers[i]->node_id) != c->orderers[i] ||
            !genesis_find_org(c, c->orderers[i]->organisation))
            abort();
    for (size_t i = 0; i < c->n_organisations; i++)
        if (genesis_find_org(c, c->organisations[i]->name) != c->organisations[i])
            abort();
    struct buf b;
    buf_init(&b);
    if (pb_pack_buf(&c->base, &b) == 0) {
        Stele__ChannelConfig *again = (Stele__ChannelConfig *)pb_unpack(
            &stele__channel_config__descriptor, a, b.data, b.len, 0);
        if (!again || genesis_check(again, NULL) != 0)
            abort();
    }
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *c = NULL;
    char *err = NULL;
    if (genesis_read_bytes(a, data, size, NULL, NULL, &c, &err) == 0)
        accepted(a, c);
    free(err);
    err = NULL;
    c = (Stele__ChannelConfig *)pb_unpack(&stele__channel_config__descriptor, a, data, size,
                                          GENESIS_MAX_BLOCK_LEN);
    if (c && genesis_check(c, &err) == 0)
        accepted(a, c);
    free(err);
    arena_destroy(a);
    return 0;
}
