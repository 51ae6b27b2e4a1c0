/*
 * fuzz_pbft.c — arbitrary bytes through what an orderer does with a cluster message and what a
 * peer does with a pbft block (lib/ledger/pbft_msg.h). The first octet picks the decoder:
 *   0  a stele.PbftSigned: pbft_open (sender, channel, signature);
 *   1  a stele.Block: pbft_block_check (data hash, metadata, commit certificate);
 *   2  a stele.PbftPrepared: pbft_prepared_check (PRE-PREPARE, block, 2f PREPAREs);
 *   3  a stele.PbftProof: pbft_proof_check for block 1 with the digest of the next 32 octets.
 * The orderer set is fixed: four orderers o0..o3 of channel "ch" whose private scalars are
 * 0x01..01, 0x02..02, 0x03..03 and 0x04..04 (32 equal octets). The seeds in corpus/pbft are
 * messages those keys signed, so mutations reach the signature and quorum checks. Every call
 * must return a status, never crash.
 */
#include "base/arena.h"
#include "crypto/key.h"
#include "ledger/pbft_msg.h"
#include "pb/pb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct pbft_members *members(void)
{
    static struct pbft_members m;
    static bool ready;
    if (ready)
        return &m;
    static uint8_t pubs[4][33];
    static Stele__OrdererNodeConfig nodes[4];
    static Stele__OrdererNodeConfig *ptrs[4];
    static const char *ids[4] = {"o0", "o1", "o2", "o3"};
    for (int i = 0; i < 4; i++) {
        uint8_t d[32];
        struct crypto_key *k;
        memset(d, i + 1, sizeof d);
        if (crypto_key_from_scalar(d, &k) != 0)
            abort();
        crypto_key_public_compressed(k, pubs[i]);
        crypto_key_destroy(k);
        stele__orderer_node_config__init(&nodes[i]);
        nodes[i].node_id = (char *)ids[i];
        nodes[i].public_key = (ProtobufCBinaryData){33, pubs[i]};
        ptrs[i] = &nodes[i];
    }
    Stele__ChannelConfig cfg = STELE__CHANNEL_CONFIG__INIT;
    cfg.channel_id = (char *)"ch";
    cfg.orderers = ptrs;
    cfg.n_orderers = 4;
    if (pbft_members_init(&m, &cfg) != 0)
        abort();
    ready = true;
    return &m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct arena *a = arena_create(0);
    if (!a)
        abort();
    const char *why = NULL;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        Stele__PbftSigned *s =
            (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, p, n, 0);
        Stele__PbftMessage *m;
        size_t who;
        if (s && pbft_open(members(), a, s, &m, &who, &why) == 0 && who >= 4)
            abort();
        break;
    }
    case 1: {
        Stele__Block *b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, p, n, 0);
        uint8_t h[32];
        if (b)
            pbft_block_check(members(), a, b, h, &why);
        break;
    }
    case 2: {
        Stele__PbftPrepared *pr =
            (Stele__PbftPrepared *)pb_unpack(&stele__pbft_prepared__descriptor, a, p, n, 0);
        if (pr)
            pbft_prepared_check(members(), a, pr, NULL, NULL, &why);
        break;
    }
    default: {
        if (n < 32)
            break;
        Stele__PbftProof *pf =
            (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a, p + 32, n - 32, 0);
        if (pf)
            pbft_proof_check(members(), a, pf, 1, p, &why);
        break;
    }
    }
    arena_destroy(a);
    return 0;
}
