/* pb.c — protobuf-c helpers. */
#include "pb/pb.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"

#include <stdbool.h>
#include <stdlib.h>

static void *arena_pb_alloc(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *p)
{
    (void)data; /* freed with the arena */
    (void)p;
}

void pb_arena_allocator(struct arena *a, ProtobufCAllocator *alloc)
{
    alloc->alloc = arena_pb_alloc;
    alloc->free = arena_pb_free;
    alloc->allocator_data = a;
}

#define PB_MAX_FIELD_NUMBER 536870911u /* 2^29 - 1: the protobuf encoding's largest */
#define PB_MAX_DEPTH        64         /* deeper than any message of ours nests */
#define PB_MAX_UNKNOWN      256        /* unknown fields in one message, its submessages too */

/* protobuf-c 1.4 notes each field of a message in a ScannedMember (tag, wire type, prefix
 * length, field, length, data: 32 octets) before decoding it: 16 of them on the stack, then
 * in slabs of 32, 64, 128... members it allocates, and frees (an arena keeps them). */
#define PB_SCANNED_MEMBER      32
#define PB_SCANNED_MEMBER_SLAB 16

/* What one allocation of `n` octets costs: malloc rounds it up to 16 and keeps a header, the
 * arena rounds it up to 16. */
static size_t alloc_cost(size_t n)
{
    return n > SIZE_MAX - 32 ? SIZE_MAX : ((n + 15) & ~(size_t)15) + 16;
}

/* What a pre-scan learns of the octets: their unknown fields, and the octets decoding them
 * allocates (saturating at SIZE_MAX). */
struct scan {
    size_t unknown;
    size_t cost;
};

static void charge(struct scan *s, size_t n)
{
    s->cost = n > SIZE_MAX - s->cost ? SIZE_MAX : s->cost + n;
}

/* Reads a varint at *p (before `end`); false when it is cut short or longer than 10 octets. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        if (shift < 64)
            r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* The size of one element of a repeated field of type `t` (protobuf-c's array layout). */
static size_t element_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default: /* 32-bit numbers and enums */
        return 4;
    }
}

/* How many elements a packed run of `len` octets at `p` holds, as protobuf-c counts them. */
static size_t packed_count(ProtobufCType t, const uint8_t *p, size_t len)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return len / 4;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return len / 8;
    case PROTOBUF_C_TYPE_BOOL:
        return len;
    default: { /* varints: one per octet without the continuation bit */
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += !(p[i] & 0x80);
        return n;
    }
    }
}

/* Adds to `s` what decoding the `len` octets at `p` as a `desc` message, with its submessages,
 * costs: its unknown fields, and an upper bound on the octets protobuf-c allocates (as read in
 * protobuf-c 1.4's protobuf_c_message_unpack): the message struct, each repeated field's
 * array, each string (length + 1), bytes value, unknown field (and their array) and
 * submessage, the slabs of ScannedMembers, and the arrays protobuf-c allocates again when it
 * merges a singular submessage that occurs more than once: each merge is charged what the
 * message's singular submessages have cost so far, which grows quadratically, as protobuf-c's
 * merging does (messages we encode never repeat a singular field). protobuf-c keeps each
 * unknown field in an allocation of its own, and a submessage occurrence of two octets costs
 * a struct and a pointer, so such octets are refused before decoding (see pb_unpack). Octets
 * that are not a valid message count until the point where they stop being one: decoding
 * refuses them, having allocated no more than that. */
static void scan_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                         int depth, struct scan *s)
{
    const uint8_t *end = p + len;
    if (depth > PB_MAX_DEPTH) { /* refused after decoding anyway (unknown_fields_valid) */
        charge(s, SIZE_MAX);
        return;
    }
    size_t members = 0;
    size_t singular = 0; /* what singular submessages have cost so far, merges aside */
    unsigned unknown = 0;
    uint64_t seen = 0; /* fields met so far, by index (from 64 on, every one counts as met) */
    charge(s, alloc_cost(desc->sizeof_message));
    if ((desc->n_fields + 7) / 8 > 16) /* protobuf-c's required-field bitmap outgrows the stack */
        charge(s, alloc_cost((desc->n_fields + 7) / 8));
    while (p < end) {
        uint64_t key, v;
        if (!read_varint(&p, end, &key))
            break;
        uint64_t number = key >> 3;
        const ProtobufCFieldDescriptor *f =
            number && number <= PB_MAX_FIELD_NUMBER
                ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                : NULL;
        const uint8_t *body = p, *value = p;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &v))
                goto out;
            break;
        case 1:
            if (end - p < 8)
                goto out;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                goto out;
            p += 4;
            break;
        case 2:
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                goto out;
            value = p;
            p += v;
            break;
        default: /* groups, or no wire type at all: decoding refuses them */
            goto out;
        }
        members++;
        if (!f) {
            s->unknown++;
            unknown++;
            charge(s, alloc_cost((size_t)(p - body))); /* a copy of its octets after the tag */
            continue;
        }
        size_t index = (size_t)(f - desc->fields);
        bool again = index >= 64 || (seen >> index & 1);
        if (index < 64)
            seen |= (uint64_t)1 << index;
        size_t n = (size_t)(p - value); /* a length-delimited value's octets */
        bool delimited = (key & 7) == 2;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!again) /* the array's allocation: its header and rounding */
                charge(s, alloc_cost(1));
            size_t count = 1;
            if (delimited && f->type != PROTOBUF_C_TYPE_STRING &&
                f->type != PROTOBUF_C_TYPE_BYTES && f->type != PROTOBUF_C_TYPE_MESSAGE)
                count = packed_count(f->type, value, n);
            charge(s, count > SIZE_MAX / 8 ? SIZE_MAX : count * element_size(f->type));
        }
        if (!delimited)
            continue;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            charge(s, alloc_cost(n + 1));
            break;
        case PROTOBUF_C_TYPE_BYTES:
            if (n)
                charge(s, alloc_cost(n));
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            size_t before = s->cost;
            scan_message(f->descriptor, value, n, depth + 1, s);
            if (f->label == PROTOBUF_C_LABEL_REPEATED)
                break;
            size_t sub = s->cost - before;
            if (again) /* merged with the earlier occurrences: arrays as large as both again */
                charge(s, singular > SIZE_MAX - sub ? SIZE_MAX : singular + sub);
            singular = singular > SIZE_MAX - sub ? SIZE_MAX : singular + sub;
            break;
        }
        default:
            break;
        }
    }
out:
    if (unknown)
        charge(s, alloc_cost(unknown * sizeof(ProtobufCMessageUnknownField)));
    size_t room = PB_SCANNED_MEMBER_SLAB; /* members the slabs so far hold */
    for (unsigned k = 1; members > room; k++) {
        if (k > 40) { /* more members than octets exist */
            charge(s, SIZE_MAX);
            break;
        }
        charge(s, alloc_cost((size_t)PB_SCANNED_MEMBER * PB_SCANNED_MEMBER_SLAB << k));
        room += (size_t)PB_SCANNED_MEMBER_SLAB << k;
    }
}

size_t pb_decode_budget(size_t len)
{
    return len > (SIZE_MAX - PB_DECODE_BASE) / PB_DECODE_PER_OCTET
               ? SIZE_MAX
               : PB_DECODE_BASE + PB_DECODE_PER_OCTET * len;
}

size_t pb_decoded_size(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
    static const uint8_t empty[1];
    struct scan s = {0, 0};
    scan_message(desc, data ? data : empty, data ? len : 0, 0, &s);
    return s.cost;
}

/* True when every unknown field kept in `m` and its submessages has a field number the
 * encoding allows. protobuf-c keeps a field numbered 0, or one whose tag overflows 32 bits, as
 * an unknown field, and then packs it into octets that it refuses to decode: such a message
 * would not survive being encoded again (found by fuzz_genesis), so it is refused here. */
static bool unknown_fields_valid(const ProtobufCMessage *m, int depth)
{
    if (!m || depth > PB_MAX_DEPTH)
        return m == NULL;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0 || m->unknown_fields[i].tag > PB_MAX_FIELD_NUMBER)
            return false;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *at = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            const ProtobufCMessage *const *items = *(const ProtobufCMessage *const *const *)at;
            for (size_t k = 0; k < n; k++)
                if (!unknown_fields_valid(items[k], depth + 1))
                    return false;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof is set: this pointer is not a message */
        if (!unknown_fields_valid(*(const ProtobufCMessage *const *)at, depth + 1))
            return false;
    }
    return true;
}

ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, struct arena *a,
                            const uint8_t *data, size_t len, size_t max_len)
{
    if (max_len && len > max_len)
        return NULL;
    if (!data && len)
        return NULL;
    static const uint8_t empty[1];
    if (!data)
        data = empty;
    struct scan s = {0, 0};
    scan_message(desc, data, len, 0, &s);
    if (s.unknown > PB_MAX_UNKNOWN || s.cost > pb_decode_budget(len))
        return NULL;
    ProtobufCAllocator alloc;
    if (a)
        pb_arena_allocator(a, &alloc);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, a ? &alloc : NULL, len, data);
    if (m && !unknown_fields_valid(m, 0)) {
        if (!a)
            protobuf_c_message_free_unpacked(m, NULL);
        return NULL; /* in an arena, it goes with the arena */
    }
    return m;
}

void pb_free(ProtobufCMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

int pb_pack_buf(const ProtobufCMessage *msg, struct buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    int rc = buf_reserve(out, n);
    if (rc)
        return rc;
    protobuf_c_message_pack(msg, out->data + out->len);
    out->len += n;
    out->data[out->len] = 0;
    return STELE_OK;
}

uint8_t *pb_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return NULL;
    protobuf_c_message_pack(msg, p);
    *len = n;
    return p;
}

int pb_append_bytes_field(struct buf *out, uint32_t field, const uint8_t *data, size_t len)
{
    uint8_t head[5 + 10];
    size_t h = 0;
    for (uint32_t key = (field << 3) | 2;; key >>= 7) {
        head[h++] = (uint8_t)((key & 0x7f) | (key > 0x7f ? 0x80 : 0));
        if (key <= 0x7f)
            break;
    }
    for (uint64_t n = len;; n >>= 7) {
        head[h++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        if (n <= 0x7f)
            break;
    }
    if (buf_append(out, head, h) || buf_append(out, data, len))
        return STELE_ERR_NOMEM;
    return STELE_OK;
}
