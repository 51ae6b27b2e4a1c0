/*
 * pbft_persist.c — what an orderer under pbft must not forget across a restart (PbftState in
 * proto/stele/cluster.proto): its view and whether it left it, the block in flight with the
 * votes it sent and holds, its VIEW-CHANGE and the NEW-VIEW of its view. Written to
 * DATA_DIR/pbft.state (a temporary file renamed over the old one, fsync'd when the orderer's
 * fsync policy asks for it) before any message that depends on it leaves, so a restarted
 * orderer never signs something that contradicts what it signed before.
 */
#include "orderer/consensus/pbft_int.h"

#include "base/arena.h"
#include "base/log.h"
#include "base/status.h"
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

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return STELE_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return STELE_OK;
}

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
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/" STATE_FILE, b->p.data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!st.prepares || !st.commits || (rc = pb_pack_buf(&st.base, &out)))
        goto done;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    rc = fd < 0 ? STELE_ERR_IO : write_all(fd, out.data, out.len);
    if (rc == STELE_OK && b->p.sync && fdatasync(fd) != 0)
        rc = STELE_ERR_IO;
    if (fd >= 0)
        close(fd);
    if (rc == STELE_OK && rename(tmp, path) != 0)
        rc = STELE_ERR_IO;
    if (rc == STELE_OK && b->p.sync) {
        int dfd = open(b->p.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
done:
    if (rc)
        log_error(LOG, "cannot persist the consensus state to %s: %s", path, stele_strerror(rc));
    buf_release(&out);
    arena_destroy(a);
    return rc;
}

/* Puts the signed votes back into `votes` by sender, keeping only ones that open. */
static void votes_in(struct pbft *b, struct arena *a, Stele__PbftSigned **in, size_t n,
                     struct pbft_vote *votes)
{
    for (size_t i = 0; i < n; i++) {
        Stele__PbftMessage *m;
        size_t who;
        if (pbft_open(&b->m, a, in[i], &m, &who, NULL) || m->seq != b->slot.seq ||
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

int pbft_restore(struct pbft *b)
{
    if (!b->p.data_dir)
        return STELE_OK;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" STATE_FILE, b->p.data_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? STELE_OK : STELE_ERR_IO;
    struct buf raw;
    buf_init(&raw);
    uint8_t chunk[65536];
    size_t got;
    int rc = STELE_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && rc == STELE_OK)
        rc = raw.len + got > STATE_MAX ? STELE_ERR_TOO_BIG : buf_append(&raw, chunk, got);
    fclose(f);
    struct arena *a = arena_create(0);
    Stele__PbftState *st =
        rc == STELE_OK && a
            ? (Stele__PbftState *)pb_unpack(&stele__pbft_state__descriptor, a, raw.data, raw.len, 0)
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
    if (st->seq == b->slot.seq && st->pre_prepare) {
        Stele__PbftMessage *pp;
        struct pbft_slot *s = &b->slot;
        if (pbft_open(&b->m, a, st->pre_prepare, &pp, NULL, NULL) == STELE_OK &&
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
    log_info(LOG, "restored view %llu%s from %s", (unsigned long long)b->view,
             b->active ? "" : " (view change under way)", path);
out:
    buf_release(&raw);
    arena_destroy(a);
    return rc;
}
