/*
 * ccrt_run.c — one invocation on one chaincode host (ccrt.h, "Wire" and "Read/write set"):
 * the invoke message with its nonce, the host's state calls served by the simulation
 * (ccrt_sim.c) until its result, and the result checked and copied out. ccrt.c chooses the
 * host (pools, spawning, pauses).
 */
#include "ccrt_int.h"

#include "base/arena.h"
#include "base/status.h"
#include "base/text.h"
#include "crypto/hash.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/chaincode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE    1024 /* octets of a chaincode's message (the shim truncates there) */
#define MAX_EVENT_NAME 128

/* Fills the invoke message from `inv`; the attributes array is malloc'd (free it). */
static int invoke_msg(const struct ccrt_invocation *inv, Stele__CcHostInvoke *m,
                      Stele__CcHostAttr **attrs, Stele__CcHostAttr ***attr_ptrs)
{
    stele__cc_host_invoke__init(m);
    m->function = (char *)(inv->function ? inv->function : "");
    m->args = (ProtobufCBinaryData *)inv->args;
    m->n_args = inv->n_args;
    m->tx_id = (char *)(inv->tx_id ? inv->tx_id : "");
    m->timestamp_ms = inv->timestamp_ms;
    m->creator_id = (char *)(inv->creator_id ? inv->creator_id : "");
    m->creator_org = (char *)(inv->creator_org ? inv->creator_org : "");
    m->creator_role = (char *)(inv->creator_role ? inv->creator_role : "");
    m->creator_certhash.data = (uint8_t *)inv->creator_certhash;
    m->creator_certhash.len = sizeof inv->creator_certhash;
    *attrs = calloc(inv->n_attrs + 1, sizeof **attrs);
    *attr_ptrs = calloc(inv->n_attrs + 1, sizeof **attr_ptrs);
    if (!*attrs || !*attr_ptrs)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < inv->n_attrs; i++) {
        stele__cc_host_attr__init(&(*attrs)[i]);
        (*attrs)[i].key = (char *)(inv->attrs[i].key ? inv->attrs[i].key : "");
        (*attrs)[i].value = (char *)(inv->attrs[i].value ? inv->attrs[i].value : "");
        (*attr_ptrs)[i] = &(*attrs)[i];
    }
    m->attrs = *attr_ptrs;
    m->n_attrs = inv->n_attrs;
    return STELE_OK;
}

/* Checks the host's result and copies it into `out` (arena created here). A result the
 * shim could not have made is a protocol error. */
static int take_result(struct ccrt_sim *sim, const struct ccrt_invocation *inv,
                       const Stele__CcHostResult *res, struct ccrt_result *out, struct ccrt_fail *f)
{
    const char *msg = res->message ? res->message : "";
    const char *ev = res->event_name ? res->event_name : "";
    if (strlen(msg) > MAX_MESSAGE || res->payload.len > STELE_CC_MAX_VALUE ||
        (res->has_event &&
         (!ev[0] || strlen(ev) > MAX_EVENT_NAME || res->event_payload.len > STELE_CC_MAX_VALUE)))
        return ccrt_fail_set(f, STELE_ERR_INTERNAL, "its host sent an oversize result");
    /* the event's name goes into the block as a protobuf string: the invocation fails (the
     * shim refuses such names; a package built before it did may still send one, and its host
     * is kept, as for a key that is not UTF-8) */
    if (res->has_event && !text_utf8_ok(ev, strlen(ev)))
        return ccrt_fail_set(f, STELE_ERR_INVALID, "its event name is not UTF-8");
    struct arena *a = arena_create(0);
    if (!a)
        return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
    out->arena = a;
    out->status = res->status;
    out->message = arena_strdup(a, msg);
    if (res->payload.len) {
        out->payload.data = arena_memdup(a, res->payload.data, res->payload.len);
        out->payload.len = res->payload.len;
    }
    if (!out->message || (res->payload.len && !out->payload.data))
        return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
    if (res->status < 200 || res->status > 299)
        return STELE_OK;
    if (ccrt_sim_finish(sim, a, &out->rwset))
        return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
    if (res->has_event) {
        Stele__ChaincodeEvent *e = arena_alloc(a, sizeof *e);
        if (!e)
            return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
        stele__chaincode_event__init(e);
        e->chaincode = arena_strdup(a, inv->chaincode);
        e->tx_id = arena_strdup(a, inv->tx_id ? inv->tx_id : "");
        e->name = arena_strdup(a, ev);
        e->payload.len = res->event_payload.len;
        e->payload.data = arena_memdup(a, res->event_payload.data, res->event_payload.len);
        if (!e->chaincode || !e->tx_id || !e->name || (e->payload.len && !e->payload.data))
            return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
        out->event = e;
    }
    return STELE_OK;
}

int ccrt_run(const struct ccrt_config *cfg, struct ccrt_host *h, const struct ccrt_invocation *inv,
             struct ccrt_result *out, struct ccrt_fail *f)
{
    struct ccrt_sim_limits lim = {cfg->max_keys, cfg->max_write_bytes};
    struct ccrt_sim *sim = ccrt_sim_create(inv->db, inv->chaincode, &lim);
    Stele__CcHostAttr *attrs = NULL, **attr_ptrs = NULL;
    Stele__CcHostInvoke im;
    Stele__CcPeerToHost to = STELE__CC_PEER_TO_HOST__INIT;
    Stele__CcHostToPeer *from = NULL;
    Stele__CcHostReply reply;
    struct ccrt_wait w;
    int rc;
    if (!sim || invoke_msg(inv, &im, &attrs, &attr_ptrs)) {
        rc = ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    ccrt_sim_set_snapshot(sim, inv->snap);
    im.max_keys = (uint32_t)lim.max_keys; /* at most TX_MAX_RWSET_ITEMS (ccrt_create) */
    im.max_write_bytes = lim.max_write_bytes;
    if (crypto_random(&im.nonce, sizeof im.nonce) != STELE_OK) {
        rc = ccrt_fail_set(f, STELE_ERR_INTERNAL, "no random numbers");
        goto out;
    }
    ccrt_wait_start(&w, cfg->timeout_ms, cfg->memory_limit, false);
    to.msg_case = STELE__CC_PEER_TO_HOST__MSG_INVOKE;
    to.invoke = &im;
    if ((rc = ccrt_host_send(h, &to, &w, f))) {
        if (rc == STELE_ERR_TOO_BIG)
            rc = ccrt_fail_set(f, STELE_ERR_INVALID, "the invocation is too large (%s)", f->msg);
        goto out;
    }
    to.msg_case = STELE__CC_PEER_TO_HOST__MSG_REPLY;
    to.reply = &reply;
    for (;;) {
        if ((rc = ccrt_host_recv(h, &w, &from, f)))
            goto out;
        /* a frame of another invocation: written after an earlier result, or ahead */
        if ((from->msg_case == STELE__CC_HOST_TO_PEER__MSG_RESULT &&
             from->result->nonce != im.nonce) ||
            (from->msg_case == STELE__CC_HOST_TO_PEER__MSG_CALL && from->call->nonce != im.nonce)) {
            ccrt_host_kill(h);
            rc = ccrt_fail_set(f, STELE_ERR_INTERNAL,
                               "its host sent a message of another invocation; it was killed");
            goto out;
        }
        if (from->msg_case == STELE__CC_HOST_TO_PEER__MSG_RESULT)
            break;
        bool has_reply;
        if (from->msg_case != STELE__CC_HOST_TO_PEER__MSG_CALL ||
            ccrt_sim_call(sim, from->call, &reply, &has_reply)) {
            ccrt_host_kill(h);
            rc = ccrt_fail_set(f, STELE_ERR_INTERNAL,
                               "its host sent an unexpected message; it was killed");
            goto out;
        }
        if (has_reply && (rc = ccrt_host_send(h, &to, &w, f))) {
            ccrt_host_kill(h); /* it waits for that reply: not reusable */
            goto out;
        }
        pb_free(&from->base);
        from = NULL;
    }
    /* what it allocated counts even when it answered between two looks of the watchdog (and
     * what it allocates after its result, once it is idle: pause_idle()) */
    if ((rc = ccrt_host_check_memory(h, &w, f)))
        goto out;
    const char *why = NULL;
    if ((rc = ccrt_sim_error(sim, &why))) {
        ccrt_fail_set(f, rc, "%s", why);
        goto out;
    }
    if ((rc = take_result(sim, inv, from->result, out, f)) == STELE_ERR_INTERNAL)
        ccrt_host_kill(h);
out:
    if (from)
        pb_free(&from->base);
    free(attrs);
    free(attr_ptrs);
    ccrt_sim_destroy(sim);
    return rc;
}
