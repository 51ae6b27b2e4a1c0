/*
 * memstate.c — the harness's in-memory state (memstate.h): two sorted arrays, the committed
 * entries and the running invocation's writes, searched by binary search. Keys compare with
 * strcmp(), which orders unsigned octets as the peer's state database does.
 */
#include "memstate.h"

#include <stdlib.h>
#include <string.h>

/* One key and its value. */
struct kv {
    char *key;      /* NUL-terminated */
    uint8_t *value; /* len octets and a NUL; in a write set, NULL for a delete */
    size_t len;     /* octets of value */
};

/* Entries sorted by key, no key twice. */
struct kvset {
    struct kv *v; /* n entries in cap slots */
    size_t n;
    size_t cap;
};

/* One allocation of the running invocation, freed by memstate_end(). */
struct mem {
    struct mem *next;
    uint8_t data[];
};

/* One entry of an iterator: pointers into the committed state or the write set, both of
 * which stay put while the invocation runs. */
struct snap {
    const char *key;
    const uint8_t *value;
    size_t len;
};

/* An iterator: the entries of its range as they were when it was opened. */
struct iter {
    size_t n;   /* entries */
    size_t pos; /* the next to return */
    struct snap e[];
};

struct memstate {
    struct kvset committed; /* keys and values malloc'd, owned here */
    struct kvset writes;    /* the invocation's writes; keys and values in `mem` */
    struct mem *mem;        /* the invocation's allocations */
};

/* ---- sorted sets ------------------------------------------------------------------------ */

/* The index of the first entry whose key is not below `key`; *found tells whether it is
 * `key` itself. */
static size_t kvset_lower(const struct kvset *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < s->n && strcmp(s->v[lo].key, key) == 0;
    return lo;
}

/* Makes room for `extra` more entries. Returns false when out of memory. */
static bool kvset_reserve(struct kvset *s, size_t extra)
{
    if (s->n + extra <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 16;
    while (cap < s->n + extra)
        cap *= 2;
    struct kv *v = realloc(s->v, cap * sizeof *v);
    if (!v)
        return false;
    s->v = v;
    s->cap = cap;
    return true;
}

/* Inserts `kv` at `pos` (room reserved). */
static void kvset_insert(struct kvset *s, size_t pos, struct kv kv)
{
    memmove(&s->v[pos + 1], &s->v[pos], (s->n - pos) * sizeof *s->v);
    s->v[pos] = kv;
    s->n++;
}

/* Removes the committed entry at `pos`, freeing it. */
static void committed_remove(struct kvset *s, size_t pos)
{
    free(s->v[pos].key);
    free(s->v[pos].value);
    memmove(&s->v[pos], &s->v[pos + 1], (s->n - pos - 1) * sizeof *s->v);
    s->n--;
}

/* A copy of `len` octets and a NUL, or NULL. */
static uint8_t *dup_value(const void *value, size_t len)
{
    uint8_t *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, value, len);
        p[len] = 0;
    }
    return p;
}

/* ---- the invocation's memory ------------------------------------------------------------ */

/* `len` octets (exactly: a read past them is caught by AddressSanitizer) that live until
 * memstate_end(); NULL when out of memory. */
static void *mem_alloc(struct memstate *s, size_t len)
{
    struct mem *m = malloc(sizeof *m + len);
    if (!m)
        return NULL;
    m->next = s->mem;
    s->mem = m;
    return m->data;
}

static const char *mem_strdup(struct memstate *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = mem_alloc(s, n);
    return p ? memcpy(p, str, n) : NULL;
}

static const uint8_t *mem_memdup(struct memstate *s, const uint8_t *value, size_t len)
{
    uint8_t *p = mem_alloc(s, len);
    return p && len ? memcpy(p, value, len) : p;
}

/* ---- the state ops ---------------------------------------------------------------------- */

/* The entry `key` has in the merged view: the write set's if it has one, else the committed
 * one; NULL when neither has one. A write set entry with a NULL value is a delete. */
static const struct kv *lookup(const struct memstate *s, const char *key)
{
    bool found;
    size_t i = kvset_lower(&s->writes, key, &found);
    if (found)
        return &s->writes.v[i];
    i = kvset_lower(&s->committed, key, &found);
    return found ? &s->committed.v[i] : NULL;
}

static int op_get(void *impl, const char *key, const uint8_t **value, size_t *len)
{
    struct memstate *s = impl;
    const struct kv *kv = lookup(s, key);
    if (!kv || !kv->value)
        return STELE_CC_NOT_FOUND;
    const uint8_t *copy = mem_memdup(s, kv->value, kv->len);
    if (!copy)
        return STELE_CC_FAILED;
    *value = copy;
    *len = kv->len;
    return STELE_CC_OK;
}

/* Records a write of `key`: a put of `len` octets at `value`, or a delete when value is NULL.
 * A key written before keeps its entry; the old value stays in `mem`, where an iterator or
 * the chaincode may still point. */
static int record_write(struct memstate *s, const char *key, const uint8_t *value, size_t len)
{
    uint8_t *copy = NULL;
    if (value) {
        copy = mem_alloc(s, len + 1);
        if (!copy)
            return STELE_CC_FAILED;
        memcpy(copy, value, len);
        copy[len] = 0;
    }
    bool found;
    size_t i = kvset_lower(&s->writes, key, &found);
    if (found) {
        s->writes.v[i].value = copy;
        s->writes.v[i].len = len;
        return STELE_CC_OK;
    }
    const char *k = mem_strdup(s, key);
    if (!k || !kvset_reserve(&s->writes, 1))
        return STELE_CC_FAILED;
    kvset_insert(&s->writes, i, (struct kv){(char *)k, copy, len});
    return STELE_CC_OK;
}

static int op_put(void *impl, const char *key, const uint8_t *value, size_t len)
{
    return record_write(impl, key, value, len);
}

static int op_del(void *impl, const char *key)
{
    return record_write(impl, key, NULL, 0);
}

/* The index range [*lo, *hi) of the entries of `s` in [start, end) ("" = open). */
static void bounds(const struct kvset *s, const char *start, const char *end, size_t *lo,
                   size_t *hi)
{
    *lo = start[0] ? kvset_lower(s, start, NULL) : 0;
    *hi = end[0] ? kvset_lower(s, end, NULL) : s->n;
    if (*hi < *lo)
        *hi = *lo;
}

static int op_range(void *impl, const char *start, const char *end, void **out)
{
    struct memstate *s = impl;
    size_t clo, chi, wlo, whi;
    bounds(&s->committed, start, end, &clo, &chi);
    bounds(&s->writes, start, end, &wlo, &whi);
    struct iter *it = malloc(sizeof *it + (chi - clo + whi - wlo) * sizeof it->e[0]);
    if (!it)
        return STELE_CC_FAILED;
    it->n = it->pos = 0;
    /* merge the two sorted runs; a write replaces the committed entry of its key */
    while (clo < chi || wlo < whi) {
        const struct kv *kv;
        int c = clo == chi   ? 1
                : wlo == whi ? -1
                             : strcmp(s->committed.v[clo].key, s->writes.v[wlo].key);
        if (c < 0) {
            kv = &s->committed.v[clo++];
        } else {
            if (c == 0)
                clo++;
            kv = &s->writes.v[wlo++];
        }
        if (kv->value)
            it->e[it->n++] = (struct snap){kv->key, kv->value, kv->len};
    }
    *out = it;
    return STELE_CC_OK;
}

static int op_next(void *impl, void *iter, const char **key, const uint8_t **value, size_t *len)
{
    struct memstate *s = impl;
    struct iter *it = iter;
    if (it->pos == it->n)
        return 0;
    const struct snap *e = &it->e[it->pos];
    const char *k = mem_strdup(s, e->key);
    const uint8_t *v = mem_memdup(s, e->value, e->len);
    if (!k || !v)
        return STELE_CC_FAILED;
    it->pos++;
    *key = k;
    *value = v;
    *len = e->len;
    return 1;
}

static void op_close(void *impl, void *iter)
{
    free(iter);
}

const struct stele_cc_state_ops memstate_ops = {
    .get = op_get,
    .put = op_put,
    .del = op_del,
    .range = op_range,
    .next = op_next,
    .close = op_close,
};

/* ---- the committed state ---------------------------------------------------------------- */

struct memstate *memstate_create(void)
{
    return calloc(1, sizeof(struct memstate));
}

void memstate_destroy(struct memstate *s)
{
    if (!s)
        return;
    memstate_end(s);
    for (size_t i = 0; i < s->committed.n; i++) {
        free(s->committed.v[i].key);
        free(s->committed.v[i].value);
    }
    free(s->committed.v);
    free(s->writes.v);
    free(s);
}

int memstate_put(struct memstate *s, const char *key, const void *value, size_t len)
{
    bool found;
    size_t i = kvset_lower(&s->committed, key, &found);
    uint8_t *v = dup_value(value, len);
    if (!v)
        return STELE_CC_FAILED;
    if (found) {
        free(s->committed.v[i].value);
        s->committed.v[i].value = v;
        s->committed.v[i].len = len;
        return STELE_CC_OK;
    }
    char *k = strdup(key);
    if (!k || !kvset_reserve(&s->committed, 1)) {
        free(k);
        free(v);
        return STELE_CC_FAILED;
    }
    kvset_insert(&s->committed, i, (struct kv){k, v, len});
    return STELE_CC_OK;
}

void memstate_del(struct memstate *s, const char *key)
{
    bool found;
    size_t i = kvset_lower(&s->committed, key, &found);
    if (found)
        committed_remove(&s->committed, i);
}

int memstate_get(const struct memstate *s, const char *key, const uint8_t **value, size_t *len)
{
    bool found;
    size_t i = kvset_lower(&s->committed, key, &found);
    if (!found)
        return STELE_CC_NOT_FOUND;
    *value = s->committed.v[i].value;
    *len = s->committed.v[i].len;
    return STELE_CC_OK;
}

size_t memstate_count(const struct memstate *s)
{
    return s->committed.n;
}

const char *memstate_key(const struct memstate *s, size_t i)
{
    return i < s->committed.n ? s->committed.v[i].key : NULL;
}

/* Copies every put of the write set first (keys and values for the committed state) and
 * reserves room for them, so that nothing can fail once the state starts to change. */
int memstate_commit(struct memstate *s)
{
    size_t n = s->writes.n;
    struct kv *copies = calloc(n ? n : 1, sizeof *copies);
    if (!copies || !kvset_reserve(&s->committed, n))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const struct kv *w = &s->writes.v[i];
        if (!w->value)
            continue;
        copies[i].key = strdup(w->key);
        copies[i].value = dup_value(w->value, w->len);
        copies[i].len = w->len;
        if (!copies[i].key || !copies[i].value)
            goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key = s->writes.v[i].key;
        bool found;
        size_t pos = kvset_lower(&s->committed, key, &found);
        if (found)
            committed_remove(&s->committed, pos);
        if (copies[i].value)
            kvset_insert(&s->committed, pos, copies[i]);
    }
    free(copies);
    return STELE_CC_OK;
nomem:
    for (size_t i = 0; copies && i < n; i++) {
        free(copies[i].key);
        free(copies[i].value);
    }
    free(copies);
    return STELE_CC_FAILED;
}

void memstate_end(struct memstate *s)
{
    s->writes.n = 0;
    while (s->mem) {
        struct mem *m = s->mem;
        s->mem = m->next;
        free(m);
    }
}
