/*
 * blockstore_recover.c — bringing files and index back in step when a store is opened.
 *
 * 1. The block files must be 000000.blk .. N.blk with no gap (an empty directory gets
 *    000000.blk).
 * 2. The last indexed block must be where the index says, whole, with a good CRC and the
 *    header hash the index recorded. If instead it is damaged the way an interrupted write
 *    damages the end of the last file (partly written, or a bad CRC with nothing but zeros
 *    after it) it is a torn tail even though the index had listed it (possible when the index
 *    reached the disk before the block did, under BLOCKSTORE_SYNC_NONE): it is dropped from
 *    the index, then cut from the file, and the block before it must check out. Anything
 *    else — a missing file, a file that ends before the record starts (whole records lost), a
 *    bad record with data after it — means the files lost blocks the index had confirmed, and
 *    open fails naming the file.
 * 3. Every record after it is read in order. Good records that continue the chain are indexed
 *    (crash between fsync and index write, or an index restored from an older copy). The first
 *    bad record is a torn tail when it is in the last file and nothing but it (or zeros, as a
 *    crash can leave past the end of written data) follows: the file is cut there and the
 *    record is never served. A bad record with data after it, in any file, is corruption and
 *    fails the open. A record whose CRC is good but whose block has the wrong number, previous
 *    hash or data hash is never a torn write: it also fails the open.
 */
#include "ledger/blockstore_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/blockhash.h"
#include "ledger/crc32c.h"
#include "pb/pb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REINDEX_BATCH 256 /* blocks per LevelDB batch while re-indexing */

/* Parses "NNNNNN.blk" (exactly six digits). */
static bool parse_file_name(const char *name, uint32_t *file)
{
    if (strlen(name) != 10 || strcmp(name + 6, ".blk") != 0)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 6; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(name[i] - '0');
    }
    *file = v;
    return true;
}

/* Opens every block file (step 1) into bs->fds / bs->nfiles. */
static int open_files(struct blockstore *bs, char **errmsg)
{
    char *bdir = NULL;
    if (asprintf(&bdir, "%s/blocks", bs->dir) < 0)
        return STELE_ERR_NOMEM;
    DIR *d = opendir(bdir);
    if (!d) {
        int rc = bs_fail(errmsg, STELE_ERR_IO, "cannot read %s: %s", bdir, strerror(errno));
        free(bdir);
        return rc;
    }
    uint32_t count = 0, max = 0, f;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (parse_file_name(de->d_name, &f)) {
            count++;
            max = f > max ? f : max;
        }
    closedir(d);
    free(bdir);
    if (count && max + 1 != count) {
        for (f = 0; f < max; f++) {
            char *p = bs_file_path(bs->dir, f);
            bool missing = p && access(p, F_OK) != 0;
            if (missing) {
                int rc = bs_fail(errmsg, STELE_ERR_MALFORMED,
                                 "block file %s is missing but later block files exist", p);
                free(p);
                return rc;
            }
            free(p);
        }
    }
    uint32_t n = count ? count : 1;
    bs->fds = malloc(n * sizeof *bs->fds);
    if (!bs->fds)
        return STELE_ERR_NOMEM;
    for (f = 0; f < n; f++) {
        char *p = bs_file_path(bs->dir, f);
        if (!p)
            return STELE_ERR_NOMEM;
        int fd = open(p, O_RDWR | O_CLOEXEC | (count ? 0 : O_CREAT), 0640);
        if (fd < 0) {
            int rc =
                bs_fail(errmsg, STELE_ERR_IO, "cannot open block file %s: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        free(p);
        bs->fds[f] = fd;
        bs->nfiles = f + 1;
    }
    return STELE_OK;
}

static int file_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return STELE_ERR_IO;
    *size = (uint64_t)st.st_size;
    return STELE_OK;
}

/* True when the octets [pos, size) of fd are all zero (or cannot be read: then false). */
static bool rest_is_zero(int fd, uint64_t pos, uint64_t size)
{
    uint8_t chunk[4096];
    while (pos < size) {
        size_t n = size - pos < sizeof chunk ? (size_t)(size - pos) : sizeof chunk;
        ssize_t got = pread(fd, chunk, n, (off_t)pos);
        if (got <= 0)
            return false;
        for (ssize_t i = 0; i < got; i++)
            if (chunk[i])
                return false;
        pos += (uint64_t)got;
    }
    return true;
}

/* Checks the last indexed block (step 2), setting head, height and the scan start `next`.
 * When `torn` is non-NULL and the block's record is damaged the way an interrupted write
 * damages the end of the last file (partly there, or a bad CRC with nothing but zeros after
 * it), sets *torn and *last to its location instead of failing. */
static int check_last_indexed(struct blockstore *bs, uint64_t height, struct bs_loc *next,
                              bool *torn, struct bs_loc *last, char **errmsg)
{
    struct bs_loc loc;
    int rc = bs_index_loc(bs, height - 1, &loc);
    if (rc)
        return bs_fail(errmsg, rc == STELE_ERR_NOT_FOUND ? STELE_ERR_MALFORMED : rc,
                       "block index of %s says height %llu but has no entry for block %llu",
                       bs->dir, (unsigned long long)height, (unsigned long long)height - 1);
    char *path = bs_file_path(bs->dir, loc.file);
    if (!path)
        return STELE_ERR_NOMEM;
    uint64_t size = 0, end = loc.offset + BS_RECORD_HDR + loc.len;
    bool in_last = loc.file == bs->nfiles - 1;
    struct buf rec;
    buf_init(&rec);
    if (loc.file >= bs->nfiles) {
        rc = bs_fail(errmsg, STELE_ERR_MALFORMED,
                     "block index places block %llu in %s, which does not exist",
                     (unsigned long long)height - 1, path);
        goto out;
    }
    rc = file_size(bs->fds[loc.file], &size);
    if (rc == STELE_OK && loc.len <= bs->opts.max_record_size && torn && in_last &&
        loc.offset < size && end > size) {
        *torn = true; /* partly written */
        goto out;
    }
    if (rc == STELE_OK && (loc.len > bs->opts.max_record_size || end > size)) {
        rc = bs_fail(errmsg, STELE_ERR_MALFORMED,
                     "block index places block %llu at offset %llu (%u octets) of %s, but the "
                     "file holds only %llu octets",
                     (unsigned long long)height - 1, (unsigned long long)loc.offset, loc.len, path,
                     (unsigned long long)size);
        goto out;
    }
    if (rc == STELE_OK)
        rc = bs_read_record(bs->fds[loc.file], &loc, &rec);
    if (rc == STELE_ERR_MALFORMED && torn && in_last &&
        (end == size || rest_is_zero(bs->fds[loc.file], end, size))) {
        *torn = true; /* bad CRC on the last record */
        rc = STELE_OK;
        goto out;
    }
    Stele__Block *b = NULL;
    uint8_t hash[32];
    size_t failures = arena_failures(bs->scratch);
    if (rc == STELE_OK)
        b = (Stele__Block *)pb_unpack(&stele__block__descriptor, bs->scratch, rec.data, rec.len, 0);
    int hrc = rc == STELE_OK && b && b->header ? blockhash_header_pb(b->header, hash) : STELE_OK;
    if (rc == STELE_OK && (arena_failures(bs->scratch) != failures || stele_no_verdict(hrc)))
        rc = hrc ? hrc : STELE_ERR_NOMEM; /* this reader's failure, not the block's */
    if (rc == STELE_OK && (!b || !b->header || b->header->number != height - 1 || hrc ||
                           memcmp(hash, loc.hash, 32) != 0))
        rc = STELE_ERR_MALFORMED;
    if (rc) {
        rc = bs_fail(errmsg, rc, "last indexed block %llu at offset %llu of %s does not check out",
                     (unsigned long long)height - 1, (unsigned long long)loc.offset, path);
        goto out;
    }
    memcpy(bs->head, hash, 32);
    bs->height = height;
    next->file = loc.file;
    next->offset = end;
out:
    if (torn && *torn)
        *last = loc;
    arena_reset(bs->scratch);
    buf_release(&rec);
    free(path);
    return rc;
}

/* Reads and checks the record at `pos` of a file of `size` octets. Returns NULL when it is a
 * good next block (then *block and *hash are set and loc is filled), else a description of the
 * problem; *tearable says whether a torn write could explain it; *end is where the record
 * claims to end; *local is STELE_ERR_NOMEM or STELE_ERR_IO when the problem is this reader's
 * (memory, a failed read), not the record's: nothing can be said of the record then, and it
 * must not be cut off as torn. */
static const char *check_record(struct blockstore *bs, int fd, uint64_t pos, uint64_t size,
                                struct buf *rec, struct bs_loc *loc, Stele__Block **block,
                                uint8_t hash[32], bool *tearable, uint64_t *end, int *local)
{
    uint8_t hdr[BS_RECORD_HDR];
    *tearable = true;
    *end = size;
    *local = STELE_OK;
    if (size - pos < BS_RECORD_HDR)
        return "short record header";
    if (pread(fd, hdr, sizeof hdr, (off_t)pos) != (ssize_t)sizeof hdr) {
        *local = STELE_ERR_IO; /* within the file's size: the read failed, not the record */
        return "unreadable record header";
    }
    loc->len = get_u32be(hdr);
    *end = pos + BS_RECORD_HDR + loc->len;
    if (loc->len == 0 || loc->len > bs->opts.max_record_size)
        return "record length out of range";
    if (*end > size)
        return "record runs past the end of the file";
    buf_clear(rec);
    int rc = bs_read_record(fd, loc, rec);
    if (rc == STELE_ERR_NOMEM || rc == STELE_ERR_IO) {
        *local = rc;
        return rc == STELE_ERR_NOMEM ? "out of memory reading it" : "it cannot be read";
    }
    if (rc != STELE_OK)
        return "bad record CRC";
    size_t failures = arena_failures(bs->scratch);
    Stele__Block *b =
        (Stele__Block *)pb_unpack(&stele__block__descriptor, bs->scratch, rec->data, rec->len, 0);
    if (arena_failures(bs->scratch) != failures) {
        *local = STELE_ERR_NOMEM;
        return "out of memory decoding it";
    }
    if (!b)
        return "record does not decode as a block";
    *tearable = false;
    int drc = blockhash_check_data(b), hrc = blockhash_header_pb(b->header, hash);
    if (stele_no_verdict(drc) || stele_no_verdict(hrc)) {
        *local = stele_no_verdict(drc) ? drc : hrc;
        return "hashing it failed";
    }
    if (drc)
        return "block data hash does not match its envelopes";
    if (b->header->number != bs->height || memcmp(b->header->previous_hash.data, bs->head, 32))
        return "block does not continue the chain";
    if (hrc)
        return "block header does not hash";
    *block = b;
    return NULL;
}

/* Writes and clears the pending re-index batch. */
static int flush_batch(struct blockstore *bs, leveldb_writebatch_t *wb, char **errmsg)
{
    char *err = NULL;
    leveldb_write(bs->db, bs->wopts, wb, &err);
    leveldb_writebatch_clear(wb);
    if (err) {
        int rc = bs_fail(errmsg, STELE_ERR_IO, "re-indexing %s: %s", bs->dir, err);
        leveldb_free(err);
        return rc;
    }
    return STELE_OK;
}

/* Cuts a torn tail of block file `f` at `pos`. */
static int truncate_tail(struct blockstore *bs, uint32_t f, uint64_t pos, uint64_t size,
                         const char *why, char **errmsg)
{
    char *path = bs_file_path(bs->dir, f);
    log_warn("ledger", "dropping torn tail of %s: %llu octets from offset %llu (%s)",
             path ? path : "block file", (unsigned long long)(size - pos), (unsigned long long)pos,
             why);
    int rc = STELE_OK;
    if (ftruncate(bs->fds[f], (off_t)pos) != 0 || fsync(bs->fds[f]) != 0)
        rc = bs_fail(errmsg, STELE_ERR_IO, "cannot truncate %s: %s", path ? path : "block file",
                     strerror(errno));
    free(path);
    return rc;
}

/* Step 3: reads every record from `start` on, indexing good ones, cutting a torn tail. */
static int scan(struct blockstore *bs, struct bs_loc start, char **errmsg)
{
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    struct buf rec;
    buf_init(&rec);
    unsigned pending = 0;
    uint64_t indexed = bs->height;
    int rc = STELE_OK;
    for (uint32_t f = start.file; f < bs->nfiles && rc == STELE_OK; f++) {
        uint64_t size = 0, pos = f == start.file ? start.offset : 0;
        rc = file_size(bs->fds[f], &size);
        while (rc == STELE_OK && pos < size) {
            struct bs_loc loc = {.file = f, .offset = pos};
            Stele__Block *b = NULL;
            uint8_t hash[32];
            bool tearable;
            uint64_t end;
            int local;
            const char *why = check_record(bs, bs->fds[f], pos, size, &rec, &loc, &b, hash,
                                           &tearable, &end, &local);
            if (why && local) {
                char *path = bs_file_path(bs->dir, f);
                rc = bs_fail(errmsg, local, "%s: cannot check the record at offset %llu: %s",
                             path ? path : "block file", (unsigned long long)pos, why);
                free(path);
                break;
            }
            if (why) {
                bool last = f == bs->nfiles - 1;
                if (tearable && last && (end >= size || rest_is_zero(bs->fds[f], end, size))) {
                    rc = truncate_tail(bs, f, pos, size, why, errmsg);
                    size = pos;
                    break;
                }
                char *path = bs_file_path(bs->dir, f);
                rc = bs_fail(errmsg, STELE_ERR_MALFORMED,
                             "%s: corrupt record at offset %llu (block %llu expected): %s; data "
                             "follows it, so it is not a torn write",
                             path ? path : "block file", (unsigned long long)pos,
                             (unsigned long long)bs->height, why);
                free(path);
                break;
            }
            rc = bs_index_block(wb, bs->scratch, b, hash, &loc);
            arena_reset(bs->scratch);
            bs->height++;
            memcpy(bs->head, hash, 32);
            pos = end;
            if (rc == STELE_OK && ++pending == REINDEX_BATCH) {
                rc = flush_batch(bs, wb, errmsg);
                pending = 0;
            }
        }
        if (f == bs->nfiles - 1)
            bs->head_size = size;
    }
    if (rc == STELE_OK && pending)
        rc = flush_batch(bs, wb, errmsg);
    if (rc == STELE_OK && bs->height > indexed)
        log_info("ledger", "%s: re-indexed blocks %llu to %llu from the block files", bs->dir,
                 (unsigned long long)indexed, (unsigned long long)bs->height - 1);
    arena_reset(bs->scratch);
    buf_release(&rec);
    leveldb_writebatch_destroy(wb);
    return rc;
}

int bs_recover(struct blockstore *bs, char **errmsg)
{
    int rc = open_files(bs, errmsg);
    if (rc)
        return rc;
    uint64_t height;
    rc = bs_index_height(bs, &height);
    if (rc)
        return bs_fail(errmsg, rc, "cannot read the height from the block index of %s", bs->dir);
    struct bs_loc start = {.file = 0, .offset = 0};
    memset(bs->head, 0, sizeof bs->head);
    bs->height = 0;
    if (height > 0) {
        bool torn = false;
        struct bs_loc last;
        rc = check_last_indexed(bs, height, &start, &torn, &last, errmsg);
        if (rc)
            return rc;
        if (torn) {
            /* Forget the block in the index first (synced), then cut it from the file: a crash
             * in between leaves an ordinary torn tail past the index. */
            uint64_t size = 0;
            rc = bs_index_drop(bs, height - 1, &last);
            if (rc)
                return bs_fail(errmsg, rc, "cannot drop torn block %llu from the index of %s",
                               (unsigned long long)height - 1, bs->dir);
            rc = file_size(bs->fds[last.file], &size);
            if (rc == STELE_OK)
                rc = truncate_tail(bs, last.file, last.offset, size,
                                   "last indexed block torn or failing its CRC", errmsg);
            if (rc)
                return rc;
            height--;
            start = (struct bs_loc){.file = last.file, .offset = last.offset};
            if (height > 0)
                rc = check_last_indexed(bs, height, &start, NULL, NULL, errmsg);
            if (rc)
                return rc;
        }
    }
    return scan(bs, start, errmsg);
}
