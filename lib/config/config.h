/*
 * config.h — YAML configuration files into typed C structs, driven by a schema.
 *
 * A caller describes its struct with a const table of `struct config_field` (key, type,
 * offsetof() in the struct, required, default, bounds, nested schema, help) and gets the struct
 * filled from a YAML file or buffer. Everything is checked: unknown keys, duplicate keys, missing
 * required keys, wrong node kinds, malformed or out-of-range values. Anchors, aliases and tags
 * are refused; documents are capped in size (CONFIG_MAX_SIZE), nesting (CONFIG_MAX_DEPTH) and
 * node count (CONFIG_MAX_NODES), so a hostile file cannot make the loader work hard.
 *
 * Every error is one line naming the file as given, line and column (1-based) and what was
 * expected, e.g.
 *     configs/ca.yaml:7:12: listen: expected host:port, got "localhost"
 *     configs/ca.yaml:3:1: unknown key "lisen" (did you mean "listen"?)
 *
 * Storage by type (the member at `offset` in the caller's struct):
 *     CONFIG_STRING, CONFIG_ADDR, CONFIG_PATH   char *        (NULL when absent, no default)
 *     CONFIG_BOOL                               bool
 *     CONFIG_INT64                              int64_t
 *     CONFIG_UINT64, CONFIG_SIZE (bytes),
 *     CONFIG_DURATION (milliseconds)            uint64_t
 *     CONFIG_ENUM                               int           (the matching config_enum value)
 *     CONFIG_MAP                                the nested struct itself, `sub->size` bytes
 *     CONFIG_STRING_LIST                        char **       + size_t count at `count_offset`
 *     CONFIG_MAP_LIST                           void * (array of `sub->size`-byte structs)
 *                                               + size_t count at `count_offset`
 * Strings and arrays live in an arena owned by the `struct config` returned by the loaders;
 * config_destroy() frees them all at once. An absent or null optional key gets its default; an
 * absent optional map gets its keys' defaults, so a caller tells "no TLS" by a NULL path.
 *
 * The loader does no I/O besides reading the config file in config_load_file(), keeps no global
 * state and is safe to call from several threads at once.
 */
#ifndef STELE_CONFIG_CONFIG_H
#define STELE_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest document accepted, in bytes. */
#define CONFIG_MAX_SIZE (1024 * 1024)
/* Deepest nesting of maps and lists accepted. */
#define CONFIG_MAX_DEPTH 32
/* Most YAML nodes (scalars, maps, lists) accepted in one document. */
#define CONFIG_MAX_NODES 100000

/* A loaded configuration: owns the strings and arrays the filled struct points to. */
struct config;

/* How a value is written in YAML and stored in the struct (see the table above). */
enum config_type {
    CONFIG_STRING,      /* any scalar, kept as text */
    CONFIG_BOOL,        /* true or false (nothing else: no yes/no/on/off) */
    CONFIG_INT64,       /* decimal integer, optional sign; bounds min..max */
    CONFIG_UINT64,      /* decimal integer without sign; bounds umin..umax */
    CONFIG_DURATION,    /* integer with unit ms, s, m, h or d (or bare 0) -> milliseconds */
    CONFIG_SIZE,        /* integer bytes, optionally with B, KB, MB, GB, TB, KiB, MiB, GiB, TiB */
    CONFIG_ENUM,        /* one of the names in `enums` -> its value */
    CONFIG_ADDR,        /* host:port; host a DNS name, IPv4 or [IPv6]; port 0..65535 */
    CONFIG_PATH,        /* a file path; see `relative` */
    CONFIG_MAP,         /* nested map filled with `sub` */
    CONFIG_STRING_LIST, /* list of scalars, kept as text */
    CONFIG_MAP_LIST,    /* list of maps, each filled with `sub` */
};

/* One name of a CONFIG_ENUM. Tables end with {NULL, 0}. */
struct config_enum {
    const char *name; /* as written in YAML, matched exactly */
    int value;        /* stored in the struct's int */
};

struct config_schema;

/* Where a map was written: 1-based line and column of its first character, or {0, 0} when it
 * was absent (its keys took their defaults). Lets checks that span several keys point into the
 * file (config_error_at()) and tell a section written out from one left to its defaults. */
struct config_pos {
    unsigned line; /* 1-based; 0 = not in the file */
    unsigned col;  /* 1-based */
};

/* Describes one key of a map. Tables end with an entry whose `key` is NULL. Unused members stay
 * zero, so designated initializers keep tables short. */
struct config_field {
    const char *key;                 /* YAML key, matched exactly; NULL ends the table */
    enum config_type type;           /* how the value is parsed and stored */
    size_t offset;                   /* offsetof() the member in the caller's struct */
    size_t count_offset;             /* lists: offsetof() the size_t that receives the item count */
    bool required;                   /* a missing or null value is an error; inside an optional map
                                      * this applies only when the map is present */
    bool secret;                     /* never printed by config_print(): passwords, tokens */
    bool relative;                   /* CONFIG_PATH: prefix a relative path with the directory part
                                      * of the file name as given ("etc/peer.yaml" + "tls/k.pem" ->
                                      * "etc/tls/k.pem"); a name without '/' leaves it unchanged */
    const char *def;                 /* default when the key is absent or null, written as in YAML
                                      * ("30s", "4MiB", "info") and checked like a value; NULL means
                                      * zero/false/NULL. Not used for maps and lists. */
    int64_t min, max;                /* CONFIG_INT64: inclusive bounds; both 0 means any int64 */
    uint64_t umin, umax;             /* CONFIG_UINT64/SIZE/DURATION: inclusive bounds of the value;
                                      * strings, addresses, paths: bounds of the length in bytes;
                                      * lists: bounds of the item count. umax 0 means no upper bound */
    const struct config_enum *enums; /* CONFIG_ENUM: accepted names, ending with {NULL, 0} */
    const struct config_schema *sub; /* CONFIG_MAP, CONFIG_MAP_LIST: schema of the nested map */
    bool has_pos;                    /* CONFIG_MAP, CONFIG_MAP_LIST: record where the map (each
                                      * item) was written ... */
    size_t pos_offset;               /* ... in the struct config_pos at this offset of the nested
                                      * struct (of each item); absent maps keep {0, 0} */
    const char *help;                /* one line for humans: what the key is for */
};

/* A struct described for the loader. */
struct config_schema {
    const char *name; /* what the struct is ("peer", "tls"), for readers; messages use key paths */
    size_t size;      /* sizeof the struct (needed for CONFIG_MAP_LIST items) */
    const struct config_field *fields; /* the keys, ending with {.key = NULL} */
};

/* Parses the YAML file at `path` (read whole, at most CONFIG_MAX_SIZE bytes) into `out`, a
 * struct of `schema->size` bytes that this call zeroes first. On success returns STELE_OK, sets
 * *cfgp to a new config that owns every string and array `out` points to (free it with
 * config_destroy() once `out` is no longer used) and sets *errmsg to NULL. On failure returns
 * STELE_ERR_CONFIG (bad content), STELE_ERR_NOT_FOUND (no such file), STELE_ERR_PERMISSION
 * (not readable by this user), STELE_ERR_IO (cannot be read otherwise), STELE_ERR_NOMEM or
 * STELE_ERR_INVALID (bad schema or arguments), zeroes `out`, sets *cfgp to NULL and sets *errmsg
 * to a malloc'd one-line message that the caller frees. `errmsg` may be NULL. `path` is printed
 * in messages as given and relative CONFIG_PATH values resolve against its directory. */
int config_load_file(const struct config_schema *schema, void *out, const char *path,
                     struct config **cfgp, char **errmsg);

/* Like config_load_file() but parses the `len` bytes at `buf` (untrusted; need not be
 * NUL-terminated; not kept after the call). `name` stands for the file in messages and its
 * directory is the base of relative CONFIG_PATH values. This is the fuzzed entry point. */
int config_load_buffer(const struct config_schema *schema, void *out, const void *buf, size_t len,
                       const char *name, struct config **cfgp, char **errmsg);

/* Frees a loaded config and so every string and array of the struct it filled. Accepts NULL. */
void config_destroy(struct config *cfg);

/* Writes a human summary of `data` (a struct described by `schema`, e.g. filled by a loader) to
 * `f`: one "key: value" line per field in schema order, nested keys as "tls.cert" and
 * "orgs[0].name", values in the units they are written in ("2s", "4MiB", "info"). Secret fields
 * print as "(secret)" when set, never their value. Returns STELE_OK or STELE_ERR_IO. */
int config_print(const struct config_schema *schema, const void *data, FILE *f);

/* Writes one line per key of `schema` (recursively) with its type, default and help: the
 * reference a daemon's --help can show. Returns STELE_OK or STELE_ERR_IO. */
int config_print_help(const struct config_schema *schema, FILE *f);

/* The value parsers the loader uses, for command-line flags that take the same syntax. Each
 * parses exactly `len` bytes at `text` and returns STELE_OK or STELE_ERR_INVALID (malformed or
 * overflowing), leaving *out unchanged on error. */
int config_parse_duration(const char *text, size_t len, uint64_t *ms);
int config_parse_size(const char *text, size_t len, uint64_t *bytes);

/* True when the `len` bytes at `text` are a valid host:port (see CONFIG_ADDR). */
bool config_addr_valid(const char *text, size_t len);

/* For checks that span several keys, after a load: sets *errmsg (when not NULL) to a malloc'd
 * "file:line:col: message" ("file: message" when pos.line is 0), in the loader's format, and
 * returns STELE_ERR_CONFIG. */
int config_error_at(char **errmsg, const char *file, struct config_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
