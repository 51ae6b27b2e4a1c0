/* blockcutter.c — the batch rules of blockcutter.h. */
#include "blockcutter.h"

#include "base/status.h"

#include <stdlib.h>
#include <string.h>

int blockcutter_init(struct blockcutter *bc, const struct blockcutter_config *cfg)
{
    memset(bc, 0, sizeof *bc);
    if (!cfg || cfg->max_message_count == 0 || cfg->preferred_max_bytes == 0 ||
        cfg->absolute_max_bytes < cfg->preferred_max_bytes || cfg->batch_timeout_ms == 0)
        return STELE_ERR_INVALID;
    bc->cfg = *cfg;
    return STELE_OK;
}

void blockcutter_batch_release(struct blockcutter_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->envs[i].data);
    free(b->envs);
    memset(b, 0, sizeof *b);
}

void blockcutter_release(struct blockcutter *bc)
{
    blockcutter_batch_release(&bc->pending);
}

/* Moves the pending batch into *out and leaves an empty one. */
static void take_pending(struct blockcutter *bc, struct blockcutter_batch *out)
{
    *out = bc->pending;
    memset(&bc->pending, 0, sizeof bc->pending);
}

/* Makes room for one more envelope in `b`. */
static int batch_reserve(struct blockcutter_batch *b)
{
    if (b->n < b->cap)
        return STELE_OK;
    size_t cap = b->cap ? b->cap * 2 : 16;
    ProtobufCBinaryData *envs = realloc(b->envs, cap * sizeof *envs);
    if (!envs)
        return STELE_ERR_NOMEM;
    b->envs = envs;
    b->cap = cap;
    return STELE_OK;
}

int blockcutter_ordered(struct blockcutter *bc, const uint8_t *env, size_t len, uint64_t now_ms,
                        struct blockcutter_batch out[2], size_t *n_out)
{
    *n_out = 0;
    if (len == 0 || len > bc->cfg.absolute_max_bytes)
        return STELE_ERR_TOO_BIG;
    uint8_t *copy = malloc(len);
    if (!copy)
        return STELE_ERR_NOMEM;
    memcpy(copy, env, len);

    if (len > bc->cfg.preferred_max_bytes) {
        /* Alone in a batch: first whatever was pending, then this one. */
        ProtobufCBinaryData *one = malloc(sizeof *one);
        if (!one) {
            free(copy);
            return STELE_ERR_NOMEM;
        }
        one->len = len;
        one->data = copy;
        if (bc->pending.n > 0)
            take_pending(bc, &out[(*n_out)++]);
        out[*n_out] = (struct blockcutter_batch){.envs = one, .n = 1, .cap = 1, .bytes = len};
        (*n_out)++;
        return STELE_OK;
    }

    /* Reserve first so that a failure leaves everything as it was. */
    bool cut_first = bc->pending.n > 0 && bc->pending.bytes + len > bc->cfg.preferred_max_bytes;
    struct blockcutter_batch fresh = {0};
    struct blockcutter_batch *target = cut_first ? &fresh : &bc->pending;
    if (batch_reserve(target) != STELE_OK) {
        free(copy);
        return STELE_ERR_NOMEM;
    }
    if (cut_first) {
        take_pending(bc, &out[(*n_out)++]);
        bc->pending = fresh;
    }
    if (bc->pending.n == 0)
        bc->first_at_ms = now_ms;
    bc->pending.envs[bc->pending.n].len = len;
    bc->pending.envs[bc->pending.n].data = copy;
    bc->pending.n++;
    bc->pending.bytes += len;
    if (bc->pending.n >= bc->cfg.max_message_count)
        take_pending(bc, &out[(*n_out)++]);
    return STELE_OK;
}

bool blockcutter_deadline(const struct blockcutter *bc, uint64_t *deadline_ms)
{
    if (bc->pending.n == 0)
        return false;
    if (deadline_ms)
        *deadline_ms = bc->first_at_ms + bc->cfg.batch_timeout_ms;
    return true;
}

bool blockcutter_tick(struct blockcutter *bc, uint64_t now_ms, struct blockcutter_batch *out)
{
    uint64_t deadline;
    if (!blockcutter_deadline(bc, &deadline) || now_ms < deadline)
        return false;
    take_pending(bc, out);
    return true;
}

bool blockcutter_cut(struct blockcutter *bc, struct blockcutter_batch *out)
{
    if (bc->pending.n == 0)
        return false;
    take_pending(bc, out);
    return true;
}

size_t blockcutter_pending(const struct blockcutter *bc)
{
    return bc->pending.n;
}
