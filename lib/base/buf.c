/* buf.c — growable byte buffers and hex. */
#include "base/buf.h"
#include "base/status.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_release_secure(struct buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    buf_release(b);
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return STELE_ERR_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap && b->data)
        return STELE_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap + 1);
    if (!p)
        return STELE_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = 0;
    return STELE_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return STELE_OK;
}

int buf_append_byte(struct buf *b, uint8_t byte)
{
    return buf_append(b, &byte, 1);
}

int buf_append_u16be(struct buf *b, uint16_t v)
{
    uint8_t t[2];
    put_u16be(t, v);
    return buf_append(b, t, sizeof t);
}

int buf_append_u32be(struct buf *b, uint32_t v)
{
    uint8_t t[4];
    put_u32be(t, v);
    return buf_append(b, t, sizeof t);
}

int buf_append_u64be(struct buf *b, uint64_t v)
{
    uint8_t t[8];
    put_u64be(t, v);
    return buf_append(b, t, sizeof t);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return STELE_ERR_INVALID;
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return STELE_OK;
}

void buf_clear(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

uint8_t *buf_steal(struct buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}

static const char hexdigits[] = "0123456789abcdef";

void hex_encode(const uint8_t *data, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdigits[data[i] >> 4];
        out[2 * i + 1] = hexdigits[data[i] & 15];
    }
    out[2 * len] = 0;
}

int buf_append_hex(struct buf *b, const uint8_t *data, size_t len)
{
    int rc = buf_reserve(b, 2 * len);
    if (rc)
        return rc;
    hex_encode(data, len, (char *)b->data + b->len);
    b->len += 2 * len;
    return STELE_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
    if (!hex || strlen(hex) != 2 * out_len)
        return STELE_ERR_MALFORMED;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return STELE_ERR_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return STELE_OK;
}

int buf_append_unhex(struct buf *b, const char *hex)
{
    size_t n = hex ? strlen(hex) : 0;
    if (n % 2)
        return STELE_ERR_MALFORMED;
    int rc = buf_reserve(b, n / 2);
    if (rc)
        return rc;
    rc = hex_decode(hex, b->data + b->len, n / 2);
    if (rc)
        return rc;
    b->len += n / 2;
    b->data[b->len] = 0;
    return STELE_OK;
}
