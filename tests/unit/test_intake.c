/* test_intake.c — envelope opening (lib/ledger/envelope) and the orderer's intake checks:
 * every refusal a Broadcast or Deliver client can meet, with its status. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "identity/identity.h"
#include "crypto/ecdsa.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/envelope.h"
#include "orderer/auth.h"
#include "orderer/envcache.h"
#include "orderer/intake.h"
#include "pb/pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    struct crypto_key *ca, *other_ca; /* the trusted CA and one nobody trusts */
    struct test_identity member;      /* client of the trusted CA */
    struct test_identity stranger;    /* client of the other CA */
    struct test_identity auditor;     /* reader only */
    struct test_identity expired;     /* validity over */
    char *dir;                        /* holds ca.pub */
    struct orderer_auth_ca cas[1];
    struct orderer_auth_config ac;
    struct orderer_auth *auth;
    struct intake in;
    struct arena *a;
};

#define CREATOR(t) (t).record->data, (t).record->len

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(crypto_key_generate(&f->ca), STELE_OK);
    assert_int_equal(crypto_key_generate(&f->other_ca), STELE_OK);
    test_identity_issue(f->ca, 7, "alice", "Org1", "client", 0, 3600, &f->member);
    test_identity_issue(f->other_ca, 7, "mallory", "Org1", "client", 0, 3600, &f->stranger);
    test_identity_issue(f->ca, 7, "audrey", "Org1", "auditor", 0, 3600, &f->auditor);
    test_identity_issue(f->ca, 7, "old", "Org1", "client", 1000000000, 3600, &f->expired);
    f->dir = test_tmpdir("intake");
    char path[512];
    snprintf(path, sizeof path, "%s/ca.pub", f->dir);
    uint8_t pub[33];
    crypto_key_public_compressed(f->ca, pub);
    assert_int_equal(test_write_file(path, pub, sizeof pub), 0);
    f->cas[0] = (struct orderer_auth_ca){.public_key = strdup(path), .ca_id = 7};
    f->ac = (struct orderer_auth_config){.cas = f->cas, .n_cas = 1};
    assert_int_equal(orderer_auth_create(&f->ac, &f->auth, NULL), STELE_OK);
    f->in = (struct intake){.channel_id = "ch1", .absolute_max_bytes = 4096, .auth = f->auth};
    f->a = arena_create(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    orderer_auth_destroy(f->auth);
    test_identity_free(&f->member);
    test_identity_free(&f->stranger);
    test_identity_free(&f->auditor);
    test_identity_free(&f->expired);
    crypto_key_destroy(f->ca);
    crypto_key_destroy(f->other_ca);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->cas[0].public_key);
    arena_destroy(f->a);
    free(f);
    return 0;
}

/* The parts of an envelope a test may spoil. */
struct spec {
    const char *channel;
    Stele__HeaderType type;
    const uint8_t *creator;
    size_t creator_len;
    size_t nonce_len;
    const char *tx_id; /* NULL: the correct one */
    bool no_header;
    size_t data_len;
    const struct crypto_key *signer;
    size_t sig_len;       /* 0: 64 */
    bool spoil_payload;   /* change a payload byte after signing */
    int64_t ts_offset_ms; /* header timestamp: now plus this */
    bool no_timestamp;
};

static ProtobufCBinaryData craft(struct fx *f, const struct spec *s)
{
    uint8_t nonce[64];
    memset(nonce, 7, sizeof nonce);
    char id[65];
    const uint8_t *creator = s->creator ? s->creator : f->member.record->data;
    size_t clen = s->creator ? s->creator_len : f->member.record->len;
    size_t nlen = s->nonce_len ? s->nonce_len : 24;
    assert_int_equal(envelope_tx_id(nonce, nlen, creator, clen, id), STELE_OK);
    Stele__Header h = STELE__HEADER__INIT;
    h.channel_id = (char *)(s->channel ? s->channel : "ch1");
    h.tx_id = (char *)(s->tx_id ? s->tx_id : id);
    h.type = s->type ? s->type : STELE__HEADER_TYPE__ENDORSER_TRANSACTION;
    h.creator = (ProtobufCBinaryData){clen, (uint8_t *)creator};
    h.nonce = (ProtobufCBinaryData){nlen, nonce};
    Stele__Timestamp t = STELE__TIMESTAMP__INIT;
    uint64_t at = (uint64_t)((int64_t)clock_wall_ms() + s->ts_offset_ms);
    t.seconds = (int64_t)(at / 1000);
    t.nanos = (int32_t)(at % 1000) * 1000000;
    h.timestamp = s->no_timestamp ? NULL : &t;
    Stele__Payload p = STELE__PAYLOAD__INIT;
    p.header = s->no_header ? NULL : &h;
    uint8_t *data = calloc(1, s->data_len + 1);
    p.data = (ProtobufCBinaryData){s->data_len, data};
    size_t plen;
    uint8_t *pb = pb_pack(&p.base, &plen);
    uint8_t sig[CRYPTO_SIG_LEN];
    assert_int_equal(crypto_sign(s->signer ? s->signer : f->member.key, pb, plen, sig), STELE_OK);
    if (s->spoil_payload)
        pb[plen - 1] ^= 1;
    Stele__Envelope e = STELE__ENVELOPE__INIT;
    e.payload = (ProtobufCBinaryData){plen, pb};
    e.signature = (ProtobufCBinaryData){s->sig_len ? s->sig_len : sizeof sig, sig};
    ProtobufCBinaryData out;
    out.data = pb_pack(&e.base, &out.len);
    free(pb);
    free(data);
    return out;
}

/* Runs the Broadcast checks on `s` and returns the verdict's status. */
static Stele__Status judge(struct fx *f, const struct spec *s, struct intake_verdict *v)
{
    ProtobufCBinaryData e = craft(f, s);
    struct envelope_view view;
    arena_reset(f->a);
    intake_check_broadcast_bytes(&f->in, f->a, e.data, e.len, &view, v);
    free(e.data);
    return v->status;
}

static void valid_envelope_accepted(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    struct spec s = {0};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_SUCCESS);
    assert_int_equal(strlen(v.tx_id), 64);
    s.type = STELE__HEADER_TYPE__ADMIN;
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_SUCCESS);
}

/* A transaction's timestamp decides which identities peers accept it under: the orderer
 * keeps it near its own clock, so nobody backdates into a validity that has ended. */
static void timestamp_within_window(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    const int64_t minute = 60 * 1000;
    struct spec s = {.ts_offset_ms = -14 * minute};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_SUCCESS);
    s.ts_offset_ms = 14 * minute;
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_SUCCESS);
    s.ts_offset_ms = -16 * minute; /* backdated */
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "15 minutes"));
    s.ts_offset_ms = 16 * minute; /* from the future */
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    s.ts_offset_ms = -365 * 24 * 60 * minute;
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    s = (struct spec){.no_timestamp = true};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "no valid timestamp"));
    /* The bytes refused for their time are not remembered as checked. */
    s = (struct spec){.ts_offset_ms = -16 * minute};
    ProtobufCBinaryData e = craft(f, &s);
    arena_reset(f->a);
    assert_int_equal(intake_check_broadcast_bytes(&f->in, f->a, e.data, e.len, NULL, &v),
                     STELE_ERR_EXPIRED);
    assert_int_equal(intake_check_broadcast_bytes(&f->in, f->a, e.data, e.len, NULL, &v),
                     STELE_ERR_EXPIRED);
    free(e.data);
}

static void tx_id_known_answer(void **state)
{
    (void)state;
    /* hex(SHA-256(nonce || creator)) computed the long way. */
    const uint8_t nonce[] = "0123456789abcdef", creator[] = "creator";
    uint8_t cat[16 + 7], d[32];
    memcpy(cat, nonce, 16);
    memcpy(cat + 16, creator, 7);
    assert_int_equal(crypto_sha256(cat, sizeof cat, d), STELE_OK);
    char want[65], got[65];
    hex_encode(d, 32, want);
    assert_int_equal(envelope_tx_id(nonce, 16, creator, 7, got), STELE_OK);
    assert_string_equal(got, want);
}

static void build_then_open(void **state)
{
    struct fx *f = *state;
    const uint8_t data[] = "hello";
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                .creator = f->member.record->data,
                                .creator_len = f->member.record->len,
                                .data = data,
                                .data_len = 5};
    ProtobufCBinaryData e;
    char id[65];
    assert_int_equal(envelope_build(&p, f->member.key, &e, id), STELE_OK);
    struct envelope_view v;
    const char *why = NULL;
    assert_int_equal(envelope_parse(f->a, e.data, e.len, 0, &v, &why), STELE_OK);
    assert_string_equal(v.header->tx_id, id);
    assert_string_equal(v.header->channel_id, "ch1");
    assert_int_equal(v.payload->data.len, 5);
    assert_int_equal(v.header->nonce.len, 24);
    assert_non_null(v.header->timestamp);
    assert_int_equal(crypto_verify(f->member.key, v.envelope->payload.data, v.envelope->payload.len,
                                   v.envelope->signature.data, v.envelope->signature.len),
                     STELE_OK);
    assert_int_equal(envelope_parse(f->a, e.data, e.len, e.len - 1, &v, &why), STELE_ERR_TOO_BIG);
    free(e.data);
    p.type = STELE__HEADER_TYPE__HEADER_TYPE_UNSPECIFIED;
    assert_int_equal(envelope_build(&p, f->member.key, &e, id), STELE_ERR_INVALID);
}

static void malformed_refused(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x0f};
    assert_int_not_equal(intake_check_broadcast_bytes(&f->in, f->a, junk, sizeof junk, NULL, &v),
                         STELE_OK);
    assert_int_equal(v.status, STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "decode"));
    assert_string_equal(v.tx_id, "");

    struct spec s = {.no_header = true, .data_len = 4};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "no header"));
    s = (struct spec){.nonce_len = 8};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "nonce"));
    s = (struct spec){.tx_id = "abc"};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    s = (struct spec){.tx_id = "0000000000000000000000000000000000000000000000000000000000000000"};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "SHA-256(nonce || creator)"));
    s = (struct spec){.sig_len = 63};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "64 octets"));
    s = (struct spec){.type = (Stele__HeaderType)77};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    s = (struct spec){.channel = ""};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
}

static void wrong_channel_or_type_refused(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    struct spec s = {.channel = "other"};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "channel"));
    s = (struct spec){.type = STELE__HEADER_TYPE__CONFIG};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "CONFIG"));
    s = (struct spec){.type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_BAD_REQUEST);
}

static void bad_signature_or_stranger_forbidden(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    /* A member's identity with someone else's signature. */
    struct spec s = {.signer = f->stranger.key};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "signature"));
    assert_int_equal(strlen(v.tx_id), 64); /* the header was read: its tx_id is reported */
    /* Payload changed after signing (the tx_id still matches: only data changed). */
    s = (struct spec){.spoil_payload = true, .data_len = 4};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    /* An identity from a CA nobody trusts, signing for itself. */
    s = (struct spec){.creator = CREATOR(f->stranger), .signer = f->stranger.key};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "CA this orderer trusts"));
    /* A creator that is not an identity record at all. */
    static const uint8_t odd[] = "someone";
    s = (struct spec){.creator = odd, .creator_len = 7};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "not a valid identity"));
    /* Expired. */
    s = (struct spec){.creator = CREATOR(f->expired), .signer = f->expired.key};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "expired"));
    /* An auditor may read but not broadcast. */
    s = (struct spec){.creator = CREATOR(f->auditor), .signer = f->auditor.key};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "role"));
}

/* Bytes checked once skip the signature check when they come again (envcache.h); anything
 * else, a single changed octet included, is checked in full, and a refusal is never recorded. */
static void checked_bytes_are_cached_exactly(void **state)
{
    struct fx *f = *state;
    struct envcache *c = envcache_create(10);
    struct intake in = f->in;
    in.checked = c;
    struct spec good = {0}, forged = {.signer = f->stranger.key};
    ProtobufCBinaryData e = craft(f, &good), bad = craft(f, &forged);
    struct intake_verdict v;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(intake_check_broadcast_bytes(&in, f->a, bad.data, bad.len, NULL, &v),
                         STELE_ERR_AUTH);
        assert_int_equal(v.status, STELE__STATUS__STATUS_FORBIDDEN);
    }
    assert_int_equal(intake_check_broadcast_bytes(&in, f->a, e.data, e.len, NULL, &v), STELE_OK);
    uint8_t h[32];
    assert_int_equal(crypto_sha256(e.data, e.len, h), STELE_OK);
    assert_true(envcache_seen(c, h, clock_mono_ms()));
    assert_false(envcache_seen(c, h, clock_mono_ms() + ENVCACHE_TTL_MS));
    /* The good envelope with its signature's last octet changed: checked again, refused. */
    e.data[e.len - 1] ^= 1;
    assert_int_not_equal(intake_check_broadcast_bytes(&in, f->a, e.data, e.len, NULL, &v),
                         STELE_OK);
    e.data[e.len - 1] ^= 1;
    /* The same bytes again pass, and the tx_id is still read from them. */
    assert_int_equal(intake_check_broadcast_bytes(&in, f->a, e.data, e.len, NULL, &v), STELE_OK);
    assert_int_equal(strlen(v.tx_id), 64);
    free(e.data);
    free(bad.data);
    envcache_destroy(c);
}

static void revoked_forbidden(void **state)
{
    struct fx *f = *state;
    /* A CRL listing alice, installed through the configuration. */
    struct identity_revoked r = {.serial = 1, .id = "alice", .revoked_at = 1, .reason = "test"};
    assert_int_equal(ecqv_certhash(f->member.cert, sizeof f->member.cert, r.certhash), STELE_OK);
    struct buf crl;
    buf_init(&crl);
    uint64_t now = clock_wall_s();
    assert_int_equal(crl_issue(f->ca, 7, 1, now - 10, now + 3600, &r, 1, &crl), STELE_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/ca.crl", f->dir);
    assert_int_equal(test_write_file(path, crl.data, crl.len), 0);
    buf_release(&crl);
    f->cas[0].crl = path;
    struct orderer_auth *revoking = NULL;
    assert_int_equal(orderer_auth_create(&f->ac, &revoking, NULL), STELE_OK);
    f->cas[0].crl = NULL;
    struct intake in = f->in;
    in.auth = revoking;
    struct spec s = {0};
    ProtobufCBinaryData e = craft(f, &s);
    struct intake_verdict v;
    assert_int_not_equal(intake_check_broadcast_bytes(&in, f->a, e.data, e.len, NULL, &v),
                         STELE_OK);
    assert_int_equal(v.status, STELE__STATUS__STATUS_FORBIDDEN);
    assert_non_null(strstr(v.info, "revoked"));
    /* The same envelope passes where the CRL is not installed. */
    assert_int_equal(intake_check_broadcast_bytes(&f->in, f->a, e.data, e.len, NULL, &v), STELE_OK);
    free(e.data);
    orderer_auth_destroy(revoking);
}

static void oversize_refused(void **state)
{
    struct fx *f = *state;
    struct intake_verdict v;
    struct spec s = {.data_len = 5000};
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE);
    assert_non_null(strstr(v.info, "AbsoluteMaxBytes"));
    s.data_len = 3400; /* under the cap with header, identity and signature */
    assert_int_equal(judge(f, &s, &v), STELE__STATUS__STATUS_SUCCESS);
}

static void deliver_request_checked(void **state)
{
    struct fx *f = *state;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    Stele__SeekPosition start = STELE__SEEK_POSITION__INIT;
    Stele__SeekOldest oldest = STELE__SEEK_OLDEST__INIT;
    start.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    start.oldest = &oldest;
    si.start = &start;
    si.stop = &start;
    size_t dlen;
    uint8_t *data = pb_pack(&si.base, &dlen);
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = f->auditor.record->data,
                                .creator_len = f->auditor.record->len,
                                .data = data,
                                .data_len = dlen};
    ProtobufCBinaryData e;
    assert_int_equal(envelope_build(&p, f->auditor.key, &e, NULL), STELE_OK); /* a reader */
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, f->a, e.data, e.len, 0);
    Stele__SeekInfo *got = NULL;
    struct intake_verdict v;
    assert_int_equal(intake_check_deliver(&f->in, f->a, env, clock_wall_ms(), &got, NULL, &v),
                     STELE_OK);
    assert_int_equal(got->start->type_case, STELE__SEEK_POSITION__TYPE_OLDEST);
    /* The same request an hour later is refused: captured requests do not replay for long. */
    assert_int_not_equal(
        intake_check_deliver(&f->in, f->a, env, clock_wall_ms() + 3600000, &got, NULL, &v),
        STELE_OK);
    assert_int_equal(v.status, STELE__STATUS__STATUS_BAD_REQUEST);
    assert_non_null(strstr(v.info, "15 minutes"));
    free(e.data);
    /* A transaction is not a Deliver request. */
    p.type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION;
    assert_int_equal(envelope_build(&p, f->auditor.key, &e, NULL), STELE_OK);
    env = (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, f->a, e.data, e.len, 0);
    assert_int_not_equal(intake_check_deliver(&f->in, f->a, env, clock_wall_ms(), &got, NULL, &v),
                         STELE_OK);
    assert_int_equal(v.status, STELE__STATUS__STATUS_BAD_REQUEST);
    free(e.data);
    /* A stranger may not read. */
    p.type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO;
    p.creator = f->stranger.record->data;
    p.creator_len = f->stranger.record->len;
    assert_int_equal(envelope_build(&p, f->stranger.key, &e, NULL), STELE_OK);
    env = (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, f->a, e.data, e.len, 0);
    assert_int_not_equal(intake_check_deliver(&f->in, f->a, env, clock_wall_ms(), &got, NULL, &v),
                         STELE_OK);
    assert_int_equal(v.status, STELE__STATUS__STATUS_FORBIDDEN);
    free(e.data);
    free(data);
}

static void membership_config_checked(void **state)
{
    struct fx *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/not-a-key", f->dir);
    assert_int_equal(test_write_file(path, "junk", 4), 0);
    struct orderer_auth_ca cas[1] = {{.public_key = path}};
    struct orderer_auth_config ac = {.cas = cas, .n_cas = 1};
    struct orderer_auth *a = NULL;
    char *err = NULL;
    assert_int_equal(orderer_auth_create(&ac, &a, &err), STELE_ERR_CONFIG);
    assert_null(a);
    assert_non_null(strstr(err, "membership.cas[0]"));
    assert_non_null(strstr(err, "not-a-key"));
    free(err);
    cas[0].public_key = "/nonexistent/ca.pub";
    assert_int_equal(orderer_auth_create(&ac, &a, &err), STELE_ERR_CONFIG);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(valid_envelope_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(timestamp_within_window, setup, teardown),
        cmocka_unit_test(tx_id_known_answer),
        cmocka_unit_test_setup_teardown(build_then_open, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_channel_or_type_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_signature_or_stranger_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(deliver_request_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(checked_bytes_are_cached_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(membership_config_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
