/*
 * shim.c — the chaincode API (stele/chaincode.h) over a filled stub (stub.h). Linked into
 * every chaincode (libstele-chaincode.a) and into the peer's host and the test harness.
 */
#include "stub.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CC_MAX_MESSAGE   1024
#define CC_MAX_EVENT     128
#define CC_MAX_ATTRS     32
#define CC_COMPOSITE_NS  0x1e
#define CC_COMPOSITE_SEP 0x1f

struct stele_cc_iter {
    stele_cc_stub *stub;
    void *impl_it;
    bool skip_composite;
    struct stele_cc_iter *next;
};

void stele_cc_stub_init(stele_cc_stub *stub, const struct stele_cc_state_ops *ops, void *impl)
{
    memset(stub, 0, sizeof *stub);
    stub->ops = ops;
    stub->impl = impl;
    stub->function = "";
}

void stele_cc_stub_release(stele_cc_stub *stub)
{
    while (stub->iters) {
        struct stele_cc_iter *it = stub->iters;
        stub->iters = it->next;
        if (stub->ops && stub->ops->close && it->impl_it)
            stub->ops->close(stub->impl, it->impl_it);
        free(it);
    }
    while (stub->mem) {
        struct stele_cc_mem *m = stub->mem;
        stub->mem = m->next;
        free(m);
    }
    free(stub->payload);
    free(stub->message);
    free(stub->event_name);
    free(stub->event_payload);
    stub->payload = stub->event_payload = NULL;
    stub->message = stub->event_name = NULL;
    stub->payload_len = stub->event_len = 0;
}

int stele_cc_stub_run(stele_cc_stub *stub, const struct stele_chaincode *cc)
{
    stele_cc_fn fn = cc->invoke;
    if (cc->init && strcmp(stub->function, "init") == 0)
        fn = cc->init;
    stub->status = fn(stub);
    return stub->status;
}

/* True when the `n` octets at `key` (key[0] == 0x1E) are 0x1E part 0x1F (part 0x1F)*, every
 * part non-empty and without 0x1E or 0x1F. */
static bool composite_ok(const char *key, size_t n)
{
    if (n < 3 || (unsigned char)key[n - 1] != CC_COMPOSITE_SEP)
        return false;
    size_t part = 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == CC_COMPOSITE_NS)
            return false;
        if (c != CC_COMPOSITE_SEP)
            part++;
        else if (part == 0)
            return false;
        else
            part = 0;
    }
    return true;
}

bool stele_cc_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i], lo = 0x80, hi = 0xbf;
        size_t n;
        if (c < 0x80)
            n = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            n = 2;
        else if (c >= 0xe0 && c <= 0xef)
            n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
            return false;
        if (n > len - i || (n > 1 && (p[i + 1] < lo || p[i + 1] > hi)))
            return false;
        for (size_t k = 2; k < n; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        i += n;
    }
    return true;
}

bool stele_cc_key_ok(const char *key)
{
    if (!key)
        return false;
    size_t n = strnlen(key, STELE_CC_MAX_KEY + 1);
    if (n == 0 || n > STELE_CC_MAX_KEY || !stele_cc_utf8_valid(key, n))
        return false;
    /* a key in the composite namespace must be one stele_cc_composite_key() could build */
    return (unsigned char)key[0] != CC_COMPOSITE_NS || composite_ok(key, n);
}

/* Memory handed to the chaincode, freed with the stub. */
static void *stub_alloc(stele_cc_stub *stub, size_t len)
{
    struct stele_cc_mem *m = malloc(sizeof *m + len);
    if (!m)
        return NULL;
    m->next = stub->mem;
    stub->mem = m;
    return m->data;
}

const char *stele_cc_function(const stele_cc_stub *stub)
{
    return stub->function ? stub->function : "";
}

size_t stele_cc_arg_count(const stele_cc_stub *stub)
{
    return stub->n_args;
}

const uint8_t *stele_cc_arg(const stele_cc_stub *stub, size_t i, size_t *len)
{
    if (i >= stub->n_args)
        return NULL;
    if (len)
        *len = stub->arg_lens[i];
    /* a zero-length argument still has an address */
    return stub->args[i] ? stub->args[i] : (const uint8_t *)"";
}

const char *stele_cc_arg_string(const stele_cc_stub *stub, size_t i)
{
    size_t len;
    const uint8_t *a = stele_cc_arg(stub, i, &len);
    if (!a || memchr(a, 0, len))
        return NULL;
    char *s = stub_alloc((stele_cc_stub *)stub, len + 1);
    if (!s)
        return NULL;
    memcpy(s, a, len);
    s[len] = 0;
    return s;
}

const char *stele_cc_tx_id(const stele_cc_stub *stub)
{
    return stub->tx_id ? stub->tx_id : "";
}

uint64_t stele_cc_timestamp_ms(const stele_cc_stub *stub)
{
    return stub->timestamp_ms;
}

const char *stele_cc_creator_id(const stele_cc_stub *stub)
{
    return stub->creator_id ? stub->creator_id : "";
}

const char *stele_cc_creator_org(const stele_cc_stub *stub)
{
    return stub->creator_org ? stub->creator_org : "";
}

const char *stele_cc_creator_role(const stele_cc_stub *stub)
{
    return stub->creator_role ? stub->creator_role : "";
}

const uint8_t *stele_cc_creator_certhash(const stele_cc_stub *stub)
{
    return stub->creator_certhash;
}

const char *stele_cc_creator_attr(const stele_cc_stub *stub, const char *key)
{
    for (size_t i = 0; key && i < stub->n_attrs; i++)
        if (strcmp(stub->attr_keys[i], key) == 0)
            return stub->attr_values[i];
    return NULL;
}

int stele_cc_get_state(stele_cc_stub *stub, const char *key, const uint8_t **value, size_t *len)
{
    if (!stele_cc_key_ok(key) || !value || !len)
        return STELE_CC_INVALID;
    return stub->ops->get(stub->impl, key, value, len);
}

int stele_cc_put_state(stele_cc_stub *stub, const char *key, const void *value, size_t len)
{
    if (!stele_cc_key_ok(key) || (!value && len))
        return STELE_CC_INVALID;
    if (len > STELE_CC_MAX_VALUE)
        return STELE_CC_LIMIT;
    return stub->ops->put(stub->impl, key, value ? value : "", len);
}

int stele_cc_del_state(stele_cc_stub *stub, const char *key)
{
    if (!stele_cc_key_ok(key))
        return STELE_CC_INVALID;
    return stub->ops->del(stub->impl, key);
}

static int open_range(stele_cc_stub *stub, const char *start, const char *end, bool skip,
                      stele_cc_iter **out)
{
    start = start ? start : "";
    end = end ? end : "";
    if (!out || strlen(start) > STELE_CC_MAX_KEY || strlen(end) > STELE_CC_MAX_KEY ||
        (end[0] && strcmp(start, end) >= 0) || !stele_cc_utf8_valid(start, strlen(start)) ||
        !stele_cc_utf8_valid(end, strlen(end)))
        return STELE_CC_INVALID;
    struct stele_cc_iter *it = calloc(1, sizeof *it);
    if (!it)
        return STELE_CC_FAILED;
    int rc = stub->ops->range(stub->impl, start, end, &it->impl_it);
    if (rc != STELE_CC_OK) {
        free(it);
        return rc;
    }
    it->stub = stub;
    it->skip_composite = skip;
    it->next = stub->iters;
    stub->iters = it;
    *out = it;
    return STELE_CC_OK;
}

int stele_cc_range(stele_cc_stub *stub, const char *start, const char *end, stele_cc_iter **it)
{
    bool composite = start && (unsigned char)start[0] == CC_COMPOSITE_NS;
    return open_range(stub, start, end, !composite, it);
}

int stele_cc_iter_next(stele_cc_iter *it, const char **key, const uint8_t **value, size_t *len)
{
    if (!it || !it->impl_it || !key || !value || !len)
        return STELE_CC_INVALID;
    for (;;) {
        int rc = it->stub->ops->next(it->stub->impl, it->impl_it, key, value, len);
        if (rc != 1 || !it->skip_composite || (unsigned char)(*key)[0] != CC_COMPOSITE_NS)
            return rc;
    }
}

void stele_cc_iter_close(stele_cc_iter *it)
{
    if (!it || !it->impl_it)
        return;
    it->stub->ops->close(it->stub->impl, it->impl_it);
    it->impl_it = NULL; /* freed with the stub */
}

static bool part_ok(const char *s)
{
    if (!s || !s[0])
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c == CC_COMPOSITE_NS || (unsigned char)*c == CC_COMPOSITE_SEP)
            return false;
    return stele_cc_utf8_valid(s, strlen(s));
}

/* 0x1E type 0x1F (attr 0x1F)*, into stub memory. */
static int build_composite(stele_cc_stub *stub, const char *type, const char *const *attrs,
                           size_t n, char **out)
{
    if (!part_ok(type) || (n && !attrs))
        return STELE_CC_INVALID;
    size_t len = 2 + strlen(type);
    for (size_t i = 0; i < n; i++) {
        if (!part_ok(attrs[i]))
            return STELE_CC_INVALID;
        len += strlen(attrs[i]) + 1;
        if (len > STELE_CC_MAX_KEY)
            return STELE_CC_LIMIT;
    }
    if (len > STELE_CC_MAX_KEY)
        return STELE_CC_LIMIT;
    char *k = stub_alloc(stub, len + 2); /* room for the range end's extra octet */
    if (!k)
        return STELE_CC_FAILED;
    char *p = k;
    *p++ = CC_COMPOSITE_NS;
    p = stpcpy(p, type);
    *p++ = CC_COMPOSITE_SEP;
    for (size_t i = 0; i < n; i++) {
        p = stpcpy(p, attrs[i]);
        *p++ = CC_COMPOSITE_SEP;
    }
    *p = 0;
    *out = k;
    return STELE_CC_OK;
}

int stele_cc_composite_key(stele_cc_stub *stub, const char *type, const char *const *attrs,
                           size_t n, const char **key)
{
    char *k = NULL;
    int rc = key ? build_composite(stub, type, attrs, n, &k) : STELE_CC_INVALID;
    if (rc == STELE_CC_OK)
        *key = k;
    return rc;
}

int stele_cc_composite_range(stele_cc_stub *stub, const char *type, const char *const *attrs,
                             size_t n, stele_cc_iter **it)
{
    char *start = NULL;
    int rc = build_composite(stub, type, attrs, n, &start);
    if (rc != STELE_CC_OK)
        return rc;
    /* every key that starts with `start`: [start, start with its last octet 0x1F -> 0x20) */
    size_t len = strlen(start);
    char *end = stub_alloc(stub, len + 1);
    if (!end)
        return STELE_CC_FAILED;
    memcpy(end, start, len + 1);
    end[len - 1] = CC_COMPOSITE_SEP + 1;
    return open_range(stub, start, end, false, it);
}

int stele_cc_split_composite_key(stele_cc_stub *stub, const char *key, const char **type,
                                 const char **attrs, size_t max, size_t *n)
{
    if (!key || (unsigned char)key[0] != CC_COMPOSITE_NS || !type || !n || (max && !attrs))
        return STELE_CC_INVALID;
    size_t len = strlen(key);
    if (!composite_ok(key, len))
        return STELE_CC_INVALID;
    char *copy = stub_alloc(stub, len);
    if (!copy)
        return STELE_CC_FAILED;
    memcpy(copy, key + 1, len); /* without the 0x1E, with the NUL */
    size_t count = 0;
    char *part = copy;
    bool first = true;
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p != CC_COMPOSITE_SEP)
            continue;
        *p = 0;
        if (first)
            *type = part;
        else if (count < max)
            attrs[count++] = part;
        else
            count++;
        first = false;
        part = p + 1;
    }
    *n = count;
    return STELE_CC_OK;
}

int stele_cc_set_event(stele_cc_stub *stub, const char *name, const void *payload, size_t len)
{
    if (!name || !name[0] || (!payload && len))
        return STELE_CC_INVALID;
    if (strlen(name) > CC_MAX_EVENT || len > STELE_CC_MAX_VALUE)
        return STELE_CC_LIMIT;
    if (!stele_cc_utf8_valid(name, strlen(name)))
        return STELE_CC_INVALID;
    char *n = strdup(name);
    uint8_t *p = malloc(len ? len : 1);
    if (!n || !p) {
        free(n);
        free(p);
        return STELE_CC_FAILED;
    }
    if (len)
        memcpy(p, payload, len);
    free(stub->event_name);
    free(stub->event_payload);
    stub->event_name = n;
    stub->event_payload = p;
    stub->event_len = len;
    return STELE_CC_OK;
}

int stele_cc_success(stele_cc_stub *stub, const void *payload, size_t len)
{
    free(stub->payload);
    stub->payload = NULL;
    stub->payload_len = 0;
    if (len && payload && len <= STELE_CC_MAX_VALUE && (stub->payload = malloc(len))) {
        memcpy(stub->payload, payload, len);
        stub->payload_len = len;
    } else if (len) {
        return stele_cc_error(stub, 500, "response payload of %zu octets refused", len);
    }
    return 200;
}

int stele_cc_error(stele_cc_stub *stub, int status, const char *fmt, ...)
{
    /* one octet past the limit, to see whether the cut falls inside a UTF-8 character */
    char *m = malloc(CC_MAX_MESSAGE + 2);
    if (m) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(m, CC_MAX_MESSAGE + 2, fmt, ap);
        va_end(ap);
        if (n < 0) {
            m[0] = 0;
        } else if ((size_t)n > CC_MAX_MESSAGE) {
            /* truncated: the message is a protobuf string, so never keep half a character */
            size_t len = CC_MAX_MESSAGE;
            /* back over at most 3 continuation octets: a character has no more */
            while (len > CC_MAX_MESSAGE - 3 && ((unsigned char)m[len] & 0xc0) == 0x80)
                len--;
            m[len] = 0;
        }
    }
    free(stub->message);
    stub->message = m;
    return status;
}
