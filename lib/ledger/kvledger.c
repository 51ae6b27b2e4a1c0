/* kvledger.c — a peer's ledger: joining, committing and replaying blocks (see kvledger.h). */
#include "ledger/kvledger.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/fsdir.h"
#include "base/log.h"
#include "base/status.h"
#include "base/testhook.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/blockhash.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/finality.h"
#include "ledger/genesis.h"
#include "ledger/pbft_msg.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "ledger/txvalidate.h"
#include "pb/pb.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct kvledger {
    struct blockstore *bs;     /* blocks/ */
    struct statedb *db;        /* state/ */
    struct arena *cfg_arena;   /* holds cfg */
    Stele__ChannelConfig *cfg; /* from block 0 */
    char *genesis_tx_id;       /* tx_id of the genesis envelope (in cfg_arena) */
    struct finality finality;  /* checks delivered blocks */
    int lock_fd;               /* flock on the data directory, held while open */
    struct txvalidator *v;     /* validates transactions */
    struct msp *msp;           /* the caller's; gets the ledger's CRLs (install_crl()) */
    struct msp *also_msp;      /* the caller's other one, or NULL: gets them too */
    atomic_bool failed;        /* a disk error: no more commits (read by any thread) */

    /* Counters since kvledger_open() (kvledger_blocks_committed(), kvledger_tx_committed()):
     * written by the committer alone, one relaxed add per event, read by any thread. */
    atomic_uint_fast64_t blocks_committed; /* blocks kvledger_commit() published */
    atomic_uint_fast64_t tx_codes[256];    /* their transactions, by validation code */

    pthread_mutex_t mu;   /* guards the fields below */
    pthread_cond_t grown; /* height grew, or shutdown */
    uint64_t height;      /* committed blocks */
    uint8_t head[32];     /* header hash of block height-1 */
    uint8_t prev[32];     /* its previous_hash */
    uint8_t state[32];    /* state hash after block height-1 */
    bool shutdown;        /* kvledger_shutdown() was called */
};

/* Installs a CRL the ledger holds (_lifecycle crl/...) in the MSP that validates the next
 * blocks, and in the caller's other MSP if any (where a CRL file of the peer's own may be
 * newer: said in the log, as that peer's services then refuse more than the others'; its
 * validation follows the ledger alone). Returns STELE_OK or the error that kept it out of the
 * validation MSP (the validator admitted it, so only NOMEM and the like): the ledger then
 * stops, as a peer that validated on without it would judge differently from the others. */
static int install_crl(struct kvledger *l, const char *key, const uint8_t *value, size_t len)
{
    char *err = NULL;
    if (l->also_msp) {
        int rc2 = msp_set_crl(l->also_msp, value, len, &err);
        if (rc2 == STELE_ERR_STATE)
            log_warn("ledger",
                     "the CRL %s of the ledger is older than a CRL file this peer installed: %s; "
                     "this peer's services refuse more than the others' do (validation follows "
                     "the ledger)",
                     key, err ? err : "");
        else if (rc2)
            log_error("ledger", "cannot install the CRL %s of the ledger for the services: %s", key,
                      err ? err : stele_strerror(rc2));
        free(err);
        err = NULL;
    }
    int rc = msp_set_crl(l->msp, value, len, &err);
    if (rc == STELE_OK)
        log_info("ledger", "installed the CRL %s%s of the ledger", LIFECYCLE_NS "/", key);
    else if (rc != STELE_ERR_STATE)
        log_error("ledger", "cannot install the CRL %s of the ledger: %s", key,
                  err ? err : stele_strerror(rc));
    free(err);
    return rc == STELE_ERR_STATE ? STELE_OK : rc;
}

struct crl_walk {
    struct kvledger *l;
    int rc; /* the first install that failed */
};

static bool crl_write(void *ctx, const char *ns, const char *key, const uint8_t *value, size_t len,
                      bool is_delete)
{
    struct crl_walk *w = ctx;
    if (!is_delete && strcmp(ns, LIFECYCLE_NS) == 0 &&
        strncmp(key, LIFECYCLE_CRL_PFX, strlen(LIFECYCLE_CRL_PFX)) == 0)
        w->rc = install_crl(w->l, key, value, len);
    return w->rc == STELE_OK;
}

static bool crl_entry(void *ctx, const char *key, const uint8_t *value, size_t len,
                      const struct statedb_version *ver)
{
    (void)ver;
    struct crl_walk *w = ctx;
    w->rc = install_crl(w->l, key, value, len);
    return w->rc == STELE_OK;
}

/* Installs every CRL the state holds (at open). */
static int install_crls(struct kvledger *l, char **errmsg)
{
    struct crl_walk w = {l, STELE_OK};
    int rc = statedb_range(l->db, LIFECYCLE_NS, LIFECYCLE_CRL_PFX, "crl0", 0, crl_entry, &w, NULL);
    if (rc == STELE_OK)
        rc = w.rc;
    return rc ? stele_errf(errmsg, rc, "cannot install the CRLs of the ledger: %s",
                           stele_strerror(rc))
              : STELE_OK;
}

/* Publishes a new head and wakes the waiters. */
static void publish(struct kvledger *l, uint64_t height, const uint8_t head[32],
                    const uint8_t prev[32], const uint8_t state[32])
{
    pthread_mutex_lock(&l->mu);
    l->height = height;
    memcpy(l->head, head, 32);
    memcpy(l->prev, prev, 32);
    memcpy(l->state, state, 32);
    pthread_cond_broadcast(&l->grown);
    pthread_mutex_unlock(&l->mu);
}

/* The writes of block `b` from its stored validation codes: what replay applies. */
static int replay_update(struct kvledger *l, struct arena *a, const Stele__Block *b,
                         struct statedb_update *u, char **errmsg)
{
    uint64_t n = b->header->number;
    if (n == 0)
        return txvalidate_genesis(l->cfg, l->genesis_tx_id, u);
    const ProtobufCBinaryData *codes = &b->metadata->validation_codes;
    size_t ne = b->data ? b->data->n_envelopes : 0;
    if (codes->len != ne)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "stored block %llu has %zu validation codes for %zu transactions",
                          (unsigned long long)n, codes->len, ne);
    for (size_t i = 0; i < ne; i++) {
        if (codes->data[i] != STELE__TX_VALIDATION_CODE__VALID)
            continue;
        struct envelope_view ev;
        struct tx_view tv;
        Stele__TxValidationCode code;
        const ProtobufCBinaryData *e = &b->data->envelopes[i];
        if (envelope_parse(a, e->data, e->len, 0, &ev, NULL) != STELE_OK ||
            tx_open(a, &ev, &tv, &code, NULL) != STELE_OK)
            return stele_errf(errmsg, STELE_ERR_MALFORMED,
                              "stored block %llu marks transaction %zu VALID but it does not open",
                              (unsigned long long)n, i);
        for (size_t s = 0; s < tv.rwset->n_ns_rwsets; s++) {
            const Stele__NsRwSet *ns = tv.rwset->ns_rwsets[s];
            for (size_t w = 0; w < ns->n_writes; w++) {
                const Stele__KVWrite *kw = ns->writes[w];
                int rc =
                    statedb_update_write(u, (uint32_t)i, ev.header->tx_id, ns->namespace_, kw->key,
                                         kw->value.data, kw->value.len, kw->is_delete);
                if (rc)
                    return rc;
            }
        }
    }
    return STELE_OK;
}

/* Applies stored block `n` to the state (recovery after a crash between the block append and
 * the state batch). */
static int replay(struct kvledger *l, uint64_t n, char **errmsg)
{
    struct arena *a = arena_create(0);
    struct statedb_update *u = statedb_update_create(n);
    Stele__Block *b = NULL;
    int rc = STELE_ERR_NOMEM;
    if (!a || !u)
        goto out;
    if ((rc = blockstore_get(l->bs, n, a, &b))) {
        rc = stele_errf(errmsg, rc, "cannot read stored block %llu to replay it: %s",
                        (unsigned long long)n, stele_strerror(rc));
        goto out;
    }
    if (!b->header || !b->metadata) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED, "stored block %llu lacks header or metadata",
                        (unsigned long long)n);
        goto out;
    }
    uint8_t h[32];
    if ((rc = replay_update(l, a, b, u, errmsg)) || (rc = statedb_apply(l->db, u, h)))
        goto out;
    if (b->metadata->state_hash.len == 32 && memcmp(b->metadata->state_hash.data, h, 32) != 0) {
        rc = stele_errf(errmsg, STELE_ERR_MALFORMED,
                        "replaying stored block %llu gives another state hash than the one "
                        "recorded with it: the ledger is damaged",
                        (unsigned long long)n);
        goto out;
    }
    log_info("ledger", "replayed block %llu into the state", (unsigned long long)n);
out:
    statedb_update_destroy(u);
    arena_destroy(a);
    return rc;
}

/* Stores `b` (only read; checked by finality_check()) with `codes` as its validation codes and
 * `state` as the state hash after it. Only what the block means is stored, rebuilt here: the
 * header's fields, the envelopes, the metadata the ledger defines, and for pbft the commit
 * certificate re-encoded with only what its signers signed; not what the orderer that
 * delivered it added beside (unknown fields, padding). Peers still differ in the certificate
 * (which 2f+1 or more COMMITs the delivering orderer gathered) and so in the block time taken
 * from it; the header, the envelopes, the codes and the state hash are the same on every peer.
 * `a` holds the copies; NULL stores `b` as it is (block 0). */
static int append_with_codes(struct kvledger *l, struct arena *a, const Stele__Block *b,
                             uint8_t *codes, size_t n, uint8_t state[32])
{
    if (!a) { /* the genesis block, as the channel's founders made it */
        Stele__BlockMetadata gmd = *b->metadata;
        gmd.validation_codes = (ProtobufCBinaryData){n, codes};
        gmd.state_hash = (ProtobufCBinaryData){32, state};
        Stele__Block g = *b;
        g.metadata = &gmd;
        return blockstore_append(l->bs, &g);
    }
    Stele__BlockHeader h = STELE__BLOCK_HEADER__INIT;
    Stele__BlockData d = STELE__BLOCK_DATA__INIT;
    Stele__BlockMetadata md = STELE__BLOCK_METADATA__INIT;
    Stele__Block copy = STELE__BLOCK__INIT;
    h.number = b->header->number;
    h.previous_hash = b->header->previous_hash;
    h.data_hash = b->header->data_hash;
    if (b->data) {
        d.envelopes = b->data->envelopes;
        d.n_envelopes = b->data->n_envelopes;
    }
    md.consensus_type = b->metadata->consensus_type;
    md.channel_id = b->metadata->channel_id;
    md.timestamp_ms = b->metadata->timestamp_ms; /* signed by none; for pbft, replaced below */
    md.finality_proof = b->metadata->finality_proof;
    if (strcmp(l->finality.consensus_type, "pbft") == 0) {
        const ProtobufCBinaryData *fp = &b->metadata->finality_proof;
        Stele__PbftProof *proof =
            (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a, fp->data, fp->len, 0);
        int rc = proof ? pbft_proof_canonical(a, proof, &md.finality_proof) : STELE_ERR_MALFORMED;
        if (rc)
            return rc;
        /* the block time its COMMITs witness, not the delivering orderer's word */
        uint64_t t = pbft_proof_time(&l->finality.members, a, proof);
        if (t)
            md.timestamp_ms = t;
    }
    md.validation_codes = (ProtobufCBinaryData){n, codes};
    md.state_hash = (ProtobufCBinaryData){32, state};
    copy.header = &h;
    copy.data = &d;
    copy.metadata = &md;
    return blockstore_append(l->bs, &copy);
}

/* Trusts the CA keys of the channel's organisations, each for its organisation. */
static int trust_orgs(struct msp *m, const Stele__ChannelConfig *cfg, char **errmsg)
{
    for (size_t i = 0; i < cfg->n_organisations; i++) {
        const Stele__OrganisationConfig *o = cfg->organisations[i];
        for (size_t k = 0; k < o->n_ca_public_keys; k++) {
            struct crypto_key *key = NULL;
            int rc =
                crypto_key_from_public(o->ca_public_keys[k].data, o->ca_public_keys[k].len, &key);
            if (rc)
                return stele_errf(errmsg, STELE_ERR_CONFIG,
                                  "organisation %s of the genesis block has an unusable CA key",
                                  o->name);
            rc = msp_add_ca(m, o->name, 0, key);
            crypto_key_destroy(key);
            if (rc)
                return rc;
        }
    }
    return STELE_OK;
}

/* Joins an empty ledger: checks `genesis` and commits it as block 0. */
static int join(struct kvledger *l, const struct kvledger_options *o, char **errmsg)
{
    if (!o->genesis)
        return stele_errf(errmsg, STELE_ERR_CONFIG,
                          "%s holds no ledger yet and no genesis_file was given: give the "
                          "channel's genesis block to join it",
                          o->dir);
    const Stele__Block *b;
    int rc = genesis_read_bytes(l->cfg_arena, o->genesis, o->genesis_len, o->channel_id, &b,
                                &l->cfg, errmsg);
    if (rc)
        return rc == STELE_ERR_NOMEM ? rc : STELE_ERR_CONFIG;
    uint8_t code = STELE__TX_VALIDATION_CODE__VALID, zero[32] = {0}, state[32];
    struct statedb_update *u = statedb_update_create(0);
    struct envelope_view ev;
    if (!u)
        return STELE_ERR_NOMEM;
    const ProtobufCBinaryData *e = &b->data->envelopes[0];
    if ((rc = envelope_parse(l->cfg_arena, e->data, e->len, 0, &ev, NULL)) ||
        (rc = txvalidate_genesis(l->cfg, ev.header->tx_id, u)) ||
        (rc = statedb_update_hash(u, zero, state)) ||
        (rc = append_with_codes(l, NULL, b, &code, 1, state))) {
        statedb_update_destroy(u);
        return stele_errf(errmsg, rc, "cannot store the genesis block in %s/blocks: %s", o->dir,
                          stele_strerror(rc));
    }
    statedb_update_destroy(u);
    log_info("ledger", "joined channel %s from its genesis block", l->cfg->channel_id);
    return STELE_OK;
}

/* Reads block 0 of a ledger that holds one, and compares it with opts->genesis if given. */
static int load_config(struct kvledger *l, const struct kvledger_options *o, char **errmsg)
{
    Stele__Block *b = NULL;
    int rc = blockstore_get(l->bs, 0, l->cfg_arena, &b);
    if (rc)
        return stele_errf(errmsg, rc, "cannot read block 0 from %s/blocks: %s", o->dir,
                          stele_strerror(rc));
    if ((rc = genesis_read(l->cfg_arena, b, o->channel_id, &l->cfg, errmsg)))
        return rc == STELE_ERR_NOMEM ? rc : STELE_ERR_CONFIG;
    if (o->genesis) {
        struct arena *a = arena_create(0);
        Stele__Block *g = a ? (Stele__Block *)pb_unpack(&stele__block__descriptor, a, o->genesis,
                                                        o->genesis_len, 0)
                            : NULL;
        uint8_t h1[32], h2[32];
        bool same = g && g->header && blockhash_header_pb(g->header, h1) == STELE_OK &&
                    blockhash_header_pb(b->header, h2) == STELE_OK && memcmp(h1, h2, 32) == 0;
        arena_destroy(a);
        if (!same)
            return stele_errf(errmsg, STELE_ERR_CONFIG,
                              "genesis_file is not block 0 of the ledger in %s: this data "
                              "directory belongs to another network",
                              o->dir);
    }
    return STELE_OK;
}

/* The tx_id of the genesis block's one envelope, kept in cfg_arena. */
static int genesis_tx_id(struct kvledger *l, char **errmsg)
{
    Stele__Block *b = NULL;
    struct envelope_view ev;
    int rc = blockstore_get(l->bs, 0, l->cfg_arena, &b);
    if (rc == STELE_OK && b->data && b->data->n_envelopes == 1)
        rc = envelope_parse(l->cfg_arena, b->data->envelopes[0].data, b->data->envelopes[0].len, 0,
                            &ev, NULL);
    else if (rc == STELE_OK)
        rc = STELE_ERR_MALFORMED;
    if (rc)
        return stele_errf(errmsg, rc, "cannot read the genesis envelope: %s", stele_strerror(rc));
    l->genesis_tx_id = ev.header->tx_id;
    return STELE_OK;
}

/* Brings the state up to the block store after a crash, and publishes the head. */
static int recover(struct kvledger *l, char **errmsg)
{
    uint64_t blocks = blockstore_height(l->bs), applied = statedb_height(l->db);
    if (applied > blocks)
        return stele_errf(errmsg, STELE_ERR_MALFORMED,
                          "the state database has applied %llu blocks but the block store holds "
                          "only %llu: blocks were lost; rebuild the peer from its orderers",
                          (unsigned long long)applied, (unsigned long long)blocks);
    for (uint64_t n = applied; n < blocks; n++) {
        int rc = replay(l, n, errmsg);
        if (rc)
            return rc;
    }
    uint8_t head[32], prev[32], state[32];
    struct arena *a = arena_create(0);
    Stele__Block *b = NULL;
    int rc = a ? blockstore_get(l->bs, blocks - 1, a, &b) : STELE_ERR_NOMEM;
    if (rc == STELE_OK && (!b->header || b->header->previous_hash.len != 32))
        rc = STELE_ERR_MALFORMED;
    if (rc == STELE_OK)
        memcpy(prev, b->header->previous_hash.data, 32);
    arena_destroy(a);
    if (rc || blockstore_head_hash(l->bs, head) != STELE_OK ||
        statedb_state_hash(l->db, blocks - 1, state) != STELE_OK)
        return stele_errf(errmsg, rc == STELE_ERR_NOMEM ? rc : STELE_ERR_IO,
                          "cannot read the head of the ledger%s",
                          rc == STELE_ERR_NOMEM ? ": out of memory" : "");
    publish(l, blocks, head, prev, state);
    return STELE_OK;
}

int kvledger_open(const struct kvledger_options *o, struct kvledger **out, char **errmsg)
{
    *out = NULL;
    struct kvledger *l = calloc(1, sizeof *l);
    char *path = NULL;
    int rc = STELE_ERR_NOMEM;
    if (!l)
        return rc;
    l->lock_fd = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->grown, &ca);
    pthread_condattr_destroy(&ca);
    if (!(l->cfg_arena = arena_create(0)))
        goto err;
    if ((rc = fsdir_make(o->dir, 0750, errmsg)))
        goto err;
    if ((l->lock_fd = fsdir_lock(o->dir, "a peer", &rc, errmsg)) < 0)
        goto err;
    struct blockstore_options bo = {.sync = o->sync ? BLOCKSTORE_SYNC_EVERY_BLOCK
                                                    : BLOCKSTORE_SYNC_NONE};
    if (asprintf(&path, "%s/blocks", o->dir) < 0) {
        path = NULL;
        goto err;
    }
    if ((rc = blockstore_open(path, &bo, &l->bs, errmsg)))
        goto err;
    free(path);
    if (asprintf(&path, "%s/state", o->dir) < 0) {
        path = NULL;
        rc = STELE_ERR_NOMEM;
        goto err;
    }
    if ((rc = statedb_open(path, o->sync, &l->db, errmsg)))
        goto err;
    rc = blockstore_height(l->bs) == 0 ? join(l, o, errmsg) : load_config(l, o, errmsg);
    if (rc || (rc = genesis_tx_id(l, errmsg)) || (rc = trust_orgs(o->msp, l->cfg, errmsg)) ||
        (o->also_msp && (rc = trust_orgs(o->also_msp, l->cfg, errmsg))) ||
        (rc = finality_init(&l->finality, l->cfg, errmsg)))
        goto err;
    struct txvalidate_config vc = {
        .channel_id = l->cfg->channel_id, .msp = o->msp, .threads = o->threads, .channel = l->cfg};
    l->msp = o->msp;
    l->also_msp = o->also_msp;
    if ((rc = txvalidate_create(&vc, &l->v)) || (rc = recover(l, errmsg)) ||
        (rc = install_crls(l, errmsg)))
        goto err;
    free(path);
    *out = l;
    return STELE_OK;
err:
    free(path);
    kvledger_close(l);
    return rc;
}

void kvledger_shutdown(struct kvledger *l)
{
    pthread_mutex_lock(&l->mu);
    l->shutdown = true;
    pthread_cond_broadcast(&l->grown);
    pthread_mutex_unlock(&l->mu);
}

void kvledger_close(struct kvledger *l)
{
    if (!l)
        return;
    kvledger_shutdown(l);
    txvalidate_destroy(l->v);
    finality_release(&l->finality);
    statedb_close(l->db);
    blockstore_close(l->bs);
    arena_destroy(l->cfg_arena);
    pthread_cond_destroy(&l->grown);
    pthread_mutex_destroy(&l->mu);
    fsdir_unlock(l->lock_fd);
    free(l);
}

const Stele__ChannelConfig *kvledger_config(const struct kvledger *l)
{
    return l->cfg;
}

uint64_t kvledger_height(struct kvledger *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t h = l->height;
    pthread_mutex_unlock(&l->mu);
    return h;
}

void kvledger_head(struct kvledger *l, uint64_t *height, uint8_t hash[32], uint8_t prev[32],
                   uint8_t state[32])
{
    pthread_mutex_lock(&l->mu);
    if (height)
        *height = l->height;
    if (hash)
        memcpy(hash, l->head, 32);
    if (prev)
        memcpy(prev, l->prev, 32);
    if (state)
        memcpy(state, l->state, 32);
    pthread_mutex_unlock(&l->mu);
}

/* The state hash after the head block. */
static void state_prev(struct kvledger *l, uint8_t out[32])
{
    pthread_mutex_lock(&l->mu);
    memcpy(out, l->state, 32);
    pthread_mutex_unlock(&l->mu);
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_LEDGER_IO_FAIL_AT=N fails storing block N as
 * a disk would (STELE_ERR_IO), so that a test sees what a peer whose disk failed does. */
static int test_store_fails(uint64_t height)
{
    return test_hook_at("STELE_TEST_LEDGER_IO_FAIL_AT", height) ? STELE_ERR_IO : STELE_OK;
}

/* Counts a committed block's transactions by code (for the metrics) and returns how many are
 * VALID (for the log line). */
static size_t count_codes(struct kvledger *l, const uint8_t *codes, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        atomic_fetch_add_explicit(&l->tx_codes[codes[i]], 1, memory_order_relaxed);
        k += codes[i] == STELE__TX_VALIDATION_CODE__VALID;
    }
    atomic_fetch_add_explicit(&l->blocks_committed, 1, memory_order_relaxed);
    return k;
}

int kvledger_commit(struct kvledger *l, const Stele__Block *b, char **errmsg)
{
    uint64_t height;
    uint8_t head[32], hash[32], state[32], prev[32], applied[32];
    const char *why = NULL;
    if (atomic_load(&l->failed))
        return stele_errf(errmsg, STELE_ERR_STATE, "the ledger failed earlier; restart the peer");
    kvledger_head(l, &height, head, NULL, NULL);
    if (!b->header || b->header->number != height)
        return stele_errf(errmsg, STELE_ERR_CONFLICT, "block %llu is not the next block (%llu)",
                          b->header ? (unsigned long long)b->header->number : 0ULL,
                          (unsigned long long)height);
    struct arena *a = arena_create(0);
    struct statedb_update *u = statedb_update_create(height);
    size_t n = b->data ? b->data->n_envelopes : 0;
    uint8_t *codes = malloc(n ? n : 1);
    int rc = STELE_ERR_NOMEM;
    if (!a || !u || !codes)
        goto out;
    if ((rc = finality_check(&l->finality, a, b, hash, &why))) {
        rc = stele_errf(errmsg, rc, "block %llu refused: %s", (unsigned long long)height, why);
        goto out;
    }
    if (b->header->previous_hash.len != 32 || memcmp(b->header->previous_hash.data, head, 32)) {
        rc = stele_errf(errmsg, STELE_ERR_CONFLICT,
                        "block %llu does not link to block %llu: a fork, refused",
                        (unsigned long long)height, (unsigned long long)height - 1);
        goto out;
    }
    if ((rc = txvalidate_block(l->v, l->db, l->bs, b, codes, u, errmsg)))
        goto out;
    state_prev(l, prev);
    if ((rc = statedb_update_hash(u, prev, state)))
        goto out;
    if ((rc = test_store_fails(height)) || (rc = append_with_codes(l, a, b, codes, n, state))) {
        atomic_store(&l->failed, rc == STELE_ERR_IO);
        rc = stele_errf(errmsg, rc, "cannot store block %llu: %s", (unsigned long long)height,
                        stele_strerror(rc));
        goto out;
    }
    if ((rc = statedb_apply(l->db, u, applied))) {
        /* The block is stored: a restart replays it. Refuse to go on until then. */
        atomic_store(&l->failed, true);
        rc = stele_errf(errmsg, rc, "cannot apply block %llu to the state: %s",
                        (unsigned long long)height, stele_strerror(rc));
        goto out;
    }
    if (memcmp(applied, state, 32) != 0)
        log_error("ledger", "block %llu: the applied state hash differs from the one stored",
                  (unsigned long long)height);
    struct crl_walk w = {l, STELE_OK};
    statedb_update_each(u, crl_write, &w); /* before the next block is validated */
    if (w.rc) {                            /* applied: a restart installs it from the state */
        atomic_store(&l->failed, true);
        rc = stele_errf(errmsg, w.rc, "block %llu: cannot install the CRL it carries: %s",
                        (unsigned long long)height, stele_strerror(w.rc));
    }
    size_t valid = count_codes(l, codes, n); /* before a waiter can see the block */
    publish(l, height + 1, hash, b->header->previous_hash.data, state);
    log_info("ledger", "committed block %llu: %zu of %zu transactions valid",
             (unsigned long long)height, valid, n);
out:
    free(codes);
    statedb_update_destroy(u);
    arena_destroy(a);
    return rc;
}

bool kvledger_wait(struct kvledger *l, uint64_t number, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms >= 0)
        clock_deadline(CLOCK_MONOTONIC, (uint64_t)timeout_ms, &deadline);
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    while (!l->shutdown && l->height <= number && rc == 0)
        rc = timeout_ms < 0 ? pthread_cond_wait(&l->grown, &l->mu)
                            : pthread_cond_timedwait(&l->grown, &l->mu, &deadline);
    bool ok = !l->shutdown && l->height > number;
    pthread_mutex_unlock(&l->mu);
    return ok;
}

uint64_t kvledger_blocks_committed(struct kvledger *l)
{
    return atomic_load_explicit(&l->blocks_committed, memory_order_relaxed);
}

uint64_t kvledger_tx_committed(struct kvledger *l, uint8_t code)
{
    return atomic_load_explicit(&l->tx_codes[code], memory_order_relaxed);
}

struct blockstore *kvledger_blocks(struct kvledger *l)
{
    return l->bs;
}

struct statedb *kvledger_state(struct kvledger *l)
{
    return l->db;
}

bool kvledger_failed(struct kvledger *l)
{
    return atomic_load(&l->failed);
}
