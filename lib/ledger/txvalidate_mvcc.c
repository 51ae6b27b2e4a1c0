/*
 * txvalidate_mvcc.c — checks 8 (duplicate tx_id) and 9 (MVCC) of txvalidate.h, in block
 * order, and the recording of the VALID transactions' writes.
 *
 * The state a transaction's reads are compared with is the committed state before the block
 * (statedb) overlaid with the writes of the earlier VALID transactions of the block (the
 * update, statedb_update_lookup()). A range read is a phantom check as well: within the part
 * of the range the chaincode saw, the keys present now must be exactly the keys it listed, at
 * the versions it listed.
 */
#include "ledger/txvalidate_int.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "ledger/blockstore.h"
#include "ledger/lifecycle.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"

#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key written by an earlier VALID transaction of the block (for phantom checks). */
struct written {
    const char *ns;
    const char *key;
};

/* Per-block bookkeeping of the in-order pass. */
struct pass {
    struct txv_job *job;
    struct statedb_update *u;
    struct written *w; /* keys written so far: w[0..n_sorted) in (ns, key) order, the rest in
                          recording order (sorted in when a range read is checked) */
    size_t n_w, cap_w, n_sorted;
    void *tx_ids; /* tsearch(3) tree of the tx_ids of the block's opened envelopes */
    int err;      /* a failure while walking a range */
};

static int txid_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The current version of (ns, key): *present false when it does not exist. */
static int current_version(struct pass *p, const char *ns, const char *key, bool *present,
                           struct statedb_version *ver)
{
    bool del;
    if (statedb_update_lookup(p->u, ns, key, ver, &del)) {
        *present = !del;
        return STELE_OK;
    }
    int rc = statedb_get(p->job->db, ns, key, NULL, ver);
    *present = rc == STELE_OK;
    return rc == STELE_ERR_NOT_FOUND ? STELE_OK : rc;
}

/* True when what was read (`v`, NULL: absent) is what is there now. */
static bool same_version(const Stele__Version *v, bool present, const struct statedb_version *now)
{
    if (!v)
        return !present;
    return present && v->block_number == now->block && v->tx_index == now->tx;
}

/* Walking the committed keys of a range read. */
struct range_walk {
    struct pass *p;
    const char *ns;
    const Stele__RangeRead *rr;
    const char *last; /* the last key the chaincode saw when the range was not exhausted */
    size_t i;         /* next listed read */
    bool conflict;
};

/* A committed key in the range: it must be listed (versions are compared afterwards), unless an
 * earlier transaction of the block deleted it. */
static bool range_visit(void *ctx, const char *key, const uint8_t *value, size_t len,
                        const struct statedb_version *ver)
{
    (void)value, (void)len, (void)ver;
    struct range_walk *w = ctx;
    if (w->last && strcmp(key, w->last) > 0)
        return false;
    while (w->i < w->rr->n_reads && strcmp(w->rr->reads[w->i]->key, key) < 0)
        w->i++;
    if (w->i < w->rr->n_reads && strcmp(w->rr->reads[w->i]->key, key) == 0)
        return true;
    struct statedb_version v;
    bool del;
    if (statedb_update_lookup(w->p->u, w->ns, key, &v, &del) && del)
        return true;
    w->conflict = true;
    return false;
}

static bool in_range(const char *key, const char *start, const char *end, const char *last)
{
    if (strcmp(key, start) < 0)
        return false;
    if (last)
        return strcmp(key, last) <= 0;
    return !end[0] || strcmp(key, end) < 0;
}

static int written_cmp(const void *a, const void *b)
{
    const struct written *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->key, y->key);
}

/* Brings every recorded write into w's (ns, key) order: sorts the ones recorded since the last
 * time and merges them in, so that a block whose transactions alternate writes and range
 * reads costs each range read a binary search, not a scan of every write. */
static int sort_writes(struct pass *p)
{
    if (p->n_sorted == p->n_w)
        return STELE_OK;
    size_t head = p->n_sorted, n = p->n_w;
    qsort(p->w + head, n - head, sizeof *p->w, written_cmp);
    if (head) {
        struct written *m = malloc(n * sizeof *m);
        if (!m)
            return STELE_ERR_NOMEM;
        size_t i = 0, j = head, k = 0;
        while (i < head && j < n)
            m[k++] = written_cmp(&p->w[j], &p->w[i]) < 0 ? p->w[j++] : p->w[i++];
        while (i < head)
            m[k++] = p->w[i++];
        while (j < n)
            m[k++] = p->w[j++];
        memcpy(p->w, m, n * sizeof *m);
        free(m);
    }
    p->n_sorted = n;
    return STELE_OK;
}

/* True when the range read lists `key` (its reads are in strictly ascending key order). */
static bool listed(const Stele__RangeRead *rr, const char *key)
{
    size_t lo = 0, hi = rr->n_reads;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rr->reads[mid]->key, key);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Is the range read still what the chaincode saw? Sets *ok. */
static int check_range(struct pass *p, const char *ns, const Stele__RangeRead *rr, bool *ok)
{
    const char *start = rr->start_key ? rr->start_key : "";
    const char *end = rr->end_key ? rr->end_key : "";
    const char *last = NULL;
    if (!rr->exhausted) {
        if (!rr->n_reads) { /* it saw nothing and stopped: nothing to compare */
            *ok = true;
            return STELE_OK;
        }
        last = rr->reads[rr->n_reads - 1]->key;
    }
    /* every listed key is there at its version */
    for (size_t i = 0; i < rr->n_reads; i++) {
        bool present;
        struct statedb_version now;
        int rc = current_version(p, ns, rr->reads[i]->key, &present, &now);
        if (rc)
            return rc;
        if (!present || !same_version(rr->reads[i]->version, present, &now)) {
            *ok = false;
            return STELE_OK;
        }
    }
    /* no committed key appeared that was not listed */
    struct range_walk w = {.p = p, .ns = ns, .rr = rr, .last = last};
    int rc = statedb_range(p->job->db, ns, start, end, 0, range_visit, &w, NULL);
    if (rc)
        return rc;
    if (w.conflict) {
        *ok = false;
        return STELE_OK;
    }
    /* no key written earlier in the block appeared that was not listed: the writes from the
     * first at or after (ns, start), in order, while still in the range */
    if ((rc = sort_writes(p)))
        return rc;
    const struct written from = {ns, start};
    size_t lo = 0, hi = p->n_w;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (written_cmp(&p->w[mid], &from) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < p->n_w && strcmp(p->w[i].ns, ns) == 0; i++) {
        if (!in_range(p->w[i].key, start, end, last))
            break; /* past the range's end: so is every later one */
        bool present;
        struct statedb_version now;
        if ((rc = current_version(p, ns, p->w[i].key, &present, &now)))
            return rc;
        if (present && !listed(rr, p->w[i].key)) {
            *ok = false;
            return STELE_OK;
        }
    }
    *ok = true;
    return STELE_OK;
}

/* Check 9 on one transaction: sets *ok. */
static int check_reads(struct pass *p, const Stele__TxRwSet *rw, bool *ok)
{
    for (size_t n = 0; n < rw->n_ns_rwsets; n++) {
        const Stele__NsRwSet *ns = rw->ns_rwsets[n];
        for (size_t i = 0; i < ns->n_reads; i++) {
            bool present;
            struct statedb_version now;
            int rc = current_version(p, ns->namespace_, ns->reads[i]->key, &present, &now);
            if (rc)
                return rc;
            if (!same_version(ns->reads[i]->version, present, &now)) {
                *ok = false;
                return STELE_OK;
            }
        }
        for (size_t i = 0; i < ns->n_range_reads; i++) {
            int rc = check_range(p, ns->namespace_, ns->range_reads[i], ok);
            if (rc || !*ok)
                return rc;
        }
    }
    *ok = true;
    return STELE_OK;
}

/* Records the writes of VALID transaction `index`. */
static int record_writes(struct pass *p, uint32_t index, const char *tx_id,
                         const Stele__TxRwSet *rw)
{
    for (size_t n = 0; n < rw->n_ns_rwsets; n++) {
        const Stele__NsRwSet *ns = rw->ns_rwsets[n];
        for (size_t i = 0; i < ns->n_writes; i++) {
            const Stele__KVWrite *wr = ns->writes[i];
            int rc = statedb_update_write(p->u, index, tx_id, ns->namespace_, wr->key,
                                          wr->value.data, wr->value.len, wr->is_delete);
            if (rc)
                return rc;
            if (p->n_w == p->cap_w) {
                size_t cap = p->cap_w ? 2 * p->cap_w : 64;
                struct written *w = realloc(p->w, cap * sizeof *w);
                if (!w)
                    return STELE_ERR_NOMEM;
                p->w = w;
                p->cap_w = cap;
            }
            p->w[p->n_w++] = (struct written){ns->namespace_, wr->key};
        }
    }
    return STELE_OK;
}

/* True when an earlier VALID transaction of the block wrote the definition of the chaincode `it`
 * invokes: `it` was endorsed under the definition before, which it read as surely as a key
 * (Fabric's endorsers put the definition's sequence in the read set), so it conflicts as such a
 * read would, and every peer judges it by the definition of its own block, not of the next. */
static bool definition_replaced(struct pass *p, const struct txv_item *it)
{
    char key[sizeof LIFECYCLE_DEFINITION_PFX + TX_MAX_NAME_LEN + 1];
    struct statedb_version v;
    bool del;
    int n = snprintf(key, sizeof key, LIFECYCLE_DEFINITION_PFX "%s", it->tx.invocation->chaincode);
    return n > 0 && (size_t)n < sizeof key &&
           statedb_update_lookup(p->u, LIFECYCLE_NS, key, &v, &del);
}

/* Check 8: is `tx_id` in an earlier block, or earlier in this one? Adds it to the block's set. */
static int check_duplicate(struct pass *p, const char *tx_id, bool *dup)
{
    uint64_t number = 0;
    int rc = blockstore_txid_taken(p->job->bs, tx_id, &number);
    if (rc && rc != STELE_ERR_NOT_FOUND)
        return rc;
    /* A tx_id indexed at this block or later is this block's own (a replay after a crash). */
    *dup = rc == STELE_OK && number < p->job->block->header->number;
    void **node = tsearch(tx_id, &p->tx_ids, txid_cmp);
    if (!node)
        return STELE_ERR_NOMEM;
    if (*node != tx_id)
        *dup = true;
    return STELE_OK;
}

/* The lifecycle rules read committed values (an earlier write of the block to a key a
 * transaction read is an MVCC conflict, checked first) and the approvals as they are now,
 * which earlier transactions of the block may have written. */
static int lc_get(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                  bool *found, Stele__Version **version)
{
    return lifecycle_statedb_get(((struct pass *)ctx)->job->db, key, a, value, found, version);
}

static int lc_current(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                      bool *found)
{
    struct pass *p = ctx;
    const uint8_t *v;
    size_t len;
    bool del;
    if (statedb_update_lookup_value(p->u, LIFECYCLE_NS, key, &v, &len, &del)) {
        *found = !del;
        *value = (ProtobufCBinaryData){0, NULL};
        if (*found && len && !(value->data = arena_memdup(a, v, len)))
            return STELE_ERR_NOMEM;
        value->len = *found ? len : 0;
        return STELE_OK;
    }
    Stele__Version *ver;
    return lifecycle_statedb_get(p->job->db, key, a, value, found, &ver);
}

/* Check 10: re-runs a _lifecycle transaction; sets *code when it fails. */
static int check_lifecycle(struct pass *p, struct txv_item *it, uint8_t *code)
{
    struct arena *a = arena_create(0);
    if (!a)
        return STELE_ERR_NOMEM;
    const Stele__ChaincodeInvocation *inv = it->tx.invocation;
    struct lifecycle_state st = {lc_get, lc_current, p, .endorsing = false};
    struct lifecycle_result r;
    int rc = lifecycle_execute(a, p->job->channel, inv->function, inv->args, inv->n_args,
                               it->creator_org, it->creator_role, &st, &r);
    if (arena_failures(a))
        rc = STELE_ERR_NOMEM; /* a decoding refused for lack of memory: no verdict */
    if (rc == STELE_OK) {
        bool ok = true;
        if (r.status != 200 || !r.rwset)
            *code = STELE__TX_VALIDATION_CODE__LIFECYCLE_REFUSED;
        else if (!lifecycle_writes_equal(it->tx.rwset, r.rwset))
            *code = STELE__TX_VALIDATION_CODE__LIFECYCLE_REFUSED; /* not BAD_RWSET: signed */
        /* the rules read committed state: what they read must not have changed earlier in
         * the block, whatever reads the transaction itself lists */
        else if ((rc = check_reads(p, r.rwset, &ok)) == STELE_OK && !ok)
            *code = STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT;
    }
    arena_destroy(a);
    return rc;
}

static void no_free(void *node)
{
    (void)node;
}

int txv_mvcc_run(struct txv_job *job, struct blockstore *bs, struct statedb_update *u,
                 char **errmsg)
{
    struct pass p = {.job = job, .u = u};
    job->bs = bs;
    int rc = STELE_OK;
    for (size_t i = 0; i < job->n && !rc; i++) {
        struct txv_item *it = &job->items[i];
        /* an envelope refused before its creator's signature was checked takes no tx_id,
         * in this block as across blocks (it may carry anyone's) */
        if (!it->tx_id || !txvalidate_code_takes_txid(it->code))
            continue;
        bool dup = false, ok = true;
        if ((rc = check_duplicate(&p, it->tx_id, &dup)))
            break;
        if (it->code != STELE__TX_VALIDATION_CODE__VALID)
            continue;
        if (dup) {
            it->code = STELE__TX_VALIDATION_CODE__DUPLICATE_TXID;
            continue;
        }
        if (!it->lifecycle && definition_replaced(&p, it)) {
            it->code = STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT;
            continue;
        }
        if ((rc = check_reads(&p, it->tx.rwset, &ok)))
            break;
        if (!ok) {
            it->code = STELE__TX_VALIDATION_CODE__MVCC_READ_CONFLICT;
            continue;
        }
        if (it->lifecycle && ((rc = check_lifecycle(&p, it, &it->code)) ||
                              it->code != STELE__TX_VALIDATION_CODE__VALID))
            continue;
        rc = record_writes(&p, (uint32_t)i, it->tx_id, it->tx.rwset);
    }
    tdestroy(p.tx_ids, no_free);
    free(p.w);
    if (rc)
        rc = stele_errf(errmsg, rc, "validating block %llu: %s",
                        (unsigned long long)job->block->header->number, stele_strerror(rc));
    return rc;
}
