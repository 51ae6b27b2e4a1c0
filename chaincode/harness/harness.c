/*
 * harness.c — the chaincode test harness (stele/chaincode_harness.h): fills a stub (shim/
 * stub.h) for each invocation from the test's chosen context and the in-memory state
 * (memstate.h), runs the chaincode in the calling process, and keeps its results.
 */
#include "stele/chaincode_harness.h"

#include "memstate.h"
#include "stub.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HARNESS_MAX_NAME    64
#define HARNESS_MAX_VERSION 128 /* octets of a version the peer loads (peer/cchost.c) */
#define TX_ID_LEN           64

struct stele_cc_harness {
    const struct stele_chaincode *cc; /* the chaincode (the caller's) */
    struct memstate *state;           /* its namespace */
    bool running;                     /* an invocation is under way */

    /* the context of the next invocations (strings and arrays owned) */
    char *creator_id;          /* the creator's id */
    char *creator_org;         /* its organisation */
    char *creator_role;        /* its role */
    uint8_t certhash[32];      /* its certificate hash, given or derived */
    char **attr_keys;          /* names of its n_attrs attributes */
    char **attr_values;        /* their values */
    size_t n_attrs;            /* attributes set */
    uint64_t timestamp_ms;     /* what stele_cc_timestamp_ms() gives */
    uint64_t invocations;      /* how many were run */
    char tx_id[TX_ID_LEN + 1]; /* for the next invocation when tx_id_set */
    bool tx_id_set;            /* stele_cc_harness_set_tx_id() was called */

    /* the results of the last invocation (owned; the buffers end with an uncounted NUL) */
    uint8_t *payload;       /* stele_cc_success()'s payload, NULL when none */
    size_t payload_len;     /* its octets */
    char *message;          /* stele_cc_error()'s message, NULL when none */
    char *event_name;       /* the event, NULL when none or the invocation failed */
    uint8_t *event_payload; /* its payload */
    size_t event_len;       /* its octets */
};

/* True for 1..64 of [A-Za-z0-9_.-], not starting with '_' (system chaincodes, which the
 * lifecycle refuses to define). */
static bool name_ok(const char *name)
{
    if (!name || !name[0] || name[0] == '_' || strlen(name) > HARNESS_MAX_NAME)
        return false;
    for (const char *p = name; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
            return false;
    return true;
}

/* A stand-in certificate hash: four FNV-1a-64 lanes over id 0x00 org, each seeded apart. */
static void derive_certhash(const char *id, const char *org, uint8_t out[32])
{
    for (int lane = 0; lane < 4; lane++) {
        uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(lane + 1) * 0x9e3779b97f4a7c15ull;
        const char *parts[2] = {id, org};
        for (int p = 0; p < 2; p++)
            for (const unsigned char *c = (const unsigned char *)parts[p];; c++) {
                h = (h ^ *c) * 0x100000001b3ull; /* the NUL too: "a","bc" != "ab","c" */
                if (!*c)
                    break;
            }
        for (int i = 0; i < 8; i++)
            out[lane * 8 + i] = (uint8_t)(h >> (56 - 8 * i));
    }
}

/* A copy of `len` octets followed by a NUL, or NULL. */
static uint8_t *dup_nul(const void *p, size_t len)
{
    uint8_t *c = malloc(len + 1);
    if (c) {
        if (len)
            memcpy(c, p, len);
        c[len] = 0;
    }
    return c;
}

/* Forgets the results of the last invocation. */
static void clear_results(stele_cc_harness *h)
{
    free(h->payload);
    free(h->message);
    free(h->event_name);
    free(h->event_payload);
    h->payload = h->event_payload = NULL;
    h->message = h->event_name = NULL;
    h->payload_len = h->event_len = 0;
}

static void clear_attrs(stele_cc_harness *h)
{
    for (size_t i = 0; i < h->n_attrs; i++) {
        free(h->attr_keys[i]);
        free(h->attr_values[i]);
    }
    free(h->attr_keys);
    free(h->attr_values);
    h->attr_keys = h->attr_values = NULL;
    h->n_attrs = 0;
}

int stele_cc_harness_create(const struct stele_chaincode *cc, stele_cc_harness **out)
{
    if (!cc || !out || cc->abi_version != STELE_CC_ABI_VERSION || !name_ok(cc->name) ||
        !cc->version || strnlen(cc->version, HARNESS_MAX_VERSION + 1) > HARNESS_MAX_VERSION ||
        !cc->invoke)
        return STELE_CC_INVALID;
    stele_cc_harness *h = calloc(1, sizeof *h);
    if (!h)
        return STELE_CC_FAILED;
    h->cc = cc;
    h->state = memstate_create();
    if (!h->state || stele_cc_harness_set_creator(h, "user1", "Org1", "client", NULL)) {
        stele_cc_harness_destroy(h);
        return STELE_CC_FAILED;
    }
    *out = h;
    return STELE_CC_OK;
}

void stele_cc_harness_destroy(stele_cc_harness *h)
{
    if (!h)
        return;
    memstate_destroy(h->state);
    free(h->creator_id);
    free(h->creator_org);
    free(h->creator_role);
    clear_attrs(h);
    clear_results(h);
    free(h);
}

int stele_cc_harness_set_creator(stele_cc_harness *h, const char *id, const char *org,
                                 const char *role, const uint8_t *certhash)
{
    if (!h || h->running || !id || !id[0] || !org || !org[0] || !role || !role[0])
        return STELE_CC_INVALID;
    char *i = strdup(id), *o = strdup(org), *r = strdup(role);
    if (!i || !o || !r) {
        free(i);
        free(o);
        free(r);
        return STELE_CC_FAILED;
    }
    free(h->creator_id);
    free(h->creator_org);
    free(h->creator_role);
    h->creator_id = i;
    h->creator_org = o;
    h->creator_role = r;
    if (certhash)
        memcpy(h->certhash, certhash, sizeof h->certhash);
    else
        derive_certhash(id, org, h->certhash);
    clear_attrs(h);
    return STELE_CC_OK;
}

/* Removes attribute `i`, keeping the others in order. */
static void remove_attr(stele_cc_harness *h, size_t i)
{
    free(h->attr_keys[i]);
    free(h->attr_values[i]);
    size_t rest = h->n_attrs - i - 1;
    memmove(&h->attr_keys[i], &h->attr_keys[i + 1], rest * sizeof *h->attr_keys);
    memmove(&h->attr_values[i], &h->attr_values[i + 1], rest * sizeof *h->attr_values);
    h->n_attrs--;
}

int stele_cc_harness_set_attr(stele_cc_harness *h, const char *key, const char *value)
{
    if (!h || h->running || !key || !key[0])
        return STELE_CC_INVALID;
    size_t i = 0;
    while (i < h->n_attrs && strcmp(h->attr_keys[i], key) != 0)
        i++;
    if (!value) {
        if (i < h->n_attrs)
            remove_attr(h, i);
        return STELE_CC_OK;
    }
    char *v = strdup(value);
    if (!v)
        return STELE_CC_FAILED;
    if (i < h->n_attrs) {
        free(h->attr_values[i]);
        h->attr_values[i] = v;
        return STELE_CC_OK;
    }
    char *k = strdup(key);
    char **keys = realloc(h->attr_keys, (h->n_attrs + 1) * sizeof *keys);
    if (keys)
        h->attr_keys = keys;
    char **values = realloc(h->attr_values, (h->n_attrs + 1) * sizeof *values);
    if (values)
        h->attr_values = values;
    if (!k || !keys || !values) {
        free(k);
        free(v);
        return STELE_CC_FAILED;
    }
    h->attr_keys[h->n_attrs] = k;
    h->attr_values[h->n_attrs] = v;
    h->n_attrs++;
    return STELE_CC_OK;
}

void stele_cc_harness_set_timestamp(stele_cc_harness *h, uint64_t ms)
{
    h->timestamp_ms = ms;
}

int stele_cc_harness_set_tx_id(stele_cc_harness *h, const char *tx_id)
{
    if (!h || h->running || !tx_id || strlen(tx_id) != TX_ID_LEN ||
        strspn(tx_id, "0123456789abcdefABCDEF") != TX_ID_LEN)
        return STELE_CC_INVALID;
    memcpy(h->tx_id, tx_id, TX_ID_LEN + 1);
    h->tx_id_set = true;
    return STELE_CC_OK;
}

/* ---- invoking --------------------------------------------------------------------------- */

/* Keeps the stub's results as the harness's (with their NULs); the event only on success. */
static int keep_results(stele_cc_harness *h, const stele_cc_stub *stub, bool ok)
{
    if (stub->payload_len && !(h->payload = dup_nul(stub->payload, stub->payload_len)))
        return STELE_CC_FAILED;
    h->payload_len = stub->payload_len;
    if (stub->message && !(h->message = strdup(stub->message)))
        return STELE_CC_FAILED;
    if (ok && stub->event_name) {
        h->event_name = strdup(stub->event_name);
        h->event_payload = dup_nul(stub->event_payload, stub->event_len);
        if (!h->event_name || !h->event_payload)
            return STELE_CC_FAILED;
        h->event_len = stub->event_len;
    }
    return STELE_CC_OK;
}

/* The context of one invocation: copies made for it and freed when it ends, as the peer's
 * host frees what it decoded, so that a chaincode keeping a pointer past its invocation is
 * caught by AddressSanitizer here rather than on the peer. The stub itself is one of them
 * (stele_cc_creator_certhash() points into it). */
struct context {
    stele_cc_stub *stub;
    char *tx_id, *id, *org, *role;
    char **keys, **values; /* n attributes */
    size_t n;
};

static void context_free(struct context *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    free(c->tx_id);
    free(c->id);
    free(c->org);
    free(c->role);
    free(c->stub);
}

/* Fills `c` with copies of the harness's context. Returns false when out of memory. */
static bool context_copy(stele_cc_harness *h, struct context *c)
{
    *c = (struct context){0};
    c->stub = malloc(sizeof *c->stub);
    c->tx_id = malloc(TX_ID_LEN + 1);
    c->id = strdup(h->creator_id);
    c->org = strdup(h->creator_org);
    c->role = strdup(h->creator_role);
    c->keys = calloc(h->n_attrs + 1, sizeof *c->keys);
    c->values = calloc(h->n_attrs + 1, sizeof *c->values);
    if (!c->stub || !c->tx_id || !c->id || !c->org || !c->role || !c->keys || !c->values)
        return false;
    for (; c->n < h->n_attrs; c->n++) {
        c->keys[c->n] = strdup(h->attr_keys[c->n]);
        c->values[c->n] = strdup(h->attr_values[c->n]);
        if (!c->keys[c->n] || !c->values[c->n]) {
            c->n++;
            return false;
        }
    }
    return true;
}

/* Runs the chaincode on `n` copied arguments and commits its writes when it succeeds. */
static int run(stele_cc_harness *h, const char *function, size_t n, const uint8_t *const *args,
               const size_t *lens)
{
    struct context c;
    if (!context_copy(h, &c)) {
        context_free(&c);
        return STELE_CC_FAILED;
    }
    stele_cc_stub *stub = c.stub;
    stele_cc_stub_init(stub, &memstate_ops, h->state);
    stub->function = function;
    stub->args = args;
    stub->arg_lens = lens;
    stub->n_args = n;
    if (h->tx_id_set)
        memcpy(c.tx_id, h->tx_id, TX_ID_LEN + 1);
    else
        snprintf(c.tx_id, TX_ID_LEN + 1, "%064llx", (unsigned long long)h->invocations + 1);
    h->tx_id_set = false;
    h->invocations++;
    stub->tx_id = c.tx_id;
    stub->timestamp_ms = h->timestamp_ms;
    stub->creator_id = c.id;
    stub->creator_org = c.org;
    stub->creator_role = c.role;
    memcpy(stub->creator_certhash, h->certhash, sizeof stub->creator_certhash);
    stub->attr_keys = (const char *const *)c.keys;
    stub->attr_values = (const char *const *)c.values;
    stub->n_attrs = c.n;

    h->running = true;
    int status = stele_cc_stub_run(stub, h->cc);
    h->running = false;
    bool ok = status >= 200 && status <= 299;
    int rc = keep_results(h, stub, ok);
    stele_cc_stub_release(stub); /* closes the chaincode's iterators */
    if (rc == STELE_CC_OK && ok)
        rc = memstate_commit(h->state);
    memstate_end(h->state);
    context_free(&c);
    if (rc != STELE_CC_OK) {
        clear_results(h);
        return rc;
    }
    return status;
}

int stele_cc_harness_invoke(stele_cc_harness *h, const char *function, size_t n,
                            const uint8_t *const *args, const size_t *lens)
{
    if (!h || h->running || !function || (n && (!args || !lens)))
        return STELE_CC_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!args[i] && lens[i])
            return STELE_CC_INVALID;
    clear_results(h);
    /* Copies of exactly the given sizes, so that a chaincode reading past an argument is
     * caught by AddressSanitizer, and the function name likewise. */
    int rc = STELE_CC_FAILED;
    uint8_t **copies = calloc(n ? n : 1, sizeof *copies);
    char *fn = strdup(function);
    if (!copies || !fn)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!lens[i])
            continue;
        if (!(copies[i] = malloc(lens[i])))
            goto out;
        memcpy(copies[i], args[i], lens[i]);
    }
    rc = run(h, fn, n, (const uint8_t *const *)copies, lens);
out:
    for (size_t i = 0; copies && i < n; i++)
        free(copies[i]);
    free(copies);
    free(fn);
    return rc;
}

int stele_cc_harness_invoke_strings(stele_cc_harness *h, const char *function, size_t n,
                                    const char *const *args)
{
    if (n && !args)
        return STELE_CC_INVALID;
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    if (!lens)
        return STELE_CC_FAILED;
    int rc = STELE_CC_OK;
    for (size_t i = 0; i < n; i++)
        if (args[i])
            lens[i] = strlen(args[i]);
        else
            rc = STELE_CC_INVALID;
    if (rc == STELE_CC_OK)
        rc = stele_cc_harness_invoke(h, function, n, (const uint8_t *const *)args, lens);
    free(lens);
    return rc;
}

int stele_cc_harness_call(stele_cc_harness *h, const char *function, ...)
{
    va_list ap;
    size_t n = 0;
    va_start(ap, function);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    const char **args = calloc(n ? n : 1, sizeof *args);
    if (!args)
        return STELE_CC_FAILED;
    va_start(ap, function);
    for (size_t i = 0; i < n; i++)
        args[i] = va_arg(ap, const char *);
    va_end(ap);
    int rc = stele_cc_harness_invoke_strings(h, function, n, args);
    free(args);
    return rc;
}

const uint8_t *stele_cc_harness_payload(const stele_cc_harness *h, size_t *len)
{
    if (len)
        *len = h->payload_len;
    return h->payload ? h->payload : (const uint8_t *)"";
}

const char *stele_cc_harness_message(const stele_cc_harness *h)
{
    return h->message ? h->message : "";
}

const char *stele_cc_harness_event(const stele_cc_harness *h, const uint8_t **payload, size_t *len)
{
    if (payload)
        *payload = h->event_payload;
    if (len)
        *len = h->event_len;
    return h->event_name;
}

/* ---- the state -------------------------------------------------------------------------- */

int stele_cc_harness_put(stele_cc_harness *h, const char *key, const void *value, size_t len)
{
    if (!h || h->running || !stele_cc_key_ok(key) || (!value && len))
        return STELE_CC_INVALID;
    if (len > STELE_CC_MAX_VALUE)
        return STELE_CC_LIMIT;
    return memstate_put(h->state, key, value, len);
}

int stele_cc_harness_del(stele_cc_harness *h, const char *key)
{
    if (!h || h->running || !stele_cc_key_ok(key))
        return STELE_CC_INVALID;
    memstate_del(h->state, key);
    return STELE_CC_OK;
}

int stele_cc_harness_get(const stele_cc_harness *h, const char *key, const uint8_t **value,
                         size_t *len)
{
    if (!h || !stele_cc_key_ok(key) || !value)
        return STELE_CC_INVALID;
    size_t l;
    int rc = memstate_get(h->state, key, value, &l);
    if (rc == STELE_CC_OK && len)
        *len = l;
    return rc;
}

size_t stele_cc_harness_count(const stele_cc_harness *h)
{
    return memstate_count(h->state);
}

const char *stele_cc_harness_key(const stele_cc_harness *h, size_t i)
{
    return memstate_key(h->state, i);
}
