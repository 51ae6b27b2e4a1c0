/*
 * fuzz_cchost.c — arbitrary bytes as what a chaincode host writes to the peer (peer/ccrt.h,
 * proto/stele/cchost.proto). The chaincode runs in the host and controls every octet on the
 * socket, so the peer's side of the protocol must survive anything and still build a
 * read/write set that a validating peer accepts.
 *
 * An input is one configuration octet and then the octets the host sends:
 *   bits 0-1 of the first octet: max_keys 10000, 3, 20 or 200;
 *   bits 2-3: max_write_bytes 8 MiB, 16, 300 or 5000;
 *   the rest (at most 64 KiB): framed CcHostToPeer messages (u32 big-endian length + message)
 *   or anything else, written to one end of a socketpair.
 * The peer's end is read as ccrt.c reads a host during an invocation: ccrt_host_recv() (the
 * framing, the size cap, the decoding, forbidden_syscall) until a result, a protocol error or
 * the end of the octets (the write end shut: the end reads as the host hanging up), each state
 * call served by a ccrt_sim over a real statedb (opened once in a temporary directory, with
 * committed keys in namespace "kv" — among them 150 keys p000..p149 so ranges cross pages,
 * keys with octets >= 0x80, a deleted key, an empty value — and keys of the neighbouring
 * namespaces "k" and "kvx" that must never show). Every reply is packed as the peer sends it.
 *
 * Checks. Each reply must be what ccrt.h says, recomputed here by a reference model of the
 * invocation (committed state, the invocation's writes, iterator snapshots, the item and
 * byte limits): the codes, the values of gets, the entries of ranges in order. The model and
 * the simulation must agree on whether the set was spoiled, and why (a read past max_keys, or
 * a write sent with no_reply that the peer refuses). Then
 * ccrt_sim_finish() runs, and an unspoiled set must list exactly the model's reads (with
 * their versions), writes and range reads (start, end, exhausted and the committed keys gone
 * past, as ccrt.h records an iterator stopped early), and pass tx_open(): it is put in a
 * transaction built on a proposal made once at start (no signing per input; tx_open checks
 * no signature). No crash, leak or undefined behaviour.
 *
 * Seeds: STELE_WRITE_CCHOST_SEEDS=DIR makes the first call write the seeds of corpus/cchost
 * to DIR and exit.
 *
 * The committed state is in fuzz_cchost_fixture.h, the seed writer in fuzz_cchost_seeds.h.
 */
#include "peer/ccrt_int.h"

#include "fuzz_cchost_fixture.h"
#include "fuzz_cchost_seeds.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "base/text.h"
#include "ledger/envelope.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/chaincode.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_STREAM 65536 /* octets of an input written to the socket (fits its buffer) */

/* ---- the reference model of one invocation ---------------------------------------------- */

/* A write of the invocation (a delete when `del`). */
struct mwrite {
    const char *key;
    bool del;
    const uint8_t *data;
    size_t len;
};

/* A read of the committed state (c NULL: absent). */
struct mread {
    const char *key;
    const struct committed *c;
};

/* An entry of an iterator's merged view: a committed key (c), a write of the snapshot (w), or
 * both. */
struct ientry {
    const char *key;
    const struct committed *c;
    const struct mwrite *w; /* a copy taken when the iterator was opened */
};

struct miter {
    const char *start, *end;
    struct ientry *e;
    size_t n, i;
    const struct committed **listed; /* committed keys gone past */
    size_t n_listed;
    const char *last; /* the last key returned */
    bool last_own;    /* it was a write of this invocation and no committed key */
    bool advanced, exhausted, closed;
};

struct model {
    struct arena *a;
    size_t max_keys, max_write_bytes;
    struct mwrite *w; /* sorted */
    size_t n_w, cap_w;
    struct mread *r; /* sorted */
    size_t n_r, cap_r;
    struct miter *it; /* handle i+1 is it[i] */
    size_t n_it, cap_it;
    size_t open, items, write_bytes;
    bool spoiled;
    int spoil_rc; /* what spoiled it first: ccrt_sim_error() must say the same */
};

/* Makes room for one more element of `size` octets in an arena array. */
static void *more(struct arena *a, void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 8;
    void *p = arena_alloc(a, c * size);
    if (!p)
        abort();
    if (n)
        memcpy(p, arr, n * size);
    *cap = c;
    return p;
}

/* A key as ccrt.h takes it from the wire: 1..STELE_CC_MAX_KEY octets of UTF-8 without NUL
 * (0 when empty_ok). */
static bool wire_key(struct arena *a, ProtobufCBinaryData k, bool empty_ok, const char **out)
{
    if ((!k.len && !empty_ok) || k.len > STELE_CC_MAX_KEY || (k.len && memchr(k.data, 0, k.len)) ||
        !text_utf8_ok(k.data, k.len))
        return false;
    char *s = arena_alloc(a, k.len + 1);
    if (!s)
        abort();
    if (k.len)
        memcpy(s, k.data, k.len);
    s[k.len] = 0;
    *out = s;
    return true;
}

/* Index of the first write >= key. */
static size_t wpos(const struct model *m, const char *key, bool *found)
{
    size_t lo = 0, hi = m->n_w;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->w[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n_w && strcmp(m->w[lo].key, key) == 0;
    return lo;
}

/* Remembers the first failure that spoils the set, as ccrt_sim.c does. */
static void m_spoil(struct model *m, int rc)
{
    if (!m->spoiled) {
        m->spoiled = true;
        m->spoil_rc = rc;
    }
}

/* Counts an item; spoils the set past max_keys. */
static bool count(struct model *m)
{
    if (m->items >= m->max_keys) {
        m_spoil(m, STELE_ERR_LIMIT);
        return false;
    }
    m->items++;
    return true;
}

/* What a call should answer. */
struct want {
    int rc;
    bool reply;
    bool internal; /* ccrt_sim_call() refuses the operation */
    const char *key;
    const uint8_t *data;
    size_t len;
    uint32_t iter;
};

static void m_get(struct model *m, const Stele__CcHostCall *c, struct want *w)
{
    const char *key;
    if (!wire_key(m->a, c->key, false, &key)) {
        w->rc = STELE_CC_INVALID;
        return;
    }
    bool found;
    size_t i = wpos(m, key, &found);
    if (found) { /* read-your-writes */
        w->rc = m->w[i].del ? STELE_CC_NOT_FOUND : STELE_CC_OK;
        w->data = m->w[i].data;
        w->len = m->w[i].len;
        return;
    }
    const struct committed *e = committed_find(key);
    size_t lo = 0, hi = m->n_r;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->r[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->n_r || strcmp(m->r[lo].key, key) != 0) {
        if (!count(m)) {
            w->rc = STELE_CC_FAILED;
            return;
        }
        m->r = more(m->a, m->r, &m->cap_r, m->n_r, sizeof *m->r);
        memmove(&m->r[lo + 1], &m->r[lo], (m->n_r - lo) * sizeof *m->r);
        m->r[lo] = (struct mread){key, e};
        m->n_r++;
    }
    w->rc = e ? STELE_CC_OK : STELE_CC_NOT_FOUND;
    if (e) {
        w->data = e->value;
        w->len = e->len;
    }
}

static void m_write(struct model *m, const Stele__CcHostCall *c, bool del, struct want *w)
{
    const char *key;
    if (!wire_key(m->a, c->key, false, &key)) {
        w->rc = STELE_CC_INVALID;
        return;
    }
    size_t len = del ? 0 : c->value.len;
    if (len > STELE_CC_MAX_VALUE) {
        w->rc = STELE_CC_LIMIT;
        return;
    }
    bool found;
    size_t i = wpos(m, key, &found), klen = strlen(key);
    size_t old = found ? klen + m->w[i].len : 0;
    size_t bytes = m->write_bytes - old + klen + len;
    if (bytes > m->max_write_bytes || (!found && m->items >= m->max_keys)) {
        w->rc = STELE_CC_LIMIT;
        return;
    }
    struct mwrite nw = {key, del, NULL, len};
    if (len && !(nw.data = arena_memdup(m->a, c->value.data, len)))
        abort();
    if (!found) {
        m->w = more(m->a, m->w, &m->cap_w, m->n_w, sizeof *m->w);
        memmove(&m->w[i + 1], &m->w[i], (m->n_w - i) * sizeof *m->w);
        m->n_w++;
        m->items++;
    }
    m->w[i] = nw;
    m->write_bytes = bytes;
    w->rc = STELE_CC_OK;
}

static bool in_range(const char *k, const char *start, const char *end)
{
    return strcmp(k, start) >= 0 && (!end[0] || strcmp(k, end) < 0);
}

static void m_range(struct model *m, const Stele__CcHostCall *c, struct want *w)
{
    const char *start, *end;
    if (!wire_key(m->a, c->key, true, &start) || !wire_key(m->a, c->end_key, true, &end) ||
        (end[0] && strcmp(start, end) >= 0)) {
        w->rc = STELE_CC_INVALID;
        return;
    }
    if (m->open >= MAX_ITERS) {
        w->rc = STELE_CC_LIMIT;
        return;
    }
    if (!count(m)) {
        w->rc = STELE_CC_FAILED;
        return;
    }
    struct miter it = {.start = start, .end = end};
    size_t cap = 0;
    /* merge the committed keys and a copy of the writes in [start, end) */
    size_t ci = 0, wi = 0;
    while (ci < fx.n_c && strcmp(fx.c[ci].key, start) < 0)
        ci++;
    while (wi < m->n_w && strcmp(m->w[wi].key, start) < 0)
        wi++;
    for (;;) {
        const struct committed *ce =
            ci < fx.n_c && in_range(fx.c[ci].key, start, end) ? &fx.c[ci] : NULL;
        const struct mwrite *we =
            wi < m->n_w && in_range(m->w[wi].key, start, end) ? &m->w[wi] : NULL;
        if (!ce && !we)
            break;
        int cmp = !ce ? 1 : !we ? -1 : strcmp(ce->key, we->key);
        struct ientry e = {cmp < 0 ? ce->key : we->key, cmp <= 0 ? ce : NULL, NULL};
        if (cmp >= 0) {
            struct mwrite *copy = arena_alloc(m->a, sizeof *copy);
            if (!copy)
                abort();
            *copy = *we;
            e.w = copy;
        }
        ci += cmp <= 0;
        wi += cmp >= 0;
        it.e = more(m->a, it.e, &cap, it.n, sizeof *it.e);
        it.e[it.n++] = e;
    }
    it.listed = arena_calloc(m->a, it.n + 1, sizeof *it.listed);
    if (!it.listed)
        abort();
    m->it = more(m->a, m->it, &m->cap_it, m->n_it, sizeof *m->it);
    m->it[m->n_it++] = it;
    m->open++;
    w->rc = STELE_CC_OK;
    w->iter = (uint32_t)m->n_it;
}

static struct miter *m_find(struct model *m, uint32_t handle)
{
    if (handle == 0 || handle > m->n_it || m->it[handle - 1].closed)
        return NULL;
    return &m->it[handle - 1];
}

static void m_next(struct model *m, const Stele__CcHostCall *c, struct want *w)
{
    struct miter *it = m_find(m, c->iter);
    if (!it) {
        w->rc = STELE_CC_INVALID;
        return;
    }
    it->advanced = true;
    for (;;) {
        if (it->exhausted || it->i == it->n) {
            it->exhausted = true;
            w->rc = 0;
            return;
        }
        const struct ientry *e = &it->e[it->i];
        if (e->c) { /* a committed key is gone past whether shown, replaced or hidden */
            if (!count(m)) {
                w->rc = STELE_CC_FAILED;
                return;
            }
            it->listed[it->n_listed++] = e->c;
        }
        it->i++;
        if (e->w && e->w->del)
            continue;
        it->last = e->key;
        it->last_own = !e->c;
        w->rc = 1;
        w->key = e->key;
        w->data = e->w ? e->w->data : e->c->value;
        w->len = e->w ? e->w->len : e->c->len;
        return;
    }
}

/* What `c` should answer, updating the model. */
static void m_call(struct model *m, const Stele__CcHostCall *c, struct want *w)
{
    memset(w, 0, sizeof *w);
    w->reply = true;
    bool write = c->op == STELE__CC_HOST_CALL__OP__PUT || c->op == STELE__CC_HOST_CALL__OP__DEL;
    if (c->no_reply && !write) { /* only a write may go without a reply */
        w->internal = true;
        return;
    }
    if (c->no_reply) { /* the host told the chaincode it worked: a refusal spoils the set */
        m_write(m, c, c->op == STELE__CC_HOST_CALL__OP__DEL, w);
        w->reply = false;
        if (w->rc != STELE_CC_OK)
            m_spoil(m, STELE_ERR_INVALID);
        return;
    }
    switch (c->op) {
    case STELE__CC_HOST_CALL__OP__GET:
        return m_get(m, c, w);
    case STELE__CC_HOST_CALL__OP__PUT:
        return m_write(m, c, false, w);
    case STELE__CC_HOST_CALL__OP__DEL:
        return m_write(m, c, true, w);
    case STELE__CC_HOST_CALL__OP__RANGE:
        return m_range(m, c, w);
    case STELE__CC_HOST_CALL__OP__NEXT:
        return m_next(m, c, w);
    case STELE__CC_HOST_CALL__OP__CLOSE: {
        w->reply = false;
        struct miter *it = m_find(m, c->iter);
        if (it) {
            it->closed = true;
            m->open--;
        }
        return;
    }
    default:
        w->internal = true;
    }
}

/* ---- checks ---------------------------------------------------------------------------- */

static bool data_equal(ProtobufCBinaryData b, const uint8_t *data, size_t len)
{
    return b.len == len && (!len || memcmp(b.data, data, len) == 0);
}

/* The reply must be `w`, and it must pack as the peer sends it. */
static void check_reply(const Stele__CcHostCall *c, const Stele__CcHostReply *r,
                        const struct want *w)
{
    if (r->rc != w->rc)
        FAIL("op %d answered %d, want %d", (int)c->op, (int)r->rc, w->rc);
    bool value = (c->op == STELE__CC_HOST_CALL__OP__GET && w->rc == STELE_CC_OK) ||
                 (c->op == STELE__CC_HOST_CALL__OP__NEXT && w->rc == 1);
    if (value ? !data_equal(r->value, w->data, w->len) : r->value.len != 0)
        FAIL("op %d answered a value of %zu octets, want %zu", (int)c->op, r->value.len,
             value ? w->len : 0);
    if (w->key ? !data_equal(r->key, (const uint8_t *)w->key, strlen(w->key)) : r->key.len != 0)
        FAIL("NEXT answered another key (want %s)", w->key ? w->key : "none");
    if (r->iter != w->iter)
        FAIL("RANGE answered iterator %u, want %u", r->iter, w->iter);
    Stele__CcPeerToHost to = STELE__CC_PEER_TO_HOST__INIT;
    to.msg_case = STELE__CC_PEER_TO_HOST__MSG_REPLY;
    to.reply = (Stele__CcHostReply *)r;
    size_t len = protobuf_c_message_get_packed_size(&to.base);
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame || protobuf_c_message_pack(&to.base, frame) != len)
        abort();
    free(frame);
}

/* The RangeRead of an advanced iterator, as ccrt.h records it. */
static void check_range_read(const Stele__RangeRead *rr, const struct miter *it)
{
    const char *end = it->end;
    bool exhausted = it->exhausted;
    if (!exhausted && it->last && it->last_own && strcmp(it->start, it->last) < 0) {
        end = it->last; /* stopped on its own write: seen all of [start, last) */
        exhausted = true;
    }
    if (strcmp(rr->start_key, it->start) != 0 || strcmp(rr->end_key, end) != 0 ||
        rr->exhausted != exhausted)
        FAIL("range read [%s, %s) exhausted %d, want [%s, %s) %d", rr->start_key, rr->end_key,
             rr->exhausted, it->start, end, exhausted);
    if (rr->n_reads != it->n_listed)
        FAIL("range read [%s, %s) lists %zu keys, want %zu", it->start, end, rr->n_reads,
             it->n_listed);
    for (size_t i = 0; i < rr->n_reads; i++) {
        const Stele__KVRead *r = rr->reads[i];
        const struct committed *c = it->listed[i];
        if (strcmp(r->key, c->key) != 0 || !r->version ||
            r->version->block_number != c->ver.block || r->version->tx_index != c->ver.tx)
            FAIL("range read lists %s at %llu.%u, want %s at %llu.%u", r->key,
                 r->version ? (unsigned long long)r->version->block_number : 0ULL,
                 r->version ? r->version->tx_index : 0, c->key, (unsigned long long)c->ver.block,
                 c->ver.tx);
    }
}

/* The set must be the model's. */
static void check_rwset(const Stele__TxRwSet *rw, const struct model *m)
{
    size_t n_ranges = 0;
    for (size_t i = 0; i < m->n_it; i++)
        n_ranges += m->it[i].advanced;
    if (!m->n_r && !m->n_w && !n_ranges) {
        if (rw->n_ns_rwsets != 0)
            FAIL("a set with nothing read or written has a namespace");
        return;
    }
    if (rw->n_ns_rwsets != 1)
        FAIL("the set has %zu namespaces", rw->n_ns_rwsets);
    const Stele__NsRwSet *ns = rw->ns_rwsets[0];
    if (strcmp(ns->namespace_, NS) != 0 || ns->n_reads != m->n_r || ns->n_writes != m->n_w ||
        ns->n_range_reads != n_ranges)
        FAIL("the set has %zu reads, %zu writes, %zu ranges; want %zu, %zu, %zu", ns->n_reads,
             ns->n_writes, ns->n_range_reads, m->n_r, m->n_w, n_ranges);
    for (size_t i = 0; i < m->n_r; i++) {
        const Stele__KVRead *r = ns->reads[i];
        const struct committed *c = m->r[i].c;
        if (strcmp(r->key, m->r[i].key) != 0 || !r->version != !c ||
            (c && (r->version->block_number != c->ver.block || r->version->tx_index != c->ver.tx)))
            FAIL("read %zu is %s (version %s), want %s (%s)", i, r->key,
                 r->version ? "some" : "none", m->r[i].key, c ? "some" : "none");
    }
    for (size_t i = 0; i < m->n_w; i++) {
        const Stele__KVWrite *w = ns->writes[i];
        if (strcmp(w->key, m->w[i].key) != 0 || w->is_delete != m->w[i].del ||
            !data_equal(w->value, m->w[i].data, m->w[i].len))
            FAIL("write %zu is %s, want %s", i, w->key, m->w[i].key);
    }
    for (size_t i = 0, r = 0; i < m->n_it; i++)
        if (m->it[i].advanced)
            check_range_read(ns->range_reads[r++], &m->it[i]);
}

/* A validating peer accepts the set: it goes through tx_open() in a transaction. */
static void check_tx_open(const Stele__TxRwSet *rw)
{
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    struct tx_result res = {
        .chaincode = NS, .version = "1.0", .sequence = 1, .rwset = rw, .response = &resp};
    uint8_t sig[64];
    memset(sig, 0x5a, sizeof sig);
    Stele__Endorsement en = STELE__ENDORSEMENT__INIT;
    en.endorser = (ProtobufCBinaryData){4, (uint8_t *)"peer"};
    en.signature = (ProtobufCBinaryData){sizeof sig, sig};
    const Stele__Endorsement *ens[1] = {&en};
    struct buf rp;
    ProtobufCBinaryData pl = {0}, env = {0};
    buf_init(&rp);
    if (tx_response_payload_build(fx.proposal, fx.proposal_len, &res, &rp) ||
        tx_payload_build(fx.proposal, fx.proposal_len, rp.data, rp.len, ens, 1, &pl) ||
        tx_envelope_seal(pl.data, pl.len, sig, sizeof sig, &env))
        FAIL("cannot build a transaction of the set");
    struct arena *a = arena_create(0);
    struct envelope_view ev;
    struct tx_view tv;
    Stele__TxValidationCode code;
    const char *why = NULL;
    if (!a || envelope_parse(a, env.data, env.len, 0, &ev, &why) != STELE_OK)
        FAIL("the envelope does not parse: %s", why ? why : "?");
    if (tx_open(a, &ev, &tv, &code, &why) != STELE_OK)
        FAIL("tx_open refuses the set: %s", why ? why : "?");
    arena_destroy(a);
    buf_release(&rp);
    free(pl.data);
    free(env.data);
}

/* ---- one input ------------------------------------------------------------------------------ */

/* Serves one state call in `sim` and the model. Returns false when the call is a protocol
 * error (the peer would kill the host). */
static unsigned long frames_received; /* over every input: the replay checks it */
int fuzz_replay_check(void);

int fuzz_replay_check(void)
{
    if (frames_received)
        return 0;
    fprintf(stderr, "fuzz_cchost: no input got a frame to the peer's side\n");
    return 1;
}

static bool serve(struct ccrt_sim *sim, struct model *m, const Stele__CcHostCall *c)
{
    struct want w;
    m_call(m, c, &w);
    Stele__CcHostReply reply;
    bool has_reply = false;
    int rc = ccrt_sim_call(sim, c, &reply, &has_reply);
    if (w.internal) {
        if (rc != STELE_ERR_INTERNAL)
            FAIL("op %d served (%d), want a protocol error", (int)c->op, rc);
        return false;
    }
    if (rc != STELE_OK || has_reply != w.reply)
        FAIL("op %d: status %d, reply %d", (int)c->op, rc, has_reply);
    if (has_reply)
        check_reply(c, &reply, &w);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        const char *dir = getenv("STELE_WRITE_CCHOST_SEEDS");
        if (dir) {
            write_seeds(dir);
            exit(0);
        }
        fx_init();
        ready = true;
    }
    if (size < 1)
        return 0;
    static const size_t keys[4] = {10000, 3, 20, 200};
    static const size_t bytes[4] = {8u << 20, 16, 300, 5000};
    struct ccrt_sim_limits lim = {keys[data[0] & 3], bytes[(data[0] >> 2) & 3]};
    struct model m = {
        .a = arena_create(0), .max_keys = lim.max_keys, .max_write_bytes = lim.max_write_bytes};
    struct ccrt_sim *sim = ccrt_sim_create(fx.db, NS, &lim);
    int sv[2];
    if (!m.a || !sim || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    size_t n = size - 1 < MAX_STREAM ? size - 1 : MAX_STREAM;
    for (size_t off = 0; off < n;) {
        ssize_t k = send(sv[1], data + 1 + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            abort();
        off += (size_t)k;
    }
    shutdown(sv[1], SHUT_WR); /* the end of the octets reads as the host hanging up */

    /* what ccrt.c does with a host's frames during an invocation */
    struct ccrt_host h;
    ccrt_host_init(&h);
    h.fd = sv[0];
    struct ccrt_wait w;
    /* A timeout of 0 would end every input before its first frame (the deadline is checked
     * before each one): this harness tested nothing that way, found by a longer fuzzing run. */
    ccrt_wait_start(&w, 10000, SIZE_MAX, false);
    for (;;) {
        Stele__CcHostToPeer *from = NULL;
        struct ccrt_fail f = {0};
        int rc = ccrt_host_recv(&h, &w, &from, &f);
        if (rc) {
            if ((rc != STELE_ERR_TIMEOUT && rc != STELE_ERR_INTERNAL &&
                 rc != STELE_ERR_PERMISSION) ||
                from || !f.msg[0] || f.rc != rc || h.fd != -1)
                FAIL("ccrt_host_recv: %d (%s)", rc, f.msg);
            break;
        }
        if (!from)
            FAIL("ccrt_host_recv: no message");
        frames_received++;
        bool go_on = from->msg_case == STELE__CC_HOST_TO_PEER__MSG_CALL && from->call &&
                     serve(sim, &m, from->call);
        pb_free(&from->base);
        if (!go_on)
            break; /* a result, or a protocol error */
    }
    ccrt_host_kill(&h);
    close(sv[1]);

    const char *why = NULL;
    int err = ccrt_sim_error(sim, &why);
    if ((err != STELE_OK) != m.spoiled || (err && (err != m.spoil_rc || !why || !why[0])))
        FAIL("ccrt_sim_error %d (%s), the model says %s", err, why ? why : "",
             m.spoiled ? "spoiled" : "fine");
    struct arena *a = arena_create(0);
    Stele__TxRwSet *rw = NULL;
    if (!a || ccrt_sim_finish(sim, a, &rw) != STELE_OK || !rw)
        FAIL("ccrt_sim_finish failed");
    if (!m.spoiled) {
        check_rwset(rw, &m);
        check_tx_open(rw);
    }
    arena_destroy(a);
    ccrt_sim_destroy(sim);
    arena_destroy(m.a);
    return 0;
}
