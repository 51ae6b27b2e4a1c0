/* test_pbft_scenes.h — what the view-change scenario tests share (test_pbft_views.c,
 * test_pbft_complaints.c): four orderers of the simulation harness (test_pbft_sim.h) that
 * committed block 1, an orderer that is down, the request timers' clock. */
#ifndef STELE_TEST_PBFT_SCENES_H
#define STELE_TEST_PBFT_SCENES_H
#include "test_pbft_sim.h"

static int down = -1; /* an orderer that neither sends nor receives */

static inline bool up(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return (int)f != down && (int)t != down;
}

/* Every orderer proposes block k's envelope; `primary` proposes; everything is delivered. */
static inline void commit_block(int k, int primary)
{
    for (int i = 0; i < N; i++)
        pool_env(i, k);
    pbft_maybe_propose(NODES[primary].b);
    deliver(up);
}

static inline bool no_forward(size_t f, size_t t, const uint8_t *d, size_t l)
{
    return up(f, t, d, l) && type_of(d, l) != STELE__PBFT_TYPE__PBFT_FORWARD;
}

/* Every orderer has heard from the others (a request timer waits for f+1 of them). */
static inline void heartbeats(void)
{
    for (int i = 0; i < N; i++)
        pbft_send_status(NODES[i].b);
    deliver(up);
}

/* Four fresh orderers that committed block 1 in view 0 and heard from one another. */
static inline void one_block_in(void)
{
    down = -1; /* whatever a failed scenario before left */
    setup_all(NULL);
    commit_block(1, 0);
    heartbeats();
}

/* Every orderer but `except` (-1: none) runs view `view`, active. */
static inline void all_in_view(uint64_t view, int except)
{
    for (int i = 0; i < N; i++) {
        if (i == except)
            continue;
        assert_true(NODES[i].b->active);
        assert_int_equal(NODES[i].b->view, view);
    }
}

/* The request timers' clock (monotonic ms): each scenario moves it on by hand. */
static uint64_t T;

#endif
