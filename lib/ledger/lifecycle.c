/*
 * lifecycle.c — the `_lifecycle` rules (lifecycle.h).
 */
#include "ledger/lifecycle.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/genesis.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "policy/policy.h"
#include "stele/identity.pb-c.h"
#include "stele/lifecycle.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool channel_org(const Stele__ChannelConfig *cfg, const char *org)
{
    for (size_t i = 0; org && i < cfg->n_organisations; i++)
        if (strcmp(cfg->organisations[i]->name, org) == 0)
            return true;
    return false;
}

int lifecycle_policy_check(const Stele__ChannelConfig *cfg, const char *policy, char *unknown,
                           size_t len)
{
    struct policy *p = NULL;
    int rc = policy_parse(policy, strlen(policy), &p, NULL);
    if (rc)
        return rc == STELE_ERR_NOMEM ? rc : STELE_ERR_MALFORMED;
    const char *orgs[POLICY_MAX_PRINCIPALS];
    size_t n = policy_orgs(p, orgs, POLICY_MAX_PRINCIPALS);
    if (n > POLICY_MAX_PRINCIPALS) /* cannot be: a policy has at most that many principals */
        n = POLICY_MAX_PRINCIPALS;
    for (size_t i = 0; i < n && rc == STELE_OK; i++)
        if (!channel_org(cfg, orgs[i])) {
            snprintf(unknown, len, "%s", orgs[i]);
            rc = STELE_ERR_NOT_FOUND;
        }
    policy_destroy(p);
    return rc;
}

const char *lifecycle_commit_policy(const Stele__ChannelConfig *cfg)
{
    return cfg->lifecycle_version >= 1 && cfg->lifecycle_policy && cfg->lifecycle_policy[0]
               ? cfg->lifecycle_policy
               : GENESIS_DEFAULT_LIFECYCLE_POLICY;
}

int lifecycle_commit_allowed(const Stele__ChannelConfig *cfg, const bool *approved, bool *ok)
{
    const char *t = lifecycle_commit_policy(cfg);
    size_t n = cfg->n_organisations, yes = 0;
    for (size_t i = 0; i < n; i++)
        yes += approved[i];
    *ok = false;
    if (strcmp(t, "MAJORITY Admins") == 0)
        *ok = 2 * yes > n;
    else if (strcmp(t, "ANY Admins") == 0)
        *ok = yes > 0;
    else if (strcmp(t, "ALL Admins") == 0)
        *ok = n > 0 && yes == n;
    else {
        struct policy *p = NULL;
        int rc = policy_parse(t, strlen(t), &p, NULL);
        if (rc)
            return rc == STELE_ERR_NOMEM ? rc : STELE_ERR_MALFORMED;
        struct policy_signer *signers = calloc(n ? n : 1, sizeof *signers);
        size_t *ids = calloc(n ? n : 1, sizeof *ids);
        size_t k = 0;
        for (size_t i = 0; signers && ids && i < n; i++)
            if (approved[i]) {
                ids[k] = i; /* each organisation one signer */
                signers[k] = (struct policy_signer){cfg->organisations[i]->name, "admin",
                                                    (const uint8_t *)&ids[k], sizeof ids[k]};
                k++;
            }
        if (signers && ids)
            *ok = policy_satisfied(p, signers, k); /* LIMIT fails closed */
        else
            rc = STELE_ERR_NOMEM;
        free(signers);
        free(ids);
        policy_destroy(p);
        return rc;
    }
    return STELE_OK;
}

int lifecycle_commit_policy_check(const Stele__ChannelConfig *cfg, char *why, size_t len)
{
    if (cfg->lifecycle_version < 1)
        return STELE_OK; /* the policy is not read: a stored older channel opens as before */
    const char *t = cfg->lifecycle_policy ? cfg->lifecycle_policy : "";
    char unknown[POLICY_MAX_NAME + 1];
    if (!t[0] || strcmp(t, "MAJORITY Admins") == 0 || strcmp(t, "ANY Admins") == 0 ||
        strcmp(t, "ALL Admins") == 0)
        return STELE_OK;
    int rc = lifecycle_policy_check(cfg, t, unknown, sizeof unknown);
    if (rc == STELE_ERR_MALFORMED)
        snprintf(why, len,
                 "is neither MAJORITY Admins, ANY Admins, ALL Admins nor a policy such as "
                 "AND(org1.admin, org2.admin)");
    else if (rc == STELE_ERR_NOT_FOUND)
        snprintf(why, len, "names organisation \"%s\", which is not one of the channel's", unknown);
    if (rc)
        return rc;
    bool *all = calloc(cfg->n_organisations ? cfg->n_organisations : 1, sizeof *all);
    if (!all)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < cfg->n_organisations; i++)
        all[i] = true;
    bool ok = false;
    rc = lifecycle_commit_allowed(cfg, all, &ok);
    free(all);
    if (rc == STELE_OK && !ok) {
        snprintf(why, len,
                 "cannot be satisfied even when every organisation's admins approve (its "
                 "principals must be ORG.admin)");
        rc = STELE_ERR_PERMISSION;
    }
    return rc;
}

bool lifecycle_version_ok(const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
            return false;
    return n > 0 && n <= LIFECYCLE_MAX_VERSION;
}

int lifecycle_definition_open(struct arena *a, const uint8_t *data, size_t len,
                              struct lifecycle_def *out, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    const Stele__ChaincodeDefinition *d = (const Stele__ChaincodeDefinition *)pb_unpack(
        &stele__chaincode_definition__descriptor, a, data, len, 64 * 1024);
    if (!d) {
        *why = "the definition does not decode";
        return STELE_ERR_MALFORMED;
    }
    if (d->base.n_unknown_fields) { /* the canonical bytes must be what the fields say */
        *why = "the definition has fields this peer does not know";
        return STELE_ERR_MALFORMED;
    }
    if (!tx_chaincode_name_ok(d->name) || d->name[0] == '_') {
        *why = "the definition's name is not a chaincode name (1..64 of [A-Za-z0-9_.-], not "
               "starting with '_')";
        return STELE_ERR_MALFORMED;
    }
    if (!lifecycle_version_ok(d->version)) {
        *why = "the definition's version is not 1..64 printable characters without spaces";
        return STELE_ERR_MALFORMED;
    }
    if (d->sequence == 0) {
        *why = "the definition's sequence is 0 (the first is 1)";
        return STELE_ERR_MALFORMED;
    }
    if (d->package_hash.len != 32) {
        *why = "the definition's package hash is not 32 octets";
        return STELE_ERR_MALFORMED;
    }
    /* as genesis_check() has the definitions of block 0: `stele chaincode list` prints the
     * policy, and a carriage return or an escape there would show another policy than the
     * one in force */
    size_t pl = strlen(d->endorsement_policy);
    bool plain = pl <= GENESIS_MAX_POLICY;
    for (size_t i = 0; plain && i < pl; i++)
        plain = (unsigned char)d->endorsement_policy[i] >= 0x20 && d->endorsement_policy[i] != 0x7f;
    if (!plain) {
        *why = "the definition's endorsement policy has control characters or is longer than "
               "4096 octets";
        return STELE_ERR_MALFORMED;
    }
    struct policy *p = NULL;
    int rc = policy_parse(d->endorsement_policy, pl, &p, NULL);
    policy_destroy(p);
    if (rc == STELE_ERR_NOMEM)
        return rc;
    if (rc) {
        *why = "the definition's endorsement policy does not parse";
        return STELE_ERR_MALFORMED;
    }
    size_t clen = protobuf_c_message_get_packed_size(&d->base);
    uint8_t *c = arena_alloc(a, clen ? clen : 1);
    if (!c)
        return STELE_ERR_NOMEM;
    protobuf_c_message_pack(&d->base, c);
    out->def = d;
    out->canonical = (ProtobufCBinaryData){clen, c};
    return crypto_sha256(c, clen, out->hash);
}

char *lifecycle_definition_key(struct arena *a, const char *name)
{
    return arena_printf(a, "%s%s", LIFECYCLE_DEFINITION_PFX, name);
}

char *lifecycle_approval_key(struct arena *a, const char *name, uint64_t seq, const char *org)
{
    return arena_printf(a, "%s%s/%" PRIu64 "/%s", LIFECYCLE_APPROVAL_PFX, name, seq, org);
}

static void refuse(struct lifecycle_result *out, int status, const char *why)
{
    out->status = status;
    out->why = why;
}

/* One namespace, one read (of `rkey` at `rver`, NULL: absent) and one write. */
static int one_rwset(struct arena *a, const char *rkey, Stele__Version *rver, const char *wkey,
                     ProtobufCBinaryData value, Stele__TxRwSet **out)
{
    Stele__TxRwSet *rw = arena_alloc(a, sizeof *rw);
    Stele__NsRwSet *ns = arena_alloc(a, sizeof *ns);
    Stele__NsRwSet **nss = arena_alloc(a, sizeof *nss);
    Stele__KVRead *r = arena_alloc(a, sizeof *r);
    Stele__KVRead **rs = arena_alloc(a, sizeof *rs);
    Stele__KVWrite *w = arena_alloc(a, sizeof *w);
    Stele__KVWrite **ws = arena_alloc(a, sizeof *ws);
    if (!rw || !ns || !nss || !r || !rs || !w || !ws)
        return STELE_ERR_NOMEM;
    stele__tx_rw_set__init(rw);
    stele__ns_rw_set__init(ns);
    stele__kvread__init(r);
    stele__kvwrite__init(w);
    r->key = (char *)rkey;
    r->version = rver;
    w->key = (char *)wkey;
    w->value = value;
    ns->namespace_ = (char *)LIFECYCLE_NS;
    rs[0] = r;
    ws[0] = w;
    ns->n_reads = 1;
    ns->reads = rs;
    ns->n_writes = 1;
    ns->writes = ws;
    nss[0] = ns;
    rw->n_ns_rwsets = 1;
    rw->ns_rwsets = nss;
    *out = rw;
    return STELE_OK;
}

/* The committed sequence of `name` (0 when none), with the read's version. */
static int committed(struct arena *a, const struct lifecycle_state *st, const char *dkey,
                     uint64_t *seq, Stele__Version **ver, ProtobufCBinaryData *bytes)
{
    bool found = false;
    ProtobufCBinaryData v = {0};
    *ver = NULL;
    *seq = 0;
    int rc = st->get(st->ctx, dkey, a, &v, &found, ver);
    if (rc || !found)
        return rc;
    const Stele__ChaincodeDefinition *d = (const Stele__ChaincodeDefinition *)pb_unpack(
        &stele__chaincode_definition__descriptor, a, v.data, v.len, 0);
    if (!d)
        return STELE_ERR_MALFORMED;
    *seq = d->sequence;
    if (bytes)
        *bytes = v;
    return STELE_OK;
}

/* The CRL in `data` (a serialized stele.Crl), checked: it decodes, every entry names a
 * 32-octet certificate hash, and it is signed by a CA key of a channel organisation (`*ca`
 * gets that key, SEC 1 compressed, in the channel configuration). Returns the body, or NULL
 * with *why (a refusal) or with *rc set (STELE_ERR_NOMEM, STELE_ERR_CRYPTO: this validator
 * could not tell, and must not decide otherwise than the others). */
static const Stele__CrlBody *open_crl(struct arena *a, const Stele__ChannelConfig *cfg,
                                      ProtobufCBinaryData data, ProtobufCBinaryData *ca,
                                      const char **why, int *rc)
{
    *rc = STELE_OK;
    const Stele__Crl *c =
        data.len ? (const Stele__Crl *)pb_unpack(&stele__crl__descriptor, a, data.data, data.len, 0)
                 : NULL;
    const Stele__CrlBody *b =
        c && c->body.len ? (const Stele__CrlBody *)pb_unpack(&stele__crl_body__descriptor, a,
                                                             c->body.data, c->body.len, 0)
                         : NULL;
    if (!b) {
        *why = "the CRL does not decode (give the file `stele-ca crl --out` writes)";
        return NULL;
    }
    for (size_t i = 0; i < b->n_entries; i++)
        if (b->entries[i]->certhash.len != 32) {
            *why = "a CRL entry does not name a 32-octet certificate hash";
            return NULL;
        }
    for (size_t o = 0; o < cfg->n_organisations; o++)
        for (size_t k = 0; k < cfg->organisations[o]->n_ca_public_keys; k++) {
            ProtobufCBinaryData key = cfg->organisations[o]->ca_public_keys[k];
            struct crypto_key *pub = NULL;
            int v = crypto_key_from_public(key.data, key.len, &pub);
            if (v == STELE_OK)
                v = identity_verify_domain(pub, IDENTITY_DOMAIN_CRL, c->body.data, c->body.len,
                                           c->signature.data, c->signature.len);
            crypto_key_destroy(pub);
            if (v == STELE_OK) {
                *ca = key;
                return b;
            }
            if (v != STELE_ERR_AUTH && v != STELE_ERR_MALFORMED) {
                *rc = v;
                return NULL;
            }
        }
    *why = "the CRL is not signed by a CA of a channel organisation";
    return NULL;
}

char *lifecycle_crl_key(struct arena *a, const uint8_t *ca_key, size_t len)
{
    char *hx = arena_alloc(a, 2 * len + 1);
    if (!hx)
        return NULL;
    hex_encode(ca_key, len, hx);
    return arena_printf(a, "%s%s", LIFECYCLE_CRL_PFX, hx);
}

/* crl SIGNED_CRL: see lifecycle.h. */
static int publish_crl(struct arena *a, const Stele__ChannelConfig *cfg,
                       const ProtobufCBinaryData *args, size_t n_args,
                       const struct lifecycle_state *st, struct lifecycle_result *out)
{
    if (n_args != 1 || args[0].len > IDENTITY_CRL_MAX_LEN)
        return refuse(out, 400, "usage: crl SIGNED_CRL"), STELE_OK;
    const char *why = NULL;
    ProtobufCBinaryData ca = {0};
    int rc;
    const Stele__CrlBody *b = open_crl(a, cfg, args[0], &ca, &why, &rc);
    if (rc)
        return rc;
    if (!b)
        return refuse(out, 400, why), STELE_OK;
    char *key = lifecycle_crl_key(a, ca.data, ca.len);
    if (!key)
        return STELE_ERR_NOMEM;
    bool found = false;
    ProtobufCBinaryData old = {0};
    Stele__Version *ver = NULL;
    if ((rc = st->get(st->ctx, key, a, &old, &found, &ver)))
        return rc;
    if (found) {
        ProtobufCBinaryData same = {0};
        const Stele__CrlBody *ob = open_crl(a, cfg, old, &same, &why, &rc);
        if (rc)
            return rc;
        if (!ob)
            return STELE_ERR_MALFORMED; /* only this rule writes there */
        if (b->number <= ob->number)
            return refuse(out, 400,
                          "the ledger already holds a CRL of this CA with this number or a "
                          "greater one"),
                   STELE_OK;
    }
    uint8_t *copy = arena_memdup(a, args[0].data, args[0].len);
    if (!copy)
        return STELE_ERR_NOMEM;
    out->status = 200;
    return one_rwset(a, key, ver, key, (ProtobufCBinaryData){args[0].len, copy}, &out->rwset);
}

/* The answer of `readiness`: a CommitReadiness naming each channel organisation and whether
 * approved[i] (its latest approval is the definition asked about). */
static int readiness_answer(struct arena *a, const Stele__ChannelConfig *cfg, const bool *approved,
                            bool ready, struct lifecycle_result *out)
{
    size_t n = cfg->n_organisations;
    Stele__CommitReadiness r = STELE__COMMIT_READINESS__INIT;
    Stele__OrgApproval *each = arena_calloc(a, n ? n : 1, sizeof *each);
    Stele__OrgApproval **ptrs = arena_calloc(a, n ? n : 1, sizeof *ptrs);
    if (!each || !ptrs)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        stele__org_approval__init(&each[i]);
        each[i].org = cfg->organisations[i]->name;
        each[i].approved = approved[i];
        ptrs[i] = &each[i];
    }
    r.n_approvals = n;
    r.approvals = ptrs;
    r.ready = ready;
    r.policy = (char *)lifecycle_commit_policy(cfg);
    size_t len = protobuf_c_message_get_packed_size(&r.base);
    uint8_t *bytes = arena_alloc(a, len ? len : 1);
    if (!bytes)
        return STELE_ERR_NOMEM;
    protobuf_c_message_pack(&r.base, bytes);
    out->status = 200;
    out->payload = (ProtobufCBinaryData){len, bytes};
    return STELE_OK;
}

int lifecycle_execute(struct arena *a, const Stele__ChannelConfig *cfg, const char *function,
                      const ProtobufCBinaryData *args, size_t n_args, const char *org,
                      const char *role, const struct lifecycle_state *st,
                      struct lifecycle_result *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(function, "crl") == 0) {
        if (!role || strcmp(role, "admin") != 0 || !channel_org(cfg, org))
            return refuse(out, 400, "only an admin of a channel organisation may publish a CRL"),
                   STELE_OK;
        return publish_crl(a, cfg, args, n_args, st, out);
    }
    bool approve = strcmp(function, "approve") == 0, commit = strcmp(function, "commit") == 0;
    if (strcmp(function, "definition") == 0) {
        /* an empty argument may have no data pointer at all (protobuf-c) */
        if (n_args != 1 || args[0].len == 0 || args[0].len > TX_MAX_NAME_LEN)
            return refuse(out, 400, "usage: definition NAME"), STELE_OK;
        char *name = arena_strndup(a, (const char *)args[0].data, args[0].len);
        if (!name)
            return STELE_ERR_NOMEM;
        if (strlen(name) != args[0].len || !tx_chaincode_name_ok(name))
            return refuse(out, 400, "usage: definition NAME"), STELE_OK;
        char *dkey = lifecycle_definition_key(a, name);
        if (!dkey)
            return STELE_ERR_NOMEM;
        uint64_t seq;
        Stele__Version *ver;
        ProtobufCBinaryData bytes = {0};
        int rc = committed(a, st, dkey, &seq, &ver, &bytes);
        if (rc)
            return rc;
        if (!seq)
            return refuse(out, 404, "no committed definition of that chaincode"), STELE_OK;
        out->status = 200;
        out->payload = bytes;
        return STELE_OK;
    }
    bool readiness = strcmp(function, "readiness") == 0;
    if (!approve && !commit && !readiness)
        return refuse(out, 400,
                      "unknown _lifecycle function (approve, commit, definition, readiness, crl)"),
               STELE_OK;
    if (!readiness && (!role || strcmp(role, "admin") != 0 || !channel_org(cfg, org)))
        return refuse(out, 400,
                      "only an admin of a channel organisation may approve or "
                      "commit a chaincode definition"),
               STELE_OK;
    if (n_args != 1)
        return refuse(out, 400, "usage: approve|commit|readiness DEFINITION"), STELE_OK;
    struct lifecycle_def ld;
    const char *why = NULL;
    int rc = lifecycle_definition_open(a, args[0].data, args[0].len, &ld, &why);
    if (rc == STELE_ERR_MALFORMED)
        return refuse(out, 400, why), STELE_OK;
    if (rc)
        return rc;
    char *dkey = lifecycle_definition_key(a, ld.def->name);
    if (!dkey)
        return STELE_ERR_NOMEM;
    uint64_t seq;
    Stele__Version *ver;
    if ((rc = committed(a, st, dkey, &seq, &ver, NULL)))
        return rc;
    if (ld.def->sequence != seq + 1) {
        /* from the committed state, which every peer reads alike: endorsements agree */
        char *msg =
            seq ? arena_printf(a,
                               "sequence %llu given; the committed sequence is %llu, so the next "
                               "definition is sequence %llu",
                               (unsigned long long)ld.def->sequence, (unsigned long long)seq,
                               (unsigned long long)seq + 1)
                : arena_printf(a,
                               "sequence %llu given; no definition of %s is committed, so the "
                               "first is sequence 1",
                               (unsigned long long)ld.def->sequence, ld.def->name);
        if (!msg)
            return STELE_ERR_NOMEM;
        return refuse(out, 400, msg), STELE_OK;
    }
    char unknown[TX_MAX_NAME_LEN + 1];
    if (st->endorsing &&
        (rc = lifecycle_policy_check(cfg, ld.def->endorsement_policy, unknown, sizeof unknown))) {
        if (rc != STELE_ERR_NOT_FOUND)
            return rc; /* it parsed when the definition was opened: out of memory */
        const char *msg = arena_printf(a,
                                       "the definition's endorsement policy names organisation "
                                       "\"%s\", which is not one of the channel's",
                                       unknown);
        return refuse(out, 400, msg ? msg : "the policy names an unknown organisation"), STELE_OK;
    }
    char *hx = arena_alloc(a, 2 * sizeof ld.hash + 1);
    if (!hx)
        return STELE_ERR_NOMEM;
    hex_encode(ld.hash, sizeof ld.hash, hx);
    if (approve) {
        char *akey = lifecycle_approval_key(a, ld.def->name, ld.def->sequence, org);
        if (!akey)
            return STELE_ERR_NOMEM;
        out->status = 200;
        return one_rwset(a, dkey, ver, akey,
                         (ProtobufCBinaryData){2 * sizeof ld.hash, (uint8_t *)hx}, &out->rwset);
    }
    size_t approvals = 0;
    bool *approved = arena_calloc(a, cfg->n_organisations ? cfg->n_organisations : 1, 1);
    if (!approved)
        return STELE_ERR_NOMEM;
    for (size_t i = 0; i < cfg->n_organisations; i++) {
        char *akey =
            lifecycle_approval_key(a, ld.def->name, ld.def->sequence, cfg->organisations[i]->name);
        ProtobufCBinaryData v = {0};
        bool found = false;
        if (!akey)
            return STELE_ERR_NOMEM;
        if ((rc = st->current(st->ctx, akey, a, &v, &found)))
            return rc;
        /* the organisation's latest approval for the sequence is this definition */
        approved[i] = found && v.len == 2 * sizeof ld.hash && memcmp(v.data, hx, v.len) == 0;
        approvals += approved[i];
    }
    bool ok = false;
    rc = lifecycle_commit_allowed(cfg, approved, &ok);
    if (rc == STELE_ERR_MALFORMED)
        return refuse(out, 400, "the channel's lifecycle policy does not parse"), STELE_OK;
    if (rc)
        return rc;
    if (readiness)
        return readiness_answer(a, cfg, approved, ok, out);
    if (!ok) {
        const char *pol = lifecycle_commit_policy(cfg);
        const char *msg =
            strcmp(pol, "MAJORITY Admins") != 0
                ? arena_printf(a,
                               "the organisations whose admins approved this definition (%zu of "
                               "%zu) do not satisfy the channel's lifecycle policy %s",
                               approvals, cfg->n_organisations, pol)
                : NULL;
        return refuse(out, 400,
                      msg ? msg
                          : "admins of more than half of the channel's organisations have "
                            "not approved this definition"),
               STELE_OK;
    }
    out->status = 200;
    return one_rwset(a, dkey, ver, dkey, ld.canonical, &out->rwset);
}

bool lifecycle_writes_equal(const Stele__TxRwSet *got, const Stele__TxRwSet *want)
{
    if (got->n_ns_rwsets != want->n_ns_rwsets)
        return false;
    for (size_t n = 0; n < got->n_ns_rwsets; n++) {
        const Stele__NsRwSet *g = got->ns_rwsets[n], *w = want->ns_rwsets[n];
        if (strcmp(g->namespace_, w->namespace_) != 0 || g->n_writes != w->n_writes)
            return false;
        for (size_t i = 0; i < g->n_writes; i++) {
            const Stele__KVWrite *x = g->writes[i], *y = w->writes[i];
            if (strcmp(x->key, y->key) != 0 || x->is_delete != y->is_delete ||
                x->value.len != y->value.len ||
                (x->value.len && memcmp(x->value.data, y->value.data, x->value.len) != 0))
                return false;
        }
    }
    return true;
}

int lifecycle_statedb_get(struct statedb *db, const char *key, struct arena *a,
                          ProtobufCBinaryData *value, bool *found, Stele__Version **version)
{
    return lifecycle_statedb_get_at(db, NULL, key, a, value, found, version);
}

int lifecycle_statedb_get_at(struct statedb *db, const struct statedb_snap *snap, const char *key,
                             struct arena *a, ProtobufCBinaryData *value, bool *found,
                             Stele__Version **version)
{
    struct buf b;
    struct statedb_version ver;
    buf_init(&b);
    int rc = statedb_get_at(db, snap, LIFECYCLE_NS, key, &b, &ver);
    *found = rc == STELE_OK;
    *version = NULL;
    if (rc == STELE_OK) {
        Stele__Version *v = arena_alloc(a, sizeof *v);
        uint8_t *d = b.len ? arena_memdup(a, b.data, b.len) : arena_alloc(a, 1);
        if (!v || !d) {
            buf_release(&b);
            return STELE_ERR_NOMEM;
        }
        stele__version__init(v);
        v->block_number = ver.block;
        v->tx_index = ver.tx;
        *version = v;
        *value = (ProtobufCBinaryData){b.len, d};
    }
    buf_release(&b);
    return rc == STELE_ERR_NOT_FOUND ? STELE_OK : rc;
}

int lifecycle_definition_get(struct statedb *db, struct arena *a, const char *name,
                             const Stele__ChaincodeDefinition **out)
{
    return lifecycle_definition_get_at(db, NULL, a, name, out);
}

int lifecycle_definition_get_at(struct statedb *db, const struct statedb_snap *snap,
                                struct arena *a, const char *name,
                                const Stele__ChaincodeDefinition **out)
{
    *out = NULL;
    char *key = lifecycle_definition_key(a, name);
    if (!key)
        return STELE_ERR_NOMEM;
    struct buf b;
    buf_init(&b);
    int rc = statedb_get_at(db, snap, LIFECYCLE_NS, key, &b, NULL);
    if (rc == STELE_ERR_INVALID) /* not a key a definition can have */
        rc = STELE_ERR_NOT_FOUND;
    if (rc == STELE_OK && !(*out = (const Stele__ChaincodeDefinition *)pb_unpack(
                                &stele__chaincode_definition__descriptor, a, b.data, b.len, 0)))
        rc = STELE_ERR_MALFORMED;
    buf_release(&b);
    return rc;
}
