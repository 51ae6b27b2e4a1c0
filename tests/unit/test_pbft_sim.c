/* test_pbft_sim.c — four pbft replicas in one process, on one thread, with the network
 * replaced by a queue the test delivers from by hand: message loss, delay and reordering
 * around view changes, restarts and a Byzantine orderer's messages, deterministically. Each
 * scenario is a way other orderers could fork or stall that a review of this plug-in found;
 * each asserts the outcome a user needs: no two orderers with different blocks at one height,
 * progress with at most f faulty, bounded memory.
 *
 * pbft_net.c's functions are defined here (the link queue, no threads), so pbft_net.o is not
 * linked; the plug-in's other files run as they are. */
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

void pbft_link_send(struct pbft *b, size_t to, const uint8_t *data, size_t len)
{
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

static struct pbft *make_node(int i, const char *dir)
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
    pbft_slot_reset(b);
    b->running = true;
    b->batch_delay = 0; /* the scenarios propose by hand: no waiting for fuller blocks */
    return b;
}

static void setup_all(const char *dir0)
{
    stele__channel_config__init(&cfg);
    cfg.channel_id = "ch";
    stele__pbft_parameters__init(&pp);
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

/* Pools envelope k at orderer i as arrived at monotonic ms `at`. */
static void pool_env_at(int i, int k, uint64_t at)
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
static void pool_env(int i, int k)
{
    pool_env_at(i, k, 1);
}

/* Delivers queued messages whose (from,to) passes `ok`, until none is left; others stay. */
static void deliver(bool (*ok)(size_t from, size_t to, const uint8_t *d, size_t len))
{
    for (bool any = true; any;) {
        any = false;
        for (size_t i = 0; i < nq; i++) {
            if (Q[i].gone || !ok(Q[i].from, Q[i].to, Q[i].data, Q[i].len))
                continue;
            Q[i].gone = true;
            any = true;
            pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
        }
    }
}
static void drop_all(void)
{
    for (size_t i = 0; i < nq; i++)
        Q[i].gone = true;
}

static int type_of(const uint8_t *d, size_t len)
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
static void forge(int who, Stele__PbftMessage *m, const uint8_t *blk, size_t blen, struct buf *out)
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

static int teardown_all(void **state)
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
    for (int i = 0; i < N; i++)
        crypto_key_destroy(keys[i]);
    crypto_key_destroy(client);
    pp.checkpoint_interval = 0;
    return 0;
}

/* No two replicas hold different blocks at the same height. */
static void assert_no_fork(void)
{
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            for (size_t k = 0; k < NODES[i].n && k < NODES[j].n; k++)
                if (memcmp(NODES[i].hashes[k], NODES[j].hashes[k], 32) != 0)
                    fail_msg("FORK: o%d and o%d differ at block %zu", i, j, k + 1);
}

static bool all(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t, (void)d, (void)l;
    return true;
}
static bool not_commit_except_to0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return type_of(d, l) != STELE__PBFT_TYPE__PBFT_COMMIT || t == 0;
}
static bool among123_no_votes(size_t f, size_t t, const uint8_t *d, size_t l)
{
    int ty = type_of(d, l);
    return f != 0 && t != 0 && ty != STELE__PBFT_TYPE__PBFT_PREPARE &&
           ty != STELE__PBFT_TYPE__PBFT_COMMIT && ty != STELE__PBFT_TYPE__PBFT_STATUS;
}
static bool among123(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 0 && t != 0;
}

/* Four fresh replicas, envelope 1 in every pool, o0 proposes it and the messages `ok` lets
 * through are delivered. */
static void first_block_with(bool (*ok)(size_t from, size_t to, const uint8_t *d, size_t len))
{
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    deliver(ok);
}

/* o0 commits B alone (the COMMITs to the others are lost); view 1 re-proposes B but fails before
 * anyone prepares again; view 2 must still re-propose B, never a fresh block 1. */
static void prepared_proof_survives_a_failed_view(void **state)
{
    (void)state;
    first_block_with(not_commit_except_to0);
    assert_int_equal(NODES[0].n, 1);
    drop_all();
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(among123_no_votes); /* VIEW-CHANGEs, NEW-VIEW(1); its PREPAREs are lost */
    drop_all();
    pool_env(2, 2); /* o2, primary of view 2, holds another envelope */
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 2, "sim: request timer");
    deliver(among123);
    assert_true(NODES[1].n >= 1); /* B again at height 1 (then o2's own block) */
    assert_no_fork();
}

/* The primary crashes right after proposing: restarted, it holds the very same proposal. */
static void primary_proposal_survives_a_restart(void **state)
{
    (void)state;
    char *dir = test_tmpdir("pbft-sim");
    setup_all(dir);
    pool_env(0, 1);
    pbft_maybe_propose(NODES[0].b);
    assert_true(NODES[0].b->slot.have_pp);
    struct pbft *r = make_node(0, dir);
    assert_int_equal(pbft_restore(r), STELE_OK);
    assert_true(r->slot.have_pp);
    assert_memory_equal(r->slot.digest, NODES[0].b->slot.digest, 32);
    consensus_find("pbft")->destroy(r);
    test_rmtree(dir);
    free(dir);
}

/* A Byzantine orderer (o3) sends an empty NEW-VIEW for a far view it is primary of: ignored. */
static void bogus_new_view_is_ignored(void **state)
{
    (void)state;
    setup_all(NULL);
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    Stele__PbftNewView nv = STELE__PBFT_NEW_VIEW__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_NEW_VIEW;
    m.view = UINT64_MAX - 4; /* = 3 mod 4: o3 is its primary */
    m.new_view = &nv;
    struct buf w;
    forge(3, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_true(NODES[1].b->active);
    assert_int_equal(NODES[1].b->view, 0);
    buf_release(&w);
}

/* o3 pads its COMMITs with 1 MiB: they are dropped, and certificates stay small. */
static void junk_beside_a_vote_is_dropped(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    static uint8_t junk[1 << 20];
    for (bool any = true; any;) {
        any = false;
        for (size_t i = 0; i < nq; i++) {
            if (Q[i].gone)
                continue;
            Q[i].gone = any = true;
            if (Q[i].from == 3 && type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_COMMIT) {
                struct arena *a = arena_create(0);
                Stele__PbftSigned *s = (Stele__PbftSigned *)pb_unpack(
                    &stele__pbft_signed__descriptor, a, Q[i].data, Q[i].len, 0);
                s->block = (ProtobufCBinaryData){sizeof junk, junk};
                struct buf w;
                buf_init(&w);
                pb_pack_buf(&s->base, &w);
                pbft_handle_bytes(NODES[Q[i].to].b, w.data, w.len);
                buf_release(&w);
                arena_destroy(a);
            } else {
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(NODES[i].n, 1); /* o0, o1, o2 commit without o3 */
        assert_true(NODES[i].blocks[0].len < 64 * 1024);
    }
    assert_no_fork();
}

/* o3 floods CHECKPOINTs for far blocks: the real checkpoints still become stable and the
 * primary keeps proposing past the window. */
static void checkpoint_flood_does_not_stop_ordering(void **state)
{
    (void)state;
    pp.checkpoint_interval = 2; /* L = 8: the primary waits for a checkpoint every 4 blocks */
    setup_all(NULL);
    uint64_t far = 1000000;
    for (int k = 1; k <= 20; k++) {
        for (int i = 0; i < N; i++)
            pool_env(i, k);
        pbft_maybe_propose(NODES[0].b);
        for (bool any = true; any;) {
            any = false;
            for (size_t i = 0; i < nq; i++) {
                if (Q[i].gone)
                    continue;
                Q[i].gone = any = true;
                for (int z = 0;
                     z < 9 && type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_CHECKPOINT;
                     z++) {
                    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
                    uint8_t d[32] = {1};
                    m.type = STELE__PBFT_TYPE__PBFT_CHECKPOINT;
                    m.seq = far;
                    far += 2;
                    m.digest = (ProtobufCBinaryData){32, d};
                    struct buf w;
                    forge(3, &m, NULL, 0, &w);
                    pbft_handle_bytes(NODES[Q[i].to].b, w.data, w.len);
                    buf_release(&w);
                }
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
            }
        }
    }
    assert_int_equal(NODES[1].n, 20);
    assert_true(NODES[1].b->stable >= 16);
    assert_no_fork();
}

static bool commits_only_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return type_of(d, l) != STELE__PBFT_TYPE__PBFT_COMMIT || t == 3;
}
static bool not_to_or_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 3 && t != 3;
}
static bool vcs_and_nv(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t;
    int ty = type_of(d, l);
    return ty == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE || ty == STELE__PBFT_TYPE__PBFT_NEW_VIEW;
}
static bool vc_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)t;
    return f == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}

/* o3 alone commits B, gets its VIEW-CHANGE out and crashes: the others take block 1 from the
 * NEW-VIEW (nobody else holds it) and go on. */
static void block_committed_by_one_then_lost_is_recovered(void **state)
{
    (void)state;
    first_block_with(commits_only_to3);
    assert_int_equal(NODES[3].n, 1);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(vc_from3);
    deliver(vcs_and_nv);
    drop_all(); /* o3 is gone */
    pool_env(1, 2);
    for (int i = 0; i < 3; i++)
        pbft_maybe_propose(NODES[i].b);
    deliver(not_to_or_from3);
    for (int i = 0; i < 3; i++)
        assert_true(NODES[i].n >= 1);
    assert_no_fork();
}

/* Same start, all four alive: the new primary, behind the proven block 1, must not propose a
 * block 1 of its own. */
static void primary_behind_the_new_view_does_not_fork(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pool_env(1, 2);
    pbft_maybe_propose(NODES[0].b);
    deliver(commits_only_to3);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(vc_from3);
    deliver(vcs_and_nv);
    for (int i = 0; i < N; i++)
        pbft_maybe_propose(NODES[i].b);
    deliver(all);
    assert_no_fork();
    assert_int_equal(NODES[1].n, NODES[3].n);
}

static bool nv_to2_only(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return t == 2 && f == 1;
}
static bool from2_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f == 2 && t == 3;
}
static bool no_o0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 0 && t != 0;
}
static bool vcs_no0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return f != 0 && t != 0 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}

/* o0 is down; o3 gets o2's PREPARE before the NEW-VIEW and drops it: the resent votes finish
 * the block. */
static void votes_lost_before_the_new_view_are_resent(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: o0 is down");
    deliver(vcs_no0);
    deliver(nv_to2_only);
    deliver(from2_to3);
    deliver(no_o0);
    for (int i = 1; i < N; i++)
        pbft_resend_votes(NODES[i].b); /* the timer's second look */
    deliver(no_o0);
    for (int i = 1; i < N; i++)
        assert_int_equal(NODES[i].n, 1);
    assert_no_fork();
}

/* o3, not the primary, sends 300 PRE-PREPAREs for block 2 with 1 MiB each: none is held. */
static void junk_proposals_are_not_held(void **state)
{
    (void)state;
    setup_all(NULL);
    static uint8_t junk[1 << 20];
    for (int k = 0; k < 300; k++) {
        Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
        uint8_t d[32] = {(uint8_t)k};
        m.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
        m.seq = 2;
        m.digest = (ProtobufCBinaryData){32, d};
        struct buf w;
        forge(3, &m, junk, sizeof junk, &w);
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
        buf_release(&w);
    }
    assert_int_equal(NODES[1].b->n_ahead, 0);
}

/* A VIEW-CHANGE whose certificate repeats one COMMIT 20,000 times is refused without checking
 * 20,000 signatures. */
static void oversized_certificate_refused_cheaply(void **state)
{
    (void)state;
    setup_all(NULL);
    struct arena *a = arena_create(0);
    uint8_t d[32] = {7};
    Stele__PbftMessage c = STELE__PBFT_MESSAGE__INIT;
    c.type = STELE__PBFT_TYPE__PBFT_COMMIT;
    c.seq = 5;
    c.digest = (ProtobufCBinaryData){32, d};
    c.channel_id = "ch";
    c.sender = "o3";
    Stele__PbftSigned one;
    assert_int_equal(pbft_sign(&c, keys[3], a, &one), STELE_OK);
    size_t n = 20000;
    Stele__PbftSigned **v = arena_calloc(a, n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = &one;
    Stele__PbftProof pf = STELE__PBFT_PROOF__INIT;
    pf.commits = v;
    pf.n_commits = n;
    Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT;
    vc.last_seq = 5;
    vc.last_digest = (ProtobufCBinaryData){32, d};
    vc.last_proof = &pf;
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
    m.view = 9;
    m.view_change = &vc;
    struct buf w;
    forge(3, &m, NULL, 0, &w);
    uint64_t t0 = clock_mono_ms();
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_false(NODES[1].b->vcs[3].have);
    assert_true(clock_mono_ms() - t0 < 1000); /* 20,000 verifications would take seconds */
    buf_release(&w);
    arena_destroy(a);
}

/* Envelopes in block `num` (>= 1) of orderer i. */
static size_t envelopes_in(int i, size_t num)
{
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, NODES[i].blocks[num - 1].data,
                                  NODES[i].blocks[num - 1].len, 0);
    size_t n = blk && blk->data ? blk->data->n_envelopes : 0;
    arena_destroy(a);
    return n;
}

/* Under load the primary proposes full blocks (max_message_count = 10 here) at once and holds
 * back a block that is not full; a lone envelope is proposed when batch_delay has passed, and
 * batch_timeout still caps the wait. */
static void primary_batches_under_load(void **state)
{
    (void)state;
    setup_all(NULL);
    struct pbft *p = NODES[0].b;
    p->p.cutter.batch_timeout_ms = 120000;
    p->batch_delay = 60000; /* nothing is proposed for being old during this part */
    /* 20 envelopes arrive one after the other, each announced as Broadcast does. */
    for (int k = 1; k <= 20; k++) {
        uint64_t now = pbft_now();
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, now);
        pbft_maybe_propose(p);
        deliver(all);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(NODES[i].n, 2);
        assert_int_equal(envelopes_in(i, 1), 10);
        assert_int_equal(envelopes_in(i, 2), 10);
    }
    /* Five more: not a full block, so the primary waits (and says until when). */
    uint64_t t0 = pbft_now();
    for (int k = 21; k <= 25; k++) {
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, t0);
        pbft_maybe_propose(p);
        deliver(all);
    }
    assert_int_equal(NODES[1].n, 2);
    assert_false(p->slot.have_pp);
    assert_true(p->propose_at >= t0 + 60000 && p->propose_at <= pbft_now() + 60000);
    /* Five more fill the block: proposed at once. */
    for (int k = 26; k <= 30; k++) {
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, pbft_now());
        pbft_maybe_propose(p);
        deliver(all);
    }
    assert_int_equal(NODES[1].n, 3);
    assert_int_equal(envelopes_in(1, 3), 10);

    /* A lone envelope with batch_delay = 100 ms: due at most 100 ms after it arrived, and
     * proposed then (the timer thread calls pbft_maybe_propose() at propose_at). */
    p->batch_delay = 100;
    t0 = pbft_now();
    for (int i = 0; i < N; i++)
        pool_env_at(i, 31, t0);
    pbft_maybe_propose(p);
    if (!p->slot.have_pp) {
        assert_true(p->propose_at > t0 && p->propose_at <= t0 + 100);
        uint64_t now = pbft_now();
        if (p->propose_at > now)
            clock_sleep_ms(p->propose_at - now);
        pbft_maybe_propose(p);
    }
    deliver(all);
    for (int i = 0; i < N; i++) {
        assert_int_equal(NODES[i].n, 4);
        assert_int_equal(envelopes_in(i, 4), 1);
    }

    /* batch_timeout below batch_delay bounds the wait. */
    p->batch_delay = 60000;
    p->p.cutter.batch_timeout_ms = 50;
    t0 = pbft_now();
    for (int i = 0; i < N; i++)
        pool_env_at(i, 32, t0);
    pbft_maybe_propose(p);
    assert_true(p->slot.have_pp || p->propose_at <= t0 + 50);
    assert_no_fork();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(prepared_proof_survives_a_failed_view, teardown_all),
        cmocka_unit_test_teardown(primary_proposal_survives_a_restart, teardown_all),
        cmocka_unit_test_teardown(bogus_new_view_is_ignored, teardown_all),
        cmocka_unit_test_teardown(junk_beside_a_vote_is_dropped, teardown_all),
        cmocka_unit_test_teardown(checkpoint_flood_does_not_stop_ordering, teardown_all),
        cmocka_unit_test_teardown(block_committed_by_one_then_lost_is_recovered, teardown_all),
        cmocka_unit_test_teardown(primary_behind_the_new_view_does_not_fork, teardown_all),
        cmocka_unit_test_teardown(votes_lost_before_the_new_view_are_resent, teardown_all),
        cmocka_unit_test_teardown(junk_proposals_are_not_held, teardown_all),
        cmocka_unit_test_teardown(oversized_certificate_refused_cheaply, teardown_all),
        cmocka_unit_test_teardown(primary_batches_under_load, teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
