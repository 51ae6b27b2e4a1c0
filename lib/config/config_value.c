/* config_value.c — parsing and formatting of scalar config values (numbers, durations, sizes,
 * addresses). Pure functions over (text, len): no allocation, no locale. */
#include "config/config_int.h"

#include "base/status.h"
#include "base/text.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A unit suffix and what one of it is worth. */
struct unit {
    const char *name;
    uint64_t factor;
};

/* Largest first, so formatting picks the biggest unit that divides the value. */
static const struct unit duration_units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}, {NULL, 0},
};

/* Binary units come before decimal ones so that formatting prefers them. */
static const struct unit size_units[] = {
    {"TiB", 1ull << 40}, {"GiB", 1ull << 30},      {"MiB", 1ull << 20},
    {"KiB", 1ull << 10}, {"TB", 1000000000000ull}, {"GB", 1000000000ull},
    {"MB", 1000000ull},  {"KB", 1000ull},          {"B", 1},
    {NULL, 0},
};

int config_parse_uint64(const char *text, size_t len, uint64_t *v)
{
    return text_parse_u64(text, len, v) ? STELE_OK : STELE_ERR_INVALID;
}

int config_parse_int64(const char *text, size_t len, int64_t *v)
{
    bool neg = false;
    uint64_t mag;
    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        neg = text[0] == '-';
        text++;
        len--;
    }
    if (config_parse_uint64(text, len, &mag) != STELE_OK)
        return STELE_ERR_INVALID;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return STELE_ERR_INVALID;
        *v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return STELE_ERR_INVALID;
        *v = (int64_t)mag;
    }
    return STELE_OK;
}

/* Splits `text` into leading digits and a unit from `units` (the unit may be empty only when
 * `bare_ok`), then multiplies with overflow checking. */
static int parse_with_unit(const char *text, size_t len, const struct unit *units, bool bare_ok,
                           uint64_t *out)
{
    size_t digits = 0;
    uint64_t n;
    while (digits < len && text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (config_parse_uint64(text, digits, &n) != STELE_OK)
        return STELE_ERR_INVALID;
    const char *u = text + digits;
    size_t ulen = len - digits;
    if (ulen == 0) {
        if (!bare_ok)
            return STELE_ERR_INVALID;
        *out = n;
        return STELE_OK;
    }
    for (const struct unit *p = units; p->name; p++) {
        if (strlen(p->name) == ulen && memcmp(p->name, u, ulen) == 0) {
            if (n > UINT64_MAX / p->factor)
                return STELE_ERR_INVALID;
            *out = n * p->factor;
            return STELE_OK;
        }
    }
    return STELE_ERR_INVALID;
}

int config_parse_duration(const char *text, size_t len, uint64_t *ms)
{
    /* A bare number is ambiguous (seconds? milliseconds?) except zero. */
    if (len == 1 && text[0] == '0') {
        *ms = 0;
        return STELE_OK;
    }
    return parse_with_unit(text, len, duration_units, false, ms);
}

int config_parse_size(const char *text, size_t len, uint64_t *bytes)
{
    return parse_with_unit(text, len, size_units, true, bytes);
}

static void format_with_unit(uint64_t v, const struct unit *units, char *out, size_t n)
{
    if (v != 0) {
        for (const struct unit *p = units; p->name; p++) {
            if (p->factor > 1 && v % p->factor == 0) {
                snprintf(out, n, "%llu%s", (unsigned long long)(v / p->factor), p->name);
                return;
            }
        }
    }
    snprintf(out, n, "%llu", (unsigned long long)v);
}

void config_format_duration(uint64_t ms, char *out, size_t n)
{
    if (ms == 0) {
        snprintf(out, n, "0");
        return;
    }
    format_with_unit(ms, duration_units, out, n);
    if (ms % 1000 != 0) /* only milliseconds divide it: say so */
        snprintf(out, n, "%llums", (unsigned long long)ms);
}

void config_format_size(uint64_t bytes, char *out, size_t n)
{
    format_with_unit(bytes, size_units, out, n);
}

void config_format_unsigned(enum config_type type, uint64_t v, char *out, size_t n)
{
    if (type == CONFIG_DURATION)
        config_format_duration(v, out, n);
    else if (type == CONFIG_SIZE)
        config_format_size(v, out, n);
    else
        snprintf(out, n, "%llu", (unsigned long long)v);
}

/* True for a DNS name (RFC 1123 labels) or, when it is all digits and dots, a dotted IPv4. */
static bool host_valid(const char *h, size_t len)
{
    char tmp[256];
    bool numeric = true;
    size_t label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && label > 0))
            return false;
        if (!(c >= '0' && c <= '9'))
            numeric = false;
        if (++label > 63)
            return false;
    }
    if (label == 0 || h[len - 1] == '-')
        return false;
    if (!numeric)
        return true;
    unsigned char addr[4];
    memcpy(tmp, h, len);
    tmp[len] = 0;
    return inet_pton(AF_INET, tmp, addr) == 1;
}

bool config_addr_valid(const char *text, size_t len)
{
    const char *port;
    size_t plen;
    if (len == 0)
        return false;
    if (text[0] == '[') {
        const char *close = memchr(text, ']', len);
        char tmp[64];
        unsigned char addr[16];
        if (!close || close == text + 1 || (size_t)(close - text - 1) >= sizeof tmp)
            return false;
        memcpy(tmp, text + 1, (size_t)(close - text - 1));
        tmp[close - text - 1] = 0;
        if (inet_pton(AF_INET6, tmp, addr) != 1)
            return false;
        if ((size_t)(close - text) + 1 >= len || close[1] != ':')
            return false;
        port = close + 2;
    } else {
        const char *colon = memchr(text, ':', len);
        if (!colon || memchr(colon + 1, ':', len - (size_t)(colon - text) - 1))
            return false; /* no port, or an unbracketed IPv6 address */
        if (!host_valid(text, (size_t)(colon - text)))
            return false;
        port = colon + 1;
    }
    plen = len - (size_t)(port - text);
    uint64_t p;
    return plen >= 1 && plen <= 5 && config_parse_uint64(port, plen, &p) == STELE_OK && p <= 65535;
}

const char *config_type_expect(enum config_type type)
{
    switch (type) {
    case CONFIG_STRING:
        return "a string";
    case CONFIG_BOOL:
        return "true or false";
    case CONFIG_INT64:
        return "an integer";
    case CONFIG_UINT64:
        return "a non-negative integer";
    case CONFIG_DURATION:
        return "a duration (e.g. 500ms, 2s, 1m)";
    case CONFIG_SIZE:
        return "a byte size (e.g. 4MiB, 512KB, 1048576)";
    case CONFIG_ENUM:
        return "one of the listed names";
    case CONFIG_ADDR:
        return "host:port";
    case CONFIG_PATH:
        return "a path";
    case CONFIG_MAP:
        return "a map";
    case CONFIG_STRING_LIST:
        return "a list of strings";
    case CONFIG_MAP_LIST:
        return "a list of maps";
    }
    return "a value";
}

const char *config_type_name(enum config_type type)
{
    static const char *const names[] = {
        [CONFIG_STRING] = "string",
        [CONFIG_BOOL] = "bool",
        [CONFIG_INT64] = "integer",
        [CONFIG_UINT64] = "unsigned integer",
        [CONFIG_DURATION] = "duration",
        [CONFIG_SIZE] = "byte size",
        [CONFIG_ENUM] = "enum",
        [CONFIG_ADDR] = "host:port",
        [CONFIG_PATH] = "path",
        [CONFIG_MAP] = "map",
        [CONFIG_STRING_LIST] = "list of strings",
        [CONFIG_MAP_LIST] = "list of maps",
    };
    if ((unsigned)type < sizeof names / sizeof names[0] && names[type])
        return names[type];
    return "value";
}
