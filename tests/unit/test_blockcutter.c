/* test_blockcutter.c — the block cutter's rules: count, preferred and absolute sizes, batch
 * timeout, order preservation, and copies that outlive the caller's bytes. */
#include "testutil.h"

#include "base/status.h"
#include "orderer/blockcutter.h"

#include <stdlib.h>
#include <string.h>

static const struct blockcutter_config cfg = {
    .max_message_count = 3,
    .preferred_max_bytes = 100,
    .absolute_max_bytes = 1000,
    .batch_timeout_ms = 50,
};

/* Feeds one envelope of `len` bytes filled with `tag`; returns the number of batches cut. */
static size_t feed(struct blockcutter *bc, uint8_t tag, size_t len, uint64_t now,
                   struct blockcutter_batch out[2])
{
    uint8_t *e = malloc(len);
    memset(e, tag, len);
    size_t n = 99;
    assert_int_equal(blockcutter_ordered(bc, e, len, now, out, &n), STELE_OK);
    memset(e, 0, len); /* the cutter must have copied */
    free(e);
    return n;
}

static void assert_batch(const struct blockcutter_batch *b, const char *tags)
{
    assert_int_equal(b->n, strlen(tags));
    uint64_t bytes = 0;
    for (size_t i = 0; i < b->n; i++) {
        assert_int_equal(b->envs[i].data[0], (uint8_t)tags[i]);
        assert_int_equal(b->envs[i].data[b->envs[i].len - 1], (uint8_t)tags[i]);
        bytes += b->envs[i].len;
    }
    assert_int_equal(b->bytes, bytes);
}

static void config_is_checked(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_config c = cfg;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_OK);
    c.max_message_count = 0;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_ERR_INVALID);
    c = cfg;
    c.absolute_max_bytes = 99;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_ERR_INVALID);
    c = cfg;
    c.batch_timeout_ms = 0;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_ERR_INVALID);
    c = cfg;
    c.preferred_max_bytes = 0;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_ERR_INVALID);
    assert_int_equal(blockcutter_init(&bc, NULL), STELE_ERR_INVALID);
    blockcutter_release(&bc);
}

static void cuts_at_max_message_count(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    assert_int_equal(feed(&bc, 'a', 10, 0, out), 0);
    assert_int_equal(feed(&bc, 'b', 10, 1, out), 0);
    assert_int_equal(blockcutter_pending(&bc), 2);
    assert_int_equal(feed(&bc, 'c', 10, 2, out), 1);
    assert_batch(&out[0], "abc");
    blockcutter_batch_release(&out[0]);
    assert_int_equal(blockcutter_pending(&bc), 0);
    assert_false(blockcutter_deadline(&bc, NULL));
    /* And again: the cutter starts afresh. */
    assert_int_equal(feed(&bc, 'd', 10, 3, out), 0);
    assert_int_equal(feed(&bc, 'e', 10, 3, out), 0);
    assert_int_equal(feed(&bc, 'f', 10, 3, out), 1);
    assert_batch(&out[0], "def");
    blockcutter_batch_release(&out[0]);
    blockcutter_release(&bc);
}

static void max_message_count_one(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    struct blockcutter_config c = cfg;
    c.max_message_count = 1;
    assert_int_equal(blockcutter_init(&bc, &c), STELE_OK);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(feed(&bc, (uint8_t)('a' + i), 7, 0, out), 1);
        char tag[2] = {(char)('a' + i), 0};
        assert_batch(&out[0], tag);
        blockcutter_batch_release(&out[0]);
    }
    blockcutter_release(&bc);
}

static void preferred_bytes_cut_before(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    assert_int_equal(feed(&bc, 'a', 60, 0, out), 0);
    /* 60 + 40 = 100 fits exactly. */
    assert_int_equal(feed(&bc, 'b', 40, 0, out), 0);
    /* 100 + 1 does not: a+b cut, c pending. */
    assert_int_equal(feed(&bc, 'c', 1, 5, out), 1);
    assert_batch(&out[0], "ab");
    blockcutter_batch_release(&out[0]);
    assert_int_equal(blockcutter_pending(&bc), 1);
    /* The timer restarted with c. */
    uint64_t dl;
    assert_true(blockcutter_deadline(&bc, &dl));
    assert_int_equal(dl, 5 + 50);
    /* Filling to the count and overflowing bytes at once: two batches. */
    assert_int_equal(feed(&bc, 'd', 1, 6, out), 0);
    assert_int_equal(feed(&bc, 'e', 99, 7, out), 1);
    assert_batch(&out[0], "cd");
    blockcutter_batch_release(&out[0]);
    assert_int_equal(blockcutter_pending(&bc), 1);
    blockcutter_release(&bc);
}

static void oversize_envelope_alone(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    /* Nothing pending: one batch with only the big one. */
    assert_int_equal(feed(&bc, 'X', 101, 0, out), 1);
    assert_batch(&out[0], "X");
    blockcutter_batch_release(&out[0]);
    /* Something pending: pending first, then the big one, in that order. */
    assert_int_equal(feed(&bc, 'a', 10, 0, out), 0);
    assert_int_equal(feed(&bc, 'b', 10, 0, out), 0);
    assert_int_equal(feed(&bc, 'Y', 1000, 0, out), 2);
    assert_batch(&out[0], "ab");
    assert_batch(&out[1], "Y");
    blockcutter_batch_release(&out[0]);
    blockcutter_batch_release(&out[1]);
    assert_int_equal(blockcutter_pending(&bc), 0);
    blockcutter_release(&bc);
}

static void absolute_max_refused(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    assert_int_equal(feed(&bc, 'a', 10, 0, out), 0);
    uint8_t *big = calloc(1, 1001);
    size_t n = 7;
    assert_int_equal(blockcutter_ordered(&bc, big, 1001, 0, out, &n), STELE_ERR_TOO_BIG);
    assert_int_equal(n, 0);
    assert_int_equal(blockcutter_ordered(&bc, big, 0, 0, out, &n), STELE_ERR_TOO_BIG);
    free(big);
    assert_int_equal(blockcutter_pending(&bc), 1);
    assert_true(blockcutter_cut(&bc, &out[0]));
    assert_batch(&out[0], "a");
    blockcutter_batch_release(&out[0]);
    assert_false(blockcutter_cut(&bc, &out[0]));
    blockcutter_release(&bc);
}

static void batch_timeout(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    struct blockcutter_batch b = {0};
    assert_false(blockcutter_tick(&bc, 1000, &b)); /* nothing pending */
    assert_int_equal(feed(&bc, 'a', 10, 100, out), 0);
    assert_int_equal(feed(&bc, 'b', 10, 140, out), 0); /* does not move the deadline */
    uint64_t dl = 0;
    assert_true(blockcutter_deadline(&bc, &dl));
    assert_int_equal(dl, 150);
    assert_false(blockcutter_tick(&bc, 149, &b));
    assert_true(blockcutter_tick(&bc, 150, &b));
    assert_batch(&b, "ab");
    blockcutter_batch_release(&b);
    assert_false(blockcutter_deadline(&bc, &dl));
    blockcutter_release(&bc);
}

/* Many envelopes of pseudo-random sizes: every one comes out exactly once, in order, and
 * every batch respects the count and size rules. */
static void order_and_invariants(void **state)
{
    (void)state;
    struct blockcutter bc;
    struct blockcutter_batch out[2];
    assert_int_equal(blockcutter_init(&bc, &cfg), STELE_OK);
    uint32_t seed = 12345, next = 0, seen = 0;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = 4 + (seed >> 16) % 130; /* some above preferred (100) */
        uint8_t e[140];
        memset(e, 0, sizeof e);
        memcpy(e, &next, sizeof next);
        next++;
        size_t n;
        assert_int_equal(blockcutter_ordered(&bc, e, len, (uint64_t)i, out, &n), STELE_OK);
        if (i % 97 == 0 && n == 0 && blockcutter_tick(&bc, (uint64_t)i + 50, &out[0]))
            n = 1;
        for (size_t k = 0; k < n; k++) {
            assert_true(out[k].n >= 1 && out[k].n <= cfg.max_message_count);
            assert_true(out[k].n == 1 || out[k].bytes <= cfg.preferred_max_bytes);
            for (size_t j = 0; j < out[k].n; j++) {
                uint32_t v;
                memcpy(&v, out[k].envs[j].data, sizeof v);
                assert_int_equal(v, seen);
                seen++;
            }
            blockcutter_batch_release(&out[k]);
        }
    }
    if (blockcutter_cut(&bc, &out[0])) {
        seen += (uint32_t)out[0].n;
        blockcutter_batch_release(&out[0]);
    }
    assert_int_equal(seen, next);
    blockcutter_release(&bc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_is_checked),       cmocka_unit_test(cuts_at_max_message_count),
        cmocka_unit_test(max_message_count_one),   cmocka_unit_test(preferred_bytes_cut_before),
        cmocka_unit_test(oversize_envelope_alone), cmocka_unit_test(absolute_max_refused),
        cmocka_unit_test(batch_timeout),           cmocka_unit_test(order_and_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
