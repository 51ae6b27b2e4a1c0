/* pb.c — protobuf-c helpers. */
#include "pb/pb.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"

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
    if (a) {
        ProtobufCAllocator alloc;
        pb_arena_allocator(a, &alloc);
        return protobuf_c_message_unpack(desc, &alloc, len, data);
    }
    return protobuf_c_message_unpack(desc, NULL, len, data);
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
