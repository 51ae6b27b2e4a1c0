/* commit_chain.c — building the chain `stele-bench commit` commits (see commit_chain.h). */
#include "commit_chain.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/blockhash.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/channel.pb-c.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_LEN  64          /* octets of every value written */
#define VALID_S    (7 * 86400) /* seconds the identities issued here are valid */
#define ORDERER_ID "orderer0"

/* An identity: its private key and its serialized record. */
struct member {
    struct crypto_key *key; /* d_U */
    struct buf record;      /* serialized stele.Identity */
};

/* Everything the building needs. */
struct builder {
    const struct commit_chain_params *p;
    struct crypto_key *ca[2];  /* the CAs of Org1 and Org2 */
    struct member orderer;     /* signs the genesis block and every block */
    struct member peers[2];    /* endorse every transaction, one per organisation */
    struct member *clients;    /* p->creators creators */
    ProtobufCBinaryData *envs; /* blocks * txs_per_block envelopes (malloc'd) */
    size_t n_envs;             /* entries in envs */
    atomic_size_t next;        /* signing threads: next envelope to build */
    atomic_int rc;             /* the first failure of a signing thread */
    uint8_t orderer_pub[CRYPTO_POINT_COMPRESSED_LEN]; /* its compressed public key */
};

static const char *const org_names[2] = {"Org1", "Org2"};

void commit_chain_key(uint64_t block, uint32_t tx, char out[COMMIT_KEY_LEN])
{
    snprintf(out, COMMIT_KEY_LEN, "k%08llu.%06u", (unsigned long long)block, tx);
}

/* Issues identity `id` of organisation `org` with `role` from CA `ca`, as a CA and the
 * requester do together (ECQV request, generation, reception; the CA-signed record). */
static int issue(const struct crypto_key *ca, const char *id, const char *org, const char *role,
                 struct member *m)
{
    static uint64_t serial = 1;
    struct crypto_key *k_u = NULL;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN], r[32], h[32], cert[ECQV_CERT_LEN];
    struct ecqv_cert f = {.serial = serial++,
                          .issuer_id = 1,
                          .valid_from = clock_wall_s() - 60,
                          .valid_duration = VALID_S,
                          .key_usage = ECQV_USAGE_SIGN};
    buf_init(&m->record);
    int rc = crypto_sha256(id, strlen(id), h);
    memcpy(f.subject_id, h, ECQV_SUBJECT_ID_LEN);
    if (rc == STELE_OK)
        rc = ecqv_request(&k_u, r_u);
    if (rc == STELE_OK)
        rc = ecqv_generate(ca, r_u, sizeof r_u, &f, cert, r);
    if (rc == STELE_OK)
        rc = ecqv_reception(k_u, cert, sizeof cert, r, ca, &m->key);
    if (rc == STELE_OK)
        rc = identity_issue(ca, cert, id, org, role, NULL, 0, f.valid_from, &m->record);
    crypto_key_destroy(k_u);
    return rc;
}

static void member_release(struct member *m)
{
    crypto_key_destroy(m->key);
    buf_release(&m->record);
    memset(m, 0, sizeof *m);
}

/* The CAs and every identity. */
static int issue_all(struct builder *b, char **errmsg)
{
    char id[64];
    int rc = STELE_OK;
    for (int i = 0; i < 2 && rc == STELE_OK; i++)
        rc = crypto_key_generate(&b->ca[i]);
    if (rc == STELE_OK)
        rc = issue(b->ca[0], ORDERER_ID, org_names[0], "orderer", &b->orderer);
    for (int i = 0; i < 2 && rc == STELE_OK; i++) {
        snprintf(id, sizeof id, "peer0.%s", org_names[i]);
        rc = issue(b->ca[i], id, org_names[i], "peer", &b->peers[i]);
    }
    if (rc == STELE_OK && !(b->clients = calloc(b->p->creators, sizeof *b->clients)))
        rc = STELE_ERR_NOMEM;
    for (unsigned i = 0; rc == STELE_OK && i < b->p->creators; i++) {
        snprintf(id, sizeof id, "client%u.%s", i, org_names[i % 2]);
        rc = issue(b->ca[i % 2], id, org_names[i % 2], "client", &b->clients[i]);
    }
    if (rc == STELE_OK)
        crypto_key_public_compressed(b->orderer.key, b->orderer_pub);
    return rc ? stele_errf(errmsg, rc, "cannot issue the identities: %s", stele_strerror(rc))
              : STELE_OK;
}

/* Block 0: both organisations, the solo orderer and the chaincode definition. */
static int build_genesis(struct builder *b, struct buf *out, char **errmsg)
{
    uint8_t ca_pub[2][CRYPTO_POINT_COMPRESSED_LEN], pkg[32];
    ProtobufCBinaryData ca_keys[2];
    Stele__OrganisationConfig orgs[2], *orgp[2];
    Stele__OrdererNodeConfig ord = STELE__ORDERER_NODE_CONFIG__INIT, *ordp = &ord;
    Stele__ChaincodeDefinition cc = STELE__CHAINCODE_DEFINITION__INIT, *ccp = &cc;
    Stele__BatchParameters batch = STELE__BATCH_PARAMETERS__INIT;
    Stele__ChannelConfig c = STELE__CHANNEL_CONFIG__INIT;
    for (int i = 0; i < 2; i++) {
        crypto_key_public_compressed(b->ca[i], ca_pub[i]);
        ca_keys[i] = (ProtobufCBinaryData){sizeof ca_pub[i], ca_pub[i]};
        stele__organisation_config__init(&orgs[i]);
        orgs[i].name = (char *)org_names[i];
        orgs[i].n_ca_public_keys = 1;
        orgs[i].ca_public_keys = &ca_keys[i];
        orgp[i] = &orgs[i];
    }
    ord.node_id = (char *)ORDERER_ID;
    ord.organisation = (char *)org_names[0];
    ord.public_key = (ProtobufCBinaryData){sizeof b->orderer_pub, b->orderer_pub};
    ord.identity = (ProtobufCBinaryData){b->orderer.record.len, b->orderer.record.data};
    ord.address = (char *)"127.0.0.1:7050";
    batch.max_message_count = b->p->txs_per_block;
    batch.batch_timeout_ms = 2000;
    batch.preferred_max_bytes = 2u << 20;
    batch.absolute_max_bytes = 64u << 20;
    int rc = crypto_sha256(COMMIT_CHAINCODE, strlen(COMMIT_CHAINCODE), pkg);
    cc.name = (char *)COMMIT_CHAINCODE;
    cc.version = (char *)"1";
    cc.sequence = 1;
    cc.package_hash = (ProtobufCBinaryData){sizeof pkg, pkg};
    cc.endorsement_policy = (char *)COMMIT_POLICY;
    c.channel_id = (char *)COMMIT_CHANNEL;
    c.consensus_type = (char *)"solo";
    c.batch = &batch;
    c.n_organisations = 2;
    c.organisations = orgp;
    c.n_orderers = 1;
    c.orderers = &ordp;
    c.n_chaincodes = 1;
    c.chaincodes = &ccp;
    c.lifecycle_policy = (char *)GENESIS_DEFAULT_LIFECYCLE_POLICY;
    c.lifecycle_version = 1;
    c.endorsement_version = TX_ENDORSEMENT_VERSION;
    if (rc == STELE_OK)
        rc = genesis_build(&c, b->orderer.key, b->orderer.record.data, b->orderer.record.len, 0,
                           out, errmsg);
    return rc;
}

/* Builds envelope `g` (transaction g % T of block g / T + 1) as client, endorsers and client
 * again would: proposal, response payload, two endorsements, envelope. */
static int build_tx(const struct builder *b, size_t g, ProtobufCBinaryData *out)
{
    size_t t = b->p->txs_per_block;
    uint64_t block = g / t + 1;
    uint32_t tx = (uint32_t)(g % t);
    char wkey[COMMIT_KEY_LEN], rkey[COMMIT_KEY_LEN];
    uint8_t value[VALUE_LEN];
    commit_chain_key(block, tx, wkey);
    commit_chain_key(block - 1, tx, rkey);
    memset(value, 0x76, sizeof value);
    memcpy(value, wkey, strlen(wkey));
    Stele__Version ver = STELE__VERSION__INIT;
    ver.block_number = block - 1;
    ver.tx_index = tx;
    Stele__KVRead rd = STELE__KVREAD__INIT, *rdp = &rd;
    rd.key = rkey;
    rd.version = &ver;
    Stele__KVWrite wr = STELE__KVWRITE__INIT, *wrp = &wr;
    wr.key = wkey;
    wr.value = (ProtobufCBinaryData){sizeof value, value};
    Stele__NsRwSet ns = STELE__NS_RW_SET__INIT, *nsp = &ns;
    ns.namespace_ = (char *)COMMIT_CHAINCODE;
    ns.n_reads = b->p->reads && block > 1;
    ns.reads = &rdp;
    ns.n_writes = 1;
    ns.writes = &wrp;
    Stele__TxRwSet rw = STELE__TX_RW_SET__INIT;
    rw.n_ns_rwsets = 1;
    rw.ns_rwsets = &nsp;
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    ProtobufCBinaryData args[2] = {{strlen(wkey), (uint8_t *)wkey}, {sizeof value, value}};
    struct tx_proposal_params pp = {.channel_id = COMMIT_CHANNEL,
                                    .chaincode = COMMIT_CHAINCODE,
                                    .function = "put",
                                    .args = args,
                                    .n_args = 2};
    struct tx_result r = {.chaincode = COMMIT_CHAINCODE,
                          .version = "1",
                          .sequence = 1,
                          .rwset = &rw,
                          .response = &resp};
    const struct member *c = &b->clients[g % b->p->creators];
    struct tx_signer creator = {c->key, c->record.data, c->record.len, NULL};
    struct tx_signer endorsers[2];
    for (int i = 0; i < 2; i++)
        endorsers[i] = (struct tx_signer){b->peers[i].key, b->peers[i].record.data,
                                          b->peers[i].record.len, NULL};
    return tx_build_endorsed(&pp, &creator, &r, endorsers, 2, out, NULL);
}

static void *sign_worker(void *arg)
{
    struct builder *b = arg;
    for (size_t g; (g = atomic_fetch_add(&b->next, 1)) < b->n_envs;) {
        int rc = build_tx(b, g, &b->envs[g]);
        if (rc) {
            int none = STELE_OK;
            atomic_compare_exchange_strong(&b->rc, &none, rc);
            break;
        }
    }
    return NULL;
}

/* Builds every envelope on p->threads threads. */
static int sign_all(struct builder *b, char **errmsg)
{
    unsigned n = b->p->threads;
    pthread_t *t = calloc(n, sizeof *t);
    unsigned started = 0;
    if (!t)
        return STELE_ERR_NOMEM;
    while (started < n && pthread_create(&t[started], NULL, sign_worker, b) == 0)
        started++;
    if (started == 0)
        sign_worker(b);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    int rc = atomic_load(&b->rc);
    return rc ? stele_errf(errmsg, rc, "cannot build a transaction: %s", stele_strerror(rc))
              : STELE_OK;
}

/* Block `n` over its envelopes on `prev` (updated to its header hash), signed as the solo
 * orderer signs (orderer/consensus/solo.c). */
static int build_block(struct builder *b, struct commit_chain *c, uint64_t n, uint8_t prev[32])
{
    size_t t = c->txs_per_block;
    uint8_t sig[CRYPTO_SIG_LEN];
    Stele__Block *blk;
    int rc = blockhash_block_build(c->arena, n, prev, &b->envs[(n - 1) * t], t, &blk);
    if (rc == STELE_OK)
        rc = blockhash_header_pb(blk->header, prev);
    if (rc == STELE_OK)
        rc = crypto_sign_digest(b->orderer.key, prev, sig);
    if (rc)
        return rc;
    Stele__SoloProof proof = STELE__SOLO_PROOF__INIT;
    proof.node_id = (char *)ORDERER_ID;
    proof.public_key = (ProtobufCBinaryData){sizeof b->orderer_pub, b->orderer_pub};
    proof.identity = (ProtobufCBinaryData){b->orderer.record.len, b->orderer.record.data};
    proof.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t plen = protobuf_c_message_get_packed_size(&proof.base);
    uint8_t *pbytes = arena_alloc(c->arena, plen);
    if (!pbytes)
        return STELE_ERR_NOMEM;
    protobuf_c_message_pack(&proof.base, pbytes);
    blk->metadata->finality_proof = (ProtobufCBinaryData){plen, pbytes};
    blk->metadata->consensus_type = (char *)"solo";
    blk->metadata->channel_id = (char *)COMMIT_CHANNEL;
    blk->metadata->timestamp_ms = clock_wall_ms();
    blk->metadata->last_config = 0;
    c->blocks[n - 1] = blk;
    return STELE_OK;
}

/* Blocks 1.. on the genesis block; each block's envelopes are freed once it holds copies. */
static int build_blocks(struct builder *b, struct commit_chain *c, char **errmsg)
{
    uint8_t prev[32];
    Stele__Block *g = (Stele__Block *)pb_unpack(&stele__block__descriptor, c->arena, c->genesis,
                                                c->genesis_len, 0);
    int rc = g ? blockhash_header_pb(g->header, prev) : STELE_ERR_NOMEM;
    for (uint64_t n = 1; rc == STELE_OK && n <= c->n_blocks; n++) {
        rc = build_block(b, c, n, prev);
        for (size_t i = (n - 1) * c->txs_per_block; i < n * c->txs_per_block; i++) {
            c->envelope_bytes += b->envs[i].len;
            free(b->envs[i].data);
            b->envs[i].data = NULL;
        }
    }
    return rc ? stele_errf(errmsg, rc, "cannot build the blocks: %s", stele_strerror(rc))
              : STELE_OK;
}

int commit_chain_build(const struct commit_chain_params *p, struct commit_chain *out, char **errmsg)
{
    uint64_t t0 = clock_mono_ns();
    struct builder b = {.p = p};
    struct buf g;
    buf_init(&g);
    memset(out, 0, sizeof *out);
    out->n_blocks = p->blocks;
    out->txs_per_block = p->txs_per_block;
    b.n_envs = (size_t)p->blocks * p->txs_per_block;
    int rc = STELE_ERR_NOMEM;
    if (!(out->arena = arena_create(1u << 20)) ||
        !(out->blocks = calloc(p->blocks, sizeof *out->blocks)) ||
        !(b.envs = calloc(b.n_envs, sizeof *b.envs)))
        goto out;
    if ((rc = issue_all(&b, errmsg)) || (rc = build_genesis(&b, &g, errmsg)))
        goto out;
    out->genesis = buf_steal(&g, &out->genesis_len);
    if ((rc = sign_all(&b, errmsg)) || (rc = build_blocks(&b, out, errmsg)))
        goto out;
    out->verifier = crypto_key_ref(b.clients[0].key);
    out->identities = p->creators + 2;
    out->build_s = (double)(clock_mono_ns() - t0) / 1e9;
out:
    for (size_t i = 0; b.envs && i < b.n_envs; i++)
        free(b.envs[i].data);
    free(b.envs);
    for (unsigned i = 0; b.clients && i < p->creators; i++)
        member_release(&b.clients[i]);
    free(b.clients);
    member_release(&b.orderer);
    for (int i = 0; i < 2; i++) {
        member_release(&b.peers[i]);
        crypto_key_destroy(b.ca[i]);
    }
    buf_release(&g);
    if (rc)
        commit_chain_release(out);
    return rc;
}

void commit_chain_release(struct commit_chain *c)
{
    free(c->genesis);
    free(c->blocks);
    arena_destroy(c->arena);
    crypto_key_destroy(c->verifier);
    memset(c, 0, sizeof *c);
}
