/*
 * pbft_view.c — view changes (pbft_int.h, docs/CONSENSUS.md).
 *
 * With one block in flight, a VIEW-CHANGE carries the sender's last committed block number with
 * that block's commit certificate, and its prepared proof for the next block, if any. From 2f+1
 * of them the new primary computes, deterministically:
 *   min_s  = the highest proven committed block number;
 *   chosen = the prepared proof for block min_s + 1 with the highest view, if any.
 * A block committed anywhere was prepared at f+1 correct orderers, so any 2f+1 VIEW-CHANGEs
 * either prove it committed or hold its prepared proof: it is never lost, and no other block can
 * take its number. NEW-VIEW re-proposes `chosen` in the new view (or nothing, and the new primary
 * cuts a fresh block); every replica recomputes both from the VIEW-CHANGEs in the NEW-VIEW and
 * refuses one that does not match.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

#define LOG       "pbft"
#define RESEND_MS 1000 /* resend our VIEW-CHANGE this often until the view starts */

/* What a checked VIEW-CHANGE says. */
struct vc_info {
    uint64_t view, last_seq;
    bool prepared;
    uint64_t prep_view;
    uint8_t prep_digest[32];
    const Stele__PbftSigned *pre_prepare;  /* the prepared proof's PRE-PREPARE (with block) */
    const ProtobufCBinaryData *last_block; /* block last_seq when carried, else NULL */
};

/* Checks the evidence of a VIEW-CHANGE `msg` (already opened). Returns STELE_OK with *out. */
static int check_vc(struct pbft *b, struct arena *a, const Stele__PbftMessage *msg,
                    struct vc_info *out, const char **why)
{
    const Stele__PbftViewChange *vc = msg->view_change;
    if (msg->type != STELE__PBFT_TYPE__PBFT_VIEW_CHANGE || !vc) {
        *why = "not a VIEW-CHANGE";
        return STELE_ERR_MALFORMED;
    }
    if (vc->n_complaints > b->m.n) {
        *why = "VIEW-CHANGE carries more complaints than there are orderers";
        return STELE_ERR_MALFORMED;
    }
    for (size_t i = 0; i < vc->n_complaints; i++)
        if (vc->complaints[i]->block.len ||
            vc->complaints[i]->message.len + vc->complaints[i]->signature.len >
                PBFT_COMPLAINT_MAX_BYTES) {
            *why = "VIEW-CHANGE carries a complaint larger than a STATUS";
            return STELE_ERR_MALFORMED;
        }
    memset(out, 0, sizeof *out);
    out->view = msg->view;
    out->last_seq = vc->last_seq;
    int rc;
    /* Every VIEW-CHANGE names its last block by hash, block 0 included: the checks below
     * compare that hash with the blocks the message carries. */
    if (vc->last_digest.len != 32) {
        *why = "VIEW-CHANGE's last digest is not 32 octets";
        return STELE_ERR_CONFLICT;
    }
    if (vc->last_seq == 0 && memcmp(vc->last_digest.data, b->genesis_digest, 32) != 0) {
        *why = "VIEW-CHANGE's last block is block 0, but its hash is not our genesis block's";
        return STELE_ERR_CONFLICT;
    }
    if (vc->last_seq > 0 &&
        (rc = pbft_proof_check(&b->m, a, vc->last_proof, vc->last_seq, vc->last_digest.data, why)))
        return STELE_ERR_CONFLICT;
    if (vc->last_block.len) {
        Stele__Block *lb = (Stele__Block *)pb_unpack(&stele__block__descriptor, a,
                                                     vc->last_block.data, vc->last_block.len, 0);
        uint8_t h[32];
        if (!lb || !lb->header || lb->header->number != vc->last_seq ||
            blockhash_header_pb(lb->header, h) != STELE_OK ||
            memcmp(h, vc->last_digest.data, 32) != 0) {
            *why = "VIEW-CHANGE's last block is not the one its certificate names";
            return STELE_ERR_CONFLICT;
        }
        out->last_block = &vc->last_block;
    }
    if (vc->prepared) {
        Stele__PbftMessage *pp;
        Stele__Block *pb = NULL;
        if ((rc = pbft_prepared_check(&b->m, a, vc->prepared, &pp, &pb, why)))
            return rc;
        if (pb->header->previous_hash.len != 32 ||
            memcmp(pb->header->previous_hash.data, vc->last_digest.data, 32) != 0) {
            *why = "VIEW-CHANGE's prepared block does not follow its last committed block";
            return STELE_ERR_CONFLICT;
        }
        if (pp->seq != vc->last_seq + 1 || pp->view >= msg->view) {
            *why = "VIEW-CHANGE's prepared proof is not for the next block of an earlier view";
            return STELE_ERR_CONFLICT;
        }
        out->prepared = true;
        out->prep_view = pp->view;
        memcpy(out->prep_digest, pp->digest.data, 32);
        out->pre_prepare = vc->prepared->pre_prepare;
    }
    return STELE_OK;
}

/* The NEW-VIEW decision over `n` checked VIEW-CHANGEs: min_s, and the index of the chosen
 * prepared proof in v (or -1). */
static int decide(const struct vc_info *v, size_t n, uint64_t *min_s)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].last_seq > m)
            m = v[i].last_seq;
    int chosen = -1;
    for (size_t i = 0; i < n; i++)
        if (v[i].prepared && v[i].last_seq == m &&
            (chosen < 0 || v[i].prep_view > v[(size_t)chosen].prep_view))
            chosen = (int)i;
    *min_s = m;
    return chosen;
}

/* Signs our VIEW-CHANGE for b->view into my_vc, persists the state holding it and only then
 * sends it and counts it. When persisting fails nothing leaves and my_vc stays empty, so that
 * nothing resends it either: pbft_view_tick() tries again. */
static void send_view_change(struct pbft *b)
{
    b->vc_resend_at = pbft_now() + RESEND_MS;
    buf_clear(&b->my_vc);
    struct arena *a = arena_create(0);
    if (!a)
        return;
    Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT;
    vc.last_seq = b->last_exec;
    vc.last_digest = (ProtobufCBinaryData){32, b->last_digest};
    if (b->last_exec > 0)
        vc.last_proof = (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a,
                                                      b->last_proof.data, b->last_proof.len, 0);
    /* Our best prepared proof for the next block, whatever view it was made in (a view change
     * that failed must not make us forget it). */
    if (b->best_prepared.len && b->best_seq == b->last_exec + 1)
        vc.prepared = (Stele__PbftPrepared *)pb_unpack(
            &stele__pbft_prepared__descriptor, a, b->best_prepared.data, b->best_prepared.len, 0);
    /* And our last block itself: we may be the only one holding it. */
    Stele__Block *last = NULL;
    if (b->last_exec > 0 && b->cb.read_block(b->cb.arg, b->last_exec, a, &last) == STELE_OK) {
        size_t len = protobuf_c_message_get_packed_size(&last->base);
        uint8_t *bytes = arena_alloc(a, len ? len : 1);
        if (bytes) {
            protobuf_c_message_pack(&last->base, bytes);
            vc.last_block = (ProtobufCBinaryData){len, bytes};
        }
    }
    /* The complaints that made us leave the last view we ran: they may have been withdrawn
     * before the others counted them (pbft_take_complaints). */
    Stele__PbftSigned **proof =
        b->n_left_proof ? arena_calloc(a, b->n_left_proof, sizeof *proof) : NULL;
    for (size_t i = 0; proof && i < b->n_left_proof; i++)
        if ((proof[vc.n_complaints] =
                 (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                b->left_proof[i].data, b->left_proof[i].len, 0)))
            vc.n_complaints++;
    vc.complaints = proof;
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
    msg.view = b->view;
    msg.view_change = &vc;
    /* Persist first: a restart must not forget that we left the old view. */
    Stele__PbftSigned own;
    msg.channel_id = b->m.channel_id;
    msg.sender = b->m.ids[b->me];
    if (pbft_sign(&msg, b->p.signer, a, &own) == STELE_OK &&
        pb_pack_buf(&own.base, &b->my_vc) == STELE_OK && pbft_persist(b) == STELE_OK) {
        pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_VIEW_CHANGE, &b->my_vc);
        arena_destroy(a);
        pbft_handle_bytes(b, b->my_vc.data, b->my_vc.len); /* count our own */
        return;
    }
    buf_clear(&b->my_vc); /* not persisted: it must not leave later either */
    arena_destroy(a);
}

void pbft_start_view_change(struct pbft *b, uint64_t view, const char *reason)
{
    if (view <= b->view)
        return;
    log_warn(LOG, "leaving view %llu for view %llu: %s", (unsigned long long)b->view,
             (unsigned long long)view, reason);
    if (b->active)
        pbft_keep_complaints(b);
    b->view = view;
    b->view_changes++;
    b->active = false;
    memset(b->peer_in_view, 0, sizeof b->peer_in_view);
    pbft_publish(b);
    b->vc_deadline = 0;
    send_view_change(b);
}

/* Packs the VIEW-CHANGEs held for `view` into `out` (at least a quorum, or returns 0). */
static size_t collect(struct pbft *b, uint64_t view, struct arena *a, Stele__PbftSigned ***out)
{
    size_t n = 0;
    Stele__PbftSigned **v = arena_calloc(a, b->m.n, sizeof *v);
    for (size_t i = 0; v && i < b->m.n; i++)
        if (b->vcs[i].have && b->vcs[i].view == view &&
            (v[n] =
                 (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                b->vcs[i].signed_.data, b->vcs[i].signed_.len, 0)))
            n++;
    *out = v;
    return n >= b->m.quorum ? n : 0;
}

/* The block min_s carried by one of the VIEW-CHANGEs, or NULL. */
static const ProtobufCBinaryData *carried_block(const struct vc_info *v, size_t n, uint64_t min_s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].last_seq == min_s && v[i].last_block)
            return v[i].last_block;
    return NULL;
}

/* Executes pending_block when it is the next block; forgets it once we are past it. */
static void take_pending_block(struct pbft *b)
{
    if (!b->pending_block.len)
        return;
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        a ? (Stele__Block *)pb_unpack(&stele__block__descriptor, a, b->pending_block.data,
                                      b->pending_block.len, 0)
          : NULL;
    uint8_t h[32];
    const char *why = "";
    if (!blk || !blk->header || blk->header->number <= b->last_exec) {
        buf_clear(&b->pending_block);
    } else if (blk->header->number == b->last_exec + 1) {
        if (pbft_block_check(&b->m, a, blk, h, &why) == STELE_OK &&
            pbft_execute_certified(b, blk, h) == STELE_OK)
            log_info(LOG, "block %llu taken from the NEW-VIEW with its certificate",
                     (unsigned long long)blk->header->number);
        else
            log_warn(LOG, "block %llu of the NEW-VIEW does not apply: %s",
                     (unsigned long long)blk->header->number, why);
        buf_clear(&b->pending_block);
    }
    arena_destroy(a);
}

void pbft_slot_take_own(struct pbft *b, const Stele__PbftSigned *o, const Stele__PbftMessage *msg)
{
    struct pbft_slot *s = &b->slot;
    s->have_pp = true;
    s->pp_view = msg->view;
    memcpy(s->digest, msg->digest.data, 32);
    s->pp_at_ms = pbft_now();
    pbft_pack_signed(o, &s->pp_signed);
    buf_clear(&s->block);
    buf_append(&s->block, o->block.data, o->block.len);
}

/* Enters view b->view (NEW-VIEW accepted, or made and not sent yet): `o` is its PRE-PREPARE, or
 * NULL. The new primary's own re-proposal for the next block becomes the slot's PRE-PREPARE
 * here, so that the state persisted before its NEW-VIEW leaves holds it: restarted, it proposes
 * that block again, never another. Returns what pbft_persist() returned; install_finish() does
 * the rest. */
static int install(struct pbft *b, uint64_t min_s, const Stele__PbftSigned *o,
                   const ProtobufCBinaryData *last_block)
{
    b->active = true;
    pbft_publish(b);
    b->view_floor = min_s;
    buf_clear(&b->pending_block);
    if (last_block && b->last_exec < min_s)
        buf_append(&b->pending_block, last_block->data, last_block->len);
    b->vc_deadline = 0;
    b->view_started = pbft_now();
    buf_clear(&b->my_vc);
    buf_clear(&b->pending_o);
    for (size_t i = 0; i < b->m.n; i++)
        if (b->vcs[i].have && b->vcs[i].view <= b->view) {
            b->vcs[i].have = false;
            buf_clear(&b->vcs[i].signed_);
        }
    pbft_take_held_complaints(b); /* install_finish() counts them */
    pbft_slot_reset(b);
    pbft_ahead_clear(b);
    struct arena *a = o ? arena_create(0) : NULL;
    Stele__PbftMessage *msg;
    if (a && pbft_primary(&b->m, b->view) == b->me &&
        pbft_open_msg(b, a, o, &msg, NULL, NULL) == STELE_OK && msg->seq == b->last_exec + 1)
        pbft_slot_take_own(b, o, msg);
    else if (o && pb_pack_buf(&o->base, &b->pending_o) != STELE_OK)
        buf_clear(&b->pending_o);
    arena_destroy(a);
    int rc = pbft_persist(b);
    log_info(LOG, "view %llu started: primary %s, last block %llu", (unsigned long long)b->view,
             b->m.ids[pbft_primary(&b->m, b->view)], (unsigned long long)b->last_exec);
    return rc;
}

/* After install(): the block carried by the VIEW-CHANGEs, state transfer up to min_s or the
 * re-proposal, and a fresh proposal when nothing was re-proposed. */
static void install_finish(struct pbft *b, uint64_t min_s)
{
    take_pending_block(b);
    if (b->last_exec < min_s)
        pbft_want_sync(b, min_s);
    else
        pbft_after_sync(b);
    pbft_maybe_propose(b);
    pbft_count_complaints(b); /* VIEW-CHANGEs for later views that arrived meanwhile */
}

void pbft_after_sync(struct pbft *b)
{
    take_pending_block(b);
    if (!b->pending_o.len || !b->active)
        return;
    struct arena *a = arena_create(0);
    Stele__PbftSigned *o =
        a ? (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, b->pending_o.data,
                                           b->pending_o.len, 0)
          : NULL;
    Stele__PbftMessage *msg;
    size_t from;
    if (!o || pbft_open_msg(b, a, o, &msg, &from, NULL) != STELE_OK || msg->view != b->view) {
        buf_clear(&b->pending_o);
        arena_destroy(a);
        return;
    }
    if (msg->seq > b->last_exec + 1) {
        arena_destroy(a);
        return; /* still behind: state transfer calls again */
    }
    buf_clear(&b->pending_o);
    if (msg->seq == b->last_exec + 1) {
        if (b->me == from) {
            /* We are the new primary: our re-proposal is the slot's PRE-PREPARE. Our NEW-VIEW,
             * persisted before it left, holds it too (pbft_restore() takes it from there). */
            pbft_slot_take_own(b, o, msg);
            pbft_persist(b);
        } else {
            /* The NEW-VIEW is signed as a whole, the block inside included: whatever is wrong
             * with the block is its primary's fault. */
            pbft_handle(b, o, msg, from, pbft_check_proposal(b, o, msg, NULL) == PBFT_BLOCK_OK);
        }
    } else if (msg->seq == b->last_exec && memcmp(msg->digest.data, b->last_digest, 32) == 0) {
        /* We executed it already (F-5): help the others re-agree on it, without executing it
         * again. */
        Stele__PbftMessage v = STELE__PBFT_MESSAGE__INIT;
        v.view = msg->view;
        v.seq = msg->seq;
        v.digest = msg->digest;
        if (b->me != from) {
            v.type = STELE__PBFT_TYPE__PBFT_PREPARE;
            pbft_broadcast(b, &v, NULL, NULL);
        }
        v.type = STELE__PBFT_TYPE__PBFT_COMMIT;
        pbft_broadcast(b, &v, NULL, NULL);
    }
    arena_destroy(a);
}

/* As the primary of b->view, sends NEW-VIEW once a quorum of VIEW-CHANGEs for it is held. */
static void try_new_view(struct pbft *b)
{
    if (b->active || pbft_primary(&b->m, b->view) != b->me || b->fault == PBFT_FAULT_SILENT)
        return;
    struct arena *a = arena_create(0);
    Stele__PbftSigned **vcs;
    size_t n = a ? collect(b, b->view, a, &vcs) : 0;
    struct vc_info *info = n ? arena_calloc(a, n, sizeof *info) : NULL;
    struct buf kept, block;
    buf_init(&kept);
    buf_init(&block);
    if (!info)
        goto out;
    for (size_t i = 0; i < n; i++) {
        Stele__PbftMessage *m;
        const char *why = "";
        if (pbft_open_msg(b, a, vcs[i], &m, NULL, &why) || check_vc(b, a, m, &info[i], &why)) {
            log_error(LOG, "a stored VIEW-CHANGE no longer checks: %s", why);
            goto out;
        }
    }
    uint64_t min_s;
    int chosen = decide(info, n, &min_s);
    Stele__PbftNewView nv = STELE__PBFT_NEW_VIEW__INIT;
    nv.view_changes = vcs;
    nv.n_view_changes = n;
    Stele__PbftSigned o;
    if (chosen >= 0) {
        Stele__PbftMessage pp = STELE__PBFT_MESSAGE__INIT;
        pp.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
        pp.view = b->view;
        pp.seq = min_s + 1;
        pp.digest = (ProtobufCBinaryData){32, info[chosen].prep_digest};
        pp.channel_id = b->m.channel_id;
        pp.sender = b->m.ids[b->me];
        /* The block re-encoded as kept here: only what its header hash covers is the proof's. */
        if (pbft_sign(&pp, b->p.signer, a, &o) != STELE_OK ||
            pbft_pack_proposal(b, info[chosen].pre_prepare, &kept, &block) != STELE_OK)
            goto out;
        o.block = (ProtobufCBinaryData){block.len, block.data};
        nv.pre_prepare = &o;
    }
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_NEW_VIEW;
    msg.view = b->view;
    msg.new_view = &nv;
    /* Signed, entered and persisted (with the re-proposal as our slot) before it leaves: a
     * restarted primary finds it and proposes nothing else for that block in this view. */
    if (pbft_sign_into(b, &msg, NULL, &b->new_view) != STELE_OK) {
        buf_clear(&b->new_view);
        goto out;
    }
    if (install(b, min_s, chosen >= 0 ? &o : NULL, carried_block(info, n, min_s)) != STELE_OK) {
        /* Not sent: the backups' NEW-VIEW timer moves them to the next view. */
        log_error(LOG, "NEW-VIEW for view %llu not sent: the state could not be persisted",
                  (unsigned long long)b->view);
        buf_clear(&b->new_view);
        goto out;
    }
    pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_NEW_VIEW, &b->new_view);
    log_info(LOG, "sent NEW-VIEW for view %llu (%zu VIEW-CHANGEs, last block %llu%s)",
             (unsigned long long)b->view, n, (unsigned long long)min_s,
             chosen >= 0 ? ", re-proposing the prepared next block" : "");
    install_finish(b, min_s);
out:
    buf_release(&kept);
    buf_release(&block);
    arena_destroy(a);
}

void pbft_keep_prepared(struct pbft *b)
{
    struct pbft_slot *s = &b->slot;
    if (!s->prepared || !s->have_pp ||
        (b->best_prepared.len &&
         (s->seq < b->best_seq || (s->seq == b->best_seq && s->pp_view < b->best_view))))
        return;
    struct arena *a = arena_create(0);
    Stele__PbftPrepared prep = STELE__PBFT_PREPARED__INIT;
    prep.pre_prepare = a ? (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                          s->pp_signed.data, s->pp_signed.len, 0)
                         : NULL;
    prep.prepares = a ? arena_calloc(a, b->m.n, sizeof *prep.prepares) : NULL;
    size_t primary = pbft_primary(&b->m, s->pp_view);
    for (size_t i = 0; prep.prepares && i < b->m.n; i++) {
        const struct pbft_vote *v = &s->prepares[i];
        if (i != primary && v->have && v->view == s->pp_view &&
            memcmp(v->digest, s->digest, 32) == 0 &&
            (prep.prepares[prep.n_prepares] = (Stele__PbftSigned *)pb_unpack(
                 &stele__pbft_signed__descriptor, a, v->signed_.data, v->signed_.len, 0)))
            prep.n_prepares++;
    }
    if (prep.pre_prepare && prep.prepares) {
        buf_clear(&b->best_prepared);
        if (pb_pack_buf(&prep.base, &b->best_prepared) == STELE_OK) {
            b->best_seq = s->seq;
            b->best_view = s->pp_view;
        } else {
            buf_clear(&b->best_prepared);
        }
    }
    arena_destroy(a);
}

void pbft_on_view_change(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                         size_t from)
{
    if (msg->view <= b->view && (b->active || msg->view < b->view)) {
        /* A late or lagging sender: show it the NEW-VIEW of the view we are in. */
        if (b->active)
            pbft_show_new_view(b, from);
        return;
    }
    if (b->vcs[from].have && b->vcs[from].view >= msg->view)
        return;
    struct arena *a = arena_create(0);
    struct vc_info info;
    const char *why = "";
    if (!a || check_vc(b, a, msg, &info, &why) != STELE_OK) {
        log_warn(LOG, "refused a VIEW-CHANGE from %s: %s", b->m.ids[from], why);
        arena_destroy(a);
        return;
    }
    arena_destroy(a);
    struct pbft_vc *v = &b->vcs[from];
    v->have = true;
    v->view = info.view;
    v->last_seq = info.last_seq;
    v->prepared = info.prepared;
    v->prep_view = info.prep_view;
    memcpy(v->prep_digest, info.prep_digest, 32);
    buf_clear(&v->signed_);
    pb_pack_buf(&s->base, &v->signed_);
    if (b->active && msg->view > b->view)
        pbft_take_complaints(b, msg->view_change);
    /* f+1 orderers want a later view: at least one correct one does, so join the smallest view
     * that f+1 of them reached. */
    uint64_t views[PBFT_MAX_NODES];
    size_t k = 0;
    for (size_t i = 0; i < b->m.n; i++)
        if (i != b->me && b->vcs[i].have && b->vcs[i].view > b->view)
            views[k++] = b->vcs[i].view;
    if (k >= b->m.f + 1) {
        for (size_t i = 1; i < k; i++) /* sort descending */
            for (size_t j = i; j > 0 && views[j] > views[j - 1]; j--) {
                uint64_t t = views[j];
                views[j] = views[j - 1];
                views[j - 1] = t;
            }
        pbft_start_view_change(b, views[b->m.f], "f+1 orderers asked for a view change");
    }
    pbft_count_complaints(b); /* one that left our view counts as complaining about it */
    try_new_view(b);
}

void pbft_on_new_view(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                      size_t from)
{
    uint64_t w = msg->view;
    if (w < b->view || (w == b->view && b->active) || from != pbft_primary(&b->m, w) ||
        !msg->new_view)
        return;
    const Stele__PbftNewView *nv = msg->new_view;
    if (nv->n_view_changes > b->m.n) {
        log_warn(LOG, "refused NEW-VIEW %llu from %s: more VIEW-CHANGEs than orderers",
                 (unsigned long long)w, b->m.ids[from]);
        return;
    }
    struct arena *a = arena_create(0);
    struct vc_info *info = a ? arena_calloc(a, nv->n_view_changes + 1, sizeof *info) : NULL;
    bool seen[PBFT_MAX_NODES] = {false};
    size_t n = 0;
    const char *why = "too few VIEW-CHANGEs";
    if (!info)
        goto out;
    for (size_t i = 0; i < nv->n_view_changes; i++) {
        Stele__PbftMessage *m;
        size_t who;
        if (pbft_open_msg(b, a, nv->view_changes[i], &m, &who, &why) ||
            check_vc(b, a, m, &info[n], &why))
            goto refuse;
        if (m->view != w || seen[who]) {
            why = "a VIEW-CHANGE is for another view or repeats a sender";
            goto refuse;
        }
        seen[who] = true;
        n++;
    }
    if (n < b->m.quorum)
        goto refuse;
    uint64_t min_s;
    int chosen = decide(info, n, &min_s);
    const Stele__PbftSigned *o = nv->pre_prepare;
    if (chosen >= 0) {
        Stele__PbftMessage *pp;
        size_t who;
        uint8_t h[32];
        Stele__Block *blk = NULL;
        if (!o || pbft_open_msg(b, a, o, &pp, &who, &why) ||
            pp->type != STELE__PBFT_TYPE__PBFT_PRE_PREPARE || pp->view != w || who != from ||
            pp->seq != min_s + 1 || pp->digest.len != 32 ||
            memcmp(pp->digest.data, info[chosen].prep_digest, 32) != 0 ||
            !(blk = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, o->block.data,
                                              o->block.len, 0)) ||
            !blk->header || blockhash_header_pb(blk->header, h) != STELE_OK ||
            memcmp(h, pp->digest.data, 32) != 0) {
            why = "its PRE-PREPARE is not the one the VIEW-CHANGEs imply";
            goto refuse;
        }
    } else if (o && o->message.len) {
        why = "it carries a PRE-PREPARE that the VIEW-CHANGEs do not imply";
        goto refuse;
    }
    b->view_changes += w > b->view; /* a NEW-VIEW of a later view than the one we moved to */
    b->view = w;
    buf_clear(&b->new_view);
    pb_pack_buf(&s->base, &b->new_view);
    install(b, min_s, chosen >= 0 ? o : NULL, carried_block(info, n, min_s));
    install_finish(b, min_s);
    arena_destroy(a);
    return;
refuse:
    log_warn(LOG, "refused NEW-VIEW %llu from %s: %s", (unsigned long long)w, b->m.ids[from], why);
    /* Only the NEW-VIEW we are waiting for, from its primary, proves that primary faulty; any
     * other invalid one is ignored (one orderer must not move the others out of a view). */
    if (w == b->view && !b->active)
        pbft_start_view_change(b, w + 1, "the NEW-VIEW was invalid");
out:
    arena_destroy(a);
}

void pbft_view_tick(struct pbft *b, uint64_t now)
{
    if (b->active)
        return;
    size_t n = 0;
    for (size_t i = 0; i < b->m.n; i++)
        n += b->vcs[i].have && b->vcs[i].view == b->view;
    if (n >= b->m.quorum && b->vc_deadline == 0)
        b->vc_deadline = now + b->vc_timeout; /* the NEW-VIEW timer runs from a quorum on */
    size_t in_view = 0;
    for (size_t i = 0; i < b->m.n; i++)
        in_view += i != b->me && b->peer_in_view[i];
    if (b->vc_deadline && now >= b->vc_deadline && in_view >= b->m.f + 1) {
        /* f+1 orderers said, since we began waiting, that they run this view: at least one
         * correct one holds its NEW-VIEW and hands it over on our next VIEW-CHANGE or STATUS.
         * Leaving for the next view now would strand us there alone (the others never
         * follow one orderer, and we never come back to a lower view): a restarted orderer
         * given the others' stale VIEW-CHANGEs before their NEW-VIEW did just that. */
        log_info(LOG, "view %llu: %zu orderers run it, still waiting for its NEW-VIEW",
                 (unsigned long long)b->view, in_view);
        b->vc_deadline = now + b->vc_timeout;
    }
    if (b->vc_deadline && now >= b->vc_deadline) {
        uint64_t next = b->vc_timeout * 2;
        b->vc_timeout = next > b->vc_timeout_max ? b->vc_timeout_max : next;
        pbft_start_view_change(b, b->view + 1, "no valid NEW-VIEW in time");
        return;
    }
    if (!b->my_vc.len && now >= b->vc_resend_at) {
        send_view_change(b); /* persisting it failed: try again */
    } else if (b->my_vc.len && now >= b->vc_resend_at) {
        for (size_t i = 0; i < b->m.n; i++)
            if (i != b->me && b->fault != PBFT_FAULT_SILENT)
                pbft_link_send(b, i, b->my_vc.data, b->my_vc.len);
        b->vc_resend_at = now + RESEND_MS;
    }

    try_new_view(b);
}
