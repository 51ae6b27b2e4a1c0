/* test_pbft_msg.c — PBFT message signatures, commit certificates and prepared proofs
 * (lib/ledger/pbft_msg.h): what a peer or an auditor accepts as proof that a block is final. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/pbft_msg.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

#define N     4 /* the channel's orderers */
#define N_MAX 7 /* keys made, for the tests of larger sets */

struct fixture {
    struct crypto_key *keys[N_MAX];
    uint8_t pubs[N_MAX][33];
    Stele__OrdererNodeConfig nodes[N_MAX];
    Stele__OrdererNodeConfig *node_ptrs[N_MAX];
    Stele__ChannelConfig cfg;
    struct pbft_members m;
    struct arena *a;
};

static const char *ids[N_MAX] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    stele__channel_config__init(&f->cfg);
    f->cfg.channel_id = (char *)"ch";
    for (size_t i = 0; i < N_MAX; i++) {
        assert_int_equal(crypto_key_generate(&f->keys[i]), STELE_OK);
        crypto_key_public_compressed(f->keys[i], f->pubs[i]);
        stele__orderer_node_config__init(&f->nodes[i]);
        f->nodes[i].node_id = (char *)ids[i];
        f->nodes[i].public_key = (ProtobufCBinaryData){33, f->pubs[i]};
        f->node_ptrs[i] = &f->nodes[i];
    }
    f->cfg.orderers = f->node_ptrs;
    f->cfg.n_orderers = N;
    assert_int_equal(pbft_members_init(&f->m, &f->cfg), STELE_OK);
    f->a = arena_create(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < N_MAX; i++)
        crypto_key_destroy(f->keys[i]);
    pbft_members_release(&f->m);
    arena_destroy(f->a);
    free(f);
    return 0;
}

/* A message of `type` signed by member `who` (its own id as sender unless `sender` given). */
static Stele__PbftSigned *msg_by(struct fixture *f, size_t who, Stele__PbftType type, uint64_t view,
                                 uint64_t seq, const uint8_t digest[32])
{
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.channel_id = (char *)"ch";
    m.type = type;
    m.view = view;
    m.seq = seq;
    m.digest = (ProtobufCBinaryData){32, (uint8_t *)digest};
    m.sender = (char *)ids[who];
    Stele__PbftSigned *s = arena_alloc(f->a, sizeof *s);
    assert_int_equal(pbft_sign(&m, f->keys[who], f->a, s), STELE_OK);
    return s;
}

static void members_and_quorum(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->m.n, 4);
    assert_int_equal(f->m.f, 1);
    assert_int_equal(f->m.quorum, 3);
    assert_int_equal(pbft_members_find(&f->m, "o2"), 2);
    assert_int_equal(pbft_members_find(&f->m, "o9"), -1);
    assert_int_equal(pbft_primary(&f->m, 0), 0);
    assert_int_equal(pbft_primary(&f->m, 5), 1);
}

static void open_checks_sender_channel_and_signature(void **state)
{
    struct fixture *f = *state;
    uint8_t d[32] = {1};
    Stele__PbftSigned *s = msg_by(f, 2, STELE__PBFT_TYPE__PBFT_PREPARE, 0, 1, d);
    Stele__PbftMessage *m;
    size_t who = 99;
    const char *why = NULL;
    assert_int_equal(pbft_open(&f->m, f->a, s, &m, &who, &why), STELE_OK);
    assert_int_equal(who, 2);
    assert_int_equal(m->type, STELE__PBFT_TYPE__PBFT_PREPARE);
    /* A flipped bit in the signature. */
    s->signature.data[10] ^= 1;
    assert_int_equal(pbft_open(&f->m, f->a, s, &m, &who, &why), STELE_ERR_AUTH);
    s->signature.data[10] ^= 1;
    /* Signed by o1's key but claiming to be o2. */
    Stele__PbftMessage forged = STELE__PBFT_MESSAGE__INIT;
    forged.channel_id = (char *)"ch";
    forged.type = STELE__PBFT_TYPE__PBFT_COMMIT;
    forged.sender = (char *)"o2";
    Stele__PbftSigned fs;
    assert_int_equal(pbft_sign(&forged, f->keys[1], f->a, &fs), STELE_OK);
    assert_int_equal(pbft_open(&f->m, f->a, &fs, &m, &who, &why), STELE_ERR_AUTH);
    /* Another channel, an unknown sender, bytes that are no message. */
    forged.channel_id = (char *)"other";
    forged.sender = (char *)"o1";
    assert_int_equal(pbft_sign(&forged, f->keys[1], f->a, &fs), STELE_OK);
    assert_int_equal(pbft_open(&f->m, f->a, &fs, &m, &who, &why), STELE_ERR_PERMISSION);
    forged.channel_id = (char *)"ch";
    forged.sender = (char *)"mallory";
    assert_int_equal(pbft_sign(&forged, f->keys[1], f->a, &fs), STELE_OK);
    assert_int_equal(pbft_open(&f->m, f->a, &fs, &m, &who, &why), STELE_ERR_PERMISSION);
    uint8_t junk[3] = {0xff, 0xff, 0xff};
    fs.message = (ProtobufCBinaryData){3, junk};
    assert_int_equal(pbft_open(&f->m, f->a, &fs, &m, &who, &why), STELE_ERR_MALFORMED);
}

/* A block with one fake envelope, its hash and a certificate from `signers`. */
static Stele__Block *certified_block(struct fixture *f, const size_t *signers, size_t n,
                                     Stele__PbftType type, uint8_t hash[32])
{
    uint8_t prev[32] = {0};
    ProtobufCBinaryData env = {5, (uint8_t *)"hello"};
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(f->a, 7, prev, &env, 1, &b), STELE_OK);
    assert_int_equal(blockhash_header_pb(b->header, hash), STELE_OK);
    Stele__PbftProof proof = STELE__PBFT_PROOF__INIT;
    proof.view = 2;
    proof.commits = arena_calloc(f->a, n ? n : 1, sizeof *proof.commits);
    for (size_t i = 0; i < n; i++)
        proof.commits[proof.n_commits++] = msg_by(f, signers[i], type, 2, 7, hash);
    size_t len = protobuf_c_message_get_packed_size(&proof.base);
    uint8_t *bytes = arena_alloc(f->a, len);
    protobuf_c_message_pack(&proof.base, bytes);
    b->metadata->finality_proof = (ProtobufCBinaryData){len, bytes};
    b->metadata->consensus_type = (char *)"pbft";
    b->metadata->channel_id = (char *)"ch";
    return b;
}

static void certificate_needs_2f_plus_1_distinct_matching_commits(void **state)
{
    struct fixture *f = *state;
    uint8_t h[32];
    const char *why = NULL;
    size_t three[] = {0, 1, 3}, two[] = {0, 1}, dup[] = {0, 1, 1};
    Stele__Block *b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    uint8_t out[32];
    assert_int_equal(pbft_block_check(&f->m, f->a, b, out, &why), STELE_OK);
    assert_memory_equal(out, h, 32);
    b = certified_block(f, two, 2, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    /* The same orderer twice counts once. */
    b = certified_block(f, dup, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    /* PREPAREs are not COMMITs. */
    b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_PREPARE, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    /* The certificate is judged before the envelopes are hashed (which costs what the block
     * weighs): a block whose data does not match its header is refused for its certificate
     * when it has none worth the name, and for its data only when a quorum signed it. */
    b = certified_block(f, two, 2, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    b->data->envelopes[0].data = (uint8_t *)"jello";
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    b->data->envelopes[0].data = (uint8_t *)"jello";
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_MALFORMED);
}

static void certificate_refuses_another_block_or_mixed_digests(void **state)
{
    struct fixture *f = *state;
    uint8_t h[32];
    const char *why = NULL;
    size_t three[] = {0, 2, 3};
    Stele__Block *b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    /* The envelopes changed after the certificate was made: data hash, then header hash. */
    b->data->envelopes[0].data = (uint8_t *)"HELLO";
    assert_int_not_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_OK);
    b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    b->header->number = 8;
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    /* One COMMIT for another digest among three good ones (F-6): refused as a whole. */
    b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    Stele__PbftProof *p = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, f->a,
                                                        b->metadata->finality_proof.data,
                                                        b->metadata->finality_proof.len, 0);
    uint8_t other[32] = {9};
    Stele__PbftSigned **more = arena_calloc(f->a, 4, sizeof *more);
    memcpy(more, p->commits, 3 * sizeof *more);
    more[3] = msg_by(f, 1, STELE__PBFT_TYPE__PBFT_COMMIT, 2, 7, other);
    p->commits = more;
    p->n_commits = 4;
    assert_int_equal(pbft_proof_check(&f->m, f->a, p, 7, h, &why), STELE_ERR_CONFLICT);
    /* Wrong consensus type or channel in the metadata. */
    b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    b->metadata->consensus_type = (char *)"solo";
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    b->metadata->consensus_type = (char *)"pbft";
    b->metadata->channel_id = (char *)"other";
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_PERMISSION);
}

static void prepared_proof_needs_primary_and_2f_backups(void **state)
{
    struct fixture *f = *state;
    uint8_t prev[32] = {0}, h[32];
    ProtobufCBinaryData env = {3, (uint8_t *)"abc"};
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(f->a, 4, prev, &env, 1, &b), STELE_OK);
    assert_int_equal(blockhash_header_pb(b->header, h), STELE_OK);
    size_t blen = protobuf_c_message_get_packed_size(&b->base);
    uint8_t *bbytes = arena_alloc(f->a, blen);
    protobuf_c_message_pack(&b->base, bbytes);
    /* View 1: primary o1. */
    Stele__PbftPrepared p = STELE__PBFT_PREPARED__INIT;
    p.pre_prepare = msg_by(f, 1, STELE__PBFT_TYPE__PBFT_PRE_PREPARE, 1, 4, h);
    p.pre_prepare->block = (ProtobufCBinaryData){blen, bbytes};
    Stele__PbftSigned *prepares[3] = {msg_by(f, 0, STELE__PBFT_TYPE__PBFT_PREPARE, 1, 4, h),
                                      msg_by(f, 2, STELE__PBFT_TYPE__PBFT_PREPARE, 1, 4, h),
                                      msg_by(f, 1, STELE__PBFT_TYPE__PBFT_PREPARE, 1, 4, h)};
    p.prepares = prepares;
    p.n_prepares = 2;
    const char *why = NULL;
    Stele__PbftMessage *pp;
    Stele__Block *got;
    assert_int_equal(pbft_prepared_check(&f->m, f->a, &p, &pp, &got, &why), STELE_OK);
    assert_int_equal(pp->seq, 4);
    assert_int_equal(got->header->number, 4);
    /* Only one backup. */
    p.n_prepares = 1;
    assert_int_equal(pbft_prepared_check(&f->m, f->a, &p, NULL, NULL, &why), STELE_ERR_CONFLICT);
    /* A PREPARE from the primary does not count (and is refused). */
    prepares[1] = prepares[2];
    p.n_prepares = 2;
    assert_int_equal(pbft_prepared_check(&f->m, f->a, &p, NULL, NULL, &why), STELE_ERR_CONFLICT);
    /* A PRE-PREPARE from a backup. */
    prepares[1] = msg_by(f, 2, STELE__PBFT_TYPE__PBFT_PREPARE, 1, 4, h);
    p.pre_prepare = msg_by(f, 3, STELE__PBFT_TYPE__PBFT_PRE_PREPARE, 1, 4, h);
    p.pre_prepare->block = (ProtobufCBinaryData){blen, bbytes};
    assert_int_equal(pbft_prepared_check(&f->m, f->a, &p, NULL, NULL, &why), STELE_ERR_CONFLICT);
    /* A block that is not the one signed. */
    p.pre_prepare = msg_by(f, 1, STELE__PBFT_TYPE__PBFT_PRE_PREPARE, 1, 4, h);
    bbytes[blen - 1] ^= 1;
    p.pre_prepare->block = (ProtobufCBinaryData){blen, bbytes};
    assert_int_not_equal(pbft_prepared_check(&f->m, f->a, &p, NULL, NULL, &why), STELE_OK);
}

/* Any two quorums must share an honest orderer. With n = 5 or 6, f = 1 and 2f + 1 = 3: two
 * quorums {o0,o1,o2} and {o0,o3,o4} meet only in o0, which, faulty, could sign COMMIT for two
 * blocks of one number and have both certified. */
static void quorums_share_an_honest_orderer_for_any_n(void **state)
{
    struct fixture *f = *state;
    const size_t want[N_MAX + 1] = {0, 1, 2, 2, 3, 4, 4, 5};
    for (size_t n = 1; n <= N_MAX; n++) {
        assert_int_equal(pbft_quorum(n), want[n]);
        if (n >= 4) /* two quorums share f + 1, and n - f can form one */
            assert_true(2 * pbft_quorum(n) >= n + pbft_faults(n) + 1 &&
                        pbft_quorum(n) <= n - pbft_faults(n));
    }
    pbft_members_release(&f->m);
    f->cfg.n_orderers = 5;
    assert_int_equal(pbft_members_init(&f->m, &f->cfg), STELE_OK);
    assert_int_equal(f->m.quorum, 4);
    uint8_t h[32];
    const char *why = NULL;
    size_t three[] = {0, 1, 2}, four[] = {0, 1, 3, 4};
    Stele__Block *b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_CONFLICT);
    b = certified_block(f, four, 4, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_OK);
}

/* A COMMIT signed by member `who` whose message has `extra` octets of an undefined field. */
static Stele__PbftSigned *padded_commit(struct fixture *f, size_t who, uint64_t seq,
                                        const uint8_t digest[32], size_t extra)
{
    Stele__PbftSigned *s = msg_by(f, who, STELE__PBFT_TYPE__PBFT_COMMIT, 2, seq, digest);
    size_t len = s->message.len + 3 + extra;
    uint8_t *msg = arena_alloc(f->a, len), *sig = arena_alloc(f->a, 64);
    memcpy(msg, s->message.data, s->message.len);
    uint8_t *p = msg + s->message.len;
    *p++ = 0x7a; /* field 15, length-delimited */
    *p++ = (uint8_t)(0x80 | (extra & 0x7f));
    *p++ = (uint8_t)(extra >> 7);
    memset(p, 0, extra);
    struct buf dom;
    buf_init(&dom);
    assert_int_equal(buf_append(&dom, PBFT_SIG_DOMAIN, sizeof PBFT_SIG_DOMAIN), STELE_OK);
    assert_int_equal(buf_append(&dom, msg, len), STELE_OK);
    uint8_t d[32];
    assert_int_equal(crypto_sha256(dom.data, dom.len, d), STELE_OK);
    buf_release(&dom);
    assert_int_equal(crypto_sign_digest(f->keys[who], d, sig), STELE_OK);
    s->message = (ProtobufCBinaryData){len, msg};
    s->signature = (ProtobufCBinaryData){64, sig};
    return s;
}

/* A faulty orderer's own COMMIT is signed, so only its size can be bounded: a vote padded
 * with a field PBFT does not define is refused, and so is a certificate holding one (which
 * every orderer and peer would otherwise store with each block). */
static void padded_votes_are_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t h[32] = {7};
    Stele__PbftMessage *m;
    const char *why = NULL;
    Stele__PbftSigned *s = padded_commit(f, 1, 7, h, 200);
    assert_int_equal(pbft_open(&f->m, f->a, s, &m, NULL, &why), STELE_ERR_MALFORMED);
    assert_non_null(strstr(why, "fields"));
    /* a certificate with two good COMMITs and the padded one */
    size_t three[] = {0, 2, 3};
    Stele__Block *b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_OK);
    Stele__PbftProof *proof = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, f->a,
                                                            b->metadata->finality_proof.data,
                                                            b->metadata->finality_proof.len, 0);
    assert_non_null(proof);
    proof->commits[0] = padded_commit(f, 0, 7, h, 200);
    size_t len = protobuf_c_message_get_packed_size(&proof->base);
    uint8_t *bytes = arena_alloc(f->a, len);
    protobuf_c_message_pack(&proof->base, bytes);
    b->metadata->finality_proof = (ProtobufCBinaryData){len, bytes};
    assert_int_equal(pbft_block_check(&f->m, f->a, b, NULL, &why), STELE_ERR_MALFORMED);
}

/* The block time a certificate witnesses is the median of its COMMITs' signed times: one
 * faulty orderer's far-off clock cannot move it outside the correct ones'. */
static void block_time_is_the_median_of_the_commits(void **state)
{
    struct fixture *f = *state;
    uint8_t h[32] = {9};
    const uint64_t times[3] = {1700000002000ull, 1700000001000ull, 4102444800000ull /* 2100 */};
    Stele__PbftProof proof = STELE__PBFT_PROOF__INIT;
    Stele__PbftSigned *commits[3];
    for (size_t i = 0; i < 3; i++) {
        Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
        m.channel_id = (char *)"ch";
        m.type = STELE__PBFT_TYPE__PBFT_COMMIT;
        m.view = 2;
        m.seq = 7;
        m.digest = (ProtobufCBinaryData){32, h};
        m.sender = (char *)ids[i];
        m.timestamp_ms = times[i];
        commits[i] = arena_alloc(f->a, sizeof *commits[i]);
        assert_int_equal(pbft_sign(&m, f->keys[i], f->a, commits[i]), STELE_OK);
    }
    proof.view = 2;
    proof.commits = commits;
    proof.n_commits = 3;
    const char *why = NULL;
    assert_int_equal(pbft_proof_check(&f->m, f->a, &proof, 7, h, &why), STELE_OK);
    assert_int_equal(pbft_proof_time(&f->m, f->a, &proof), 1700000002000ull);
    /* COMMITs that carry no time (older orderers): no time witnessed */
    size_t three[] = {0, 1, 2};
    Stele__Block *b = certified_block(f, three, 3, STELE__PBFT_TYPE__PBFT_COMMIT, h);
    Stele__PbftProof *plain = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, f->a,
                                                            b->metadata->finality_proof.data,
                                                            b->metadata->finality_proof.len, 0);
    assert_int_equal(pbft_proof_time(&f->m, f->a, plain), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(members_and_quorum, setup, teardown),
        cmocka_unit_test_setup_teardown(open_checks_sender_channel_and_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(certificate_needs_2f_plus_1_distinct_matching_commits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(certificate_refuses_another_block_or_mixed_digests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(prepared_proof_needs_primary_and_2f_backups, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(quorums_share_an_honest_orderer_for_any_n, setup, teardown),
        cmocka_unit_test_setup_teardown(padded_votes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(block_time_is_the_median_of_the_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
