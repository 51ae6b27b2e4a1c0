/* channel.c — the orderer against its channel's configuration (channel.h). */
#include "channel.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/genesis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTED_MAX 8 /* orderer ids named in a message */

/* Sets *errmsg and returns STELE_ERR_CONFIG. */
#define refuse(errmsg, ...) stele_errf((errmsg), STELE_ERR_CONFIG, __VA_ARGS__)

/* Where the genesis block came from, for messages. */
static const char *source(const struct orderer_config *cfg)
{
    return cfg->genesis_file ? cfg->genesis_file : "block 0 of data_dir";
}

/* "orderer0, orderer1, ..." */
static void list_orderers(const Stele__ChannelConfig *ch, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < ch->n_orderers && i < LISTED_MAX && used < n; i++)
        used +=
            (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", ch->orderers[i]->node_id);
    if (ch->n_orderers > LISTED_MAX && used < n)
        snprintf(out + used, n - used, ", ...");
}

static int check_membership(const struct orderer_config *cfg, const struct enrolment *self,
                            const Stele__ChannelConfig *ch, char **errmsg)
{
    char ids[512], have[67], want[67];
    if (ch->n_orderers == 0)
        return STELE_OK;
    const Stele__OrdererNodeConfig *me = genesis_find_orderer(ch, cfg->node_id);
    if (!me) {
        list_orderers(ch, ids, sizeof ids);
        return refuse(errmsg,
                      "node_id %s is not one of the orderers of channel %s in %s (%s): an "
                      "orderer serves only a channel whose genesis block lists it; give it the "
                      "genesis block of its own network or correct node_id",
                      cfg->node_id, ch->channel_id, source(cfg), ids);
    }
    uint8_t pub[CRYPTO_POINT_COMPRESSED_LEN];
    crypto_key_public_compressed(self->key, pub);
    if (me->public_key.len != sizeof pub || memcmp(me->public_key.data, pub, sizeof pub) != 0) {
        hex_encode(pub, 8, have);
        hex_encode(me->public_key.data, me->public_key.len < 8 ? me->public_key.len : 8, want);
        return refuse(errmsg,
                      "%s lists orderer %s with public key %s..., but identity_dir %s holds key "
                      "%s...: it is another enrolment of %s (re-enrolled after the genesis block "
                      "was written?); use the enrolment the genesis block names",
                      source(cfg), cfg->node_id, want, cfg->identity_dir, have, cfg->node_id);
    }
    return STELE_OK;
}

static int check_batch(const struct orderer_config *cfg, const Stele__ChannelConfig *ch,
                       char **errmsg)
{
    const struct batch_config *mine = &cfg->batch;
    const Stele__BatchParameters *b = ch->batch;
    if (mine->pos.line && (mine->max_message_count != b->max_message_count ||
                           mine->batch_timeout_ms != b->batch_timeout_ms ||
                           mine->preferred_max_bytes != b->preferred_max_bytes ||
                           mine->absolute_max_bytes != b->absolute_max_bytes))
        return refuse(errmsg,
                      "the batch section (line %u) differs from the batch parameters of channel "
                      "%s in %s (max_message_count %u, batch_timeout %llums, preferred_max_bytes "
                      "%llu, absolute_max_bytes %llu): the genesis block decides them; remove "
                      "the section or make it match",
                      mine->pos.line, ch->channel_id, source(cfg), b->max_message_count,
                      (unsigned long long)b->batch_timeout_ms,
                      (unsigned long long)b->preferred_max_bytes,
                      (unsigned long long)b->absolute_max_bytes);
    if (cfg->limits.max_message && cfg->limits.max_message <= b->absolute_max_bytes)
        return refuse(errmsg,
                      "limits.max_message (%llu) must exceed the channel's absolute_max_bytes "
                      "(%llu, from %s): blocks and headers need room",
                      (unsigned long long)cfg->limits.max_message,
                      (unsigned long long)b->absolute_max_bytes, source(cfg));
    return STELE_OK;
}

int orderer_channel_check(const struct orderer_config *cfg, const struct enrolment *self,
                          const Stele__ChannelConfig *ch, char **errmsg)
{
    int rc;
    if (strcmp(cfg->consensus.type, ch->consensus_type) != 0)
        return refuse(errmsg,
                      "consensus.type is %s but the genesis block of channel %s (%s) says %s: "
                      "a channel's consensus is fixed by its genesis block",
                      cfg->consensus.type, ch->channel_id, source(cfg), ch->consensus_type);
    if ((rc = check_membership(cfg, self, ch, errmsg)))
        return rc;
    return check_batch(cfg, ch, errmsg);
}

void orderer_channel_cutter(const Stele__ChannelConfig *ch, struct blockcutter_config *out)
{
    *out = (struct blockcutter_config){
        .max_message_count = ch->batch->max_message_count,
        .preferred_max_bytes = ch->batch->preferred_max_bytes,
        .absolute_max_bytes = ch->batch->absolute_max_bytes,
        .batch_timeout_ms = ch->batch->batch_timeout_ms,
    };
}

int orderer_channel_trust(const Stele__ChannelConfig *ch, struct orderer_auth *auth, char **errmsg)
{
    if (ch->n_organisations == 0)
        return refuse(errmsg,
                      "membership.cas lists no CA and the genesis block of channel %s lists no "
                      "organisation: nobody could broadcast or read blocks; list the CAs in "
                      "membership.cas",
                      ch->channel_id);
    for (size_t i = 0; i < ch->n_organisations; i++) {
        const Stele__OrganisationConfig *o = ch->organisations[i];
        for (size_t k = 0; k < o->n_ca_public_keys; k++) {
            int rc = orderer_auth_add_ca(auth, o->name, o->ca_public_keys[k].data,
                                         o->ca_public_keys[k].len);
            if (rc)
                return rc;
        }
    }
    return STELE_OK;
}
