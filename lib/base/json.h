/*
 * json.h — a small JSON writer for --json output and reports.
 *
 * The writer appends to a caller-owned struct buf and inserts commas itself; nesting is
 * tracked up to JSON_MAX_DEPTH. Strings are escaped per RFC 8259 (control characters as
 * \u00XX; invalid UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON).
 * Errors (OOM, nesting) are sticky: json_finish() reports them.
 */
#ifndef STELE_BASE_JSON_H
#define STELE_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define JSON_MAX_DEPTH 32

struct json {
    struct buf *out;                     /* where text goes (not owned) */
    int depth;                           /* current nesting */
    bool need_comma[JSON_MAX_DEPTH + 1]; /* per level: a value was already written */
    bool after_key;                      /* a key was written; its value comes next */
    int err;                             /* first error (stele status), sticky */
};

/* Starts writing into `out` (appending). */
void json_init(struct json *j, struct buf *out);
/* Returns STELE_OK when the document is complete and no error happened. */
int json_finish(struct json *j);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* Writes a key inside an object; the next call writes its value. */
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s); /* NULL writes null */
void json_string_len(struct json *j, const char *s, size_t len);
void json_hex(struct json *j, const uint8_t *data, size_t len); /* as a lowercase hex string */
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_double(struct json *j, double v, int decimals); /* non-finite values write null */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* Shorthands for "key": value inside an object. */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_hex(struct json *j, const char *key, const uint8_t *data, size_t len);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_double(struct json *j, const char *key, double v, int decimals);
void json_kv_bool(struct json *j, const char *key, bool v);

#endif
