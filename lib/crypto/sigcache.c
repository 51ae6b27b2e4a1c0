/* sigcache.c — direct-mapped table of salted SHA-256 tags of valid signatures, one mutex. */
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

struct sigcache {
    pthread_mutex_t lock;      /* guards tags, used and st */
    uint8_t (*tags)[32];       /* capacity tags */
    uint8_t *used;             /* 1 where tags[i] holds a tag */
    size_t mask;               /* capacity - 1 */
    uint8_t salt[SC_SALT_LEN]; /* random, so nobody can aim at a slot from outside */
    struct sigcache_stats st;  /* counters */
};

struct sigcache *sigcache_create(size_t capacity)
{
    if (capacity == 0 || capacity > SC_MAX_CAPACITY)
        return NULL;
    size_t n = 1;
    while (n < capacity)
        n <<= 1;
    struct sigcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->tags = calloc(n, sizeof *c->tags);
    c->used = calloc(n, 1);
    if (!c->tags || !c->used || crypto_random(c->salt, sizeof c->salt) != STELE_OK) {
        free(c->tags);
        free(c->used);
        free(c);
        return NULL;
    }
    c->mask = n - 1;
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

static size_t slot_of(const struct sigcache *c, const uint8_t tag[32])
{
    return (size_t)get_u64be(tag) & c->mask;
}

/* True when `tag` is stored; counts a hit, or a verification about to run. */
static bool lookup(struct sigcache *c, const uint8_t tag[32])
{
    size_t i = slot_of(c, tag);
    pthread_mutex_lock(&c->lock);
    bool hit = c->used[i] && memcmp(c->tags[i], tag, 32) == 0;
    if (hit)
        c->st.hits++;
    else
        c->st.verified++;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void store(struct sigcache *c, const uint8_t tag[32])
{
    size_t i = slot_of(c, tag);
    pthread_mutex_lock(&c->lock);
    memcpy(c->tags[i], tag, 32);
    c->used[i] = 1;
    c->st.added++;
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
