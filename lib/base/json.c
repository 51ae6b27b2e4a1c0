/* json.c — a small JSON writer. */
#include "base/json.h"

#include "base/buf.h"
#include "base/status.h"
#include "base/text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *j, struct buf *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

int json_finish(struct json *j)
{
    if (j->err)
        return j->err;
    return j->depth == 0 ? STELE_OK : STELE_ERR_STATE;
}

static void put(struct json *j, const char *s, size_t n)
{
    if (!j->err)
        j->err = buf_append(j->out, s, n);
}

/* Writes the comma before a value, unless it follows a key. */
static void before_value(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        put(j, ",", 1);
    j->need_comma[j->depth] = true;
}

static void open_(struct json *j, char c)
{
    before_value(j);
    if (j->depth >= JSON_MAX_DEPTH) {
        j->err = STELE_ERR_LIMIT;
        return;
    }
    put(j, &c, 1);
    j->need_comma[++j->depth] = false;
}

static void close_(struct json *j, char c)
{
    if (j->depth <= 0) {
        j->err = STELE_ERR_STATE;
        return;
    }
    j->depth--;
    put(j, &c, 1);
}

void json_object_begin(struct json *j)
{
    open_(j, '{');
}

void json_object_end(struct json *j)
{
    close_(j, '}');
}

void json_array_begin(struct json *j)
{
    open_(j, '[');
}

void json_array_end(struct json *j)
{
    close_(j, ']');
}

static void write_escaped(struct json *j, const char *s, size_t n)
{
    put(j, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(j, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named) {
                put(j, named, 2);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                put(j, esc, 6);
            }
            i++;
        } else {
            size_t l = text_utf8_len(p + i, n - i);
            if (l == 0) {
                put(j, "\xef\xbf\xbd", 3); /* U+FFFD */
                i++;
            } else {
                put(j, (const char *)p + i, l);
                i += l;
            }
        }
    }
    put(j, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
    before_value(j);
    write_escaped(j, key, strlen(key));
    put(j, ":", 1);
    j->after_key = true;
}

void json_string_len(struct json *j, const char *s, size_t len)
{
    before_value(j);
    write_escaped(j, s, len);
}

void json_string(struct json *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    json_string_len(j, s, strlen(s));
}

void json_hex(struct json *j, const uint8_t *data, size_t len)
{
    before_value(j);
    put(j, "\"", 1);
    if (!j->err)
        j->err = buf_append_hex(j->out, data, len);
    put(j, "\"", 1);
}

static void raw_value(struct json *j, const char *text)
{
    before_value(j);
    put(j, text, strlen(text));
}

void json_int(struct json *j, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    raw_value(j, t);
}

void json_uint(struct json *j, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    raw_value(j, t);
}

void json_double(struct json *j, double v, int decimals)
{
    if (!isfinite(v)) {
        json_null(j);
        return;
    }
    char t[64];
    snprintf(t, sizeof t, "%.*f", decimals < 0 ? 0 : decimals > 17 ? 17 : decimals, v);
    raw_value(j, t);
}

void json_bool(struct json *j, bool v)
{
    raw_value(j, v ? "true" : "false");
}

void json_null(struct json *j)
{
    raw_value(j, "null");
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
    json_key(j, key);
    json_string(j, s);
}

void json_kv_hex(struct json *j, const char *key, const uint8_t *data, size_t len)
{
    json_key(j, key);
    json_hex(j, data, len);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_uint(j, v);
}

void json_kv_double(struct json *j, const char *key, double v, int decimals)
{
    json_key(j, key);
    json_double(j, v, decimals);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}
