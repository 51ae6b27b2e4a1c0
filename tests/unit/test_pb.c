/* test_pb.c — lib/pb's decoding of untrusted octets: unknown fields with numbers the encoding
 * allows are kept and survive encoding again; a field number past 2^29 - 1 (which protobuf-c
 * keeps, and then cannot encode faithfully) is refused at any depth; the size cap holds; at
 * most 256 unknown fields, submessages included, are decoded. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "pb/pb.h"
#include "stele/channel.pb-c.h"

#include <string.h>

#define CFG (&stele__channel_config__descriptor)

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_fields_survive_encoding),
        cmocka_unit_test(many_unknown_fields_refused),
        cmocka_unit_test(field_numbers_past_the_largest_refused),
        cmocka_unit_test(size_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
