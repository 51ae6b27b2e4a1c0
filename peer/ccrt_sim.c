/*
 * ccrt_sim.c — the state calls of one invocation, served against the committed state plus
 * the invocation's own writes, and the read/write set they make (the rules are at the top of
 * ccrt.h; the order the set must have is tx.h's).
 *
 * Reads and writes are arrays kept sorted by key (binary search; an insert moves the tail,
 * which the key cap bounds). A written value is reference-counted: an iterator snapshots the
 * writes of its range when it is opened (as the test harness does), and a later write of the
 * same key must not free the value the snapshot still shows.
 */
#include "ccrt_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "base/text.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "stele/chaincode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE       64          /* committed entries an iterator fetches at once */
#define PAGE_BYTES (1u << 20)  /* ... or fewer once they hold this many octets of values */
#define ALL_PAGES  (16u << 20) /* octets of values all iterators hold (pages, held_bytes) */
#define MAX_ITERS  256         /* iterators open at once */

/* A written value, shared by the write set and iterator snapshots. */
struct val {
    unsigned refs;
    bool held; /* replaced in the write set, kept for snapshots (counted in held_bytes) */
    size_t len;
    uint8_t data[];
};

/* A write: `v` NULL for a delete. */
struct wentry {
    char *key;
    struct val *v;
};

/* A read from the committed state. */
struct rentry {
    char *key;
    bool present;
    struct statedb_version ver;
};

/* A committed entry fetched by an iterator. */
struct centry {
    char *key;
    uint8_t *value;
    size_t len;
    struct statedb_version ver;
};

/* A committed key an iterator went past. */
struct listed {
    char *key;
    struct statedb_version ver;
};

struct iter {
    char *start, *end;     /* the range ("" = open) */
    struct wentry *snap;   /* the writes in the range when it was opened (keys shared with */
    size_t n_snap, i_snap; /* the write set, values referenced) and the next to merge */
    struct centry *page;   /* committed entries fetched, and the next to merge */
    size_t n_page, i_page;
    char *cursor;          /* the last committed key fetched (NULL: none yet) */
    bool committed_done;   /* no committed key after `cursor` */
    struct listed *listed; /* the committed keys gone past, in order */
    size_t n_listed, cap_listed;
    char *last;     /* the last key returned (NULL: none) */
    bool advanced;  /* NEXT was called */
    bool exhausted; /* the end was reached */
    bool closed;    /* no more NEXT: page and snapshot freed */
};

struct ccrt_sim {
    struct statedb *db;
    const struct statedb_snap *snap; /* read through it (NULL: the latest state) */
    char *ns;
    struct ccrt_sim_limits lim;
    struct rentry *reads;
    size_t n_reads, cap_reads;
    struct wentry *writes;
    size_t n_writes, cap_writes;
    size_t write_bytes;  /* keys and values in the write set */
    struct iter **iters; /* handle i+1 is iters[i], in opening order */
    size_t n_iters, cap_iters, open_iters;
    size_t page_bytes; /* octets of values held in the pages of all iterators (ALL_PAGES) */
    size_t held_bytes; /* octets of replaced values only snapshots hold (ALL_PAGES too) */
    size_t items;      /* as tx.h counts them */
    size_t read_bytes; /* key octets kept for reads, range bounds and listed keys */
    int err;           /* the first failure that spoils the set */
    char why[160];
    struct buf value; /* the value of the last GET */
    char key[STELE_CC_MAX_KEY + 1], end[STELE_CC_MAX_KEY + 1];
};

/* ---- helpers ----------------------------------------------------------------------------- */

static void val_unref(struct ccrt_sim *s, struct val *v)
{
    if (v && --v->refs == 0) {
        if (v->held)
            s->held_bytes -= v->len;
        free(v);
    }
}

/* Grows an array of `size`-octet elements to hold one more. */
static bool grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*(void **)arr, c * size);
    if (!p)
        return false;
    *(void **)arr = p;
    *cap = c;
    return true;
}

/* Index of the first of the `n` sorted entries at `base` (`stride` octets apart, each starting
 * with its `char *key`) whose key is >= key; *found (may be NULL) when equal. */
static size_t key_find(const void *base, size_t n, size_t stride, const char *key, bool *found)
{
#define KEY_AT(i) (*(char *const *)((const char *)base + (i)*stride))
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(KEY_AT(mid), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < n && strcmp(KEY_AT(lo), key) == 0;
    return lo;
#undef KEY_AT
}

/* The write of `key` (or where it would go) and the read of it. */
static size_t wfind(const struct ccrt_sim *s, const char *key, bool *found)
{
    return key_find(s->writes, s->n_writes, sizeof *s->writes, key, found);
}

static size_t rfind(const struct ccrt_sim *s, const char *key, bool *found)
{
    return key_find(s->reads, s->n_reads, sizeof *s->reads, key, found);
}

/* Remembers the first failure that spoils the read/write set. */
static void spoil(struct ccrt_sim *s, int rc, const char *fmt, const char *arg)
{
    if (s->err)
        return;
    s->err = rc;
    snprintf(s->why, sizeof s->why, fmt, arg);
}

/* Counts one more item of `bytes` key octets the peer keeps (a read's key, a range's bounds,
 * a listed key); spoils the set past either cap. */
static bool count_item(struct ccrt_sim *s, size_t bytes)
{
    if (s->items >= s->lim.max_keys) {
        char n[32];
        snprintf(n, sizeof n, "%zu", s->lim.max_keys);
        spoil(s, STELE_ERR_LIMIT, "its read/write set went over the limit of %s keys", n);
        return false;
    }
    if (bytes > CCRT_MAX_READ_KEY_BYTES - s->read_bytes) {
        spoil(s, STELE_ERR_LIMIT, "its reads went over the limit of %s MiB of keys",
              CCRT_MAX_READ_KEY_MIB);
        return false;
    }
    s->items++;
    s->read_bytes += bytes;
    return true;
}

/* Copies a key from the wire into `out` (STELE_CC_MAX_KEY + 1 octets): 1..STELE_CC_MAX_KEY
 * octets of UTF-8 without NUL, or 0 when `empty_ok`. Keys go into read/write sets and blocks
 * as protobuf strings, which clients in other languages refuse to decode unless UTF-8. */
static bool wire_key(ProtobufCBinaryData k, bool empty_ok, char *out)
{
    if ((!k.len && !empty_ok) || k.len > STELE_CC_MAX_KEY || (k.len && memchr(k.data, 0, k.len)) ||
        !text_utf8_ok(k.data, k.len))
        return false;
    if (k.len)
        memcpy(out, k.data, k.len);
    out[k.len] = 0;
    return true;
}

static void reply_rc(Stele__CcHostReply *r, int rc)
{
    r->rc = rc;
}

static void reply_bytes(ProtobufCBinaryData *b, const void *p, size_t len)
{
    b->data = (uint8_t *)(len ? p : NULL);
    b->len = len;
}

/* ---- get, put, del ----------------------------------------------------------------------- */

static void do_get(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *r)
{
    if (!wire_key(c->key, false, s->key))
        return reply_rc(r, STELE_CC_INVALID);
    bool found;
    size_t i = wfind(s, s->key, &found);
    if (found) { /* read-your-writes: no read recorded */
        const struct val *v = s->writes[i].v;
        if (!v)
            return reply_rc(r, STELE_CC_NOT_FOUND);
        reply_bytes(&r->value, v->data, v->len);
        return reply_rc(r, STELE_CC_OK);
    }
    buf_clear(&s->value);
    struct statedb_version ver = {0};
    int rc = statedb_get_at(s->db, s->snap, s->ns, s->key, &s->value, &ver);
    if (rc != STELE_OK && rc != STELE_ERR_NOT_FOUND) {
        spoil(s, rc, "the state database could not be read (%s)", stele_strerror(rc));
        return reply_rc(r, STELE_CC_FAILED);
    }
    size_t at = rfind(s, s->key, &found);
    if (!found) { /* the first read of a key is the one validated */
        char *k = strdup(s->key);
        if (!k || !count_item(s, strlen(k)) ||
            !grow(&s->reads, &s->cap_reads, s->n_reads, sizeof *s->reads)) {
            free(k);
            spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
            return reply_rc(r, STELE_CC_FAILED);
        }
        memmove(&s->reads[at + 1], &s->reads[at], (s->n_reads - at) * sizeof *s->reads);
        s->reads[at] = (struct rentry){k, rc == STELE_OK, ver};
        s->n_reads++;
    }
    if (rc == STELE_ERR_NOT_FOUND)
        return reply_rc(r, STELE_CC_NOT_FOUND);
    reply_bytes(&r->value, s->value.data, s->value.len);
    reply_rc(r, STELE_CC_OK);
}

/* Records a write of s->key: a put of `len` octets at `value`, or a delete (value NULL). */
static int record_write(struct ccrt_sim *s, const uint8_t *value, size_t len)
{
    bool found;
    size_t i = wfind(s, s->key, &found);
    size_t klen = strlen(s->key);
    size_t old = found ? klen + (s->writes[i].v ? s->writes[i].v->len : 0) : 0;
    size_t bytes = s->write_bytes - old + klen + len;
    if (bytes > s->lim.max_write_bytes || (!found && s->items >= s->lim.max_keys))
        return STELE_CC_LIMIT;
    /* A value an open iterator still shows stays in memory once replaced: without this cap,
     * MAX_ITERS iterators could each keep a whole write set's worth. */
    struct val *prev = found ? s->writes[i].v : NULL;
    bool hold = prev && prev->refs > 1;
    if (hold && s->page_bytes + s->held_bytes + prev->len > ALL_PAGES) {
        spoil(s, STELE_ERR_LIMIT, "its open iterators went over the limit of %s MiB of values",
              "16");
        return STELE_CC_LIMIT;
    }
    struct val *v = NULL;
    if (value) {
        if (!(v = malloc(sizeof *v + len)))
            return STELE_CC_FAILED;
        v->refs = 1;
        v->held = false;
        v->len = len;
        if (len)
            memcpy(v->data, value, len);
    }
    if (found) {
        if (hold) {
            prev->held = true;
            s->held_bytes += prev->len;
        }
        val_unref(s, prev);
        s->writes[i].v = v;
    } else {
        char *k = strdup(s->key);
        if (!k || !grow(&s->writes, &s->cap_writes, s->n_writes, sizeof *s->writes)) {
            free(k);
            val_unref(s, v);
            return STELE_CC_FAILED;
        }
        memmove(&s->writes[i + 1], &s->writes[i], (s->n_writes - i) * sizeof *s->writes);
        s->writes[i] = (struct wentry){k, v};
        s->n_writes++;
        s->items++;
    }
    s->write_bytes = bytes;
    return STELE_CC_OK;
}

static void do_put(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *r)
{
    if (!wire_key(c->key, false, s->key))
        return reply_rc(r, STELE_CC_INVALID);
    if (c->value.len > STELE_CC_MAX_VALUE)
        return reply_rc(r, STELE_CC_LIMIT);
    reply_rc(r, record_write(s, c->value.len ? c->value.data : (const uint8_t *)"", c->value.len));
}

static void do_del(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *r)
{
    if (!wire_key(c->key, false, s->key))
        return reply_rc(r, STELE_CC_INVALID);
    reply_rc(r, record_write(s, NULL, 0));
}

/* ---- ranges ------------------------------------------------------------------------------ */

static void free_page(struct ccrt_sim *s, struct iter *it)
{
    for (size_t i = 0; i < it->n_page; i++) {
        s->page_bytes -= it->page[i].len;
        free(it->page[i].key);
        free(it->page[i].value);
    }
    free(it->page);
    it->page = NULL;
    it->n_page = it->i_page = 0;
}

/* Ends an iterator's walk: frees what only NEXT needs, keeps what the range read lists. */
static void iter_close(struct ccrt_sim *s, struct iter *it)
{
    if (it->closed)
        return;
    free_page(s, it);
    for (size_t i = 0; i < it->n_snap; i++)
        val_unref(s, it->snap[i].v);
    free(it->snap);
    it->snap = NULL;
    it->n_snap = 0;
    it->closed = true;
    s->open_iters--;
}

static void iter_free(struct iter *it)
{
    for (size_t i = 0; i < it->n_listed; i++)
        free(it->listed[i].key);
    free(it->listed);
    free(it->start);
    free(it->end);
    free(it->cursor);
    free(it->last);
    free(it);
}

static void do_range(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *r)
{
    if (!wire_key(c->key, true, s->key) || !wire_key(c->end_key, true, s->end) ||
        (s->end[0] && strcmp(s->key, s->end) >= 0))
        return reply_rc(r, STELE_CC_INVALID);
    if (s->open_iters >= MAX_ITERS)
        return reply_rc(r, STELE_CC_LIMIT);
    if (!count_item(s, strlen(s->key) + strlen(s->end)))
        return reply_rc(r, STELE_CC_FAILED);
    struct iter *it = calloc(1, sizeof *it);
    if (!it || !(it->start = strdup(s->key)) || !(it->end = strdup(s->end)) ||
        !grow(&s->iters, &s->cap_iters, s->n_iters, sizeof *s->iters))
        goto nomem;
    size_t lo = wfind(s, s->key, NULL), hi = lo;
    while (hi < s->n_writes && (!s->end[0] || strcmp(s->writes[hi].key, s->end) < 0))
        hi++;
    if (hi > lo && !(it->snap = malloc((hi - lo) * sizeof *it->snap)))
        goto nomem;
    for (size_t i = lo; i < hi; i++) {
        it->snap[it->n_snap++] = s->writes[i];
        if (s->writes[i].v)
            s->writes[i].v->refs++;
    }
    s->iters[s->n_iters++] = it;
    s->open_iters++;
    r->iter = (uint32_t)s->n_iters;
    return reply_rc(r, STELE_CC_OK);
nomem:
    if (it) {
        free(it->snap);
        iter_free(it);
    }
    spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
    reply_rc(r, STELE_CC_FAILED);
}

/* Collecting a page of committed entries. */
struct page_fill {
    struct ccrt_sim *s;
    struct iter *it;
    size_t bytes; /* of values in this page */
    bool capped;  /* stopped at PAGE_BYTES or ALL_PAGES: more may follow */
    bool over;    /* not even one entry fits in ALL_PAGES */
    bool nomem;
};

static bool page_visit(void *ctx, const char *key, const uint8_t *value, size_t len,
                       const struct statedb_version *ver)
{
    struct page_fill *pf = ctx;
    struct iter *it = pf->it;
    if (it->cursor && strcmp(key, it->cursor) <= 0)
        return true; /* fetched before */
    /* A chaincode must not make the peer hold PAGE values of a MiB in each of MAX_ITERS
     * iterators: a page ends at PAGE_BYTES, and all pages together stay within ALL_PAGES. */
    size_t held = pf->s->page_bytes + pf->s->held_bytes;
    if (it->n_page && (pf->bytes + len > PAGE_BYTES || held + len > ALL_PAGES)) {
        pf->capped = true;
        return false;
    }
    if (held + len > ALL_PAGES) {
        pf->over = true;
        return false;
    }
    struct centry e = {strdup(key), malloc(len ? len : 1), len, *ver};
    if (!e.key || !e.value) {
        free(e.key);
        free(e.value);
        pf->nomem = true;
        return false;
    }
    memcpy(e.value, value, len);
    it->page[it->n_page++] = e;
    pf->bytes += len;
    pf->s->page_bytes += len;
    return true;
}

/* Fetches the next page of committed entries after the cursor. */
static bool fill_page(struct ccrt_sim *s, struct iter *it)
{
    free_page(s, it);
    if (!(it->page = malloc((PAGE + 1) * sizeof *it->page))) {
        spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
        return false;
    }
    struct page_fill pf = {.s = s, .it = it};
    bool more = false;
    int rc = statedb_range_at(s->db, s->snap, s->ns, it->cursor ? it->cursor : it->start, it->end,
                              PAGE + 1, page_visit, &pf, &more);
    if (pf.nomem)
        rc = STELE_ERR_NOMEM;
    if (rc) {
        spoil(s, rc, "the state database could not be read (%s)", stele_strerror(rc));
        return false;
    }
    if (pf.over) {
        spoil(s, STELE_ERR_LIMIT, "its open iterators went over the limit of %s MiB of values",
              "16");
        return false;
    }
    if (!pf.capped && (!more || !it->n_page))
        it->committed_done = true;
    if (it->n_page) {
        char *c = strdup(it->page[it->n_page - 1].key);
        if (!c) {
            spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
            return false;
        }
        free(it->cursor);
        it->cursor = c;
    }
    return true;
}

/* Lists committed entry `e` as gone past. */
static bool list_entry(struct ccrt_sim *s, struct iter *it, const struct centry *e)
{
    if (!count_item(s, strlen(e->key)))
        return false;
    char *k = strdup(e->key);
    if (!k || !grow(&it->listed, &it->cap_listed, it->n_listed, sizeof *it->listed)) {
        free(k);
        spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
        return false;
    }
    it->listed[it->n_listed++] = (struct listed){k, e->ver};
    return true;
}

/* The next entry of the merged view: 1 with the reply filled, 0 at the end, or
 * STELE_CC_FAILED. */
static int iter_next(struct ccrt_sim *s, struct iter *it, Stele__CcHostReply *r)
{
    for (;;) {
        if (it->i_page == it->n_page && !it->committed_done && !fill_page(s, it))
            return STELE_CC_FAILED;
        const struct centry *c = it->i_page < it->n_page ? &it->page[it->i_page] : NULL;
        const struct wentry *w = it->i_snap < it->n_snap ? &it->snap[it->i_snap] : NULL;
        if (!c && !w) {
            it->exhausted = true;
            return 0;
        }
        int cmp = !c ? 1 : !w ? -1 : strcmp(c->key, w->key);
        if (cmp <= 0) { /* a committed key: gone past whether shown, replaced or hidden */
            if (!list_entry(s, it, c))
                return STELE_CC_FAILED;
            it->i_page++;
        }
        if (cmp >= 0)
            it->i_snap++;
        const char *key = cmp < 0 ? c->key : w->key;
        if (cmp >= 0 && !w->v)
            continue; /* deleted by this invocation */
        char *last = strdup(key);
        if (!last) {
            spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
            return STELE_CC_FAILED;
        }
        free(it->last);
        it->last = last;
        reply_bytes(&r->key, key, strlen(key));
        if (cmp < 0)
            reply_bytes(&r->value, c->value, c->len);
        else
            reply_bytes(&r->value, w->v->data, w->v->len);
        return 1;
    }
}

static struct iter *find_iter(struct ccrt_sim *s, uint32_t handle)
{
    if (handle == 0 || handle > s->n_iters || s->iters[handle - 1]->closed)
        return NULL;
    return s->iters[handle - 1];
}

static void do_next(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *r)
{
    struct iter *it = find_iter(s, c->iter);
    if (!it)
        return reply_rc(r, STELE_CC_INVALID);
    it->advanced = true;
    if (it->exhausted)
        return reply_rc(r, 0);
    reply_rc(r, iter_next(s, it, r));
}

/* ---- the simulation ------------------------------------------------------------------------ */

void ccrt_sim_set_snapshot(struct ccrt_sim *s, const struct statedb_snap *snap)
{
    s->snap = snap;
}

struct ccrt_sim *ccrt_sim_create(struct statedb *db, const char *ns,
                                 const struct ccrt_sim_limits *lim)
{
    struct ccrt_sim *s = calloc(1, sizeof *s);
    if (!s || !(s->ns = strdup(ns))) {
        free(s);
        return NULL;
    }
    s->db = db;
    s->lim = *lim;
    buf_init(&s->value);
    return s;
}

void ccrt_sim_destroy(struct ccrt_sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_iters; i++) {
        iter_close(s, s->iters[i]);
        iter_free(s->iters[i]);
    }
    for (size_t i = 0; i < s->n_reads; i++)
        free(s->reads[i].key);
    for (size_t i = 0; i < s->n_writes; i++) {
        free(s->writes[i].key);
        val_unref(s, s->writes[i].v);
    }
    free(s->iters);
    free(s->reads);
    free(s->writes);
    free(s->ns);
    buf_release(&s->value);
    free(s);
}

int ccrt_sim_call(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *reply,
                  bool *has_reply)
{
    stele__cc_host_reply__init(reply);
    *has_reply = true;
    if (c->no_reply && c->op != STELE__CC_HOST_CALL__OP__PUT &&
        c->op != STELE__CC_HOST_CALL__OP__DEL)
        return STELE_ERR_INTERNAL;
    switch (c->op) {
    case STELE__CC_HOST_CALL__OP__GET:
        do_get(s, c, reply);
        return STELE_OK;
    case STELE__CC_HOST_CALL__OP__PUT:
    case STELE__CC_HOST_CALL__OP__DEL:
        if (c->op == STELE__CC_HOST_CALL__OP__PUT)
            do_put(s, c, reply);
        else
            do_del(s, c, reply);
        if (c->no_reply) {
            *has_reply = false;
            if (reply->rc == STELE_CC_FAILED)
                spoil(s, STELE_ERR_NOMEM, "%s", "out of memory");
            else if (reply->rc != STELE_CC_OK)
                spoil(s, STELE_ERR_INVALID,
                      "its host did not wait for the answer to a write that was refused (%s)",
                      reply->rc == STELE_CC_LIMIT ? "over a limit" : "a bad key");
        }
        return STELE_OK;
    case STELE__CC_HOST_CALL__OP__RANGE:
        do_range(s, c, reply);
        return STELE_OK;
    case STELE__CC_HOST_CALL__OP__NEXT:
        do_next(s, c, reply);
        return STELE_OK;
    case STELE__CC_HOST_CALL__OP__CLOSE: {
        *has_reply = false;
        struct iter *it = find_iter(s, c->iter);
        if (it)
            iter_close(s, it);
        return STELE_OK;
    }
    default:
        return STELE_ERR_INTERNAL;
    }
}

int ccrt_sim_error(const struct ccrt_sim *s, const char **why)
{
    if (s->err && why)
        *why = s->why;
    return s->err;
}

/* ---- the read/write set ---------------------------------------------------------------- */

static Stele__Version *version(struct arena *a, const struct statedb_version *v)
{
    Stele__Version *pv = arena_alloc(a, sizeof *pv);
    if (pv) {
        stele__version__init(pv);
        pv->block_number = v->block;
        pv->tx_index = v->tx;
    }
    return pv;
}

static Stele__KVRead *kvread(struct arena *a, const char *key, const struct statedb_version *v)
{
    Stele__KVRead *kr = arena_alloc(a, sizeof *kr);
    if (!kr)
        return NULL;
    stele__kvread__init(kr);
    kr->key = arena_strdup(a, key);
    kr->version = v ? version(a, v) : NULL;
    return kr->key && (!v || kr->version) ? kr : NULL;
}

/* The RangeRead of an iterator (ccrt.h says how a range stopped early is recorded). */
static Stele__RangeRead *range_read(struct arena *a, const struct iter *it)
{
    Stele__RangeRead *rr = arena_alloc(a, sizeof *rr);
    if (!rr)
        return NULL;
    stele__range_read__init(rr);
    const char *end = it->end;
    rr->exhausted = it->exhausted;
    const char *listed_last = it->n_listed ? it->listed[it->n_listed - 1].key : NULL;
    if (!it->exhausted && it->last && (!listed_last || strcmp(listed_last, it->last) != 0) &&
        strcmp(it->start, it->last) < 0) {
        /* the last entry shown was a write of this invocation past every committed key
         * listed: the chaincode saw all of [start, last) */
        end = it->last;
        rr->exhausted = true;
    }
    rr->start_key = arena_strdup(a, it->start);
    rr->end_key = arena_strdup(a, end);
    rr->reads = arena_calloc(a, it->n_listed ? it->n_listed : 1, sizeof *rr->reads);
    if (!rr->start_key || !rr->end_key || !rr->reads)
        return NULL;
    for (size_t i = 0; i < it->n_listed; i++)
        if (!(rr->reads[rr->n_reads++] = kvread(a, it->listed[i].key, &it->listed[i].ver)))
            return NULL;
    return rr;
}

int ccrt_sim_finish(struct ccrt_sim *s, struct arena *a, Stele__TxRwSet **out)
{
    Stele__TxRwSet *rw = arena_alloc(a, sizeof *rw);
    if (!rw)
        return STELE_ERR_NOMEM;
    stele__tx_rw_set__init(rw);
    *out = rw;
    size_t n_ranges = 0;
    for (size_t i = 0; i < s->n_iters; i++)
        n_ranges += s->iters[i]->advanced;
    if (!s->n_reads && !s->n_writes && !n_ranges)
        return STELE_OK;
    Stele__NsRwSet *ns = arena_alloc(a, sizeof *ns);
    rw->ns_rwsets = arena_alloc(a, sizeof *rw->ns_rwsets);
    if (!ns || !rw->ns_rwsets)
        return STELE_ERR_NOMEM;
    stele__ns_rw_set__init(ns);
    rw->ns_rwsets[0] = ns;
    rw->n_ns_rwsets = 1;
    ns->namespace_ = arena_strdup(a, s->ns);
    ns->reads = arena_calloc(a, s->n_reads + 1, sizeof *ns->reads);
    ns->range_reads = arena_calloc(a, n_ranges + 1, sizeof *ns->range_reads);
    ns->writes = arena_calloc(a, s->n_writes + 1, sizeof *ns->writes);
    if (!ns->namespace_ || !ns->reads || !ns->range_reads || !ns->writes)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < s->n_reads; i++) {
        const struct rentry *e = &s->reads[i];
        if (!(ns->reads[ns->n_reads++] = kvread(a, e->key, e->present ? &e->ver : NULL)))
            return STELE_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n_iters; i++) {
        if (!s->iters[i]->advanced)
            continue; /* opened, never read: nothing seen */
        if (!(ns->range_reads[ns->n_range_reads++] = range_read(a, s->iters[i])))
            return STELE_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n_writes; i++) {
        const struct wentry *e = &s->writes[i];
        Stele__KVWrite *w = arena_alloc(a, sizeof *w);
        if (!w)
            return STELE_ERR_NOMEM;
        stele__kvwrite__init(w);
        w->key = arena_strdup(a, e->key);
        w->is_delete = !e->v;
        if (e->v && e->v->len) {
            w->value.data = arena_memdup(a, e->v->data, e->v->len);
            w->value.len = e->v->len;
            if (!w->value.data)
                return STELE_ERR_NOMEM;
        }
        if (!w->key)
            return STELE_ERR_NOMEM;
        ns->writes[ns->n_writes++] = w;
    }
    return STELE_OK;
}
