/* config_msg.c — the words of error messages: recording the first error with its position,
 * quoting bad values, describing nodes and what a field expects, suggesting a known key. */
#include "config/config_int.h"

#include "base/arena.h"
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest key compared for "did you mean": longer keys get no suggestion. */
#define SUGGEST_MAX_KEY 64
/* Bytes of a bad value quoted back in a message. */
#define QUOTE_MAX 60

int config_fail(struct config_loader *ld, int status, unsigned line, unsigned col, const char *fmt,
                ...)
{
    char prefix[64];
    va_list ap;
    if (ld->err || ld->status != STELE_OK)
        return ld->status;
    ld->status = status;
    if (line)
        snprintf(prefix, sizeof prefix, ":%u:%u: ", line, col);
    else
        snprintf(prefix, sizeof prefix, ": ");
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return status;
    size_t plen = strlen(ld->name) + strlen(prefix);
    ld->err = malloc(plen + (size_t)n + 1);
    if (!ld->err)
        return status;
    snprintf(ld->err, plen + 1, "%s%s", ld->name, prefix);
    va_start(ap, fmt);
    vsnprintf(ld->err + plen, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return status;
}

int config_error_at(char **errmsg, const char *file, struct config_pos pos, const char *fmt, ...)
{
    struct config_loader ld = {.name = file ? file : "(config)"};
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = config_fail(&ld, STELE_ERR_CONFIG, pos.line, pos.col, "%s", msg);
    if (errmsg)
        *errmsg = ld.err;
    else
        free(ld.err);
    return rc;
}

int config_nomem(struct config_loader *ld)
{
    return config_fail(ld, STELE_ERR_NOMEM, 0, 0, "out of memory");
}

/* Returns `s` (len bytes) double-quoted for a message, escaped, cut at QUOTE_MAX bytes on a
 * UTF-8 character boundary. The result lives in the scratch arena. */
const char *config_quote(struct config_loader *ld, const char *s, size_t len)
{
    size_t lim = len > QUOTE_MAX ? QUOTE_MAX : len;
    while (lim < len && lim > 0 && ((unsigned char)s[lim] & 0xc0) == 0x80)
        lim--;
    char *q = arena_alloc(ld->tmp, lim * 4 + 8);
    if (!q)
        return "\"...\"";
    char *p = q;
    *p++ = '"';
    for (size_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            p += sprintf(p, "\\x%02x", c);
        } else {
            *p++ = (char)c;
        }
    }
    if (lim < len)
        p += sprintf(p, "...");
    *p++ = '"';
    *p = 0;
    return q;
}

bool config_node_is_null(const struct config_node *n)
{
    if (n->kind != CONFIG_NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* What a node is, for "got ..." in messages. */
const char *config_describe(struct config_loader *ld, const struct config_node *n)
{
    if (n->kind == CONFIG_NODE_MAP)
        return "a map";
    if (n->kind == CONFIG_NODE_LIST)
        return "a list";
    if (config_node_is_null(n))
        return "null";
    return config_quote(ld, n->text, n->len);
}

/* Appends bounds to `base`. Values read "a byte size from 1KiB to 64MiB" or "of at least 1KiB";
 * counted things (`unit` "byte", "item") read "a string of 1 to 64 bytes" or "a list with at
 * least 1 item", with `joiner` "of" or "with". */
static const char *bounded(struct config_loader *ld, const char *base, const char *lo,
                           const char *hi, const char *joiner, const char *unit)
{
    const char *r;
    const char *plural = unit && strcmp(hi ? hi : lo ? lo : "", "1") != 0 ? "s" : "";
    if (!unit) {
        if (lo && hi)
            r = arena_printf(ld->tmp, "%s from %s to %s", base, lo, hi);
        else if (lo || hi)
            r = arena_printf(ld->tmp, "%s of at %s %s", base, lo ? "least" : "most", lo ? lo : hi);
        else
            r = base;
    } else if (lo && hi) {
        r = arena_printf(ld->tmp, "%s %s %s to %s %s%s", base, joiner, lo, hi, unit, plural);
    } else if (lo || hi) {
        r = arena_printf(ld->tmp, "%s %s at %s %s %s%s", base, joiner, lo ? "least" : "most",
                         lo ? lo : hi, unit, plural);
    } else {
        r = base;
    }
    return r ? r : base;
}

/* What field `f` accepts, for "expected ..." in messages, including its bounds. */
const char *config_expect_of(struct config_loader *ld, const struct config_field *f)
{
    char lo[32], hi[32];
    bool has_lo = f->umin != 0, has_hi = f->umax != 0;
    const char *base = config_type_expect(f->type);
    switch (f->type) {
    case CONFIG_INT64:
        if (f->min == 0 && f->max == 0)
            return base;
        snprintf(lo, sizeof lo, "%lld", (long long)f->min);
        snprintf(hi, sizeof hi, "%lld", (long long)f->max);
        return bounded(ld, base, lo, hi, NULL, NULL);
    case CONFIG_UINT64:
    case CONFIG_DURATION:
    case CONFIG_SIZE:
        if (has_lo || has_hi)
            base = f->type == CONFIG_DURATION ? "a duration"
                   : f->type == CONFIG_SIZE   ? "a byte size"
                                              : base;
        config_format_unsigned(f->type, f->umin, lo, sizeof lo);
        config_format_unsigned(f->type, f->umax, hi, sizeof hi);
        return bounded(ld, base, has_lo ? lo : NULL, has_hi ? hi : NULL, NULL, NULL);
    case CONFIG_STRING:
    case CONFIG_PATH:
    case CONFIG_STRING_LIST:
    case CONFIG_MAP_LIST: {
        bool text = f->type == CONFIG_STRING || f->type == CONFIG_PATH;
        snprintf(lo, sizeof lo, "%llu", (unsigned long long)f->umin);
        snprintf(hi, sizeof hi, "%llu", (unsigned long long)f->umax);
        return bounded(ld, base, has_lo ? lo : NULL, has_hi ? hi : NULL, text ? "of" : "with",
                       text ? "byte" : "item");
    }
    case CONFIG_ENUM: {
        size_t need = sizeof "one of ";
        for (const struct config_enum *e = f->enums; e && e->name; e++)
            need += strlen(e->name) + 2;
        char *s = arena_alloc(ld->tmp, need);
        if (!s)
            return base;
        strcpy(s, "one of ");
        for (const struct config_enum *e = f->enums; e && e->name; e++) {
            if (e != f->enums)
                strcat(s, ", ");
            strcat(s, e->name);
        }
        return s;
    }
    default:
        return base;
    }
}

/* Optimal-string-alignment distance (edits and adjacent swaps) of two short strings. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    unsigned char d[SUGGEST_MAX_KEY + 1][SUGGEST_MAX_KEY + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/* Reports an unknown key, suggesting the closest known key of the map if one is close. */
int config_unknown_key(struct config_loader *ld, const struct config_schema *s,
                       const struct config_node *k, const char *path)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct config_field *f = s->fields; f && f->key; f++) {
        size_t fl = strlen(f->key);
        if (k->len > SUGGEST_MAX_KEY || fl > SUGGEST_MAX_KEY)
            continue;
        size_t d = edit_distance(k->text, k->len, f->key, fl);
        if (d < best_d && d <= (fl <= 4 ? 1u : 2u)) {
            best = f->key;
            best_d = d;
        }
    }
    const char *in = *path ? arena_printf(ld->tmp, " in \"%s\"", path) : "";
    const char *hint = best ? arena_printf(ld->tmp, " (did you mean \"%s\"?)", best) : "";
    return config_fail(ld, STELE_ERR_CONFIG, k->line, k->col, "unknown key %s%s%s",
                       config_quote(ld, k->text, k->len), in ? in : "", hint ? hint : "");
}
