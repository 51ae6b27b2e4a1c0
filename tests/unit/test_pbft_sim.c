/* test_pbft_sim.c — four pbft replicas in one process (test_pbft_sim.h): message loss, delay
 * and reordering around view changes, restarts and a Byzantine orderer's messages,
 * deterministically. Each scenario is a way other orderers could fork or stall that a review of
 * this plug-in found; each asserts the outcome a user needs: no two orderers with different
 * blocks at one height, progress with at most f faulty, bounded memory. The scenarios of the
 * review of 2026-12-05 are in test_pbft_byzantine.c and test_pbft_durable.c. */
#include "test_pbft_sim.h"

static bool not_commit_except_to0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return type_of(d, l) != STELE__PBFT_TYPE__PBFT_COMMIT || t == 0;
}
static bool among123_no_votes(size_t f, size_t t, const uint8_t *d, size_t l)
{
    int ty = type_of(d, l);
    return f != 0 && t != 0 && ty != STELE__PBFT_TYPE__PBFT_PREPARE &&
           ty != STELE__PBFT_TYPE__PBFT_COMMIT && ty != STELE__PBFT_TYPE__PBFT_STATUS;
}
static bool among123(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 0 && t != 0;
}

/* o0 commits B alone (the COMMITs to the others are lost); view 1 re-proposes B but fails before
 * anyone prepares again; view 2 must still re-propose B, never a fresh block 1. */
static void prepared_proof_survives_a_failed_view(void **state)
{
    (void)state;
    first_block_with(not_commit_except_to0);
    assert_int_equal(NODES[0].n, 1);
    drop_all();
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(among123_no_votes); /* VIEW-CHANGEs, NEW-VIEW(1); its PREPAREs are lost */
    drop_all();
    pool_env(2, 2); /* o2, primary of view 2, holds another envelope */
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 2, "sim: request timer");
    deliver(among123);
    assert_true(NODES[1].n >= 1); /* B again at height 1 (then o2's own block) */
    assert_no_fork();
}

/* The primary crashes right after proposing: restarted, it holds the very same proposal. */
static void primary_proposal_survives_a_restart(void **state)
{
    (void)state;
    char *dir = test_tmpdir("pbft-sim");
    setup_all(dir);
    pool_env(0, 1);
    pbft_maybe_propose(NODES[0].b);
    assert_true(NODES[0].b->slot.have_pp);
    struct pbft *r = make_node(0, dir);
    assert_int_equal(pbft_restore(r), STELE_OK);
    assert_true(r->slot.have_pp);
    assert_memory_equal(r->slot.digest, NODES[0].b->slot.digest, 32);
    consensus_find("pbft")->destroy(r);
    test_rmtree(dir);
    free(dir);
}

/* A Byzantine orderer (o3) sends an empty NEW-VIEW for a far view it is primary of: ignored. */
static void bogus_new_view_is_ignored(void **state)
{
    (void)state;
    setup_all(NULL);
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    Stele__PbftNewView nv = STELE__PBFT_NEW_VIEW__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_NEW_VIEW;
    m.view = UINT64_MAX - 4; /* = 3 mod 4: o3 is its primary */
    m.new_view = &nv;
    struct buf w;
    forge(3, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_true(NODES[1].b->active);
    assert_int_equal(NODES[1].b->view, 0);
    buf_release(&w);
}

/* o3 pads its COMMITs with 1 MiB: they are dropped, and certificates stay small. */
static void junk_beside_a_vote_is_dropped(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    static uint8_t junk[1 << 20];
    for (bool any = true; any;) {
        any = false;
        for (size_t i = 0; i < nq; i++) {
            if (Q[i].gone)
                continue;
            Q[i].gone = any = true;
            if (Q[i].from == 3 && type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_COMMIT) {
                struct arena *a = arena_create(0);
                Stele__PbftSigned *s = (Stele__PbftSigned *)pb_unpack(
                    &stele__pbft_signed__descriptor, a, Q[i].data, Q[i].len, 0);
                s->block = (ProtobufCBinaryData){sizeof junk, junk};
                struct buf w;
                buf_init(&w);
                pb_pack_buf(&s->base, &w);
                pbft_handle_bytes(NODES[Q[i].to].b, w.data, w.len);
                buf_release(&w);
                arena_destroy(a);
            } else {
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(NODES[i].n, 1); /* o0, o1, o2 commit without o3 */
        assert_true(NODES[i].blocks[0].len < 64 * 1024);
    }
    assert_no_fork();
}

/* o3 floods CHECKPOINTs for far blocks: the real checkpoints still become stable and the
 * primary keeps proposing past the window. */
static void checkpoint_flood_does_not_stop_ordering(void **state)
{
    (void)state;
    setup_params(NULL, 2, 0); /* L = 8: the primary waits for a checkpoint every 4 blocks */
    assert_int_equal(NODES[1].b->ckpt_interval, 2);
    assert_int_equal(NODES[1].b->log_window, 8);
    uint64_t far = 1000000;
    for (int k = 1; k <= 20; k++) {
        for (int i = 0; i < N; i++)
            pool_env(i, k);
        pbft_maybe_propose(NODES[0].b);
        for (bool any = true; any;) {
            any = false;
            for (size_t i = 0; i < nq; i++) {
                if (Q[i].gone)
                    continue;
                Q[i].gone = any = true;
                for (int z = 0;
                     z < 9 && type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_CHECKPOINT;
                     z++) {
                    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
                    uint8_t d[32] = {1};
                    m.type = STELE__PBFT_TYPE__PBFT_CHECKPOINT;
                    m.seq = far;
                    far += 2;
                    m.digest = (ProtobufCBinaryData){32, d};
                    struct buf w;
                    forge(3, &m, NULL, 0, &w);
                    pbft_handle_bytes(NODES[Q[i].to].b, w.data, w.len);
                    buf_release(&w);
                }
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
            }
        }
    }
    assert_int_equal(NODES[1].n, 20);
    assert_true(NODES[1].b->stable >= 16);
    assert_no_fork();
}

static bool commits_only_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return type_of(d, l) != STELE__PBFT_TYPE__PBFT_COMMIT || t == 3;
}
static bool not_to_or_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 3 && t != 3;
}
static bool vcs_and_nv(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t;
    int ty = type_of(d, l);
    return ty == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE || ty == STELE__PBFT_TYPE__PBFT_NEW_VIEW;
}
static bool vc_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)t;
    return f == 3 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}

/* o3 alone commits B, gets its VIEW-CHANGE out and crashes: the others take block 1 from the
 * NEW-VIEW (nobody else holds it) and go on. */
static void block_committed_by_one_then_lost_is_recovered(void **state)
{
    (void)state;
    first_block_with(commits_only_to3);
    assert_int_equal(NODES[3].n, 1);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(vc_from3);
    deliver(vcs_and_nv);
    drop_all(); /* o3 is gone */
    pool_env(1, 2);
    for (int i = 0; i < 3; i++)
        pbft_maybe_propose(NODES[i].b);
    deliver(not_to_or_from3);
    for (int i = 0; i < 3; i++)
        assert_true(NODES[i].n >= 1);
    assert_no_fork();
}

/* Same start, all four alive: the new primary, behind the proven block 1, must not propose a
 * block 1 of its own. */
static void primary_behind_the_new_view_does_not_fork(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pool_env(1, 2);
    pbft_maybe_propose(NODES[0].b);
    deliver(commits_only_to3);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: request timer");
    deliver(vc_from3);
    deliver(vcs_and_nv);
    for (int i = 0; i < N; i++)
        pbft_maybe_propose(NODES[i].b);
    deliver(all);
    assert_no_fork();
    assert_int_equal(NODES[1].n, NODES[3].n);
}

static bool nv_to2_only(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return t == 2 && f == 1;
}
static bool from2_to3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f == 2 && t == 3;
}
static bool no_o0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 0 && t != 0;
}
static bool vcs_no0(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return f != 0 && t != 0 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}

/* o0 is down; o3 gets o2's PREPARE before the NEW-VIEW and drops it: the resent votes finish
 * the block. */
static void votes_lost_before_the_new_view_are_resent(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    for (int i = 1; i < N; i++)
        pbft_start_view_change(NODES[i].b, 1, "sim: o0 is down");
    deliver(vcs_no0);
    deliver(nv_to2_only);
    deliver(from2_to3);
    deliver(no_o0);
    for (int i = 1; i < N; i++)
        pbft_resend_votes(NODES[i].b); /* the timer's second look */
    deliver(no_o0);
    for (int i = 1; i < N; i++)
        assert_int_equal(NODES[i].n, 1);
    assert_no_fork();
}

/* o3, not the primary, sends 300 PRE-PREPAREs for block 2 with 1 MiB each: none is held. */
static void junk_proposals_are_not_held(void **state)
{
    (void)state;
    setup_all(NULL);
    static uint8_t junk[1 << 20];
    for (int k = 0; k < 300; k++) {
        Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
        uint8_t d[32] = {(uint8_t)k};
        m.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
        m.seq = 2;
        m.digest = (ProtobufCBinaryData){32, d};
        struct buf w;
        forge(3, &m, junk, sizeof junk, &w);
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
        buf_release(&w);
    }
    assert_int_equal(NODES[1].b->n_ahead, 0);
}

/* A VIEW-CHANGE whose certificate repeats one COMMIT 20,000 times is refused without checking
 * 20,000 signatures. */
static void oversized_certificate_refused_cheaply(void **state)
{
    (void)state;
    setup_all(NULL);
    struct arena *a = arena_create(0);
    uint8_t d[32] = {7};
    Stele__PbftMessage c = STELE__PBFT_MESSAGE__INIT;
    c.type = STELE__PBFT_TYPE__PBFT_COMMIT;
    c.seq = 5;
    c.digest = (ProtobufCBinaryData){32, d};
    c.channel_id = "ch";
    c.sender = "o3";
    Stele__PbftSigned one;
    assert_int_equal(pbft_sign(&c, keys[3], a, &one), STELE_OK);
    size_t n = 20000;
    Stele__PbftSigned **v = arena_calloc(a, n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = &one;
    Stele__PbftProof pf = STELE__PBFT_PROOF__INIT;
    pf.commits = v;
    pf.n_commits = n;
    Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT;
    vc.last_seq = 5;
    vc.last_digest = (ProtobufCBinaryData){32, d};
    vc.last_proof = &pf;
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
    m.view = 9;
    m.view_change = &vc;
    struct buf w;
    forge(3, &m, NULL, 0, &w);
    uint64_t t0 = clock_mono_ms();
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_false(NODES[1].b->vcs[3].have);
    assert_true(clock_mono_ms() - t0 < 1000); /* 20,000 verifications would take seconds */
    buf_release(&w);
    arena_destroy(a);
}

/* Envelopes in block `num` (>= 1) of orderer i. */
static size_t envelopes_in(int i, size_t num)
{
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, NODES[i].blocks[num - 1].data,
                                  NODES[i].blocks[num - 1].len, 0);
    size_t n = blk && blk->data ? blk->data->n_envelopes : 0;
    arena_destroy(a);
    return n;
}

/* Under load the primary proposes full blocks (max_message_count = 10 here) at once and holds
 * back a block that is not full; a lone envelope is proposed when batch_delay has passed, and
 * batch_timeout still caps the wait. */
static void primary_batches_under_load(void **state)
{
    (void)state;
    setup_all(NULL);
    struct pbft *p = NODES[0].b;
    p->p.cutter.batch_timeout_ms = 120000;
    p->batch_delay = 60000; /* nothing is proposed for being old during this part */
    /* 20 envelopes arrive one after the other, each announced as Broadcast does. */
    for (int k = 1; k <= 20; k++) {
        uint64_t now = pbft_now();
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, now);
        pbft_maybe_propose(p);
        deliver(all);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(NODES[i].n, 2);
        assert_int_equal(envelopes_in(i, 1), 10);
        assert_int_equal(envelopes_in(i, 2), 10);
    }
    /* Five more: not a full block, so the primary waits (and says until when). */
    uint64_t t0 = pbft_now();
    for (int k = 21; k <= 25; k++) {
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, t0);
        pbft_maybe_propose(p);
        deliver(all);
    }
    assert_int_equal(NODES[1].n, 2);
    assert_false(p->slot.have_pp);
    assert_true(p->propose_at >= t0 + 60000 && p->propose_at <= pbft_now() + 60000);
    /* Five more fill the block: proposed at once. */
    for (int k = 26; k <= 30; k++) {
        for (int i = 0; i < N; i++)
            pool_env_at(i, k, pbft_now());
        pbft_maybe_propose(p);
        deliver(all);
    }
    assert_int_equal(NODES[1].n, 3);
    assert_int_equal(envelopes_in(1, 3), 10);

    /* A lone envelope with batch_delay = 100 ms: due at most 100 ms after it arrived, and
     * proposed then (the timer thread calls pbft_maybe_propose() at propose_at). */
    p->batch_delay = 100;
    t0 = pbft_now();
    for (int i = 0; i < N; i++)
        pool_env_at(i, 31, t0);
    pbft_maybe_propose(p);
    if (!p->slot.have_pp) {
        assert_true(p->propose_at > t0 && p->propose_at <= t0 + 100);
        uint64_t now = pbft_now();
        if (p->propose_at > now)
            clock_sleep_ms(p->propose_at - now);
        pbft_maybe_propose(p);
    }
    deliver(all);
    for (int i = 0; i < N; i++) {
        assert_int_equal(NODES[i].n, 4);
        assert_int_equal(envelopes_in(i, 4), 1);
    }

    /* batch_timeout below batch_delay bounds the wait. */
    p->batch_delay = 60000;
    p->p.cutter.batch_timeout_ms = 50;
    t0 = pbft_now();
    for (int i = 0; i < N; i++)
        pool_env_at(i, 32, t0);
    pbft_maybe_propose(p);
    assert_true(p->slot.have_pp || p->propose_at <= t0 + 50);
    assert_no_fork();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(prepared_proof_survives_a_failed_view, teardown_all),
        cmocka_unit_test_teardown(primary_proposal_survives_a_restart, teardown_all),
        cmocka_unit_test_teardown(bogus_new_view_is_ignored, teardown_all),
        cmocka_unit_test_teardown(junk_beside_a_vote_is_dropped, teardown_all),
        cmocka_unit_test_teardown(checkpoint_flood_does_not_stop_ordering, teardown_all),
        cmocka_unit_test_teardown(block_committed_by_one_then_lost_is_recovered, teardown_all),
        cmocka_unit_test_teardown(primary_behind_the_new_view_does_not_fork, teardown_all),
        cmocka_unit_test_teardown(votes_lost_before_the_new_view_are_resent, teardown_all),
        cmocka_unit_test_teardown(junk_proposals_are_not_held, teardown_all),
        cmocka_unit_test_teardown(oversized_certificate_refused_cheaply, teardown_all),
        cmocka_unit_test_teardown(primary_batches_under_load, teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
