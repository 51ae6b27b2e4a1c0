/*
 * config_int.h — helpers shared by the files of lib/config; not part of the public API.
 */
#ifndef STELE_CONFIG_CONFIG_INT_H
#define STELE_CONFIG_CONFIG_INT_H

#include "config/config.h"

#include <stdarg.h>

struct arena;

/* What a YAML node is. Anchors, aliases and tags never reach the tree: they are refused. */
enum config_node_kind {
    CONFIG_NODE_SCALAR,
    CONFIG_NODE_MAP,
    CONFIG_NODE_LIST,
};

/* One node of the parsed document, allocated in the loader's scratch arena. */
struct config_node {
    enum config_node_kind kind;
    unsigned line, col;        /* 1-based position of the node's first character */
    const char *text;          /* scalars: the value, NUL-terminated (may contain NULs) */
    size_t len;                /* scalars: bytes in `text` */
    bool plain;                /* scalars: written without quotes (so ~, null or nothing = null) */
    struct config_node *child; /* maps: key, value, key, value...; lists: the items */
    struct config_node *last;  /* last child, for appending */
    struct config_node *next;  /* next sibling */
    size_t n;                  /* number of children */
};

/* State of one load: where messages point, the two arenas and the first error. */
struct config_loader {
    const char *name;  /* the file name as given, printed in messages */
    const char *buf;   /* the document, for locating reader errors */
    size_t len;        /* bytes in `buf` */
    struct arena *tmp; /* the node tree and message scratch; freed when the load ends */
    struct arena *out; /* strings and arrays handed to the caller (the config's arena) */
    char *err;         /* first error message (malloc'd) or NULL */
    int status;        /* status of the first error */
    size_t nodes;      /* nodes created so far, against CONFIG_MAX_NODES */
};

/* Records the first error of the load as "name:line:col: message" ("name: message" when line
 * is 0) and returns `status`. Later errors are ignored and return the first one's status. */
int config_fail(struct config_loader *ld, int status, unsigned line, unsigned col, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* Records "out of memory" (STELE_ERR_NOMEM) and returns its status. */
int config_nomem(struct config_loader *ld);

/* Returns `s` (`len` bytes) double-quoted for a message: escaped, cut after about 60 bytes on a
 * UTF-8 character boundary. The result lives in ld->tmp. */
const char *config_quote(struct config_loader *ld, const char *s, size_t len);

/* True for a plain scalar that YAML reads as null: nothing, ~, null, Null, NULL. */
bool config_node_is_null(const struct config_node *n);

/* What a node is, for "got ..." in messages: "a map", "a list", "null" or the quoted text. */
const char *config_describe(struct config_loader *ld, const struct config_node *n);

/* What field `f` accepts, for "expected ..." in messages, bounds included ("an integer from 1
 * to 64", "one of debug, info"). The result is static or lives in ld->tmp. */
const char *config_expect_of(struct config_loader *ld, const struct config_field *f);

/* Records 'unknown key "k" in "path" (did you mean "x"?)' for key node `k` of a map described
 * by `s` at `path` ("" at the top level), and returns STELE_ERR_CONFIG. */
int config_unknown_key(struct config_loader *ld, const struct config_schema *s,
                       const struct config_node *k, const char *path);

/* Parses ld->buf with libyaml into a tree in ld->tmp. *root is NULL for an empty document.
 * Returns STELE_OK or the status of the error recorded in `ld`. */
int config_tree_build(struct config_loader *ld, struct config_node **root);

/* Parses a decimal integer with optional sign (int64) or without (uint64) from exactly `len`
 * bytes. Returns STELE_OK or STELE_ERR_INVALID (empty, stray characters, overflow). */
int config_parse_int64(const char *text, size_t len, int64_t *v);
int config_parse_uint64(const char *text, size_t len, uint64_t *v);

/* Writes `ms` / `bytes` into `out` (NUL-terminated, truncated to `n`) in the largest unit that
 * divides it exactly: "2s", "1500ms", "4MiB", "512KB", "1000003". */
void config_format_duration(uint64_t ms, char *out, size_t n);
void config_format_size(uint64_t bytes, char *out, size_t n);

/* Writes a value of an unsigned type (CONFIG_UINT64, CONFIG_SIZE, CONFIG_DURATION) in its
 * units, as config_format_duration()/config_format_size() or plain decimal. */
void config_format_unsigned(enum config_type type, uint64_t v, char *out, size_t n);

/* Returns a static phrase for what a value of `type` looks like: "a duration (e.g. 500ms, 2s,
 * 1m)", "host:port", "a map", ... */
const char *config_type_expect(enum config_type type);

/* Returns the static short name of `type` for help text: "string", "duration", ... */
const char *config_type_name(enum config_type type);

#endif
