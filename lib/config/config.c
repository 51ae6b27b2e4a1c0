/* config.c — loading: file and buffer entry points, and the walk of the node tree against the
 * schema that fills the caller's struct. Parsing is in config_tree.c, scalar syntax in
 * config_value.c, printing in config_print.c. */
#include "config/config_int.h"

#include "base/arena.h"
#include "base/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct config {
    struct arena *arena; /* every string and array of the filled struct */
};

static const char *join_key(struct config_loader *ld, const char *path, const char *key)
{
    return *path ? arena_printf(ld->tmp, "%s.%s", path, key) : key;
}

/* Makes a relative path relative to the directory of the config file's name instead. */
static char *resolve_path(struct config_loader *ld, const char *text, size_t len)
{
    const char *slash = strrchr(ld->name, '/');
    if (text[0] == '/' || !slash)
        return arena_strndup(ld->out, text, len);
    int dirlen = slash == ld->name ? 1 : (int)(slash - ld->name + 1);
    return arena_printf(ld->out, "%.*s%.*s", dirlen, ld->name, (int)len, text);
}

static bool in_bounds(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && (hi == 0 || v <= hi);
}

/* Converts one scalar for field `f` and stores it at `slot`. Returns STELE_OK, STELE_ERR_NOMEM
 * (recorded) or STELE_ERR_INVALID (not recorded: the caller says where the text came from). */
static int convert(struct config_loader *ld, const struct config_field *f, const char *text,
                   size_t len, void *slot)
{
    uint64_t u;
    int64_t i;
    switch (f->type) {
    case CONFIG_STRING:
    case CONFIG_PATH:
    case CONFIG_ADDR: {
        if (memchr(text, 0, len) || !in_bounds(len, f->umin, f->umax))
            return STELE_ERR_INVALID;
        if ((f->type == CONFIG_PATH && len == 0) ||
            (f->type == CONFIG_ADDR && !config_addr_valid(text, len)))
            return STELE_ERR_INVALID;
        char *s = f->type == CONFIG_PATH && f->relative ? resolve_path(ld, text, len)
                                                        : arena_strndup(ld->out, text, len);
        if (!s)
            return config_nomem(ld);
        *(char **)slot = s;
        return STELE_OK;
    }
    case CONFIG_BOOL:
        if ((len == 4 &&
             (!memcmp(text, "true", 4) || !memcmp(text, "True", 4) || !memcmp(text, "TRUE", 4))))
            *(bool *)slot = true;
        else if (len == 5 && (!memcmp(text, "false", 5) || !memcmp(text, "False", 5) ||
                              !memcmp(text, "FALSE", 5)))
            *(bool *)slot = false;
        else
            return STELE_ERR_INVALID;
        return STELE_OK;
    case CONFIG_INT64:
        if (config_parse_int64(text, len, &i) != STELE_OK ||
            ((f->min || f->max) && (i < f->min || i > f->max)))
            return STELE_ERR_INVALID;
        *(int64_t *)slot = i;
        return STELE_OK;
    case CONFIG_UINT64:
    case CONFIG_DURATION:
    case CONFIG_SIZE: {
        int rc = f->type == CONFIG_UINT64     ? config_parse_uint64(text, len, &u)
                 : f->type == CONFIG_DURATION ? config_parse_duration(text, len, &u)
                                              : config_parse_size(text, len, &u);
        if (rc != STELE_OK || !in_bounds(u, f->umin, f->umax))
            return STELE_ERR_INVALID;
        *(uint64_t *)slot = u;
        return STELE_OK;
    }
    case CONFIG_ENUM:
        for (const struct config_enum *e = f->enums; e && e->name; e++) {
            if (strlen(e->name) == len && memcmp(e->name, text, len) == 0) {
                *(int *)slot = e->value;
                return STELE_OK;
            }
        }
        return STELE_ERR_INVALID;
    default:
        return STELE_ERR_INVALID;
    }
}

static int apply_defaults(struct config_loader *ld, const struct config_schema *s, const char *path,
                          void *dst);

/* Gives an absent (or null) optional key its default. */
static int apply_default(struct config_loader *ld, const struct config_field *f, const char *path,
                         void *dst)
{
    void *slot = (char *)dst + f->offset;
    if (f->type == CONFIG_MAP)
        return f->sub ? apply_defaults(ld, f->sub, path, slot) : STELE_OK;
    if (!f->def || f->type == CONFIG_STRING_LIST || f->type == CONFIG_MAP_LIST)
        return STELE_OK;
    int rc = convert(ld, f, f->def, strlen(f->def), slot);
    if (rc == STELE_ERR_INVALID)
        return config_fail(ld, STELE_ERR_INVALID, 0, 0, "schema error: default %s of %s is not %s",
                           config_quote(ld, f->def, strlen(f->def)), path, config_expect_of(ld, f));
    return rc;
}

static int apply_defaults(struct config_loader *ld, const struct config_schema *s, const char *path,
                          void *dst)
{
    for (const struct config_field *f = s->fields; f && f->key; f++) {
        const char *fpath = join_key(ld, path, f->key);
        int rc = fpath ? apply_default(ld, f, fpath, dst) : config_nomem(ld);
        if (rc != STELE_OK)
            return rc;
    }
    return STELE_OK;
}

static int fill_map(struct config_loader *ld, const struct config_schema *s,
                    const struct config_node *map, const char *path, void *dst);

/* Fills a list member (array pointer and count) of `dst` from the node `list`. */
static int fill_list(struct config_loader *ld, const struct config_field *f,
                     const struct config_node *list, const char *path, void *dst)
{
    size_t elem = f->type == CONFIG_MAP_LIST ? f->sub->size : sizeof(char *);
    if (list->kind != CONFIG_NODE_LIST || !in_bounds(list->n, f->umin, f->umax))
        return config_fail(
            ld, STELE_ERR_CONFIG, list->line, list->col, "%s: expected %s, got %s", path,
            config_expect_of(ld, f),
            list->kind == CONFIG_NODE_LIST
                ? arena_printf(ld->tmp, "%zu item%s", list->n, list->n == 1 ? "" : "s")
                : config_describe(ld, list));
    char *arr = list->n ? arena_calloc(ld->out, list->n, elem) : NULL;
    if (list->n && !arr)
        return config_nomem(ld);
    size_t i = 0;
    for (const struct config_node *it = list->child; it; it = it->next, i++) {
        const char *ipath = arena_printf(ld->tmp, "%s[%zu]", path, i);
        if (!ipath)
            return config_nomem(ld);
        int rc;
        if (f->type == CONFIG_MAP_LIST) {
            if (it->kind != CONFIG_NODE_MAP)
                return config_fail(ld, STELE_ERR_CONFIG, it->line, it->col,
                                   "%s: expected a map, got %s", ipath, config_describe(ld, it));
            rc = fill_map(ld, f->sub, it, ipath, arr + i * elem);
            if (f->has_pos)
                *(struct config_pos *)(arr + i * elem + f->pos_offset) =
                    (struct config_pos){it->line, it->col};
        } else {
            struct config_field item = {.type = CONFIG_STRING};
            if (it->kind != CONFIG_NODE_SCALAR || config_node_is_null(it))
                return config_fail(ld, STELE_ERR_CONFIG, it->line, it->col,
                                   "%s: expected a string, got %s", ipath, config_describe(ld, it));
            rc = convert(ld, &item, it->text, it->len, arr + i * elem);
            if (rc == STELE_ERR_INVALID)
                return config_fail(ld, STELE_ERR_CONFIG, it->line, it->col,
                                   "%s: expected a string without NUL bytes", ipath);
        }
        if (rc != STELE_OK)
            return rc;
    }
    *(void **)((char *)dst + f->offset) = arr;
    *(size_t *)((char *)dst + f->count_offset) = list->n;
    return STELE_OK;
}

/* Fills the member of field `f` in `dst` from node `v`. */
static int fill_value(struct config_loader *ld, const struct config_field *f,
                      const struct config_node *v, const char *path, void *dst)
{
    void *slot = (char *)dst + f->offset;
    if (config_node_is_null(v)) {
        if (f->required)
            return config_fail(ld, STELE_ERR_CONFIG, v->line, v->col, "%s: expected %s, got null",
                               path, config_expect_of(ld, f));
        return apply_default(ld, f, path, dst);
    }
    switch (f->type) {
    case CONFIG_MAP:
        if (v->kind != CONFIG_NODE_MAP)
            break;
        if (f->has_pos)
            *(struct config_pos *)((char *)slot + f->pos_offset) =
                (struct config_pos){v->line, v->col};
        return fill_map(ld, f->sub, v, path, slot);
    case CONFIG_STRING_LIST:
    case CONFIG_MAP_LIST:
        return fill_list(ld, f, v, path, dst);
    default:
        if (v->kind != CONFIG_NODE_SCALAR)
            break;
        int rc = convert(ld, f, v->text, v->len, slot);
        if (rc != STELE_ERR_INVALID)
            return rc;
        break;
    }
    return config_fail(ld, STELE_ERR_CONFIG, v->line, v->col, "%s: expected %s, got %s", path,
                       config_expect_of(ld, f), config_describe(ld, v));
}

/* Fills the struct `dst` described by `s` from the map node `map` found at `path` ("" for the
 * top level): every key must be known and appear once; absent keys get their defaults. */
static int fill_map(struct config_loader *ld, const struct config_schema *s,
                    const struct config_node *map, const char *path, void *dst)
{
    size_t nf = 0;
    while (s->fields && s->fields[nf].key)
        nf++;
    const struct config_node **seen = arena_calloc(ld->tmp, nf + 1, sizeof *seen);
    if (!seen)
        return config_nomem(ld);
    for (const struct config_node *k = map->child; k && k->next; k = k->next->next) {
        const struct config_node *v = k->next;
        size_t i;
        if (k->kind != CONFIG_NODE_SCALAR)
            return config_fail(ld, STELE_ERR_CONFIG, k->line, k->col, "expected a key, got %s",
                               config_describe(ld, k));
        for (i = 0; i < nf; i++)
            if (strlen(s->fields[i].key) == k->len && !memcmp(s->fields[i].key, k->text, k->len))
                break;
        if (i == nf)
            return config_unknown_key(ld, s, k, path);
        if (seen[i])
            return config_fail(ld, STELE_ERR_CONFIG, k->line, k->col,
                               "duplicate key \"%s\" (first at line %u)", s->fields[i].key,
                               seen[i]->line);
        seen[i] = k;
        const char *fpath = join_key(ld, path, s->fields[i].key);
        int rc = fpath ? fill_value(ld, &s->fields[i], v, fpath, dst) : config_nomem(ld);
        if (rc != STELE_OK)
            return rc;
    }
    for (size_t i = 0; i < nf; i++) {
        const struct config_field *f = &s->fields[i];
        if (seen[i])
            continue;
        if (f->required)
            return config_fail(ld, STELE_ERR_CONFIG, map->line, map->col,
                               "missing required key \"%s\"%s%s%s", f->key, *path ? " in \"" : "",
                               path, *path ? "\"" : "");
        const char *fpath = join_key(ld, path, f->key);
        int rc = fpath ? apply_default(ld, f, fpath, dst) : config_nomem(ld);
        if (rc != STELE_OK)
            return rc;
    }
    return STELE_OK;
}

/* Checks the parts of a schema the loader relies on (nested schemas, enum tables). */
static bool schema_valid(const struct config_schema *s, int depth)
{
    if (!s || !s->fields || depth > CONFIG_MAX_DEPTH)
        return false;
    for (const struct config_field *f = s->fields; f->key; f++) {
        if ((f->type == CONFIG_MAP || f->type == CONFIG_MAP_LIST) &&
            (!f->sub || !schema_valid(f->sub, depth + 1)))
            return false;
        if (f->has_pos && (!f->sub || f->pos_offset + sizeof(struct config_pos) > f->sub->size))
            return false;
        if (f->type == CONFIG_ENUM && !f->enums)
            return false;
        if ((unsigned)f->type > CONFIG_MAP_LIST)
            return false;
    }
    return true;
}

int config_load_buffer(const struct config_schema *schema, void *out, const void *buf, size_t len,
                       const char *name, struct config **cfgp, char **errmsg)
{
    struct config_loader ld = {.name = name ? name : "(config)", .buf = buf, .len = len};
    struct config *cfg = NULL;
    struct config_node *root = NULL;
    struct config_node empty = {.kind = CONFIG_NODE_MAP, .line = 1, .col = 1};
    int rc;

    if (errmsg)
        *errmsg = NULL;
    if (cfgp)
        *cfgp = NULL;
    if (!schema_valid(schema, 0) || !out || !cfgp || (!buf && len)) {
        rc = config_fail(&ld, STELE_ERR_INVALID, 0, 0, "invalid arguments or schema");
        goto done;
    }
    memset(out, 0, schema->size);
    if (len > CONFIG_MAX_SIZE) {
        rc = config_fail(&ld, STELE_ERR_CONFIG, 0, 0, "larger than the %d-byte limit",
                         CONFIG_MAX_SIZE);
        goto done;
    }
    ld.tmp = arena_create(0);
    cfg = calloc(1, sizeof *cfg);
    if (!ld.tmp || !cfg || !(cfg->arena = arena_create(0))) {
        rc = config_nomem(&ld);
        goto done;
    }
    ld.out = cfg->arena;
    rc = config_tree_build(&ld, &root);
    if (rc != STELE_OK)
        goto done;
    if (root && !config_node_is_null(root) && root->kind != CONFIG_NODE_MAP) {
        rc = config_fail(&ld, STELE_ERR_CONFIG, root->line, root->col,
                         "expected a map at the top level, got %s", config_describe(&ld, root));
        goto done;
    }
    rc = fill_map(&ld, schema, root && root->kind == CONFIG_NODE_MAP ? root : &empty, "", out);
done:
    arena_destroy(ld.tmp);
    if (rc != STELE_OK) {
        config_destroy(cfg);
        if (schema && out)
            memset(out, 0, schema->size);
        if (errmsg)
            *errmsg = ld.err;
        else
            free(ld.err);
        return rc;
    }
    *cfgp = cfg;
    return STELE_OK;
}

int config_load_file(const struct config_schema *schema, void *out, const char *path,
                     struct config **cfgp, char **errmsg)
{
    struct config_loader ld = {.name = path ? path : "(config)"};
    char *data = NULL, ebuf[128];
    size_t len = 0, cap = 0;
    int rc = STELE_OK;
    FILE *f = NULL;

    if (errmsg)
        *errmsg = NULL;
    if (cfgp)
        *cfgp = NULL;
    if (!path) {
        rc = config_fail(&ld, STELE_ERR_INVALID, 0, 0, "no file name");
        goto fail;
    }
    f = fopen(path, "rb");
    if (!f) { /* a file that is not there, or not ours to read, is the operator's to fix */
        int e = errno;
        rc = config_fail(&ld,
                         e == ENOENT || e == ENOTDIR ? STELE_ERR_NOT_FOUND
                         : e == EACCES || e == EPERM ? STELE_ERR_PERMISSION
                                                     : STELE_ERR_IO,
                         0, 0, "cannot open: %s", strerror_r(e, ebuf, sizeof ebuf));
        goto fail;
    }
    /* Read at most one byte past the limit: enough to know the file is too large. */
    while (len <= CONFIG_MAX_SIZE) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16384;
            if (ncap > CONFIG_MAX_SIZE + 1)
                ncap = CONFIG_MAX_SIZE + 1;
            char *nd = realloc(data, ncap);
            if (!nd) {
                rc = config_nomem(&ld);
                goto fail;
            }
            data = nd;
            cap = ncap;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) { /* a directory (EISDIR) is the user's mistake, not the disk's */
        rc = config_fail(&ld, errno == EISDIR ? STELE_ERR_CONFIG : STELE_ERR_IO, 0, 0,
                         "cannot read: %s", strerror_r(errno, ebuf, sizeof ebuf));
        goto fail;
    }
    fclose(f);
    rc = config_load_buffer(schema, out, data, len, path, cfgp, errmsg);
    free(data);
    return rc;
fail:
    if (f)
        fclose(f);
    free(data);
    if (schema && out)
        memset(out, 0, schema->size);
    if (errmsg)
        *errmsg = ld.err;
    else
        free(ld.err);
    return rc;
}

void config_destroy(struct config *cfg)
{
    if (!cfg)
        return;
    arena_destroy(cfg->arena);
    free(cfg);
}
