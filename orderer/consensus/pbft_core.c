/*
 * pbft_core.c — the normal case of pbft (pbft_int.h): the primary proposes the block in flight,
 * backups PREPARE it, everyone COMMITs once prepared and executes it with 2f+1 matching
 * COMMITs, which become its commit certificate. Also checkpoints and STATUS heartbeats.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"

#include <stdlib.h>
#include <string.h>

#define LOG "pbft"

static const char *type_name(Stele__PbftType t)
{
    switch (t) {
    case STELE__PBFT_TYPE__PBFT_PRE_PREPARE:
        return "PRE-PREPARE";
    case STELE__PBFT_TYPE__PBFT_PREPARE:
        return "PREPARE";
    case STELE__PBFT_TYPE__PBFT_COMMIT:
        return "COMMIT";
    case STELE__PBFT_TYPE__PBFT_CHECKPOINT:
        return "CHECKPOINT";
    case STELE__PBFT_TYPE__PBFT_VIEW_CHANGE:
        return "VIEW-CHANGE";
    case STELE__PBFT_TYPE__PBFT_NEW_VIEW:
        return "NEW-VIEW";
    case STELE__PBFT_TYPE__PBFT_STATUS:
        return "STATUS";
    default:
        return "message";
    }
}

static void vote_clear(struct pbft_vote *v)
{
    v->have = false;
    buf_clear(&v->signed_);
}

void pbft_slot_reset(struct pbft *b)
{
    struct pbft_slot *s = &b->slot;
    s->seq = b->last_exec + 1;
    s->have_pp = s->sent_prepare = s->sent_commit = s->prepared = s->blamed = false;
    s->pp_view = 0;
    b->free_since = pbft_now();
    memset(s->digest, 0, sizeof s->digest);
    buf_clear(&s->pp_signed);
    buf_clear(&s->block);
    for (size_t i = 0; i < b->m.n; i++) {
        vote_clear(&s->prepares[i]);
        vote_clear(&s->commits[i]);
    }
}

int pbft_pack_signed(const Stele__PbftSigned *s, struct buf *out)
{
    Stele__PbftSigned c = STELE__PBFT_SIGNED__INIT;
    c.message = s->message;
    c.signature = s->signature;
    c.block = s->block;
    buf_clear(out);
    return pb_pack_buf(&c.base, out);
}

int pbft_pack_proposal(const struct pbft *b, const Stele__PbftSigned *s, struct buf *signed_out,
                       struct buf *block_out)
{
    struct arena *a = arena_create(0);
    if (!a)
        return STELE_ERR_NOMEM;
    Stele__Block *in =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, s->block.data, s->block.len, 0);
    Stele__Block *blk;
    int rc = in ? pbft_block_canonical(b, a, in, NULL, &blk) : STELE_ERR_MALFORMED;
    size_t len = rc == STELE_OK ? protobuf_c_message_get_packed_size(&blk->base) : 0;
    uint8_t *bytes = rc == STELE_OK ? arena_alloc(a, len ? len : 1) : NULL;
    if (rc == STELE_OK && !bytes)
        rc = STELE_ERR_NOMEM;
    if (rc == STELE_OK) {
        protobuf_c_message_pack(&blk->base, bytes);
        Stele__PbftSigned c = *s;
        c.block = (ProtobufCBinaryData){len, bytes};
        rc = pbft_pack_signed(&c, signed_out);
        if (rc == STELE_OK && block_out) {
            buf_clear(block_out);
            rc = buf_append(block_out, bytes, len);
        }
    }
    arena_destroy(a);
    return rc;
}

/* Sends `data` to every other orderer, or (test faults) to those i with (i % 2 == parity) when
 * parity is 0 or 1, or to all but the last when parity is 2. */
static void send_all(struct pbft *b, const struct buf *data, int parity)
{
    if (b->fault == PBFT_FAULT_SILENT)
        return;
    size_t k = 0, last = b->me == b->m.n - 1 ? b->m.n - 2 : b->m.n - 1;
    for (size_t i = 0; i < b->m.n; i++) {
        if (i == b->me)
            continue;
        if (parity < 0 || (parity == 2 && i != last) || (parity < 2 && (int)(k++ % 2) == parity))
            pbft_link_send(b, i, data->data, data->len);
    }
}

/* Signs `msg` into `s` (in `a`) after filling channel and sender. */
static int sign_msg(struct pbft *b, Stele__PbftMessage *msg, struct arena *a, Stele__PbftSigned *s)
{
    msg->channel_id = b->m.channel_id;
    msg->sender = b->m.ids[b->me];
    return pbft_sign(msg, b->p.signer, a, s);
}

int pbft_sign_into(struct pbft *b, Stele__PbftMessage *msg, const struct buf *block,
                   struct buf *out)
{
    struct arena *a = arena_create(0);
    Stele__PbftSigned s;
    int rc = a ? sign_msg(b, msg, a, &s) : STELE_ERR_NOMEM;
    if (rc == STELE_OK) {
        if (block)
            s.block = (ProtobufCBinaryData){block->len, block->data};
        rc = pbft_pack_signed(&s, out);
    }
    if (rc)
        log_error(LOG, "cannot sign a %s: %s", type_name(msg->type), stele_strerror(rc));
    arena_destroy(a);
    return rc;
}

void pbft_send_signed(struct pbft *b, Stele__PbftType type, const struct buf *wire)
{
    if (b->fault == PBFT_FAULT_WITHHOLD && type == STELE__PBFT_TYPE__PBFT_COMMIT)
        return; /* test fault: keep our COMMIT to ourselves */
    if (b->fault == PBFT_FAULT_BAD_SIGS) {
        /* Test fault: what leaves carries a corrupted signature. */
        struct arena *a = arena_create(0);
        Stele__PbftSigned *s = a ? (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor,
                                                                  a, wire->data, wire->len, 0)
                                 : NULL;
        struct buf bad;
        buf_init(&bad);
        if (s && s->signature.len > 5) {
            s->signature.data[5] ^= 0x40;
            if (pbft_pack_signed(s, &bad) == STELE_OK)
                send_all(b, &bad, -1);
        }
        buf_release(&bad);
        arena_destroy(a);
        return;
    }
    send_all(b, wire,
             b->fault == PBFT_FAULT_WITHHOLD && type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE ? 2
                                                                                           : -1);
}

int pbft_broadcast(struct pbft *b, Stele__PbftMessage *msg, const struct buf *block,
                   struct buf *out)
{
    struct buf wire;
    buf_init(&wire);
    int rc = pbft_sign_into(b, msg, block, &wire);
    if (rc == STELE_OK) {
        pbft_send_signed(b, msg->type, &wire);
        if (out) {
            buf_clear(out);
            rc = buf_append(out, wire.data, wire.len);
        }
    }
    buf_release(&wire);
    return rc;
}

void pbft_show_new_view(struct pbft *b, size_t to)
{
    uint64_t now = pbft_now();
    if (!b->new_view.len || to == b->me || now - b->nv_sent_at[to] < 2000)
        return;
    b->nv_sent_at[to] = now;
    pbft_link_send(b, to, b->new_view.data, b->new_view.len);
}

static bool vote(struct pbft *b, Stele__PbftType type);
static void check_progress(struct pbft *b);

void pbft_resend_votes(struct pbft *b)
{
    struct pbft_slot *sl = &b->slot;
    if (!b->active || !sl->have_pp || sl->pp_view != b->view)
        return;
    /* Lost on the way (a full queue, a broken stream, a peer that had not entered the view
     * yet): peers count each vote once, so sending again is harmless. */
    if (pbft_primary(&b->m, b->view) == b->me)
        pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_PRE_PREPARE, &sl->pp_signed);
    else if (!sl->sent_prepare)
        sl->sent_prepare = vote(b, STELE__PBFT_TYPE__PBFT_PREPARE); /* its persist had failed */
    else if (sl->prepares[b->me].have)
        pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_PREPARE, &sl->prepares[b->me].signed_);
    if (sl->commits[b->me].have)
        pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_COMMIT, &sl->commits[b->me].signed_);
    check_progress(b); /* a vote whose persist had failed may be sent now, and count */
}

void pbft_send_status(struct pbft *b)
{
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_STATUS;
    msg.view = b->view;
    msg.seq = b->last_exec;
    msg.digest = (ProtobufCBinaryData){32, b->last_digest};
    msg.view_changing = !b->active;
    msg.complaining = pbft_complaining(b);
    /* strictly increasing, so that receivers can refuse a replayed older STATUS */
    uint64_t ts = clock_wall_ms();
    b->status_ts_sent = msg.timestamp_ms = ts > b->status_ts_sent ? ts : b->status_ts_sent + 1;
    struct buf *mine = &b->complaint_signed[b->me];
    buf_clear(mine);
    if (pbft_broadcast(b, &msg, NULL, msg.complaining ? mine : NULL) != STELE_OK)
        buf_clear(mine);
}

/* Signs our vote of `type` for the slot, records it as sender b->me, persists, and only then
 * sends it: a restarted orderer remembers every vote it may have sent. When persisting fails the
 * vote is forgotten again, neither sent nor counted nor resent, and false is returned (the
 * caller tries again later). */
static bool vote(struct pbft *b, Stele__PbftType type)
{
    struct pbft_slot *s = &b->slot;
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = type;
    msg.view = s->pp_view;
    msg.seq = s->seq;
    msg.digest = (ProtobufCBinaryData){32, s->digest};
    msg.timestamp_ms = clock_wall_ms(); /* a COMMIT's is one of the block time's witnesses */
    struct pbft_vote *v =
        type == STELE__PBFT_TYPE__PBFT_PREPARE ? &s->prepares[b->me] : &s->commits[b->me];
    if (pbft_sign_into(b, &msg, NULL, &v->signed_) != STELE_OK) {
        vote_clear(v);
        return false;
    }
    v->have = true; /* the state written below holds it */
    v->view = s->pp_view;
    memcpy(v->digest, s->digest, 32);
    if (pbft_persist(b) != STELE_OK) {
        vote_clear(v); /* a vote we might forget must not leave, nor count */
        return false;
    }
    pbft_send_signed(b, type, &v->signed_);
    return true;
}

/* Votes in `votes` that match the slot's PRE-PREPARE. */
static size_t matching(const struct pbft *b, const struct pbft_vote *votes)
{
    size_t n = 0;
    for (size_t i = 0; i < b->m.n; i++)
        if (votes[i].have && votes[i].view == b->slot.pp_view &&
            memcmp(votes[i].digest, b->slot.digest, 32) == 0)
            n++;
    return n;
}

static void execute_slot(struct pbft *b);

static void check_progress(struct pbft *b)
{
    struct pbft_slot *s = &b->slot;
    if (!s->have_pp)
        return;
    if (!s->prepared && matching(b, s->prepares) + 1 >= b->m.quorum) { /* with the PRE-PREPARE */
        s->prepared = true;
        pbft_keep_prepared(b);
    }
    if (s->prepared && !s->sent_commit) {
        s->sent_commit = true; /* persisted with the vote */
        s->sent_commit = vote(b, STELE__PBFT_TYPE__PBFT_COMMIT);
    }
    if (s->prepared && matching(b, s->commits) >= b->m.quorum)
        execute_slot(b);
}

void pbft_handle_bytes(struct pbft *b, const uint8_t *data, size_t len)
{
    struct arena *a = arena_create(0);
    Stele__PbftSigned *s =
        a ? (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, data, len, 0) : NULL;
    Stele__PbftMessage *msg;
    size_t from;
    if (s && pbft_open_msg(b, a, s, &msg, &from, NULL) == STELE_OK) {
        enum pbft_verdict v = PBFT_BLOCK_OK;
        if (msg->type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE)
            v = pbft_check_proposal(b, s, msg, NULL);
        if (v != PBFT_BLOCK_FOREIGN) /* not the block the primary signed: relay noise */
            pbft_handle(b, s, msg, from, v == PBFT_BLOCK_OK);
    }
    arena_destroy(a);
}

/* Forgets pool entries for the envelopes of `blk`. */
static void clear_pool(struct pbft *b, const Stele__Block *blk)
{
    struct arena *a = arena_create(0);
    for (size_t i = 0; a && blk->data && i < blk->data->n_envelopes; i++) {
        struct envelope_view v;
        const ProtobufCBinaryData *e = &blk->data->envelopes[i];
        if (envelope_parse(a, e->data, e->len, 0, &v, NULL) == STELE_OK)
            pbft_pool_commit(b->pool, v.header->tx_id);
        arena_reset(a);
    }
    arena_destroy(a);
}

/* After block last_exec was appended: bookkeeping common to both ways blocks arrive. */
static void executed(struct pbft *b, const Stele__Block *blk, const uint8_t hash[32],
                     const ProtobufCBinaryData *proof)
{
    /* The primary of this view signed us another block for this number than the one certified
     * (fetched by state transfer while the others agreed on theirs): equivocation, shown to
     * the other backups, who executed the certified block and hold it as proof too. */
    const struct pbft_slot *sl = &b->slot;
    if (sl->have_pp && sl->seq == blk->header->number && sl->pp_view == b->view &&
        sl->seq > b->view_floor && memcmp(sl->digest, hash, 32) != 0) {
        pbft_send_backups(b, &sl->pp_signed);
        pbft_complain(b, "the primary signed another block for a number than the one certified",
                      true);
    }
    b->last_exec = blk->header->number;
    memcpy(b->last_digest, hash, 32);
    buf_clear(&b->last_proof);
    buf_append(&b->last_proof, proof->data, proof->len);
    clear_pool(b, blk);
    if (b->best_seq <= b->last_exec) {
        buf_clear(&b->best_prepared);
        b->best_seq = b->best_view = 0;
    }
    b->vc_timeout = b->vc_timeout_base;
    pbft_slot_reset(b);
    if (b->last_exec % b->ckpt_interval == 0) {
        Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
        msg.type = STELE__PBFT_TYPE__PBFT_CHECKPOINT;
        msg.seq = b->last_exec;
        msg.digest = (ProtobufCBinaryData){32, b->last_digest};
        msg.view = b->view;
        struct buf own;
        buf_init(&own);
        if (pbft_broadcast(b, &msg, NULL, &own) == STELE_OK)
            pbft_handle_bytes(b, own.data, own.len);
        buf_release(&own);
    }
}

static void execute_slot(struct pbft *b)
{
    struct pbft_slot *s = &b->slot;
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        a ? (Stele__Block *)pb_unpack(&stele__block__descriptor, a, s->block.data, s->block.len, 0)
          : NULL;
    Stele__PbftSigned **commits = a ? arena_calloc(a, b->m.n, sizeof *commits) : NULL;
    size_t n = 0;
    if (!blk || !commits) {
        log_error(LOG, "cannot decode block %llu to execute it", (unsigned long long)s->seq);
        goto out;
    }
    for (size_t i = 0; i < b->m.n; i++) {
        struct pbft_vote *v = &s->commits[i];
        if (v->have && v->view == s->pp_view && memcmp(v->digest, s->digest, 32) == 0 &&
            (commits[n] = (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                         v->signed_.data, v->signed_.len, 0)))
            n++;
    }
    Stele__PbftProof proof = STELE__PBFT_PROOF__INIT;
    proof.view = s->pp_view;
    proof.commits = commits;
    proof.n_commits = n;
    /* The metadata is made here, whatever the proposal carried beside its signed header. */
    int rc = pbft_block_canonical(b, a, blk, &proof, &blk);
    if (rc == STELE_OK)
        rc = b->cb.deliver_block(b->cb.arg, blk);
    if (rc) {
        log_error(LOG, "the core refused block %llu: %s; ordering stops",
                  (unsigned long long)s->seq, stele_strerror(rc));
        b->failed = true;
        pbft_publish(b);
        goto out;
    }
    log_debug(LOG, "block %llu committed in view %llu (%zu envelopes, %zu commits)",
              (unsigned long long)s->seq, (unsigned long long)s->pp_view,
              blk->data ? blk->data->n_envelopes : 0, n);
    uint8_t hash[32];
    memcpy(hash, s->digest, 32);
    executed(b, blk, hash, &blk->metadata->finality_proof);
    arena_destroy(a);
    a = NULL;
    pbft_replay_ahead(b);
    pbft_maybe_propose(b);
out:
    arena_destroy(a);
}

int pbft_execute_certified(struct pbft *b, const Stele__Block *in, const uint8_t hash[32])
{
    if (!in->metadata || in->header->number != b->last_exec + 1 ||
        in->header->previous_hash.len != 32 ||
        memcmp(in->header->previous_hash.data, b->last_digest, 32) != 0)
        return STELE_ERR_CONFLICT;
    /* Only the header, the envelopes and the certificate's signed COMMITs are the sender's: the
     * block is appended with metadata made here, not with whatever else it carried. */
    struct arena *a = arena_create(0);
    const ProtobufCBinaryData *fp = &in->metadata->finality_proof;
    Stele__PbftProof *proof =
        a ? (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a, fp->data, fp->len, 0)
          : NULL;
    Stele__Block *blk;
    int rc = !a      ? STELE_ERR_NOMEM
             : proof ? pbft_block_canonical(b, a, in, proof, &blk)
                     : STELE_ERR_MALFORMED;
    if (rc) {
        arena_destroy(a);
        return rc;
    }
    rc = b->cb.deliver_block(b->cb.arg, blk);
    if (rc) {
        b->failed = true;
        pbft_publish(b);
        arena_destroy(a);
        return rc;
    }
    executed(b, blk, hash, &blk->metadata->finality_proof);
    arena_destroy(a);
    /* A fetched block carries its certificate: it is final, and so is the checkpoint at or
     * below it (the others' CHECKPOINT messages for it went by while we were behind). */
    uint64_t ck = b->last_exec - b->last_exec % b->ckpt_interval;
    if (ck > b->stable)
        b->stable = ck;
    pbft_replay_ahead(b);
    return STELE_OK;
}

/* A PRE-PREPARE for the slot. */
static void on_pre_prepare(struct pbft *b, const Stele__PbftSigned *s,
                           const Stele__PbftMessage *msg, size_t from, bool block_ok)
{
    struct pbft_slot *sl = &b->slot;
    if (from != pbft_primary(&b->m, msg->view)) {
        log_warn(LOG, "%s sent a PRE-PREPARE for view %llu but is not its primary", b->m.ids[from],
                 (unsigned long long)msg->view);
        return;
    }
    /* Held already: the same signed digest again is a resend or a relay, whatever block came
     * with it; another digest signed by the primary for this number is equivocation. */
    if (sl->have_pp) {
        if (memcmp(sl->digest, msg->digest.data, 32) != 0)
            pbft_blame_primary(b, s, "the primary signed two blocks for one sequence number");
        return;
    }
    if (!block_ok) { /* the block the primary signed, and it breaks a rule */
        pbft_blame_primary(b, s, "the primary proposed an invalid block");
        return;
    }
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        a ? (Stele__Block *)pb_unpack(&stele__block__descriptor, a, s->block.data, s->block.len, 0)
          : NULL;
    bool linked = blk && blk->header && blk->header->previous_hash.len == 32 &&
                  memcmp(blk->header->previous_hash.data, b->last_digest, 32) == 0;
    bool nomem = !a || arena_failures(a); /* no verdict: the resend is looked at again */
    arena_destroy(a);
    if (nomem)
        return;
    if (!linked) {
        pbft_blame_primary(b, s, "the primary proposed a block that does not extend the chain");
        return;
    }
    /* Kept (and later certified, persisted, carried in proofs) as re-encoded here. */
    if (pbft_pack_proposal(b, s, &sl->pp_signed, &sl->block) != STELE_OK) {
        buf_clear(&sl->pp_signed);
        buf_clear(&sl->block);
        return;
    }
    sl->have_pp = true;
    sl->pp_view = msg->view;
    memcpy(sl->digest, msg->digest.data, 32);
    sl->pp_at_ms = pbft_now();
    if (b->me != from) {
        sl->sent_prepare = true; /* persisted with the vote */
        sl->sent_prepare = vote(b, STELE__PBFT_TYPE__PBFT_PREPARE);
    }
    check_progress(b);
}

static void on_vote(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                    size_t from)
{
    struct pbft_slot *sl = &b->slot;
    bool prepare = msg->type == STELE__PBFT_TYPE__PBFT_PREPARE;
    if (prepare && from == pbft_primary(&b->m, msg->view)) {
        log_warn(LOG, "%s, primary of view %llu, sent a PREPARE: ignored", b->m.ids[from],
                 (unsigned long long)msg->view);
        return;
    }
    if (msg->digest.len != 32)
        return;
    struct pbft_vote *v = prepare ? &sl->prepares[from] : &sl->commits[from];
    if (v->have) {
        if (v->view == msg->view && memcmp(v->digest, msg->digest.data, 32) != 0)
            log_warn(LOG, "%s sent two different %ss for block %llu in view %llu: kept the first",
                     b->m.ids[from], type_name(msg->type), (unsigned long long)msg->seq,
                     (unsigned long long)msg->view);
        if (v->view >= msg->view)
            return;
    }
    v->have = true;
    v->view = msg->view;
    memcpy(v->digest, msg->digest.data, 32);
    pbft_pack_signed(s, &v->signed_);
    check_progress(b);
}

/* Our own hash of block `seq` (<= last_exec). */
static int block_digest(struct pbft *b, uint64_t seq, uint8_t out[32])
{
    if (seq == b->last_exec) {
        memcpy(out, b->last_digest, 32);
        return STELE_OK;
    }
    struct arena *a = arena_create(0);
    Stele__Block *blk;
    int rc = a ? b->cb.read_block(b->cb.arg, seq, a, &blk) : STELE_ERR_NOMEM;
    if (rc == STELE_OK)
        rc = blockhash_header_pb(blk->header, out);
    arena_destroy(a);
    return rc;
}

static void on_checkpoint(struct pbft *b, const Stele__PbftMessage *msg, size_t from)
{
    if (msg->seq <= b->stable || msg->seq > b->stable + b->log_window || msg->digest.len != 32 ||
        msg->seq % b->ckpt_interval)
        return; /* outside the window: far-future ones would only push real ones out */
    /* The window holds n_ckpts numbers and as many slots: a number in it always finds its own
     * or a free one (unused, or at or below the stable checkpoint), never evicting another. */
    struct pbft_ckpt *c = NULL, *free_slot = NULL;
    for (size_t i = 0; i < b->n_ckpts && !c; i++) {
        if (b->ckpts[i].seq == msg->seq)
            c = &b->ckpts[i];
        else if (!free_slot && b->ckpts[i].seq <= b->stable)
            free_slot = &b->ckpts[i];
    }
    if (!c) {
        if (!free_slot)
            return; /* cannot happen: the window holds no more numbers than slots */
        c = free_slot;
        memset(c, 0, sizeof *c);
        c->seq = msg->seq;
    }
    c->have[from] = true;
    memcpy(c->digest[from], msg->digest.data, 32);
    /* The largest group of senders agreeing on one digest. */
    for (size_t i = 0; i < b->m.n; i++) {
        if (!c->have[i])
            continue;
        size_t agree = 0;
        for (size_t j = 0; j < b->m.n; j++)
            agree += c->have[j] && memcmp(c->digest[j], c->digest[i], 32) == 0;
        if (agree >= b->m.f + 1 && c->seq > b->last_exec + b->log_window / 2)
            pbft_want_sync(b, c->seq); /* f+1 are far ahead: messages will not bring us there */
        uint8_t mine[32];
        if (agree >= b->m.quorum && c->seq <= b->last_exec &&
            block_digest(b, c->seq, mine) == STELE_OK) {
            if (memcmp(mine, c->digest[i], 32) != 0) {
                log_error(LOG, "checkpoint %llu: a quorum of orderers hold another block than ours",
                          (unsigned long long)c->seq);
                return;
            }
            b->stable = c->seq;
            log_debug(LOG, "checkpoint %llu is stable", (unsigned long long)c->seq);
            for (size_t k = 0; k < b->n_ckpts; k++)
                if (b->ckpts[k].seq <= b->stable)
                    memset(&b->ckpts[k], 0, sizeof b->ckpts[k]);
            pbft_maybe_propose(b); /* the window may have opened */
            return;
        }
    }
}

static void on_status(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                      size_t from)
{
    b->peer_seq[from] = msg->seq;
    b->peer_heard[from] = true;
    b->peer_in_view[from] = msg->view == b->view && !msg->view_changing;
    /* Only a newer STATUS than the last one taken from its sender says whether it complains:
     * a faulty orderer relaying an old complaining STATUS cannot revive a withdrawn complaint,
     * nor keep a stopped orderer's complaint fresh. */
    uint64_t wall = clock_wall_ms();
    bool recent = msg->timestamp_ms + PBFT_STATUS_MAX_AGE_MS >= wall; /* not an old replay
                                                                         (to a restarted us) */
    bool newer = msg->timestamp_ms > b->status_ts[from] ||
                 b->status_ts[from] > wall + PBFT_STATUS_MAX_AGE_MS; /* its clock was set back */
    if (recent && newer) {
        b->status_ts[from] = msg->timestamp_ms;
        /* dated near our clock: a complaint we count is one we can show (pbft_keep_complaints) */
        bool near = msg->timestamp_ms + PBFT_COMPLAINT_SKEW_MS >= wall &&
                    msg->timestamp_ms <= wall + PBFT_COMPLAINT_SKEW_MS;
        b->complaint[from] = msg->complaining && !msg->view_changing && near ? msg->view + 1 : 0;
        b->complaint_at[from] = pbft_now();
        buf_clear(&b->complaint_signed[from]); /* kept for our VIEW-CHANGE, if we leave */
        if (b->complaint[from])
            pbft_keep_status(s, &b->complaint_signed[from]);
        pbft_count_complaints(b);
    }
    /* A peer in an older view, or still changing to ours, missed the NEW-VIEW that started
     * ours: hand it over. */
    if (b->active && (msg->view < b->view || (msg->view == b->view && msg->view_changing)))
        pbft_show_new_view(b, from);
}

void pbft_handle(struct pbft *b, const Stele__PbftSigned *s, const Stele__PbftMessage *msg,
                 size_t from, bool block_ok)
{
    if (s->block.len && msg->type != STELE__PBFT_TYPE__PBFT_PRE_PREPARE &&
        msg->type != STELE__PBFT_TYPE__PBFT_FORWARD)
        return; /* only proposals carry a block: anything else would be stored and certified */
    switch (msg->type) {
    case STELE__PBFT_TYPE__PBFT_VIEW_CHANGE:
        pbft_on_view_change(b, s, msg, from);
        return;
    case STELE__PBFT_TYPE__PBFT_NEW_VIEW:
        pbft_on_new_view(b, s, msg, from);
        return;
    case STELE__PBFT_TYPE__PBFT_CHECKPOINT:
        on_checkpoint(b, msg, from);
        return;
    case STELE__PBFT_TYPE__PBFT_STATUS:
        on_status(b, s, msg, from);
        return;
    case STELE__PBFT_TYPE__PBFT_PRE_PREPARE:
    case STELE__PBFT_TYPE__PBFT_PREPARE:
    case STELE__PBFT_TYPE__PBFT_COMMIT:
        break;
    default:
        return;
    }
    if (msg->view != b->view || !b->active || b->failed)
        return; /* other views: NEW-VIEW and STATUS bring us there */
    if (msg->seq <= b->last_exec || msg->seq <= b->view_floor) {
        if (msg->type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE)
            pbft_on_late_pre_prepare(b, s, msg, from);
        return; /* proven committed when this view started: never re-decided in it */
    }
    if (msg->seq > b->last_exec + 1) {
        /* Ahead of us: usually the messages for our block are just behind in the queue. If we
         * really lack blocks, STATUS heartbeats and CHECKPOINTs start a state transfer. */
        bool proposal = msg->type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
        if (msg->seq <= b->last_exec + 1 + b->log_window &&
            (!proposal || (block_ok && from == pbft_primary(&b->m, msg->view))))
            pbft_hold_ahead(b, s, msg->type, from, msg->seq);
        return;
    }
    if (msg->type == STELE__PBFT_TYPE__PBFT_PRE_PREPARE)
        on_pre_prepare(b, s, msg, from, block_ok);
    else
        on_vote(b, s, msg, from);
}

/* Builds block `seq` over `envs` on our head into `out` (serialized) and its digest. */
static int build_block(struct pbft *b, const ProtobufCBinaryData *envs, size_t n, struct buf *out,
                       uint8_t digest[32])
{
    struct arena *a = arena_create(0);
    Stele__Block *blk;
    int rc =
        a ? blockhash_block_build(a, b->slot.seq, b->last_digest, envs, n, &blk) : STELE_ERR_NOMEM;
    if (rc == STELE_OK && (rc = blockhash_header_pb(blk->header, digest)) == STELE_OK) {
        blk->metadata->consensus_type = (char *)"pbft";
        blk->metadata->channel_id = b->m.channel_id;
        blk->metadata->timestamp_ms = clock_wall_ms();
        buf_clear(out);
        rc = pb_pack_buf(&blk->base, out);
    }
    arena_destroy(a);
    return rc;
}

/* Whether the pool holds a block worth proposing now; if not, sets propose_at to when it will
 * (and wakes the timer thread if that is sooner than `planned`, the propose_at it was last
 * given, 0 for none: not on every envelope that arrives meanwhile). The delay counts from the
 * later of the oldest envelope's arrival and the slot's release: under load the oldest
 * envelope arrived while the previous block was in agreement, and counting from it alone would
 * never wait, leaving blocks as small as one round of agreement gathers. */
static bool batch_ready(struct pbft *b, uint64_t planned)
{
    size_t n;
    uint64_t bytes, oldest;
    pbft_pool_load(b->pool, &n, &bytes, &oldest);
    if (n == 0)
        return false;
    if (n >= b->p.cutter.max_message_count || bytes >= b->p.cutter.preferred_max_bytes ||
        b->batch_delay == 0)
        return true;
    uint64_t from = oldest > b->free_since ? oldest : b->free_since;
    uint64_t at = from + b->batch_delay;
    if (b->p.cutter.batch_timeout_ms && at > oldest + b->p.cutter.batch_timeout_ms)
        at = oldest + b->p.cutter.batch_timeout_ms; /* BatchTimeout still bounds the wait */
    if (pbft_now() >= at)
        return true;
    if (planned == 0 || at < planned)
        pbft_wake_timer(b); /* the timer thread may sleep up to a tick */
    b->propose_at = at;
    return false;
}

void pbft_maybe_propose(struct pbft *b)
{
    struct pbft_slot *sl = &b->slot;
    uint64_t planned = b->propose_at;
    b->propose_at = 0;
    if (!b->active || b->failed || b->stopping || sl->have_pp || b->syncing || b->pending_o.len ||
        pbft_primary(&b->m, b->view) != b->me || b->fault == PBFT_FAULT_SILENT)
        return;
    if (sl->seq > b->stable + b->log_window / 2)
        return; /* wait for a checkpoint: backups are too far behind */
    if (sl->seq <= b->view_floor)
        return; /* this view started above our head: fetch the proven blocks first */
    if (!batch_ready(b, planned))
        return;
    ProtobufCBinaryData *envs;
    size_t n;
    if (pbft_pool_take(b->pool, b->p.cutter.max_message_count, b->p.cutter.preferred_max_bytes,
                       &envs, &n) ||
        n == 0)
        return;
    uint8_t digest[32], digest2[32];
    struct buf block, block2, wire;
    buf_init(&block);
    buf_init(&block2);
    buf_init(&wire);
    int rc = build_block(b, envs, n, &block, digest);
    if (rc == STELE_OK) {
        Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
        msg.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
        msg.view = b->view;
        msg.seq = sl->seq;
        msg.digest = (ProtobufCBinaryData){32, digest};
        /* Sign, record and persist before anything leaves: a restarted primary must propose
         * the same block for this number in this view, never another. */
        if ((rc = pbft_sign_into(b, &msg, &block, &sl->pp_signed)) == STELE_OK) {
            sl->have_pp = true;
            sl->pp_view = b->view;
            memcpy(sl->digest, digest, 32);
            sl->pp_at_ms = pbft_now();
            buf_append(&sl->block, block.data, block.len);
            rc = pbft_persist(b);
        }
        if (rc) {
            pbft_slot_reset(b); /* nothing was sent: the envelopes stay pooled */
        } else if (b->fault == PBFT_FAULT_EQUIVOCATE && n > 1) {
            /* Test builds: half of the backups get a block without the last envelope. */
            Stele__PbftMessage msg2 = msg;
            if (build_block(b, envs, n - 1, &block2, digest2) == STELE_OK) {
                msg2.digest = (ProtobufCBinaryData){32, digest2};
                if (pbft_sign_into(b, &msg2, &block2, &wire) == STELE_OK) {
                    send_all(b, &sl->pp_signed, 0);
                    send_all(b, &wire, 1);
                    /* ... and the first backup sees both: it must notice. */
                    pbft_link_send(b, b->me == 0 ? 1 : 0, wire.data, wire.len);
                    log_warn(LOG, "test fault: equivocated on block %llu",
                             (unsigned long long)sl->seq);
                }
            }
        } else {
            pbft_send_signed(b, STELE__PBFT_TYPE__PBFT_PRE_PREPARE, &sl->pp_signed);
        }
        log_debug(LOG, "proposed block %llu in view %llu with %zu envelopes",
                  (unsigned long long)sl->seq, (unsigned long long)b->view, n);
    }
    if (rc)
        log_error(LOG, "cannot propose block %llu: %s", (unsigned long long)sl->seq,
                  stele_strerror(rc));
    for (size_t i = 0; i < n; i++)
        free(envs[i].data);
    free(envs);
    buf_release(&block);
    buf_release(&block2);
    buf_release(&wire);
    check_progress(b);
}
