/*
 * replay.c — the signed requests a server took (replay.h): a ring of entries in the order
 * they were taken, and an open-addressing table (linear probing, deletion by backward shift)
 * from a request's key to its place in the ring.
 */
#include "identity/replay.h"

#include "base/status.h"
#include "crypto/hash.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint8_t key[16]; /* SHA-256(certhash || nonce), first 16 octets */
    uint64_t ts;     /* the request's timestamp */
};

struct replay_cache {
    pthread_mutex_t mu;
    uint64_t window_ms;
    struct entry *ring; /* cap entries; the oldest at head */
    size_t cap, head, count;
    uint32_t *slots; /* 1 + ring index, 0 = empty */
    size_t mask;     /* table size - 1 (a power of two, at least twice cap) */
    uint64_t floor;  /* requests dated at or before this are refused (0: none yet) */
};

struct replay_cache *replay_cache_create(size_t capacity, uint64_t window_ms, uint64_t floor_ms)
{
    if (capacity < 16)
        capacity = 16;
    if (capacity > (1u << 30))
        return NULL;
    size_t size = 1;
    while (size < 2 * capacity)
        size <<= 1;
    struct replay_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ring = calloc(capacity, sizeof *c->ring);
    c->slots = calloc(size, sizeof *c->slots);
    if (!c->ring || !c->slots) {
        replay_cache_destroy(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->cap = capacity;
    c->mask = size - 1;
    c->window_ms = window_ms;
    c->floor = floor_ms;
    return c;
}

void replay_cache_destroy(struct replay_cache *c)
{
    if (!c)
        return;
    if (c->ring && c->slots)
        pthread_mutex_destroy(&c->mu);
    free(c->ring);
    free(c->slots);
    free(c);
}

static size_t home(const struct replay_cache *c, const uint8_t key[16])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & c->mask;
}

/* The table slot holding `key`, or that empty slot where it would go. */
static size_t find(const struct replay_cache *c, const uint8_t key[16])
{
    size_t i = home(c, key);
    while (c->slots[i] && memcmp(c->ring[c->slots[i] - 1].key, key, 16) != 0)
        i = (i + 1) & c->mask;
    return i;
}

/* Empties slot i, moving later entries of its probe run back so that each stays reachable. */
static void remove_slot(struct replay_cache *c, size_t i)
{
    for (size_t j = i;;) {
        j = (j + 1) & c->mask;
        if (!c->slots[j])
            break;
        size_t k = home(c, c->ring[c->slots[j] - 1].key);
        /* the entry at j may move to i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            c->slots[i] = c->slots[j];
            i = j;
        }
    }
    c->slots[i] = 0;
}

/* Drops the oldest entry to make room; when it could still be accepted (not past the window:
 * signed_request_verify() refuses those anyway), requests dated at or before it are refused
 * from now on. */
static void drop_oldest(struct replay_cache *c, uint64_t now_ms)
{
    struct entry *e = &c->ring[c->head];
    if (e->ts + c->window_ms >= now_ms && e->ts > c->floor)
        c->floor = e->ts;
    remove_slot(c, find(c, e->key));
    c->head = (c->head + 1) % c->cap;
    c->count--;
}

int replay_cache_claim(struct replay_cache *c, const struct signed_request *r, uint64_t now_ms)
{
    uint8_t in[32 + IDENTITY_NONCE_LEN], h[32];
    memcpy(in, r->signer.certhash, 32);
    memcpy(in + 32, r->nonce, IDENTITY_NONCE_LEN);
    int rc = crypto_sha256(in, sizeof in, h);
    return rc ? rc : replay_cache_claim_key(c, h, r->timestamp_ms, now_ms);
}

int replay_cache_claim_key(struct replay_cache *c, const uint8_t key[32], uint64_t ts_ms,
                           uint64_t now_ms)
{
    const uint8_t *h = key;
    int rc = STELE_OK;
    pthread_mutex_lock(&c->mu);
    if ((c->floor && ts_ms <= c->floor) || replay_too_far_ahead(ts_ms, now_ms)) {
        rc = STELE_ERR_EXPIRED;
    } else {
        size_t i = find(c, h);
        if (c->slots[i]) {
            rc = STELE_ERR_REPLAY;
        } else {
            if (c->count == c->cap) {
                drop_oldest(c, now_ms);
                i = find(c, h); /* the table moved */
            }
            size_t at = (c->head + c->count) % c->cap;
            memcpy(c->ring[at].key, h, 16);
            c->ring[at].ts = ts_ms;
            c->slots[i] = (uint32_t)(at + 1);
            c->count++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
