/* channel_print.c — a channel configuration for people and scripts (channel_print.h). */
#include "channel_print.h"
#include "peer_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SHOWN 8 /* octets of a key shown in the text summary */

/* Judges the CONFIG envelope's creator against the configuration's own organisations. */
static void judge_signer(struct arena *a, const Stele__Block *b, struct channel_view *v)
{
    struct envelope_view ev;
    struct identity id;
    struct msp *m = msp_create(0);
    char *err = NULL;
    v->signer = "not checked (out of memory)";
    if (!m)
        return;
    const ProtobufCBinaryData *e = &b->data->envelopes[0];
    if (envelope_parse(a, e->data, e->len, 0, &ev, NULL) != STELE_OK)
        goto out;
    for (size_t i = 0; i < v->cfg->n_organisations; i++) {
        const Stele__OrganisationConfig *o = v->cfg->organisations[i];
        for (size_t k = 0; k < o->n_ca_public_keys; k++) {
            struct crypto_key *ca = NULL;
            if (crypto_key_from_public(o->ca_public_keys[k].data, o->ca_public_keys[k].len, &ca) ==
                STELE_OK)
                msp_add_ca(m, o->name, 0, ca);
            crypto_key_destroy(ca);
        }
    }
    const ProtobufCBinaryData *cr = &ev.header->creator;
    if (identity_decode(a, cr->data, cr->len, &id, NULL) != STELE_OK) {
        v->signer = "the creator is not an identity record";
        goto out;
    }
    v->signer_id = id.id;
    v->signer_org = id.org;
    /* Validity is judged at the block's time: the genesis block outlives its signer's
     * certificate. */
    uint64_t at = b->metadata ? b->metadata->timestamp_ms / 1000 : clock_wall_s();
    int rc = identity_verify(m, a, cr->data, cr->len, at, &id, &err);
    if (rc == STELE_OK)
        rc = identity_verify_signature(m, &id, ev.envelope->payload.data, ev.envelope->payload.len,
                                       ev.envelope->signature.data, ev.envelope->signature.len);
    v->signer = rc == STELE_OK            ? "verified"
                : rc == STELE_ERR_AUTH    ? "not issued by the CA of its organisation"
                : rc == STELE_ERR_EXPIRED ? "not valid when the block was written"
                : rc == STELE_ERR_REVOKED ? "revoked"
                : rc == STELE_ERR_CRYPTO  ? "signature invalid"
                                          : "signature or identity invalid";
out:
    free(err);
    msp_destroy(m);
}

void channel_view_read(struct arena *a, const Stele__Block *b, struct channel_view *v)
{
    Stele__ChannelConfig *cfg = NULL;
    char *why = NULL;
    *v = (struct channel_view){.signer = "not checked"};
    if (genesis_read(a, b, NULL, &cfg, &why) != STELE_OK) {
        v->error = arena_strdup(a, why ? why : "not a genesis block");
        free(why);
        return;
    }
    v->cfg = cfg;
    judge_signer(a, b, v);
}

static void json_orderers(struct json *j, const Stele__ChannelConfig *c)
{
    struct arena *a = arena_create(0);
    json_key(j, "orderers");
    json_array_begin(j);
    for (size_t i = 0; i < c->n_orderers; i++) {
        const Stele__OrdererNodeConfig *o = c->orderers[i];
        struct identity id;
        json_object_begin(j);
        json_kv_string(j, "node_id", o->node_id);
        json_kv_string(j, "organisation", o->organisation);
        json_kv_hex(j, "public_key", o->public_key.data, o->public_key.len);
        json_kv_string(j, "address", o->address);
        /* The record as it reads; whether its CA issued it is for a full audit. */
        if (a && o->identity.len &&
            identity_decode(a, o->identity.data, o->identity.len, &id, NULL) == STELE_OK) {
            json_key(j, "identity");
            json_object_begin(j);
            json_kv_string(j, "id", id.id);
            json_kv_string(j, "org", id.org);
            json_kv_string(j, "role", id.role);
            json_kv_hex(j, "certhash", id.certhash, sizeof id.certhash);
            json_object_end(j);
        }
        json_object_end(j);
    }
    json_array_end(j);
    arena_destroy(a);
}

static void json_orgs(struct json *j, const Stele__ChannelConfig *c)
{
    json_key(j, "organisations");
    json_array_begin(j);
    for (size_t i = 0; i < c->n_organisations; i++) {
        const Stele__OrganisationConfig *o = c->organisations[i];
        json_object_begin(j);
        json_kv_string(j, "name", o->name);
        json_key(j, "ca_public_keys");
        json_array_begin(j);
        for (size_t k = 0; k < o->n_ca_public_keys; k++)
            json_hex(j, o->ca_public_keys[k].data, o->ca_public_keys[k].len);
        json_array_end(j);
        json_key(j, "admins");
        json_array_begin(j);
        for (size_t k = 0; k < o->n_admins; k++)
            json_string(j, o->admins[k]);
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void json_chaincodes(struct json *j, const Stele__ChannelConfig *c)
{
    json_key(j, "chaincodes");
    json_array_begin(j);
    for (size_t i = 0; i < c->n_chaincodes; i++) {
        const Stele__ChaincodeDefinition *d = c->chaincodes[i];
        json_object_begin(j);
        json_kv_string(j, "name", d->name);
        json_kv_string(j, "version", d->version);
        json_kv_uint(j, "sequence", d->sequence);
        json_kv_hex(j, "package_hash", d->package_hash.data, d->package_hash.len);
        json_kv_string(j, "endorsement_policy", d->endorsement_policy);
        json_object_end(j);
    }
    json_array_end(j);
}

void channel_view_json(struct json *j, const struct channel_view *v, const uint8_t *block_hash)
{
    const Stele__ChannelConfig *c = v->cfg;
    json_object_begin(j);
    if (block_hash)
        json_kv_hex(j, "block_hash", block_hash, 32);
    if (!c) {
        json_kv_string(j, "error", v->error);
        json_object_end(j);
        return;
    }
    json_kv_string(j, "channel_id", c->channel_id);
    json_kv_uint(j, "sequence", c->sequence);
    json_key(j, "consensus");
    json_object_begin(j);
    json_kv_string(j, "type", c->consensus_type);
    if (c->pbft) {
        json_key(j, "pbft");
        json_object_begin(j);
        json_kv_uint(j, "checkpoint_interval", c->pbft->checkpoint_interval);
        json_kv_uint(j, "log_window", c->pbft->log_window);
        json_kv_uint(j, "request_timeout_ms", c->pbft->request_timeout_ms);
        json_kv_uint(j, "view_change_timeout_ms", c->pbft->view_change_timeout_ms);
        json_kv_uint(j, "view_change_timeout_max_ms", c->pbft->view_change_timeout_max_ms);
        json_object_end(j);
    }
    json_object_end(j);
    json_key(j, "batch");
    json_object_begin(j);
    json_kv_uint(j, "max_message_count", c->batch->max_message_count);
    json_kv_uint(j, "batch_timeout_ms", c->batch->batch_timeout_ms);
    json_kv_uint(j, "preferred_max_bytes", c->batch->preferred_max_bytes);
    json_kv_uint(j, "absolute_max_bytes", c->batch->absolute_max_bytes);
    json_object_end(j);
    json_orgs(j, c);
    json_orderers(j, c);
    json_chaincodes(j, c);
    json_kv_string(j, "lifecycle_policy", c->lifecycle_policy);
    json_kv_uint(j, "lifecycle_version", c->lifecycle_version);
    json_kv_uint(j, "endorsement_version", c->endorsement_version);
    json_key(j, "signed_by");
    json_object_begin(j);
    json_kv_string(j, "id", v->signer_id);
    json_kv_string(j, "org", v->signer_org);
    json_kv_string(j, "verdict", v->signer);
    json_object_end(j);
    json_object_end(j);
}

/* The first KEY_SHOWN octets of a key in hex, then "...". */
static const char *short_hex(const ProtobufCBinaryData *k, char out[2 * KEY_SHOWN + 4])
{
    size_t n = k->len < KEY_SHOWN ? k->len : KEY_SHOWN;
    hex_encode(k->data, n, out);
    if (k->len > n)
        strcat(out, "...");
    return out;
}

/* Room for a name of block 0 escaped: GENESIS_MAX_NAME octets, each shown in at most 4. */
#define NAME_SHOWN (GENESIS_MAX_NAME * 4 + 1)

/* `s` escaped (C0, DEL and C1 controls as \xNN, as peer_client_printable() does) into a
 * buffer of NAME_SHOWN octets. */
static const char *esc(char out[NAME_SHOWN], const char *s)
{
    return peer_client_printable(s, out, NAME_SHOWN);
}

/* Every string of the configuration is what block 0 says: names pass genesis_check() (no C0
 * control characters) but may hold C1 ones, and an unverified block 0 anything at all. */
void channel_view_text(FILE *f, const struct channel_view *v)
{
    const Stele__ChannelConfig *c = v->cfg;
    char hx[2 * KEY_SHOWN + 4], t1[NAME_SHOWN], t2[NAME_SHOWN], t3[NAME_SHOWN];
    if (!c) {
        fputs("configuration  INVALID: ", f);
        peer_client_fput_printable(v->error ? v->error : "", f);
        fputc('\n', f);
        return;
    }
    fprintf(f, "configuration  channel %s, sequence %u\n", esc(t1, c->channel_id), c->sequence);
    fprintf(f, "consensus      %s", esc(t1, c->consensus_type));
    if (c->pbft)
        fprintf(f,
                " (K %u, L %u, request timeout %" PRIu64 " ms, view change %" PRIu64 "..%" PRIu64
                " ms)",
                c->pbft->checkpoint_interval, c->pbft->log_window, c->pbft->request_timeout_ms,
                c->pbft->view_change_timeout_ms, c->pbft->view_change_timeout_max_ms);
    fprintf(f,
            "\nbatch          %u envelopes, %" PRIu64 " ms, preferred %" PRIu64
            " octets, absolute %" PRIu64 " octets\n",
            c->batch->max_message_count, c->batch->batch_timeout_ms, c->batch->preferred_max_bytes,
            c->batch->absolute_max_bytes);
    fprintf(f, "organisations  %zu\n", c->n_organisations);
    for (size_t i = 0; i < c->n_organisations; i++) {
        const Stele__OrganisationConfig *o = c->organisations[i];
        fprintf(f, "  %-14s CA", esc(t1, o->name));
        for (size_t k = 0; k < o->n_ca_public_keys; k++)
            fprintf(f, " %s", short_hex(&o->ca_public_keys[k], hx));
        if (o->n_admins)
            fprintf(f, ", admin%s", o->n_admins > 1 ? "s" : "");
        for (size_t k = 0; k < o->n_admins; k++)
            fprintf(f, "%s %s", k ? "," : "", esc(t1, o->admins[k]));
        fputc('\n', f);
    }
    fprintf(f, "orderers       %zu\n", c->n_orderers);
    for (size_t i = 0; i < c->n_orderers; i++) {
        const Stele__OrdererNodeConfig *o = c->orderers[i];
        fprintf(f, "  %-14s %s, %s, key %s\n", esc(t1, o->node_id), esc(t2, o->address),
                esc(t3, o->organisation), short_hex(&o->public_key, hx));
    }
    fprintf(f, "chaincodes     %zu (lifecycle policy ", c->n_chaincodes);
    peer_client_fput_printable(c->lifecycle_policy ? c->lifecycle_policy : "", f);
    fputs(")\n", f);
    for (size_t i = 0; i < c->n_chaincodes; i++) {
        const Stele__ChaincodeDefinition *d = c->chaincodes[i];
        fprintf(f, "  %-14s %s, sequence %" PRIu64 ", package %s, policy ", esc(t1, d->name),
                esc(t2, d->version), d->sequence, short_hex(&d->package_hash, hx));
        peer_client_fput_printable(d->endorsement_policy ? d->endorsement_policy : "", f);
        fputc('\n', f);
    }
    fprintf(f, "rules          lifecycle version %u, endorsement version %u%s\n",
            c->lifecycle_version, c->endorsement_version,
            c->endorsement_version ? "" : " (signatures a client can alter: see docs/LEDGER.md)");
    fprintf(f, "signed by      %s of %s: %s\n", v->signer_id ? esc(t1, v->signer_id) : "(unknown)",
            v->signer_org ? esc(t2, v->signer_org) : "(unknown)", v->signer);
}
