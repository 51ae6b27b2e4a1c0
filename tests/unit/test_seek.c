/* test_seek.c — lib/ledger/seek.h: a seek position resolves against a chain's height as the
 * orderer's Deliver and the peer's Events read it, and the Deliver request every block puller
 * sends (seek_deliver_request) is an envelope of type DELIVER_SEEK_INFO on its channel, by its
 * creator, signed over its payload, whose SeekInfo names exactly the blocks asked for. */
#include "testutil.h"

#include "base/arena.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/envelope.h"
#include "ledger/seek.h"
#include "pb/pb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void resolves_positions(void **state)
{
    (void)state;
    Stele__SeekPosition p = STELE__SEEK_POSITION__INIT;
    Stele__SeekSpecified at = STELE__SEEK_SPECIFIED__INIT;
    uint64_t n = 99;
    assert_false(seek_resolve(NULL, 10, &n));
    assert_false(seek_resolve(&p, 10, &n)); /* no position set */
    p.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    assert_true(seek_resolve(&p, 10, &n));
    assert_int_equal(n, 0);
    p.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
    assert_true(seek_resolve(&p, 10, &n));
    assert_int_equal(n, 9);
    assert_false(seek_resolve(&p, 0, &n)); /* the newest block of an empty chain */
    p.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    assert_false(seek_resolve(&p, 10, &n)); /* specified, without the number */
    at.number = 42;
    p.specified = &at;
    assert_true(seek_resolve(&p, 10, &n));
    assert_int_equal(n, 42); /* past the height: the caller waits or refuses */
}

static void range_names_both_ends(void **state)
{
    (void)state;
    struct seek_range r;
    Stele__SeekInfo *si =
        seek_range_init(&r, 7, UINT64_MAX, STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY);
    uint64_t from, to;
    assert_true(seek_resolve(si->start, 3, &from));
    assert_true(seek_resolve(si->stop, 3, &to));
    assert_int_equal(from, 7);
    assert_true(to == UINT64_MAX);
    assert_int_equal(si->behavior, STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY);
}

static void deliver_request_is_signed_and_exact(void **state)
{
    (void)state;
    struct crypto_key *k = NULL;
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    static const uint8_t creator[] = "an identity record";
    ProtobufCBinaryData req;
    assert_int_equal(seek_deliver_request("ch1", 5, 9,
                                          STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
                                          creator, sizeof creator, k, &req),
                     STELE_OK);
    struct arena *a = arena_create(0);
    struct envelope_view v;
    assert_int_equal(envelope_parse(a, req.data, req.len, 0, &v, NULL), STELE_OK);
    assert_int_equal(v.header->type, STELE__HEADER_TYPE__DELIVER_SEEK_INFO);
    assert_string_equal(v.header->channel_id, "ch1");
    assert_int_equal(v.header->creator.len, sizeof creator);
    assert_memory_equal(v.header->creator.data, creator, sizeof creator);
    assert_int_equal(crypto_verify(k, v.envelope->payload.data, v.envelope->payload.len,
                                   v.envelope->signature.data, v.envelope->signature.len),
                     STELE_OK);
    const Stele__SeekInfo *si = (const Stele__SeekInfo *)pb_unpack(
        &stele__seek_info__descriptor, a, v.payload->data.data, v.payload->data.len, 0);
    assert_non_null(si);
    uint64_t from, to;
    assert_true(seek_resolve(si->start, 0, &from));
    assert_true(seek_resolve(si->stop, 0, &to));
    assert_int_equal(from, 5);
    assert_int_equal(to, 9);
    assert_int_equal(si->behavior, STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY);
    arena_destroy(a);
    free(req.data);
    crypto_key_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolves_positions),
        cmocka_unit_test(range_names_both_ends),
        cmocka_unit_test(deliver_request_is_signed_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
