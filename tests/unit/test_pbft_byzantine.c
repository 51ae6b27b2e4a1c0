/* test_pbft_byzantine.c — what one Byzantine orderer can send the others (test_pbft_sim.h),
 * from the review of 2026-12-05 (docs/CONSENSUS.md, "Defects found in review"): malformed
 * VIEW-CHANGE and NEW-VIEW messages must be refused without crashing anyone, blocks relayed with
 * other octets must not get an honest primary blamed or be appended as relayed, and held
 * messages and checkpoint votes must stay bounded without stopping ordering. */
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
static bool not_to_or_from3(size_t f, size_t t, const uint8_t *d, size_t l)
{
    (void)d, (void)l;
    return f != 3 && t != 3;
}

/* The first queued message to orderer `to`, decoded into `a` (it must exist). */
static Stele__PbftSigned *first_to(size_t to, struct arena *a)
{
    for (size_t i = 0; i < nq; i++)
        if (Q[i].to == to)
            return (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, Q[i].data,
                                                  Q[i].len, 0);
    fail_msg("nothing queued for o%zu", to);
    return NULL;
}

/* o3 asks for view 1 with last block 0 and no last digest (then with one that is not the
 * genesis hash): refused, and o1 keeps running; with the genesis hash it is taken. */
static void view_change_without_last_digest_is_refused(void **state)
{
    (void)state;
    setup_all(NULL);
    struct arena *a = arena_create(0);
    Stele__Block *blk;
    uint8_t zero[32] = {0}, wrong[32];
    memset(wrong, 0x22, sizeof wrong);
    assert_int_equal(blockhash_block_build(a, 0, zero, NULL, 0, &blk), STELE_OK);
    struct buf lb, w;
    buf_init(&lb);
    pb_pack_buf(&blk->base, &lb);
    Stele__PbftViewChange vc = STELE__PBFT_VIEW_CHANGE__INIT;
    vc.last_seq = 0;
    vc.last_block = (ProtobufCBinaryData){lb.len, lb.data};
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_VIEW_CHANGE;
    m.view = 1;
    m.view_change = &vc;
    forge(3, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    assert_false(NODES[1].b->vcs[3].have);

    vc.last_digest = (ProtobufCBinaryData){32, wrong};
    forge(3, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    assert_false(NODES[1].b->vcs[3].have);

    vc.last_digest = (ProtobufCBinaryData){32, GENESIS};
    vc.last_block = (ProtobufCBinaryData){0, NULL};
    forge(3, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    assert_true(NODES[1].b->vcs[3].have);
    assert_true(NODES[1].b->active && NODES[1].b->view == 0);
    buf_release(&lb);
    arena_destroy(a);
}

/* o3, primary of view 3, wraps real VIEW-CHANGEs (with a prepared proof) in a NEW-VIEW whose
 * re-proposal has no digest: refused, and the backups move on to view 4. */
static void new_view_with_digestless_re_proposal_is_refused(void **state)
{
    (void)state;
    first_block_with(no_commits); /* everyone prepared block 1, nobody committed */
    assert_true(NODES[1].b->best_prepared.len > 0);
    drop_all();
    size_t start = nq;
    for (int i = 0; i < 3; i++)
        pbft_start_view_change(NODES[i].b, 3, "sim");
    struct arena *a = arena_create(0);
    Stele__PbftSigned *vcs[3];
    size_t k = 0;
    for (size_t i = start; i < nq && k < 3; i++)
        if (Q[i].to == 3 && type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_VIEW_CHANGE)
            vcs[k++] = (Stele__PbftSigned *)pb_unpack(&stele__pbft_signed__descriptor, a, Q[i].data,
                                                      Q[i].len, 0);
    assert_int_equal(k, 3);
    drop_all();
    Stele__PbftMessage ppm = STELE__PBFT_MESSAGE__INIT;
    ppm.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
    ppm.view = 3;
    ppm.seq = 1; /* no digest */
    ppm.channel_id = "ch";
    ppm.sender = "o3";
    Stele__PbftSigned o;
    assert_int_equal(pbft_sign(&ppm, keys[3], a, &o), STELE_OK);
    Stele__PbftNewView nv = STELE__PBFT_NEW_VIEW__INIT;
    nv.view_changes = vcs;
    nv.n_view_changes = 3;
    nv.pre_prepare = &o;
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_NEW_VIEW;
    m.view = 3;
    m.new_view = &nv;
    struct buf w;
    forge(3, &m, NULL, 0, &w);
    for (int i = 0; i < 3; i++) {
        pbft_handle_bytes(NODES[i].b, w.data, w.len);
        assert_false(NODES[i].b->active);
        assert_int_equal(NODES[i].b->view, 4);
    }
    buf_release(&w);
    arena_destroy(a);
}

/* o3 (a backup) relays the honest primary's signed PRE-PREPARE with other octets as the block:
 * junk, or a well-formed block with another envelope. o1 (which holds the genuine one already)
 * and o2 (which does not yet) drop them; nobody leaves view 0 and block 1 is committed. */
static void relayed_junk_block_does_not_blame_the_primary(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    struct arena *a = arena_create(0);
    Stele__PbftSigned *ps = first_to(3, a);
    static uint8_t junk[] = "not a block";
    struct buf w, other, w2;
    buf_init(&w);
    buf_init(&other);
    buf_init(&w2);
    ps->block = (ProtobufCBinaryData){sizeof junk, junk};
    pb_pack_buf(&ps->base, &w);
    /* The genuine block with envelope 2 in place of envelope 1: same header, other data. */
    Stele__PbftSigned *ps2 = first_to(3, a);
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, ps2->block.data, ps2->block.len, 0);
    pool_env(3, 2);
    ProtobufCBinaryData *envs;
    size_t n;
    assert_int_equal(pbft_pool_take(NODES[3].b->pool, 10, 1 << 20, &envs, &n), STELE_OK);
    assert_int_equal(n, 2);
    blk->data->envelopes[0] = envs[1];
    pb_pack_buf(&blk->base, &other);
    ps2->block = (ProtobufCBinaryData){other.len, other.data};
    pb_pack_buf(&ps2->base, &w2);

    deliver(pp_to1_only); /* o1 holds the genuine one first */
    assert_true(NODES[1].b->slot.have_pp);
    for (int i = 1; i <= 2; i++) {
        pbft_handle_bytes(NODES[i].b, w.data, w.len);
        pbft_handle_bytes(NODES[i].b, w2.data, w2.len);
        assert_true(NODES[i].b->active);
        assert_int_equal(NODES[i].b->view, 0);
    }
    assert_false(NODES[2].b->slot.have_pp);
    deliver(all);
    for (int i = 0; i < N; i++) {
        assert_int_equal(NODES[i].b->view, 0);
        assert_int_equal(NODES[i].n, 1);
    }
    assert_no_fork();
    for (size_t i = 0; i < n; i++)
        free(envs[i].data);
    free(envs);
    buf_release(&w);
    buf_release(&w2);
    buf_release(&other);
    arena_destroy(a);
}

/* The block the primary signed breaks a rule (its number is not the PRE-PREPARE's): that is
 * the primary's fault. The backup that got it complains but stays in the view (alone, it
 * would be stranded there) and shows the others the signed block; they complain too, and the
 * view changes everywhere. */
static void invalid_block_signed_by_the_primary_changes_view(void **state)
{
    (void)state;
    setup_all(NULL);
    struct buf w;
    forged_pre_prepare(1, 5, GENESIS, 1, &w); /* numbered 5 for sequence number 1 */
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    assert_true(NODES[1].b->active);
    assert_int_equal(NODES[1].b->view, 0);
    assert_true(NODES[1].b->complaining);
    deliver(all);
    for (int i = 0; i < N; i++) {
        assert_true(NODES[i].b->active);
        assert_int_equal(NODES[i].b->view, 1);
    }
    buf_release(&w);
}

/* Validation codes in the metadata of block `num` (>= 1) of orderer i, and that block's size. */
static size_t codes_in(int i, size_t num, size_t *len)
{
    struct arena *a = arena_create(0);
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, NODES[i].blocks[num - 1].data,
                                  NODES[i].blocks[num - 1].len, 0);
    assert_non_null(blk);
    size_t n = blk->metadata ? blk->metadata->validation_codes.len : 0;
    *len = NODES[i].blocks[num - 1].len;
    arena_destroy(a);
    return n;
}

/* o3 relays the primary's PRE-PREPARE to o1, ahead of the genuine one, with 4 MiB of
 * validation codes in the block's metadata (no hash covers it): o1 appends block 1 as the
 * others do, without them. */
static void padded_metadata_is_not_appended(void **state)
{
    (void)state;
    setup_all(NULL);
    for (int i = 0; i < N; i++)
        pool_env(i, 1);
    pbft_maybe_propose(NODES[0].b);
    struct arena *a = arena_create(0);
    Stele__PbftSigned *ps = first_to(3, a);
    Stele__Block *blk =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, a, ps->block.data, ps->block.len, 0);
    static uint8_t pad[4 << 20];
    blk->metadata->validation_codes = (ProtobufCBinaryData){sizeof pad, pad};
    blk->metadata->state_hash = (ProtobufCBinaryData){32, pad};
    struct buf nb, w;
    buf_init(&nb);
    buf_init(&w);
    pb_pack_buf(&blk->base, &nb);
    ps->block = (ProtobufCBinaryData){nb.len, nb.data};
    pb_pack_buf(&ps->base, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len); /* before the genuine one */
    assert_true(NODES[1].b->slot.have_pp);
    assert_true(NODES[1].b->slot.block.len < 64 * 1024); /* kept as re-encoded */
    deliver(all);
    for (int i = 0; i < N; i++) {
        size_t len;
        assert_int_equal(NODES[i].n, 1);
        assert_int_equal(codes_in(i, 1, &len), 0);
        assert_true(len < 64 * 1024);
    }
    assert_no_fork();
    buf_release(&nb);
    buf_release(&w);
    arena_destroy(a);
}

/* o3 missed block 1 and fetches it from a Byzantine orderer that added 1 MiB of validation
 * codes, a state hash and a last_config to its metadata: the block (certificate intact) is
 * appended with metadata made by o3, as small as the others' copies. */
static void padded_metadata_from_state_transfer_is_not_appended(void **state)
{
    (void)state;
    first_block_with(not_to_or_from3);
    assert_int_equal(NODES[0].n, 1);
    assert_int_equal(NODES[3].n, 0);
    struct arena *a = arena_create(0);
    Stele__Block *blk = (Stele__Block *)pb_unpack(
        &stele__block__descriptor, a, NODES[0].blocks[0].data, NODES[0].blocks[0].len, 0);
    static uint8_t pad[1 << 20];
    blk->metadata->validation_codes = (ProtobufCBinaryData){sizeof pad, pad};
    blk->metadata->state_hash = (ProtobufCBinaryData){sizeof pad, pad};
    blk->metadata->last_config = 7;
    uint8_t hash[32];
    const char *why = "";
    assert_int_equal(pbft_block_check(&NODES[3].b->m, a, blk, hash, &why), STELE_OK);
    assert_int_equal(pbft_execute_certified(NODES[3].b, blk, hash), STELE_OK);
    size_t len, len0;
    assert_int_equal(NODES[3].n, 1);
    assert_int_equal(codes_in(3, 1, &len), 0);
    codes_in(0, 1, &len0);
    assert_int_equal(len, len0);
    Stele__Block *kept = (Stele__Block *)pb_unpack(
        &stele__block__descriptor, a, NODES[3].blocks[0].data, NODES[3].blocks[0].len, 0);
    assert_int_equal(kept->metadata->state_hash.len, 0);
    assert_int_equal(kept->metadata->last_config, 0);
    assert_int_equal(pbft_block_check(&NODES[3].b->m, a, kept, NULL, &why), STELE_OK);
    assert_no_fork();
    arena_destroy(a);
}

/* Octets held for later blocks at orderer i from sender `from` (SIZE_MAX: all), and how many
 * messages. */
static size_t held(int i, size_t from, size_t *count)
{
    size_t octets = 0;
    *count = 0;
    for (size_t k = 0; k < NODES[i].b->n_ahead; k++)
        if (from == SIZE_MAX || NODES[i].b->ahead[k].from == from) {
            octets += NODES[i].b->ahead[k].msg.len;
            (*count)++;
        }
    return octets;
}

/* Signs as the primary o0 a PRE-PREPARE for block `seq` over one envelope of `size` octets of
 * data (and `pad` octets of validation codes beside it) into `w`. */
static void forge_proposal(uint64_t seq, size_t size, size_t pad, struct buf *w)
{
    struct arena *a = arena_create(0);
    uint8_t *data = calloc(1, size ? size : 1);
    uint8_t nonce[24] = {9};
    nonce[1] = (uint8_t)seq;
    struct envelope_params ep = {.channel_id = "ch",
                                 .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                 .creator = (const uint8_t *)"client",
                                 .creator_len = 6,
                                 .nonce = nonce,
                                 .nonce_len = 24,
                                 .data = data,
                                 .data_len = size,
                                 .timestamp_ms = 1000};
    ProtobufCBinaryData e;
    char tx[65];
    assert_int_equal(envelope_build(&ep, client, &e, tx), STELE_OK);
    uint8_t prev[32] = {5}, d[32];
    Stele__Block *blk;
    assert_int_equal(blockhash_block_build(a, seq, prev, &e, 1, &blk), STELE_OK);
    uint8_t *p = calloc(1, pad ? pad : 1);
    blk->metadata->validation_codes = (ProtobufCBinaryData){pad, p};
    blockhash_header_pb(blk->header, d);
    struct buf bb;
    buf_init(&bb);
    pb_pack_buf(&blk->base, &bb);
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    m.type = STELE__PBFT_TYPE__PBFT_PRE_PREPARE;
    m.seq = seq;
    m.digest = (ProtobufCBinaryData){32, d};
    forge(0, &m, bb.data, bb.len, w);
    free(p);
    free(data);
    free(e.data);
    buf_release(&bb);
    arena_destroy(a);
}

/* The same PRE-PREPARE for block 2 (with 256 KiB beside it) 500 times is held once; o3's
 * PREPAREs for every block in the window leave room for o2's; the primary's proposals for later
 * blocks are held up to its share of the octets, the nearest first. */
static void held_messages_are_deduplicated_and_bounded(void **state)
{
    (void)state;
    setup_all(NULL);
    struct buf w;
    forge_proposal(2, 100, 256 << 10, &w);
    for (int k = 0; k < 500; k++)
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
    size_t count, octets = held(1, SIZE_MAX, &count);
    assert_int_equal(count, 1);
    assert_true(octets < w.len); /* kept re-encoded, without what rode beside the block */
    buf_release(&w);

    for (uint64_t s = 2; s <= 1 + NODES[1].b->log_window; s++) {
        Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
        uint8_t d[32] = {3};
        m.type = STELE__PBFT_TYPE__PBFT_PREPARE;
        m.seq = s;
        m.digest = (ProtobufCBinaryData){32, d};
        forge(3, &m, NULL, 0, &w);
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
        buf_release(&w);
    }
    held(1, 3, &count);
    assert_int_equal(count, PBFT_AHEAD_PER_SENDER);
    Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
    uint8_t d[32] = {4};
    m.type = STELE__PBFT_TYPE__PBFT_PREPARE;
    m.seq = 2;
    m.digest = (ProtobufCBinaryData){32, d};
    forge(2, &m, NULL, 0, &w);
    pbft_handle_bytes(NODES[1].b, w.data, w.len);
    buf_release(&w);
    held(1, 2, &count);
    assert_int_equal(count, 1);

    /* 6 MiB proposals for blocks 6, 5, 4, 3 (furthest first): the share of o0 (64 MiB / 4)
     * keeps the nearest that fit. */
    for (uint64_t s = 6; s >= 3; s--) {
        forge_proposal(s, 6 << 20, 0, &w);
        pbft_handle_bytes(NODES[1].b, w.data, w.len);
        buf_release(&w);
    }
    assert_true(held(1, 0, &count) <= PBFT_AHEAD_BYTES / N);
    bool near[7] = {false};
    for (size_t k = 0; k < NODES[1].b->n_ahead; k++)
        if (NODES[1].b->ahead[k].from == 0)
            near[NODES[1].b->ahead[k].seq] = true;
    assert_true(near[2] && near[3] && near[4]);
    assert_false(near[6]);
}

/* K = 1, L = 40: o3 floods CHECKPOINTs for blocks 21..40, inside the window, before every real
 * CHECKPOINT: checkpoints still become stable and the primary keeps proposing past h + L/2. */
static void checkpoint_flood_inside_the_window_does_not_stop_ordering(void **state)
{
    (void)state;
    setup_params(NULL, 1, 40);
    assert_int_equal(NODES[1].b->n_ckpts, 40);
    struct buf flood[20];
    for (int s = 0; s < 20; s++) {
        Stele__PbftMessage m = STELE__PBFT_MESSAGE__INIT;
        uint8_t d[32] = {1};
        m.type = STELE__PBFT_TYPE__PBFT_CHECKPOINT;
        m.seq = 21 + (uint64_t)s;
        m.digest = (ProtobufCBinaryData){32, d};
        forge(3, &m, NULL, 0, &flood[s]);
    }
    for (int k = 1; k <= 30; k++) {
        for (int i = 0; i < N; i++)
            pool_env(i, k);
        pbft_maybe_propose(NODES[0].b);
        for (bool any = true; any;) {
            any = false;
            for (size_t i = 0; i < nq; i++) {
                if (Q[i].gone)
                    continue;
                Q[i].gone = any = true;
                if (type_of(Q[i].data, Q[i].len) == STELE__PBFT_TYPE__PBFT_CHECKPOINT)
                    for (int s = 0; s < 20; s++)
                        pbft_handle_bytes(NODES[Q[i].to].b, flood[s].data, flood[s].len);
                pbft_handle_bytes(NODES[Q[i].to].b, Q[i].data, Q[i].len);
            }
        }
    }
    for (int s = 0; s < 20; s++)
        buf_release(&flood[s]);
    for (int i = 0; i < N; i++)
        assert_int_equal(NODES[i].n, 30);
    assert_true(NODES[1].b->stable >= 29);
    assert_no_fork();
}

/* A window of more checkpoints than PBFT_MAX_CKPTS runs as one of that many. */
static void huge_log_window_is_bounded(void **state)
{
    (void)state;
    setup_params(NULL, 1, 100000);
    assert_int_equal(NODES[1].b->log_window, PBFT_MAX_CKPTS);
    assert_int_equal(NODES[1].b->n_ckpts, PBFT_MAX_CKPTS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(view_change_without_last_digest_is_refused, teardown_all),
        cmocka_unit_test_teardown(new_view_with_digestless_re_proposal_is_refused, teardown_all),
        cmocka_unit_test_teardown(relayed_junk_block_does_not_blame_the_primary, teardown_all),
        cmocka_unit_test_teardown(invalid_block_signed_by_the_primary_changes_view, teardown_all),
        cmocka_unit_test_teardown(padded_metadata_is_not_appended, teardown_all),
        cmocka_unit_test_teardown(padded_metadata_from_state_transfer_is_not_appended,
                                  teardown_all),
        cmocka_unit_test_teardown(held_messages_are_deduplicated_and_bounded, teardown_all),
        cmocka_unit_test_teardown(checkpoint_flood_inside_the_window_does_not_stop_ordering,
                                  teardown_all),
        cmocka_unit_test_teardown(huge_log_window_is_bounded, teardown_all),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
