/*
 * fuzz_pbftnode.c — a sequence of cluster messages through a real PBFT replica (o3 of four
 * orderers o0..o3 of channel "ch", not started: no threads, no links, nothing persisted), as
 * orderer/consensus/pbft_core.c takes them: views, complaints, VIEW-CHANGEs carrying complaints
 * (pbft_complain.c, pbft_view.c). fuzz_pbft covers the decoders alone; this one gets past the
 * signatures, which the harness makes with the orderers' fixed keys (private scalars 0x01..01,
 * 0x02..02, 0x03..03, 0x04..04), so that what follows them is fuzzed too.
 *
 * The input is a list of operations, each starting with an octet:
 *   0 S C V T        STATUS from o(S%4) about view V%8, complaining when C&1, between views
 *                    when C&2, dated T*100 ms before now (T<128) or (T-128)*100 ms after;
 *   1 S V N {S C V T}*N  VIEW-CHANGE from o(S%4) for view V%8 (last block 0, the genesis
 *                    block), carrying N%6 complaints, each a STATUS as above, signed by its
 *                    sender's key unless C&4 (then by o0's);
 *   2 S L bytes      a PbftMessage (L octets, 0..255) from the input, signed as o(S%4);
 *   3 L bytes        a PbftSigned (L octets) from the input, as it arrived;
 *   4 D              the timers run D*100 ms later (request timer, view timer).
 * Every input must leave the replica consistent, never crash; fuzz_replay_check() makes sure
 * the seeds reach a view change proven by carried complaints.
 */
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/pbft_msg.h"
#include "orderer/consensus/consensus.h"
#include "orderer/consensus/pbft_int.h"
#include "pb/pb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 4
static struct crypto_key *keys[N];
static uint8_t pubs[N][33];
static Stele__OrdererNodeConfig nodes[N], *ptrs[N];
static Stele__ChannelConfig cfg = STELE__CHANNEL_CONFIG__INIT;
static const char *ids[N] = {"o0", "o1", "o2", "o3"};
static uint8_t genesis[32];
static unsigned proven_changes; /* inputs that left view 0 on carried complaints */

static void setup(void)
{
    static bool ready;
    if (ready)
        return;
    for (int i = 0; i < N; i++) {
        uint8_t d[32];
        memset(d, i + 1, sizeof d);
        if (crypto_key_from_scalar(d, &keys[i]) != 0)
            abort();
        crypto_key_public_compressed(keys[i], pubs[i]);
        stele__orderer_node_config__init(&nodes[i]);
        nodes[i].node_id = (char *)ids[i];
        nodes[i].public_key = (ProtobufCBinaryData){33, pubs[i]};
        nodes[i].address = "127.0.0.1:1";
        ptrs[i] = &nodes[i];
    }
    cfg.channel_id = "ch";
    cfg.orderers = ptrs;
    cfg.n_orderers = N;
    memset(genesis, 0x11, sizeof genesis);
    ready = true;
}

static void cb_head(void *arg, uint64_t *h, uint8_t hash[32])
{
    (void)arg;
    *h = 1;
    memcpy(hash, genesis, 32);
}
static int cb_deliver(void *arg, const Stele__Block *blk)
{
    (void)arg, (void)blk;
    return STELE_OK;
}
static int cb_read(void *arg, uint64_t num, struct arena *a, Stele__Block **out)
{
    (void)arg, (void)num, (void)a, (void)out;
    return STELE_ERR_NOT_FOUND;
}
static int cb_check(void *arg, const uint8_t *env, size_t len, char tx_id[65], const char **why)
{
    (void)arg, (void)env, (void)len, (void)tx_id;
    *why = "the fuzzer's envelopes are never valid";
    return STELE_ERR_INVALID;
}

/* Reads n octets from the input; false at its end. */
struct in {
    const uint8_t *p;
    size_t n;
};
static bool take(struct in *in, uint8_t *out, size_t n)
{
    if (in->n < n)
        return false;
    memcpy(out, in->p, n);
    in->p += n;
    in->n -= n;
    return true;
}

/* Signs `m` as orderer `who` into *out (in `a`). */
static bool sign_as(int who, Stele__PbftMessage *m, struct arena *a, Stele__PbftSigned *out)
{
    return pbft_sign(m, keys[who], a, out) == STELE_OK;
}

/* The STATUS of operation 0 (S C V T already read) into *out, in `a`. */
static bool status_of(const uint8_t op[4], struct arena *a, Stele__PbftSigned *out)
{
    int who = op[0] % N;
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.channel_id = "ch";
    m.sender = (char *)ids[who];
    m.type = STELE__PBFT_TYPE__PBFT_STATUS;
    m.view = op[2] % 8;
    m.digest = (ProtobufCBinaryData){32, genesis};
    m.complaining = op[1] & 1;
    m.view_changing = (op[1] & 2) != 0;
    int64_t off = op[3] < 128 ? -(int64_t)op[3] * 100 : (int64_t)(op[3] - 128) * 100;
    m.timestamp_ms = (uint64_t)((int64_t)clock_wall_ms() + off);
    return sign_as(op[1] & 4 ? 0 : who, &m, a, out);
}

static void feed(struct pbft *b, const Stele__PbftSigned *s)
{
    struct buf w;
    buf_init(&w);
    if (pb_pack_buf(&s->base, &w) == STELE_OK)
        pbft_handle_bytes(b, w.data, w.len);
    buf_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const struct consensus_ops *ops = consensus_find("pbft");
    struct consensus_params p = {.node_id = "o3",
                                 .channel_id = "ch",
                                 .cutter = {10, 1 << 20, 1 << 20, 50},
                                 .signer = keys[3],
                                 .channel = &cfg};
    struct consensus_callbacks cb = {NULL, cb_head, cb_deliver, cb_read, cb_check};
    void *st = NULL;
    char *err = NULL;
    if (ops->create(&p, &cb, &st, &err) != STELE_OK)
        abort();
    struct pbft *b = st;
    b->last_exec = 0;
    memcpy(b->last_digest, genesis, 32);
    memcpy(b->genesis_digest, genesis, 32);
    pbft_slot_reset(b);
    b->running = true;
    uint64_t now = pbft_now();
    struct in in = {data, size};
    uint8_t op;
    while (take(&in, &op, 1)) {
        struct arena *a = arena_create(0);
        if (!a)
            abort();
        uint8_t h[4];
        switch (op % 5) {
        case 0: {
            Stele__PbftSigned s;
            if (take(&in, h, 4) && status_of(h, a, &s))
                feed(b, &s);
            break;
        }
        case 1: {
            uint8_t vh[3];
            if (!take(&in, vh, 3))
                break;
            size_t n = vh[2] % 6;
            Stele__PbftSigned **list = arena_calloc(a, n ? n : 1, sizeof *list);
            size_t k = 0;
            for (size_t i = 0; list && i < n && take(&in, h, 4); i++)
                if ((list[k] = arena_alloc(a, sizeof **list)) && status_of(h, a, list[k]))
                    k++;
            Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT;
            vc.last_digest = (ProtobufCBinaryData){32, genesis};
            vc.complaints = list;
            vc.n_complaints = k;
            Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
            m.channel_id = "ch";
            m.sender = (char *)ids[vh[0] % N];
            m.type = STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
            m.view = vh[1] % 8;
            m.view_change = &vc;
            Stele__PbftSigned s;
            if (sign_as(vh[0] % N, &m, a, &s))
                feed(b, &s);
            break;
        }
        case 2: {
            uint8_t sl[2], body[255];
            if (!take(&in, sl, 2) || !take(&in, body, sl[1]))
                break;
            Stele__PbftMessage *m = (Stele__PbftMessage *)pb_unpack(
                &stele__pbft_message__descriptor, a, body, sl[1], 0);
            Stele__PbftSigned s;
            if (m) {
                m->channel_id = "ch";
                m->sender = (char *)ids[sl[0] % N];
                if (sign_as(sl[0] % N, m, a, &s))
                    feed(b, &s);
            }
            break;
        }
        case 3: {
            uint8_t l, body[255];
            if (take(&in, &l, 1) && take(&in, body, l))
                pbft_handle_bytes(b, body, l);
            break;
        }
        case 4: {
            uint8_t d;
            if (take(&in, &d, 1)) {
                now += (uint64_t)d * 100;
                pbft_view_tick(b, now);
                pbft_request_tick(b, now);
            }
            break;
        }
        }
        arena_destroy(a);
    }
    if (b->view > 0 && b->proven_view == 1)
        proven_changes++;
    ops->destroy(st);
    return 0;
}

/* The seeds must reach what this target is for: a view change proven by carried complaints. */
int fuzz_replay_check(void);
int fuzz_replay_check(void)
{
    return proven_changes > 0 ? 0 : 1;
}
