/*
 * test_orderer_core.c — the orderer's core pieces without the network: the consensus registry
 * and the solo plug-in through its ops (batching, batch timeout, proofs, flush on stop), and the
 * chain (genesis checks, tx_id claims, waiting for heights, restart).
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "orderer/chain.h"
#include "orderer/channel.h"
#include "orderer/consensus/consensus.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake core for the plug-in ---- */

struct core {
    pthread_mutex_t mu;
    uint64_t height;
    uint8_t head[32];
    size_t sizes[64]; /* envelopes per delivered block */
    uint64_t cut_at_ms[64];
    size_t n;
    struct crypto_key *key;
    bool proofs_ok; /* every block linked, hashed and signed as expected */
};

static const uint8_t zero_hash[32]; /* solo does not look at tx_id and hash */

static void core_head(void *arg, uint64_t *height, uint8_t hash[32])
{
    struct core *c = arg;
    pthread_mutex_lock(&c->mu);
    *height = c->height;
    memcpy(hash, c->head, 32);
    pthread_mutex_unlock(&c->mu);
}

static int core_deliver(void *arg, const Stele__Block *b)
{
    struct core *c = arg;
    uint8_t hash[32];
    struct arena *a = arena_create(0);
    pthread_mutex_lock(&c->mu);
    /* Runs on the plug-in's thread: record failures rather than assert here. */
    if (b->header->number != c->height || memcmp(b->header->previous_hash.data, c->head, 32) ||
        blockhash_check_data(b) != STELE_OK || blockhash_header_pb(b->header, hash) != STELE_OK)
        c->proofs_ok = false;
    Stele__SoloProof *p = (Stele__SoloProof *)pb_unpack(&stele__solo_proof__descriptor, a,
                                                        b->metadata->finality_proof.data,
                                                        b->metadata->finality_proof.len, 0);
    if (!p || strcmp(p->node_id, "o1") != 0 || strcmp(b->metadata->consensus_type, "solo") != 0 ||
        strcmp(b->metadata->channel_id, "ch1") != 0 ||
        crypto_verify_digest(c->key, hash, p->signature.data, p->signature.len) != STELE_OK)
        c->proofs_ok = false;
    memcpy(c->head, hash, 32);
    c->sizes[c->n] = b->data->n_envelopes;
    c->cut_at_ms[c->n++] = clock_mono_ms();
    c->height++;
    pthread_mutex_unlock(&c->mu);
    arena_destroy(a);
    return STELE_OK;
}

static size_t core_blocks(struct core *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static struct consensus *solo(struct core *c, uint64_t timeout_ms)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->height = 1; /* as if the genesis block were there */
    c->proofs_ok = true;
    assert_int_equal(crypto_key_generate(&c->key), STELE_OK);
    struct consensus_params p = {
        .node_id = "o1",
        .channel_id = "ch1",
        .cutter = {.max_message_count = 4,
                   .preferred_max_bytes = 1000,
                   .absolute_max_bytes = 5000,
                   .batch_timeout_ms = timeout_ms},
        .signer = c->key,
    };
    struct consensus_callbacks cb = {
        .arg = c, .chain_head = core_head, .deliver_block = core_deliver};
    struct consensus *s = NULL;
    assert_int_equal(consensus_create("solo", &p, &cb, &s, NULL), STELE_OK);
    assert_string_equal(consensus_name(s), "solo");
    return s;
}

static void registry_by_name(void **state)
{
    (void)state;
    assert_non_null(consensus_find("solo"));
    assert_non_null(consensus_find("pbft"));
    assert_null(consensus_find("raft"));
    assert_null(consensus_find(NULL));
    char names[64];
    consensus_names(names, sizeof names);
    assert_string_equal(names, "solo, pbft");
    struct consensus *c = (struct consensus *)1;
    char *err = NULL;
    struct consensus_params p = {0};
    struct consensus_callbacks cb = {0};
    assert_int_equal(consensus_create("raft", &p, &cb, &c, &err), STELE_ERR_CONFIG);
    assert_null(c);
    assert_non_null(strstr(err, "raft"));
    assert_non_null(strstr(err, "solo"));
    free(err);
    consensus_destroy(NULL);
}

static void solo_cuts_by_count_and_timeout(void **state)
{
    (void)state;
    struct core c;
    struct consensus *s = solo(&c, 100);
    uint8_t env[100];
    memset(env, 'e', sizeof env);
    assert_int_equal(consensus_order(s, env, sizeof env, "tx", zero_hash),
                     STELE_ERR_UNAVAILABLE); /* not started */
    assert_int_equal(consensus_start(s), STELE_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(consensus_order(s, env, sizeof env, "tx", zero_hash), STELE_OK);
    uint64_t t0 = clock_mono_ms();
    /* 4 + 4 by count at once, the ninth by the batch timeout. */
    for (int i = 0; i < 300 && core_blocks(&c) < 3; i++)
        clock_sleep_ms(5);
    assert_int_equal(core_blocks(&c), 3);
    assert_int_equal(c.sizes[0], 4);
    assert_int_equal(c.sizes[1], 4);
    assert_int_equal(c.sizes[2], 1);
    assert_true(c.cut_at_ms[2] - t0 >= 80);
    /* A big envelope goes alone; absolute max refused. */
    uint8_t *big = calloc(1, 5001);
    assert_int_equal(consensus_order(s, big, 1500, "tx", zero_hash), STELE_OK);
    assert_int_equal(consensus_order(s, big, 5001, "tx", zero_hash), STELE_ERR_TOO_BIG);
    free(big);
    for (int i = 0; i < 300 && core_blocks(&c) < 4; i++)
        clock_sleep_ms(5);
    assert_int_equal(c.sizes[3], 1);
    assert_true(c.proofs_ok);
    consensus_destroy(s);
    crypto_key_destroy(c.key);
    pthread_mutex_destroy(&c.mu);
}

static void solo_stop_flushes_accepted(void **state)
{
    (void)state;
    struct core c;
    struct consensus *s = solo(&c, 3600000); /* the timeout would never fire */
    assert_int_equal(consensus_start(s), STELE_OK);
    uint8_t env[10] = {1};
    for (int i = 0; i < 3; i++)
        assert_int_equal(consensus_order(s, env, sizeof env, "tx", zero_hash), STELE_OK);
    consensus_stop(s);
    assert_int_equal(core_blocks(&c), 1);
    assert_int_equal(c.sizes[0], 3);
    assert_true(c.proofs_ok);
    assert_int_equal(consensus_order(s, env, sizeof env, "tx", zero_hash), STELE_ERR_UNAVAILABLE);
    consensus_stop(s); /* idempotent */
    consensus_destroy(s);
    crypto_key_destroy(c.key);
    pthread_mutex_destroy(&c.mu);
}

/* ---- the chain ---- */

/* Writes a block `number` of channel `ch` holding the one "envelope" `content` to `path`. */
static void write_block(const char *path, const char *ch, uint64_t number, const char *content)
{
    struct arena *a = arena_create(0);
    static const uint8_t zero[32];
    ProtobufCBinaryData env = {strlen(content), (uint8_t *)content};
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(a, number, zero, &env, 1, &b), STELE_OK);
    b->metadata->channel_id = (char *)ch;
    struct buf out;
    buf_init(&out);
    assert_int_equal(pb_pack_buf(&b->base, &out), STELE_OK);
    assert_int_equal(test_write_file(path, out.data, out.len), 0);
    buf_release(&out);
    arena_destroy(a);
}

/* Writes a genesis block of channel `ch` (solo, orderer0 holding `key`) cutting blocks of
 * `count` envelopes to `path`. */
static void write_genesis(const char *path, const char *ch, struct crypto_key *key, uint32_t count)
{
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *c = test_channel_config(a, ch, "solo", &key, 1, key);
    c->batch->max_message_count = count;
    struct buf out;
    buf_init(&out);
    assert_int_equal(genesis_build(c, key, (const uint8_t *)"me", 2, 0, &out, NULL), STELE_OK);
    assert_int_equal(test_write_file(path, out.data, out.len), 0);
    buf_release(&out);
    arena_destroy(a);
}

/* A transaction envelope with a fresh tx_id (not signed by anyone the chain cares about). */
static ProtobufCBinaryData tx(struct crypto_key *k, char id[65])
{
    uint8_t pub[33];
    crypto_key_public_compressed(k, pub);
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                .creator = pub,
                                .creator_len = sizeof pub};
    ProtobufCBinaryData e;
    assert_int_equal(envelope_build(&p, k, &e, id), STELE_OK);
    return e;
}

struct waiter {
    struct chain *c;
    uint64_t number;
    bool got;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->got = chain_wait(w->c, w->number, 10000);
    return NULL;
}

static void chain_genesis_claims_and_waits(void **state)
{
    (void)state;
    char *dir = test_tmpdir("chain");
    char store[512], gen[512], bad[512];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(gen, sizeof gen, "%s/genesis.block", dir);
    snprintf(bad, sizeof bad, "%s/bad.block", dir);
    struct chain_options o = {.dir = store, .channel_id = "ch1", .sync = BLOCKSTORE_SYNC_NONE};
    struct chain *c = NULL;
    char *err = NULL;

    /* No genesis file, a genesis block of another channel, a block that is not number 0, a
     * block 0 that carries no channel configuration, bytes that are no block. */
    struct crypto_key *k;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "genesis"));
    free(err);
    write_genesis(bad, "other", k, 10);
    o.genesis_file = bad;
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "the genesis block is of channel other, not of channel ch1"));
    free(err);
    write_block(bad, "ch1", 3, "config");
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "block 3 is not a genesis block (number 0)"));
    free(err);
    write_block(bad, "ch1", 0, "config");
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "envelope is malformed"));
    free(err);
    assert_int_equal(test_write_file(bad, "garbage", 7), 0);
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    free(err);

    write_genesis(gen, "ch1", k, 10);
    o.genesis_file = gen;
    assert_int_equal(chain_open(&o, &c, &err), STELE_OK);
    assert_int_equal(chain_height(c), 1);
    assert_string_equal(chain_config(c)->channel_id, "ch1");
    assert_int_equal(chain_config(c)->batch->max_message_count, 10);
    assert_string_equal(chain_config(c)->orderers[0]->node_id, "orderer0");

    /* Claims: a second claim is a replay until the block is in; then the index refuses it. */
    char id1[65], id2[65];
    ProtobufCBinaryData e[2] = {tx(k, id1), tx(k, id2)};
    assert_int_equal(chain_claim_tx(c, id1), STELE_OK);
    assert_int_equal(chain_claim_tx(c, id1), STELE_ERR_REPLAY);
    assert_int_equal(chain_claim_tx(c, id2), STELE_OK);
    chain_unclaim_tx(c, id2);
    assert_int_equal(chain_claim_tx(c, id2), STELE_OK);

    struct waiter w = {.c = c, .number = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
    assert_false(chain_wait(c, 1, 20));
    uint64_t h;
    uint8_t head[32];
    chain_head(c, &h, head);
    struct arena *a = arena_create(0);
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(a, h, head, e, 2, &b), STELE_OK);
    assert_int_equal(chain_append(c, b), STELE_OK);
    pthread_join(t, NULL);
    assert_true(w.got);
    assert_int_equal(chain_claim_tx(c, id1), STELE_ERR_REPLAY);
    assert_int_equal(chain_claim_tx(c, id2), STELE_ERR_REPLAY);

    /* Shutdown wakes waiters with false. */
    w = (struct waiter){.c = c, .number = 5};
    assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
    clock_sleep_ms(20);
    chain_shutdown(c);
    pthread_join(t, NULL);
    assert_false(w.got);
    chain_close(c);

    /* Reopened: the height, and the tx_ids still refused (from the store's index). */
    assert_int_equal(chain_open(&o, &c, &err), STELE_OK);
    assert_int_equal(chain_height(c), 2);
    assert_int_equal(chain_claim_tx(c, id1), STELE_ERR_REPLAY);
    chain_close(c);
    o.genesis_file = NULL; /* optional once the store has blocks */
    assert_int_equal(chain_open(&o, &c, &err), STELE_OK);
    assert_int_equal(chain_config(c)->batch->max_message_count, 10); /* from the store */
    chain_close(c);
    /* A store of another chain or channel is refused, not served. */
    write_genesis(bad, "ch1", k, 11);
    o.genesis_file = bad;
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "another genesis block"));
    free(err);
    o.genesis_file = NULL;
    o.channel_id = "ch2";
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "another channel"));
    free(err);

    free(e[0].data);
    free(e[1].data);
    arena_destroy(a);
    crypto_key_destroy(k);
    test_rmtree(dir);
    free(dir);
}

/* ---- the orderer against its channel's configuration ---- */

static int refuse_all(void *arg, const Stele__ChannelConfig *cfg, char **errmsg)
{
    *(bool *)arg = strcmp(cfg->channel_id, "ch1") == 0;
    *errmsg = strdup("not this channel");
    return STELE_ERR_CONFIG;
}

/* A refused genesis block never reaches the store: the operator can give another one. */
static void chain_refused_genesis_leaves_store_empty(void **state)
{
    (void)state;
    char *dir = test_tmpdir("chain-refused");
    char store[512], gen[512];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(gen, sizeof gen, "%s/genesis.block", dir);
    struct crypto_key *k;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    write_genesis(gen, "ch1", k, 10);
    bool seen = false;
    struct chain_options o = {.dir = store,
                              .genesis_file = gen,
                              .channel_id = "ch1",
                              .sync = BLOCKSTORE_SYNC_NONE,
                              .accept = refuse_all,
                              .accept_arg = &seen};
    struct chain *c = NULL;
    char *err = NULL;
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG);
    assert_string_equal(err, "not this channel");
    assert_true(seen);
    free(err);
    o.accept = NULL;
    o.genesis_file = NULL;
    assert_int_equal(chain_open(&o, &c, &err), STELE_ERR_CONFIG); /* still empty */
    assert_non_null(strstr(err, "is empty"));
    free(err);
    crypto_key_destroy(k);
    test_rmtree(dir);
    free(dir);
}

/* Claims race with appends: several threads claim the same tx_ids over and over while their
 * blocks are appended (which drops the claims); each tx_id must be granted exactly once. */
#define RACE_TXS     240
#define RACE_PER_BLK 12
#define RACE_THREADS 4

struct race {
    struct chain *c;
    char ids[RACE_TXS][65];
    ProtobufCBinaryData envs[RACE_TXS];
    atomic_int granted[RACE_TXS];
    atomic_bool done;
};

static void *race_claimer(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->done))
        for (size_t i = 0; i < RACE_TXS; i++)
            if (chain_claim_tx(r->c, r->ids[i]) == STELE_OK)
                atomic_fetch_add(&r->granted[i], 1);
    return NULL;
}

static void chain_claims_race_appends(void **state)
{
    (void)state;
    char *dir = test_tmpdir("chain-race");
    char store[512], gen[512];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(gen, sizeof gen, "%s/genesis.block", dir);
    struct crypto_key *k;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    write_genesis(gen, "ch1", k, 10);
    struct chain_options o = {
        .dir = store, .genesis_file = gen, .channel_id = "ch1", .sync = BLOCKSTORE_SYNC_NONE};
    struct race *r = calloc(1, sizeof *r);
    assert_int_equal(chain_open(&o, &r->c, NULL), STELE_OK);
    for (size_t i = 0; i < RACE_TXS; i++)
        r->envs[i] = tx(k, r->ids[i]);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_claimer, r), 0);
    struct arena *a = arena_create(0);
    for (size_t first = 0; first < RACE_TXS; first += RACE_PER_BLK) {
        for (size_t i = first; i < first + RACE_PER_BLK; i++)
            while (atomic_load(&r->granted[i]) == 0) /* ordered only once claimed */
                clock_sleep_ms(1);
        uint64_t h;
        uint8_t head[32];
        Stele__Block *b;
        chain_head(r->c, &h, head);
        assert_int_equal(blockhash_block_build(a, h, head, &r->envs[first], RACE_PER_BLK, &b),
                         STELE_OK);
        assert_int_equal(chain_append(r->c, b), STELE_OK);
        arena_reset(a);
    }
    clock_sleep_ms(20); /* more rounds against the store alone */
    atomic_store(&r->done, true);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < RACE_TXS; i++) {
        if (atomic_load(&r->granted[i]) != 1)
            fail_msg("tx %zu granted %d times", i, atomic_load(&r->granted[i]));
        free(r->envs[i].data);
    }
    arena_destroy(a);
    crypto_key_destroy(k);
    chain_close(r->c);
    free(r);
    test_rmtree(dir);
    free(dir);
}

static void expect_refusal(const struct orderer_config *cfg, const struct enrolment *self,
                           const Stele__ChannelConfig *ch, const char *msg)
{
    char *err = NULL;
    assert_int_equal(orderer_channel_check(cfg, self, ch, &err), STELE_ERR_CONFIG);
    if (!err || strcmp(err, msg) != 0)
        fail_msg("message\n  %s\nexpected\n  %s", err ? err : "(none)", msg);
    free(err);
}

static void orderer_must_belong_to_its_channel(void **state)
{
    (void)state;
    struct crypto_key *ca, *keys[4], *other;
    assert_int_equal(crypto_key_generate(&ca), STELE_OK);
    assert_int_equal(crypto_key_generate(&other), STELE_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(crypto_key_generate(&keys[i]), STELE_OK);
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *ch = test_channel_config(a, "ch1", "pbft", keys, 4, ca);
    struct orderer_config cfg = {.node_id = "orderer2",
                                 .identity_dir = "ids/orderer2",
                                 .channel_id = "ch1",
                                 .genesis_file = "net/genesis.block",
                                 .consensus = {.type = "pbft"},
                                 .batch = {500, 2000, 2 << 20, 10 << 20, {0, 0}}};
    struct enrolment self = {.key = keys[2]};
    assert_int_equal(orderer_channel_check(&cfg, &self, ch, NULL), STELE_OK);

    cfg.consensus.type = "solo";
    expect_refusal(&cfg, &self, ch,
                   "consensus.type is solo but the genesis block of channel ch1 "
                   "(net/genesis.block) says pbft: a channel's consensus is fixed by its genesis "
                   "block");
    cfg.consensus.type = "pbft";
    cfg.node_id = "orderer7";
    expect_refusal(&cfg, &self, ch,
                   "node_id orderer7 is not one of the orderers of channel ch1 in "
                   "net/genesis.block (orderer0, orderer1, orderer2, orderer3): an orderer "
                   "serves only a channel whose genesis block lists it; give it the genesis "
                   "block of its own network or correct node_id");
    cfg.node_id = "orderer2";
    self.key = other;
    char *err = NULL;
    assert_int_equal(orderer_channel_check(&cfg, &self, ch, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "net/genesis.block lists orderer orderer2 with public key "));
    assert_non_null(strstr(err, "but identity_dir ids/orderer2 holds key "));
    free(err);
    self.key = keys[2];

    /* A batch section written out must match; an absent one takes the genesis block's. */
    cfg.batch.pos.line = 12;
    cfg.genesis_file = NULL;
    expect_refusal(&cfg, &self, ch,
                   "the batch section (line 12) differs from the batch parameters of channel ch1 "
                   "in block 0 of data_dir (max_message_count 10, batch_timeout 50ms, "
                   "preferred_max_bytes 16384, absolute_max_bytes 65536): the genesis block "
                   "decides them; remove the section or make it match");
    cfg.batch = (struct batch_config){10, 50, 16 << 10, 64 << 10, {12, 1}};
    assert_int_equal(orderer_channel_check(&cfg, &self, ch, NULL), STELE_OK);
    cfg.limits.max_message = 64 << 10;
    expect_refusal(&cfg, &self, ch,
                   "limits.max_message (65536) must exceed the channel's absolute_max_bytes "
                   "(65536, from block 0 of data_dir): blocks and headers need room");
    cfg.limits.max_message = 0;

    /* A configuration that lists no orderer lets any node id serve. */
    ch->n_orderers = 0;
    ch->consensus_type = "pow";
    cfg.consensus.type = "pow";
    cfg.node_id = "miner9";
    assert_int_equal(orderer_channel_check(&cfg, &self, ch, NULL), STELE_OK);

    /* Genesis trust: each organisation's CA key, for that organisation only. */
    struct orderer_auth_config none = {0};
    struct orderer_auth *auth;
    assert_int_equal(orderer_auth_create(&none, &auth, NULL), STELE_OK);
    assert_int_equal(orderer_channel_trust(ch, auth, NULL), STELE_OK);
    struct test_identity member, outsider;
    test_identity_issue(ca, 0, "client1", "Org1", "client", 0, 3600, &member);
    test_identity_issue(ca, 0, "client9", "Org9", "client", 0, 3600, &outsider);
    static const uint8_t msg[] = "payload";
    uint8_t sig[CRYPTO_SIG_LEN];
    const char *why = NULL;
    assert_int_equal(crypto_sign(member.key, msg, sizeof msg, sig), STELE_OK);
    assert_int_equal(orderer_auth_check(auth, ORDERER_AUTH_BROADCAST, member.record->data,
                                        member.record->len, msg, sizeof msg, sig, sizeof sig, &why),
                     STELE_OK);
    assert_int_equal(crypto_sign(outsider.key, msg, sizeof msg, sig), STELE_OK);
    assert_int_equal(orderer_auth_check(auth, ORDERER_AUTH_BROADCAST, outsider.record->data,
                                        outsider.record->len, msg, sizeof msg, sig, sizeof sig,
                                        &why),
                     STELE_ERR_PERMISSION);
    assert_string_equal(why, "creator's identity is not issued by a CA this orderer trusts");
    orderer_auth_destroy(auth);
    ch->n_organisations = 0;
    assert_int_equal(orderer_auth_create(&none, &auth, NULL), STELE_OK);
    assert_int_equal(orderer_channel_trust(ch, auth, &err), STELE_ERR_CONFIG);
    assert_non_null(strstr(err, "membership.cas lists no CA and the genesis block of channel ch1 "
                                "lists no organisation"));
    free(err);
    orderer_auth_destroy(auth);

    test_identity_free(&member);
    test_identity_free(&outsider);
    arena_destroy(a);
    for (int i = 0; i < 4; i++)
        crypto_key_destroy(keys[i]);
    crypto_key_destroy(ca);
    crypto_key_destroy(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_by_name),
        cmocka_unit_test(solo_cuts_by_count_and_timeout),
        cmocka_unit_test(solo_stop_flushes_accepted),
        cmocka_unit_test(chain_genesis_claims_and_waits),
        cmocka_unit_test(chain_refused_genesis_leaves_store_empty),
        cmocka_unit_test(orderer_must_belong_to_its_channel),
        cmocka_unit_test(chain_claims_race_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
