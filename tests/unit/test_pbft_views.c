/* test_pbft_views.c — an orderer that restarts or falls behind gets back into the others'
 * view (test_pbft_sim.h), from the review of 2026-12-05 evening (docs/CONSENSUS.md, "A replica
 * left alone in a view"). PBFT never moves a replica down a view: one that leaves for a view
 * the others never start stays out of the voting, and the network, still ordering with the
 * other three, no longer survives one more fault. Each scenario ends with that fault. */
#include "test_pbft_scenes.h"

static bool among123(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 0 && t != 0;
}
static bool vc_from23_to0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return t == 0 && (f == 2 || f == 3) && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}
static bool status_from23_to0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return t == 0 && (f == 2 || f == 3) && type_of(d, l) == STELE__PBFT_TYPE__PBFT_STATUS;
}

/* The old primary restarts; the others' VIEW-CHANGEs for view 1, queued while it was down,
 * reach it before the NEW-VIEW (its link from o1 reconnects last): it leaves view 0 for view 1
 * on f+1 of them and starts its NEW-VIEW timer. Its STATUS from o2 and o3 says they run view
 * 1. When the timer runs out it must wait on, not leave for view 2, where nobody would follow
 * (it stayed there for good, ignoring view 1's NEW-VIEW and blocks); the NEW-VIEW arrives, it
 * votes again, and block 4 commits although o3 then fails. */
static void stale_view_changes_do_not_strand_a_restarted_orderer(void **state)
{
    (void)state;
    down = -1; /* whatever a failed scenario before left */
    setup_all(NULL);
    commit_block(1, 0);
    drop_all();
    down = 0; /* o0, the primary of view 0, crashes */
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(among123);
    for (int i = 1; i < N; i++)
        assert_true(NODES[i].b->active && NODES[i].b->view == 1);

    /* o0 is back: the backlog from o2 and o3 first */
    deliver(vc_from23_to0);
    assert_int_equal(NODES[0].b->view, 1);
    assert_false(NODES[0].b->active);
    for (int i = 2; i < N; i++)
        pbft_send_status(NODES[i].b);
    deliver(status_from23_to0);
    uint64_t t = pbft_now();
    pbft_view_tick(NODES[0].b, t);        /* a quorum of VIEW-CHANGEs: the timer starts */
    pbft_view_tick(NODES[0].b, t + 2500); /* and runs out (2 s): no NEW-VIEW yet */
    assert_int_equal(NODES[0].b->view, 1);

    down = -1;
    deliver(up); /* the rest of the backlog, o1's NEW-VIEW for view 1 among it */
    assert_int_equal(NODES[0].b->view, 1);
    assert_true(NODES[0].b->active);
    commit_block(2, 1);
    assert_int_equal(NODES[0].n, 2);

    down = 3; /* one more fault: o0, o1 and o2 are a quorum */
    commit_block(3, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(NODES[i].n, 3);
    down = -1;
    assert_no_fork();
}

/* o3 left view 0 for view 1 with the others but missed their NEW-VIEW. When it reports, by
 * STATUS, that it is still changing to the view the others run, they hand it their NEW-VIEW
 * (before, only a STATUS of an older view got it), and it votes again. */
static void a_peer_still_changing_to_our_view_is_shown_its_new_view(void **state)
{
    (void)state;
    down = -1; /* whatever a failed scenario before left */
    setup_all(NULL);
    commit_block(1, 0);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    down = 3;
    deliver(up); /* o0..o2 start view 1; o3 misses it all */
    for (int i = 0; i < 3; i++)
        assert_true(NODES[i].b->active && NODES[i].b->view == 1);
    drop_all();
    down = -1;
    assert_false(NODES[3].b->active);
    pbft_send_status(NODES[3].b); /* view 1, changing */
    deliver(up);
    assert_int_equal(NODES[3].b->view, 1);
    assert_true(NODES[3].b->active);

    down = 0; /* one more fault: o1, o2 and o3 are a quorum */
    commit_block(2, 1);
    for (int i = 1; i < N; i++)
        assert_int_equal(NODES[i].n, 2);
    down = -1;
    assert_no_fork();
}

/* Envelope k reaches orderer i alone, and its request timer runs out: it forwards the envelope
 * to the others half-way (lost: a lossy link), then complains. */
static void lone_timeout(int i, int k)
{
    if (T < pbft_now())
        T = pbft_now();
    pool_env(i, k);
    pbft_request_tick(NODES[i].b, T); /* its oldest from now on */
    T += 2500;                        /* request_timeout is 2 s */
    pbft_request_tick(NODES[i].b, T);
    deliver(no_forward);
    for (size_t q = 0; q < nq; q++)
        if (type_of(Q[q].data, Q[q].len) == STELE__PBFT_TYPE__PBFT_FORWARD)
            Q[q].gone = true;
}

/* o3 alone holds an envelope the primary never gets (its forward is lost): its request timer
 * runs out. It complains but stays in view 0 and votes: when o2 then fails, o0, o1 and o3 are
 * a quorum and block 2 commits. (Before, o3 left for view 1 alone and stayed there, and the
 * network stopped at o2's failure: pbft-protocol.md, S-2.) */
static void a_lone_request_timeout_does_not_strand_a_backup(void **state)
{
    (void)state;
    one_block_in();
    lone_timeout(3, 50);
    assert_true(NODES[3].b->complaining);
    all_in_view(0, -1);
    assert_int_equal(NODES[0].b->complaint[3], 1); /* its STATUS said so: about view 0 */

    down = 2;
    commit_block(2, 0);
    assert_int_equal(NODES[0].n, 2);
    assert_int_equal(NODES[1].n, 2);
    assert_int_equal(NODES[3].n, 2);
    down = -1;
    assert_no_fork();
}

/* A second orderer's timer runs out too: with f+1 complaints the other two complain as well,
 * a quorum complains, and every orderer, the primary included, moves to view 1, where blocks
 * commit again. */
static void f_plus_one_complaints_change_the_view(void **state)
{
    (void)state;
    one_block_in();
    lone_timeout(3, 50);
    assert_int_equal(NODES[3].b->view, 0);
    lone_timeout(1, 51);
    deliver(up);
    all_in_view(1, -1);
    commit_block(2, 1); /* o1 may have proposed its envelope 51 at once: 2 or 3 blocks */
    assert_true(NODES[1].n >= 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(NODES[i].n, NODES[1].n);
    assert_no_fork();
}

/* o3 complains; then its link recovers, the envelope is ordered and its timer no longer runs
 * out: it withdraws the complaint. Another lone complaint later (o1's) is alone again and
 * changes nothing: an old complaint does not add up with a new one. */
static void a_complaint_is_withdrawn_when_blocks_are_ordered(void **state)
{
    (void)state;
    one_block_in();
    lone_timeout(3, 50);
    assert_true(NODES[3].b->complaining);
    pbft_request_tick(NODES[3].b, T += 20); /* it forwards again, and now the link works */
    deliver(up);                            /* o0 orders envelope 50 */
    assert_int_equal(NODES[3].n, 2);
    pool_env_at(3, 60, T); /* a new envelope reaches o3: its timer has just started */
    pbft_request_tick(NODES[3].b, T + 100);
    assert_false(NODES[3].b->complaining);
    deliver(up);
    assert_int_equal(NODES[1].b->complaint[3], 0);

    lone_timeout(1, 51);
    assert_true(NODES[1].b->complaining);
    all_in_view(0, -1);
    assert_no_fork();
}

/* o3's forward is lost for good (not delayed): when it complains, it forwards its envelopes
 * again, the primary orders the envelope, and the complaint is withdrawn. (Forwarded once
 * only, the envelope would have kept it complaining in every view.) */
static void a_complaint_forwards_the_envelopes_again(void **state)
{
    (void)state;
    one_block_in();
    lone_timeout(3, 50); /* its forward is lost */
    assert_true(NODES[3].b->complaining);
    pbft_request_tick(NODES[3].b, T += 20);
    deliver(up);
    assert_int_equal(NODES[3].n, 2); /* o0 ordered envelope 50 */
    pbft_request_tick(NODES[3].b, T += 20);
    assert_false(NODES[3].b->complaining);
}

/* o1 left view 0 alone earlier (its VIEW-CHANGE for view 1 is held by the others, too few to
 * follow). When o3's request timer later runs out alone, the others count o1 as complaining
 * about view 0 (it has left it): f+1, so o0 joins, a quorum complains, and o0, o1 and o3 meet
 * in view 1 — they order even with o2 down. Counting complaints only, o1 would have stayed
 * stranded, and o2's failure would have stopped the network. */
static void an_orderer_that_left_counts_as_complaining(void **state)
{
    (void)state;
    one_block_in();
    pbft_start_view_change(NODES[1].b, 1, "sim: a lone timeout before complaints");
    deliver(up);
    for (int i = 0; i < N; i++)
        assert_int_equal(NODES[i].b->view, i == 1 ? 1 : 0);
    down = 2;
    lone_timeout(3, 50);
    deliver(up);
    all_in_view(1, 2);
    commit_block(2, 1);
    assert_true(NODES[1].n >= 2);
    assert_int_equal(NODES[0].n, NODES[1].n);
    assert_int_equal(NODES[3].n, NODES[1].n);
    down = -1;
    assert_no_fork();
}

/* o2's signed STATUS at o`to`: view 0, complaining (a faulty orderer says so to one only). */
static void byzantine_complaint(int to)
{
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_STATUS;
    m.view = 0;
    m.seq = NODES[2].b->last_exec;
    m.digest = (ProtobufCBinaryData){32, NODES[2].b->last_digest};
    m.complaining = true;
    m.timestamp_ms = clock_wall_ms() + 50; /* newer than its heartbeats, near our clock */
    struct buf w;
    forge(2, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[to].b, w.data, w.len);
    buf_release(&w);
}

/* o3 complains alone; faulty o2 tells o1 only that it complains too, then falls silent. o1,
 * with f+1 complaints, complains as well; o0 then holds f+1 and joins; o3 and o1 hold a quorum
 * and leave, and so does o0: nobody is left behind in view 1 (had o1 left on f+1 alone, it
 * would have waited there forever, o2 silent and o0 and o3 ordering on without a quorum). */
static void a_faulty_complaint_strands_nobody(void **state)
{
    (void)state;
    one_block_in();
    lone_timeout(3, 50);
    down = 2;
    byzantine_complaint(1);
    deliver(up);
    all_in_view(1, 2);
    commit_block(2, 1);
    assert_true(NODES[0].n >= 2);
    assert_int_equal(NODES[0].n, NODES[1].n);
    assert_int_equal(NODES[3].n, NODES[1].n);
    down = -1;
    assert_no_fork();
}

static struct buf captured; /* o3's complaining STATUS, as it left */
static void capture_complaint(size_t from, size_t to, const uint8_t *d, size_t l)
{
    if (from == 3 && to == 0 && !captured.len && type_of(d, l) == STELE__PBFT_TYPE__PBFT_STATUS)
        buf_append(&captured, d, l);
}

/* A complaint stops counting when its sender withdraws it (a faulty orderer replaying the old
 * complaining STATUS does not revive it) or falls silent (a stopped orderer's last complaint is
 * not counted for ever): neither adds up with a later lone complaint. */
static void old_and_replayed_complaints_do_not_count(void **state)
{
    (void)state;
    one_block_in();
    buf_init(&captured);
    on_send = capture_complaint;
    lone_timeout(3, 50);
    on_send = NULL;
    assert_true(captured.len > 0);
    assert_int_equal(NODES[0].b->complaint[3], 1);
    pbft_request_tick(NODES[3].b, T += 20); /* it forwards again, and now the link works */
    deliver(up);                            /* o0 orders envelope 50 */
    assert_int_equal(NODES[3].n, 2);
    pbft_request_tick(NODES[3].b, T += 20); /* withdrawn */
    assert_false(NODES[3].b->complaining);
    deliver(up);
    assert_int_equal(NODES[0].b->complaint[3], 0);
    pbft_handle_bytes(NODES[0].b, captured.data, captured.len); /* replayed */
    assert_int_equal(NODES[0].b->complaint[3], 0);
    buf_release(&captured);

    /* o0 restarted (it remembers no STATUS): a complaining STATUS of o3's a minute old is a
     * replay all the same */
    NODES[0].b->status_ts[3] = 0;
    Stele__PbftMessage old = STELE__PBFT_MESSAGE__INIT;
    old.type = STELE__PBFT_TYPE__PBFT_STATUS;
    old.seq = NODES[3].b->last_exec;
    old.digest = (ProtobufCBinaryData){32, NODES[3].b->last_digest};
    old.complaining = true;
    old.timestamp_ms = clock_wall_ms() - 60000;
    struct buf w;
    forge(3, &old, NULL, 0, &w);
    pbft_handle_bytes(NODES[0].b, w.data, w.len);
    buf_release(&w);
    assert_int_equal(NODES[0].b->complaint[3], 0);
    /* o3's clock ran ten minutes fast before it was set right: its STATUS still counts */
    NODES[0].b->status_ts[3] = clock_wall_ms() + 600000;
    old.timestamp_ms = clock_wall_ms() - 1000; /* (before o3's own next STATUS, below) */
    forge(3, &old, NULL, 0, &w);
    pbft_handle_bytes(NODES[0].b, w.data, w.len);
    buf_release(&w);
    assert_int_equal(NODES[0].b->complaint[3], 1);
    old.complaining = false; /* and withdrawn again */
    old.timestamp_ms = clock_wall_ms() - 500;
    forge(3, &old, NULL, 0, &w);
    pbft_handle_bytes(NODES[0].b, w.data, w.len);
    buf_release(&w);
    assert_int_equal(NODES[0].b->complaint[3], 0);

    /* o3 complains again, then stops; a while later o1 complains alone */
    lone_timeout(3, 51);
    assert_int_equal(NODES[0].b->complaint[3], 1);
    for (int i = 0; i < N; i++)
        NODES[i].b->complaint_at[3] -= PBFT_COMPLAINT_FRESH_MS + 1000; /* silent since */
    down = 3;
    lone_timeout(1, 52);
    deliver(up);
    all_in_view(0, 3);
    assert_false(NODES[0].b->complaining);
    assert_false(NODES[2].b->complaining);
    down = -1;
}

/* After block 2 committed, o1 gets another PRE-PREPARE the primary signed for block 2. That is
 * proof of equivocation the others never saw: o1 complains for the rest of the view (blocks
 * ordered since do not withdraw it) and shows it to the other backups, who complain too; the
 * view changes. */
static void equivocation_seen_after_the_commit_replaces_the_primary(void **state)
{
    (void)state;
    one_block_in();
    commit_block(2, 0);
    struct buf w;
    forged_pre_prepare(2, 2, NODES[0].hashes[0], 0, &w); /* another block 2: no envelopes */
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_true(NODES[1].b->complaining);
    assert_true(NODES[1].b->active);
    assert_int_equal(NODES[1].b->view, 0);

    /* its relay lost: alone, it stays in view 0 and votes, and keeps complaining */
    drop_all();
    commit_block(3, 0);
    assert_int_equal(NODES[1].n, 3);
    pbft_request_tick(NODES[1].b, T += 20); /* nothing waits: only proof keeps it */
    assert_true(NODES[1].b->complaining);
    assert_int_equal(NODES[1].b->view, 0);

    /* the next time it sees it, the others do too */
    buf_release(&w);
    forged_pre_prepare(3, 3, NODES[0].hashes[1], 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    deliver(up);
    all_in_view(1, -1);
    assert_no_fork();
}

static bool not_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)d, (void)l;
    return t != 3;
}

/* o0 signs o3 alone another block 2 (envelope 77) than the one o0, o1 and o2 agree on and
 * commit; o3 then takes the certified block 2 by state transfer. The PRE-PREPARE it held is
 * proof of equivocation the others never saw: o3 complains for the rest of the view and shows
 * it to the other backups, who executed the certified block and complain too; the view
 * changes. (Before, executing the fetched block dropped the held PRE-PREPARE unexamined, and a
 * primary could keep one backup out of the voting block after block.) */
static void equivocation_seen_through_state_transfer_replaces_the_primary(void **state)
{
    (void)state;
    one_block_in();
    /* block 2 for o3: envelope 77, signed by o0 */
    struct buf w;
    forged_pre_prepare(2, 2, NODES[0].hashes[0], 77, &w);
    pbft_handle_bytes(NODES[3].b, w.data, w.len);
    assert_true(NODES[3].b->slot.have_pp);
    assert_false(NODES[3].b->complaining);
    /* the others agree on block 2 (envelope 2) without o3 */
    for (int i = 0; i < 3; i++)
        pool_env(i, 2);
    pbft_maybe_propose(NODES[0].b);
    deliver(not_to3);
    drop_all();
    assert_int_equal(NODES[0].n, 2);
    assert_int_equal(NODES[3].n, 1);
    /* o3 fetches the certified block 2 */
    struct arena *a = arena_create(0);
    Stele__Block *blk = (Stele__Block *)pb_unpack(
        &stele__block__descriptor, a, NODES[0].blocks[1].data, NODES[0].blocks[1].len, 0);
    uint8_t hash[32];
    const char *why = "";
    assert_int_equal(pbft_block_check(&NODES[3].b->m, a, blk, hash, &why), STELE_OK);
    assert_int_equal(pbft_execute_certified(NODES[3].b, blk, hash), STELE_OK);
    assert_int_equal(NODES[3].n, 2);
    assert_true(NODES[3].b->complaining);
    assert_true(NODES[3].b->complaint_proven);
    deliver(up);
    all_in_view(1, -1);
    assert_no_fork();
    buf_release(&w);
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(stale_view_changes_do_not_strand_a_restarted_orderer,
                                  teardown_all),
        cmocka_unit_test_teardown(a_peer_still_changing_to_our_view_is_shown_its_new_view,
                                  teardown_all),
        cmocka_unit_test_teardown(a_lone_request_timeout_does_not_strand_a_backup, teardown_all),
        cmocka_unit_test_teardown(f_plus_one_complaints_change_the_view, teardown_all),
        cmocka_unit_test_teardown(a_complaint_is_withdrawn_when_blocks_are_ordered, teardown_all),
        cmocka_unit_test_teardown(a_complaint_forwards_the_envelopes_again, teardown_all),
        cmocka_unit_test_teardown(an_orderer_that_left_counts_as_complaining, teardown_all),
        cmocka_unit_test_teardown(a_faulty_complaint_strands_nobody, teardown_all),
        cmocka_unit_test_teardown(old_and_replayed_complaints_do_not_count, teardown_all),
        cmocka_unit_test_teardown(equivocation_seen_after_the_commit_replaces_the_primary,
                                  teardown_all),
        cmocka_unit_test_teardown(equivocation_seen_through_state_transfer_replaces_the_primary,
                                  teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
