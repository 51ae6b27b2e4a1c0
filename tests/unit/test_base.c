/* test_base.c — status codes, logging, buffers, hex, arena, clock. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void status_names_and_messages(void **state)
{
    (void)state;
    assert_string_equal(stele_strerror(STELE_OK), "ok");
    assert_string_equal(stele_strerror(STELE_ERR_NOT_FOUND), "not found");
    assert_string_equal(stele_status_name(STELE_ERR_REVOKED), "ERR_REVOKED");
    assert_string_equal(stele_strerror(-9999), "unknown status");
    assert_int_equal(stele_exit_code(STELE_OK), 0);
    assert_int_equal(stele_exit_code(STELE_ERR_PERMISSION), 1);
    assert_int_equal(stele_exit_code(STELE_ERR_UNAVAILABLE), 3);
}

static void log_one_line_per_event(void **state)
{
    (void)state;
    char *dir = test_tmpdir("log");
    char path[512];
    snprintf(path, sizeof path, "%s/x.log", dir);
    assert_int_equal(log_open_file(path), STELE_OK);
    log_set_level(LOG_INFO);
    log_debug("test", "hidden %d", 1);
    log_info("test", "two\nlines %s", "joined");
    log_error("ca", "failed: %s", stele_strerror(STELE_ERR_AUTH));
    /* what a client sent cannot drive the terminal of whoever reads the log */
    log_warn("peer", "id \"%s\"",
             "a\x1b[2J\x07"
             "b\tc\x7f\xc2\x9b"
             "31md\xc3\xa9\x9b"
             "1m\xff\xe2\x82");
    log_close();

    size_t n;
    char *text = test_read_file(path, &n);
    assert_non_null(text);
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, "INFO  test: two lines joined\n"));
    assert_non_null(strstr(text, "ERROR ca: failed: authentication failed\n"));
    assert_non_null(strstr(text, "WARN  peer: id \"a?[2J?b c???31md\xc3\xa9?1m???\"\n"));
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 3);
    free(text);

    enum log_level l;
    assert_int_equal(log_parse_level("WARN", &l), STELE_OK);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_parse_level("loud", &l), STELE_ERR_INVALID);
    assert_int_equal(log_open_file("/nonexistent-dir/x.log"), STELE_ERR_IO);
    test_rmtree(dir);
    free(dir);
}

static void buf_appends_and_hex(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(buf_append(&b, "ab", 2), STELE_OK);
    assert_int_equal(buf_append_u16be(&b, 0x0102), STELE_OK);
    assert_int_equal(buf_append_u64be(&b, 0x0a0b0c0d0e0f1011ull), STELE_OK);
    assert_int_equal(b.len, 12);
    assert_int_equal(get_u64be(b.data + 4), 0x0a0b0c0d0e0f1011ull);
    buf_clear(&b);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i), STELE_OK);
    assert_memory_equal(b.data, "0,1,2,", 6);
    assert_int_equal(b.data[b.len], 0);
    buf_release(&b);
    buf_release(&b); /* idempotent */

    uint8_t bytes[4] = {0xde, 0xad, 0x00, 0x7f}, back[4];
    char hex[9];
    hex_encode(bytes, 4, hex);
    assert_string_equal(hex, "dead007f");
    assert_int_equal(hex_decode("DEAD007F", back, 4), STELE_OK);
    assert_memory_equal(back, bytes, 4);
    assert_int_equal(hex_decode("dead007", back, 4), STELE_ERR_MALFORMED);
    assert_int_equal(hex_decode("dead00zz", back, 4), STELE_ERR_MALFORMED);
    assert_int_equal(buf_append_unhex(&b, "abc"), STELE_ERR_MALFORMED);
    assert_int_equal(buf_append_unhex(&b, "00ff"), STELE_OK);
    assert_int_equal(b.len, 2);
    size_t n;
    uint8_t *p = buf_steal(&b, &n);
    assert_int_equal(n, 2);
    assert_int_equal(p[1], 0xff);
    assert_null(b.data);
    free(p);
}

static void arena_allocates_aligned_and_large(void **state)
{
    (void)state;
    struct arena *a = arena_create(128);
    assert_non_null(a);
    for (int i = 0; i < 100; i++) {
        void *p = arena_alloc(a, (size_t)(i % 7) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    }
    char *big = arena_alloc(a, 100000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 100000);
    assert_string_equal(arena_strdup(a, "hello"), "hello");
    assert_string_equal(arena_printf(a, "%s-%d", "x", 42), "x-42");
    assert_null(arena_calloc(a, SIZE_MAX / 2, 4));
    assert_true(arena_used(a) >= 100000);
    arena_reset(a);
    assert_int_equal(arena_used(a), 0);
    assert_non_null(arena_alloc(a, 10));
    arena_destroy(a);
    arena_destroy(NULL);
}

static void clock_moves_forward(void **state)
{
    (void)state;
    uint64_t t0 = clock_mono_ms();
    clock_sleep_ms(20);
    assert_true(clock_mono_ms() - t0 >= 20);
    assert_true(clock_wall_s() > 1700000000u);
    char out[21];
    clock_format_utc(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
}

static void names_checked(void **state)
{
    (void)state;
    assert_true(text_is_name("org1", 8));
    assert_true(text_is_name("a b", 8));
    assert_false(text_is_name(NULL, 8));
    assert_false(text_is_name("", 8));
    assert_false(text_is_name(" org", 8));
    assert_false(text_is_name("org ", 8));
    assert_false(text_is_name("org\n1", 8));
    assert_false(text_is_name("o\x7f", 8));
    assert_false(text_is_name("123456789", 8));
    assert_true(text_is_name("12345678", 8));
}

static void decimal_numbers_strictly(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(text_parse_u64("0", 1, &v) && v == 0);
    assert_true(text_parse_u64("18446744073709551615", 20, &v) && v == UINT64_MAX);
    assert_true(text_parse_u64("123x", 3, &v) && v == 123); /* only the `len` octets */
    v = 7;
    static const char *const bad[] = {"",    "18446744073709551616", "-1", "+1", " 1", "1 ", "5abc",
                                      "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(text_parse_u64(bad[i], strlen(bad[i]), &v));
    assert_false(text_parse_u64(NULL, 0, &v));
    assert_int_equal(v, 7); /* untouched */
}

static void utf8_checked(void **state)
{
    (void)state;
    static const char *const good[] = {
        "",        "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x97\xb3", "\xf4\x8f\xbf\xbf",
        "\x1e\x1f"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(text_utf8_ok(good[i], strlen(good[i])));
    assert_true(text_utf8_ok("a\0b", 3)); /* NUL is a character */
    static const char *const bad[] = {"\xff",         "\x80",         "\xc0\xaf",
                                      "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xe2\x82",     "ok\xc3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(text_utf8_ok(bad[i], strlen(bad[i])));
}

static void errf_formats_and_returns(void **state)
{
    (void)state;
    char *msg = NULL;
    assert_int_equal(stele_errf(&msg, STELE_ERR_CONFIG, "bad %s %d", "key", 7), STELE_ERR_CONFIG);
    assert_string_equal(msg, "bad key 7");
    free(msg);
    assert_int_equal(stele_errf(NULL, STELE_ERR_IO, "ignored %d", 1), STELE_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_names_and_messages),
        cmocka_unit_test(log_one_line_per_event),
        cmocka_unit_test(buf_appends_and_hex),
        cmocka_unit_test(arena_allocates_aligned_and_large),
        cmocka_unit_test(clock_moves_forward),
        cmocka_unit_test(names_checked),
        cmocka_unit_test(decimal_numbers_strictly),
        cmocka_unit_test(utf8_checked),
        cmocka_unit_test(errf_formats_and_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
