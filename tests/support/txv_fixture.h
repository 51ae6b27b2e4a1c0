/*
 * txv_fixture.h — the fixture of test_txvalidate.c and test_txvalidate_mvcc.c: a channel of two
 * organisations whose CAs are real keys and whose members are real ECQV identities, a state
 * database and a block store in a temporary directory that hold the genesis block (its
 * chaincode definitions written by txvalidate_genesis()), a validator, builders for
 * transactions and read/write sets, and assertions on validation codes and on the state.
 *
 * Time: every transaction carries TXV_T0 unless a test says otherwise, and the default members
 * are valid from TXV_LONG_FROM for TXV_LONG_S seconds (2014 to 2141), so nothing here depends on
 * the wall clock except where a test asks for it.
 *
 * The helpers are `static inline` so that the two tests build whether or not CMakeLists.txt
 * links the .c files of tests/support into every test. NEEDSWORK: once it does (the library
 * stele_testsupport), move the bodies to a txv_fixture.c.
 */
#ifndef STELE_TXV_FIXTURE_H
#define STELE_TXV_FIXTURE_H

#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/blockhash.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/lifecycle.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "ledger/txvalidate.h"
#include "pb/pb.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXV_CHANNEL   "ch1"
#define TXV_T0        1800000000ull /* default transaction time, Unix seconds (2027-01-15) */
#define TXV_LONG_FROM 1400000000ull /* default members are valid from here ... */
#define TXV_LONG_S    4000000000u   /* ... for this many seconds */
#define TXV_CA1_ID    1             /* issuer id of Org1's CA */
#define TXV_CA2_ID    2             /* issuer id of Org2's CA */
#define TXV_MAX_E     4             /* endorsers a txv_tx may name */

/* A validation code by its short name: TXC(MVCC_READ_CONFLICT). */
#define TXC(name) STELE__TX_VALIDATION_CODE__##name

/* Everything a test works with. */
struct txv_fx {
    char *dir;                   /* temporary directory */
    struct statedb *db;          /* dir/main-state, holding block 0 */
    struct blockstore *bs;       /* dir/main-blocks, holding block 0 */
    struct crypto_key *ca1;      /* Org1's CA (trusted for Org1, issuer id TXV_CA1_ID) */
    struct crypto_key *ca2;      /* Org2's CA (trusted for Org2, issuer id TXV_CA2_ID) */
    struct crypto_key *rogue;    /* a CA no one trusts */
    struct msp *msp;             /* trusts ca1 and ca2 */
    struct test_identity client; /* Org1 client: the default creator */
    struct test_identity peer1;  /* Org1 peer: default endorser */
    struct test_identity peer1b; /* a second Org1 peer */
    struct test_identity peer2;  /* Org2 peer: default endorser */
    struct test_identity admin1; /* Org1 admin: may approve and commit definitions */
    struct test_identity admin2; /* Org2 admin */
    Stele__ChannelConfig *cfg;   /* organisations Org1 and Org2, the genesis definitions */
    struct txvalidator *v;       /* validator of TXV_CHANNEL on msp and cfg, 2 threads */
    struct arena *a;             /* envelopes, blocks and read/write sets of the test */
    char genesis_txid[ENVELOPE_TXID_LEN + 1]; /* tx_id of block 0's envelope */
};

/* The genesis definitions, deliberately not in name order. */
struct txv_def {
    const char *name, *version;
    uint64_t sequence;
    const char *policy;
};
static const struct txv_def txv_defs[] = {
    {"twice", "1.0", 1, "AND(Org1.peer, Org1.peer)"}, /* two distinct Org1 peers */
    {"cc", "1.0", 1, "AND(Org1.peer, Org2.peer)"},    /* the default chaincode */
    {"solo", "1.0", 1, "OR(Org1.peer, Org2.peer)"},   /* any one peer */
};
#define TXV_N_DEFS (sizeof txv_defs / sizeof *txv_defs)

/* Copies `len` octets into the fixture's arena. */
static inline ProtobufCBinaryData txv_keep(struct txv_fx *fx, const uint8_t *data, size_t len)
{
    uint8_t *p = len ? arena_memdup(fx->a, data, len) : arena_calloc(fx->a, 1, 1);
    assert_non_null(p);
    return (ProtobufCBinaryData){len, p};
}

/* A channel configuration of organisations Org1 and Org2 carrying the definitions `defs` (in
 * the arena; only what txvalidate_genesis() and the lifecycle rules read). */
static inline Stele__ChannelConfig *txv_config(struct arena *a, const struct txv_def *defs,
                                               size_t n)
{
    Stele__ChannelConfig *c = arena_calloc(a, 1, sizeof *c);
    Stele__ChaincodeDefinition **cc = arena_calloc(a, n ? n : 1, sizeof *cc);
    uint8_t *hash = arena_alloc(a, 32);
    assert_true(c && cc && hash);
    stele__channel_config__init(c);
    memset(hash, 0xab, 32);
    for (size_t i = 0; i < n; i++) {
        cc[i] = arena_calloc(a, 1, sizeof **cc);
        assert_non_null(cc[i]);
        stele__chaincode_definition__init(cc[i]);
        cc[i]->name = (char *)defs[i].name;
        cc[i]->version = (char *)defs[i].version;
        cc[i]->sequence = defs[i].sequence;
        cc[i]->package_hash = (ProtobufCBinaryData){32, hash};
        cc[i]->endorsement_policy = (char *)defs[i].policy;
    }
    static const char *const orgs[] = {"Org1", "Org2"};
    c->organisations = arena_calloc(a, 2, sizeof *c->organisations);
    assert_non_null(c->organisations);
    for (size_t i = 0; i < 2; i++) {
        c->organisations[i] = arena_calloc(a, 1, sizeof **c->organisations);
        assert_non_null(c->organisations[i]);
        stele__organisation_config__init(c->organisations[i]);
        c->organisations[i]->name = (char *)orgs[i];
    }
    c->n_organisations = 2;
    c->channel_id = (char *)TXV_CHANNEL;
    c->endorsement_version = TX_ENDORSEMENT_VERSION; /* as genesis builders write it */
    c->chaincodes = cc;
    c->n_chaincodes = n;
    return c;
}

/* Builds block statedb_height() over `envs` on top of the block store's head. */
static inline Stele__Block *txv_block(struct txv_fx *fx, const ProtobufCBinaryData *envs, size_t n)
{
    uint8_t prev[32];
    Stele__Block *b = NULL;
    blockstore_head_hash(fx->bs, prev);
    assert_int_equal(blockstore_height(fx->bs), statedb_height(fx->db));
    assert_int_equal(blockhash_block_build(fx->a, statedb_height(fx->db), prev, envs, n, &b),
                     STELE_OK);
    b->metadata->channel_id = (char *)TXV_CHANNEL;
    b->metadata->timestamp_ms = TXV_T0 * 1000;
    return b;
}

/* Applies `u` to the state and appends `b` (with `codes`) to the block store. */
static inline void txv_store(struct txv_fx *fx, Stele__Block *b, const struct statedb_update *u,
                             const uint8_t *codes)
{
    if (codes && b->data->n_envelopes)
        b->metadata->validation_codes =
            txv_keep(fx, codes, b->data->n_envelopes); /* as a committer would */
    assert_int_equal(statedb_apply(fx->db, u, NULL), STELE_OK);
    assert_int_equal(blockstore_append(fx->bs, b), STELE_OK);
}

/* The genesis block: one CONFIG envelope by the client carrying the definitions `defs`, which
 * txvalidate_genesis() writes to the state. Returns its status; on failure nothing is stored. */
static inline int txv_genesis(struct txv_fx *fx, const struct txv_def *defs, size_t n)
{
    Stele__ChannelConfig *cfg = fx->cfg = txv_config(fx->a, defs, n);
    size_t len = protobuf_c_message_get_packed_size(&cfg->base);
    uint8_t *data = arena_alloc(fx->a, len);
    assert_non_null(data);
    protobuf_c_message_pack(&cfg->base, data);
    struct envelope_params p = {.channel_id = TXV_CHANNEL,
                                .type = STELE__HEADER_TYPE__CONFIG,
                                .creator = fx->client.record->data,
                                .creator_len = fx->client.record->len,
                                .data = data,
                                .data_len = len,
                                .timestamp_ms = TXV_T0 * 1000};
    ProtobufCBinaryData env;
    assert_int_equal(envelope_build(&p, fx->client.key, &env, fx->genesis_txid), STELE_OK);
    ProtobufCBinaryData kept = txv_keep(fx, env.data, env.len);
    free(env.data);
    struct statedb_update *u = statedb_update_create(0);
    assert_non_null(u);
    int rc = txvalidate_genesis(cfg, fx->genesis_txid, u);
    if (rc == STELE_OK)
        txv_store(fx, txv_block(fx, &kept, 1), u, NULL);
    statedb_update_destroy(u);
    return rc;
}

/* Opens an empty state database and block store under fx->dir/`tag`-state and -blocks. */
static inline void txv_open_stores(struct txv_fx *fx, const char *tag)
{
    char *err = NULL;
    char *state_dir = arena_printf(fx->a, "%s/%s-state", fx->dir, tag);
    char *blocks_dir = arena_printf(fx->a, "%s/%s-blocks", fx->dir, tag);
    struct blockstore_options o = {.sync = BLOCKSTORE_SYNC_NONE};
    assert_int_equal(statedb_open(state_dir, false, &fx->db, &err), STELE_OK);
    assert_int_equal(blockstore_open(blocks_dir, &o, &fx->bs, &err), STELE_OK);
    assert_int_equal(statedb_height(fx->db), 0);
    assert_int_equal(blockstore_height(fx->bs), 0);
}

/* Starts the channel again on fresh stores (under `tag`) whose genesis carries `defs`.
 * Returns what txvalidate_genesis() returned. */
static inline int txv_restart(struct txv_fx *fx, const char *tag, const struct txv_def *defs,
                              size_t n)
{
    statedb_close(fx->db);
    blockstore_close(fx->bs);
    txv_open_stores(fx, tag);
    return txv_genesis(fx, defs, n);
}

/* Issues a member valid from TXV_LONG_FROM for TXV_LONG_S seconds. */
static inline void txv_member(const struct crypto_key *ca, uint64_t ca_id, const char *id,
                              const char *org, const char *role, struct test_identity *out)
{
    test_identity_issue(ca, ca_id, id, org, role, TXV_LONG_FROM, TXV_LONG_S, out);
}

/* Creates a validator of TXV_CHANNEL on `m` and channel configuration `cfg` (NULL: none) with
 * `threads` threads. */
static inline struct txvalidator *txv_validator(struct msp *m, const Stele__ChannelConfig *cfg,
                                                unsigned threads)
{
    struct txvalidate_config c = {
        .channel_id = TXV_CHANNEL, .msp = m, .threads = threads, .channel = cfg};
    struct txvalidator *v = NULL;
    assert_int_equal(txvalidate_create(&c, &v), STELE_OK);
    assert_non_null(v);
    return v;
}

static inline int txv_setup(void **state)
{
    struct txv_fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = test_tmpdir("txvalidate");
    assert_non_null(fx->dir);
    fx->a = arena_create(0);
    assert_non_null(fx->a);
    txv_open_stores(fx, "main");
    assert_int_equal(crypto_key_generate(&fx->ca1), STELE_OK);
    assert_int_equal(crypto_key_generate(&fx->ca2), STELE_OK);
    assert_int_equal(crypto_key_generate(&fx->rogue), STELE_OK);
    fx->msp = msp_create(0);
    assert_non_null(fx->msp);
    /* as a peer: the endorsements txv_build() signs are remembered (lib/crypto/sigcache.h), so
     * every test also shows that a remembered signature decides nothing about its signer */
    assert_int_equal(msp_enable_sigcache(fx->msp, 1024), STELE_OK);
    assert_int_equal(msp_add_ca(fx->msp, "Org1", TXV_CA1_ID, fx->ca1), STELE_OK);
    assert_int_equal(msp_add_ca(fx->msp, "Org2", TXV_CA2_ID, fx->ca2), STELE_OK);
    txv_member(fx->ca1, TXV_CA1_ID, "client0.org1", "Org1", "client", &fx->client);
    txv_member(fx->ca1, TXV_CA1_ID, "peer0.org1", "Org1", "peer", &fx->peer1);
    txv_member(fx->ca1, TXV_CA1_ID, "peer1.org1", "Org1", "peer", &fx->peer1b);
    txv_member(fx->ca2, TXV_CA2_ID, "peer0.org2", "Org2", "peer", &fx->peer2);
    txv_member(fx->ca1, TXV_CA1_ID, "admin.org1", "Org1", "admin", &fx->admin1);
    txv_member(fx->ca2, TXV_CA2_ID, "admin.org2", "Org2", "admin", &fx->admin2);
    assert_int_equal(txv_genesis(fx, txv_defs, TXV_N_DEFS), STELE_OK);
    fx->v = txv_validator(fx->msp, fx->cfg, 2); /* as kvledger.c sets it up */
    *state = fx;
    return 0;
}

static inline int txv_teardown(void **state)
{
    struct txv_fx *fx = *state;
    txvalidate_destroy(fx->v);
    statedb_close(fx->db);
    blockstore_close(fx->bs);
    test_identity_free(&fx->client);
    test_identity_free(&fx->peer1);
    test_identity_free(&fx->peer1b);
    test_identity_free(&fx->peer2);
    test_identity_free(&fx->admin1);
    test_identity_free(&fx->admin2);
    msp_destroy(fx->msp);
    crypto_key_destroy(fx->ca1);
    crypto_key_destroy(fx->ca2);
    crypto_key_destroy(fx->rogue);
    arena_destroy(fx->a);
    if (!getenv("STELE_KEEP_TEST_DIR"))
        test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* ---- read/write sets: every call adds to the last namespace of `rw` ---------------------- */

/* Appends `item` to the array *arr of *n pointers (in the arena). */
static inline void txv_push(struct arena *a, void ***arr, size_t *n, void *item)
{
    void **grown = arena_alloc(a, (*n + 1) * sizeof *grown);
    assert_non_null(grown);
    if (*n)
        memcpy(grown, *arr, *n * sizeof *grown);
    grown[(*n)++] = item;
    *arr = grown;
}

/* Adds namespace `ns` to `rw` (NULL: a new read/write set). */
static inline Stele__TxRwSet *txv_rw_ns(struct arena *a, Stele__TxRwSet *rw, const char *ns)
{
    if (!rw) {
        rw = arena_calloc(a, 1, sizeof *rw);
        assert_non_null(rw);
        stele__tx_rw_set__init(rw);
    }
    Stele__NsRwSet *s = arena_calloc(a, 1, sizeof *s);
    assert_non_null(s);
    stele__ns_rw_set__init(s);
    s->namespace_ = arena_strdup(a, ns);
    txv_push(a, (void ***)&rw->ns_rwsets, &rw->n_ns_rwsets, s);
    return rw;
}

/* A new read/write set of namespace `ns`. */
static inline Stele__TxRwSet *txv_rw(struct arena *a, const char *ns)
{
    return txv_rw_ns(a, NULL, ns);
}

static inline Stele__NsRwSet *txv_last_ns(Stele__TxRwSet *rw)
{
    assert_true(rw->n_ns_rwsets > 0);
    return rw->ns_rwsets[rw->n_ns_rwsets - 1];
}

/* A KVRead of `key` at version `ver` (NULL: the key was absent). */
static inline Stele__KVRead *txv_kvread(struct arena *a, const char *key,
                                        const struct statedb_version *ver)
{
    Stele__KVRead *r = arena_calloc(a, 1, sizeof *r);
    assert_non_null(r);
    stele__kvread__init(r);
    r->key = arena_strdup(a, key);
    if (ver) {
        r->version = arena_calloc(a, 1, sizeof *r->version);
        assert_non_null(r->version);
        stele__version__init(r->version);
        r->version->block_number = ver->block;
        r->version->tx_index = ver->tx;
    }
    return r;
}

/* Records a read of `key` at version (block, tx). */
static inline void txv_rw_read(struct arena *a, Stele__TxRwSet *rw, const char *key, uint64_t block,
                               uint32_t tx)
{
    Stele__NsRwSet *s = txv_last_ns(rw);
    struct statedb_version v = {block, tx};
    txv_push(a, (void ***)&s->reads, &s->n_reads, txv_kvread(a, key, &v));
}

/* Records a read of `key` that found nothing. */
static inline void txv_rw_read_absent(struct arena *a, Stele__TxRwSet *rw, const char *key)
{
    Stele__NsRwSet *s = txv_last_ns(rw);
    txv_push(a, (void ***)&s->reads, &s->n_reads, txv_kvread(a, key, NULL));
}

static inline void txv_rw_put(struct arena *a, Stele__TxRwSet *rw, const char *key,
                              const char *value, bool is_delete)
{
    Stele__NsRwSet *s = txv_last_ns(rw);
    Stele__KVWrite *w = arena_calloc(a, 1, sizeof *w);
    assert_non_null(w);
    stele__kvwrite__init(w);
    w->key = arena_strdup(a, key);
    w->is_delete = is_delete;
    if (value)
        w->value = (ProtobufCBinaryData){strlen(value), (uint8_t *)arena_strdup(a, value)};
    txv_push(a, (void ***)&s->writes, &s->n_writes, w);
}

/* Records a write of `value` to `key`. */
static inline void txv_rw_write(struct arena *a, Stele__TxRwSet *rw, const char *key,
                                const char *value)
{
    txv_rw_put(a, rw, key, value, false);
}

/* Records a delete of `key`. */
static inline void txv_rw_delete(struct arena *a, Stele__TxRwSet *rw, const char *key)
{
    txv_rw_put(a, rw, key, NULL, true);
}

/* Records a range read of [start, end) ("" end: to the end); keys follow with txv_range_key. */
static inline Stele__RangeRead *txv_rw_range(struct arena *a, Stele__TxRwSet *rw, const char *start,
                                             const char *end, bool exhausted)
{
    Stele__NsRwSet *s = txv_last_ns(rw);
    Stele__RangeRead *r = arena_calloc(a, 1, sizeof *r);
    assert_non_null(r);
    stele__range_read__init(r);
    r->start_key = arena_strdup(a, start);
    r->end_key = arena_strdup(a, end);
    r->exhausted = exhausted;
    txv_push(a, (void ***)&s->range_reads, &s->n_range_reads, r);
    return r;
}

/* Adds `key` at version (block, tx) to the keys range read `r` saw. */
static inline void txv_range_key(struct arena *a, Stele__RangeRead *r, const char *key,
                                 uint64_t block, uint32_t tx)
{
    struct statedb_version v = {block, tx};
    txv_push(a, (void ***)&r->reads, &r->n_reads, txv_kvread(a, key, &v));
}

/* ---- transactions ------------------------------------------------------------------------ */

/* What a transaction is made of; zero fields take the defaults. */
struct txv_tx {
    const struct test_identity *creator;              /* NULL: fx->client */
    const char *channel;                              /* NULL: TXV_CHANNEL */
    const char *chaincode;                            /* NULL: "cc" */
    const char *function;                             /* NULL: "invoke" */
    const ProtobufCBinaryData *args;                  /* NULL: one argument, "arg" */
    size_t n_args;                                    /* entries in args */
    const char *version;                              /* NULL: "1.0" */
    uint64_t sequence;                                /* 0: 1 */
    const struct test_identity *endorsers[TXV_MAX_E]; /* none: peer1 and peer2 */
    size_t n_endorsers;                               /* entries in endorsers */
    uint64_t ts_s;                                    /* 0: TXV_T0 */
    const Stele__TxRwSet *rwset;                      /* NULL: empty */
};

/* Ways txv_build_raw() spoils a transaction. */
enum {
    TXV_NO_TIMESTAMP = 1,         /* the header (proposal and payload alike) has no timestamp */
    TXV_BAD_ENDORSEMENT = 2,      /* the first endorsement's signature has a bit flipped */
    TXV_INFINITE_ENDORSEMENT = 4, /* the first endorsement's signature is txv_infinity_sig() */
    TXV_V1_ENDORSEMENTS = 8,      /* endorsements signed as endorsement_version 0 (v1) */
};

/* A signature anyone holding `k`'s secret d can make over `digest` (e) that is within range
 * and low-S but makes verification reach the point at infinity: r = -e/d mod n, s = 1, so
 * u1.G + u2.Q = e.G - e.G. OpenSSL fails on it with an error (not 0): it must still be
 * refused as a bad signature, never taken for OpenSSL failing. */
static inline void txv_infinity_sig(const struct crypto_key *k, const uint8_t digest[32],
                                    uint8_t sig[CRYPTO_SIG_LEN])
{
    uint8_t d[CRYPTO_SCALAR_LEN];
    assert_int_equal(crypto_key_scalar(k, d), STELE_OK);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *bd = BN_bin2bn(d, sizeof d, NULL), *e = BN_bin2bn(digest, 32, NULL), *r = BN_new();
    assert_true(g && ctx && bd && e && r);
    const BIGNUM *n = EC_GROUP_get0_order(g);
    assert_non_null(BN_mod_inverse(r, bd, n, ctx));
    assert_int_equal(BN_mod_mul(r, r, e, n, ctx), 1);
    assert_int_equal(BN_sub(r, n, r), 1);
    memset(sig, 0, CRYPTO_SIG_LEN);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    sig[CRYPTO_SIG_LEN - 1] = 1;
    explicit_bzero(d, sizeof d);
    BN_clear_free(bd);
    BN_free(e);
    BN_free(r);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
}

/* Fills the defaults of `t` into *out. */
static inline void txv_defaults(struct txv_fx *fx, const struct txv_tx *t, struct txv_tx *out)
{
    *out = *t;
    if (!out->creator)
        out->creator = &fx->client;
    if (!out->channel)
        out->channel = TXV_CHANNEL;
    if (!out->chaincode)
        out->chaincode = "cc";
    if (!out->function)
        out->function = "invoke";
    if (!out->args) {
        static const ProtobufCBinaryData arg = {3, (uint8_t *)"arg"};
        out->args = &arg;
        out->n_args = 1;
    }
    if (!out->version)
        out->version = "1.0";
    if (!out->sequence)
        out->sequence = 1;
    if (!out->n_endorsers) {
        out->endorsers[0] = &fx->peer1;
        out->endorsers[1] = &fx->peer2;
        out->n_endorsers = 2;
    }
    if (!out->ts_s)
        out->ts_s = TXV_T0;
}

/* The serialized Envelope of transaction `t` made by tx_build_endorsed() (in the fixture's
 * arena); its tx_id goes to `tx_id` (may be NULL). */
static inline ProtobufCBinaryData txv_build(struct txv_fx *fx, const struct txv_tx *t, char *tx_id)
{
    struct txv_tx d;
    txv_defaults(fx, t, &d);
    struct tx_signer creator = {d.creator->key, d.creator->record->data, d.creator->record->len,
                                NULL};
    struct tx_signer e[TXV_MAX_E];
    for (size_t i = 0; i < d.n_endorsers; i++)
        e[i] = (struct tx_signer){d.endorsers[i]->key, d.endorsers[i]->record->data,
                                  d.endorsers[i]->record->len, msp_sigcache(fx->msp)};
    struct tx_proposal_params p = {.channel_id = d.channel,
                                   .chaincode = d.chaincode,
                                   .function = d.function,
                                   .args = d.args,
                                   .n_args = d.n_args,
                                   .timestamp_ms = d.ts_s * 1000};
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    struct tx_result r = {.chaincode = d.chaincode,
                          .version = d.version,
                          .sequence = d.sequence,
                          .rwset = d.rwset,
                          .response = &resp};
    ProtobufCBinaryData out;
    char id[ENVELOPE_TXID_LEN + 1];
    assert_int_equal(tx_build_endorsed(&p, &creator, &r, e, d.n_endorsers, &out, id), STELE_OK);
    ProtobufCBinaryData kept = txv_keep(fx, out.data, out.len);
    free(out.data);
    if (tx_id)
        memcpy(tx_id, id, sizeof id);
    return kept;
}

/* Like txv_build(), step by step (tx.h's client and endorser calls), spoiled as `flags` say. */
static inline ProtobufCBinaryData txv_build_raw(struct txv_fx *fx, const struct txv_tx *t,
                                                unsigned flags)
{
    struct txv_tx d;
    txv_defaults(fx, t, &d);
    uint8_t nonce[24];
    char id[ENVELOPE_TXID_LEN + 1];
    assert_int_equal(crypto_random(nonce, sizeof nonce), STELE_OK);
    const struct buf *creator = d.creator->record;
    assert_int_equal(envelope_tx_id(nonce, sizeof nonce, creator->data, creator->len, id),
                     STELE_OK);
    Stele__Timestamp ts = STELE__TIMESTAMP__INIT;
    ts.seconds = (int64_t)d.ts_s;
    Stele__Header h = STELE__HEADER__INIT;
    h.channel_id = (char *)d.channel;
    h.tx_id = id;
    h.type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION;
    h.creator = (ProtobufCBinaryData){creator->len, creator->data};
    h.timestamp = (flags & TXV_NO_TIMESTAMP) ? NULL : &ts;
    h.nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
    Stele__ChaincodeInvocation inv = STELE__CHAINCODE_INVOCATION__INIT;
    inv.chaincode = (char *)d.chaincode;
    inv.function = (char *)d.function;
    inv.args = (ProtobufCBinaryData *)d.args;
    inv.n_args = d.n_args;
    Stele__Proposal prop = STELE__PROPOSAL__INIT;
    prop.header = &h;
    prop.invocation = &inv;
    struct buf pb, rb;
    buf_init(&pb);
    buf_init(&rb);
    assert_int_equal(pb_pack_buf(&prop.base, &pb), STELE_OK);
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    struct tx_result r = {.chaincode = d.chaincode,
                          .version = d.version,
                          .sequence = d.sequence,
                          .rwset = d.rwset,
                          .response = &resp};
    assert_int_equal(tx_response_payload_build(pb.data, pb.len, &r, &rb), STELE_OK);
    Stele__Endorsement e[TXV_MAX_E];
    const Stele__Endorsement *ep[TXV_MAX_E];
    uint8_t sigs[TXV_MAX_E][CRYPTO_SIG_LEN];
    unsigned version = flags & TXV_V1_ENDORSEMENTS ? 0 : TX_ENDORSEMENT_VERSION;
    for (size_t i = 0; i < d.n_endorsers; i++) {
        const struct buf *rec = d.endorsers[i]->record;
        assert_int_equal(tx_endorse(msp_sigcache(fx->msp), version, rb.data, rb.len, rec->data,
                                    rec->len, d.endorsers[i]->key, sigs[i]),
                         STELE_OK);
        stele__endorsement__init(&e[i]);
        e[i].endorser = (ProtobufCBinaryData){rec->len, rec->data};
        e[i].signature = (ProtobufCBinaryData){CRYPTO_SIG_LEN, sigs[i]};
        ep[i] = &e[i];
    }
    if (flags & TXV_BAD_ENDORSEMENT)
        sigs[0][CRYPTO_SIG_LEN / 4] ^= 0x10; /* in r */
    if (flags & TXV_INFINITE_ENDORSEMENT) {
        struct buf m; /* what tx_endorse() signs */
        uint8_t md[32];
        const struct buf *rec = d.endorsers[0]->record;
        buf_init(&m);
        assert_int_equal(tx_endorsement_message(&m, version, rb.data, rb.len, rec->data, rec->len),
                         STELE_OK);
        assert_int_equal(crypto_sha256(m.data, m.len, md), STELE_OK);
        txv_infinity_sig(d.endorsers[0]->key, md, sigs[0]);
        buf_release(&m);
    }
    ProtobufCBinaryData out;
    assert_int_equal(tx_envelope_build(pb.data, pb.len, rb.data, rb.len, ep, d.n_endorsers,
                                       d.creator->key, &out),
                     STELE_OK);
    ProtobufCBinaryData kept = txv_keep(fx, out.data, out.len);
    free(out.data);
    buf_release(&pb);
    buf_release(&rb);
    return kept;
}

/* A transaction of the default chaincode by the default members writing `value` to `key`. */
static inline ProtobufCBinaryData txv_put_tx(struct txv_fx *fx, const char *key, const char *value)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, "cc");
    txv_rw_write(fx->a, rw, key, value);
    return txv_build(fx, &(struct txv_tx){.rwset = rw}, NULL);
}

/* A transaction of `cc` endorsed by the n endorsers `e` writing `key`, as version `version`
 * (NULL: "1.0") and sequence `seq` (0: 1). */
static inline ProtobufCBinaryData txv_endorsed(struct txv_fx *fx, const char *cc, const char *key,
                                               const struct test_identity *const *e, size_t n,
                                               const char *version, uint64_t seq)
{
    Stele__TxRwSet *rw = txv_rw(fx->a, cc);
    txv_rw_write(fx->a, rw, key, "x");
    struct txv_tx t = {.chaincode = cc, .rwset = rw, .version = version, .sequence = seq};
    for (size_t i = 0; i < n; i++)
        t.endorsers[i] = e[i];
    t.n_endorsers = n;
    return txv_build(fx, &t, NULL);
}

/* An envelope with the payload of `env` whose header `mutate` changed, signed again by `key`
 * over the new payload bytes, so only the change is wrong. */
static inline ProtobufCBinaryData txv_resign(struct txv_fx *fx, ProtobufCBinaryData env,
                                             const struct crypto_key *key,
                                             void (*mutate)(Stele__Header *h))
{
    Stele__Envelope *e =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, fx->a, env.data, env.len, 0);
    assert_non_null(e);
    Stele__Payload *p = (Stele__Payload *)pb_unpack(&stele__payload__descriptor, fx->a,
                                                    e->payload.data, e->payload.len, 0);
    assert_non_null(p);
    assert_non_null(p->header);
    mutate(p->header);
    size_t plen;
    uint8_t *pbytes = pb_pack(&p->base, &plen);
    assert_non_null(pbytes);
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(crypto_sign(key, pbytes, plen, sig), STELE_OK);
    Stele__Envelope ne = STELE__ENVELOPE__INIT;
    ne.payload = (ProtobufCBinaryData){plen, pbytes};
    ne.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t len;
    uint8_t *bytes = pb_pack(&ne.base, &len);
    assert_non_null(bytes);
    ProtobufCBinaryData kept = txv_keep(fx, bytes, len);
    free(bytes);
    free(pbytes);
    return kept;
}

/* A copy of envelope `env` with one bit of its signature flipped. */
static inline ProtobufCBinaryData txv_flip_signature(struct txv_fx *fx, ProtobufCBinaryData env)
{
    Stele__Envelope *e =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, fx->a, env.data, env.len, 0);
    assert_non_null(e);
    assert_int_equal(e->signature.len, CRYPTO_SIG_LEN);
    e->signature.data[CRYPTO_SIG_LEN / 4] ^= 0x10; /* in r */
    size_t len;
    uint8_t *bytes = pb_pack(&e->base, &len);
    assert_non_null(bytes);
    ProtobufCBinaryData kept = txv_keep(fx, bytes, len);
    free(bytes);
    return kept;
}

/* ---- validating and committing ----------------------------------------------------------- */

/* Validates `envs` as the next block with `v` into *u (created here) and `codes`, failing the
 * test unless txvalidate_block() returns STELE_OK. Returns the block (not stored). */
static inline Stele__Block *txv_validate(struct txv_fx *fx, struct txvalidator *v,
                                         const ProtobufCBinaryData *envs, size_t n, uint8_t *codes,
                                         struct statedb_update **u)
{
    Stele__Block *b = txv_block(fx, envs, n);
    *u = statedb_update_create(b->header->number);
    assert_non_null(*u);
    char *err = NULL;
    int rc = txvalidate_block(v, fx->db, fx->bs, b, codes, *u, &err);
    if (rc != STELE_OK)
        fail_msg("txvalidate_block: %s: %s", stele_strerror(rc), err ? err : "");
    assert_null(err);
    return b;
}

/* Validates `envs` as the next block with fx->v, applies the update to the state and appends
 * the block to the store, as a committer does. Returns the block's number. */
static inline uint64_t txv_commit(struct txv_fx *fx, const ProtobufCBinaryData *envs, size_t n,
                                  uint8_t *codes)
{
    struct statedb_update *u = NULL;
    Stele__Block *b = txv_validate(fx, fx->v, envs, n, codes, &u);
    txv_store(fx, b, u, codes);
    statedb_update_destroy(u);
    return b->header->number;
}

/* Fails unless codes[0..n) are want[0..n), naming them all. */
static inline void txv_expect_codes_n(const uint8_t *codes, const int *want, size_t n)
{
    bool same = true;
    for (size_t i = 0; i < n; i++)
        same = same && codes[i] == want[i];
    if (same)
        return;
    char got[8192] = "", exp[8192] = "";
    for (size_t i = 0; i < n; i++) {
        size_t gl = strlen(got), el = strlen(exp);
        snprintf(got + gl, sizeof got - gl, "%s%s", i ? " " : "", txvalidate_code_name(codes[i]));
        snprintf(exp + el, sizeof exp - el, "%s%s", i ? " " : "",
                 txvalidate_code_name((unsigned)want[i]));
    }
    fail_msg("validation codes\n   got: %s\n  want: %s", got, exp);
}
#define TXV_EXPECT_CODES(codes, ...)                                    \
    do {                                                                \
        const int want_[] = {__VA_ARGS__};                              \
        txv_expect_codes_n(codes, want_, sizeof want_ / sizeof *want_); \
    } while (0)

/* Fails unless `key` of `ns` holds `value` at version (block, tx). */
static inline void txv_expect_value(struct txv_fx *fx, const char *ns, const char *key,
                                    const char *value, uint64_t block, uint32_t tx)
{
    struct buf b;
    struct statedb_version ver;
    buf_init(&b);
    int rc = statedb_get(fx->db, ns, key, &b, &ver);
    if (rc != STELE_OK)
        fail_msg("%s/%s: %s, want \"%s\"", ns, key, stele_strerror(rc), value);
    assert_int_equal(b.len, strlen(value));
    assert_memory_equal(b.data, value, b.len);
    assert_int_equal(ver.block, block);
    assert_int_equal(ver.tx, tx);
    buf_release(&b);
}

/* Fails unless `key` of `ns` is absent. */
static inline void txv_expect_absent(struct txv_fx *fx, const char *ns, const char *key)
{
    assert_int_equal(statedb_get(fx->db, ns, key, NULL, NULL), STELE_ERR_NOT_FOUND);
}

static inline bool txv_collect_key(void *ctx, const char *key, const uint8_t *value, size_t len,
                                   const struct statedb_version *ver)
{
    struct buf *b = ctx;
    (void)value, (void)len, (void)ver;
    assert_int_equal(buf_printf(b, "%s%s", b->len ? "," : "", key), STELE_OK);
    return true;
}

/* Fails unless the keys of `ns` are exactly `keys` (comma-separated, in order). */
static inline void txv_expect_keys(struct txv_fx *fx, const char *ns, const char *keys)
{
    struct buf b;
    buf_init(&b);
    assert_int_equal(statedb_range(fx->db, ns, "", "", 0, txv_collect_key, &b, NULL), STELE_OK);
    assert_string_equal(b.len ? (const char *)b.data : "", keys);
    buf_release(&b);
}

#endif
