/*
 * fuzz_crl.c — arbitrary bytes as the argument of `_lifecycle crl` (lib/ledger/lifecycle.h),
 * which endorsers run and validators re-run on every CRL a channel admin puts on the ledger.
 *
 * An input is one octet and the argument: bit 0 of the octet makes the creator a client
 * instead of an admin, bit 1 an organisation the channel does not have. The channel has one
 * organisation, org1, whose CA key is fixed (its scalar is 1..32), so the seeds are CRLs that
 * key signed. The decision must be the one lifecycle.h describes, recomputed here: 200 only for
 * an admin of org1 and an argument that decodes as a Crl whose body decodes, names 32-octet
 * certificate hashes only and verifies under the CA key; then the read/write set is one read
 * and one write of crl/<hex of the key> holding exactly the argument, and the same argument
 * once more, with that write applied, is refused (its number is not greater).
 *
 * Seeds: STELE_WRITE_CRL_SEEDS=DIR makes the first call write the seeds of corpus/crl to DIR
 * and exit.
 */
#include "fuzz_seed.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/lifecycle.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <stdlib.h>
#include <string.h>

static struct crypto_key *ca;
static uint8_t ca_pub[33];

static void init(void)
{
    uint8_t d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (uint8_t)(i + 1);
    if (crypto_key_from_scalar(d, &ca) != STELE_OK)
        abort();
    crypto_key_public_compressed(ca, ca_pub);
}

static const Stele__ChannelConfig *channel(void)
{
    static ProtobufCBinaryData key;
    static Stele__OrganisationConfig o;
    static Stele__OrganisationConfig *op[1];
    static Stele__ChannelConfig c;
    stele__organisation_config__init(&o);
    key = (ProtobufCBinaryData){sizeof ca_pub, ca_pub};
    o.name = "org1";
    o.ca_public_keys = &key;
    o.n_ca_public_keys = 1;
    op[0] = &o;
    stele__channel_config__init(&c);
    c.channel_id = "stele";
    c.organisations = op;
    c.n_organisations = 1;
    return &c;
}

/* The one key the state holds, if any. */
struct state {
    char *key;
    ProtobufCBinaryData value;
};

static int s_get(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                 bool *found, Stele__Version **version)
{
    struct state *s = ctx;
    *found = s->key && strcmp(s->key, key) == 0;
    *version = NULL;
    if (*found) {
        *value = s->value;
        Stele__Version *v = arena_alloc(a, sizeof *v);
        if (!v)
            return STELE_ERR_NOMEM;
        stele__version__init(v);
        v->block_number = 1;
        *version = v;
    }
    return STELE_OK;
}

static int s_current(void *ctx, const char *key, struct arena *a, ProtobufCBinaryData *value,
                     bool *found)
{
    Stele__Version *v;
    return s_get(ctx, key, a, value, found, &v);
}

/* Whether `arg` is a CRL the rule must accept from an admin of org1 on an empty state. */
static bool acceptable(struct arena *a, ProtobufCBinaryData arg)
{
    if (!arg.len || arg.len > IDENTITY_CRL_MAX_LEN)
        return false;
    const Stele__Crl *c =
        (const Stele__Crl *)pb_unpack(&stele__crl__descriptor, a, arg.data, arg.len, 0);
    if (!c || !c->body.len)
        return false;
    const Stele__CrlBody *b = (const Stele__CrlBody *)pb_unpack(&stele__crl_body__descriptor, a,
                                                                c->body.data, c->body.len, 0);
    if (!b)
        return false;
    for (size_t i = 0; i < b->n_entries; i++)
        if (b->entries[i]->certhash.len != 32)
            return false;
    return identity_verify_domain(ca, IDENTITY_DOMAIN_CRL, c->body.data, c->body.len,
                                  c->signature.data, c->signature.len) == STELE_OK;
}

static void write_seeds(const char *dir)
{
    struct identity_revoked e[3] = {
        {.serial = 7, .id = "booth1", .revoked_at = 1700000000, .reason = "booth lost"},
        {.serial = 8, .id = "juror2", .revoked_at = 1700000001, .reason = "superseded"},
        {.serial = 9, .id = "sensor3", .revoked_at = 1700000002, .reason = ""},
    };
    for (int i = 0; i < 3; i++)
        memset(e[i].certhash, 0x11 * (i + 1), 32);
    const char *names[3] = {"empty", "one", "three"};
    size_t counts[3] = {0, 1, 3};
    for (int k = 0; k < 3; k++) {
        struct buf b;
        buf_init(&b);
        uint8_t hdr = 0;
        if (buf_append(&b, &hdr, 1) != STELE_OK ||
            crl_issue(ca, 0x42, (uint64_t)k + 1, 1700000000, 1700086400, e, counts[k], &b) !=
                STELE_OK)
            abort();
        fuzz_write_seed(dir, names[k], &b);
        buf_release(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        const char *dir = getenv("STELE_WRITE_CRL_SEEDS");
        if (dir) {
            write_seeds(dir);
            exit(0);
        }
        ready = true;
    }
    if (size < 1)
        return 0;
    bool admin = !(data[0] & 1), member = !(data[0] & 2);
    /* an empty argument has no data pointer, as protobuf-c decodes an empty bytes field */
    ProtobufCBinaryData arg = {size - 1, size > 1 ? (uint8_t *)data + 1 : NULL};
    struct arena *a = arena_create(0);
    if (!a)
        abort();
    struct state s = {0};
    struct lifecycle_state st = {s_get, s_current, &s, .endorsing = true};
    struct lifecycle_result r;
    int rc = lifecycle_execute(a, channel(), "crl", &arg, 1, member ? "org1" : "org9",
                               admin ? "admin" : "client", &st, &r);
    if (rc != STELE_OK)
        abort();
    int want = admin && member && acceptable(a, arg) ? 200 : 400;
    if (r.status != want || (want == 400 && (r.rwset || !r.why || !r.why[0])))
        abort();
    if (want == 200) {
        const char *key = lifecycle_crl_key(a, ca_pub, sizeof ca_pub);
        const Stele__TxRwSet *rw = r.rwset;
        if (!key || !rw || rw->n_ns_rwsets != 1)
            abort();
        const Stele__NsRwSet *ns = rw->ns_rwsets[0];
        if (strcmp(ns->namespace_, LIFECYCLE_NS) != 0 || ns->n_reads != 1 || ns->n_writes != 1 ||
            strcmp(ns->reads[0]->key, key) != 0 || ns->reads[0]->version ||
            strcmp(ns->writes[0]->key, key) != 0 || ns->writes[0]->is_delete ||
            ns->writes[0]->value.len != arg.len ||
            memcmp(ns->writes[0]->value.data, arg.data, arg.len) != 0)
            abort();
        s.key = (char *)key;
        s.value = ns->writes[0]->value;
        struct lifecycle_result again;
        if (lifecycle_execute(a, channel(), "crl", &arg, 1, "org1", "admin", &st, &again) !=
                STELE_OK ||
            again.status != 400 || again.rwset)
            abort();
    }
    arena_destroy(a);
    return 0;
}
