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
 * (each costs an allocation of its own), or when decoding would allocate more than
 * pb_decode_budget(len) octets. Unknown fields with valid numbers are kept, and encoded again
 * by pb_pack().
 *
 * The budget: protobuf-c allocates a struct for every submessage occurrence, and notes every
 * field in a 32-octet ScannedMember, so an empty submessage costs 2 octets on the wire and some
 * 60 or more in memory (a TxRwSet of empty NsRwSets: 73 times its octets), and a singular
 * submessage repeated on the wire is merged anew each time (quadratic). A pre-scan of the
 * octets (pb_decoded_size()) bounds what decoding them allocates and refuses them, before any
 * allocation, past PB_DECODE_BASE + PB_DECODE_PER_OCTET times their length: an arena is left as
 * it was, and the refusal depends on the octets alone, not on the memory at hand (peers agree
 * on it). What the system produces needs far less. Over a run of every test, no message the
 * system produced passed the budget (two fuzz mutations did, which do not decode anyway), and
 * of the decodings over 1 KiB none cost more than 24.3 times its octets (a ChannelConfig; a
 * ProposalResponsePayload 18.2). A 1.7 MiB read/write set of 40,000 reads and writes with
 * 9-character keys and 8-octet values costs 9.9 times its octets; one of 1-character keys and
 * empty values (about the densest a chaincode can write) 34.5 times; 100,000 empty chaincode
 * arguments 29 times; a 4 MiB block of 200-octet envelopes 1.4 times. PB_DECODE_BASE lets any
 * message under some 64 KiB of decoded form through whatever its ratio. */
ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, struct arena *a,
                            const uint8_t *data, size_t len, size_t max_len);

#define PB_DECODE_PER_OCTET 64          /* octets of decoded form allowed per wire octet... */
#define PB_DECODE_BASE      (64 * 1024) /* ...plus these */
/* PB_DECODE_BASE + PB_DECODE_PER_OCTET * len, saturating at SIZE_MAX. */
size_t pb_decode_budget(size_t len);
/* An upper bound on the octets protobuf-c allocates decoding the `len` octets at `data` as a
 * `desc` message (each allocation counted rounded up to 16 plus 16 for the allocator),
 * computed without decoding; saturates at SIZE_MAX. What an arena takes from the system may be
 * up to about twice that: a chunk's end is left unused when the next allocation does not fit
 * it (a review measured 1.02 times the budget for the worst read/write set it found). Octets that
 * are not a valid message are counted up to where decoding would stop; a message nested
 * deeper than 64 levels counts as SIZE_MAX (pb_unpack() refuses it whatever its size). */
size_t pb_decoded_size(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);

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
