/* sigcache.c — 4-way set-associative table of salted SHA-256 tags of valid signatures, one
 * mutex. */
#include "crypto/sigcache.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SC_MAX_CAPACITY (1u << 24)
#define SC_SALT_LEN     16
#define SC_WAYS         4 /* tags per set: up to 4 tags of one set never push each other out */

struct sigcache {
    pthread_mutex_t lock;      /* guards tags, used, victim and st */
    uint8_t (*tags)[32];       /* capacity tags, SC_WAYS per set */
    uint8_t *used;             /* 1 where tags[i] holds a tag */
    uint8_t *victim;           /* per set: the way replaced next (the oldest) */
    size_t sets;               /* capacity / SC_WAYS, a power of two */
    uint8_t salt[SC_SALT_LEN]; /* random, so nobody can aim at a set from outside */
    struct sigcache_stats st;  /* counters */
};

struct sigcache *sigcache_create(size_t capacity)
{
    if (capacity == 0 || capacity > SC_MAX_CAPACITY)
        return NULL;
    size_t n = SC_WAYS;
    while (n < capacity)
        n <<= 1;
    struct sigcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sets = n / SC_WAYS;
    c->tags = calloc(n, sizeof *c->tags);
    c->used = calloc(n, 1);
    c->victim = calloc(c->sets, 1);
    if (!c->tags || !c->used || !c->victim || crypto_random(c->salt, sizeof c->salt) != STELE_OK) {
        free(c->tags);
        free(c->used);
        free(c->victim);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sigcache_destroy(struct sigcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->tags);
    free(c->used);
    free(c->victim);
    free(c);
}

/* tag = SHA-256(salt ‖ public point ‖ digest ‖ sig). */
static int tag_of(const struct sigcache *c, const struct crypto_key *k,
                  const uint8_t digest[CRYPTO_DIGEST_LEN], const uint8_t sig[CRYPTO_SIG_LEN],
                  uint8_t tag[32])
{
    uint8_t in[SC_SALT_LEN + CRYPTO_POINT_LEN + CRYPTO_DIGEST_LEN + CRYPTO_SIG_LEN];
    uint8_t *p = in;
    memcpy(p, c->salt, SC_SALT_LEN);
    p += SC_SALT_LEN;
    memcpy(p, k->pub, CRYPTO_POINT_LEN);
    p += CRYPTO_POINT_LEN;
    memcpy(p, digest, CRYPTO_DIGEST_LEN);
    p += CRYPTO_DIGEST_LEN;
    memcpy(p, sig, CRYPTO_SIG_LEN);
    return crypto_sha256(in, sizeof in, tag);
}

static size_t set_of(const struct sigcache *c, const uint8_t tag[32])
{
    return (size_t)get_u64be(tag) & (c->sets - 1);
}

/* Under the lock: the way of set `set` holding `tag`, or -1. */
static int find_locked(const struct sigcache *c, size_t set, const uint8_t tag[32])
{
    for (int w = 0; w < SC_WAYS; w++) {
        size_t i = set * SC_WAYS + (size_t)w;
        if (c->used[i] && memcmp(c->tags[i], tag, 32) == 0)
            return w;
    }
    return -1;
}

/* True when `tag` is stored; counts a hit, or a verification about to run. */
static bool lookup(struct sigcache *c, const uint8_t tag[32])
{
    pthread_mutex_lock(&c->lock);
    bool hit = find_locked(c, set_of(c, tag), tag) >= 0;
    if (hit)
        c->st.hits++;
    else
        c->st.verified++;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* Stores `tag` in its set, in a free way or over the oldest. */
static void store(struct sigcache *c, const uint8_t tag[32])
{
    size_t set = set_of(c, tag);
    pthread_mutex_lock(&c->lock);
    if (find_locked(c, set, tag) < 0) {
        int way = -1;
        for (int w = 0; w < SC_WAYS && way < 0; w++)
            if (!c->used[set * SC_WAYS + (size_t)w])
                way = w;
        if (way < 0) {
            way = c->victim[set];
            c->victim[set] = (uint8_t)((way + 1) % SC_WAYS);
        }
        size_t i = set * SC_WAYS + (size_t)way;
        memcpy(c->tags[i], tag, 32);
        c->used[i] = 1;
        c->st.added++;
    }
    pthread_mutex_unlock(&c->lock);
}

int sigcache_verify(struct sigcache *c, const struct crypto_key *k, const void *msg, size_t len,
                    const uint8_t *sig, size_t sig_len)
{
    if (!c)
        return crypto_verify(k, msg, len, sig, sig_len);
    if (sig_len != CRYPTO_SIG_LEN)
        return STELE_ERR_MALFORMED;
    uint8_t digest[CRYPTO_DIGEST_LEN], tag[32];
    int rc = crypto_sha256(msg, len, digest);
    if (rc == STELE_OK)
        rc = tag_of(c, k, digest, sig, tag);
    if (rc != STELE_OK)
        return rc;
    if (lookup(c, tag))
        return STELE_OK;
    rc = crypto_verify_digest(k, digest, sig, sig_len);
    if (rc == STELE_OK)
        store(c, tag);
    return rc;
}

int sigcache_sign(struct sigcache *c, const struct crypto_key *k, const void *msg, size_t len,
                  uint8_t sig[CRYPTO_SIG_LEN])
{
    if (!c)
        return crypto_sign(k, msg, len, sig);
    uint8_t digest[CRYPTO_DIGEST_LEN], tag[32];
    int rc = crypto_sha256(msg, len, digest);
    if (rc == STELE_OK)
        rc = crypto_sign_digest(k, digest, sig);
    if (rc == STELE_OK && tag_of(c, k, digest, sig, tag) == STELE_OK)
        store(c, tag); /* not remembering only costs a verification later */
    return rc;
}

void sigcache_get_stats(struct sigcache *c, struct sigcache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
