/*
 * endorser_cc.c — running a user chaincode for the endorser through the chaincode runtime
 * (ccrt.h): the invocation from the verified proposal, the result copied into the endorser's
 * arena.
 */
#include "ccrt.h"
#include "peer_int.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/status.h"
#include "base/text.h"
#include "pb/pb.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Copies `m` (a `desc` message) into `a`. */
static ProtobufCMessage *copy_msg(struct arena *a, const ProtobufCMessage *m,
                                  const ProtobufCMessageDescriptor *desc)
{
    size_t len;
    uint8_t *bytes = pb_pack(m, &len);
    ProtobufCMessage *c = bytes ? pb_unpack(desc, a, bytes, len, 0) : NULL;
    free(bytes);
    return c;
}

/* `msg` as UTF-8 in `a`, each octet that starts no well-formed sequence replaced by U+FFFD.
 * The message goes to the client as a protobuf string, which clients in other languages refuse
 * to decode (the whole ProposalResponse with it) when it is not UTF-8; and a chaincode may
 * write any octets, or have a character cut by the shim's 1024-octet truncation. The same
 * message gives the same text on every endorser. NULL when out of memory. */
static char *utf8_text(struct arena *a, const char *msg)
{
    const unsigned char *s = (const unsigned char *)msg;
    size_t n = strlen(msg);
    char *out = arena_alloc(a, 3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = text_utf8_len(s + i, n - i);
        if (len) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = 0;
    return out;
}

/* Which package each chaincode last ran from. When an upgrade makes a chaincode run from
 * another package, the old package's hosts are stopped. */
struct cc_current {
    struct cc_current *next;
    char *name;
    char *so_path;
};

static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;

static void note_current(struct peer *p, const char *name, const char *so_path)
{
    char *old = NULL;
    pthread_mutex_lock(&current_mu);
    struct cc_current *c = p->cc_current;
    while (c && strcmp(c->name, name) != 0)
        c = c->next;
    if (!c && (c = calloc(1, sizeof *c))) {
        if ((c->name = strdup(name))) {
            c->next = p->cc_current;
            p->cc_current = c;
        } else {
            free(c);
            c = NULL;
        }
    }
    if (c && (!c->so_path || strcmp(c->so_path, so_path) != 0)) {
        char *dup = strdup(so_path);
        if (dup) {
            old = c->so_path;
            c->so_path = dup;
        }
    }
    pthread_mutex_unlock(&current_mu);
    if (old) {
        ccrt_evict(p->ccrt, old);
        free(old);
    }
}

void peer_cc_current_free(struct peer *p)
{
    while (p->cc_current) {
        struct cc_current *c = p->cc_current;
        p->cc_current = c->next;
        free(c->name);
        free(c->so_path);
        free(c);
    }
}

int peer_run_chaincode(struct peer *p, struct arena *a, const struct cc_call *c,
                       struct cc_outcome *o, char **errmsg)
{
    if (!p->ccrt)
        return stele_errf(errmsg, STELE_ERR_INTERNAL, "no chaincode runtime");
    note_current(p, c->chaincode, c->so_path);
    const struct identity *id = c->creator;
    struct ccrt_attr *attrs = id->n_attrs ? arena_calloc(a, id->n_attrs, sizeof *attrs) : NULL;
    if (id->n_attrs && !attrs)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < id->n_attrs; i++)
        attrs[i] = (struct ccrt_attr){id->attrs[i].key, id->attrs[i].value};
    struct ccrt_invocation inv = {.chaincode = c->chaincode,
                                  .so_path = c->so_path,
                                  .package_name = c->chaincode, /* the definition's name */
                                  .function = c->inv->function,
                                  .args = c->inv->args,
                                  .n_args = c->inv->n_args,
                                  .tx_id = c->tx_id,
                                  .timestamp_ms = c->timestamp_ms,
                                  .creator_id = id->id,
                                  .creator_org = id->org,
                                  .creator_role = id->role,
                                  .attrs = attrs,
                                  .n_attrs = id->n_attrs,
                                  .db = kvledger_state(p->ledger),
                                  .snap = c->snap};
    memcpy(inv.creator_certhash, id->certhash, 32);
    struct ccrt_result r;
    int rc = ccrt_invoke(p->ccrt, &inv, &r, errmsg);
    if (rc)
        return rc;
    o->status = r.status;
    o->message = utf8_text(a, r.message ? r.message : "");
    o->payload.len = r.payload.len;
    o->payload.data =
        r.payload.len ? arena_memdup(a, r.payload.data, r.payload.len) : arena_alloc(a, 1);
    o->rwset = r.rwset
                   ? (Stele__TxRwSet *)copy_msg(a, &r.rwset->base, &stele__tx_rw_set__descriptor)
                   : NULL;
    o->event = r.event ? (Stele__ChaincodeEvent *)copy_msg(a, &r.event->base,
                                                           &stele__chaincode_event__descriptor)
                       : NULL;
    bool lost = !o->message || !o->payload.data || (r.rwset && !o->rwset) || (r.event && !o->event);
    ccrt_result_release(&r);
    return lost ? STELE_ERR_NOMEM : STELE_OK;
}

int peer_ccrt_create(struct peer *p, char **errmsg)
{
    if (!ccrt_kernel_has_landlock())
        log_warn("peer",
                 p->cfg->chaincode.allow_without_landlock
                     ? "this kernel has no Landlock (Linux 5.13 or later): chaincode runs anyway "
                       "(chaincode.allow_without_landlock), and its code may read any file this "
                       "peer can while it loads"
                     : "this kernel has no Landlock (Linux 5.13 or later): chaincode will not "
                       "run, since its code could read this peer's files while it loads "
                       "(chaincode.allow_without_landlock: true runs it anyway)");
    struct ccrt_config cc = {.pool_size = (unsigned)p->cfg->chaincode.pool,
                             .timeout_ms = (unsigned)p->cfg->chaincode.timeout_ms,
                             .memory_limit = (size_t)p->cfg->chaincode.memory,
                             .allow_without_landlock = p->cfg->chaincode.allow_without_landlock};
    return ccrt_create(&cc, &p->ccrt, errmsg);
}

void peer_ccrt_destroy(struct peer *p)
{
    ccrt_destroy(p->ccrt);
    p->ccrt = NULL;
    peer_cc_current_free(p);
}
