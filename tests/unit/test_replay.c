/* test_replay.c — the signed requests a server remembers (lib/identity/replay.h): each taken
 * once per signer; a full cache lets the oldest go and refuses requests dated at or before it
 * from then on; requests past the window make room without raising that floor. */
#include "base/status.h"
#include "identity/replay.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define WINDOW 300000ull /* 5 min */
#define NOW    1800000000000ull

static struct signed_request req(uint8_t signer, uint32_t n, uint64_t ts)
{
    struct signed_request r;
    memset(&r, 0, sizeof r);
    r.signer.certhash[0] = signer;
    memcpy(r.nonce, &n, sizeof n);
    r.timestamp_ms = ts;
    return r;
}

static void each_request_is_taken_once_per_signer(void **state)
{
    (void)state;
    struct replay_cache *c = replay_cache_create(64, WINDOW, 0);
    assert_non_null(c);
    struct signed_request a = req(1, 7, NOW), b = req(2, 7, NOW);
    assert_int_equal(replay_cache_claim(c, &a, NOW), STELE_OK);
    assert_int_equal(replay_cache_claim(c, &a, NOW + 10), STELE_ERR_REPLAY);
    assert_int_equal(replay_cache_claim(c, &b, NOW), STELE_OK); /* same nonce, other signer */
    for (uint32_t n = 100; n < 160; n++) { /* fills it: a and b stay (64) until 62 more */
        struct signed_request r = req(3, n, NOW + n);
        assert_int_equal(replay_cache_claim(c, &r, NOW + 200), STELE_OK);
    }
    replay_cache_destroy(c);
}

static void a_full_cache_refuses_what_it_can_no_longer_tell(void **state)
{
    (void)state;
    struct replay_cache *c = replay_cache_create(16, WINDOW, 0);
    for (uint32_t n = 0; n < 16; n++) {
        struct signed_request r = req(1, n, NOW + n);
        assert_int_equal(replay_cache_claim(c, &r, NOW + 100), STELE_OK);
    }
    for (uint32_t n = 0; n < 16; n++) { /* all remembered */
        struct signed_request r = req(1, n, NOW + n);
        assert_int_equal(replay_cache_claim(c, &r, NOW + 100), STELE_ERR_REPLAY);
    }
    /* a 17th: request 0 (dated NOW) gives way; its replay is refused as too old */
    struct signed_request r16 = req(1, 16, NOW + 16), r0 = req(1, 0, NOW);
    assert_int_equal(replay_cache_claim(c, &r16, NOW + 100), STELE_OK);
    assert_int_equal(replay_cache_claim(c, &r0, NOW + 100), STELE_ERR_EXPIRED);
    /* and so is any new request dated at or before it; later ones are taken */
    struct signed_request late = req(2, 1, NOW), fresh = req(2, 2, NOW + 50);
    assert_int_equal(replay_cache_claim(c, &late, NOW + 100), STELE_ERR_EXPIRED);
    assert_int_equal(replay_cache_claim(c, &fresh, NOW + 100), STELE_OK);
    /* the rest is still told apart after the table moved */
    for (uint32_t n = 3; n < 17; n++) {
        struct signed_request r = req(1, n, NOW + n);
        assert_int_equal(replay_cache_claim(c, &r, NOW + 100), STELE_ERR_REPLAY);
    }
    replay_cache_destroy(c);
}

static void requests_past_the_window_make_room(void **state)
{
    (void)state;
    struct replay_cache *c = replay_cache_create(16, WINDOW, 0);
    for (uint32_t n = 0; n < 16; n++) {
        struct signed_request r = req(1, n, NOW);
        assert_int_equal(replay_cache_claim(c, &r, NOW), STELE_OK);
    }
    /* six minutes on, every one of them is past the window: they make room for sixteen new
     * ones (dated alike) without any of those refused as too old, and are told apart still */
    uint64_t later = NOW + WINDOW + 60000;
    for (int round = 0; round < 2; round++)
        for (uint32_t n = 100; n < 116; n++) {
            struct signed_request r = req(1, n, later - 1000);
            assert_int_equal(replay_cache_claim(c, &r, later), round ? STELE_ERR_REPLAY : STELE_OK);
        }
    replay_cache_destroy(c);
}

/* A server that restarts forgets what it took: created with its start as the floor, the cache
 * refuses whatever was signed at or before it, and takes what was signed after. */
static void requests_signed_before_the_start_are_refused(void **state)
{
    (void)state;
    struct replay_cache *c = replay_cache_create(16, WINDOW, NOW);
    struct signed_request before = req(1, 1, NOW - 1000), at = req(1, 2, NOW),
                          after = req(1, 3, NOW + 1);
    assert_int_equal(replay_cache_claim(c, &before, NOW + 10), STELE_ERR_EXPIRED);
    assert_int_equal(replay_cache_claim(c, &at, NOW + 10), STELE_ERR_EXPIRED);
    assert_int_equal(replay_cache_claim(c, &after, NOW + 10), STELE_OK);
    assert_int_equal(replay_cache_claim(c, &after, NOW + 10), STELE_ERR_REPLAY);
    replay_cache_destroy(c);
}

/* A request may be dated at most REPLAY_MAX_AHEAD_MS ahead of the server's clock. */
static void requests_dated_far_ahead_are_refused(void **state)
{
    (void)state;
    struct replay_cache *c = replay_cache_create(16, WINDOW, 0);
    struct signed_request near = req(1, 1, NOW + REPLAY_MAX_AHEAD_MS),
                          far = req(1, 2, NOW + REPLAY_MAX_AHEAD_MS + 1);
    assert_true(replay_too_far_ahead(far.timestamp_ms, NOW));
    assert_false(replay_too_far_ahead(near.timestamp_ms, NOW));
    assert_int_equal(replay_cache_claim(c, &far, NOW), STELE_ERR_EXPIRED);
    assert_int_equal(replay_cache_claim(c, &near, NOW), STELE_OK);
    replay_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_request_is_taken_once_per_signer),
        cmocka_unit_test(a_full_cache_refuses_what_it_can_no_longer_tell),
        cmocka_unit_test(requests_past_the_window_make_room),
        cmocka_unit_test(requests_signed_before_the_start_are_refused),
        cmocka_unit_test(requests_dated_far_ahead_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
