/* test_pbft_durable.c — what an orderer sends is on disk first (test_pbft_sim.h), from the
 * review of 2026-12-05 (docs/CONSENSUS.md, "Defects found in review"): a vote or VIEW-CHANGE
 * that could not be persisted never leaves, not even with a resend, and a new primary restarted
 * at any instant after its NEW-VIEW left proposes the block that NEW-VIEW re-proposed, never
 * another. */
#include "test_pbft_sim.h"

static bool pp_to1_only(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f;
    return t == 1 && type_of(d, l) == STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
}
static bool no_commits(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t;
    return type_of(d, l) != STELE__PBFT_TYPE__PBFT_COMMIT;
}
static bool only_vcs(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)f, (void)t;
    return type_of(d, l) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
}

/* Messages of `type` from orderer `from` queued so far. */
static size_t sent_by(size_t from, int type)
{
    size_t n = 0;
    for (size_t i = 0; i < nq; i++)
        n += Q[i].from == from && type_of(Q[i].data, Q[i].len) == type;
    return n;
}

/* o1 cannot persist: its PREPARE is neither sent nor counted, and the resend does not send it
 * either; once the disk is back the resend persists and sends it. Then its VIEW-CHANGE: not
 * sent, not resent while persisting fails, sent once it succeeds. */
static void unpersisted_vote_is_never_sent(void **state)
{
    (void)state;
    char *dir = test_tmpdir("pbft-durable");
    setup_all(NULL);
    struct pbft *o1 = NODES[1].b;
    o1->p.data_dir = "/nonexistent-pbft-dir";
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    deliver(pp_to1_only);
    assert_true(o1->slot.have_pp);
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_PREPARE), 0);
    assert_false(o1->slot.prepares[1].have);
    pbft_resend_votes(o1);
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_PREPARE), 0);
    assert_false(o1->slot.prepares[1].have);

    o1->p.data_dir = dir;
    pbft_resend_votes(o1);
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_PREPARE), N - 1);
    assert_true(o1->slot.prepares[1].have);

    pbft_persist_close(o1);
    o1->p.data_dir = "/nonexistent-pbft-dir";
    pbft_start_view_change(o1, 1, "sim");
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_VIEW_CHANGE), 0);
    pbft_view_tick(o1, pbft_now() + 5000);
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_VIEW_CHANGE), 0);
    o1->p.data_dir = dir;
    pbft_view_tick(o1, pbft_now() + 10000);
    assert_int_equal(sent_by(1, STELE__PBFT_TYPE__PBFT_VIEW_CHANGE), N - 1);
    assert_true(o1->my_vc.len > 0);
    consensus_find("pbft")->destroy(o1); /* closes its state files before they go */
    NODES[1].b = NULL;
    test_rmtree(dir);
    free(dir);
}

/* What a restart of o0 finds at the instant its NEW-VIEW for view 4 leaves. */
static char *crash_dir;
static bool crashed;
static uint64_t crash_view, crash_pp_view;
static bool crash_active, crash_have_pp;
static uint8_t crash_digest[32];

static void crash_as_new_view_leaves(size_t from, size_t to, const uint8_t *d, size_t l)
{
    (void)to;
    if (crashed || from != 0 || type_of(d, l) != STELE__PBFT_TYPE__PBFT_NEW_VIEW)
        return;
    crashed = true;
    struct pbft *r = make_node(0, crash_dir);
    assert_int_equal(pbft_restore(r), STELE_OK);
    crash_view = r->view;
    crash_active = r->active;
    crash_have_pp = r->slot.have_pp;
    crash_pp_view = r->slot.pp_view;
    memcpy(crash_digest, r->slot.digest, 32);
    consensus_find("pbft")->destroy(r);
}

/* Everyone prepared block X in view 0; o0, primary of view 4, re-proposes X in its NEW-VIEW.
 * Restarted from what is on disk when that NEW-VIEW leaves, it is in view 4 with X as its
 * proposal for block 1. */
static void new_view_is_persisted_before_it_leaves(void **state)
{
    (void)state;
    crash_dir = test_tmpdir("pbft-durable");
    crashed = false;
    setup_all(crash_dir);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    deliver(no_commits);
    drop_all();
    uint8_t x[32];
    memcpy(x, NODES[0].b->slot.digest, 32);
    on_send = crash_as_new_view_leaves;
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 4, "sim");
    deliver(only_vcs);
    on_send = NULL;
    assert_true(crashed);
    assert_int_equal(crash_view, 4);
    assert_true(crash_active);
    assert_true(crash_have_pp);
    assert_int_equal(crash_pp_view, 4);
    assert_memory_equal(crash_digest, x, 32);
    test_rmtree(crash_dir);
    free(crash_dir);
}

/* A new primary's state holds its NEW-VIEW but not yet its re-proposal as the slot (it was
 * behind that block when the view started): restarted, it takes X from the NEW-VIEW and, given
 * other envelopes, does not propose another block 1 in view 4. */
static void restarted_new_primary_re_proposes_from_its_new_view(void **state)
{
    (void)state;
    char *dir = test_tmpdir("pbft-durable");
    setup_all(dir);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    deliver(no_commits);
    drop_all();
    for (int i = 0; i < N; i++)
        pbft_start_view_change(NODES[i].b, 4, "sim");
    deliver(only_vcs);
    struct pbft *old = NODES[0].b;
    assert_true(old->active && old->view == 4 && old->slot.have_pp);
    uint8_t x[32];
    memcpy(x, old->slot.digest, 32);
    pbft_slot_reset(old);
    assert_int_equal(pbft_persist(old), STELE_OK);
    consensus_find("pbft")->destroy(old);
    struct pbft *r = make_node(0, dir);
    NODES[0].b = r;
    assert_int_equal(pbft_restore(r), STELE_OK);
    assert_true(r->active && r->view == 4);
    pool_env(0, 2);
    pool_env(0, 3);
    pbft_maybe_propose(r);
    assert_true(r->slot.have_pp);
    assert_int_equal(r->slot.pp_view, 4);
    assert_memory_equal(r->slot.digest, x, 32);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(unpersisted_vote_is_never_sent, teardown_all),
        cmocka_unit_test_teardown(new_view_is_persisted_before_it_leaves, teardown_all),
        cmocka_unit_test_teardown(restarted_new_primary_re_proposes_from_its_new_view,
                                  teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
