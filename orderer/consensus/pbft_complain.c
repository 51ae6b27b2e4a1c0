/*
 * pbft_complain.c — complaints (docs/CONSENSUS.md, "View change"): a backup that suspects the
 * primary complains in its STATUS and keeps voting; f+1 complaints about the view a replica
 * runs make it complain too, a quorum makes it leave. And the proof a backup shows the others
 * when the primary signed two blocks for one number or one it refuses.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"

#include <string.h>

#define LOG "pbft"

/* Sends `data` to every orderer but us and the primary of our view. */
void pbft_send_backups(struct pbft *b, const struct buf *data)
{
    size_t primary = pbft_primary(&b->m, b->view);
    for (size_t i = 0; i < b->m.n; i++)
        if (i != b->me && i != primary)
            pbft_link_send(b, i, data->data, data->len);
}

/* The primary signed a PRE-PREPARE `s` for the slot that we refuse (`reason`, a literal): we
 * complain, and show the other backups `s` and the one we hold, if any, once per slot. The
 * primary's signature makes them proof: a correct backup that sees them refuses them too and
 * complains, so a primary that misbehaves this way towards one backup only is replaced. */
void pbft_blame_primary(struct pbft *b, const Stele__PbftSigned *s, const char *reason)
{
    struct pbft_slot *sl = &b->slot;
    if (!sl->blamed) {
        sl->blamed = true;
        struct buf w;
        buf_init(&w);
        if (pbft_pack_signed(s, &w) == STELE_OK)
            pbft_send_backups(b, &w);
        buf_release(&w);
        if (sl->have_pp)
            pbft_send_backups(b, &sl->pp_signed);
    }
    pbft_complain(b, reason, true);
}

/* A PRE-PREPARE of our view's primary for block `seq` that we executed already (a relay, or a
 * late copy): another digest than the block we executed is equivocation, which the others may
 * not have seen (they executed that block too). Shown to the other backups once per block. */
void pbft_on_late_pre_prepare(struct pbft *b, const Stele__PbftSigned *s,
                              const Stele__PbftMessage *msg, size_t from)
{
    if (from != pbft_primary(&b->m, b->view) || msg->seq != b->last_exec ||
        msg->seq <= b->view_floor || msg->digest.len != 32 ||
        memcmp(msg->digest.data, b->last_digest, 32) == 0)
        return;
    if (b->blamed_exec != b->last_exec) {
        b->blamed_exec = b->last_exec;
        struct buf w;
        buf_init(&w);
        if (pbft_pack_signed(s, &w) == STELE_OK)
            pbft_send_backups(b, &w);
        buf_release(&w);
    }
    pbft_complain(b, "the primary signed two blocks for one sequence number", true);
}

bool pbft_complaining(const struct pbft *b)
{
    return b->active && b->complaining && b->complained_view == b->view;
}

void pbft_complain(struct pbft *b, const char *reason, bool proven)
{
    if (!b->active)
        return;
    if (pbft_complaining(b)) {
        b->complaint_proven |= proven;
        return;
    }
    log_warn(LOG, "complaining about view %llu: %s (the view changes once a quorum complains)",
             (unsigned long long)b->view, reason);
    b->complaining = true;
    b->complaint_proven = proven;
    b->complained_view = b->view;
    b->complained_exec = b->last_exec;
    pbft_pool_unforward(b->pool);
    pbft_send_status(b);
    pbft_count_complaints(b);
}

void pbft_withdraw_complaint(struct pbft *b)
{
    if (!b->complaining || (b->complaint_proven && b->complained_view == b->view) ||
        (b->complained_view == b->view && b->last_exec <= b->complained_exec))
        return; /* nothing withdrawn; proven; or no block executed since it was made */
    b->complaining = false;
    if (b->complained_view != b->view)
        return; /* a view since: our STATUS says that one */
    log_info(LOG, "complaint about view %llu withdrawn: blocks are ordered again",
             (unsigned long long)b->view);
    pbft_send_status(b);
}

void pbft_keep_complaints(struct pbft *b)
{
    b->n_left_proof = 0;
    uint64_t now = pbft_now();
    for (size_t i = 0; i < b->m.n; i++) { /* those pbft_count_complaints() counts */
        bool holds = i == b->me ? pbft_complaining(b)
                                : b->complaint[i] == b->view + 1 &&
                                      now - b->complaint_at[i] <= PBFT_COMPLAINT_FRESH_MS;
        if (holds && b->complaint_signed[i].len) {
            struct buf *p = &b->left_proof[b->n_left_proof];
            buf_clear(p);
            if (buf_append(p, b->complaint_signed[i].data, b->complaint_signed[i].len) == STELE_OK)
                b->n_left_proof++;
        }
    }
}

int pbft_keep_status(const Stele__PbftSigned *s, struct buf *out)
{
    buf_clear(out);
    if (s->message.len + s->signature.len > PBFT_COMPLAINT_MAX_BYTES)
        return STELE_ERR_LIMIT;
    Stele__PbftSigned k = STELE__PBFT_SIGNED__INIT; /* no block, no unknown fields */
    k.message = s->message;
    k.signature = s->signature;
    int rc = pb_pack_buf(&k.base, out);
    if (rc)
        buf_clear(out);
    return rc;
}

void pbft_take_complaints(struct pbft *b, const Stele__PbftViewChange *vc)
{
    if (!b->active || b->proven_view == b->view + 1 || vc->n_complaints < b->m.quorum ||
        vc->n_complaints > b->m.n)
        return;
    struct arena *a = arena_create(0);
    uint64_t wall = clock_wall_ms(), lo = UINT64_MAX, hi = 0;
    bool signer[PBFT_MAX_NODES] = {false};
    size_t n = 0;
    for (size_t i = 0; a && i < vc->n_complaints; i++) {
        const Stele__PbftSigned *c = vc->complaints[i];
        Stele__PbftMessage *m;
        size_t who;
        const char *why = "";
        if (c->message.len + c->signature.len > PBFT_COMPLAINT_MAX_BYTES ||
            pbft_open_msg(b, a, c, &m, &who, &why) != STELE_OK) {
            log_warn(LOG, "a VIEW-CHANGE carries a complaint that does not open: %s", why);
            continue;
        }
        if (m->type != STELE__PBFT_TYPE__PBFT_STATUS || !m->complaining || m->view_changing ||
            m->view != b->view || m->timestamp_ms + PBFT_STATUS_MAX_AGE_MS < wall ||
            m->timestamp_ms > wall + PBFT_COMPLAINT_SKEW_MS || signer[who])
            continue;
        signer[who] = true;
        n++;
        lo = m->timestamp_ms < lo ? m->timestamp_ms : lo;
        hi = m->timestamp_ms > hi ? m->timestamp_ms : hi;
    }
    arena_destroy(a);
    if (n >= b->m.quorum && hi - lo <= PBFT_PROOF_SPREAD_MS)
        b->proven_view = b->view + 1;
}

void pbft_take_held_complaints(struct pbft *b)
{
    for (size_t i = 0; i < b->m.n; i++) {
        if (!b->vcs[i].have || b->vcs[i].view <= b->view)
            continue;
        struct arena *a = arena_create(0);
        Stele__PbftSigned *s =
            a ? (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                               b->vcs[i].signed_.data, b->vcs[i].signed_.len, 0)
              : NULL;
        Stele__PbftMessage *m;
        if (s && pbft_open_msg(b, a, s, &m, NULL, NULL) == STELE_OK && m->view_change)
            pbft_take_complaints(b, m->view_change);
        arena_destroy(a);
    }
}

void pbft_count_complaints(struct pbft *b)
{
    if (!b->active)
        return; /* changing views already */
    uint64_t now = pbft_now();
    if (b->proven_view == b->view + 1) {
        pbft_start_view_change(b, b->view + 1, "a VIEW-CHANGE proves a quorum complained");
        return;
    }
    size_t n = pbft_complaining(b);
    for (size_t i = 0; i < b->m.n; i++)
        n += i != b->me && ((b->complaint[i] == b->view + 1 &&
                             now - b->complaint_at[i] <= PBFT_COMPLAINT_FRESH_MS) ||
                            (b->vcs[i].have && b->vcs[i].view > b->view));
    if (n >= b->m.quorum)
        pbft_start_view_change(b, b->view + 1, "a quorum of orderers complained about the view");
    else if (n >= b->m.f + 1)
        pbft_complain(b, "f+1 orderers complain about the view", false);
}
