/* config_print.c — human summaries of a loaded config (for --check) and of a schema (for
 * --help), both driven by the schema. */
#include "config/config_int.h"

#include "base/status.h"

#include <string.h>

/* Longest printed key path ("orgs[12].tls.cert"); deeper paths are cut, never overrun. */
#define KEY_PATH_MAX 256

/* Writes a string on one line: control characters and backslashes escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            fputs("\\\\", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* Writes "PREFIXKEY" into `out`; very deep paths are cut short rather than overrun. */
static void key_path(char *out, size_t n, const char *prefix, const char *key)
{
    if (snprintf(out, n, "%s%s", prefix, key) >= (int)n && n > 3)
        memcpy(out + n - 4, "...", 4);
}

static const char *enum_name(const struct config_enum *e, int value)
{
    for (; e && e->name; e++)
        if (e->value == value)
            return e->name;
    return NULL;
}

/* True when a secret field holds something (so "(secret)" rather than "(unset)"). */
static bool field_is_set(const struct config_field *f, const void *data)
{
    const char *slot = (const char *)data + f->offset;
    switch (f->type) {
    case CONFIG_STRING:
    case CONFIG_ADDR:
    case CONFIG_PATH:
        return *(char *const *)slot != NULL;
    case CONFIG_STRING_LIST:
    case CONFIG_MAP_LIST:
        return *(const size_t *)((const char *)data + f->count_offset) != 0;
    default:
        return true;
    }
}

static void print_map(const struct config_schema *s, const void *data, const char *prefix, FILE *f);

/* Prints the value(s) of one field whose full key is `key`. */
static void print_field(const struct config_field *fd, const void *data, const char *key, FILE *f)
{
    const char *slot = (const char *)data + fd->offset;
    char tmp[KEY_PATH_MAX + 32];
    if (fd->secret) {
        fprintf(f, "%s: %s\n", key, field_is_set(fd, data) ? "(secret)" : "(unset)");
        return;
    }
    switch (fd->type) {
    case CONFIG_STRING:
    case CONFIG_ADDR:
    case CONFIG_PATH: {
        const char *v = *(char *const *)slot;
        fprintf(f, "%s: ", key);
        if (v)
            put_escaped(f, v);
        else
            fputs("(unset)", f);
        fputc('\n', f);
        return;
    }
    case CONFIG_BOOL:
        fprintf(f, "%s: %s\n", key, *(const bool *)slot ? "true" : "false");
        return;
    case CONFIG_INT64:
        fprintf(f, "%s: %lld\n", key, (long long)*(const int64_t *)slot);
        return;
    case CONFIG_UINT64:
    case CONFIG_DURATION:
    case CONFIG_SIZE:
        config_format_unsigned(fd->type, *(const uint64_t *)slot, tmp, sizeof tmp);
        fprintf(f, "%s: %s\n", key, tmp);
        return;
    case CONFIG_ENUM: {
        const char *name = enum_name(fd->enums, *(const int *)slot);
        if (name)
            fprintf(f, "%s: %s\n", key, name);
        else
            fprintf(f, "%s: %d\n", key, *(const int *)slot);
        return;
    }
    case CONFIG_MAP:
        snprintf(tmp, sizeof tmp, "%s.", key);
        print_map(fd->sub, slot, tmp, f);
        return;
    case CONFIG_STRING_LIST:
    case CONFIG_MAP_LIST: {
        size_t n = *(const size_t *)((const char *)data + fd->count_offset);
        const char *arr = *(const char *const *)slot;
        if (n == 0)
            fprintf(f, "%s: []\n", key);
        for (size_t i = 0; i < n; i++) {
            if (fd->type == CONFIG_MAP_LIST) {
                snprintf(tmp, sizeof tmp, "%s[%zu].", key, i);
                print_map(fd->sub, arr + i * fd->sub->size, tmp, f);
            } else {
                fprintf(f, "%s[%zu]: ", key, i);
                put_escaped(f, ((char *const *)(const void *)arr)[i]);
                fputc('\n', f);
            }
        }
        return;
    }
    }
}

static void print_map(const struct config_schema *s, const void *data, const char *prefix, FILE *f)
{
    char key[KEY_PATH_MAX];
    for (const struct config_field *fd = s->fields; fd && fd->key; fd++) {
        key_path(key, sizeof key, prefix, fd->key);
        print_field(fd, data, key, f);
    }
}

int config_print(const struct config_schema *schema, const void *data, FILE *f)
{
    if (!schema || !data || !f)
        return STELE_ERR_INVALID;
    print_map(schema, data, "", f);
    return ferror(f) ? STELE_ERR_IO : STELE_OK;
}

static void help_map(const struct config_schema *s, const char *prefix, FILE *f)
{
    char key[KEY_PATH_MAX];
    for (const struct config_field *fd = s->fields; fd && fd->key; fd++) {
        key_path(key, sizeof key, prefix, fd->key);
        fprintf(f, "%s (", key);
        if (fd->type == CONFIG_ENUM) {
            fputs("one of", f);
            for (const struct config_enum *e = fd->enums; e && e->name; e++)
                fprintf(f, "%s%s", e == fd->enums ? " " : "|", e->name);
        } else {
            fputs(config_type_name(fd->type), f);
        }
        if (fd->required)
            fputs(", required", f);
        else if (fd->def)
            fprintf(f, ", default %s", fd->secret ? "(secret)" : fd->def);
        if (fd->secret)
            fputs(", secret", f);
        fprintf(f, ")%s%s\n", fd->help ? ": " : "", fd->help ? fd->help : "");
        if (fd->type == CONFIG_MAP || fd->type == CONFIG_MAP_LIST) {
            char sub[KEY_PATH_MAX + 4];
            snprintf(sub, sizeof sub, "%s%s.", key, fd->type == CONFIG_MAP_LIST ? "[]" : "");
            help_map(fd->sub, sub, f);
        }
    }
}

int config_print_help(const struct config_schema *schema, FILE *f)
{
    if (!schema || !f)
        return STELE_ERR_INVALID;
    help_map(schema, "", f);
    return ferror(f) ? STELE_ERR_IO : STELE_OK;
}
