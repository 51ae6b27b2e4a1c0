/* consensus.c — the registry of consensus plug-ins and the calls through their ops. */
#include "orderer/consensus/consensus.h"

#include "base/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct consensus_ops solo_consensus;
extern const struct consensus_ops pbft_consensus;

/* Every plug-in this orderer is built with. */
static const struct consensus_ops *const registry[] = {
    &solo_consensus,
    &pbft_consensus,
};

struct consensus {
    const struct consensus_ops *ops; /* the plug-in */
    void *state;                     /* its state */
    bool stopped;                    /* stop was called */
};

const struct consensus_ops *consensus_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

void consensus_names(char *out, size_t out_len)
{
    size_t used = 0;
    if (out_len)
        out[0] = 0;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0] && used < out_len; i++) {
        int n = snprintf(out + used, out_len - used, "%s%s", i ? ", " : "", registry[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int consensus_create(const char *name, const struct consensus_params *p,
                     const struct consensus_callbacks *cb, struct consensus **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    const struct consensus_ops *ops = consensus_find(name);
    if (!ops) {
        char names[128];
        consensus_names(names, sizeof names);
        if (errmsg && asprintf(errmsg, "unknown consensus type \"%s\" (built in: %s)",
                               name ? name : "", names) < 0)
            *errmsg = NULL;
        return STELE_ERR_CONFIG;
    }
    struct consensus *c = calloc(1, sizeof *c);
    if (!c)
        return STELE_ERR_NOMEM;
    c->ops = ops;
    int rc = ops->create(p, cb, &c->state, errmsg);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return STELE_OK;
}

int consensus_start(struct consensus *c)
{
    return c->ops->start(c->state);
}

int consensus_order(struct consensus *c, const uint8_t *env, size_t len, const char *tx_id,
                    const uint8_t hash[32])
{
    return c->ops->order(c->state, env, len, tx_id, hash);
}

bool consensus_order_never_waits(const struct consensus *c)
{
    return c->ops->order_never_waits;
}

void consensus_stop(struct consensus *c)
{
    if (c && !c->stopped) {
        c->stopped = true;
        c->ops->stop(c->state);
    }
}

void consensus_destroy(struct consensus *c)
{
    if (!c)
        return;
    consensus_stop(c);
    c->ops->destroy(c->state);
    free(c);
}

const char *consensus_name(const struct consensus *c)
{
    return c->ops->name;
}

int consensus_attach(struct consensus *c, struct rpc_server *server)
{
    return c->ops->attach ? c->ops->attach(c->state, server) : STELE_OK;
}

void consensus_status(struct consensus *c, struct consensus_status *st)
{
    *st = (struct consensus_status){.role = c->ops->name};
    if (c->ops->status)
        c->ops->status(c->state, st);
}
