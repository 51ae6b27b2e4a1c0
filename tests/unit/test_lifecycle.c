/* test_lifecycle.c — lib/ledger/lifecycle: the _lifecycle rules that endorsers run and
 * validators re-run. Definitions are checked field by field; only an admin of a channel
 * organisation approves or commits; sequences follow the committed one; a commit needs
 * approvals of exactly that definition by admins of more than half of the organisations; the
 * writes are exactly the approval key or the definition. State is a small table. */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/lifecycle.h"
#include "pb/pb.h"
#include "stele/lifecycle.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tiny state: keys with values and versions. */
struct kv {
    char key[512];
    ProtobufCBinaryData value;
    uint64_t block;
};
struct table {
    struct kv kv[32];
    size_t n;
};

static int t_get(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                 bool *found, Stele__Version **version)
{
    struct table *t = ctx;
    *found = false;
    *version = NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->kv[i].key, key) != 0)
            continue;
        *found = true;
        value->len = t->kv[i].value.len;
        value->data = arena_memdup(a, t->kv[i].value.data, value->len ? value->len : 1);
        Stele__Version *v = arena_alloc(a, sizeof *v);
        stele__version__init(v);
        v->block_number = t->kv[i].block;
        *version = v;
    }
    return STELE_OK;
}

static int t_current(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                     bool *found)
{
    Stele__Version *v;
    return t_get(ctx, key, a, value, found, &v);
}

/* Applies the writes of a successful execution to the table at block `block`. */
static void apply(struct table *t, const Stele__TxRwSet *rw, uint64_t block)
{
    for (size_t n = 0; n < rw->n_ns_rwsets; n++)
        for (size_t i = 0; i < rw->ns_rwsets[n]->n_writes; i++) {
            const Stele__KVWrite *w = rw->ns_rwsets[n]->writes[i];
            size_t k = 0;
            while (k < t->n && strcmp(t->kv[k].key, w->key) != 0)
                k++;
            if (k == t->n) {
                assert_true(t->n < 32);
                t->n++;
            } else {
                free(t->kv[k].value.data);
            }
            snprintf(t->kv[k].key, sizeof t->kv[k].key, "%s", w->key);
            t->kv[k].value.len = w->value.len;
            t->kv[k].value.data = malloc(w->value.len ? w->value.len : 1);
            if (w->value.len)
                memcpy(t->kv[k].value.data, w->value.data, w->value.len);
            t->kv[k].block = block;
        }
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->kv[i].value.data);
}

/* The CA key org1 trusts in channel() (SEC 1 compressed; none while len is 0). */
static uint8_t org1_ca_pub[33];
static ProtobufCBinaryData org1_ca = {0, org1_ca_pub};

static const char *lc_policy;   /* the channel's lifecycle_policy (NULL: none, the default) */
static uint32_t lc_version = 1; /* its lifecycle_version */

static Stele__ChannelConfig *channel(void)
{
    static Stele__OrganisationConfig o[3];
    static Stele__OrganisationConfig *op[3];
    static Stele__ChannelConfig c;
    static const char *names[3] = {"orderers", "org1", "org2"};
    stele__channel_config__init(&c);
    for (int i = 0; i < 3; i++) {
        stele__organisation_config__init(&o[i]);
        o[i].name = (char *)names[i];
        op[i] = &o[i];
    }
    o[1].ca_public_keys = &org1_ca;
    o[1].n_ca_public_keys = org1_ca.len ? 1 : 0;
    c.organisations = op;
    c.n_organisations = 3;
    c.channel_id = "stele";
    c.lifecycle_policy = (char *)lc_policy;
    c.lifecycle_version = lc_version;
    return &c;
}

/* A serialized definition. */
static ProtobufCBinaryData def(const char *name, const char *version, uint64_t seq,
                               const char *policy, uint8_t hash_byte)
{
    static uint8_t h[32];
    memset(h, hash_byte, sizeof h);
    Stele__ChaincodeDefinition d = STELE__CHAINCODE_DEFINITION__INIT;
    d.name = (char *)name;
    d.version = (char *)version;
    d.sequence = seq;
    d.package_hash = (ProtobufCBinaryData){32, h};
    d.endorsement_policy = (char *)policy;
    ProtobufCBinaryData out;
    out.data = pb_pack(&d.base, &out.len);
    return out;
}

/* Runs function(arg) as (org, role) on t; returns the status. */
static int run(struct table *t, struct arena *a, const char *fn, ProtobufCBinaryData arg,
               const char *org, const char *role, struct lifecycle_result *r)
{
    struct lifecycle_state st = {t_get, t_current, t, .endorsing = true};
    assert_int_equal(lifecycle_execute(a, channel(), fn, &arg, 1, org, role, &st, r), STELE_OK);
    return r->status;
}

static void definitions_are_checked(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    struct lifecycle_def d;
    const char *why = NULL;
    ProtobufCBinaryData ok = def("asset", "1.0", 1, "AND(org1.peer,org2.peer)", 7);
    assert_int_equal(lifecycle_definition_open(a, ok.data, ok.len, &d, &why), STELE_OK);
    assert_string_equal(d.def->name, "asset");
    assert_int_equal(d.canonical.len, ok.len);
    assert_memory_equal(d.canonical.data, ok.data, ok.len);
    /* a policy of 4096 octets is fine, one more is not */
    static char huge[4098];
    memset(huge, ' ', sizeof huge - 1);
    memcpy(huge, "OR(org1.peer)", 13);
    huge[4096] = 0;
    ProtobufCBinaryData edge = def("asset", "1.0", 1, huge, 7);
    assert_int_equal(lifecycle_definition_open(a, edge.data, edge.len, &d, &why), STELE_OK);
    free(edge.data);
    huge[4096] = ' ';
    uint8_t h2[32];
    struct lifecycle_def d2;
    ProtobufCBinaryData other = def("asset", "1.1", 1, "AND(org1.peer,org2.peer)", 7);
    assert_int_equal(lifecycle_definition_open(a, other.data, other.len, &d2, NULL), STELE_OK);
    memcpy(h2, d2.hash, 32);
    assert_memory_not_equal(h2, d.hash, 32);
    struct {
        ProtobufCBinaryData b;
        const char *why;
    } bad[] = {
        {def("_lifecycle", "1", 1, "OR(org1.peer)", 1), "name"},
        {def("a b", "1", 1, "OR(org1.peer)", 1), "name"},
        {def("asset", "", 1, "OR(org1.peer)", 1), "version"},
        {def("asset", "1 0", 1, "OR(org1.peer)", 1), "version"},
        {def("asset", "1", 0, "OR(org1.peer)", 1), "sequence"},
        {def("asset", "1", 1, "AND(org1.peer", 1), "policy"},
        /* parses (whitespace), but `stele chaincode list` would print another policy */
        {def("asset", "1", 1, "OR(org9.peer,   \r   org1.peer)", 1), "policy"},
        {def("asset", "1", 1, "AND(org1.peer,\norg2.peer)", 1), "policy"},
        {def("asset", "1", 1, huge, 1), "policy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(lifecycle_definition_open(a, bad[i].b.data, bad[i].b.len, &d, &why),
                         STELE_ERR_MALFORMED);
        assert_non_null(strstr(why, bad[i].why));
        free(bad[i].b.data);
    }
    uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(lifecycle_definition_open(a, junk, sizeof junk, &d, &why),
                     STELE_ERR_MALFORMED);
    /* a 31-octet package hash */
    Stele__ChaincodeDefinition s = STELE__CHAINCODE_DEFINITION__INIT;
    uint8_t h31[31] = {0};
    s.name = "asset";
    s.version = "1";
    s.sequence = 1;
    s.endorsement_policy = "OR(org1.peer)";
    s.package_hash = (ProtobufCBinaryData){31, h31};
    size_t len;
    uint8_t *b = pb_pack(&s.base, &len);
    assert_int_equal(lifecycle_definition_open(a, b, len, &d, &why), STELE_ERR_MALFORMED);
    assert_non_null(strstr(why, "hash"));
    free(b);
    free(ok.data);
    free(other.data);
    arena_destroy(a);
}

static void approve_and_commit(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    struct table t = {0};
    struct lifecycle_result r;
    ProtobufCBinaryData d1 = def("asset", "1.0", 1, "AND(org1.peer,org2.peer)", 7);
    ProtobufCBinaryData d1b = def("asset", "1.0", 1, "OR(org1.peer)", 7); /* another policy */
    ProtobufCBinaryData d2 = def("asset", "2.0", 2, "AND(org1.peer,org2.peer)", 8);

    /* only admins of channel organisations */
    assert_int_equal(run(&t, a, "approve", d1, "org1", "client", &r), 400);
    assert_non_null(strstr(r.why, "admin"));
    assert_int_equal(run(&t, a, "approve", d1, "org9", "admin", &r), 400);
    /* no sequence 2 before 1 */
    assert_int_equal(run(&t, a, "approve", d2, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "sequence"));
    /* a commit with no approvals */
    assert_int_equal(run(&t, a, "commit", d1, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "half"));

    /* a policy naming an organisation the channel does not have (names are exact) */
    ProtobufCBinaryData dx = def("asset", "1.0", 1, "OR(org1.peer, Org2.peer)", 7);
    assert_int_equal(run(&t, a, "approve", dx, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "\"Org2\", which is not one of the channel's"));
    assert_int_equal(run(&t, a, "readiness", dx, "org1", "client", &r), 400);
    free(dx.data);
    /* org1 approves: one write, the approval key; one read of the definition (absent) */
    assert_int_equal(run(&t, a, "approve", d1, "org1", "admin", &r), 200);
    assert_int_equal(r.rwset->n_ns_rwsets, 1);
    const Stele__NsRwSet *ns = r.rwset->ns_rwsets[0];
    assert_string_equal(ns->namespace_, LIFECYCLE_NS);
    assert_int_equal(ns->n_writes, 1);
    assert_string_equal(ns->writes[0]->key, "approval/asset/1/org1");
    assert_int_equal(ns->writes[0]->value.len, 64); /* the definition's hash in hex */
    assert_int_equal(ns->n_reads, 1);
    assert_string_equal(ns->reads[0]->key, "definition/asset");
    assert_null(ns->reads[0]->version);
    apply(&t, r.rwset, 1);
    /* one of three organisations is not more than half */
    assert_int_equal(run(&t, a, "commit", d1, "org2", "admin", &r), 400);
    /* org2 approves another definition (another policy): still no majority for d1 */
    assert_int_equal(run(&t, a, "approve", d1b, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 2);
    assert_int_equal(run(&t, a, "commit", d1, "org2", "admin", &r), 400);
    /* org2 approves d1: two of three */
    assert_int_equal(run(&t, a, "approve", d1, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 3);
    assert_int_equal(run(&t, a, "commit", d1, "org2", "admin", &r), 200);
    ns = r.rwset->ns_rwsets[0];
    assert_int_equal(ns->n_writes, 1);
    assert_string_equal(ns->writes[0]->key, "definition/asset");
    assert_int_equal(ns->writes[0]->value.len, d1.len);
    assert_memory_equal(ns->writes[0]->value.data, d1.data, d1.len);
    apply(&t, r.rwset, 4);
    /* the committed definition answers the query */
    ProtobufCBinaryData name = {5, (uint8_t *)"asset"};
    assert_int_equal(run(&t, a, "definition", name, "org1", "client", &r), 200);
    assert_int_equal(r.payload.len, d1.len);
    /* an empty argument, as protobuf-c decodes it (no data pointer): refused, not an error */
    ProtobufCBinaryData empty = {0, NULL};
    assert_int_equal(run(&t, a, "definition", empty, "org1", "client", &r), 400);
    ProtobufCBinaryData none = {4, (uint8_t *)"none"};
    assert_int_equal(run(&t, a, "definition", none, "org1", "client", &r), 404);
    /* sequence 1 cannot be committed again; 2 needs its own approvals, read at version 4 */
    assert_int_equal(run(&t, a, "commit", d1, "org1", "admin", &r), 400);
    assert_int_equal(run(&t, a, "approve", d2, "org1", "admin", &r), 200);
    assert_non_null(r.rwset->ns_rwsets[0]->reads[0]->version);
    assert_int_equal(r.rwset->ns_rwsets[0]->reads[0]->version->block_number, 4);
    apply(&t, r.rwset, 5);
    assert_int_equal(run(&t, a, "approve", d2, "orderers", "admin", &r), 200);
    apply(&t, r.rwset, 6);
    assert_int_equal(run(&t, a, "commit", d2, "org1", "admin", &r), 200);
    /* an unknown function */
    assert_int_equal(run(&t, a, "delete", d2, "org1", "admin", &r), 400);
    free(d1.data);
    free(d1b.data);
    free(d2.data);
    table_free(&t);
    arena_destroy(a);
}

/* True when the readiness query (asked by a client of org1, not an admin) for `d` answers
 * `want` for the channel's organisations in order ("orderers=0 org1=1 org2=0"). */
static bool readiness_is(struct table *t, struct arena *a, ProtobufCBinaryData d, const char *want)
{
    struct lifecycle_result r;
    if (run(t, a, "readiness", d, "org1", "client", &r) != 200 || r.rwset)
        return false;
    Stele__CommitReadiness *cr = (Stele__CommitReadiness *)pb_unpack(
        &stele__commit_readiness__descriptor, NULL, r.payload.data, r.payload.len, 0);
    if (!cr)
        return false;
    char got[128] = "";
    for (size_t i = 0; i < cr->n_approvals; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s=%d", i ? " " : "",
                 cr->approvals[i]->org, cr->approvals[i]->approved);
    pb_free(&cr->base);
    if (strcmp(got, want) != 0)
        print_message("readiness: %s (want %s)\n", got, want);
    return strcmp(got, want) == 0;
}

/* An organisation that approves another definition for the same sequence withdraws its
 * approval of the first (as in Fabric): a definition it no longer wants cannot be committed on
 * the strength of its old approval. */
static void an_approval_replaces_the_one_before(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    struct table t = {0};
    struct lifecycle_result r;
    ProtobufCBinaryData da = def("asset", "1.0", 1, "OR(org1.peer)", 7);
    ProtobufCBinaryData db = def("asset", "1.1", 1, "OR(org1.peer)", 8);
    assert_int_equal(run(&t, a, "approve", da, "org1", "admin", &r), 200);
    apply(&t, r.rwset, 1);
    assert_int_equal(run(&t, a, "approve", db, "org1", "admin", &r), 200);
    apply(&t, r.rwset, 2);
    assert_int_equal(run(&t, a, "approve", da, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 3);
    /* org1 now wants db: da has org2's approval only, db org1's: neither is two of three */
    assert_true(readiness_is(&t, a, da, "orderers=0 org1=0 org2=1"));
    assert_true(readiness_is(&t, a, db, "orderers=0 org1=1 org2=0"));
    assert_int_equal(run(&t, a, "commit", da, "org2", "admin", &r), 400);
    assert_non_null(strstr(r.why, "half"));
    assert_int_equal(run(&t, a, "commit", db, "org1", "admin", &r), 400);
    /* org2 changes its mind too: db has both */
    assert_int_equal(run(&t, a, "approve", db, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 4);
    assert_int_equal(run(&t, a, "commit", da, "org2", "admin", &r), 400);
    assert_true(readiness_is(&t, a, db, "orderers=0 org1=1 org2=1"));
    assert_int_equal(run(&t, a, "commit", db, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 5);
    /* committed: readiness is for the next sequence only */
    assert_int_equal(run(&t, a, "readiness", db, "org1", "client", &r), 400);
    assert_non_null(strstr(r.why, "sequence"));
    free(da.data);
    free(db.data);
    table_free(&t);
    arena_destroy(a);
}

static void writes_are_compared(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    struct table t = {0};
    struct lifecycle_result r1, r2;
    ProtobufCBinaryData d1 = def("asset", "1.0", 1, "OR(org1.peer)", 7);
    ProtobufCBinaryData d2 = def("asset", "1.0", 1, "OR(org1.peer)", 9);
    assert_int_equal(run(&t, a, "approve", d1, "org1", "admin", &r1), 200);
    assert_int_equal(run(&t, a, "approve", d1, "org1", "admin", &r2), 200);
    assert_true(lifecycle_writes_equal(r1.rwset, r2.rwset));
    assert_int_equal(run(&t, a, "approve", d2, "org1", "admin", &r2), 200);
    assert_false(lifecycle_writes_equal(r1.rwset, r2.rwset));
    assert_int_equal(run(&t, a, "approve", d1, "org2", "admin", &r2), 200);
    assert_false(lifecycle_writes_equal(r1.rwset, r2.rwset));
    free(d1.data);
    free(d2.data);
    arena_destroy(a);
}

/* A CRL signed by `ca` with `number`, revoking one certificate hash of `byte`s. */
static ProtobufCBinaryData crl(const struct crypto_key *ca, uint64_t number, uint8_t byte)
{
    struct identity_revoked e = {.serial = 9, .id = "mallory", .revoked_at = 1, .reason = "lost"};
    memset(e.certhash, byte, 32);
    struct buf b;
    buf_init(&b);
    assert_int_equal(crl_issue(ca, 0x42, number, 1, 2, &e, 1, &b), STELE_OK);
    return (ProtobufCBinaryData){b.len, b.data};
}

static void crls_are_published(void **state)
{
    (void)state;
    struct crypto_key *ca = NULL, *stranger = NULL;
    assert_int_equal(crypto_key_generate(&ca), STELE_OK);
    assert_int_equal(crypto_key_generate(&stranger), STELE_OK);
    crypto_key_public_compressed(ca, org1_ca_pub);
    org1_ca.len = sizeof org1_ca_pub;
    struct arena *a = arena_create(0);
    struct table t = {0};
    struct lifecycle_result r;
    ProtobufCBinaryData c1 = crl(ca, 1, 0xaa), c2 = crl(ca, 2, 0xbb), other = crl(stranger, 5, 1);

    /* only admins of channel organisations; only CAs of the channel; only well-formed CRLs */
    assert_int_equal(run(&t, a, "crl", c1, "org1", "client", &r), 400);
    assert_non_null(strstr(r.why, "admin"));
    assert_int_equal(run(&t, a, "crl", c1, "elsewhere", "admin", &r), 400);
    assert_int_equal(run(&t, a, "crl", other, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "not signed by a CA of a channel organisation"));
    uint8_t junk[] = {0x0a, 0x03, 1, 2, 3, 0x12, 0x01, 0};
    assert_int_equal(
        run(&t, a, "crl", (ProtobufCBinaryData){sizeof junk, junk}, "org1", "admin", &r), 400);
    ProtobufCBinaryData tampered = {c1.len, malloc(c1.len)};
    memcpy(tampered.data, c1.data, c1.len);
    tampered.data[c1.len / 2] ^= 1;
    assert_int_equal(run(&t, a, "crl", tampered, "org1", "admin", &r), 400);

    /* an admin of any channel organisation publishes; it writes crl/<hex CA key> */
    assert_int_equal(run(&t, a, "crl", c1, "org2", "admin", &r), 200);
    const Stele__NsRwSet *ns = r.rwset->ns_rwsets[0];
    assert_string_equal(ns->namespace_, LIFECYCLE_NS);
    char *key = lifecycle_crl_key(a, org1_ca_pub, sizeof org1_ca_pub);
    assert_string_equal(ns->writes[0]->key, key);
    assert_string_equal(ns->reads[0]->key, key);
    assert_null(ns->reads[0]->version);
    assert_int_equal(ns->writes[0]->value.len, c1.len);
    assert_memory_equal(ns->writes[0]->value.data, c1.data, c1.len);
    apply(&t, r.rwset, 3);

    /* then only a newer one */
    assert_int_equal(run(&t, a, "crl", c1, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "greater"));
    assert_int_equal(run(&t, a, "crl", c2, "org1", "admin", &r), 200);
    assert_int_equal(r.rwset->ns_rwsets[0]->reads[0]->version->block_number, 3);

    org1_ca.len = 0;
    free(c1.data);
    free(c2.data);
    free(other.data);
    free(tampered.data);
    table_free(&t);
    arena_destroy(a);
    crypto_key_destroy(ca);
    crypto_key_destroy(stranger);
}

/* The readiness answer's verdict for `d`: 1 ready, 0 not, -1 no answer. */
static int ready(struct table *t, struct arena *a, ProtobufCBinaryData d)
{
    struct lifecycle_result r;
    if (run(t, a, "readiness", d, "org1", "client", &r) != 200)
        return -1;
    Stele__CommitReadiness *cr = (Stele__CommitReadiness *)pb_unpack(
        &stele__commit_readiness__descriptor, NULL, r.payload.data, r.payload.len, 0);
    if (!cr)
        return -1;
    int v = cr->ready;
    assert_string_equal(cr->policy, lc_version && lc_policy ? lc_policy : "MAJORITY Admins");
    pb_free(&cr->base);
    return v;
}

/* The channel's lifecycle_policy, not a fixed majority, says whose approvals commit a
 * definition: with AND(org1.admin, org2.admin), orderers and org1 (two of three, a majority)
 * do not; with org2 too they do. ANY and ALL Admins as in Fabric. */
static void the_lifecycle_policy_decides_who_commits(void **state)
{
    (void)state;
    struct arena *a = arena_create(0);
    struct table t = {0};
    struct lifecycle_result r;
    ProtobufCBinaryData d1 = def("asset", "1.0", 1, "OR(org1.peer)", 7);
    lc_policy = "AND(org1.admin, org2.admin)";
    assert_int_equal(run(&t, a, "approve", d1, "orderers", "admin", &r), 200);
    apply(&t, r.rwset, 1);
    assert_int_equal(run(&t, a, "approve", d1, "org1", "admin", &r), 200);
    apply(&t, r.rwset, 2);
    assert_int_equal(ready(&t, a, d1), 0);
    assert_int_equal(run(&t, a, "commit", d1, "org1", "admin", &r), 400);
    assert_non_null(strstr(r.why, "(2 of 3) do not satisfy the channel's lifecycle policy "
                                  "AND(org1.admin, org2.admin)"));
    /* a channel created before lifecycle_version 1 keeps the rule its blocks were validated
     * by, a majority, whatever its lifecycle_policy says (new and old peers agree) */
    lc_version = 0;
    assert_int_equal(ready(&t, a, d1), 1);
    assert_int_equal(run(&t, a, "commit", d1, "org1", "admin", &r), 200);
    lc_version = 1;
    lc_policy = "ALL Admins";
    assert_int_equal(ready(&t, a, d1), 0);
    assert_int_equal(run(&t, a, "commit", d1, "org1", "admin", &r), 400);
    lc_policy = NULL; /* the default: a majority */
    assert_int_equal(ready(&t, a, d1), 1);
    lc_policy = "AND(org1.admin, org2.admin)";
    assert_int_equal(run(&t, a, "approve", d1, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 3);
    assert_int_equal(ready(&t, a, d1), 1);
    assert_int_equal(run(&t, a, "commit", d1, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 4);

    /* sequence 2 with one approval: ANY Admins commits it, MAJORITY does not */
    ProtobufCBinaryData d2 = def("asset", "2.0", 2, "OR(org1.peer)", 8);
    assert_int_equal(run(&t, a, "approve", d2, "org2", "admin", &r), 200);
    apply(&t, r.rwset, 5);
    lc_policy = "MAJORITY Admins";
    assert_int_equal(run(&t, a, "commit", d2, "org2", "admin", &r), 400);
    assert_non_null(strstr(r.why, "more than half"));
    lc_policy = "ANY Admins";
    assert_int_equal(run(&t, a, "commit", d2, "org2", "admin", &r), 200);

    /* what genesis_check() lets through */
    char why[256];
    const struct {
        const char *policy;
        int rc;
        const char *why;
    } cases[] = {
        {"MAJORITY Admins", STELE_OK, ""},
        {"ALL Admins", STELE_OK, ""},
        {"OutOf(2, orderers.admin, org1.admin, org2.admin)", STELE_OK, ""},
        {"SOME Admins", STELE_ERR_MALFORMED, "neither MAJORITY Admins"},
        {"AND(org1.admin, org9.admin)", STELE_ERR_NOT_FOUND, "\"org9\""},
        {"AND(org1.peer, org2.admin)", STELE_ERR_PERMISSION, "ORG.admin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lc_policy = cases[i].policy;
        why[0] = 0;
        assert_int_equal(lifecycle_commit_policy_check(channel(), why, sizeof why), cases[i].rc);
        assert_non_null(strstr(why, cases[i].why));
    }
    lc_version = 0; /* not read, so not checked: a stored older channel opens as before */
    lc_policy = "SOME Admins";
    assert_int_equal(lifecycle_commit_policy_check(channel(), why, sizeof why), STELE_OK);
    lc_version = 1;
    lc_policy = NULL;
    free(d1.data);
    free(d2.data);
    table_free(&t);
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(definitions_are_checked),
        cmocka_unit_test(approve_and_commit),
        cmocka_unit_test(an_approval_replaces_the_one_before),
        cmocka_unit_test(writes_are_compared),
        cmocka_unit_test(crls_are_published),
        cmocka_unit_test(the_lifecycle_policy_decides_who_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
