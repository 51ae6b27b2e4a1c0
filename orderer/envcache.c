/* envcache.c — the checked-envelope cache of envcache.h: a direct-mapped table (the hash's
 * first octets pick the slot; a colliding newer entry replaces the older one), striped locks. */
#include "envcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64

struct slot {
    uint8_t hash[32];
    uint64_t at; /* 0: empty */
};

struct envcache {
    size_t mask;
    struct slot *slots;
    pthread_mutex_t locks[STRIPES];
};

struct envcache *envcache_create(unsigned bits)
{
    if (bits < 10)
        bits = 10;
    if (bits > 24)
        bits = 24;
    struct envcache *c = calloc(1, sizeof *c);
    if (!c || !(c->slots = calloc((size_t)1 << bits, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    c->mask = ((size_t)1 << bits) - 1;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void envcache_destroy(struct envcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

static size_t index_of(const struct envcache *c, const uint8_t hash[32])
{
    uint64_t v;
    memcpy(&v, hash, sizeof v);
    return (size_t)v & c->mask;
}

bool envcache_seen(struct envcache *c, const uint8_t hash[32], uint64_t now_ms)
{
    size_t i = index_of(c, hash);
    pthread_mutex_t *l = &c->locks[i % STRIPES];
    pthread_mutex_lock(l);
    const struct slot *s = &c->slots[i];
    bool hit = s->at && now_ms - s->at < ENVCACHE_TTL_MS && memcmp(s->hash, hash, 32) == 0;
    pthread_mutex_unlock(l);
    return hit;
}

void envcache_put(struct envcache *c, const uint8_t hash[32], uint64_t now_ms)
{
    size_t i = index_of(c, hash);
    pthread_mutex_t *l = &c->locks[i % STRIPES];
    pthread_mutex_lock(l);
    memcpy(c->slots[i].hash, hash, 32);
    c->slots[i].at = now_ms ? now_ms : 1;
    pthread_mutex_unlock(l);
}
