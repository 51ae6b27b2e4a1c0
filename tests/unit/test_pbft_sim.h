/* test_pbft_sim.h — the harness of the pbft scenario tests (test_pbft_sim.c and the
 * test_pbft_*.c files split from it by concern): four pbft replicas in one process, on one
 * thread, with the network replaced by a queue the test delivers from by hand, so that message
 * loss, delay, reordering, restarts and a Byzantine orderer's messages play out
 * deterministically.
 *
 * pbft_net.c's functions are defined here (the link queue, no threads), so pbft_net.o is not
 * linked; the plug-in's other files run as they are. Each test program includes this header
 * from exactly one file: its definitions are that program's. */
#ifndef STELE_TEST_PBFT_SIM_H
#define STELE_TEST_PBFT_SIM_H

#include "testutil.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "orderer/consensus/pbft_int.h"
#include "pb/pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4

/* ---- network stubs ---- */
struct msg {
    size_t from, to;
    uint8_t *data;
    size_t len;
    bool gone;
};
static struct msg Q[20000];
static size_t nq;
/* Called (when set) with every message as it is queued, before the test may deliver it: what
 * an orderer looks like at the instant a message leaves it. Reset by teardown_all(). */
static void (*on_send)(size_t from, size_t to, const uint8_t *data, size_t len);

void pbft_link_send(struct pbft *b, size_t to, const uint8_t *data, size_t len)
{
    if (on_send)
        on_send(b->me, to, data, len);
    if (nq >= sizeof Q / sizeof Q[0])
        return; /* a full link drops, as the real one does */
    Q[nq].from = b->me;
    Q[nq].to = to;
    Q[nq].data = malloc(len ? len : 1);
    memcpy(Q[nq].data, data, len);
    Q[nq].len = len;
    Q[nq].gone = false;
    nq++;
}
int pbft_links_start(struct pbft *b)
{
    (void)b;
    return 0;
}
void pbft_links_stop(struct pbft *b)
{
    (void)b;
}
int pbft_attach(void *s, struct rpc_server *r)
{
    (void)s;
    (void)r;
    return 0;
}
static uint64_t want_sync[N];
void pbft_want_sync(struct pbft *b, uint64_t t)
{
    want_sync[b->me] = t;
}
int pbft_sync_start(struct pbft *b)
{
    (void)b;
    return 0;
}
void pbft_sync_stop(struct pbft *b)
{
    (void)b;
}

/* ---- core stubs ---- */
struct node {
    struct pbft *b;
    struct buf blocks[64];
    uint8_t hashes[64][32];
    size_t n; /* blocks after genesis */
};
static struct node NODES[N];
static uint8_t GENESIS[32];

static void cb_head(void *arg, uint64_t *h, uint8_t hash[32])
{
    struct node *nd = arg;
    *h = nd->n + 1;
    memcpy(hash, nd->n ? nd->hashes[nd->n - 1] : GENESIS, 32);
}
static int cb_deliver(void *arg, const Stele__Block *blk)
{
    struct node *nd = arg;
    buf_init(&nd->blocks[nd->n]);
    pb_pack_buf(&blk->base, &nd->blocks[nd->n]);
    blockhash_header_pb(blk->header, nd->hashes[nd->n]);
    nd->n++;
    return 0;
}
static int cb_read(void *arg, uint64_t num, struct arena *a, Stele__Block **out)
{
    struct node *nd = arg;
    if (num == 0 || num > nd->n)
        return STELE_ERR_NOT_FOUND;
    *out = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, nd->blocks[num - 1].data,
                                     nd->blocks[num - 1].len, 0);
    return 0;
}
static int cb_check(void *arg, const uint8_t *env, size_t len, char tx_id[65], const char **why)
{
    (void)arg;
    struct arena *a = arena_create(0);
    struct envelope_view v;
    int rc = envelope_parse(a, env, len, 0, &v, why);
    if (!rc)
        memcpy(tx_id, v.header->tx_id, 65);
    arena_destroy(a);
    return rc;
}

static struct crypto_key *keys[N], *client;
static uint8_t pubs[N][33];
static Stele__OrdererNodeConfig nodes_cfg[N], *ptrs[N];
static Stele__ChannelConfig cfg;
static Stele__PbftParameters pp;
static const char *ids[N] = {"o0", "o1", "o2", "o3"};

/* Replica i (not started: no threads), at the genesis block, with `dir` (may be NULL: nothing
 * persisted) as its data directory. */
struct pbft *make_node(int i, const char *dir)
{
    const struct consensus_ops *ops = consensus_find("pbft");
    struct consensus_params p = {.node_id = ids[i],
                                 .channel_id = "ch",
                                 .cutter = {10, 1 << 20, 1 << 20, 50},
                                 .signer = keys[i],
                                 .channel = &cfg,
                                 .data_dir = dir};
    struct consensus_callbacks cb = {&NODES[i], cb_head, cb_deliver, cb_read, cb_check};
    void *st;
    char *err = NULL;
    assert_int_equal(ops->create(&p, &cb, &st, &err), 0);
    struct pbft *b = st;
    b->last_exec = 0;
    memcpy(b->last_digest, GENESIS, 32);
    memcpy(b->genesis_digest, GENESIS, 32);
    pbft_slot_reset(b);
    b->running = true;
    b->batch_delay = 0; /* the scenarios propose by hand: no waiting for fuller blocks */
    return b;
}

/* Four fresh replicas with checkpoint_interval K and log_window L (0: the plug-in's defaults,
 * K = 10 and L = 4K); o0 persists in `dir0` (may be NULL). */
void setup_params(const char *dir0, uint32_t k, uint32_t l)
{
    stele__channel_config__init(&cfg);
    cfg.channel_id = "ch";
    stele__pbft_parameters__init(&pp);
    pp.checkpoint_interval = k;
    pp.log_window = l;
    cfg.pbft = &pp;
    for (int i = 0; i < N; i++) {
        assert_int_equal(crypto_key_generate(&keys[i]), STELE_OK);
        crypto_key_public_compressed(keys[i], pubs[i]);
        stele__orderer_node_config__init(&nodes_cfg[i]);
        nodes_cfg[i].node_id = (char *)ids[i];
        nodes_cfg[i].public_key = (ProtobufCBinaryData){33, pubs[i]};
        nodes_cfg[i].address = "127.0.0.1:1";
        ptrs[i] = &nodes_cfg[i];
    }
    cfg.orderers = ptrs;
    cfg.n_orderers = N;
    assert_int_equal(crypto_key_generate(&client), STELE_OK);
    memset(GENESIS, 0x11, 32);
    for (int i = 0; i < N; i++)
        NODES[i].b = make_node(i, i == 0 ? dir0 : NULL);
}

/* Four fresh replicas with the default parameters; o0 persists in `dir0` (may be NULL). */
void setup_all(const char *dir0)
{
    setup_params(dir0, 0, 0);
}

/* Pools envelope k at orderer i as arrived at monotonic ms `at`. */
void pool_env_at(int i, int k, uint64_t at)
{
    char data[32];
    snprintf(data, sizeof data, "envelope %d", k);
    uint8_t nonce[24] = {0};
    nonce[0] = (uint8_t)k;
    struct envelope_params p = {.channel_id = "ch",
                                .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                .creator = (const uint8_t *)"client",
                                .creator_len = 6,
                                .nonce = nonce,
                                .nonce_len = 24,
                                .data = (const uint8_t *)data,
                                .data_len = strlen(data),
                                .timestamp_ms = 1000};
    ProtobufCBinaryData e;
    char tx[65];
    assert_int_equal(envelope_build(&p, client, &e, tx), STELE_OK);
    uint8_t h[32];
    crypto_sha256(e.data, e.len, h);
    pbft_pool_add(NODES[i].b->pool, tx, h, e.data, e.len, at, NULL, NULL);
    free(e.data);
}

/* Pools envelope k at orderer i as arrived long ago. */
void pool_env(int i, int k)
{
    pool_env_at(i, k, 1);
}

int type_of(const uint8_t *d, size_t len);

/* A FORWARD at orderer `to`: its envelope joins the pool, as pbft_net.c's on_forward() does
 * (which the harness replaces), and the primary may propose it. */
static void sim_forward(size_t to, const uint8_t *d, size_t len)
{
    struct arena *a = arena_create(0);
    Stele__PbftSigned *s =
        (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, d, len, 0);
    struct envelope_view v;
    uint8_t h[32];
    if (s && envelope_parse(a, s->block.data, s->block.len, 0, &v, NULL) == STELE_OK &&
        crypto_sha256(s->block.data, s->block.len, h) == STELE_OK &&
        pbft_pool_add(NODES[to].b->pool, v.header->tx_id, h, s->block.data, s->block.len,
                      pbft_now(), NULL, NULL) == STELE_OK)
        pbft_maybe_propose(NODES[to].b);
    arena_destroy(a);
}

/* Delivers queued messages whose (from,to) passes `ok`, until none is left; others stay. */
void deliver(bool (*ok)(size_t from, size_t to, const uint8_t *d, size_t len))
{
    for (bool any = true; any;) {
        any = false;
        for (size_t i = 0; i < nq; i++) {
            if (Q[i].gone || !ok(Q[i].from, Q[i].to, Q[i].data, Q[i].len))
                continue;
            Q[i].gone = true;
            any = true;
            if (type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_FORWARD)
                sim_forward(Q[i].to, Q[i].data, Q[i].len);
            else
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
        }
    }
}
void drop_all(void)
{
    for (size_t i = 0; i < nq; i++)
        Q[i].gone = true;
}

int type_of(const uint8_t *d, size_t len)
{
    struct arena *a = arena_create(0);
    Stele__PbftSigned *s =
        (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, d, len, 0);
    Stele__PbftMessage *m = (Stele__PbftMessage *)pb_unpack(&stele__pbft_message__descriptor, a,
                                                            s->message.data, s->message.len, 0);
    int t = m->type;
    arena_destroy(a);
    return t;
}

/* Signs `m` as orderer `who` into `out`; `blk` (may be NULL) rides beside. */
void forge(int who, Stele__PbftMessage *m, const uint8_t *blk, size_t blen, struct buf *out)
{
    struct arena *a = arena_create(0);
    Stele__PbftSigned s;
    m->channel_id = "ch";
    m->sender = (char *)ids[who];
    assert_int_equal(pbft_sign(m, keys[who], a, &s), STELE_OK);
    if (blk)
        s.block = (ProtobufCBinaryData){blen, (uint8_t *)blk};
    buf_init(out);
    assert_int_equal(pb_pack_buf(&s.base, out), STELE_OK);
    arena_destroy(a);
}

/* o0's signed PRE-PREPARE in view 0 for sequence number `seq`, into `w` (buf_release it): a
 * block numbered `number` after `prev`, holding envelope k (pooled at o0 and taken back out)
 * when k > 0, none when k is 0. */
void forged_pre_prepare(uint64_t seq, uint64_t number, const uint8_t prev[32], int k, struct buf *w)
{
    struct arena *a = arena_create(0);
    ProtobufCBinaryData *envs = NULL;
    size_t n = 0;
    if (k > 0) {
        pool_env(0, k);
        assert_int_equal(pbft_pool_take(NODES[0].b->pool, 10, 1 << 20, &envs, &n), STELE_OK);
    }
    Stele__Block *blk;
    uint8_t d[32];
    assert_int_equal(blockhash_block_build(a, number, prev, envs, n, &blk), STELE_OK);
    assert_int_equal(blockhash_header_pb(blk->header, d), STELE_OK);
    struct buf bb;
    buf_init(&bb);
    pb_pack_buf(&blk->base, &bb);
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
    m.seq = seq;
    m.digest = (ProtobufCBinaryData){32, d};
    forge(0, &m, bb.data, bb.len, w);
    for (size_t i = 0; i < n; i++)
        free(envs[i].data);
    free(envs);
    buf_release(&bb);
    arena_destroy(a);
}

int teardown_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < nq; i++)
        free(Q[i].data);
    nq = 0;
    for (int i = 0; i < N; i++) {
        if (NODES[i].b)
            consensus_find("pbft")->destroy(NODES[i].b);
        for (size_t k = 0; k < NODES[i].n; k++)
            buf_release(&NODES[i].blocks[k]);
    }
    memset(NODES, 0, sizeof NODES);
    memset(want_sync, 0, sizeof want_sync);
    on_send = NULL;
    for (int i = 0; i < N; i++)
        crypto_key_destroy(keys[i]);
    crypto_key_destroy(client);
    stele__pbft_parameters__init(&pp);
    return 0;
}

/* No two replicas hold different blocks at the same height. */
void assert_no_fork(void)
{
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            for (size_t k = 0; k < NODES[i].n && k < NODES[j].n; k++)
                if (memcmp(NODES[i].hashes[k], NODES[j].hashes[k], 32) != 0)
                    fail_msg("FORK: o%d and o%d differ at block %zu", i, j, k + 1);
}

bool all(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t, (void)d, (void)l;
    return true;
}

/* Four fresh replicas, envelope 1 in every pool, o0 proposes it and the messages `ok` lets
 * through are delivered. */
void first_block_with(bool (*ok)(size_t from, size_t to, const uint8_t *d, size_t len))
{
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    deliver(ok);
}

#endif
