/* pbft_msg.c — PBFT message signatures and certificates (pbft_msg.h). */
#include "ledger/pbft_msg.h"

#include "base/arena.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (64u << 20) /* a PBFT message body; blocks travel beside it */

static int fail(const char **why, const char *text, int rc)
{
    if (why)
        *why = text;
    return rc;
}

int pbft_members_init(struct pbft_members *m, const Stele__ChannelConfig *cfg)
{
    memset(m, 0, sizeof *m);
    if (!cfg || cfg->n_orderers == 0)
        return STELE_ERR_CONFIG;
    m->n = cfg->n_orderers;
    m->f = pbft_faults(m->n);
    m->quorum = pbft_quorum(m->n);
    if (!(m->channel_id = strdup(cfg->channel_id ? cfg->channel_id : "")) ||
        !(m->ids = calloc(m->n, sizeof *m->ids)) || !(m->keys = calloc(m->n, sizeof *m->keys))) {
        pbft_members_release(m);
        return STELE_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->n; i++) {
        const Stele__OrdererNodeConfig *o = cfg->orderers[i];
        if (!(m->ids[i] = strdup(o->node_id ? o->node_id : ""))) {
            pbft_members_release(m);
            return STELE_ERR_NOMEM;
        }
        int rc = crypto_key_from_public(o->public_key.data, o->public_key.len, &m->keys[i]);
        if (rc) {
            pbft_members_release(m);
            return rc == STELE_ERR_NOMEM ? rc : STELE_ERR_CONFIG;
        }
    }
    return STELE_OK;
}

void pbft_members_release(struct pbft_members *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->ids)
            free(m->ids[i]);
        if (m->keys)
            crypto_key_destroy(m->keys[i]);
    }
    free(m->ids);
    free(m->keys);
    free(m->channel_id);
    memset(m, 0, sizeof *m);
}

int pbft_members_find(const struct pbft_members *m, const char *node_id)
{
    for (size_t i = 0; node_id && i < m->n; i++)
        if (strcmp(m->ids[i], node_id) == 0)
            return (int)i;
    return -1;
}

size_t pbft_primary(const struct pbft_members *m, uint64_t view)
{
    return (size_t)(view % m->n);
}

/* SHA-256("STELE-PBFT-v1\0" || msg). */
static int signed_digest(const uint8_t *msg, size_t len, uint8_t out[32])
{
    struct crypto_sha256 *h = crypto_sha256_create();
    int rc = STELE_ERR_NOMEM;
    if (h && !(rc = crypto_sha256_update(h, PBFT_SIG_DOMAIN, sizeof PBFT_SIG_DOMAIN)) &&
        !(rc = crypto_sha256_update(h, msg, len)))
        rc = crypto_sha256_final(h, out);
    crypto_sha256_destroy(h);
    return rc;
}

int pbft_sign(const Stele__PbftMessage *msg, const struct crypto_key *key, struct arena *a,
              Stele__PbftSigned *out)
{
    stele__pbft_signed__init(out);
    size_t len = protobuf_c_message_get_packed_size(&msg->base);
    uint8_t *bytes = arena_alloc(a, len ? len : 1), *sig = arena_alloc(a, CRYPTO_SIG_LEN);
    uint8_t d[32];
    if (!bytes || !sig)
        return STELE_ERR_NOMEM;
    protobuf_c_message_pack(&msg->base, bytes);
    int rc = signed_digest(bytes, len, d);
    if (rc || (rc = crypto_sign_digest(key, d, sig)))
        return rc;
    out->message = (ProtobufCBinaryData){len, bytes};
    out->signature = (ProtobufCBinaryData){CRYPTO_SIG_LEN, sig};
    return STELE_OK;
}

int pbft_open(const struct pbft_members *m, struct arena *a, const Stele__PbftSigned *s,
              Stele__PbftMessage **out, size_t *sender, const char **why)
{
    Stele__PbftMessage *msg = (Stele__PbftMessage *)pb_unpack(
        &stele__pbft_message__descriptor, a, s->message.data, s->message.len, MAX_MESSAGE);
    if (!msg)
        return fail(why, "message does not decode as stele.PbftMessage", STELE_ERR_MALFORMED);
    int idx = pbft_members_find(m, msg->sender);
    if (idx < 0)
        return fail(why, "sender is not an orderer of the channel", STELE_ERR_PERMISSION);
    if (strcmp(msg->channel_id, m->channel_id) != 0)
        return fail(why, "message is for another channel", STELE_ERR_PERMISSION);
    if (msg->digest.len != 0 && msg->digest.len != BLOCKHASH_LEN)
        return fail(why, "digest is not 32 octets", STELE_ERR_MALFORMED);
    /* What no honest orderer sends, and a faulty one could use to pad the certificates every
     * orderer and peer stores (its own votes are signed, so only their size can be bounded):
     * fields PBFT does not define, and votes larger than a vote is or carrying a view change. */
    if (msg->base.n_unknown_fields)
        return fail(why, "message carries fields PBFT does not define", STELE_ERR_MALFORMED);
    bool vote = msg->type == STELE__PBFT_TYPE__PBFT_PREPARE ||
                msg->type == STELE__PBFT_TYPE__PBFT_COMMIT ||
                msg->type == STELE__PBFT_TYPE__PBFT_CHECKPOINT;
    if (vote && (s->message.len > PBFT_VOTE_MAX || msg->view_change || msg->new_view))
        return fail(why, "a PREPARE, COMMIT or CHECKPOINT larger than a vote is",
                    STELE_ERR_MALFORMED);
    uint8_t d[32];
    int rc = signed_digest(s->message.data, s->message.len, d);
    if (rc)
        return fail(why, "cannot hash the message", rc);
    rc = crypto_verify_digest(m->keys[idx], d, s->signature.data, s->signature.len);
    if (rc == STELE_ERR_MALFORMED || rc == STELE_ERR_AUTH)
        return fail(why, "signature does not verify with the sender's key", STELE_ERR_AUTH);
    if (rc)
        return fail(why, "cannot verify the signature", rc);
    *out = msg;
    if (sender)
        *sender = (size_t)idx;
    return STELE_OK;
}

/* True when `msg` is for exactly (type, view, seq, digest). */
static bool matches(const Stele__PbftMessage *msg, Stele__PbftType type, uint64_t view,
                    uint64_t seq, const uint8_t digest[32])
{
    return msg->type == type && msg->view == view && msg->seq == seq &&
           msg->digest.len == BLOCKHASH_LEN && memcmp(msg->digest.data, digest, 32) == 0;
}

/* Opens `n` votes of `type` for (view, seq, digest), none from member `excluded` (SIZE_MAX:
 * none), at most one entry per member; *distinct gets how many members voted. Refuses more
 * entries than members before checking any signature. */
static int count_votes(const struct pbft_members *m, struct arena *a, Stele__PbftSigned **votes,
                       size_t n, Stele__PbftType type, uint64_t view, uint64_t seq,
                       const uint8_t digest[32], size_t excluded, size_t *distinct,
                       const char **why)
{
    bool seen[256] = {false};
    *distinct = 0;
    if (m->n > 256)
        return fail(why, "too many orderers", STELE_ERR_CONFIG);
    if (n > m->n)
        return fail(why, "a certificate holds more votes than there are orderers",
                    STELE_ERR_CONFLICT);
    for (size_t i = 0; i < n; i++) {
        Stele__PbftMessage *msg;
        size_t who;
        int rc = pbft_open(m, a, votes[i], &msg, &who, why);
        if (rc)
            return rc;
        if (!matches(msg, type, view, seq, digest) || who == excluded)
            return fail(why,
                        type == STELE__PBFT_TYPE__PBFT_COMMIT
                            ? "a COMMIT in the certificate is for another view, block or hash"
                            : "a PREPARE in the prepared proof does not match its "
                              "PRE-PREPARE",
                        STELE_ERR_CONFLICT);
        if (!seen[who]) {
            seen[who] = true;
            (*distinct)++;
        }
    }
    return STELE_OK;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

uint64_t pbft_proof_time(const struct pbft_members *m, struct arena *a,
                         const Stele__PbftProof *proof)
{
    if (!proof || !proof->n_commits || proof->n_commits > m->n)
        return 0;
    uint64_t *t = arena_calloc(a, proof->n_commits, sizeof *t);
    bool seen[256] = {false};
    size_t k = 0;
    if (!t || m->n > 256)
        return 0;
    for (size_t i = 0; i < proof->n_commits; i++) {
        /* the certificate passed pbft_proof_check(), which refuses it for any vote that does
         * not verify: decoding is enough here */
        const ProtobufCBinaryData *b = &proof->commits[i]->message;
        Stele__PbftMessage *msg = (Stele__PbftMessage *)pb_unpack(
            &stele__pbft_message__descriptor, a, b->data, b->len, PBFT_VOTE_MAX);
        int who = msg ? pbft_members_find(m, msg->sender) : -1;
        if (who >= 0 && !seen[who] && msg->timestamp_ms) {
            seen[who] = true;
            t[k++] = msg->timestamp_ms;
        }
    }
    if (k < 2 * m->f + 1)
        return 0;
    qsort(t, k, sizeof *t, cmp_u64);
    return t[(k - 1) / 2];
}

int pbft_proof_check(const struct pbft_members *m, struct arena *a, const Stele__PbftProof *proof,
                     uint64_t seq, const uint8_t digest[32], const char **why)
{
    if (!proof)
        return fail(why, "block has no commit certificate", STELE_ERR_CONFLICT);
    size_t good;
    int rc = count_votes(m, a, proof->commits, proof->n_commits, STELE__PBFT_TYPE__PBFT_COMMIT,
                         proof->view, seq, digest, SIZE_MAX, &good, why);
    if (rc)
        return rc;
    if (good < m->quorum)
        return fail(why, "commit certificate holds fewer than a quorum of distinct orderers",
                    STELE_ERR_CONFLICT);
    return STELE_OK;
}

int pbft_proof_canonical(struct arena *a, const Stele__PbftProof *in, ProtobufCBinaryData *out)
{
    Stele__PbftProof p = STELE__PBFT_PROOF__INIT;
    p.view = in->view;
    p.commits = arena_calloc(a, in->n_commits ? in->n_commits : 1, sizeof *p.commits);
    Stele__PbftSigned *c = arena_calloc(a, in->n_commits ? in->n_commits : 1, sizeof *c);
    if (!p.commits || !c)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < in->n_commits; i++) {
        stele__pbft_signed__init(&c[i]);
        c[i].message = in->commits[i]->message;
        c[i].signature = in->commits[i]->signature;
        p.commits[i] = &c[i];
    }
    p.n_commits = in->n_commits;
    size_t len = protobuf_c_message_get_packed_size(&p.base);
    uint8_t *bytes = arena_alloc(a, len ? len : 1);
    if (!bytes)
        return STELE_ERR_NOMEM;
    protobuf_c_message_pack(&p.base, bytes);
    *out = (ProtobufCBinaryData){len, bytes};
    return STELE_OK;
}

int pbft_block_check(const struct pbft_members *m, struct arena *a, const Stele__Block *b,
                     uint8_t hash[32], const char **why)
{
    uint8_t h[32];
    if (!b->header || !b->metadata)
        return fail(why, "block is malformed", STELE_ERR_MALFORMED);
    if (strcmp(b->metadata->consensus_type, "pbft") != 0)
        return fail(why, "block was not ordered by pbft", STELE_ERR_CONFLICT);
    if (strcmp(b->metadata->channel_id, m->channel_id) != 0)
        return fail(why, "block belongs to another channel", STELE_ERR_PERMISSION);
    int rc = blockhash_header_pb(b->header, h);
    if (rc)
        return fail(why, "cannot hash the block header", rc);
    const ProtobufCBinaryData *fp = &b->metadata->finality_proof;
    Stele__PbftProof *proof = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a,
                                                            fp->data, fp->len, MAX_MESSAGE);
    if (!proof)
        return fail(why, "finality proof does not decode as stele.PbftProof", STELE_ERR_MALFORMED);
    if ((rc = pbft_proof_check(m, a, proof, b->header->number, h, why)))
        return rc;
    /* Last: hashing every envelope costs what the block weighs, so only a header a quorum
     * signed is worth it (the certificate covers the header, the header the data hash). */
    if (blockhash_check_data(b) != STELE_OK)
        return fail(why, "block's data hash is wrong", STELE_ERR_MALFORMED);
    if (hash)
        memcpy(hash, h, 32);
    return STELE_OK;
}

int pbft_prepared_check(const struct pbft_members *m, struct arena *a, const Stele__PbftPrepared *p,
                        Stele__PbftMessage **ppo, Stele__Block **blocko, const char **why)
{
    Stele__PbftMessage *pp;
    size_t who;
    if (!p->pre_prepare)
        return fail(why, "prepared proof has no PRE-PREPARE", STELE_ERR_MALFORMED);
    int rc = pbft_open(m, a, p->pre_prepare, &pp, &who, why);
    if (rc)
        return rc;
    if (pp->type != STELE__PBFT_TYPE__PBFT_PRE_PREPARE || who != pbft_primary(m, pp->view) ||
        pp->digest.len != BLOCKHASH_LEN)
        return fail(why, "prepared proof's PRE-PREPARE is not from the primary of its view",
                    STELE_ERR_CONFLICT);
    const ProtobufCBinaryData *bb = &p->pre_prepare->block;
    Stele__Block *b = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, bb->data, bb->len, 0);
    uint8_t h[32];
    if (!b || !b->header || blockhash_check_data(b) != STELE_OK ||
        blockhash_header_pb(b->header, h) != STELE_OK || memcmp(h, pp->digest.data, 32) != 0 ||
        b->header->number != pp->seq)
        return fail(why, "prepared proof's block does not match its PRE-PREPARE",
                    STELE_ERR_CONFLICT);
    size_t good;
    if ((rc = count_votes(m, a, p->prepares, p->n_prepares, STELE__PBFT_TYPE__PBFT_PREPARE,
                          pp->view, pp->seq, h, pbft_primary(m, pp->view), &good, why)))
        return rc;
    if (good + 1 < m->quorum) /* the PRE-PREPARE stands for the primary's vote */
        return fail(why, "prepared proof holds fewer than a quorum less one PREPAREs",
                    STELE_ERR_CONFLICT);
    if (ppo)
        *ppo = pp;
    if (blocko)
        *blocko = b;
    return STELE_OK;
}
