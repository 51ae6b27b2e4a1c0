/*
 * buf.h — growable byte buffers and hex helpers.
 *
 * A `struct buf` is caller-owned: buf_init() it (or zero it), append to it, and buf_release()
 * it. `data` stays NUL-terminated past `len` whenever `cap > 0`, so text built with
 * buf_printf() can be used as a C string. Appends that cannot allocate leave the buffer as it
 * was and return STELE_ERR_NOMEM.
 */
#ifndef STELE_BASE_BUF_H
#define STELE_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data; /* owned; NULL until something is appended */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated, excluding the NUL kept after len */
};

void buf_init(struct buf *b);
/* Frees the storage and resets `b` to empty. Accepts a zeroed or already released buf. */
void buf_release(struct buf *b);
/* Like buf_release() but overwrites the bytes first: for buffers that held secrets. */
void buf_release_secure(struct buf *b);
/* Makes room for `extra` more bytes. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_byte(struct buf *b, uint8_t byte);
int buf_append_u16be(struct buf *b, uint16_t v);
int buf_append_u32be(struct buf *b, uint32_t v);
int buf_append_u64be(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets len to 0, keeping the storage. */
void buf_clear(struct buf *b);
/* Hands the storage to the caller (free() it) and resets `b`. Returns NULL for an empty buf. */
uint8_t *buf_steal(struct buf *b, size_t *len);

/* Appends the lowercase hex of `len` bytes. */
int buf_append_hex(struct buf *b, const uint8_t *data, size_t len);
/* Writes 2*len+1 chars (hex + NUL) into `out`. */
void hex_encode(const uint8_t *data, size_t len, char *out);
/* Decodes exactly `out_len` bytes from the hex string `hex` (which must be 2*out_len chars,
 * either case). Returns STELE_OK or STELE_ERR_MALFORMED. */
int hex_decode(const char *hex, uint8_t *out, size_t out_len);
/* Decodes a hex string of any even length into a new buf (appended). */
int buf_append_unhex(struct buf *b, const char *hex);

/* Big-endian loads and stores for fixed layouts. */
static inline void put_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put_u32be(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline void put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline uint16_t get_u16be(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t get_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t get_u64be(const uint8_t *p)
{
    return ((uint64_t)get_u32be(p) << 32) | get_u32be(p + 4);
}

#endif
