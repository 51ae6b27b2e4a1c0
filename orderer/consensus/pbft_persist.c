/*
 * pbft_persist.c — what an orderer under pbft must not forget across a restart (PbftState in
 * proto/stele/cluster.proto): its view and whether it left it, the block in flight with the
 * votes it sent and holds, its VIEW-CHANGE and the NEW-VIEW of its view. Written before any
 * message that depends on it leaves, so a restarted orderer never signs something that
 * contradicts what it signed before.
 *
 * Two files, DATA_DIR/pbft.state.0 and .1, written in turn in place: a header
 *   "STELEPBF" (8) | u64be counter | u32be length | u32be CRC-32C of the state | state
 * then fdatasync when the orderer's fsync policy asks for it. A write torn by a crash leaves a
 * bad CRC in one file while the other still holds the previous state; restore takes the valid
 * file with the higher counter. No rename, no directory sync: one fdatasync per write.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/buf.h"
#include "base/status.h"
#include "base/testhook.h"
#include "ledger/crc32c.h"
#include "pb/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG        "pbft"
#define STATE_FILE "pbft.state"
#define STATE_MAX  (256u << 20)
#define MAGIC      "STELEPBF"
#define HEADER_LEN 24

/* Decodes the held votes of `votes` into a PbftSigned array in `a`. */
static Stele__PbftSigned **votes_out(const struct pbft *b, const struct pbft_vote *votes,
                                     struct arena *a, size_t *n)
{
    Stele__PbftSigned **v = arena_calloc(a, b->m.n ? b->m.n : 1, sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < b->m.n; i++)
        if (votes[i].have && (v[*n] = (Stele__PbftSigned *)pb_unpack(
                                  &stele__pbft_signed__descriptor, a, votes[i].signed_.data,
                                  votes[i].signed_.len, 0)))
            (*n)++;
    return v;
}

/* Opens (creating) state file `i` of the data directory. */
static int open_state(const struct pbft *b, int i)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE ".%d", b->p.data_dir, i);
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* How many of a state write's `total` octets reach the file: all of them, but in test builds
 * (STELE_TEST_HOOKS), while the file STELE_TEST_PBFT_PERSIST_TEAR names exists, only the first
 * half, and the write fails, as on a disk that filled up. */
static size_t test_write_end(size_t total)
{
    return test_hook_file("STELE_TEST_PBFT_PERSIST_TEAR") ? total / 2 : total;
}

int pbft_persist(struct pbft *b)
{
    if (!b->p.data_dir)
        return STELE_OK;
    struct arena *a = arena_create(0);
    struct buf out;
    buf_init(&out);
    int rc = STELE_ERR_NOMEM;
    if (!a)
        return rc;
    const struct pbft_slot *s = &b->slot;
    Stele__PbftState st = STELE__PBFT_STATE__INIT;
    st.view = b->view;
    st.active = b->active;
    st.seq = s->seq;
    st.sent_prepare = s->sent_prepare;
    st.sent_commit = s->sent_commit;
    if (s->have_pp)
        st.pre_prepare = (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                        s->pp_signed.data, s->pp_signed.len, 0);
    st.prepares = votes_out(b, s->prepares, a, &st.n_prepares);
    st.commits = votes_out(b, s->commits, a, &st.n_commits);
    st.view_change = (ProtobufCBinaryData){b->my_vc.len, b->my_vc.data};
    st.new_view = (ProtobufCBinaryData){b->new_view.len, b->new_view.data};
    st.prepared = (ProtobufCBinaryData){b->best_prepared.len, b->best_prepared.data};
    st.view_floor = b->view_floor;
    uint8_t hdr[HEADER_LEN];
    if (!st.prepares || !st.commits || buf_append(&out, hdr, sizeof hdr) ||
        (rc = pb_pack_buf(&st.base, &out)))
        goto done;
    rc = STELE_ERR_IO;
    /* A write that fails may have damaged file i: the next one goes to file i again, so that
     * the other file keeps the last state written whole (counter - 1). */
    uint64_t counter = b->persist_counter + 1; /* counted once this write succeeded */
    int i = (int)(counter % 2);
    if (b->state_fd[i] < 0 && (b->state_fd[i] = open_state(b, i)) < 0)
        goto done;
    size_t len = out.len - HEADER_LEN;
    memcpy(out.data, MAGIC, 8);
    put_u64be(out.data + 8, counter);
    put_u32be(out.data + 16, (uint32_t)len);
    put_u32be(out.data + 20, crc32c(out.data + HEADER_LEN, len));
    size_t done_n = 0, end = test_write_end(out.len);
    while (done_n < end) {
        ssize_t w = pwrite(b->state_fd[i], out.data + done_n, end - done_n, (off_t)done_n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto done;
        done_n += (size_t)w;
    }
    if (done_n < out.len)
        goto done;
    if (b->p.sync && fdatasync(b->state_fd[i]) != 0)
        goto done;
    b->persist_counter = counter;
    rc = STELE_OK;
done:
    b->persist_failed = rc != STELE_OK; /* /healthz says so (orderer metrics.c) */
    if (rc)
        log_error(LOG, "cannot persist the consensus state in %s: %s", b->p.data_dir,
                  stele_strerror(rc));
    buf_release(&out);
    arena_destroy(a);
    return rc;
}

void pbft_persist_close(struct pbft *b)
{
    for (int i = 0; i < 2; i++)
        if (b->state_fd[i] >= 0) {
            close(b->state_fd[i]);
            b->state_fd[i] = -1;
        }
}

/* Puts the signed votes back into `votes` by sender, keeping only ones that open. */
static void votes_in(struct pbft *b, struct arena *a, Stele__PbftSigned **in, size_t n,
                     struct pbft_vote *votes)
{
    for (size_t i = 0; i < n; i++) {
        Stele__PbftMessage *m;
        size_t who;
        if (pbft_open_msg(b, a, in[i], &m, &who, NULL) || m->seq != b->slot.seq ||
            m->digest.len != 32)
            continue;
        struct pbft_vote *v = &votes[who];
        v->have = true;
        v->view = m->view;
        memcpy(v->digest, m->digest.data, 32);
        buf_clear(&v->signed_);
        pb_pack_buf(&in[i]->base, &v->signed_);
    }
}

/* A new primary persists its NEW-VIEW before sending it, its re-proposal with it as the slot
 * when that is for the next block. When it was for a later block (this orderer was behind) it
 * would become the slot only after state transfer: it is taken back from the NEW-VIEW, as the
 * slot when this orderer has reached that block since, else to wait for state transfer, so that
 * a restarted primary proposes that very block for its number, never another. */
static void restore_re_proposal(struct pbft *b, struct arena *a)
{
    if (!b->active || !b->new_view.len || pbft_primary(&b->m, b->view) != b->me)
        return;
    Stele__PbftSigned *nvs = (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a,
                                                            b->new_view.data, b->new_view.len, 0);
    Stele__PbftMessage *nv, *pp;
    if (!nvs || pbft_open_msg(b, a, nvs, &nv, NULL, NULL) ||
        nv->type != STELE__PBFT_TYPE__PBFT_NEW_VIEW || nv->view != b->view || !nv->new_view)
        return;
    const Stele__PbftSigned *o = nv->new_view->pre_prepare;
    if (!o || !o->message.len || pbft_open_msg(b, a, o, &pp, NULL, NULL) ||
        pp->type != STELE__PBFT_TYPE__PBFT_PRE_PREPARE || pp->view != b->view ||
        pp->seq < b->slot.seq)
        return;
    if (pp->seq > b->slot.seq) {
        buf_clear(&b->pending_o);
        if (pb_pack_buf(&o->base, &b->pending_o) != STELE_OK)
            buf_clear(&b->pending_o);
    } else if (!b->slot.have_pp || b->slot.pp_view != pp->view) {
        pbft_slot_reset(b); /* a slot of an earlier view gives way to this view's proposal */
        pbft_slot_take_own(b, o, pp);
    }
}

/* Reads state file `i` into `out` when its header and CRC check out; its counter in *counter. */
static bool read_state(const struct pbft *b, int i, struct buf *out, uint64_t *counter)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE ".%d", b->p.data_dir, i);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t hdr[HEADER_LEN];
    bool ok = fread(hdr, 1, sizeof hdr, f) == sizeof hdr && memcmp(hdr, MAGIC, 8) == 0;
    uint32_t len = ok ? get_u32be(hdr + 16) : 0;
    ok = ok && len <= STATE_MAX && buf_reserve(out, len ? len : 1) == STELE_OK &&
         fread(out->data, 1, len, f) == len;
    fclose(f);
    if (!ok)
        return false;
    out->len = len;
    *counter = get_u64be(hdr + 8);
    return crc32c(out->data, len) == get_u32be(hdr + 20);
}

/* True when state file `i` exists, whole or not. */
static bool state_exists(struct pbft *b, int i)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE ".%d", b->p.data_dir, i);
    return access(path, F_OK) == 0;
}

int pbft_restore(struct pbft *b)
{
    if (!b->p.data_dir)
        return STELE_OK;
    struct buf raw, other;
    buf_init(&raw);
    buf_init(&other);
    uint64_t c0 = 0, c1 = 0;
    bool v0 = read_state(b, 0, &raw, &c0), v1 = read_state(b, 1, &other, &c1);
    if (v1 && (!v0 || c1 > c0)) {
        buf_release(&raw);
        raw = other;
        buf_init(&other);
        c0 = c1;
    }
    buf_release(&other);
    if (!v0 && !v1) {
        buf_release(&raw);
        /* Writes alternate between the two files and a failed one does not move on, so two
         * files both damaged are not a torn write (that spoils only the newest): the disk lost
         * what this orderer voted. Starting afresh could have it vote against its own votes. */
        if (state_exists(b, 0) && state_exists(b, 1)) {
            log_error(LOG,
                      "%s/" STATE_FILE ".0 and .1 are both damaged; delete them to start this "
                      "orderer afresh (it then counts as faulty until it has caught up)",
                      b->p.data_dir);
            return STELE_ERR_MALFORMED;
        }
        return STELE_OK; /* a fresh orderer (or one whose first write was torn) */
    }
    b->persist_counter = c0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE ".%d", b->p.data_dir, (int)(c0 % 2));
    int rc = STELE_OK;
    struct arena *a = arena_create(0);
    Stele__PbftState *st =
        a ? (Stele__PbftState *)pb_unpack(&stele__pbft_state__descriptor, a, raw.data, raw.len, 0)
          : NULL;
    if (!st) {
        log_error(LOG,
                  "%s does not decode; delete it to start this orderer afresh (it then "
                  "counts as faulty until it has caught up)",
                  path);
        rc = rc ? rc : STELE_ERR_MALFORMED;
        goto out;
    }
    b->view = st->view;
    b->active = st->active;
    buf_clear(&b->my_vc);
    buf_append(&b->my_vc, st->view_change.data, st->view_change.len);
    buf_clear(&b->new_view);
    buf_append(&b->new_view, st->new_view.data, st->new_view.len);
    b->view_floor = st->view_floor;
    Stele__PbftPrepared *pr =
        st->prepared.len ? (Stele__PbftPrepared *)pb_unpack(&stele__pbft_prepared__descriptor, a,
                                                            st->prepared.data, st->prepared.len, 0)
                         : NULL;
    Stele__PbftMessage *ppm;
    if (pr && pbft_prepared_check(&b->m, a, pr, &ppm, NULL, NULL) == STELE_OK &&
        ppm->seq > b->last_exec) {
        buf_clear(&b->best_prepared);
        buf_append(&b->best_prepared, st->prepared.data, st->prepared.len);
        b->best_seq = ppm->seq;
        b->best_view = ppm->view;
    }
    if (st->seq == b->slot.seq && st->pre_prepare) {
        Stele__PbftMessage *pp;
        struct pbft_slot *s = &b->slot;
        if (pbft_open_msg(b, a, st->pre_prepare, &pp, NULL, NULL) == STELE_OK &&
            pp->seq == s->seq && pp->digest.len == 32) {
            s->have_pp = true;
            s->pp_view = pp->view;
            memcpy(s->digest, pp->digest.data, 32);
            pb_pack_buf(&st->pre_prepare->base, &s->pp_signed);
            buf_append(&s->block, st->pre_prepare->block.data, st->pre_prepare->block.len);
            s->sent_prepare = st->sent_prepare;
            s->sent_commit = st->sent_commit;
            s->prepared = st->sent_commit; /* a COMMIT is only sent once prepared */
            votes_in(b, a, st->prepares, st->n_prepares, s->prepares);
            votes_in(b, a, st->commits, st->n_commits, s->commits);
        }
    }
    restore_re_proposal(b, a);
    log_info(LOG, "restored view %llu%s from %s", (unsigned long long)b->view,
             b->active ? "" : " (view change under way)", path);
out:
    buf_release(&raw);
    arena_destroy(a);
    return rc;
}
