/* test_json.c — the JSON writer produces valid, escaped JSON. */
#include "testutil.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"

#include <string.h>

static void nested_document(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    struct json j;
    json_init(&j, &b);
    json_object_begin(&j);
    json_kv_string(&j, "name", "a\"b\\c\n\x01");
    json_kv_int(&j, "n", -5);
    json_kv_uint(&j, "u", 18446744073709551615ull);
    json_kv_double(&j, "p50", 0.125, 3);
    json_kv_bool(&j, "ok", true);
    uint8_t h[2] = {0xab, 0x01};
    json_kv_hex(&j, "hex", h, 2);
    json_key(&j, "list");
    json_array_begin(&j);
    json_int(&j, 1);
    json_null(&j);
    json_object_begin(&j);
    json_object_end(&j);
    json_array_end(&j);
    json_kv_string(&j, "bad_utf8", "x\xff\xc3\xa9");
    json_object_end(&j);
    assert_int_equal(json_finish(&j), STELE_OK);
    assert_string_equal((char *)b.data,
                        "{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-5,\"u\":18446744073709551615,"
                        "\"p50\":0.125,\"ok\":true,\"hex\":\"ab01\",\"list\":[1,null,{}],"
                        "\"bad_utf8\":\"x\xef\xbf\xbd\xc3\xa9\"}");
    buf_release(&b);
}

static void unbalanced_is_an_error(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    struct json j;
    json_init(&j, &b);
    json_array_begin(&j);
    assert_int_equal(json_finish(&j), STELE_ERR_STATE);
    json_array_end(&j);
    json_array_end(&j);
    assert_int_equal(json_finish(&j), STELE_ERR_STATE);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_document),
        cmocka_unit_test(unbalanced_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
