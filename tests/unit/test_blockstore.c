/* test_blockstore.c — the block store on real files: append, reads, reopen, crash recovery,
 * corruption, file rolling. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/blockstore.h"
#include "ledger/crc32c.h"
#include "pb/pb.h"
#include "stele/common.pb-c.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENVS_PER_BLOCK 3

/* A serialized Envelope whose payload header carries `tx_id` (NULL: junk that does not decode
 * as an Envelope, so it is stored but not indexed). */
static ProtobufCBinaryData make_envelope(struct arena *a, const char *tx_id, size_t pad)
{
    if (!tx_id) {
        static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x07};
        return (ProtobufCBinaryData){sizeof junk, (uint8_t *)junk};
    }
    Stele__Header h = STELE__HEADER__INIT;
    h.channel_id = (char *)"ch1";
    h.tx_id = (char *)tx_id;
    h.type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION;
    Stele__Payload p = STELE__PAYLOAD__INIT;
    p.header = &h;
    uint8_t *data = arena_calloc(a, 1, pad + 1);
    memset(data, 'x', pad);
    p.data = (ProtobufCBinaryData){pad, data};
    size_t plen;
    uint8_t *pbytes = pb_pack(&p.base, &plen);
    Stele__Envelope e = STELE__ENVELOPE__INIT;
    e.payload = (ProtobufCBinaryData){plen, arena_memdup(a, pbytes, plen)};
    uint8_t sig[64];
    memset(sig, 0x5a, sizeof sig);
    e.signature = (ProtobufCBinaryData){sizeof sig, sig};
    free(pbytes);
    size_t elen;
    uint8_t *ebytes = pb_pack(&e.base, &elen);
    ProtobufCBinaryData out = {elen, arena_memdup(a, ebytes, elen)};
    free(ebytes);
    return out;
}

/* Block `number` on top of the store's head: envelopes tx-<number>-<i>, the last one junk
 * every tenth block. `pad` sizes each envelope's data. */
static Stele__Block *next_block(struct arena *a, struct blockstore *bs, uint64_t number, size_t pad)
{
    ProtobufCBinaryData envs[ENVS_PER_BLOCK];
    for (int i = 0; i < ENVS_PER_BLOCK; i++) {
        char id[64];
        snprintf(id, sizeof id, "tx-%llu-%d", (unsigned long long)number, i);
        bool junk = number % 10 == 9 && i == ENVS_PER_BLOCK - 1;
        envs[i] = make_envelope(a, junk ? NULL : id, pad);
    }
    uint8_t prev[32];
    blockstore_head_hash(bs, prev);
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(a, number, prev, envs, ENVS_PER_BLOCK, &b), STELE_OK);
    b->metadata->timestamp_ms = 1700000000000ull + number;
    b->metadata->channel_id = (char *)"ch1";
    return b;
}

static void append_n(struct blockstore *bs, uint64_t n, size_t pad)
{
    struct arena *a = arena_create(0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t number = blockstore_height(bs);
        assert_int_equal(blockstore_append(bs, next_block(a, bs, number, pad)), STELE_OK);
        arena_reset(a);
    }
    arena_destroy(a);
}

struct fixture {
    char *dir;
    char *file0; /* dir/blocks/000000.blk */
    struct blockstore_options opts;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("blockstore");
    fx->opts.sync = BLOCKSTORE_SYNC_NONE;
    if (asprintf(&fx->file0, "%s/blocks/000000.blk", fx->dir) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->file0);
    free(fx);
    return 0;
}

static struct blockstore *open_ok(struct fixture *fx)
{
    struct blockstore *bs = NULL;
    char *err = NULL;
    int rc = blockstore_open(fx->dir, &fx->opts, &bs, &err);
    if (rc)
        fail_msg("open: %s: %s", stele_strerror(rc), err ? err : "");
    assert_null(err);
    return bs;
}

/* Opens expecting failure `want`; returns the error message (malloc'd). */
static char *open_fails(struct fixture *fx, int want)
{
    struct blockstore *bs = NULL;
    char *err = NULL;
    assert_int_equal(blockstore_open(fx->dir, &fx->opts, &bs, &err), want);
    assert_null(bs);
    assert_non_null(err);
    return err;
}

static uint64_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* Reads every block back by number, header hash and tx_id. */
static void check_all(struct blockstore *bs, uint64_t n)
{
    assert_int_equal(blockstore_height(bs), n);
    struct arena *a = arena_create(0);
    uint8_t prev[32] = {0};
    for (uint64_t i = 0; i < n; i++) {
        Stele__Block *b = NULL, *byhash = NULL, *bytx = NULL;
        assert_int_equal(blockstore_get(bs, i, a, &b), STELE_OK);
        assert_int_equal(b->header->number, i);
        assert_memory_equal(b->header->previous_hash.data, prev, 32);
        assert_int_equal(blockhash_check_data(b), STELE_OK);
        assert_int_equal(b->metadata->timestamp_ms, 1700000000000ull + i);
        assert_int_equal(blockhash_header_pb(b->header, prev), STELE_OK);
        assert_int_equal(blockstore_get_by_hash(bs, prev, a, &byhash), STELE_OK);
        assert_int_equal(byhash->header->number, i);
        char id[64];
        snprintf(id, sizeof id, "tx-%llu-1", (unsigned long long)i);
        uint32_t index = 99;
        assert_int_equal(blockstore_get_by_txid(bs, id, a, &bytx, &index), STELE_OK);
        assert_int_equal(bytx->header->number, i);
        assert_int_equal(index, 1);
        arena_reset(a);
    }
    uint8_t head[32];
    assert_int_equal(blockstore_head_hash(bs, head), n ? STELE_OK : STELE_ERR_NOT_FOUND);
    assert_memory_equal(head, prev, 32);
    Stele__Block *b;
    assert_int_equal(blockstore_get(bs, n, a, &b), STELE_ERR_NOT_FOUND);
    arena_destroy(a);
}

static void append_read_reopen_1000(void **state)
{
    struct fixture *fx = *state;
    struct blockstore *bs = open_ok(fx);
    check_all(bs, 0);
    append_n(bs, 1000, 40);
    check_all(bs, 1000);

    /* Junk envelopes are stored but not indexed; unknown ids are not found. */
    uint64_t number;
    uint32_t index;
    assert_int_equal(blockstore_find_txid(bs, "tx-9-2", &number, &index), STELE_ERR_NOT_FOUND);
    assert_int_equal(blockstore_find_txid(bs, "tx-8-2", &number, &index), STELE_OK);
    assert_int_equal(number, 8);
    assert_int_equal(index, 2);
    assert_int_equal(blockstore_find_txid(bs, "tx-8-", NULL, NULL), STELE_ERR_NOT_FOUND);
    assert_int_equal(blockstore_find_txid(bs, "", NULL, NULL), STELE_ERR_NOT_FOUND);
    uint8_t nohash[32] = {1};
    Stele__Block *b;
    assert_int_equal(blockstore_get_by_hash(bs, nohash, NULL, &b), STELE_ERR_NOT_FOUND);

    /* A malloc'd get, and the raw bytes. */
    assert_int_equal(blockstore_get(bs, 500, NULL, &b), STELE_OK);
    assert_int_equal(b->data->n_envelopes, ENVS_PER_BLOCK);
    size_t n;
    uint8_t *packed = pb_pack(&b->base, &n);
    struct buf raw;
    buf_init(&raw);
    assert_int_equal(blockstore_get_bytes(bs, 500, &raw), STELE_OK);
    assert_int_equal(raw.len, n);
    assert_memory_equal(raw.data, packed, n);
    free(packed);
    buf_release(&raw);
    pb_free(&b->base);

    blockstore_close(bs);
    bs = open_ok(fx);
    check_all(bs, 1000);
    append_n(bs, 1, 40);
    check_all(bs, 1001);
    blockstore_close(bs);
}

static void duplicate_txid_finds_first(void **state)
{
    struct fixture *fx = *state;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 4, 10);
    struct arena *a = arena_create(0);
    ProtobufCBinaryData envs[2] = {make_envelope(a, "tx-1-2", 0), make_envelope(a, "fresh", 0)};
    uint8_t prev[32];
    blockstore_head_hash(bs, prev);
    Stele__Block *b;
    assert_int_equal(blockhash_block_build(a, 4, prev, envs, 2, &b), STELE_OK);
    assert_int_equal(blockstore_append(bs, b), STELE_OK);
    uint64_t number;
    uint32_t index;
    assert_int_equal(blockstore_find_txid(bs, "tx-1-2", &number, &index), STELE_OK);
    assert_int_equal(number, 1);
    assert_int_equal(index, 2);
    assert_int_equal(blockstore_find_txid(bs, "fresh", &number, &index), STELE_OK);
    assert_int_equal(number, 4);
    assert_int_equal(index, 1);
    arena_destroy(a);
    blockstore_close(bs);
}

static void refuses_bad_blocks_writing_nothing(void **state)
{
    struct fixture *fx = *state;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 3, 10);
    uint64_t before = size_of(fx->file0);
    struct arena *a = arena_create(0);

    Stele__Block *b = next_block(a, bs, 3, 10);
    b->header->number = 4; /* wrong number */
    assert_int_equal(blockstore_append(bs, b), STELE_ERR_CONFLICT);
    b->header->number = 2; /* already stored */
    assert_int_equal(blockstore_append(bs, b), STELE_ERR_CONFLICT);
    b->header->number = 3;
    b->header->previous_hash.data[0] ^= 1; /* wrong previous hash */
    assert_int_equal(blockstore_append(bs, b), STELE_ERR_CONFLICT);
    b->header->previous_hash.data[0] ^= 1;
    b->data->envelopes[0].data[0] ^= 1; /* data hash mismatch */
    assert_int_equal(blockstore_append(bs, b), STELE_ERR_MALFORMED);
    b->data->envelopes[0].data[0] ^= 1;
    b->header->data_hash.len = 20;
    assert_int_equal(blockstore_append(bs, b), STELE_ERR_MALFORMED);
    b->header->data_hash.len = 32;
    uint8_t junk[5] = {0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(blockstore_append_bytes(bs, junk, sizeof junk), STELE_ERR_MALFORMED);

    assert_int_equal(blockstore_height(bs), 3);
    assert_int_equal(size_of(fx->file0), before);
    assert_int_equal(blockstore_find_txid(bs, "tx-3-0", NULL, NULL), STELE_ERR_NOT_FOUND);

    /* The same block, fixed, goes in; as bytes too. */
    size_t n;
    uint8_t *bytes = pb_pack(&b->base, &n);
    assert_int_equal(blockstore_append_bytes(bs, bytes, n), STELE_OK);
    assert_int_equal(blockstore_append_bytes(bs, bytes, n), STELE_ERR_CONFLICT);
    free(bytes);
    check_all(bs, 4);
    arena_destroy(a);
    blockstore_close(bs);

    /* A block over the record cap is refused. */
    fx->opts.max_record_size = 2000;
    bs = open_ok(fx);
    a = arena_create(0);
    Stele__Block *big = next_block(a, bs, 4, 700);
    assert_int_equal(blockstore_append(bs, big), STELE_ERR_TOO_BIG);
    bytes = pb_pack(&big->base, &n);
    assert_int_equal(blockstore_append_bytes(bs, bytes, n), STELE_ERR_TOO_BIG);
    free(bytes);
    assert_int_equal(blockstore_height(bs), 4);
    arena_destroy(a);
    blockstore_close(bs);
}

/* Stores five blocks, closes, and returns the offset where the last record starts. */
static uint64_t five_blocks(struct fixture *fx, uint8_t head4[32], uint8_t head3[32])
{
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 4, 20);
    blockstore_head_hash(bs, head3);
    uint64_t last = size_of(fx->file0);
    append_n(bs, 1, 20);
    blockstore_head_hash(bs, head4);
    blockstore_close(bs);
    return last;
}

static void torn_tail_is_dropped_and_reappended(void **state)
{
    struct fixture *fx = *state;
    uint8_t h4[32], h3[32], h[32];
    uint64_t last = five_blocks(fx, h4, h3);
    uint64_t full = size_of(fx->file0);

    /* Cut in the middle of the last record's payload. */
    assert_int_equal(truncate(fx->file0, (off_t)(full - 10)), 0);
    struct blockstore *bs = open_ok(fx);
    assert_int_equal(blockstore_height(bs), 4);
    assert_int_equal(blockstore_head_hash(bs, h), STELE_OK);
    assert_memory_equal(h, h3, 32);
    assert_int_equal(size_of(fx->file0), last);
    assert_int_equal(blockstore_find_txid(bs, "tx-4-0", NULL, NULL), STELE_ERR_NOT_FOUND);
    Stele__Block *gone;
    assert_int_equal(blockstore_get_by_hash(bs, h4, NULL, &gone), STELE_ERR_NOT_FOUND);
    check_all(bs, 4);
    append_n(bs, 1, 20); /* same content: same hash as before */
    assert_int_equal(blockstore_head_hash(bs, h), STELE_OK);
    assert_memory_equal(h, h4, 32);
    blockstore_close(bs);

    /* Cut inside the 8-octet record header. */
    assert_int_equal(truncate(fx->file0, (off_t)(last + 3)), 0);
    bs = open_ok(fx);
    assert_int_equal(blockstore_height(bs), 4);
    assert_int_equal(size_of(fx->file0), last);
    blockstore_close(bs);

    /* Zeros past the end of the data (what a crash can leave) are dropped too. */
    static const uint8_t zeros[100];
    FILE *f = fopen(fx->file0, "ab");
    fwrite(zeros, 1, sizeof zeros, f);
    fclose(f);
    bs = open_ok(fx);
    assert_int_equal(blockstore_height(bs), 4);
    assert_int_equal(size_of(fx->file0), last);
    check_all(bs, 4);
    blockstore_close(bs);
}

static void undecodable_tail_record_is_dropped(void **state)
{
    struct fixture *fx = *state;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 3, 20);
    blockstore_close(bs);
    uint64_t before = size_of(fx->file0);
    /* A record with a good CRC whose payload is not a Block. */
    uint8_t rec[8 + 4] = {0, 0, 0, 4, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    uint32_t crc = crc32c(rec + 8, 4);
    rec[4] = (uint8_t)(crc >> 24);
    rec[5] = (uint8_t)(crc >> 16);
    rec[6] = (uint8_t)(crc >> 8);
    rec[7] = (uint8_t)crc;
    FILE *f = fopen(fx->file0, "ab");
    fwrite(rec, 1, sizeof rec, f);
    fclose(f);
    bs = open_ok(fx);
    assert_int_equal(size_of(fx->file0), before);
    check_all(bs, 3);
    blockstore_close(bs);
}

static void flipped_byte_in_last_record_is_dropped(void **state)
{
    struct fixture *fx = *state;
    uint8_t h4[32], h3[32], h[32];
    uint64_t last = five_blocks(fx, h4, h3);
    size_t n;
    uint8_t *data = (uint8_t *)test_read_file(fx->file0, &n);
    data[last + 8 + 5] ^= 0x40;
    assert_int_equal(test_write_file(fx->file0, data, n), 0);
    free(data);
    struct blockstore *bs = open_ok(fx);
    assert_int_equal(blockstore_height(bs), 4);
    assert_int_equal(blockstore_head_hash(bs, h), STELE_OK);
    assert_memory_equal(h, h3, 32);
    assert_int_equal(size_of(fx->file0), last);
    check_all(bs, 4);
    blockstore_close(bs);
}

static void corrupt_middle_record_is_an_error(void **state)
{
    struct fixture *fx = *state;
    uint8_t h4[32], h3[32];
    uint64_t last = five_blocks(fx, h4, h3);
    size_t n;
    uint8_t *data = (uint8_t *)test_read_file(fx->file0, &n);
    /* Byte inside the last-but-one record, then remove the index so that it is scanned. */
    data[last - 3] ^= 0x01;
    assert_int_equal(test_write_file(fx->file0, data, n), 0);
    free(data);
    char *idx;
    assert_true(asprintf(&idx, "%s/index", fx->dir) > 0);
    test_rmtree(idx);
    free(idx);
    char *err = open_fails(fx, STELE_ERR_MALFORMED);
    assert_non_null(strstr(err, "000000.blk"));
    assert_non_null(strstr(err, "not a torn write"));
    free(err);
}

static void index_behind_files_is_reindexed(void **state)
{
    struct fixture *fx = *state;
    char *cmd;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 7, 20);
    blockstore_close(bs);
    /* Keep a copy of the index at height 7, store three more blocks, put the old copy back:
     * what a crash between the block fsync and the index write leaves. */
    assert_true(asprintf(&cmd, "cp -a '%s/index' '%s/index.old'", fx->dir, fx->dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    bs = open_ok(fx);
    append_n(bs, 3, 20);
    blockstore_close(bs);
    assert_true(asprintf(&cmd, "rm -rf '%s/index' && mv '%s/index.old' '%s/index'", fx->dir,
                         fx->dir, fx->dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    bs = open_ok(fx);
    check_all(bs, 10);
    blockstore_close(bs);

    /* No index at all: rebuilt from the files. */
    assert_true(asprintf(&cmd, "rm -rf '%s/index'", fx->dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    bs = open_ok(fx);
    check_all(bs, 10);
    blockstore_close(bs);
}

static void index_past_files_names_the_file(void **state)
{
    struct fixture *fx = *state;
    uint8_t h4[32], h3[32];
    uint64_t last = five_blocks(fx, h4, h3);
    /* Remove the last whole record: the index still says height 5. */
    assert_int_equal(truncate(fx->file0, (off_t)last), 0);
    char *err = open_fails(fx, STELE_ERR_MALFORMED);
    assert_non_null(strstr(err, "blocks/000000.blk"));
    assert_non_null(strstr(err, "block 4"));
    free(err);
}

static void files_roll_past_the_size_limit(void **state)
{
    struct fixture *fx = *state;
    fx->opts.max_file_size = 4096;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 120, 60);
    /* One block bigger than the limit gets a file to itself. */
    append_n(bs, 1, 3000);
    append_n(bs, 9, 60);
    check_all(bs, 130);
    blockstore_close(bs);

    uint32_t files = 0;
    for (;; files++) {
        char *p;
        assert_true(asprintf(&p, "%s/blocks/%06u.blk", fx->dir, files) > 0);
        bool exists = access(p, F_OK) == 0;
        if (exists && size_of(p) > 4096)
            assert_true(size_of(p) > 3 * 3000); /* only the big block passes the limit */
        free(p);
        if (!exists)
            break;
    }
    assert_true(files > 20);

    bs = open_ok(fx);
    check_all(bs, 130);
    blockstore_close(bs);

    /* A torn tail in the newest file is dropped; the older files are untouched. */
    char *lastf;
    assert_true(asprintf(&lastf, "%s/blocks/%06u.blk", fx->dir, files - 1) > 0);
    assert_int_equal(truncate(lastf, (off_t)(size_of(lastf) - 1)), 0);
    free(lastf);
    bs = open_ok(fx);
    check_all(bs, 129);
    append_n(bs, 1, 60);
    check_all(bs, 130);
    blockstore_close(bs);

    /* Index rebuilt across many files. */
    char *cmd;
    assert_true(asprintf(&cmd, "rm -rf '%s/index'", fx->dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    bs = open_ok(fx);
    check_all(bs, 130);
    blockstore_close(bs);

    /* A missing file in the middle is named. */
    assert_true(asprintf(&cmd, "rm '%s/blocks/000003.blk'", fx->dir) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *err = open_fails(fx, STELE_ERR_MALFORMED);
    assert_non_null(strstr(err, "000003.blk"));
    free(err);
}

static void sync_every_block_and_second_open(void **state)
{
    struct fixture *fx = *state;
    fx->opts.sync = BLOCKSTORE_SYNC_EVERY_BLOCK;
    fx->opts.max_file_size = 2048;
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 30, 40);
    /* The same store cannot be opened twice (LevelDB's lock). */
    struct blockstore *again = NULL;
    char *err = NULL;
    assert_int_equal(blockstore_open(fx->dir, &fx->opts, &again, &err), STELE_ERR_IO);
    assert_non_null(err);
    free(err);
    blockstore_close(bs);
    bs = open_ok(fx);
    check_all(bs, 30);
    blockstore_close(bs);
    blockstore_close(NULL);
}

/* A new block file whose directory entry could not be made durable is not used: the append is
 * refused (STELE_ERR_IO) with nothing stored, and succeeds once the disk is back. */
static void failed_directory_sync_refuses_the_append(void **state)
{
#ifndef STELE_TEST_HOOKS
    (void)state;
    skip();
#else
    struct fixture *fx = *state;
    fx->opts.sync = BLOCKSTORE_SYNC_EVERY_BLOCK;
    fx->opts.max_file_size = 2048;
    char *fail;
    assert_true(asprintf(&fail, "%s/disk-fails", fx->dir) > 0);
    setenv("STELE_TEST_BLOCKSTORE_DIRSYNC_FAIL", fail, 1); /* while the file exists */
    struct blockstore *bs = open_ok(fx);
    append_n(bs, 1, 40);
    assert_int_equal(test_write_file(fail, "", 0), 0);
    struct arena *a = arena_create(0);
    int rc = STELE_OK;
    for (int i = 0; i < 100 && rc == STELE_OK; i++) /* until a block needs a new file */
        rc = blockstore_append(bs, next_block(a, bs, blockstore_height(bs), 40));
    assert_int_equal(rc, STELE_ERR_IO);
    uint64_t height = blockstore_height(bs);
    assert_int_equal(unlink(fail), 0);
    assert_int_equal(blockstore_append(bs, next_block(a, bs, height, 40)), STELE_OK);
    append_n(bs, 20, 40);
    arena_destroy(a);
    blockstore_close(bs);
    unsetenv("STELE_TEST_BLOCKSTORE_DIRSYNC_FAIL");
    free(fail);
    bs = open_ok(fx);
    check_all(bs, height + 21);
    blockstore_close(bs);
#endif
}

struct reader_ctx {
    struct blockstore *bs;
    atomic_bool *stop;
    atomic_uint reads; /* blocks read and checked */
};

/* Reads blocks below the current height, checking each by number, hash and tx_id. */
static void *reader(void *arg)
{
    struct reader_ctx *rc = arg;
    struct arena *a = arena_create(0);
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(rc->stop)) {
        uint64_t h = blockstore_height(rc->bs);
        if (h == 0)
            continue;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t n = (seed >> 33) % h;
        Stele__Block *b = NULL, *again = NULL;
        uint8_t hash[32];
        if (blockstore_get(rc->bs, n, a, &b) != STELE_OK || b->header->number != n ||
            blockhash_header_pb(b->header, hash) != STELE_OK ||
            blockstore_get_by_hash(rc->bs, hash, a, &again) != STELE_OK)
            abort();
        char id[64];
        snprintf(id, sizeof id, "tx-%llu-0", (unsigned long long)n);
        uint64_t at;
        if (blockstore_find_txid(rc->bs, id, &at, NULL) != STELE_OK || at != n)
            abort();
        atomic_fetch_add(&rc->reads, 1);
        arena_reset(a);
    }
    arena_destroy(a);
    return NULL;
}

static void readers_run_during_appends(void **state)
{
    struct fixture *fx = *state;
    fx->opts.max_file_size = 8192; /* rolls while readers read */
    struct blockstore *bs = open_ok(fx);
    atomic_bool stop = false;
    struct reader_ctx ctx[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        ctx[i].bs = bs;
        ctx[i].stop = &stop;
        atomic_init(&ctx[i].reads, 0);
        assert_int_equal(pthread_create(&th[i], NULL, reader, &ctx[i]), 0);
    }
    for (int k = 0; k < 10; k++) {
        /* before each 30 blocks, every reader reads once more: the reads surely overlap the
         * appends and the file rolls, even when the scheduler would run the appends first */
        unsigned seen[3];
        for (int i = 0; i < 3; i++)
            seen[i] = atomic_load(&ctx[i].reads);
        for (int i = 0; i < 3; i++)
            while (k > 0 && atomic_load(&ctx[i].reads) == seen[i])
                sched_yield();
        append_n(bs, 30, 30);
    }
    atomic_store(&stop, true);
    unsigned reads[3];
    for (int i = 0; i < 3; i++) { /* every thread joined before any assertion can return */
        assert_int_equal(pthread_join(th[i], NULL), 0);
        reads[i] = atomic_load(&ctx[i].reads);
    }
    for (int i = 0; i < 3; i++)
        assert_true(reads[i] >= 9);
    check_all(bs, 300);
    blockstore_close(bs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_read_reopen_1000, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_txid_finds_first, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_bad_blocks_writing_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_dropped_and_reappended, setup, teardown),
        cmocka_unit_test_setup_teardown(undecodable_tail_record_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(flipped_byte_in_last_record_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(corrupt_middle_record_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(index_behind_files_is_reindexed, setup, teardown),
        cmocka_unit_test_setup_teardown(index_past_files_names_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(files_roll_past_the_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(sync_every_block_and_second_open, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_directory_sync_refuses_the_append, setup, teardown),
        cmocka_unit_test_setup_teardown(readers_run_during_appends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
