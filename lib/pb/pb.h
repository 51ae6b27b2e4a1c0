/*
 * pb.h — protobuf-c helpers: packing into buffers, unpacking into arenas.
 *
 * Decoders here are the first thing untrusted bytes meet: they check sizes before protobuf-c
 * sees them and never abort on malformed input.
 */
#ifndef STELE_PB_PB_H
#define STELE_PB_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;

/* A ProtobufCAllocator whose allocations come from `a` and are freed with the arena. Fill
 * `*alloc` (caller-owned; must outlive its use) and pass it to protobuf_c_message_unpack(). */
void pb_arena_allocator(struct arena *a, ProtobufCAllocator *alloc);

/* Decodes `len` bytes as a `desc` message. With `a` non-NULL the message lives in the arena
 * (do not free it); with NULL it is malloc'd, free it with pb_free(). Returns NULL when the
 * bytes are not a valid message of that type (including an unknown field numbered 0 or past
 * 2^29 - 1, which protobuf-c would keep but could not encode again), or when len > max_len
 * (0 = no cap), or when the message and its submessages hold more than 256 unknown fields
 * (each costs an allocation of its own). Unknown fields with valid numbers are kept, and
 * encoded again by pb_pack(). */
ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, struct arena *a,
                            const uint8_t *data, size_t len, size_t max_len);
/* Frees a message returned by pb_unpack(..., NULL, ...). Accepts NULL. */
void pb_free(ProtobufCMessage *msg);

/* Appends the serialized `msg` to `out`. Returns STELE_OK or STELE_ERR_NOMEM. */
int pb_pack_buf(const ProtobufCMessage *msg, struct buf *out);
/* Returns a malloc'd serialization of `msg` and its length in *len (free() it); NULL on OOM. */
uint8_t *pb_pack(const ProtobufCMessage *msg, size_t *len);

/* Appends one length-delimited field, number `field`, holding the `len` octets at `data`: what
 * a message whose only field `field` is a bytes or sub-message field with those octets
 * serializes to. Lets a server send a stored message inside a response (a stored Block as
 * DeliverResponse.block) without decoding and re-encoding it. Returns STELE_OK or
 * STELE_ERR_NOMEM. */
int pb_append_bytes_field(struct buf *out, uint32_t field, const uint8_t *data, size_t len);

#endif
