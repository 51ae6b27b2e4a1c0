/* test_genesis.c — lib/ledger/genesis: block 0 of a channel carries its whole configuration,
 * reads back as built, and every rule of genesis.h refuses what breaks it with a sentence
 * naming the entry. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

#define N_ORDERERS 4

struct fixture {
    struct crypto_key *ca;               /* the CA every organisation trusts */
    struct crypto_key *keys[N_ORDERERS]; /* orderer keys; keys[0] also signs */
    struct arena *a;                     /* the configuration and decoded blocks */
    Stele__ChannelConfig *cfg;           /* a valid pbft configuration */
    uint8_t creator[40];                 /* stands in for the signer's identity record */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(crypto_key_generate(&f->ca), STELE_OK);
    for (int i = 0; i < N_ORDERERS; i++)
        assert_int_equal(crypto_key_generate(&f->keys[i]), STELE_OK);
    f->a = arena_create(0);
    f->cfg = test_channel_config(f->a, "elections", "pbft", f->keys, N_ORDERERS, f->ca);
    memset(f->creator, 'c', sizeof f->creator);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    crypto_key_destroy(f->ca);
    for (int i = 0; i < N_ORDERERS; i++)
        crypto_key_destroy(f->keys[i]);
    arena_destroy(f->a);
    free(f);
    return 0;
}

/* Builds block 0 of `cfg` into `out` (appended). */
static int build(struct fixture *f, const Stele__ChannelConfig *cfg, struct buf *out, char **err)
{
    return genesis_build(cfg, f->keys[0], f->creator, sizeof f->creator, 1790000000123ull, out,
                         err);
}

static void block_reads_back_whole_configuration(void **state)
{
    struct fixture *f = *state;
    struct buf out;
    buf_init(&out);
    char *err = NULL;
    assert_int_equal(build(f, f->cfg, &out, &err), STELE_OK);
    assert_null(err);

    /* The block: number 0 after 32 zero octets, one signed CONFIG envelope, no proof. */
    const Stele__Block *b;
    Stele__ChannelConfig *c;
    assert_int_equal(genesis_read_bytes(f->a, out.data, out.len, "elections", &b, &c, &err),
                     STELE_OK);
    static const uint8_t zero[32];
    assert_int_equal(b->header->number, 0);
    assert_memory_equal(b->header->previous_hash.data, zero, 32);
    assert_int_equal(blockhash_check_data(b), STELE_OK);
    assert_string_equal(b->metadata->channel_id, "elections");
    assert_int_equal(b->metadata->timestamp_ms, 1790000000123ull);
    assert_int_equal(b->metadata->finality_proof.len, 0);
    struct envelope_view v;
    assert_int_equal(
        envelope_parse(f->a, b->data->envelopes[0].data, b->data->envelopes[0].len, 0, &v, NULL),
        STELE_OK);
    assert_int_equal(v.header->type, STELE__HEADER_TYPE__CONFIG);
    assert_memory_equal(v.header->creator.data, f->creator, sizeof f->creator);
    assert_int_equal(crypto_verify(f->keys[0], v.envelope->payload.data, v.envelope->payload.len,
                                   v.envelope->signature.data, v.envelope->signature.len),
                     STELE_OK);

    /* The configuration, field by field. */
    uint8_t ca[33], k3[33];
    crypto_key_public_compressed(f->ca, ca);
    crypto_key_public_compressed(f->keys[3], k3);
    assert_string_equal(c->channel_id, "elections");
    assert_string_equal(c->consensus_type, "pbft");
    assert_int_equal(c->batch->max_message_count, 10);
    assert_int_equal(c->batch->batch_timeout_ms, 50);
    assert_int_equal(c->batch->preferred_max_bytes, 16 << 10);
    assert_int_equal(c->batch->absolute_max_bytes, 64 << 10);
    assert_int_equal(c->n_organisations, 2);
    assert_string_equal(c->organisations[0]->name, "OrdererOrg");
    assert_int_equal(c->organisations[0]->n_ca_public_keys, 1);
    assert_memory_equal(c->organisations[0]->ca_public_keys[0].data, ca, 33);
    assert_int_equal(c->organisations[0]->n_admins, 1);
    assert_string_equal(c->organisations[0]->admins[0], "admin.orderers");
    assert_string_equal(c->organisations[1]->name, "Org1");
    assert_int_equal(c->n_orderers, N_ORDERERS);
    assert_string_equal(c->orderers[3]->node_id, "orderer3");
    assert_string_equal(c->orderers[3]->organisation, "OrdererOrg");
    assert_memory_equal(c->orderers[3]->public_key.data, k3, 33);
    assert_string_equal(c->orderers[3]->address, "127.0.0.1:7053");
    assert_int_equal(c->pbft->checkpoint_interval, 10);
    assert_int_equal(c->pbft->log_window, 40);
    assert_int_equal(c->pbft->request_timeout_ms, 2000);
    assert_int_equal(c->pbft->view_change_timeout_ms, 2000);
    assert_int_equal(c->pbft->view_change_timeout_max_ms, 30000);
    assert_int_equal(c->n_chaincodes, 1);
    assert_string_equal(c->chaincodes[0]->name, "vote");
    assert_string_equal(c->chaincodes[0]->version, "1.0");
    assert_int_equal(c->chaincodes[0]->sequence, 1);
    assert_int_equal(c->chaincodes[0]->package_hash.len, 32);
    assert_string_equal(c->chaincodes[0]->endorsement_policy, "AND(Org1.peer, OrdererOrg.admin)");
    assert_string_equal(c->lifecycle_policy, "MAJORITY Admins");
    assert_int_equal(c->sequence, 0);
    assert_ptr_equal(genesis_find_orderer(c, "orderer2"), c->orderers[2]);
    assert_null(genesis_find_orderer(c, "orderer9"));
    assert_ptr_equal(genesis_find_org(c, "Org1"), c->organisations[1]);
    assert_null(genesis_find_org(c, "Org9"));

    /* Read from the decoded block, with no channel expected, and as another channel's. */
    assert_int_equal(genesis_read(f->a, b, NULL, &c, NULL), STELE_OK);
    assert_int_equal(genesis_read(f->a, b, "ballots", &c, &err), STELE_ERR_INVALID);
    assert_null(c);
    assert_string_equal(err, "the genesis block is of channel elections, not of channel ballots");
    free(err);
    buf_release(&out);
}

/* ---- every rule of a configuration ---- */

/* One broken configuration: what to break and the message that must name it. */
struct rule {
    void (*breaker)(struct arena *a, Stele__ChannelConfig *c);
    const char *message;
};

static void no_channel(struct arena *a, Stele__ChannelConfig *c)
{
    c->channel_id = "";
}
static void channel_with_newline(struct arena *a, Stele__ChannelConfig *c)
{
    c->channel_id = "bad\nchannel";
}
static void no_consensus(struct arena *a, Stele__ChannelConfig *c)
{
    c->consensus_type = "";
}
static void no_batch(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch = NULL;
}
static void zero_count(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->max_message_count = 0;
}
static void huge_count(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->max_message_count = 100001;
}
static void zero_timeout(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->batch_timeout_ms = 0;
}
static void zero_preferred(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->preferred_max_bytes = 0;
}
static void huge_absolute(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->absolute_max_bytes = 1ull << 40;
}
static void preferred_above_absolute(struct arena *a, Stele__ChannelConfig *c)
{
    c->batch->preferred_max_bytes = c->batch->absolute_max_bytes + 1;
}
static void org_twice(struct arena *a, Stele__ChannelConfig *c)
{
    c->organisations[1]->name = "OrdererOrg";
}
static void org_unnamed(struct arena *a, Stele__ChannelConfig *c)
{
    c->organisations[1]->name = "";
}
static void org_without_ca(struct arena *a, Stele__ChannelConfig *c)
{
    c->organisations[1]->n_ca_public_keys = 0;
}
static void ca_uncompressed(struct arena *a, Stele__ChannelConfig *c)
{
    c->organisations[1]->ca_public_keys[0].len = 32;
}
static void ca_off_curve(struct arena *a, Stele__ChannelConfig *c)
{
    uint8_t *k = arena_alloc(a, 33);
    memset(k, 0xff, 33);
    k[0] = 2; /* x = 2^256 - 1 is not a field element */
    c->organisations[1]->ca_public_keys[0].data = k;
}
static void admin_empty(struct arena *a, Stele__ChannelConfig *c)
{
    c->organisations[0]->admins[0] = "";
}
static void orderer_twice(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[2]->node_id = "orderer0";
}
static void orderer_unnamed(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[1]->node_id = "";
}
static void orderer_unknown_org(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[1]->organisation = "Org9";
}
static void orderer_key_short(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[1]->public_key.len = 0;
}
static void orderer_key_uncompressed(struct arena *a, Stele__ChannelConfig *c)
{
    /* every_rule_refuses_with_a_sentence() puts an uncompressed key in orderers[1] */
}
static void orderer_bad_address(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[1]->address = "orderer1.example";
}
static void orderer_ipv6_unbracketed(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[1]->address = "::1:7050";
}
static void pbft_three(struct arena *a, Stele__ChannelConfig *c)
{
    c->n_orderers = 3;
}
static void pbft_port_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->orderers[3]->address = "127.0.0.1:0";
}
static void pbft_missing(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft = NULL;
}
static void pbft_k_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->checkpoint_interval = 0;
}
static void pbft_l_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->log_window = 0;
}
static void pbft_l_not_multiple(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->log_window = 45;
}
static void pbft_request_timeout_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->request_timeout_ms = 0;
}
static void pbft_view_change_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->view_change_timeout_ms = 0;
}
static void pbft_max_below(struct arena *a, Stele__ChannelConfig *c)
{
    c->pbft->view_change_timeout_max_ms = 1999;
}
static void solo_two(struct arena *a, Stele__ChannelConfig *c)
{
    c->consensus_type = "solo";
    c->n_orderers = 2;
}
static void chaincode_twice(struct arena *a, Stele__ChannelConfig *c)
{
    Stele__ChaincodeDefinition **two = arena_calloc(a, 2, sizeof *two);
    two[0] = two[1] = c->chaincodes[0];
    c->chaincodes = two;
    c->n_chaincodes = 2;
}
static void chaincode_unnamed(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->name = "";
}
static void chaincode_no_version(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->version = "";
}
static void chaincode_sequence_zero(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->sequence = 0;
}
static void chaincode_short_hash(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->package_hash.len = 20;
}
static void chaincode_no_policy(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->endorsement_policy = "";
}
static void policy_with_escape(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->endorsement_policy = "OR(Org1.peer)\x1b[2J";
}
static void policy_unparsable(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->endorsement_policy = "AND(Org1.peer,";
}
static void policy_unknown_org(struct arena *a, Stele__ChannelConfig *c)
{
    c->chaincodes[0]->endorsement_policy = "AND(Org1.peer, org1.peer)"; /* names are exact */
}
static void no_lifecycle_policy(struct arena *a, Stele__ChannelConfig *c)
{
    c->lifecycle_policy = "";
}
static void future_endorsement_version(struct arena *a, Stele__ChannelConfig *c)
{
    (void)a;
    c->endorsement_version = TX_ENDORSEMENT_VERSION + 1;
}
static void old_endorsement_version(struct arena *a, Stele__ChannelConfig *c)
{
    (void)a;
    c->endorsement_version = 0;
}
static void too_many_orderers(struct arena *a, Stele__ChannelConfig *c)
{
    c->n_orderers = GENESIS_MAX_ORDERERS + 1;
}

static const struct rule rules[] = {
    {no_channel, "channel_id is empty"},
    {channel_with_newline, "channel_id \"bad\\x0achannel\" is not 1..128 octets without control "
                           "characters or surrounding spaces"},
    {no_consensus, "consensus_type is empty; it names the plug-in (solo, pbft, pow)"},
    {no_batch, "the batch parameters are missing"},
    {zero_count, "batch.max_message_count is 0; it must be 1..100000 envelopes"},
    {huge_count, "batch.max_message_count is 100001; it must be 1..100000 envelopes"},
    {zero_timeout, "batch.batch_timeout_ms is 0; it must be 1..3600000 ms"},
    {zero_preferred, "batch.preferred_max_bytes is 0; it must be 1..67108864 octets"},
    {huge_absolute, "batch.absolute_max_bytes is 1099511627776; it must be 1..67108864 octets"},
    {preferred_above_absolute,
     "batch.preferred_max_bytes (65537) exceeds batch.absolute_max_bytes (65536)"},
    {org_twice, "organisations[1]: name \"OrdererOrg\" is used twice (also organisations[0])"},
    {org_unnamed, "organisations[1].name is empty"},
    {org_without_ca, "organisation \"Org1\" has 0 CA keys; it must trust 1..16 (its members' "
                     "identities are issued by them)"},
    {ca_uncompressed, "organisation \"Org1\": ca_public_keys[0] (32 octets) is not a valid "
                      "33-octet SEC 1 compressed P-256 point"},
    {ca_off_curve, "organisation \"Org1\": ca_public_keys[0] (33 octets) is not a valid "
                   "33-octet SEC 1 compressed P-256 point"},
    {admin_empty, "organisations[0].admins[0] is empty"},
    {orderer_twice, "orderers[2]: node_id \"orderer0\" is used twice (also orderers[0])"},
    {orderer_unnamed, "orderers[1].node_id is empty"},
    {orderer_unknown_org,
     "orderer \"orderer1\": its organisation \"Org9\" is not one of the organisations"},
    {orderer_key_short, "orderer \"orderer1\": public_key (0 octets) is not a valid 33-octet SEC "
                        "1 compressed P-256 point"},
    {orderer_key_uncompressed, "orderer \"orderer1\": public_key (65 octets) is not a valid "
                               "33-octet SEC 1 compressed P-256 point"},
    {orderer_bad_address, "orderer \"orderer1\": address \"orderer1.example\" is not host:port "
                          "(a DNS name, IPv4 or [IPv6] host and a port 0..65535)"},
    {orderer_ipv6_unbracketed, "orderer \"orderer1\": address \"::1:7050\" is not host:port (a "
                               "DNS name, IPv4 or [IPv6] host and a port 0..65535)"},
    {pbft_three, "consensus pbft needs at least 4 orderers (n >= 3f+1 with f >= 1), but 3 are "
                 "listed"},
    {pbft_port_zero, "orderer \"orderer3\": address port 0; pbft orderers must reach each other "
                     "at a fixed port"},
    {pbft_missing, "consensus pbft: the pbft parameters are missing"},
    {pbft_k_zero, "pbft.checkpoint_interval is 0; a checkpoint every K > 0 blocks"},
    {pbft_l_zero, "pbft.log_window is 0; it must be a positive multiple of checkpoint_interval "
                  "(10)"},
    {pbft_l_not_multiple, "pbft.log_window is 45; it must be a positive multiple of "
                          "checkpoint_interval (10)"},
    {pbft_request_timeout_zero, "pbft.request_timeout_ms is 0; it must be positive"},
    {pbft_view_change_zero, "pbft.view_change_timeout_ms is 0; it must be positive"},
    {pbft_max_below,
     "pbft.view_change_timeout_max_ms (1999) is below view_change_timeout_ms (2000)"},
    {solo_two, "consensus solo runs one orderer, but 2 are listed"},
    {chaincode_twice, "chaincodes[1]: name \"vote\" is defined twice (also chaincodes[0])"},
    {chaincode_unnamed, "chaincodes[0].name is empty"},
    {chaincode_no_version, "chaincode \"vote\": version is empty"},
    {chaincode_sequence_zero, "chaincode \"vote\": sequence is 0; the first definition is 1"},
    {chaincode_short_hash, "chaincode \"vote\": package_hash is 20 octets, not a 32-octet SHA-256"},
    {chaincode_no_policy, "chaincode \"vote\": endorsement_policy is empty"},
    {policy_with_escape, "chaincode \"vote\": endorsement_policy contains control characters"},
    {policy_unparsable,
     "chaincode \"vote\": endorsement_policy does not parse (e.g. AND(org1.peer, "
     "org2.peer))"},
    {policy_unknown_org, "chaincode \"vote\": endorsement_policy names organisation \"org1\", "
                         "which is not one of the channel's"},
    {no_lifecycle_policy, "lifecycle_policy is empty"},
    {future_endorsement_version,
     "endorsement_version 2 is newer than this program knows (up to 1): upgrade it"},
    {old_endorsement_version,
     "endorsement_version is 0; a new channel takes 1 (0 is for channels created before "
     "2026-12-06, whose endorsements a client could alter)"},
    {too_many_orderers, "257 orderers; at most 256 are allowed"},
};

static void every_rule_refuses_with_a_sentence(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        struct arena *a = arena_create(0);
        Stele__ChannelConfig *c =
            test_channel_config(a, "elections", "pbft", f->keys, N_ORDERERS, f->ca);
        if (rules[i].breaker == orderer_key_uncompressed) {
            uint8_t *k = arena_alloc(a, 65);
            crypto_key_public_uncompressed(f->keys[1], k);
            c->orderers[1]->public_key = (ProtobufCBinaryData){65, k};
        } else if (rules[i].breaker == too_many_orderers) {
            Stele__OrdererNodeConfig **many =
                arena_calloc(a, GENESIS_MAX_ORDERERS + 1, sizeof *many);
            for (size_t k = 0; k <= GENESIS_MAX_ORDERERS; k++)
                many[k] = c->orderers[k % N_ORDERERS];
            c->orderers = many;
        }
        rules[i].breaker(a, c);
        char *err = NULL;
        /* the policy rules are for blocks being built: one built before them still loads */
        bool build_only = rules[i].breaker == policy_unparsable ||
                          rules[i].breaker == policy_unknown_org ||
                          rules[i].breaker == old_endorsement_version;
        if (build_only)
            assert_int_equal(genesis_check(c, NULL), STELE_OK);
        int rc = build_only ? genesis_check_build(c, &err) : genesis_check(c, &err);
        if (rc != STELE_ERR_INVALID || !err || strcmp(err, rules[i].message) != 0)
            fail_msg("rule %zu: status %d, message\n  %s\nexpected\n  %s", i, rc,
                     err ? err : "(none)", rules[i].message);
        free(err);
        /* The builder refuses it too, and writes nothing. */
        struct buf out;
        buf_init(&out);
        assert_int_equal(build(f, c, &out, &err), STELE_ERR_INVALID);
        assert_string_equal(err, rules[i].message);
        assert_int_equal(out.len, 0);
        free(err);
        buf_release(&out);
        arena_destroy(a);
    }
}

/* Types without rules of their own (pow, a future one) pass with any number of orderers. */
static void other_types_and_empty_lists_pass(void **state)
{
    struct fixture *f = *state;
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *c = test_channel_config(a, "elections", "pow", f->keys, 2, f->ca);
    assert_int_equal(genesis_check(c, NULL), STELE_OK);
    c = test_channel_config(a, "elections", "solo", f->keys, 0, f->ca);
    c->n_chaincodes = 0;
    c->n_organisations = 0;
    assert_int_equal(genesis_check(c, NULL), STELE_OK);
    c->sequence = 1;
    char *err = NULL;
    struct buf out;
    buf_init(&out);
    assert_int_equal(build(f, c, &out, &err), STELE_ERR_INVALID);
    assert_string_equal(err, "sequence is 1; a genesis configuration has 0");
    free(err);
    buf_release(&out);
    arena_destroy(a);
}

/* ---- what makes a block a genesis block ---- */

/* A block `number` after `prev` over the given envelopes, serialized into `out`. */
static void block_of(struct arena *a, uint64_t number, const uint8_t prev[32],
                     const ProtobufCBinaryData *envs, size_t n, const char *md_channel,
                     struct buf *out)
{
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(a, number, prev, envs, n, &b), STELE_OK);
    b->metadata->channel_id = (char *)md_channel;
    buf_clear(out);
    assert_int_equal(pb_pack_buf(&b->base, out), STELE_OK);
}

/* An envelope of `type` on `channel` carrying `data`. */
static ProtobufCBinaryData envelope_of(struct fixture *f, Stele__HeaderType type,
                                       const char *channel, const uint8_t *data, size_t len)
{
    struct envelope_params p = {.channel_id = channel,
                                .type = type,
                                .creator = f->creator,
                                .creator_len = sizeof f->creator,
                                .data = data,
                                .data_len = len};
    ProtobufCBinaryData e;
    assert_int_equal(envelope_build(&p, f->keys[0], &e, NULL), STELE_OK);
    return e;
}

static void expect_read(struct fixture *f, const struct buf *blk, int status, const char *msg)
{
    Stele__ChannelConfig *c = (Stele__ChannelConfig *)1;
    char *err = NULL;
    int rc = genesis_read_bytes(f->a, blk->data, blk->len, NULL, NULL, &c, &err);
    if (rc != status || !err || strcmp(err, msg) != 0)
        fail_msg("status %d, message\n  %s\nexpected %d,\n  %s", rc, err ? err : "(none)", status,
                 msg);
    assert_null(c);
    free(err);
}

static void only_a_genesis_block_is_read(void **state)
{
    struct fixture *f = *state;
    static const uint8_t zero[32];
    uint8_t one[32];
    memset(one, 1, sizeof one);
    size_t dlen;
    uint8_t *data = pb_pack(&f->cfg->base, &dlen);
    struct buf blk;
    buf_init(&blk);
    ProtobufCBinaryData good = envelope_of(f, STELE__HEADER_TYPE__CONFIG, "elections", data, dlen);
    ProtobufCBinaryData tx =
        envelope_of(f, STELE__HEADER_TYPE__ENDORSER_TRANSACTION, "elections", data, dlen);
    ProtobufCBinaryData other = envelope_of(f, STELE__HEADER_TYPE__CONFIG, "ballots", data, dlen);
    static const uint8_t junk[] = "not a channel configuration";
    ProtobufCBinaryData notcfg =
        envelope_of(f, STELE__HEADER_TYPE__CONFIG, "elections", junk, sizeof junk - 1);
    ProtobufCBinaryData two[2] = {good, tx};

    block_of(f->a, 0, zero, &good, 1, "elections", &blk);
    Stele__ChannelConfig *c;
    assert_int_equal(genesis_read_bytes(f->a, blk.data, blk.len, "elections", NULL, &c, NULL),
                     STELE_OK);

    block_of(f->a, 1, zero, &good, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED, "block 1 is not a genesis block (number 0)");
    block_of(f->a, 0, one, &good, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED,
                "block 0's previous_hash is not 32 zero octets: it is not a genesis block");
    block_of(f->a, 0, zero, two, 2, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED,
                "block 0 holds 2 envelopes; a genesis block holds exactly one, of type CONFIG");
    block_of(f->a, 0, zero, NULL, 0, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED,
                "block 0 holds 0 envelopes; a genesis block holds exactly one, of type CONFIG");
    block_of(f->a, 0, zero, &tx, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED,
                "block 0's envelope is of header type ENDORSER_TRANSACTION, not CONFIG: it is not "
                "a genesis block");
    block_of(f->a, 0, zero, &notcfg, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_MALFORMED, "block 0's CONFIG data is not a stele.ChannelConfig");
    block_of(f->a, 0, zero, &other, 1, "ballots", &blk);
    expect_read(f, &blk, STELE_ERR_INVALID,
                "block 0's envelope header or metadata names another channel than its "
                "configuration (elections)");
    block_of(f->a, 0, zero, &good, 1, "ballots", &blk);
    expect_read(f, &blk, STELE_ERR_INVALID,
                "block 0's envelope header or metadata names another channel than its "
                "configuration (elections)");
    ProtobufCBinaryData bad_sig = {good.len, arena_memdup(f->a, good.data, good.len)};
    bad_sig.data[bad_sig.len - 1] ^= 1; /* the signature is not checked: the data hash is */
    block_of(f->a, 0, zero, &bad_sig, 1, "elections", &blk);
    assert_int_equal(genesis_read_bytes(f->a, blk.data, blk.len, NULL, NULL, &c, NULL), STELE_OK);

    /* A data hash that does not match, bytes that are no block, a block too large. */
    block_of(f->a, 0, zero, &good, 1, "elections", &blk);
    Stele__Block *b =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, f->a, blk.data, blk.len, 0);
    b->header->data_hash.data[0] ^= 1;
    char *err = NULL;
    assert_int_equal(genesis_read(f->a, b, NULL, &c, &err), STELE_ERR_MALFORMED);
    assert_string_equal(err, "block 0's data hash does not match its envelopes");
    free(err);
    b->header = NULL;
    assert_int_equal(genesis_read(f->a, b, NULL, &c, &err), STELE_ERR_MALFORMED);
    assert_string_equal(err, "the block has no header");
    free(err);
    buf_clear(&blk);
    buf_append(&blk, "\xff\xff\xff", 3);
    expect_read(f, &blk, STELE_ERR_MALFORMED, "the bytes are not a serialized stele.Block");
    assert_int_equal(
        genesis_read_bytes(f->a, blk.data, GENESIS_MAX_BLOCK_LEN + 1, NULL, NULL, &c, &err),
        STELE_ERR_MALFORMED);
    assert_string_equal(err, "8388609 octets is larger than a genesis block may be (8388608)");
    free(err);

    /* A configuration that breaks a rule is refused on reading too. */
    f->cfg->batch->max_message_count = 0;
    uint8_t *bad = pb_pack(&f->cfg->base, &dlen);
    f->cfg->batch->max_message_count = 10;
    ProtobufCBinaryData bad_env =
        envelope_of(f, STELE__HEADER_TYPE__CONFIG, "elections", bad, dlen);
    block_of(f->a, 0, zero, &bad_env, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_INVALID,
                "batch.max_message_count is 0; it must be 1..100000 envelopes");
    f->cfg->sequence = 2;
    uint8_t *seq = pb_pack(&f->cfg->base, &dlen);
    f->cfg->sequence = 0;
    ProtobufCBinaryData seq_env =
        envelope_of(f, STELE__HEADER_TYPE__CONFIG, "elections", seq, dlen);
    block_of(f->a, 0, zero, &seq_env, 1, "elections", &blk);
    expect_read(f, &blk, STELE_ERR_INVALID,
                "the configuration in block 0 has sequence 2; a genesis configuration has 0");

    free(good.data);
    free(tx.data);
    free(other.data);
    free(notcfg.data);
    free(bad_env.data);
    free(seq_env.data);
    free(data);
    free(bad);
    free(seq);
    buf_release(&blk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(block_reads_back_whole_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(every_rule_refuses_with_a_sentence, setup, teardown),
        cmocka_unit_test_setup_teardown(other_types_and_empty_lists_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(only_a_genesis_block_is_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
