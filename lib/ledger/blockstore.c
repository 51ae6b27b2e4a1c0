/* blockstore.c — opening, appending to and reading the block store (see blockstore.h). */
#include "ledger/blockstore_int.h"

#include "base/arena.h"
#include "base/fsdir.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/testhook.h"
#include "ledger/blockhash.h"
#include "ledger/crc32c.h"
#include "pb/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int bs_fail(char **errmsg, int rc, const char *fmt, ...)
{
    if (errmsg) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
            s = NULL;
        va_end(ap);
        *errmsg = s;
    }
    return rc;
}

char *bs_file_path(const char *dir, uint32_t file)
{
    char *p = NULL;
    if (asprintf(&p, "%s/blocks/%06u.blk", dir, file) < 0)
        return NULL;
    return p;
}

/* pread() all of `len` octets or fail (a short file is STELE_ERR_MALFORMED). */
static int pread_full(int fd, void *out, size_t len, uint64_t off)
{
    uint8_t *p = out;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return STELE_ERR_IO;
        if (n == 0)
            return STELE_ERR_MALFORMED;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return STELE_OK;
}

int bs_read_record(int fd, const struct bs_loc *loc, struct buf *out)
{
    uint8_t hdr[BS_RECORD_HDR];
    int rc = pread_full(fd, hdr, sizeof hdr, loc->offset);
    if (rc)
        return rc;
    if (get_u32be(hdr) != loc->len)
        return STELE_ERR_MALFORMED;
    size_t start = out->len;
    rc = buf_reserve(out, loc->len);
    if (rc)
        return rc;
    rc = pread_full(fd, out->data + start, loc->len, loc->offset + BS_RECORD_HDR);
    if (rc)
        return rc;
    if (crc32c(out->data + start, loc->len) != get_u32be(hdr + 4))
        return STELE_ERR_MALFORMED;
    out->len = start + loc->len;
    out->data[out->len] = 0;
    return STELE_OK;
}

int blockstore_open(const char *dir, const struct blockstore_options *opts, struct blockstore **out,
                    char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    struct blockstore *bs = calloc(1, sizeof *bs);
    if (!bs)
        return STELE_ERR_NOMEM;
    pthread_mutex_init(&bs->write_mu, NULL);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Readers hold the lock for a whole read; do not let a stream of them starve the writer. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&bs->lock, &attr);
    pthread_rwlockattr_destroy(&attr);

    int rc = STELE_ERR_NOMEM;
    char *idx = NULL, *blocks = NULL;
    if (opts)
        bs->opts = *opts;
    if (!bs->opts.max_file_size)
        bs->opts.max_file_size = BLOCKSTORE_DEFAULT_FILE_SIZE;
    if (!bs->opts.max_record_size)
        bs->opts.max_record_size = BLOCKSTORE_DEFAULT_RECORD_SIZE;
    bs->dir = strdup(dir);
    bs->scratch = arena_create(64 << 10);
    bs->wbuf = calloc(1, sizeof *bs->wbuf);
    if (!bs->dir || !bs->scratch || !bs->wbuf || asprintf(&idx, "%s/index", dir) < 0 ||
        asprintf(&blocks, "%s/blocks", dir) < 0)
        goto fail;
    if ((rc = fsdir_make(blocks, 0750, errmsg)))
        goto fail;

    bs->db_opts = leveldb_options_create();
    bs->ropts = leveldb_readoptions_create();
    bs->wopts = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(bs->db_opts, 1);
    leveldb_writeoptions_set_sync(bs->wopts, 0);
    char *err = NULL;
    bs->db = leveldb_open(bs->db_opts, idx, &err);
    if (err) {
        rc = bs_fail(errmsg, STELE_ERR_IO, "cannot open block index %s: %s", idx, err);
        leveldb_free(err);
        goto fail;
    }
    rc = bs_recover(bs, errmsg);
    if (rc)
        goto fail;
    free(idx);
    free(blocks);
    *out = bs;
    return STELE_OK;

fail:
    if (rc == STELE_ERR_NOMEM && errmsg && !*errmsg)
        bs_fail(errmsg, rc, "out of memory opening block store %s", dir);
    free(idx);
    free(blocks);
    blockstore_close(bs);
    return rc;
}

void blockstore_close(struct blockstore *bs)
{
    if (!bs)
        return;
    for (uint32_t i = 0; i < bs->nfiles; i++)
        if (bs->fds[i] >= 0)
            close(bs->fds[i]);
    free(bs->fds);
    if (bs->db)
        leveldb_close(bs->db);
    if (bs->db_opts)
        leveldb_options_destroy(bs->db_opts);
    if (bs->ropts)
        leveldb_readoptions_destroy(bs->ropts);
    if (bs->wopts)
        leveldb_writeoptions_destroy(bs->wopts);
    if (bs->wbuf)
        buf_release(bs->wbuf);
    free(bs->wbuf);
    arena_destroy(bs->scratch);
    pthread_rwlock_destroy(&bs->lock);
    pthread_mutex_destroy(&bs->write_mu);
    free(bs->dir);
    free(bs);
}

/* Makes the entries of DIR/blocks durable. Test builds (STELE_TEST_HOOKS) fail it as a disk
 * would while the file STELE_TEST_BLOCKSTORE_DIRSYNC_FAIL names exists. */
static int sync_blocks_dir(const struct blockstore *bs)
{
    if (test_hook_file("STELE_TEST_BLOCKSTORE_DIRSYNC_FAIL")) {
        errno = EIO;
        return STELE_ERR_IO;
    }
    char *bdir = NULL;
    if (asprintf(&bdir, "%s/blocks", bs->dir) < 0)
        return STELE_ERR_NOMEM;
    int dfd = open(bdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(bdir);
    int rc = dfd >= 0 && fsync(dfd) == 0 ? STELE_OK : STELE_ERR_IO;
    if (dfd >= 0) {
        int e = errno;
        close(dfd);
        errno = e;
    }
    return rc;
}

/* Creates block file nfiles and makes it the head (writer only). */
static int roll_file(struct blockstore *bs)
{
    char *path = bs_file_path(bs->dir, bs->nfiles);
    if (!path)
        return STELE_ERR_NOMEM;
    int *fds = malloc((bs->nfiles + 1) * sizeof *fds);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    /* The new file's directory entry must be durable before blocks in it are indexed. */
    int rc = fd < 0 ? STELE_ERR_IO : !fds ? STELE_ERR_NOMEM : STELE_OK;
    if (rc == STELE_OK && bs->opts.sync == BLOCKSTORE_SYNC_EVERY_BLOCK &&
        (rc = sync_blocks_dir(bs)) == STELE_ERR_IO)
        log_error("ledger", "cannot sync the directory of new block file %s: %s", path,
                  strerror(errno));
    else if (fd < 0)
        log_error("ledger", "cannot create block file %s: %s", path, strerror(errno));
    if (rc) {
        if (fd >= 0) {
            close(fd);
            if (unlink(path) != 0)
                bs->broken = true; /* the next roll_file() would find it */
        }
        free(fds);
        free(path);
        return rc;
    }
    free(path);
    pthread_rwlock_wrlock(&bs->lock);
    memcpy(fds, bs->fds, bs->nfiles * sizeof *fds);
    fds[bs->nfiles] = fd;
    free(bs->fds);
    bs->fds = fds;
    bs->nfiles++;
    bs->head_size = 0;
    pthread_rwlock_unlock(&bs->lock);
    return STELE_OK;
}

/* Writes header and payload at the end of the head file. On failure, cuts the file back. */
static int write_record(struct blockstore *bs, const uint8_t *payload, size_t len,
                        struct bs_loc *loc)
{
    int rc;
    if (bs->head_size > 0 && bs->head_size + BS_RECORD_HDR + len > bs->opts.max_file_size) {
        rc = roll_file(bs);
        if (rc)
            return rc;
    }
    int fd = bs->fds[bs->nfiles - 1];
    uint8_t hdr[BS_RECORD_HDR];
    put_u32be(hdr, (uint32_t)len);
    put_u32be(hdr + 4, crc32c(payload, len));
    loc->file = bs->nfiles - 1;
    loc->offset = bs->head_size;
    loc->len = (uint32_t)len;

    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)payload, len}};
    size_t total = sizeof hdr + len, done = 0;
    while (done < total) {
        struct iovec *v = iov;
        int cnt = 2;
        size_t skip = done;
        if (skip >= iov[0].iov_len) {
            skip -= iov[0].iov_len;
            v = iov + 1;
            cnt = 1;
        }
        struct iovec cur[2] = {v[0], cnt > 1 ? v[1] : (struct iovec){0}};
        cur[0].iov_base = (uint8_t *)cur[0].iov_base + skip;
        cur[0].iov_len -= skip;
        ssize_t n = pwritev(fd, cur, cnt, (off_t)(bs->head_size + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("ledger", "writing block file %06u.blk: %s", loc->file, strerror(errno));
            if (ftruncate(fd, (off_t)bs->head_size) != 0)
                bs->broken = true;
            return STELE_ERR_IO;
        }
        done += (size_t)n;
    }
    if (bs->opts.sync == BLOCKSTORE_SYNC_EVERY_BLOCK && fdatasync(fd) != 0) {
        /* After a failed fsync the page cache can no longer be trusted: stop here. */
        log_error("ledger", "fdatasync of block file %06u.blk: %s", loc->file, strerror(errno));
        bs->broken = true;
        return STELE_ERR_IO;
    }
    return STELE_OK;
}

/* The common part of both appends: `block` is the decoded form of the `len` payload octets.
 * Called with write_mu held. */
static int append_locked(struct blockstore *bs, const Stele__Block *block, const uint8_t *payload,
                         size_t len)
{
    uint8_t hash[32];
    int rc = blockhash_check_data(block);
    if (rc)
        return rc;
    if (block->header->number != bs->height ||
        memcmp(block->header->previous_hash.data, bs->head, 32) != 0)
        return STELE_ERR_CONFLICT;
    rc = blockhash_header_pb(block->header, hash);
    if (rc)
        return rc;

    /* the index's tx_ids first: the step that can fail for lack of memory, before anything
     * is written (the append can be tried again) */
    struct buf txs;
    buf_init(&txs);
    if ((rc = bs_index_txids(bs->scratch, block, &txs))) {
        buf_release(&txs);
        return rc;
    }
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    struct bs_loc loc;
    rc = write_record(bs, payload, len, &loc);
    bool written = rc == STELE_OK;
    if (rc == STELE_OK)
        bs_index_put(wb, block, hash, &loc, &txs);
    buf_release(&txs);
    if (rc == STELE_OK) {
        char *err = NULL;
        leveldb_write(bs->db, bs->wopts, wb, &err);
        if (err) {
            log_error("ledger", "block index write for block %llu: %s",
                      (unsigned long long)block->header->number, err);
            leveldb_free(err);
            rc = STELE_ERR_IO;
        }
    }
    /* A block written but not indexed is durable: reopening re-indexes it. Until then the
     * in-memory head no longer matches the files, so refuse further appends. */
    if (rc != STELE_OK && written)
        bs->broken = true;
    leveldb_writebatch_destroy(wb);
    if (rc == STELE_OK) {
        pthread_rwlock_wrlock(&bs->lock);
        bs->height++;
        memcpy(bs->head, hash, 32);
        bs->head_size += BS_RECORD_HDR + len;
        pthread_rwlock_unlock(&bs->lock);
    }
    return rc;
}

int blockstore_append(struct blockstore *bs, const Stele__Block *block)
{
    if (!block)
        return STELE_ERR_INVALID;
    size_t len = protobuf_c_message_get_packed_size(&block->base);
    if (len > bs->opts.max_record_size)
        return STELE_ERR_TOO_BIG;
    pthread_mutex_lock(&bs->write_mu);
    int rc = STELE_ERR_STATE;
    if (!bs->broken) {
        buf_clear(bs->wbuf);
        rc = pb_pack_buf(&block->base, bs->wbuf);
        if (rc == STELE_OK)
            rc = append_locked(bs, block, bs->wbuf->data, bs->wbuf->len);
        arena_reset(bs->scratch);
    }
    pthread_mutex_unlock(&bs->write_mu);
    return rc;
}

int blockstore_append_bytes(struct blockstore *bs, const uint8_t *data, size_t len)
{
    if (len > bs->opts.max_record_size)
        return STELE_ERR_TOO_BIG;
    pthread_mutex_lock(&bs->write_mu);
    int rc = STELE_ERR_STATE;
    if (!bs->broken) {
        Stele__Block *b =
            (Stele__Block *)pb_unpack(&stele__block__descriptor, bs->scratch, data, len, 0);
        rc = b ? append_locked(bs, b, data, len) : STELE_ERR_MALFORMED;
        arena_reset(bs->scratch);
    }
    pthread_mutex_unlock(&bs->write_mu);
    return rc;
}

uint64_t blockstore_height(struct blockstore *bs)
{
    pthread_rwlock_rdlock(&bs->lock);
    uint64_t h = bs->height;
    pthread_rwlock_unlock(&bs->lock);
    return h;
}

int blockstore_head_hash(struct blockstore *bs, uint8_t out[32])
{
    pthread_rwlock_rdlock(&bs->lock);
    memcpy(out, bs->head, 32);
    int rc = bs->height ? STELE_OK : STELE_ERR_NOT_FOUND;
    pthread_rwlock_unlock(&bs->lock);
    return rc;
}

int blockstore_get_bytes(struct blockstore *bs, uint64_t number, struct buf *out)
{
    struct bs_loc loc = {.file = 0, .offset = 0};
    pthread_rwlock_rdlock(&bs->lock);
    int rc = number < bs->height ? bs_index_loc(bs, number, &loc) : STELE_ERR_NOT_FOUND;
    if (rc == STELE_OK && (loc.file >= bs->nfiles || loc.len > bs->opts.max_record_size))
        rc = STELE_ERR_MALFORMED;
    if (rc == STELE_OK)
        rc = bs_read_record(bs->fds[loc.file], &loc, out);
    pthread_rwlock_unlock(&bs->lock);
    if (rc == STELE_ERR_MALFORMED)
        log_error("ledger", "block %llu in %06u.blk at offset %llu no longer checks out",
                  (unsigned long long)number, loc.file, (unsigned long long)loc.offset);
    return rc;
}

int blockstore_get(struct blockstore *bs, uint64_t number, struct arena *a, Stele__Block **out)
{
    struct buf b;
    buf_init(&b);
    int rc = blockstore_get_bytes(bs, number, &b);
    if (rc == STELE_OK) {
        *out = (Stele__Block *)pb_unpack(&stele__block__descriptor, a, b.data, b.len, 0);
        if (!*out)
            rc = STELE_ERR_MALFORMED;
    }
    buf_release(&b);
    return rc;
}

int blockstore_get_by_hash(struct blockstore *bs, const uint8_t hash[32], struct arena *a,
                           Stele__Block **out)
{
    uint64_t number;
    uint8_t got[32];
    int rc = bs_index_hash(bs, hash, &number);
    if (rc == STELE_OK)
        rc = blockstore_get(bs, number, a, out);
    /* Belt and braces: never answer with a block of another hash, whatever the index says. */
    if (rc == STELE_OK &&
        (blockhash_header_pb((*out)->header, got) != STELE_OK || memcmp(got, hash, 32) != 0)) {
        if (!a)
            pb_free(&(*out)->base);
        *out = NULL;
        rc = STELE_ERR_NOT_FOUND;
    }
    return rc;
}

static int find_txid(struct blockstore *bs, const char *tx_id, bool signed_only, uint64_t *number,
                     uint32_t *index)
{
    uint64_t n;
    uint32_t i;
    int rc = bs_index_txid(bs, tx_id, signed_only, &n, &i);
    if (rc == STELE_OK && n >= blockstore_height(bs))
        rc = STELE_ERR_NOT_FOUND; /* indexed, but its append has not returned yet */
    if (rc == STELE_OK && number)
        *number = n;
    if (rc == STELE_OK && index)
        *index = i;
    return rc;
}

int blockstore_find_txid(struct blockstore *bs, const char *tx_id, uint64_t *number,
                         uint32_t *index)
{
    return find_txid(bs, tx_id, false, number, index);
}

int blockstore_txid_taken(struct blockstore *bs, const char *tx_id, uint64_t *number)
{
    return find_txid(bs, tx_id, true, number, NULL);
}

int blockstore_get_by_txid(struct blockstore *bs, const char *tx_id, struct arena *a,
                           Stele__Block **out, uint32_t *index)
{
    uint64_t number;
    int rc = blockstore_find_txid(bs, tx_id, &number, index);
    return rc ? rc : blockstore_get(bs, number, a, out);
}
