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

/* Adds the unknown fields of the `len` octets at `p`, read as a `desc` message with its
 * submessages, to *n; false once *n passes PB_MAX_UNKNOWN. protobuf-c keeps each unknown
 * field in an allocation of its own: a message made of tiny unknown fields costs some 40
 * times its size to decode, so such octets are refused before decoding. Octets that are not
 * a valid message count as fine here: decoding refuses them. */
static bool unknown_count_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                             int depth, unsigned *n)
{
    const uint8_t *end = p + len;
    if (depth > PB_MAX_DEPTH)
        return true;
    while (p < end) {
        uint64_t key, v;
        if (!read_varint(&p, end, &key))
            return true;
        uint64_t number = key >> 3;
        const ProtobufCFieldDescriptor *f =
            number && number <= PB_MAX_FIELD_NUMBER
                ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                : NULL;
        if (!f && ++*n > PB_MAX_UNKNOWN)
            return false;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &v))
                return true;
            break;
        case 1:
            if (end - p < 8)
                return true;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return true;
            p += 4;
            break;
        case 2:
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return true;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !unknown_count_ok(f->descriptor, p, (size_t)v, depth + 1, n))
                return false;
            p += v;
            break;
        default: /* groups, or no wire type at all: decoding decides */
            return true;
        }
    }
    return true;
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
    unsigned unknown = 0;
    if (!unknown_count_ok(desc, data, len, 0, &unknown))
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
