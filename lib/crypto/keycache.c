/* keycache.c — CLOCK-evicting hash table of extracted public keys under one mutex. */
#include "crypto/keycache.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KC_NONE         UINT32_MAX /* end of a bucket chain */
#define KC_MAX_CAPACITY (1u << 24)

struct kc_entry {
    uint8_t certhash[32];         /* SHA-256 of the certificate */
    uint8_t ca[CRYPTO_POINT_LEN]; /* CA public key it was extracted under (uncompressed) */
    struct crypto_key *key;       /* the cache's reference; NULL for a free slot */
    uint32_t next;                /* next slot in the same bucket, or KC_NONE */
    bool referenced;              /* CLOCK bit: used since the hand last passed */
};

struct keycache {
    pthread_mutex_t lock;     /* guards everything below */
    struct kc_entry *slots;   /* capacity entries */
    size_t capacity;          /* maximum number of keys */
    size_t count;             /* slots in use */
    uint32_t *buckets;        /* head slot per bucket, or KC_NONE */
    size_t mask;              /* bucket count - 1 (a power of two >= 2 * capacity) */
    uint64_t seed;            /* random multiplier (odd) so bucket choice is not predictable */
    size_t hand;              /* CLOCK hand over slots */
    struct keycache_stats st; /* counters (count is filled on read) */
};

static size_t bucket_of(const struct keycache *c, const uint8_t certhash[32])
{
    return (size_t)((get_u64be(certhash) * c->seed) >> 32) & c->mask;
}

struct keycache *keycache_create(size_t capacity)
{
    struct keycache *c;
    size_t nb = 2;

    if (capacity == 0 || capacity > KC_MAX_CAPACITY)
        return NULL;
    while (nb < 2 * capacity)
        nb <<= 1;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slots = calloc(capacity, sizeof *c->slots);
    c->buckets = malloc(nb * sizeof *c->buckets);
    if (!c->slots || !c->buckets || crypto_random(&c->seed, sizeof c->seed) != STELE_OK ||
        pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->slots);
        free(c->buckets);
        free(c);
        return NULL;
    }
    c->seed |= 1;
    c->capacity = capacity;
    c->mask = nb - 1;
    for (size_t i = 0; i < nb; i++)
        c->buckets[i] = KC_NONE;
    return c;
}

void keycache_destroy(struct keycache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->capacity; i++)
        crypto_key_destroy(c->slots[i].key);
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->buckets);
    free(c);
}

/* Returns the slot holding (certhash, ca) or KC_NONE. Caller holds the lock. */
static uint32_t find(const struct keycache *c, const uint8_t certhash[32], const uint8_t *ca)
{
    for (uint32_t i = c->buckets[bucket_of(c, certhash)]; i != KC_NONE; i = c->slots[i].next) {
        const struct kc_entry *en = &c->slots[i];
        if (memcmp(en->certhash, certhash, 32) == 0 && memcmp(en->ca, ca, sizeof en->ca) == 0)
            return i;
    }
    return KC_NONE;
}

/* Unlinks slot `i` from its bucket chain and returns its key reference. Caller holds the lock. */
static struct crypto_key *unlink_slot(struct keycache *c, uint32_t i)
{
    struct kc_entry *en = &c->slots[i];
    uint32_t *link = &c->buckets[bucket_of(c, en->certhash)];
    struct crypto_key *k = en->key;

    while (*link != i)
        link = &c->slots[*link].next;
    *link = en->next;
    en->key = NULL;
    en->next = KC_NONE;
    c->count--;
    return k;
}

/* Picks a slot for a new entry, evicting with CLOCK when full; returns it and, through *old, the
 * evicted key (to be dropped outside the lock). Caller holds the lock. */
static uint32_t take_slot(struct keycache *c, struct crypto_key **old)
{
    *old = NULL;
    for (;;) {
        struct kc_entry *en = &c->slots[c->hand];
        uint32_t i = (uint32_t)c->hand;
        c->hand = (c->hand + 1) % c->capacity;
        if (!en->key)
            return i;
        if (c->count < c->capacity)
            continue; /* room elsewhere: find a free slot without evicting */
        if (en->referenced) {
            en->referenced = false;
            continue;
        }
        *old = unlink_slot(c, i);
        c->st.evictions++;
        return i;
    }
}

struct crypto_key *keycache_get(struct keycache *c, const uint8_t certhash[32],
                                const struct crypto_key *ca_pub)
{
    uint8_t ca[CRYPTO_POINT_LEN];
    struct crypto_key *k = NULL;
    uint32_t i;

    crypto_key_public_uncompressed(ca_pub, ca);
    pthread_mutex_lock(&c->lock);
    i = find(c, certhash, ca);
    if (i != KC_NONE) {
        c->slots[i].referenced = true;
        k = crypto_key_ref(c->slots[i].key);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

int keycache_put(struct keycache *c, const uint8_t certhash[32], const struct crypto_key *ca_pub,
                 struct crypto_key *key)
{
    uint8_t ca[CRYPTO_POINT_LEN];
    struct crypto_key *old = NULL;
    uint32_t i;
    size_t b;

    crypto_key_public_uncompressed(ca_pub, ca);
    pthread_mutex_lock(&c->lock);
    i = find(c, certhash, ca);
    if (i != KC_NONE) {
        c->slots[i].referenced = true;
    } else {
        i = take_slot(c, &old);
        struct kc_entry *en = &c->slots[i];
        memcpy(en->certhash, certhash, 32);
        memcpy(en->ca, ca, sizeof ca);
        en->key = crypto_key_ref(key);
        /* A new entry starts unreferenced: it survives one pass of the hand only if used. */
        en->referenced = false;
        b = bucket_of(c, certhash);
        en->next = c->buckets[b];
        c->buckets[b] = i;
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
    crypto_key_destroy(old);
    return STELE_OK;
}

int keycache_extract(struct keycache *c, const uint8_t *cert, size_t cert_len,
                     const struct crypto_key *ca_pub, struct crypto_key **out)
{
    uint8_t h[32];
    struct crypto_key *k;
    int rc = ecqv_certhash(cert, cert_len, h);

    if (rc != STELE_OK)
        return rc;
    k = keycache_get(c, h, ca_pub);
    if (k) {
        *out = k;
        return STELE_OK;
    }
    rc = ecqv_extract(cert, cert_len, ca_pub, &k);
    if (rc != STELE_OK)
        return rc;
    keycache_put(c, h, ca_pub, k);
    *out = k;
    return STELE_OK;
}

void keycache_get_stats(struct keycache *c, struct keycache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    out->count = c->count;
    pthread_mutex_unlock(&c->lock);
}
