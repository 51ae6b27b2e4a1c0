/* test_cc_asset.c — the sample chaincode (chaincode/samples/asset) as the peer gets it: the built
 * asset.so is dlopen()ed, must export exactly its descriptor, and is run on the test harness:
 * create and read, refused duplicates, transfers by the owner only with their event, the
 * owner index through transfers and deletes, list, bad arguments and damaged state. */
#include "testutil.h"

#include "stele/chaincode.h"
#include "stele/chaincode_harness.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *so;                         /* the loaded asset.so */
static const struct stele_chaincode *cc; /* its descriptor */

static int load_so(void **state)
{
    char *path = test_binary_path("chaincode/asset.so");
    so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so)
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    free(path);
    if (!so)
        return -1;
    cc = dlsym(so, "stele_chaincode");
    return cc ? 0 : -1;
}

static int unload_so(void **state)
{
    if (so)
        dlclose(so);
    return 0;
}

static int setup(void **state)
{
    stele_cc_harness *h = NULL;
    if (stele_cc_harness_create(cc, &h) != STELE_CC_OK)
        return -1;
    *state = h;
    return stele_cc_harness_set_creator(h, "alice", "Org1", "client", NULL);
}

static int teardown(void **state)
{
    stele_cc_harness_destroy(*state);
    return 0;
}

/* Acts as creator `id` of `org`. */
static void as(stele_cc_harness *h, const char *id, const char *org)
{
    assert_int_equal(stele_cc_harness_set_creator(h, id, org, "client", NULL), STELE_CC_OK);
}

/* The JSON the chaincode writes for an asset. */
static char *asset_json(const char *id, const char *color, unsigned size, const char *owner,
                        unsigned value)
{
    static char buf[4][512]; /* a few in one expression */
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0],
             "{\"id\":\"%s\",\"color\":\"%s\",\"size\":%u,\"owner\":\"%s\",\"value\":%u}", id,
             color, size, owner, value);
    return b;
}

/* Checks the status `got` of the call `what` (failing with the chaincode's message) and, when
 * `payload` is not NULL, the response payload. */
static void check_call(stele_cc_harness *h, int got, int status, const char *payload,
                       const char *what)
{
    if (got != status)
        fail_msg("%s: status %d, want %d: %s", what, got, status, stele_cc_harness_message(h));
    if (payload)
        assert_string_equal((const char *)stele_cc_harness_payload(h, NULL), payload);
}

#define CALL(h, status, payload, ...)                                                   \
    check_call((h), stele_cc_harness_call((h), __VA_ARGS__, NULL), (status), (payload), \
               #__VA_ARGS__)

/* Checks that the state holds exactly `n` keys, listed in `keys` in order (composite keys
 * written with '^' for 0x1E and '/' for 0x1F). */
static void expect_keys(stele_cc_harness *h, const char *const *keys, size_t n)
{
    assert_int_equal(stele_cc_harness_count(h), n);
    for (size_t i = 0; i < n; i++) {
        char shown[512];
        const char *k = stele_cc_harness_key(h, i);
        size_t j = 0;
        for (; k[j] && j + 1 < sizeof shown; j++)
            shown[j] = k[j] == 0x1e ? '^' : k[j] == 0x1f ? '/' : k[j];
        shown[j] = 0;
        assert_string_equal(shown, keys[i]);
    }
}

static void expect_stored(stele_cc_harness *h, const char *key, const char *want)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(stele_cc_harness_get(h, key, &v, &len), STELE_CC_OK);
    assert_int_equal(len, strlen(want));
    assert_string_equal((const char *)v, want);
}

/* ---- the shared object ------------------------------------------------------------------ */

static void test_exports_only_descriptor(void **state)
{
    assert_int_equal(cc->abi_version, STELE_CC_ABI_VERSION);
    assert_string_equal(cc->name, "asset");
    assert_string_equal(cc->version, "1.0");
    assert_non_null(cc->init);
    assert_non_null(cc->invoke);
    /* neither the chaincode's own functions nor libstele-chaincode's are exported */
    const char *hidden[] = {"invoke",           "init",           "cmd_create",
                            "stele_cc_success", "stele_cc_error", "stele_cc_put_state",
                            "stele_cc_stub_run"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (dlsym(so, hidden[i]))
            fail_msg("asset.so exports %s", hidden[i]);
}

static void test_init(void **state)
{
    stele_cc_harness *h = *state;
    CALL(h, 200, "", "init");
    assert_int_equal(stele_cc_harness_count(h), 0);
    assert_null(stele_cc_harness_event(h, NULL, NULL));
}

/* ---- create and read -------------------------------------------------------------------- */

static void test_create_read(void **state)
{
    stele_cc_harness *h = *state;
    const char *a1 = asset_json("a1", "blue", 5, "alice@Org1", 100);
    CALL(h, 200, a1, "create", "a1", "blue", "5", "100");
    assert_null(stele_cc_harness_event(h, NULL, NULL));
    expect_stored(h, "a1", a1);
    const char *keys[] = {"^owner~asset/alice@Org1/a1/", "a1"};
    expect_keys(h, keys, 2);
    expect_stored(h, stele_cc_harness_key(h, 0), "");

    as(h, "carol", "Org3"); /* anyone may read */
    CALL(h, 200, a1, "read", "a1");
    CALL(h, 404, NULL, "read", "a2");
    assert_string_equal(stele_cc_harness_message(h), "no asset a2");

    /* limits of the numbers and a color that needs JSON escapes */
    CALL(h, 200, NULL, "create", "big", "say \"hi\" \\o/", "0", "999999999999999999");
    const char *big = "{\"id\":\"big\",\"color\":\"say \\\"hi\\\" \\\\o/\",\"size\":0,"
                      "\"owner\":\"carol@Org3\",\"value\":999999999999999999}";
    CALL(h, 200, big, "read", "big");
    expect_stored(h, "big", big);
}

static void test_duplicate_refused(void **state)
{
    stele_cc_harness *h = *state;
    const char *a1 = asset_json("a1", "blue", 5, "alice@Org1", 100);
    CALL(h, 200, a1, "create", "a1", "blue", "5", "100");
    CALL(h, 400, NULL, "create", "a1", "red", "1", "1");
    assert_string_equal(stele_cc_harness_message(h), "asset a1 already exists");
    as(h, "bob", "Org2");
    CALL(h, 400, NULL, "create", "a1", "red", "1", "1");
    expect_stored(h, "a1", a1);
    const char *keys[] = {"^owner~asset/alice@Org1/a1/", "a1"};
    expect_keys(h, keys, 2);
}

/* ---- transfer and delete ---------------------------------------------------------------- */

static void test_transfer_by_owner(void **state)
{
    stele_cc_harness *h = *state;
    CALL(h, 200, NULL, "create", "a1", "blue", "5", "100");
    const char *moved = asset_json("a1", "blue", 5, "bob@Org2", 100);
    CALL(h, 200, moved, "transfer", "a1", "bob@Org2");
    const uint8_t *p;
    size_t len;
    assert_string_equal(stele_cc_harness_event(h, &p, &len), "transfer");
    const char *ev = "{\"id\":\"a1\",\"from\":\"alice@Org1\",\"to\":\"bob@Org2\"}";
    assert_int_equal(len, strlen(ev));
    assert_memory_equal(p, ev, len);
    expect_stored(h, "a1", moved);
    const char *keys[] = {"^owner~asset/bob@Org2/a1/", "a1"};
    expect_keys(h, keys, 2);

    /* the new owner may pass it on, even back */
    as(h, "bob", "Org2");
    CALL(h, 200, asset_json("a1", "blue", 5, "alice@Org1", 100), "transfer", "a1", "alice@Org1");
    const char *back[] = {"^owner~asset/alice@Org1/a1/", "a1"};
    expect_keys(h, back, 2);
}

static void test_transfer_by_other_refused(void **state)
{
    stele_cc_harness *h = *state;
    const char *a1 = asset_json("a1", "blue", 5, "alice@Org1", 100);
    CALL(h, 200, a1, "create", "a1", "blue", "5", "100");
    const char *keys[] = {"^owner~asset/alice@Org1/a1/", "a1"};

    as(h, "mallory", "Org2");
    CALL(h, 403, NULL, "transfer", "a1", "mallory@Org2");
    assert_string_equal(stele_cc_harness_message(h),
                        "asset a1 belongs to alice@Org1, not to mallory@Org2");
    assert_null(stele_cc_harness_event(h, NULL, NULL));
    /* the same id in another organisation is someone else */
    as(h, "alice", "Org2");
    CALL(h, 403, NULL, "transfer", "a1", "alice@Org2");
    CALL(h, 403, NULL, "delete", "a1");
    expect_stored(h, "a1", a1);
    expect_keys(h, keys, 2);

    /* the former owner has no say after a transfer */
    as(h, "alice", "Org1");
    CALL(h, 200, NULL, "transfer", "a1", "bob@Org2");
    CALL(h, 403, NULL, "transfer", "a1", "alice@Org1");
    CALL(h, 404, NULL, "transfer", "nope", "alice@Org1");
}

static void test_delete(void **state)
{
    stele_cc_harness *h = *state;
    CALL(h, 200, NULL, "create", "a1", "blue", "5", "100");
    CALL(h, 200, NULL, "create", "a2", "red", "1", "2");
    CALL(h, 200, "", "delete", "a1");
    CALL(h, 404, NULL, "read", "a1");
    CALL(h, 404, NULL, "delete", "a1");
    const char *keys[] = {"^owner~asset/alice@Org1/a2/", "a2"};
    expect_keys(h, keys, 2);
    /* the id can be used again */
    CALL(h, 200, NULL, "create", "a1", "green", "3", "4");
}

/* ---- queries ---------------------------------------------------------------------------- */

static void test_by_owner_index(void **state)
{
    stele_cc_harness *h = *state;
    char want[2048];
    /* alice@Org1 is a prefix of alice@Org10: the index must keep them apart */
    CALL(h, 200, NULL, "create", "a1", "blue", "1", "10");
    CALL(h, 200, NULL, "create", "a3", "red", "3", "30");
    as(h, "alice", "Org10");
    CALL(h, 200, NULL, "create", "a2", "green", "2", "20");
    as(h, "bob", "Org2");
    CALL(h, 200, NULL, "create", "b1", "white", "4", "40");

    snprintf(want, sizeof want, "[%s,%s]", asset_json("a1", "blue", 1, "alice@Org1", 10),
             asset_json("a3", "red", 3, "alice@Org1", 30));
    CALL(h, 200, want, "by_owner", "alice@Org1");
    snprintf(want, sizeof want, "[%s]", asset_json("a2", "green", 2, "alice@Org10", 20));
    CALL(h, 200, want, "by_owner", "alice@Org10");
    CALL(h, 200, "[]", "by_owner", "alice@Org");
    CALL(h, 200, "[]", "by_owner", "nobody@Org9");

    /* after transfers */
    as(h, "alice", "Org1");
    CALL(h, 200, NULL, "transfer", "a3", "bob@Org2");
    as(h, "bob", "Org2");
    CALL(h, 200, NULL, "transfer", "b1", "alice@Org10");
    snprintf(want, sizeof want, "[%s]", asset_json("a1", "blue", 1, "alice@Org1", 10));
    CALL(h, 200, want, "by_owner", "alice@Org1");
    snprintf(want, sizeof want, "[%s,%s]", asset_json("a2", "green", 2, "alice@Org10", 20),
             asset_json("b1", "white", 4, "alice@Org10", 40));
    CALL(h, 200, want, "by_owner", "alice@Org10");
    snprintf(want, sizeof want, "[%s]", asset_json("a3", "red", 3, "bob@Org2", 30));
    CALL(h, 200, want, "by_owner", "bob@Org2");

    /* after a delete */
    CALL(h, 200, NULL, "delete", "a3");
    CALL(h, 200, "[]", "by_owner", "bob@Org2");
    const char *keys[] = {"^owner~asset/alice@Org1/a1/",
                          "^owner~asset/alice@Org10/a2/",
                          "^owner~asset/alice@Org10/b1/",
                          "a1",
                          "a2",
                          "b1"};
    expect_keys(h, keys, 6);
}

static void test_list(void **state)
{
    stele_cc_harness *h = *state;
    char want[2048];
    CALL(h, 200, "[]", "list");
    CALL(h, 200, NULL, "create", "m", "blue", "1", "1");
    as(h, "bob", "Org2");
    CALL(h, 200, NULL, "create", "B", "red", "2", "2");
    CALL(h, 200, NULL, "create", "z.9", "green", "3", "3");
    /* octet order: 'B' < 'm' < 'z'; the index entries are not assets */
    snprintf(want, sizeof want, "[%s,%s,%s]", asset_json("B", "red", 2, "bob@Org2", 2),
             asset_json("m", "blue", 1, "alice@Org1", 1),
             asset_json("z.9", "green", 3, "bob@Org2", 3));
    CALL(h, 200, want, "list");
    assert_int_equal(stele_cc_harness_count(h), 6);
}

/* ---- bad input -------------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    stele_cc_harness *h = *state;
    CALL(h, 400, NULL, "create", "a1", "blue", "5");
    assert_string_equal(stele_cc_harness_message(h), "usage: create ID COLOR SIZE VALUE");
    CALL(h, 400, NULL, "read");
    assert_string_equal(stele_cc_harness_message(h), "usage: read ID");
    CALL(h, 400, NULL, "list", "extra");
    CALL(h, 400, NULL, "transfer", "a1");
    CALL(h, 400, NULL, "fly", "a1");
    assert_string_equal(stele_cc_harness_message(h), "unknown function \"fly\"");
    CALL(h, 400, NULL, "", "a1");

    const char *bad_ids[] = {
        "",     "a b",       "a/b",
        "\x1e", "x\xc3\xa9", "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        if (stele_cc_harness_call(h, "create", bad_ids[i], "blue", "1", "1", NULL) != 400)
            fail_msg("id %zu accepted", i);
        assert_string_equal(stele_cc_harness_message(h), "ID must be 1..64 of [A-Za-z0-9_.-]");
    }
    CALL(h, 400, NULL, "create", "a1", "", "1", "1");
    CALL(h, 400, NULL, "create", "a1", "bl\tue", "1", "1");
    CALL(h, 400, NULL, "create", "a1", "bl\x1fue", "1", "1");
    const char *bad_numbers[] = {
        "", "-1", "+1", "01", "1e3", " 1", "1.5", "0x10", "1000000000000000000"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        if (stele_cc_harness_call(h, "create", "a1", "blue", bad_numbers[i], "1", NULL) != 400 ||
            stele_cc_harness_call(h, "create", "a1", "blue", "1", bad_numbers[i], NULL) != 400)
            fail_msg("number \"%s\" accepted", bad_numbers[i]);
    }
    /* an argument holding a NUL is not a string */
    const uint8_t *args[] = {(const uint8_t *)"a1\0x", (const uint8_t *)"blue",
                             (const uint8_t *)"1", (const uint8_t *)"1"};
    size_t lens[] = {4, 4, 1, 1};
    assert_int_equal(stele_cc_harness_invoke(h, "create", 4, args, lens), 400);
    assert_int_equal(stele_cc_harness_count(h), 0);

    CALL(h, 200, NULL, "create", "a1", "blue", "1", "1");
    CALL(h, 400, NULL, "transfer", "a1", "");
    CALL(h, 400, NULL, "transfer", "a1", "bob\x1e@Org2");
    CALL(h, 400, NULL, "by_owner", "");
    CALL(h, 400, NULL, "read", "bad id");
    expect_stored(h, "a1", asset_json("a1", "blue", 1, "alice@Org1", 1));
    assert_int_equal(stele_cc_harness_count(h), 2);
}

static void test_damaged_state(void **state)
{
    stele_cc_harness *h = *state;
    const char *damaged[] = {
        "garbage",
        "{\"id\":\"d\",\"color\":\"c\",\"size\":1,\"owner\":\"o\",\"value\":1} ",
        "{\"id\":\"d\",\"color\":\"c\",\"size\":01,\"owner\":\"o\",\"value\":1}",
        "{\"id\":\"d\",\"color\":\"c\\q\",\"size\":1,\"owner\":\"o\",\"value\":1}",
        "{\"id\":\"d\",\"color\":\"c\",\"size\":1,\"owner\":\"o\"",
    };
    for (size_t i = 0; i < sizeof damaged / sizeof damaged[0]; i++) {
        assert_int_equal(stele_cc_harness_put(h, "d", damaged[i], strlen(damaged[i])), STELE_CC_OK);
        if (stele_cc_harness_call(h, "read", "d", NULL) != 500)
            fail_msg("damaged value %zu read", i);
        assert_string_equal(stele_cc_harness_message(h), "asset d is damaged");
    }
    CALL(h, 500, NULL, "list");
    /* what it writes, it reads */
    const char *good =
        "{\"id\":\"d\",\"color\":\"\\u0001\",\"size\":1,\"owner\":\"o\",\"value\":1}";
    assert_int_equal(stele_cc_harness_put(h, "d", good, strlen(good)), STELE_CC_OK);
    CALL(h, 200, good, "read", "d");
}

/* Text goes into JSON (state, payloads, the event), which is UTF-8: octets that are not
 * well-formed UTF-8, and C1 control characters, are refused like C0 ones. */
static void test_text_must_be_utf8(void **state)
{
    stele_cc_harness *h = *state;
    const char *bad[] = {
        "\xff",                 /* never in UTF-8 */
        "bl\xc3",               /* truncated sequence */
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, three octets */
        "\xed\xa0\x80",         /* a UTF-16 surrogate */
        "\xf4\x90\x80\x80",     /* past U+10FFFF */
        "\x80x",                /* a lone continuation octet */
        "x\xc2\x85y",           /* U+0085, a C1 control character */
        "\xf8\x88\x80\x80\x80", /* five octets */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (stele_cc_harness_call(h, "create", "a1", bad[i], "1", "1", NULL) != 400)
            fail_msg("color %zu accepted", i);
        char owner[32];
        snprintf(owner, sizeof owner, "b%s@Org2", bad[i]);
        if (stele_cc_harness_call(h, "by_owner", owner, NULL) != 400)
            fail_msg("owner %zu accepted by by_owner", i);
    }
    assert_int_equal(stele_cc_harness_count(h), 0);

    /* well-formed UTF-8 of every length is text */
    const char *color = "bleu \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc2\xa0";
    const char *a1 = asset_json("a1", color, 1, "alice@Org1", 1);
    CALL(h, 200, a1, "create", "a1", color, "1", "1");
    CALL(h, 400, NULL, "transfer", "a1", "b\xff@Org2");
    CALL(h, 400, NULL, "transfer", "a1", "bob@Org\xe2\x82");
    CALL(h, 200, NULL, "transfer", "a1", "b\xc3\xb8rn@Org2");
    expect_stored(h, "a1", asset_json("a1", color, 1, "b\xc3\xb8rn@Org2", 1));

    /* an identity whose name is not UTF-8 cannot own assets */
    as(h, "\xff", "Org1");
    CALL(h, 400, NULL, "create", "a2", "red", "1", "1");
    assert_string_equal(stele_cc_harness_message(h), "this identity cannot own assets");
    assert_int_equal(stele_cc_harness_count(h), 2);
}

/* An owner is "id@org": a NEWOWNER without both parts would be an owner nobody can ever be,
 * and an organisation holding '@' would make "id@org" name two identities. */
static void test_owner_is_id_at_org(void **state)
{
    stele_cc_harness *h = *state;
    const char *a1 = asset_json("a1", "blue", 1, "alice@Org1", 1);
    CALL(h, 200, a1, "create", "a1", "blue", "1", "1");
    const char *bad[] = {"bob", "@Org2", "bob@", "bob@Org2@"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (stele_cc_harness_call(h, "transfer", "a1", bad[i], NULL) != 400)
            fail_msg("new owner \"%s\" accepted", bad[i]);
    assert_null(stele_cc_harness_event(h, NULL, NULL));
    expect_stored(h, "a1", a1);

    /* "alice@x" of Org1 and "alice" of "x@Org1" would both be "alice@x@Org1" */
    as(h, "alice@x", "Org1");
    const char *a2 = asset_json("a2", "red", 2, "alice@x@Org1", 2);
    CALL(h, 200, a2, "create", "a2", "red", "2", "2");
    as(h, "alice", "x@Org1");
    if (stele_cc_harness_call(h, "transfer", "a2", "mallory@Org2", NULL) == 200)
        fail_msg("another identity took asset a2");
    CALL(h, 400, NULL, "create", "a3", "red", "3", "3");
    assert_string_equal(stele_cc_harness_message(h), "this identity cannot own assets");
    expect_stored(h, "a2", a2);
    /* the last '@' splits id and org: ids may hold '@', and be given assets */
    as(h, "alice@x", "Org1");
    CALL(h, 200, NULL, "transfer", "a2", "bob@home@Org2");
    as(h, "bob@home", "Org2");
    CALL(h, 200, NULL, "transfer", "a2", "alice@x@Org1");
}

/* A stored asset whose id is not its key is damaged: acting on it would write another key. */
static void test_damaged_id_not_key(void **state)
{
    stele_cc_harness *h = *state;
    const char *y = asset_json("y", "red", 2, "bob@Org2", 2);
    const char *x = asset_json("y", "blue", 1, "alice@Org1", 1); /* under "x" */
    assert_int_equal(stele_cc_harness_put(h, "y", y, strlen(y)), STELE_CC_OK);
    assert_int_equal(stele_cc_harness_put(h, "x", x, strlen(x)), STELE_CC_OK);
    CALL(h, 500, NULL, "transfer", "x", "carol@Org3");
    assert_string_equal(stele_cc_harness_message(h), "asset x is damaged");
    CALL(h, 500, NULL, "read", "x");
    CALL(h, 500, NULL, "delete", "x");
    expect_stored(h, "y", y);
    expect_stored(h, "x", x);
    assert_int_equal(stele_cc_harness_count(h), 2);
}

/* The same calls give the same state whatever the clock says. */
static void test_deterministic(void **state)
{
    stele_cc_harness *h[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(stele_cc_harness_create(cc, &h[i]), STELE_CC_OK);
        stele_cc_harness_set_timestamp(h[i], i ? 1700000000000ull : 5);
        as(h[i], "alice", "Org1");
        CALL(h[i], 200, NULL, "create", "a1", "blue", "5", "100");
        CALL(h[i], 200, NULL, "create", "a2", "red", "6", "200");
        CALL(h[i], 200, NULL, "transfer", "a1", "bob@Org2");
        CALL(h[i], 200, NULL, "delete", "a2");
    }
    assert_int_equal(stele_cc_harness_count(h[0]), stele_cc_harness_count(h[1]));
    for (size_t k = 0; k < stele_cc_harness_count(h[0]); k++) {
        const char *key = stele_cc_harness_key(h[0], k);
        const uint8_t *v0, *v1;
        size_t l0, l1;
        assert_string_equal(key, stele_cc_harness_key(h[1], k));
        assert_int_equal(stele_cc_harness_get(h[0], key, &v0, &l0), STELE_CC_OK);
        assert_int_equal(stele_cc_harness_get(h[1], key, &v1, &l1), STELE_CC_OK);
        assert_int_equal(l0, l1);
        assert_memory_equal(v0, v1, l0);
    }
    stele_cc_harness_destroy(h[0]);
    stele_cc_harness_destroy(h[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exports_only_descriptor),
        cmocka_unit_test_setup_teardown(test_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_by_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_by_other_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_owner_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_must_be_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_is_id_at_org, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_id_not_key, setup, teardown),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, load_so, unload_so);
}
