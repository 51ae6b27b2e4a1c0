/*
 * query.c — stele.Query: blocks, transactions with their validation codes, state, ranges, key
 * history and chain info, for auditors and applications (proto/stele/peer.proto). Everything
 * but ChainInfo needs a SignedRequest from a member of the channel (reqauth.c).
 */
#include "peer_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/quota.h"
#include "base/status.h"
#include "ledger/blockstore.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define QUERY_MAX_BODY  (64 * 1024)
#define QUERY_MAX_LIMIT 1000
/* What one page of StateRange or History may hold besides its count: this many octets of
 * keys, values and their framing (QUERY_ENTRY_OCTETS an entry, besides its key and value), so
 * that a page, whose entries hold at most 4 KiB of key and 1 MiB of value, stays under the
 * 4 MiB a gRPC client receives by default; and for History the entries of this many blocks
 * (each a block read for its time). The page then ends early with has_more; it always holds
 * at least one entry. */
#define QUERY_MAX_PAGE_BYTES  (3u << 20)
#define QUERY_ENTRY_OCTETS    128
#define QUERY_MAX_BLOCK_READS 64

/* A Query method's work on the verified body of its request (`len` octets at `body`, valid as
 * long as the call): q_dispatch() verifies the request and counts the caller first. */
static void test_query_hold(void);
typedef enum rpc_code (*query_fn)(struct peer *p, struct rpc_call *call, const uint8_t *body,
                                  size_t len, ProtobufCMessage **resp);

struct query_method {
    struct peer *p;
    query_fn fn;
};

/* Every signed Query method: verifies the request (taken once, identity/replay.h), then runs
 * it while holding one of the caller's PEER_MAX_QUERIES_PER_CALLER query slots. */
static enum rpc_code q_dispatch(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    const struct query_method *m = arg;
    struct signed_request sr;
    enum rpc_code code = peer_request_verify(m->p, call, req, &sr);
    if (code != RPC_OK)
        return code;
    bool mine = false;
    if (quota_take(m->p->querying, sr.signer.certhash, &mine) != STELE_OK)
        return mine ? rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                                     "%s already has %d queries running on this peer: retry",
                                     sr.signer.id, PEER_MAX_QUERIES_PER_CALLER)
                    : rpc_call_error(call, RPC_RESOURCE_EXHAUSTED,
                                     "this peer runs %d queries already: retry", PEER_MAX_QUERIES);
    test_query_hold();
    code = m->fn(m->p, call, sr.body, sr.body_len, resp);
    quota_give(m->p->querying, sr.signer.certhash);
    return code;
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_QUERY_HOLD_MS holds every query that long
 * in its slot, so that a test can fill one caller's slots. */
static void test_query_hold(void)
{
#ifdef STELE_TEST_HOOKS
    const char *ms = getenv("STELE_TEST_QUERY_HOLD_MS");
    if (ms && *ms)
        clock_sleep_ms(strtoull(ms, NULL, 10));
#endif
}

/* Decodes a request's body as `desc` into the call's arena. */
static enum rpc_code open_body(struct rpc_call *call, const uint8_t *body, size_t len,
                               const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = pb_unpack(desc, rpc_call_arena(call), body, len, QUERY_MAX_BODY);
    if (!*out)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "request body is not a %s", desc->name);
    return RPC_OK;
}

/* Reads a varint at *p (before end); false when it does not fit. */
static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* The length on the wire of the last occurrence of string field `field` in the protobuf
 * message `msg` (already decoded, so well-formed), or 0 when it is absent. */
static size_t wire_string_len(const uint8_t *msg, size_t len, uint32_t field)
{
    const uint8_t *p = msg, *end = msg + len;
    size_t found = 0;
    uint64_t tag, v;
    while (p < end && wire_varint(&p, end, &tag)) {
        switch (tag & 7) {
        case 0:
            if (!wire_varint(&p, end, &v))
                return found;
            break;
        case 1:
            p += (size_t)(end - p) < 8 ? (size_t)(end - p) : 8;
            break;
        case 2:
            if (!wire_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return found;
            if ((tag >> 3) == field)
                found = (size_t)v;
            p += v;
            break;
        case 5:
            p += (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
            break;
        default:
            return found;
        }
    }
    return found;
}

/* A range bound `*key` of field `field` as the client meant it. protobuf-c ends a string at its
 * first NUL, so a bound sent as K "\0" ... (the continuation RangeQuery documents: the last
 * key returned followed by "\0") arrives as K, and the page would start with K again. No key
 * holds a NUL, so the keys at or after K "\0" ... are those at or after K "\x01", and the keys
 * before it those before K "\x01": that is the bound given to the state database. */
static bool range_bound(struct arena *a, const uint8_t *raw, size_t raw_len, uint32_t field,
                        char **key)
{
    size_t n = strlen(*key);
    if (wire_string_len(raw, raw_len, field) <= n)
        return true;
    char *k = arena_alloc(a, n + 2);
    if (!k)
        return false;
    memcpy(k, *key, n);
    k[n] = '\x01';
    k[n + 1] = 0;
    *key = k;
    return true;
}

/* Checks a namespace and key named by a client. */
static enum rpc_code check_key(struct rpc_call *call, const char *ns, const char *key,
                               bool key_required)
{
    if (!tx_chaincode_name_ok(ns))
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "namespace '%.64s' is not a chaincode name", ns ? ns : "");
    size_t n = key ? strlen(key) : 0;
    if ((key_required && n == 0) || n > TX_MAX_KEY_LEN)
        return rpc_call_error(call, RPC_INVALID_ARGUMENT, "key is empty or longer than %d octets",
                              TX_MAX_KEY_LEN);
    return RPC_OK;
}

static enum rpc_code store_error(struct rpc_call *call, int rc, const char *what)
{
    if (rc == STELE_ERR_NOT_FOUND)
        return rpc_call_error(call, RPC_NOT_FOUND, "%s not found", what);
    return rpc_call_error(call, RPC_INTERNAL, "cannot read %s: %s", what, stele_strerror(rc));
}

static enum rpc_code q_block(struct peer *p, struct rpc_call *call, const uint8_t *body, size_t len,
                             ProtobufCMessage **resp)
{
    Stele__BlockQuery *q;
    enum rpc_code code =
        open_body(call, body, len, &stele__block_query__descriptor, (ProtobufCMessage **)&q);
    if (code != RPC_OK)
        return code;
    struct blockstore *bs = kvledger_blocks(p->ledger);
    struct arena *a = rpc_call_arena(call);
    Stele__Block *b = NULL;
    int rc;
    switch (q->by_case) {
    case STELE__BLOCK_QUERY__BY_NUMBER:
        rc = q->number < kvledger_height(p->ledger) ? blockstore_get(bs, q->number, a, &b)
                                                    : STELE_ERR_NOT_FOUND;
        break;
    case STELE__BLOCK_QUERY__BY_HASH:
        if (q->hash.len != 32)
            return rpc_call_error(call, RPC_INVALID_ARGUMENT, "a block hash is 32 octets");
        rc = blockstore_get_by_hash(bs, q->hash.data, a, &b);
        break;
    case STELE__BLOCK_QUERY__BY_TX_ID:
        rc = blockstore_get_by_txid(bs, q->tx_id, a, &b, NULL);
        break;
    default:
        return rpc_call_error(call, RPC_INVALID_ARGUMENT,
                              "BlockQuery names no number, hash or "
                              "tx_id");
    }
    if (rc == STELE_OK && b->header && b->header->number >= kvledger_height(p->ledger))
        rc = STELE_ERR_NOT_FOUND; /* stored, but its state is not applied yet */
    if (rc)
        return store_error(call, rc, "block");
    *resp = &b->base;
    return RPC_OK;
}

static enum rpc_code q_transaction(struct peer *p, struct rpc_call *call, const uint8_t *body,
                                   size_t len, ProtobufCMessage **resp)
{
    Stele__TransactionQuery *q;
    enum rpc_code code =
        open_body(call, body, len, &stele__transaction_query__descriptor, (ProtobufCMessage **)&q);
    if (code != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    Stele__Block *b = NULL;
    uint32_t i = 0;
    int rc = blockstore_get_by_txid(kvledger_blocks(p->ledger), q->tx_id, a, &b, &i);
    if (rc == STELE_OK && (!b->header || !b->data || !b->metadata || i >= b->data->n_envelopes ||
                           b->header->number >= kvledger_height(p->ledger)))
        rc = STELE_ERR_NOT_FOUND;
    if (rc)
        return store_error(call, rc, "transaction");
    Stele__ProcessedTransaction *t = arena_alloc(a, sizeof *t);
    if (!t)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__processed_transaction__init(t);
    t->envelope = b->data->envelopes[i];
    t->validation_code = i < b->metadata->validation_codes.len
                             ? b->metadata->validation_codes.data[i]
                             : STELE__TX_VALIDATION_CODE__NOT_VALIDATED;
    t->block_number = b->header->number;
    t->tx_index = i;
    t->timestamp_ms = b->metadata->timestamp_ms;
    *resp = &t->base;
    return RPC_OK;
}

/* A StateEntry in the call's arena. */
static Stele__StateEntry *entry(struct arena *a, const char *key, const uint8_t *value, size_t len,
                                const struct statedb_version *ver)
{
    Stele__StateEntry *e = arena_alloc(a, sizeof *e);
    Stele__Version *v = arena_alloc(a, sizeof *v);
    char *k = arena_memdup(a, key, strlen(key) + 1);
    uint8_t *val = len ? arena_memdup(a, value, len) : NULL;
    if (!e || !v || !k || (len && !val))
        return NULL;
    stele__state_entry__init(e);
    stele__version__init(v);
    v->block_number = ver->block;
    v->tx_index = ver->tx;
    e->key = k;
    e->value = (ProtobufCBinaryData){len, val};
    e->version = v;
    return e;
}

static enum rpc_code q_state(struct peer *p, struct rpc_call *call, const uint8_t *body, size_t len,
                             ProtobufCMessage **resp)
{
    Stele__StateQuery *q;
    enum rpc_code code =
        open_body(call, body, len, &stele__state_query__descriptor, (ProtobufCMessage **)&q);
    if (code != RPC_OK || (code = check_key(call, q->namespace_, q->key, true)) != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    Stele__StateResponse *r = arena_alloc(a, sizeof *r);
    if (!r)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__state_response__init(r);
    struct buf v;
    struct statedb_version ver;
    buf_init(&v);
    int rc = statedb_get(kvledger_state(p->ledger), q->namespace_, q->key, &v, &ver);
    if (rc == STELE_OK) {
        r->found = true;
        r->entry = entry(a, q->key, v.data, v.len, &ver);
    }
    buf_release(&v);
    if (rc && rc != STELE_ERR_NOT_FOUND)
        return store_error(call, rc, "state");
    if (r->found && !r->entry)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    *resp = &r->base;
    return RPC_OK;
}

/* Collects range entries into the call's arena. */
struct collect {
    struct arena *a;
    Stele__StateEntry **entries;
    size_t n;
    size_t bytes; /* octets of the entries collected (QUERY_MAX_PAGE_BYTES) */
    bool full;    /* stopped at QUERY_MAX_PAGE_BYTES */
    bool nomem;
};

static bool collect_entry(void *ctx, const char *key, const uint8_t *value, size_t len,
                          const struct statedb_version *ver)
{
    struct collect *c = ctx;
    size_t cost = strlen(key) + len + QUERY_ENTRY_OCTETS;
    if (c->n && c->bytes + cost > QUERY_MAX_PAGE_BYTES) {
        c->full = true;
        return false;
    }
    c->bytes += cost;
    if (!(c->entries[c->n] = entry(c->a, key, value, len, ver))) {
        c->nomem = true;
        return false;
    }
    c->n++;
    return true;
}

static size_t clamp_limit(uint32_t limit)
{
    return limit == 0 || limit > QUERY_MAX_LIMIT ? QUERY_MAX_LIMIT : limit;
}

static enum rpc_code q_range(struct peer *p, struct rpc_call *call, const uint8_t *body, size_t len,
                             ProtobufCMessage **resp)
{
    Stele__RangeQuery *q;
    const uint8_t *raw = body; /* range_bound() reads the keys as sent */
    size_t raw_len = len;
    enum rpc_code code =
        open_body(call, body, len, &stele__range_query__descriptor, (ProtobufCMessage **)&q);
    if (code != RPC_OK || (code = check_key(call, q->namespace_, q->start_key, false)) != RPC_OK ||
        (code = check_key(call, q->namespace_, q->end_key, false)) != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    if (!range_bound(a, raw, raw_len, 2 /* start_key */, &q->start_key) ||
        !range_bound(a, raw, raw_len, 3 /* end_key */, &q->end_key))
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    size_t limit = clamp_limit(q->limit);
    Stele__RangeResponse *r = arena_alloc(a, sizeof *r);
    struct collect c = {.a = a, .entries = arena_calloc(a, limit, sizeof *c.entries)};
    if (!r || !c.entries)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__range_response__init(r);
    bool more = false;
    int rc = statedb_range(kvledger_state(p->ledger), q->namespace_, q->start_key, q->end_key,
                           limit, collect_entry, &c, &more);
    if (c.nomem)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    if (rc)
        return store_error(call, rc, "state range");
    r->entries = c.entries;
    r->n_entries = c.n;
    r->has_more = more || c.full;
    *resp = &r->base;
    return RPC_OK;
}

/* Collects history entries, with the time of their block. */
struct hcollect {
    struct peer *p;
    struct arena *a;
    Stele__HistoryEntry **entries;
    size_t n;
    uint64_t block;  /* block whose timestamp is cached */
    uint64_t ts;     /* its timestamp */
    bool have_block; /* block/ts are set */
    size_t bytes;    /* octets of the entries collected (QUERY_MAX_PAGE_BYTES) */
    size_t reads;    /* blocks read for their time */
    bool full;       /* stopped at QUERY_MAX_PAGE_BYTES or QUERY_MAX_BLOCK_READS */
    bool nomem;
};

static uint64_t block_time(struct hcollect *c, uint64_t number)
{
    if (c->have_block && c->block == number)
        return c->ts;
    struct arena *a = arena_create(0);
    Stele__Block *b = NULL;
    uint64_t ts = 0;
    if (a && blockstore_get(kvledger_blocks(c->p->ledger), number, a, &b) == STELE_OK &&
        b->metadata)
        ts = b->metadata->timestamp_ms;
    arena_destroy(a);
    c->block = number;
    c->ts = ts;
    c->have_block = true;
    c->reads++;
    return ts;
}

static bool collect_history(void *ctx, const struct statedb_history_entry *e)
{
    struct hcollect *c = ctx;
    bool new_block = !c->have_block || c->block != e->ver.block;
    size_t cost = e->len + QUERY_ENTRY_OCTETS; /* the tx_id, version and time are in it */
    if (c->n && (c->bytes + cost > QUERY_MAX_PAGE_BYTES ||
                 (new_block && c->reads >= QUERY_MAX_BLOCK_READS))) {
        c->full = true;
        return false;
    }
    c->bytes += cost;
    Stele__HistoryEntry *h = arena_alloc(c->a, sizeof *h);
    Stele__Version *v = arena_alloc(c->a, sizeof *v);
    char *tx = arena_memdup(c->a, e->tx_id, strlen(e->tx_id) + 1);
    uint8_t *val = e->len ? arena_memdup(c->a, e->value, e->len) : NULL;
    if (!h || !v || !tx || (e->len && !val)) {
        c->nomem = true;
        return false;
    }
    stele__history_entry__init(h);
    stele__version__init(v);
    v->block_number = e->ver.block;
    v->tx_index = e->ver.tx;
    h->version = v;
    h->tx_id = tx;
    h->is_delete = e->is_delete;
    h->value = (ProtobufCBinaryData){e->len, val};
    h->timestamp_ms = block_time(c, e->ver.block);
    c->entries[c->n++] = h;
    return true;
}

static enum rpc_code q_history(struct peer *p, struct rpc_call *call, const uint8_t *body,
                               size_t len, ProtobufCMessage **resp)
{
    Stele__HistoryQuery *q;
    enum rpc_code code =
        open_body(call, body, len, &stele__history_query__descriptor, (ProtobufCMessage **)&q);
    if (code != RPC_OK || (code = check_key(call, q->namespace_, q->key, true)) != RPC_OK)
        return code;
    struct arena *a = rpc_call_arena(call);
    size_t limit = clamp_limit(q->limit);
    Stele__HistoryResponse *r = arena_alloc(a, sizeof *r);
    struct hcollect c = {.p = p, .a = a, .entries = arena_calloc(a, limit, sizeof *c.entries)};
    if (!r || !c.entries)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__history_response__init(r);
    struct statedb_version after;
    if (q->after) {
        after.block = q->after->block_number;
        after.tx = q->after->tx_index;
    }
    bool more = false;
    int rc = statedb_history(kvledger_state(p->ledger), q->namespace_, q->key,
                             q->after ? &after : NULL, limit, collect_history, &c, &more);
    if (c.nomem)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    if (rc)
        return store_error(call, rc, "history");
    r->entries = c.entries;
    r->n_entries = c.n;
    r->has_more = more || c.full;
    *resp = &r->base;
    return RPC_OK;
}

static enum rpc_code q_chain_info(struct rpc_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp, void *arg)
{
    (void)req;
    struct peer *p = arg;
    struct arena *a = rpc_call_arena(call);
    Stele__PeerChainInfo *info = arena_alloc(a, sizeof *info);
    uint8_t *h = arena_calloc(a, 3, 32);
    if (!info || !h)
        return rpc_call_error(call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    stele__peer_chain_info__init(info);
    uint64_t height;
    kvledger_head(p->ledger, &height, h, h + 32, h + 64); /* reads no block: ChainInfo is public */
    info->channel_id = p->cfg->channel_id;
    info->height = height;
    info->current_hash = (ProtobufCBinaryData){32, h};
    info->previous_hash = (ProtobufCBinaryData){32, h + 32};
    info->state_hash = (ProtobufCBinaryData){32, h + 64};
    info->peer_id = p->cfg->peer_id;
    info->org = p->org;
    info->orderer_height = atomic_load(&p->orderer_height);
    *resp = &info->base;
    return RPC_OK;
}

int peer_query_register(struct peer *p, struct rpc_server *s)
{
    const ProtobufCMessageDescriptor *sr = &stele__signed_request__descriptor;
    static const query_fn fns[] = {q_block, q_transaction, q_state, q_range, q_history};
    struct query_method *qm = calloc(sizeof fns / sizeof fns[0], sizeof *qm);
    if (!qm)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        qm[i] = (struct query_method){p, fns[i]};
    free(p->query_methods);
    p->query_methods = qm;
    const struct rpc_method m[] = {
        {.path = "/stele.Query/Block",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = q_dispatch,
         .arg = &qm[0],
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Query/Transaction",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = q_dispatch,
         .arg = &qm[1],
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Query/State",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = q_dispatch,
         .arg = &qm[2],
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Query/StateRange",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = q_dispatch,
         .arg = &qm[3],
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Query/History",
         .kind = RPC_UNARY,
         .request = sr,
         .handler = q_dispatch,
         .arg = &qm[4],
         .max_request = PEER_MAX_SIGNED_REQUEST},
        {.path = "/stele.Query/ChainInfo",
         .kind = RPC_UNARY,
         .request = &stele__peer_chain_info_request__descriptor,
         .handler = q_chain_info,
         .arg = p,
         .max_request = PEER_MAX_SMALL_REQUEST},
    };
    return rpc_server_add(s, m, sizeof m / sizeof m[0]);
}
