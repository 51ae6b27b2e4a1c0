/* test_pb.c — lib/pb's decoding of untrusted octets: unknown fields with numbers the encoding
 * allows are kept and survive encoding again; a field number past 2^29 - 1 (which protobuf-c
 * keeps, and then cannot encode faithfully) is refused at any depth; the size cap holds; at
 * most 256 unknown fields, submessages included, are decoded; octets whose decoded form would
 * pass the allocation budget (empty submessages by the thousand, a singular submessage
 * repeated to be merged again and again) are refused before anything is allocated, while
 * large read/write sets and blocks such as the system writes decode. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "pb/pb.h"
#include "stele/block.pb-c.h"
#include "stele/channel.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#define CFG   (&stele__channel_config__descriptor)
#define RWSET (&stele__tx_rw_set__descriptor)
#define PRP   (&stele__proposal_response_payload__descriptor)

/* Field 12345, varint 5: a field this version does not know. */
static const uint8_t unknown_ok[] = {0xc8, 0x8b, 0x06, 0x05};
/* A tag written as a 5-octet varint worth 2^32: protobuf-c reads field 2^29, past the largest. */
static const uint8_t tag_too_big[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00};
/* The largest field number, 2^29 - 1, fixed64. */
static const uint8_t field_max[] = {0xf9, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8};

/* `inner` as field `field` (length-delimited) after a channel_id, into `out`. */
static size_t wrap(uint8_t *out, int field, const uint8_t *inner, size_t n)
{
    size_t k = 0;
    out[k++] = 0x0a; /* channel_id */
    out[k++] = 2;
    out[k++] = 'c';
    out[k++] = 'h';
    out[k++] = (uint8_t)(field << 3 | 2);
    out[k++] = (uint8_t)n;
    memcpy(out + k, inner, n);
    return k + n;
}

static void unknown_fields_survive_encoding(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    const uint8_t *ok[] = {unknown_ok, field_max};
    size_t len[] = {sizeof unknown_ok, sizeof field_max};
    for (int i = 0; i < 2; i++) {
        Stele__ChannelConfig *c = (Stele__ChannelConfig *)pb_unpack(CFG, a, ok[i], len[i], 0);
        assert_non_null(c);
        assert_int_equal(c->base.n_unknown_fields, 1);
        struct buf b;
        buf_init(&b);
        assert_int_equal(pb_pack_buf(&c->base, &b), 0);
        assert_int_equal(b.len, len[i]);
        assert_memory_equal(b.data, ok[i], len[i]);
        ProtobufCMessage *again = pb_unpack(CFG, NULL, b.data, b.len, 0);
        assert_non_null(again);
        pb_free(again);
        buf_release(&b);
    }
    /* inside a submessage (batch, field 3) too */
    uint8_t m[64];
    size_t n = wrap(m, 3, unknown_ok, sizeof unknown_ok);
    Stele__ChannelConfig *c = (Stele__ChannelConfig *)pb_unpack(CFG, a, m, n, 0);
    assert_non_null(c);
    assert_non_null(c->batch);
    assert_int_equal(c->batch->base.n_unknown_fields, 1);
    arena_destroy(a);
}

static void field_numbers_past_the_largest_refused(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    assert_null(pb_unpack(CFG, a, tag_too_big, sizeof tag_too_big, 0));
    assert_null(pb_unpack(CFG, NULL, tag_too_big, sizeof tag_too_big, 0)); /* freed, not leaked */
    uint8_t m[64];
    for (int field = 3; field <= 6; field++) { /* batch, organisations, orderers, pbft */
        size_t n = wrap(m, field, tag_too_big, sizeof tag_too_big);
        assert_null(pb_unpack(CFG, a, m, n, 0));
        assert_null(pb_unpack(CFG, NULL, m, n, 0));
        /* the same place with a valid unknown field decodes */
        n = wrap(m, field, unknown_ok, sizeof unknown_ok);
        ProtobufCMessage *c = pb_unpack(CFG, NULL, m, n, 0);
        assert_non_null(c);
        pb_free(c);
    }
    arena_destroy(a);
}

static void size_cap(void **state)
{
    (void)state;
    assert_null(pb_unpack(CFG, NULL, unknown_ok, sizeof unknown_ok, sizeof unknown_ok - 1));
    ProtobufCMessage *c = pb_unpack(CFG, NULL, unknown_ok, sizeof unknown_ok, sizeof unknown_ok);
    assert_non_null(c);
    pb_free(c);
    c = pb_unpack(CFG, NULL, NULL, 0, 0); /* no octets: the empty message */
    assert_non_null(c);
    pb_free(c);
    assert_null(pb_unpack(CFG, NULL, NULL, 1, 0));
}

/* `count` unknown fields (field 12345, varint 5) into `out`. */
static size_t unknowns(uint8_t *out, size_t count)
{
    for (size_t i = 0; i < count; i++)
        memcpy(out + 4 * i, unknown_ok, 4);
    return 4 * count;
}

/* 256 unknown fields decode (and encode again); 257 are refused before protobuf-c spends an
 * allocation on each, at the top level or spread into a submessage; a megabyte of them too. */
static void many_unknown_fields_refused(void **state)
{
    (void)state;
    static uint8_t m[(1u << 20) + 64];
    size_t n = unknowns(m, 256);
    ProtobufCMessage *c = pb_unpack(CFG, NULL, m, n, 0);
    assert_non_null(c);
    assert_int_equal(c->n_unknown_fields, 256);
    struct buf b;
    buf_init(&b);
    assert_int_equal(pb_pack_buf(c, &b), 0);
    assert_int_equal(b.len, n);
    buf_release(&b);
    pb_free(c);
    n = unknowns(m, 257);
    assert_null(pb_unpack(CFG, NULL, m, n, 0));
    /* 200 at the top, 57 inside the batch (field 3): 257 together */
    uint8_t inner[57 * 4];
    size_t k = unknowns(inner, 57);
    n = unknowns(m, 200);
    m[n++] = 3 << 3 | 2;
    m[n++] = (uint8_t)(0x80 | (k & 0x7f));
    m[n++] = (uint8_t)(k >> 7);
    memcpy(m + n, inner, k);
    n += k;
    assert_null(pb_unpack(CFG, NULL, m, n, 0));
    n = unknowns(m, 199); /* one fewer at the top: 256 */
    m[n++] = 3 << 3 | 2;
    m[n++] = (uint8_t)(0x80 | (k & 0x7f));
    m[n++] = (uint8_t)(k >> 7);
    memcpy(m + n, inner, k);
    n += k;
    c = pb_unpack(CFG, NULL, m, n, 0);
    assert_non_null(c);
    pb_free(c);
    n = unknowns(m, (1u << 20) / 4);
    assert_null(pb_unpack(CFG, NULL, m, n, 0));
}

/* `count` copies of the `k` octets at `item` into `out`. */
static size_t repeat(uint8_t *out, const uint8_t *item, size_t k, size_t count)
{
    for (size_t i = 0; i < count; i++)
        memcpy(out + k * i, item, k);
    return k * count;
}

static const uint8_t empty_ns[] = {0x0a, 0x00}; /* TxRwSet.ns_rwsets: an empty NsRwSet */

/* Decodes the `n` octets at `m` as `desc` into a new arena, and checks that what the arena
 * spent is within what pb_decoded_size() promised, and that within the budget. */
static ProtobufCMessage *decodes_within_budget(const ProtobufCMessageDescriptor *desc,
                                               struct arena *a, const uint8_t *m, size_t n)
{
    size_t cost = pb_decoded_size(desc, m, n);
    assert_true(cost <= pb_decode_budget(n));
    size_t before = arena_used(a);
    ProtobufCMessage *msg = pb_unpack(desc, a, m, n, 0);
    assert_non_null(msg);
    assert_true(arena_used(a) - before <= cost);
    ProtobufCMessage *again = pb_unpack(desc, NULL, m, n, 0);
    assert_non_null(again);
    pb_free(again);
    return msg;
}

/* 100,000 empty NsRwSets: 200,000 octets that protobuf-c would make into some 14 MB (a
 * struct, a pointer and a ScannedMember each). Refused, and nothing allocated: the arena is
 * untouched; so are 100,000 empty writes inside one NsRwSet. */
static void empty_submessages_refused(void **state)
{
    (void)state;
    static uint8_t m[200016];
    size_t n = repeat(m, empty_ns, 2, 100000);
    size_t cost = pb_decoded_size(RWSET, m, n);
    assert_true(cost > 40 * n);
    assert_true(cost > pb_decode_budget(n));
    struct arena *a = arena_create(0);
    assert_null(pb_unpack(RWSET, a, m, n, 0));
    assert_int_equal(arena_used(a), 0);
    assert_null(pb_unpack(RWSET, NULL, m, n, 0));

    static const uint8_t empty_write[] = {0x22, 0x00}; /* NsRwSet.writes: an empty KVWrite */
    size_t k = repeat(m + 5, empty_write, 2, 99997);
    m[0] = 0x0a; /* one NsRwSet holding them */
    m[1] = (uint8_t)(0x80 | (k & 0x7f));
    m[2] = (uint8_t)(0x80 | ((k >> 7) & 0x7f));
    m[3] = (uint8_t)(0x80 | ((k >> 14) & 0x7f));
    m[4] = (uint8_t)(k >> 21);
    assert_null(pb_unpack(RWSET, a, m, 5 + k, 0));
    assert_int_equal(arena_used(a), 0);
    assert_null(pb_unpack(RWSET, NULL, m, 5 + k, 0));
    arena_destroy(a);
}

/* The budget's edge: the most empty NsRwSets that fit decode, one more is refused; and a
 * message small enough for PB_DECODE_BASE decodes whatever its ratio. */
static void budget_boundary(void **state)
{
    (void)state;
    static uint8_t m[2 * 100000];
    size_t count = 1;
    while (pb_decoded_size(RWSET, m, repeat(m, empty_ns, 2, count)) <= pb_decode_budget(2 * count))
        count++;
    assert_true(count > 1000 && count < 100000);
    struct arena *a = arena_create(0);
    size_t n = repeat(m, empty_ns, 2, count); /* just over */
    assert_null(pb_unpack(RWSET, a, m, n, 0));
    assert_int_equal(arena_used(a), 0);
    assert_null(pb_unpack(RWSET, NULL, m, n, 0));
    n = repeat(m, empty_ns, 2, count - 1); /* just within */
    Stele__TxRwSet *rw = (Stele__TxRwSet *)decodes_within_budget(RWSET, a, m, n);
    assert_int_equal(rw->n_ns_rwsets, count - 1);
    arena_reset(a);
    n = repeat(m, empty_ns, 2, 200); /* 400 octets, 70 times that decoded: within the base */
    assert_true(pb_decoded_size(RWSET, m, n) > PB_DECODE_PER_OCTET * n);
    rw = (Stele__TxRwSet *)decodes_within_budget(RWSET, a, m, n);
    assert_int_equal(rw->n_ns_rwsets, 200);
    arena_destroy(a);
}

/* A read/write set as chaincodes write it: one namespace, `count` reads (at version
 * `block`.`tx`, or none when block is 0) and as many writes of `vlen`-octet values, keys
 * from `fmt`. Returns its encoding (free() it). */
static uint8_t *rwset(size_t count, const char *fmt, uint64_t block, size_t vlen, size_t *len)
{
    Stele__KVRead *r = calloc(count, sizeof *r);
    Stele__KVRead **rp = calloc(count, sizeof *rp);
    Stele__KVWrite *w = calloc(count, sizeof *w);
    Stele__KVWrite **wp = calloc(count, sizeof *wp);
    char(*keys)[16] = calloc(count, sizeof *keys);
    static uint8_t value[64];
    Stele__Version v = STELE__VERSION__INIT;
    v.block_number = block;
    v.tx_index = 3;
    assert_true(r && rp && w && wp && keys && vlen <= sizeof value);
    for (size_t i = 0; i < count; i++) {
        snprintf(keys[i], sizeof keys[i], fmt, i);
        stele__kvread__init(&r[i]);
        r[i].key = keys[i];
        r[i].version = block ? &v : NULL;
        rp[i] = &r[i];
        stele__kvwrite__init(&w[i]);
        w[i].key = keys[i];
        w[i].value.data = value;
        w[i].value.len = vlen;
        wp[i] = &w[i];
    }
    Stele__NsRwSet ns = STELE__NS_RW_SET__INIT, *nsp = &ns;
    ns.namespace_ = "asset";
    ns.n_reads = ns.n_writes = count;
    ns.reads = rp;
    ns.writes = wp;
    Stele__TxRwSet rw = STELE__TX_RW_SET__INIT;
    rw.n_ns_rwsets = 1;
    rw.ns_rwsets = &nsp;
    uint8_t *out = pb_pack(&rw.base, len);
    assert_non_null(out);
    free(r);
    free(rp);
    free(w);
    free(wp);
    free(keys);
    return out;
}

/* What the system writes decodes: a 1.7 MiB read/write set of 40,000 reads and writes (about
 * 10 times its octets decoded), one of 1-character keys and empty values (about 34 times, the
 * densest), and a 4 MiB block of 20,000 envelopes. */
static void large_legitimate_messages_decode(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    size_t n;
    uint8_t *m = rwset(40000, "key%06zu", 12345, 8, &n);
    assert_true(n > (1u << 20));
    Stele__TxRwSet *rw = (Stele__TxRwSet *)decodes_within_budget(RWSET, a, m, n);
    assert_int_equal(rw->ns_rwsets[0]->n_reads, 40000);
    assert_int_equal(rw->ns_rwsets[0]->n_writes, 40000);
    assert_string_equal(rw->ns_rwsets[0]->writes[39999]->key, "key039999");
    free(m);
    arena_reset(a);
    m = rwset(40000, "%zx", 0, 0, &n); /* keys "0".."9c3f": mostly 4 characters */
    decodes_within_budget(RWSET, a, m, n);
    free(m);
    arena_reset(a);
    m = rwset(40000, "k", 0, 0, &n); /* the same 1-character key, again and again */
    assert_true(pb_decoded_size(RWSET, m, n) > 30 * n);
    decodes_within_budget(RWSET, a, m, n);
    free(m);
    arena_reset(a);

    /* a block: BlockData (field 2) of 20,000 envelopes of 200 octets */
    size_t count = 20000, env = 200, k = count * (3 + env);
    m = malloc(k + 16);
    assert_non_null(m);
    n = 0;
    m[n++] = 0x12;
    for (size_t v = k; v; v >>= 7)
        m[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    for (size_t i = 0; i < count; i++) {
        m[n++] = 0x0a;
        m[n++] = (uint8_t)(0x80 | (env & 0x7f));
        m[n++] = (uint8_t)(env >> 7);
        memset(m + n, (int)i, env);
        n += env;
    }
    Stele__Block *b = (Stele__Block *)decodes_within_budget(&stele__block__descriptor, a, m, n);
    assert_int_equal(b->data->n_envelopes, count);
    free(m);
    arena_destroy(a);
}

/* protobuf-c merges a singular submessage met again with the earlier one, allocating its
 * arrays anew each time: 2,000 copies of ProposalResponsePayload.rwset (field 5), each with
 * one empty NsRwSet, are 8,000 octets that would cost some 16 MB. Refused before any
 * allocation; three still decode into one rwset of three namespaces. */
static void repeated_singular_submessage_refused(void **state)
{
    (void)state;
    static const uint8_t item[] = {0x2a, 0x02, 0x0a, 0x00};
    static uint8_t m[4 * 2000];
    size_t n = repeat(m, item, 4, 2000);
    struct arena *a = arena_create(0);
    assert_null(pb_unpack(PRP, a, m, n, 0));
    assert_int_equal(arena_used(a), 0);
    assert_null(pb_unpack(PRP, NULL, m, n, 0));
    n = repeat(m, item, 4, 3);
    Stele__ProposalResponsePayload *p =
        (Stele__ProposalResponsePayload *)decodes_within_budget(PRP, a, m, n);
    assert_non_null(p->rwset);
    assert_int_equal(p->rwset->n_ns_rwsets, 3);
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_fields_survive_encoding),
        cmocka_unit_test(many_unknown_fields_refused),
        cmocka_unit_test(field_numbers_past_the_largest_refused),
        cmocka_unit_test(size_cap),
        cmocka_unit_test(empty_submessages_refused),
        cmocka_unit_test(budget_boundary),
        cmocka_unit_test(large_legitimate_messages_decode),
        cmocka_unit_test(repeated_singular_submessage_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
