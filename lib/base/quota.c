/*
 * quota.c — per-caller caps on a shared resource (quota.h). A quota of `total` units has at
 * most `total` distinct holders, so a table of that many slots, scanned under one mutex, is
 * enough: a peer's quotas have a few hundred units at most, taken once per stream or wait.
 */
#include "base/quota.h"

#include "base/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct holder {
    uint8_t who[32]; /* certificate hash */
    unsigned n;      /* units held; 0 = a free slot */
};

struct quota {
    pthread_mutex_t mu;
    unsigned total;       /* units in all */
    unsigned per_caller;  /* units one caller may hold */
    unsigned held;        /* units held now */
    struct holder *slots; /* `total` of them */
};

struct quota *quota_create(unsigned total, unsigned per_caller)
{
    if (!total || !per_caller || per_caller > total)
        return NULL;
    struct quota *q = calloc(1, sizeof *q);
    if (!q || !(q->slots = calloc(total, sizeof *q->slots))) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    q->total = total;
    q->per_caller = per_caller;
    return q;
}

void quota_destroy(struct quota *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    free(q->slots);
    free(q);
}

/* The slot of `who`, or NULL. Caller holds q->mu. */
static struct holder *find(struct quota *q, const uint8_t *who)
{
    for (unsigned i = 0; i < q->total; i++)
        if (q->slots[i].n && memcmp(q->slots[i].who, who, 32) == 0)
            return &q->slots[i];
    return NULL;
}

int quota_take(struct quota *q, const uint8_t who[32], bool *mine)
{
    int rc = STELE_ERR_LIMIT;
    bool caller = false;
    pthread_mutex_lock(&q->mu);
    struct holder *h = find(q, who);
    if (h && h->n >= q->per_caller) {
        caller = true;
    } else if (q->held < q->total) {
        if (!h) { /* held < total: some slot is free, as each holder holds at least one unit */
            for (h = q->slots; h->n; h++)
                ;
            memcpy(h->who, who, 32);
        }
        h->n++;
        q->held++;
        rc = STELE_OK;
    }
    pthread_mutex_unlock(&q->mu);
    if (mine)
        *mine = caller;
    return rc;
}

void quota_give(struct quota *q, const uint8_t who[32])
{
    pthread_mutex_lock(&q->mu);
    struct holder *h = find(q, who);
    if (h) {
        h->n--;
        q->held--;
    }
    pthread_mutex_unlock(&q->mu);
}

unsigned quota_held(struct quota *q, const uint8_t *who)
{
    pthread_mutex_lock(&q->mu);
    struct holder *h = who ? find(q, who) : NULL;
    unsigned n = who ? (h ? h->n : 0) : q->held;
    pthread_mutex_unlock(&q->mu);
    return n;
}
