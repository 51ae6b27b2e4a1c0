/* reccache.c — the verified-record cache of reccache.h. */
#include "identity/reccache.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RECCACHE_MAX_CAPACITY (1u << 20)

/* One cached record. The strings of `id` are not kept there (its pointers are NULL) but in
 * `blob`: id, org, role, then each attribute's key and value, every one NUL-terminated. */
struct rc_entry {
    uint8_t rhash[32];  /* SHA-256 of the record bytes */
    uint64_t used;      /* last use (the cache's clock); 0 = empty way */
    struct identity id; /* fixed-size fields and ca_key */
    char *blob;         /* the strings (malloc'd) */
    size_t blob_len;    /* octets in blob */
};

struct reccache {
    pthread_mutex_t lock;     /* guards everything below */
    struct rc_entry *ways;    /* nsets * RECCACHE_WAYS entries */
    size_t mask;              /* nsets - 1 */
    uint64_t clock;           /* ticks once per lookup or store */
    struct reccache_stats st; /* counters */
};

struct reccache *reccache_create(size_t capacity)
{
    if (capacity == 0 || capacity > RECCACHE_MAX_CAPACITY)
        return NULL;
    size_t nsets = 1;
    while (nsets * RECCACHE_WAYS < capacity)
        nsets <<= 1;
    struct reccache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ways = calloc(nsets * RECCACHE_WAYS, sizeof *c->ways);
    if (!c->ways || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->ways);
        free(c);
        return NULL;
    }
    c->mask = nsets - 1;
    return c;
}

void reccache_destroy(struct reccache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < (c->mask + 1) * RECCACHE_WAYS; i++)
        free(c->ways[i].blob);
    pthread_mutex_destroy(&c->lock);
    free(c->ways);
    free(c);
}

/* The first way of the set `rhash` falls in. */
static struct rc_entry *set_of(struct reccache *c, const uint8_t rhash[32])
{
    return &c->ways[(get_u64be(rhash) & c->mask) * RECCACHE_WAYS];
}

/* Points the strings of `out` into `blob` (laid out as struct rc_entry describes). */
static int unflatten(struct arena *a, const char *blob, struct identity *out)
{
    const char *p = blob;
    out->id = p;
    p += strlen(p) + 1;
    out->org = p;
    p += strlen(p) + 1;
    out->role = p;
    p += strlen(p) + 1;
    out->attrs = NULL;
    if (out->n_attrs) {
        out->attrs = arena_calloc(a, out->n_attrs, sizeof *out->attrs);
        if (!out->attrs)
            return STELE_ERR_NOMEM;
        for (size_t i = 0; i < out->n_attrs; i++) {
            out->attrs[i].key = p;
            p += strlen(p) + 1;
            out->attrs[i].value = p;
            p += strlen(p) + 1;
        }
    }
    return STELE_OK;
}

int reccache_get(struct reccache *c, const uint8_t rhash[32], struct arena *a, struct identity *out)
{
    char *blob = NULL;
    int rc = STELE_ERR_NOT_FOUND;
    pthread_mutex_lock(&c->lock);
    struct rc_entry *set = set_of(c, rhash);
    for (int w = 0; w < RECCACHE_WAYS; w++) {
        struct rc_entry *e = &set[w];
        if (!e->used || memcmp(e->rhash, rhash, 32) != 0)
            continue;
        blob = arena_memdup(a, e->blob, e->blob_len);
        if (!blob) {
            rc = STELE_ERR_NOMEM;
            break;
        }
        *out = e->id;
        e->used = ++c->clock;
        rc = STELE_OK;
        break;
    }
    if (rc == STELE_OK)
        c->st.hits++;
    else
        c->st.misses++;
    pthread_mutex_unlock(&c->lock);
    return rc == STELE_OK ? unflatten(a, blob, out) : rc;
}

/* Appends the C string `s` with its NUL to `b`. */
static int put_str(struct buf *b, const char *s)
{
    return buf_append(b, s ? s : "", strlen(s ? s : "") + 1);
}

void reccache_put(struct reccache *c, const uint8_t rhash[32], const struct identity *id)
{
    struct buf b;
    buf_init(&b);
    int rc = put_str(&b, id->id);
    if (rc == STELE_OK)
        rc = put_str(&b, id->org);
    if (rc == STELE_OK)
        rc = put_str(&b, id->role);
    for (size_t i = 0; rc == STELE_OK && i < id->n_attrs; i++)
        if ((rc = put_str(&b, id->attrs[i].key)) == STELE_OK)
            rc = put_str(&b, id->attrs[i].value);
    if (rc != STELE_OK || b.len > RECCACHE_MAX_BLOB) {
        buf_release(&b);
        return;
    }
    char *blob = malloc(b.len);
    if (!blob) {
        buf_release(&b);
        return;
    }
    memcpy(blob, b.data, b.len);
    struct identity fixed = *id;
    fixed.id = fixed.org = fixed.role = NULL;
    fixed.attrs = NULL;

    pthread_mutex_lock(&c->lock);
    struct rc_entry *set = set_of(c, rhash), *victim = &set[0];
    for (int w = 0; w < RECCACHE_WAYS; w++) {
        struct rc_entry *e = &set[w];
        if (e->used && memcmp(e->rhash, rhash, 32) == 0) {
            victim = e; /* another thread stored it first: refresh */
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    char *old = victim->blob;
    memcpy(victim->rhash, rhash, 32);
    victim->id = fixed;
    victim->blob = blob;
    victim->blob_len = b.len;
    victim->used = ++c->clock;
    c->st.stored++;
    pthread_mutex_unlock(&c->lock);
    free(old);
    buf_release(&b);
}

void reccache_get_stats(struct reccache *c, struct reccache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
