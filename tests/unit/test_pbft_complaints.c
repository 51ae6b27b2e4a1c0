/* test_pbft_complaints.c — complaints between orderers that do not see the same ones
 * (test_pbft_scenes.h; docs/CONSENSUS.md, "View change"): a VIEW-CHANGE carries the complaints
 * that made its sender leave, which the others check and follow; what a faulty orderer puts in
 * one proves nothing; and a backup's proof against the primary goes to the other backups. */
#include "test_pbft_scenes.h"

static size_t complainer;
static bool status_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return f == complainer && t == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_STATUS;
}

/* Orderer `i` alone holds envelope k and its request timer runs out; of what it sends, only
 * its complaining STATUS reaches o3 (the rest is lost). */
static void complaint_seen_by_o3_only(int i, int k)
{
    if (T < pbft_now())
        T = pbft_now();
    pool_env(i, k);
    pbft_request_tick(NODES[i].b, T);
    T += 2500;
    pbft_request_tick(NODES[i].b, T);
    assert_true(NODES[i].b->complaining);
    complainer = (size_t)i;
    deliver(status_to3);
    for (size_t q = 0; q < nq; q++) /* the rest it sent is lost */
        if (Q[q].from == (size_t)i)
            Q[q].gone = true;
}

static bool not_vc_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return !(f == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE) && up(f, t, d, l);
}

/* o1 and o2 complain, and only o3 hears both: with its own complaint it counts a quorum and
 * leaves view 0. Its own complaining STATUS is lost; the primary orders o1's and o2's
 * envelopes after all, and they withdraw their complaints before o3's VIEW-CHANGE reaches
 * them. That VIEW-CHANGE carries the quorum of signed complaints that made o3 leave: the others
 * check them and leave too, so o3 is not left alone in view 1 (before, they counted o3 as one
 * complaint and stayed, and o2's failure then stopped the network). */
static void a_view_change_carries_the_complaints_that_made_it(void **state)
{
    (void)state;
    one_block_in();
    complaint_seen_by_o3_only(1, 50);
    assert_int_equal(NODES[3].b->view, 0);
    complaint_seen_by_o3_only(2, 51);
    assert_int_equal(NODES[3].b->view, 1); /* it counted o1, o2 and itself */
    assert_false(NODES[3].b->active);
    for (size_t q = 0; q < nq; q++) /* of what o3 sent, only its VIEW-CHANGEs arrive later */
        if (!Q[q].gone && type_of(Q[q].data, Q[q].len) != STELE__PBFT_TYPE__PBFT_VIEW_CHANGE)
            Q[q].gone = true;

    /* o1 and o2 forward their envelopes again; o0 orders them; both withdraw */
    pbft_request_tick(NODES[1].b, T += 20);
    pbft_request_tick(NODES[2].b, T);
    deliver(not_vc_from3);
    assert_true(NODES[0].n >= 2);
    pbft_request_tick(NODES[1].b, T += 20);
    pbft_request_tick(NODES[2].b, T);
    assert_false(NODES[1].b->complaining);
    assert_false(NODES[2].b->complaining);
    deliver(not_vc_from3);
    all_in_view(0, 3);

    deliver(up); /* o3's VIEW-CHANGE at last */
    all_in_view(1, -1);
    /* o3 takes the blocks it missed by state transfer (which the harness leaves to us) */
    assert_true(want_sync[3] >= NODES[0].n);
    struct arena *a = arena_create(0);
    for (size_t k = NODES[3].n; k < NODES[0].n; k++) {
        Stele__Block *blk = (Stele__Block *)pb_unpack(
            &stele__block__descriptor, a, NODES[0].blocks[k].data, NODES[0].blocks[k].len, 0);
        uint8_t hash[32];
        const char *why = "";
        assert_int_equal(pbft_block_check(&NODES[3].b->m, a, blk, hash, &why), STELE_OK);
        assert_int_equal(pbft_execute_certified(NODES[3].b, blk, hash), STELE_OK);
    }
    arena_destroy(a);
    pbft_after_sync(NODES[3].b);
    down = 2;
    size_t had = NODES[1].n;
    commit_block(60, 1);
    assert_int_equal(NODES[1].n, had + 1);
    assert_int_equal(NODES[0].n, NODES[1].n);
    assert_int_equal(NODES[3].n, NODES[1].n);
    down = -1;
    assert_no_fork();
}

static struct buf vc2; /* o2's VIEW-CHANGE, as it left */
static void capture_vc2(size_t from, size_t to, const uint8_t *d, size_t l)
{
    (void)to;
    if (from == 2 && !vc2.len && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE)
        buf_append(&vc2, d, l);
}

/* A STATUS of `sender`'s, complaining about `view` (between views when `changing`), dated
 * `age_ms` back (ahead when negative), signed with `signer`'s key; appended to `list` (arena
 * `a`). */
static void complaint_as(struct arena *a, Stele__PbftSigned **list, size_t *n, int sender,
                         int signer, uint64_t view, int64_t age_ms, bool changing)
{
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_STATUS;
    m.channel_id = "ch";
    m.sender = (char *)ids[sender];
    m.view = view;
    m.seq = 1;
    m.digest = (ProtobufCBinaryData){32, NODES[sender].b->last_digest};
    m.complaining = true;
    m.view_changing = changing;
    m.timestamp_ms = (uint64_t)((int64_t)clock_wall_ms() - age_ms);
    list[*n] = arena_alloc(a, sizeof **list);
    assert_int_equal(pbft_sign(&m, keys[signer], a, list[*n]), STELE_OK);
    (*n)++;
}
static void carried_complaint(struct arena *a, Stele__PbftSigned **list, size_t *n, int sender,
                              uint64_t view, int64_t age_ms)
{
    complaint_as(a, list, n, sender, sender, view, age_ms, false);
}

/* o2's VIEW-CHANGE `m` for `view`, carrying `list`, re-signed and handled by the others. */
static void send_vc2(Stele__PbftMessage *m, uint64_t view, Stele__PbftSigned **list, size_t n)
{
    m->view = view;
    m->view_change->complaints = list;
    m->view_change->n_complaints = n;
    struct buf w;
    forge(2, m, NULL, 0, &w);
    for (int i = 0; i < N; i++)
        if (i != 2)
            pbft_handle_bytes(NODES[i].b, w.data, w.len);
    buf_release(&w);
}

/* Nobody but o2 has left view 0, and nobody proved a quorum complained. */
static void still_in_view0(void)
{
    all_in_view(0, 2);
    for (int i = 0; i < N; i++)
        if (i != 2) {
            assert_false(NODES[i].b->complaining);
            assert_int_equal(NODES[i].b->proven_view, 0);
        }
}

/* Faulty o2 leaves view 0 alone, and each of its VIEW-CHANGEs carries its own complaint and
 * o3's, both valid, and a third that proves nothing: o1's about another
 * view, o1's while between views, one "of o1's" that o2 signed, o3's again, o1's 25 s before the
 * others (complaints withdrawn and gathered over time); or all three 31 s old, or all a minute
 * ahead. The others count o2 alone and stay in view 0. One carrying more complaints than there are
 * orderers, or a complaint with a block, is refused. With a valid third, they leave. */
static void complaints_a_view_change_cannot_prove(void **state)
{
    (void)state;
    one_block_in();
    buf_init(&vc2);
    on_send = capture_vc2;
    pbft_start_view_change(NODES[2].b, 1, "sim: faulty o2 leaves");
    on_send = NULL;
    drop_all();
    assert_true(vc2.len > 0);

    struct arena *a = arena_create(0);
    Stele__PbftSigned *s =
        (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, vc2.data, vc2.len, 0);
    Stele__PbftMessage *m = (Stele__PbftMessage *)pb_unpack(&stele__pbft_message__descriptor, a,
                                                            s->message.data, s->message.len, 0);
    Stele__PbftSigned *list[5];
    uint64_t view = 1;
    for (int k = 0; k < 7; k++) {
        /* all three as old, or as far ahead: only the age of each can refuse them */
        int64_t age = k == 0 ? PBFT_STATUS_MAX_AGE_MS + 1000 : k == 5 ? -60000 : 0;
        size_t n = 0;
        carried_complaint(a, list, &n, 2, 0, age);
        carried_complaint(a, list, &n, 3, 0, age);
        switch (k) {
        case 0:
            carried_complaint(a, list, &n, 1, 0, age);
            break;
        case 1:
            carried_complaint(a, list, &n, 1, 5, 0);
            break;
        case 2:
            complaint_as(a, list, &n, 1, 1, 0, 0, true);
            break;
        case 3:
            complaint_as(a, list, &n, 1, 2, 0, 0, false);
            break;
        case 4:
            carried_complaint(a, list, &n, 3, 0, 0);
            break;
        case 5:
            carried_complaint(a, list, &n, 1, 0, age);
            break;
        case 6:
            carried_complaint(a, list, &n, 1, 0, 25000);
            break;
        }
        send_vc2(m, view, list, n);
        assert_int_equal(NODES[0].b->vcs[2].view, view); /* taken: o2's own complaint */
        view++;
        still_in_view0();
    }

    size_t n = 0;
    for (int i = 0; i < 5; i++)
        carried_complaint(a, list, &n, 1, 0, 0);
    send_vc2(m, view, list, n);
    assert_int_equal(NODES[0].b->vcs[2].view, view - 1); /* refused */

    n = 0;
    carried_complaint(a, list, &n, 1, 0, 0);
    carried_complaint(a, list, &n, 3, 0, 0);
    carried_complaint(a, list, &n, 2, 0, 0);
    list[1]->block = (ProtobufCBinaryData){4, (uint8_t *)"pad!"};
    send_vc2(m, view, list, n);
    assert_int_equal(NODES[0].b->vcs[2].view, view - 1); /* refused */
    still_in_view0();

    list[1]->block = (ProtobufCBinaryData){0, NULL};
    send_vc2(m, view, list, n);
    for (int i = 0; i < N; i++)
        if (i != 2)
            assert_true(NODES[i].b->view >= 1 && NODES[i].b->vcs[2].view == view);
    arena_destroy(a);
    buf_release(&vc2);
}

/* Orderer `who`'s complaining STATUS about `view`, dated `ahead_ms` from now. */
static Stele__PbftMessage complaining_status(int who, uint64_t view, int64_t ahead_ms)
{
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_STATUS;
    m.view = view;
    m.seq = NODES[who].b->last_exec;
    m.digest = (ProtobufCBinaryData){32, NODES[who].b->last_digest};
    m.complaining = true;
    m.timestamp_ms = (uint64_t)((int64_t)clock_wall_ms() + ahead_ms);
    return m;
}

/* `m` signed by orderer `who`, handled by o`to`. */
static void status_to(int who, int to, Stele__PbftMessage *m)
{
    struct buf w;
    forge(who, m, NULL, 0, &w);
    pbft_handle_bytes(NODES[to].b, w.data, w.len);
    buf_release(&w);
}

/* Orderer `who` tells o`to` it complains about `view`. */
static void complaint_to(int who, int to, uint64_t view)
{
    Stele__PbftMessage m = complaining_status(who, view, 5);
    status_to(who, to, &m);
}

/* Faulty o2 tells o3 alone that it complains, in a STATUS dated an hour ahead: o3 does not
 * count it (it could not show it in a VIEW-CHANGE: the others would find it too far from the
 * complaints beside it, and o3 would have left alone). */
static void a_complaint_dated_far_ahead_is_not_counted(void **state)
{
    (void)state;
    one_block_in();
    Stele__PbftMessage m = complaining_status(2, 0, 3600000);
    status_to(2, 3, &m);
    assert_int_equal(NODES[3].b->complaint[2], 0);
    m = complaining_status(2, 0, -PBFT_COMPLAINT_SKEW_MS - 1000); /* nor long delayed */
    NODES[3].b->status_ts[2] = 0;
    status_to(2, 3, &m);
    assert_int_equal(NODES[3].b->complaint[2], 0);
    m = complaining_status(2, 0, 0); /* near our clock: counted */
    status_to(2, 3, &m);
    assert_int_equal(NODES[3].b->complaint[2], 1);
}

/* Faulty o2's complaining STATUS, padded: an unknown field around the signed message is not
 * kept (o0 keeps message and signature only), and a STATUS whose signed message itself is
 * padded (with a view change, which a STATUS does not use) is counted but not kept, so o0's
 * own VIEW-CHANGE never carries the padding. */
static void a_padded_complaint_is_not_carried(void **state)
{
    (void)state;
    one_block_in();
    Stele__PbftMessage m = complaining_status(2, 0, 10);
    struct buf w;
    forge(2, &m, NULL, 0, &w);
    size_t plain = w.len;
    static uint8_t pad[4096];
    const uint8_t tag[] = {0xa2, 0x01, 0x80, 0x20}; /* field 20, length-delimited, 4096 */
    buf_append(&w, tag, sizeof tag);
    buf_append(&w, pad, sizeof pad);
    pbft_handle_bytes(NODES[0].b, w.data, w.len);
    buf_release(&w);
    assert_int_equal(NODES[0].b->complaint[2], 1);
    assert_int_equal(NODES[0].b->complaint_signed[2].len, plain);

    Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT; /* a field PBFT defines */
    vc.last_block = (ProtobufCBinaryData){sizeof pad, pad};
    m.view_change = &vc;
    m.timestamp_ms = clock_wall_ms() + 20;
    status_to(2, 0, &m);
    assert_int_equal(NODES[0].b->complaint[2], 1);
    assert_int_equal(NODES[0].b->complaint_signed[2].len, 0);
}

static bool not_nv_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return !(t == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_NEW_VIEW);
}
static bool vc_from0_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return f == 0 && t == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}
static bool nv_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return t == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_NEW_VIEW;
}

static void drop_all_but_nv_to3(void)
{
    for (size_t q = 0; q < nq; q++)
        if (!nv_to3(Q[q].from, Q[q].to, Q[q].data, Q[q].len))
            Q[q].gone = true;
}

/* o3 is still waiting for view 1's NEW-VIEW when o0's VIEW-CHANGE for view 2 arrives, carrying
 * a quorum of complaints about view 1: once view 1 starts for o3, it counts them and leaves
 * too (they were not counted while it was between views, and its sender does not send that
 * VIEW-CHANGE to it again). */
static void complaints_held_while_between_views_count_when_the_view_starts(void **state)
{
    (void)state;
    one_block_in();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: everyone leaves view 0");
    deliver(not_nv_to3);
    all_in_view(1, 3);
    assert_false(NODES[3].b->active);
    drop_all_but_nv_to3();
    complaint_to(1, 0, 1);
    complaint_to(2, 0, 1);
    assert_int_equal(NODES[0].b->view, 2); /* o1, o2 and itself */
    deliver(vc_from0_to3);
    assert_int_equal(NODES[3].b->view, 1);
    assert_false(NODES[3].b->active);
    deliver(nv_to3);
    assert_int_equal(NODES[3].b->view, 2);
    drop_all();
}
/* The PRE-PREPAREs orderer `from` sent to `to` in Q[since..]. */
static size_t pre_prepares_sent(size_t since, size_t from, size_t to)
{
    size_t n = 0;
    for (size_t q = since; q < nq; q++)
        n += Q[q].from == from && Q[q].to == to &&
             type_of(Q[q].data, Q[q].len) == STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
    return n;
}

/* o1 shows the primary's second block 2 to the other backups (o2, o3), not to the primary
 * that signed it, and once per block: a third one is not relayed again. Its STATUS
 * timestamps keep increasing even when its clock went back. */
static void proof_goes_to_the_backups_once_per_block(void **state)
{
    (void)state;
    one_block_in();
    commit_block(2, 0);
    drop_all();
    size_t since = nq;
    struct buf w;
    forged_pre_prepare(2, 2, NODES[0].hashes[0], 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    assert_true(NODES[1].b->complaining);
    assert_int_equal(pre_prepares_sent(since, 1, 0), 0);
    assert_int_equal(pre_prepares_sent(since, 1, 2), 1);
    assert_int_equal(pre_prepares_sent(since, 1, 3), 1);
    forged_pre_prepare(2, 2, NODES[0].hashes[0], 78, &w); /* yet another block 2 */
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    assert_int_equal(pre_prepares_sent(since, 1, 2), 1);
    assert_int_equal(pre_prepares_sent(since, 1, 3), 1);

    uint64_t ahead = clock_wall_ms() + 60000; /* its clock is set back a minute */
    NODES[1].b->status_ts_sent = ahead;
    pbft_send_status(NODES[1].b);
    assert_int_equal(NODES[1].b->status_ts_sent, ahead + 1);
    pbft_send_status(NODES[1].b);
    assert_int_equal(NODES[1].b->status_ts_sent, ahead + 2);
    drop_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(a_view_change_carries_the_complaints_that_made_it, teardown_all),
        cmocka_unit_test_teardown(complaints_a_view_change_cannot_prove, teardown_all),
        cmocka_unit_test_teardown(a_complaint_dated_far_ahead_is_not_counted, teardown_all),
        cmocka_unit_test_teardown(a_padded_complaint_is_not_carried, teardown_all),
        cmocka_unit_test_teardown(complaints_held_while_between_views_count_when_the_view_starts,
                                  teardown_all),
        cmocka_unit_test_teardown(proof_goes_to_the_backups_once_per_block, teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
