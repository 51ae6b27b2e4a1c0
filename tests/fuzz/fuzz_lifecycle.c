/*
 * fuzz_lifecycle.c — arbitrary bytes through the `_lifecycle` rules (lib/ledger/lifecycle.h),
 * which endorsers run natively and validators re-run on every `_lifecycle` transaction: what
 * a channel member sends as the argument of approve, commit or definition.
 *
 * An input is a sequence of steps, each a header octet, a u16 big-endian length and that many
 * octets of argument (cut short at the end of the input). The header octet picks:
 *   bits 0-1  the function: approve, commit, definition, or an unknown one;
 *   bits 2-4  the creator's organisation: orderers, org1, org2, org3 (the channel's), or one
 *             of org9, "", ORG1, "org1 " (not the channel's);
 *   bit  5    the creator's role: admin (0) or peer (1);
 *   bits 6-7  the arguments: the octets once (0), none (1), twice (2), or once without
 *             applying the writes of a success to the state (3).
 * An empty argument has no data pointer, as protobuf-c decodes an empty bytes field.
 *
 * Each argument is first opened as a ChaincodeDefinition: an accepted one must keep the
 * promises of lifecycle_definition_open() field by field, and its canonical bytes must pack
 * from the decoded message, hash to its hash and re-open to the same bytes and hash. Then
 * lifecycle_execute() runs against a small in-memory state (a table; the writes of each
 * success are applied to it at block = step number, so approvals, commits and upgrades chain
 * up) under a fixed channel of four organisations (orderers, org1..org3: a commit needs three). Its
 * decision must be the one lifecycle.h describes, recomputed here from the table: the role and
 * organisation, the sequence, a policy naming only channel organisations, the majority of
 * organisations whose latest approval for the
 * sequence is exactly this definition (same hash); and on status 200 the read/write set must
 * be exactly one namespace "_lifecycle" with one read of definition/<name> at the version the
 * table holds and one write, the organisation's approval key holding the definition's hash in
 * hex (approve) or definition/<name> with the canonical bytes (commit). As a
 * validator compares a transaction's writes with those it re-derives, lifecycle_writes_equal()
 * must find the set equal to itself after a round trip through its bytes and unequal after
 * any one change (delete flag, key, value, namespace, count), and compare the argument decoded
 * as a TxRwSet (when it decodes) with it as a reference comparison does.
 *
 * Seeds: STELE_WRITE_LIFECYCLE_SEEDS=DIR makes the first call write the seeds of
 * corpus/lifecycle to DIR and exit.
 */
#include "fuzz_seed.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "policy/policy.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KV 64 /* entries of the state table; writes past them are not applied */

/* ---- the state: a table of keys, values and versions ------------------------------------ */

struct kv {
    char *key;
    ProtobufCBinaryData value;
    uint64_t block;
};

struct table {
    struct kv kv[MAX_KV];
    size_t n;
};

static const struct kv *table_find(const struct table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->kv[i].key, key) == 0)
            return &t->kv[i];
    return NULL;
}

static int t_get(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                 bool *found, Stele__Version **version)
{
    const struct kv *e = table_find(ctx, key);
    *found = e != NULL;
    *version = NULL;
    if (!e)
        return STELE_OK;
    /* as lifecycle_statedb_get(): a value never has a NULL pointer */
    value->len = e->value.len;
    value->data = arena_memdup(a, e->value.data, e->value.len ? e->value.len : 1);
    Stele__Version *v = arena_alloc(a, sizeof *v);
    if (!value->data || !v)
        return STELE_ERR_NOMEM;
    stele__version__init(v);
    v->block_number = e->block;
    *version = v;
    return STELE_OK;
}

static int t_current(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                     bool *found)
{
    Stele__Version *v;
    return t_get(ctx, key, a, value, found, &v);
}

/* Applies the writes of a success at `block`; a full table drops new keys. */
static void table_apply(struct table *t, const Stele__TxRwSet *rw, uint64_t block)
{
    const Stele__KVWrite *w = rw->ns_rwsets[0]->writes[0];
    struct kv *e = (struct kv *)table_find(t, w->key);
    if (!e) {
        if (t->n == MAX_KV)
            return;
        e = &t->kv[t->n++];
        if (!(e->key = strdup(w->key)))
            abort();
    } else {
        free(e->value.data);
    }
    e->value.len = w->value.len;
    if (!(e->value.data = malloc(w->value.len ? w->value.len : 1)))
        abort();
    if (w->value.len)
        memcpy(e->value.data, w->value.data, w->value.len);
    e->block = block;
}

static void table_release(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->kv[i].key);
        free(t->kv[i].value.data);
    }
}

/* ---- the channel ------------------------------------------------------------------------ */

/* The first N_CHANNEL_ORGS are the channel's. */
static const char *const orgs[8] = {"orderers", "org1", "org2", "org3",
                                    "org9",     "",     "ORG1", "org1 "};
#define N_CHANNEL_ORGS 4

static const Stele__ChannelConfig *channel(void)
{
    static Stele__OrganisationConfig o[N_CHANNEL_ORGS];
    static Stele__OrganisationConfig *op[N_CHANNEL_ORGS];
    static Stele__ChannelConfig c = STELE__CHANNEL_CONFIG__INIT;
    if (!c.n_organisations) {
        for (int i = 0; i < N_CHANNEL_ORGS; i++) {
            stele__organisation_config__init(&o[i]);
            o[i].name = (char *)orgs[i];
            op[i] = &o[i];
        }
        c.channel_id = (char *)"stele";
        c.organisations = op;
        c.n_organisations = N_CHANNEL_ORGS;
    }
    return &c;
}

/* ---- definitions -------------------------------------------------------------------------- */

static bool bytes_equal(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (!a.len || memcmp(a.data, b.data, a.len) == 0);
}

/* Opens `arg` as a definition and checks what lifecycle_definition_open() promises. Returns
 * true with *d filled when it was accepted. */
static bool check_definition(struct arena *a, ProtobufCBinaryData arg, struct lifecycle_def *d)
{
    const char *why = NULL;
    int rc = lifecycle_definition_open(a, arg.data, arg.len, d, &why);
    if (rc == STELE_ERR_MALFORMED) {
        if (!why || !why[0])
            abort();
        return false;
    }
    if (rc != STELE_OK)
        abort(); /* no NOMEM or CRYPTO here */
    const Stele__ChaincodeDefinition *def = d->def;
    if (!def || !tx_chaincode_name_ok(def->name) || def->name[0] == '_')
        abort();
    size_t vl = strlen(def->version);
    if (vl < 1 || vl > LIFECYCLE_MAX_VERSION)
        abort();
    for (size_t i = 0; i < vl; i++)
        if (def->version[i] <= 0x20 || def->version[i] >= 0x7f)
            abort();
    if (def->sequence < 1 || def->package_hash.len != 32)
        abort();
    struct policy *p = NULL;
    if (policy_parse(def->endorsement_policy, strlen(def->endorsement_policy), &p, NULL) !=
        STELE_OK)
        abort();
    policy_destroy(p);
    /* canonical: the decoded message packed again, and its SHA-256 */
    size_t len = 0;
    uint8_t *packed = pb_pack(&def->base, &len);
    uint8_t h[32];
    if (!packed || !bytes_equal(d->canonical, (ProtobufCBinaryData){len, packed}) ||
        crypto_sha256(d->canonical.data, d->canonical.len, h) != STELE_OK ||
        memcmp(h, d->hash, 32) != 0)
        abort();
    free(packed);
    /* the canonical bytes are a fixed point */
    struct lifecycle_def again;
    if (lifecycle_definition_open(a, d->canonical.data, d->canonical.len, &again, NULL) !=
            STELE_OK ||
        !bytes_equal(again.canonical, d->canonical) || memcmp(again.hash, d->hash, 32) != 0 ||
        strcmp(again.def->name, def->name) != 0 || again.def->sequence != def->sequence)
        abort();
    return true;
}

/* The committed sequence of `name` in the table (0: none), and its entry. */
static uint64_t committed_seq(struct arena *a, const struct table *t, const char *name,
                              const struct kv **entry)
{
    char *key = arena_printf(a, "%s%s", LIFECYCLE_DEFINITION_PFX, name);
    if (!key)
        abort();
    *entry = table_find(t, key);
    if (!*entry)
        return 0;
    /* only commits write definition keys: what is there opens */
    struct lifecycle_def d;
    if (lifecycle_definition_open(a, (*entry)->value.data, (*entry)->value.len, &d, NULL))
        abort();
    return d.def->sequence;
}

/* "approval/<name>/<seq>/<org>", written out here. */
static char *approval_key(struct arena *a, const struct lifecycle_def *d, const char *org)
{
    return arena_printf(a, "approval/%s/%" PRIu64 "/%s", d->def->name, d->def->sequence, org);
}

/* The definition's hash in hex, as an approval holds it. */
static ProtobufCBinaryData hash_hex(struct arena *a, const struct lifecycle_def *d)
{
    char *hx = arena_alloc(a, 65);
    if (!hx)
        abort();
    for (int i = 0; i < 32; i++)
        snprintf(hx + 2 * i, 3, "%02x", d->hash[i]);
    return (ProtobufCBinaryData){64, (uint8_t *)hx};
}

/* The reference of lifecycle_writes_equal(): same namespaces, and in each the same writes
 * (key, delete, value) in order. */
static bool writes_equal(const Stele__TxRwSet *x, const Stele__TxRwSet *y)
{
    if (x->n_ns_rwsets != y->n_ns_rwsets)
        return false;
    for (size_t n = 0; n < x->n_ns_rwsets; n++) {
        const Stele__NsRwSet *p = x->ns_rwsets[n], *q = y->ns_rwsets[n];
        if (strcmp(p->namespace_, q->namespace_) != 0 || p->n_writes != q->n_writes)
            return false;
        for (size_t i = 0; i < p->n_writes; i++)
            if (strcmp(p->writes[i]->key, q->writes[i]->key) != 0 ||
                p->writes[i]->is_delete != q->writes[i]->is_delete ||
                !bytes_equal(p->writes[i]->value, q->writes[i]->value))
                return false;
    }
    return true;
}

/* What a validator does with the set: compares the writes of the transaction (decoded from
 * the wire) with those it re-derived. The set itself, after a round trip through its bytes,
 * must compare equal; `arg` decoded as a set must compare as the reference says. */
static void check_writes_equal(struct arena *a, const Stele__TxRwSet *rw, ProtobufCBinaryData arg)
{
    size_t len = 0;
    uint8_t *packed = pb_pack(&rw->base, &len);
    if (!packed)
        abort();
    Stele__TxRwSet *copy =
        (Stele__TxRwSet *)pb_unpack(&stele__tx_rw_set__descriptor, a, packed, len, 0);
    free(packed);
    if (!copy || !lifecycle_writes_equal(copy, rw) || !lifecycle_writes_equal(rw, copy))
        abort();
    /* one change of the write, the namespace or the count makes them differ */
    Stele__KVWrite *w = copy->ns_rwsets[0]->writes[0];
    Stele__KVWrite saved = *w;
    uint8_t one = 0;
    w->is_delete = !w->is_delete;
    bool same = lifecycle_writes_equal(copy, rw);
    *w = saved;
    w->key = (char *)"definition/other";
    same |= lifecycle_writes_equal(copy, rw);
    *w = saved;
    w->value = w->value.len ? (ProtobufCBinaryData){w->value.len - 1, w->value.data}
                            : (ProtobufCBinaryData){1, &one};
    same |= lifecycle_writes_equal(copy, rw);
    *w = saved;
    copy->ns_rwsets[0]->namespace_ = (char *)"lifecycle";
    same |= lifecycle_writes_equal(copy, rw);
    copy->ns_rwsets[0]->namespace_ = (char *)LIFECYCLE_NS;
    copy->ns_rwsets[0]->n_writes = 0;
    same |= lifecycle_writes_equal(copy, rw);
    copy->ns_rwsets[0]->n_writes = 1;
    copy->n_ns_rwsets = 0;
    same |= lifecycle_writes_equal(copy, rw);
    if (same)
        abort();
    const Stele__TxRwSet *other =
        (const Stele__TxRwSet *)pb_unpack(&stele__tx_rw_set__descriptor, a, arg.data, arg.len, 0);
    if (other && lifecycle_writes_equal(other, rw) != writes_equal(other, rw))
        abort();
}

/* ---- one step ------------------------------------------------------------------------------ */

enum { F_APPROVE, F_COMMIT, F_DEFINITION, F_UNKNOWN };
static const char *const functions[4] = {"approve", "commit", "definition", "Approve"};

/* Whether every organisation the (parsing) policy names is one of the channel's. */
static bool policy_orgs_known(const char *text)
{
    struct policy *p = NULL;
    if (policy_parse(text, strlen(text), &p, NULL) != STELE_OK)
        abort(); /* the definition opened: its policy parses */
    const char *named[POLICY_MAX_PRINCIPALS];
    size_t n = policy_orgs(p, named, POLICY_MAX_PRINCIPALS);
    bool known = n <= POLICY_MAX_PRINCIPALS;
    for (size_t i = 0; known && i < n; i++) {
        bool one = false;
        for (int k = 0; k < N_CHANNEL_ORGS; k++)
            one |= strcmp(named[i], orgs[k]) == 0;
        known = one;
    }
    policy_destroy(p);
    return known;
}

/* The status lifecycle.h gives `fn` on the table; for a definition query *def_entry is the
 * committed entry (404 when none). */
static int expected_status(struct arena *a, const struct table *t, int fn, const char *org,
                           bool admin, const ProtobufCBinaryData *args, size_t n_args, bool opened,
                           const struct lifecycle_def *d, const struct kv **entry)
{
    *entry = NULL;
    if (fn == F_UNKNOWN)
        return 400;
    if (fn == F_DEFINITION) {
        if (n_args != 1 || args[0].len < 1 || args[0].len > TX_MAX_NAME_LEN)
            return 400;
        char *name = arena_alloc(a, args[0].len + 1);
        if (!name)
            abort();
        memcpy(name, args[0].data, args[0].len);
        name[args[0].len] = 0;
        if (strlen(name) != args[0].len || !tx_chaincode_name_ok(name))
            return 400;
        return committed_seq(a, t, name, entry) ? 200 : 404;
    }
    bool member = false;
    for (int i = 0; i < N_CHANNEL_ORGS; i++)
        member |= strcmp(org, orgs[i]) == 0;
    if (!admin || !member || n_args != 1 || !opened)
        return 400;
    if (d->def->sequence != committed_seq(a, t, d->def->name, entry) + 1)
        return 400;
    if (!policy_orgs_known(d->def->endorsement_policy))
        return 400;
    if (fn == F_APPROVE)
        return 200;
    int approvals = 0;
    for (int i = 0; i < N_CHANNEL_ORGS; i++) {
        const struct kv *e = table_find(t, approval_key(a, d, orgs[i]));
        approvals += e && bytes_equal(e->value, hash_hex(a, d)); /* its latest approval */
    }
    return 2 * approvals > N_CHANNEL_ORGS ? 200 : 400;
}

/* Checks the read/write set of a successful approve or commit. */
static void check_rwset(struct arena *a, const Stele__TxRwSet *rw, int fn, const char *org,
                        const struct lifecycle_def *d, const struct kv *entry)
{
    if (!rw || rw->n_ns_rwsets != 1)
        abort();
    const Stele__NsRwSet *ns = rw->ns_rwsets[0];
    if (strcmp(ns->namespace_, LIFECYCLE_NS) != 0 || ns->n_reads != 1 || ns->n_writes != 1 ||
        ns->n_range_reads != 0)
        abort();
    char *dkey = arena_printf(a, "%s%s", LIFECYCLE_DEFINITION_PFX, d->def->name);
    const Stele__KVRead *r = ns->reads[0];
    if (strcmp(r->key, dkey) != 0 || !r->version != !entry ||
        (entry && (r->version->block_number != entry->block || r->version->tx_index != 0)))
        abort();
    const Stele__KVWrite *w = ns->writes[0];
    if (w->is_delete || strlen(w->key) > TX_MAX_KEY_LEN)
        abort();
    if (fn == F_APPROVE) {
        if (strcmp(w->key, approval_key(a, d, org)) != 0 || !bytes_equal(w->value, hash_hex(a, d)))
            abort();
    } else if (strcmp(w->key, dkey) != 0 || !bytes_equal(w->value, d->canonical)) {
        abort();
    }
}

static void step(struct arena *a, struct table *t, uint8_t hdr, ProtobufCBinaryData arg,
                 uint64_t block)
{
    int fn = hdr & 3;
    const char *org = orgs[(hdr >> 2) & 7];
    bool admin = !(hdr >> 5 & 1);
    unsigned shape = hdr >> 6;
    size_t n_args = shape == 1 ? 0 : shape == 2 ? 2 : 1;
    ProtobufCBinaryData args[2] = {arg, arg};

    struct lifecycle_def d = {0};
    bool opened = check_definition(a, arg, &d);
    const struct kv *entry;
    int want = expected_status(a, t, fn, org, admin, args, n_args, opened, &d, &entry);

    struct lifecycle_state st = {t_get, t_current, t, .endorsing = true};
    struct lifecycle_result r;
    int rc = lifecycle_execute(a, channel(), functions[fn], n_args ? args : NULL, n_args, org,
                               admin ? "admin" : "peer", &st, &r);
    if (rc != STELE_OK || r.status != want)
        abort();
    if (r.status != 200) {
        if (!r.why || !r.why[0] || r.rwset)
            abort();
        return;
    }
    if (fn == F_DEFINITION) {
        /* a query: the committed bytes, nothing to write */
        if (r.rwset || !entry || !bytes_equal(r.payload, entry->value))
            abort();
        return;
    }
    check_rwset(a, r.rwset, fn, org, &d, entry);
    check_writes_equal(a, r.rwset, arg);
    if (shape != 3)
        table_apply(t, r.rwset, block);
}

/* ---- seeds ------------------------------------------------------------------------------- */

/* Appends a step to `b`. */
static void put_step(struct buf *b, int fn, int org, bool admin, ProtobufCBinaryData arg)
{
    uint8_t h[3] = {(uint8_t)(fn | org << 2 | (admin ? 0 : 0x20)), (uint8_t)(arg.len >> 8),
                    (uint8_t)arg.len};
    if (buf_append(b, h, 3) || buf_append(b, arg.data, arg.len))
        abort();
}

/* A serialized definition (malloc'd). */
static ProtobufCBinaryData def(const char *name, const char *version, uint64_t seq,
                               const char *policy, uint8_t hash_byte, size_t hash_len)
{
    uint8_t h[32];
    memset(h, hash_byte, sizeof h);
    Stele__ChaincodeDefinition d = STELE__CHAINCODE_DEFINITION__INIT;
    d.name = (char *)name;
    d.version = (char *)version;
    d.sequence = seq;
    d.package_hash = (ProtobufCBinaryData){hash_len, h};
    d.endorsement_policy = (char *)policy;
    ProtobufCBinaryData out;
    if (!(out.data = pb_pack(&d.base, &out.len)))
        abort();
    return out;
}

enum { O_ORDERERS, O_ORG1, O_ORG2, O_ORG3, O_ORG9 };

static void write_seeds(const char *dir)
{
    const char *pol = "AND(org1.peer,org2.peer)";
    ProtobufCBinaryData d1 = def("asset", "1.0", 1, pol, 7, 32);
    ProtobufCBinaryData d1b = def("asset", "1.0", 1, "OR(org1.peer)", 7, 32);
    ProtobufCBinaryData d2 =
        def("asset", "2.0", 2, "OutOf(2,org1.peer,org2.peer,orderers.peer)", 8, 32);
    ProtobufCBinaryData name = {5, (uint8_t *)"asset"}, none = {4, (uint8_t *)"none"};
    struct buf b;
    buf_init(&b);

    put_step(&b, F_APPROVE, O_ORG1, true, d1);
    fuzz_write_seed(dir, "approve", &b);

    put_step(&b, F_APPROVE, O_ORG1, true, d1);
    put_step(&b, F_APPROVE, O_ORG2, true, d1);
    put_step(&b, F_COMMIT, O_ORG1, true, d1); /* two of four: not more than half */
    put_step(&b, F_APPROVE, O_ORG3, true, d1);
    put_step(&b, F_COMMIT, O_ORG1, true, d1);
    put_step(&b, F_DEFINITION, O_ORG1, false, name);
    fuzz_write_seed(dir, "approve_thrice_commit_query", &b);

    put_step(&b, F_APPROVE, O_ORG1, true, d1);
    put_step(&b, F_APPROVE, O_ORDERERS, true, d1);
    put_step(&b, F_APPROVE, O_ORG3, true, d1);
    put_step(&b, F_COMMIT, O_ORG2, true, d1);
    put_step(&b, F_APPROVE, O_ORG1, true, d2);
    put_step(&b, F_APPROVE, O_ORG2, true, d2);
    put_step(&b, F_APPROVE, O_ORG3, true, d2);
    put_step(&b, F_COMMIT, O_ORDERERS, true, d2);
    put_step(&b, F_DEFINITION, O_ORG9, false, name);
    fuzz_write_seed(dir, "upgrade_to_sequence_2", &b);

    put_step(&b, F_APPROVE, O_ORG1, true, d1);
    put_step(&b, F_APPROVE, O_ORG3, true, d1);
    put_step(&b, F_APPROVE, O_ORG2, true, d1b);
    put_step(&b, F_COMMIT, O_ORG1, true, d1);
    put_step(&b, F_COMMIT, O_ORG2, true, d1b);
    fuzz_write_seed(dir, "approvals_of_other_definitions", &b);

    put_step(&b, F_APPROVE, O_ORG1, false, d1);
    put_step(&b, F_APPROVE, O_ORG9, true, d1);
    put_step(&b, F_APPROVE, O_ORG1, true, d2);
    put_step(&b, F_COMMIT, O_ORG1, true, d1);
    put_step(&b, F_UNKNOWN, O_ORG1, true, d1);
    put_step(&b, F_DEFINITION, O_ORG1, false, none);
    fuzz_write_seed(dir, "refusals", &b);

    struct {
        const char *seed;
        ProtobufCBinaryData d;
    } bad[] = {
        {"bad_name", def("_lifecycle", "1", 1, "OR(org1.peer)", 1, 32)},
        {"bad_version", def("asset", "1 0", 1, "OR(org1.peer)", 1, 32)},
        {"bad_sequence", def("asset", "1", 0, "OR(org1.peer)", 1, 32)},
        {"bad_policy", def("asset", "1", 1, "AND(org1.peer", 1, 32)},
        {"bad_hash", def("asset", "1", 1, "OR(org1.peer)", 1, 31)},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_step(&b, F_APPROVE, O_ORG2, true, bad[i].d);
        fuzz_write_seed(dir, bad[i].seed, &b);
        free(bad[i].d.data);
    }
    free(d1.data);
    free(d1b.data);
    free(d2.data);
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        const char *dir = getenv("STELE_WRITE_LIFECYCLE_SEEDS");
        if (dir) {
            write_seeds(dir);
            exit(0);
        }
        ready = true;
    }
    struct arena *a = arena_create(0);
    struct table *t = calloc(1, sizeof *t);
    if (!a || !t)
        abort();
    uint64_t block = 1;
    for (size_t at = 0; at < size; block++) {
        uint8_t hdr = data[at++];
        size_t len = at + 2 <= size ? (size_t)data[at] << 8 | data[at + 1] : 0;
        at = at + 2 <= size ? at + 2 : size;
        if (len > size - at)
            len = size - at;
        ProtobufCBinaryData arg = {len, len ? (uint8_t *)data + at : NULL};
        at += len;
        step(a, t, hdr, arg, block);
    }
    table_release(t);
    free(t);
    arena_destroy(a);
    return 0;
}
