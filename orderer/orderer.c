/* orderer.c — assembling and running one ordering node (see orderer.h). */
#include "orderer_int.h"

#include "envcache.h"

#include "channel.h"
#include "crls.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/quota.h"
#include "base/status.h"
#include "identity/identity.h"
#include "identity/replay.h"
#include "rpc/services.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Headroom over AbsoluteMaxBytes in the gRPC message cap, so that envelopes somewhat over the
 * limit get a clear REQUEST_ENTITY_TOO_LARGE answer, and blocks (envelopes plus header and
 * metadata) fit in a Deliver message. */
#define MESSAGE_HEADROOM (1u << 20)

static void cb_chain_head(void *arg, uint64_t *height, uint8_t hash[32])
{
    struct orderer *o = arg;
    chain_head(o->chain, height, hash);
}

static int cb_deliver_block(void *arg, const Stele__Block *block)
{
    struct orderer *o = arg;
    int rc = chain_append(o->chain, block);
    if (rc == STELE_OK) {
        log_info("orderer", "block %llu appended (%zu envelopes)",
                 (unsigned long long)block->header->number,
                 block->data ? block->data->n_envelopes : 0);
        orderer_crls_block(o, block); /* before the next block's envelopes are checked */
    } else {
        /* The plug-in stops ordering; probes must see it. NEEDSWORK: the tx_ids of the lost
         * batch stay claimed until restart, so their clients get CONFLICT on a resend. */
        log_error("orderer", "cannot append block %llu: %s; the orderer stops serving",
                  (unsigned long long)block->header->number, stele_strerror(rc));
        atomic_store(&o->chain_failed, true); /* /healthz answers 503 (metrics.c) */
        rpc_health_set(o->health, "", false);
        rpc_health_set(o->health, "stele.AtomicBroadcast", false);
    }
    return rc;
}

static int cb_read_block(void *arg, uint64_t number, struct arena *a, Stele__Block **out)
{
    struct orderer *o = arg;
    return blockstore_get(chain_store(o->chain), number, a, out);
}

static int cb_check_envelope(void *arg, const uint8_t *env, size_t len, char tx_id[65],
                             const char **why)
{
    struct orderer *o = arg;
    struct arena *a = arena_create(0);
    struct intake_verdict v;
    if (!a) {
        *why = "out of memory";
        return STELE_ERR_NOMEM;
    }
    int rc = intake_check_broadcast_bytes(&o->intake, a, env, len, NULL, &v);
    arena_destroy(a);
    if (rc) {
        *why = v.info;
        return rc;
    }
    uint64_t number;
    rc = blockstore_txid_taken(chain_store(o->chain), v.tx_id, &number);
    if (rc == STELE_OK) {
        *why = "its tx_id is already in a block";
        return STELE_ERR_REPLAY;
    }
    if (rc != STELE_ERR_NOT_FOUND) {
        *why = "cannot look the tx_id up";
        return rc;
    }
    memcpy(tx_id, v.tx_id, ENVELOPE_TXID_LEN + 1);
    return STELE_OK;
}

/* Peers accept block signatures only from orderer identities: refuse to run with another. */
static int check_role(struct orderer *o, char **errmsg)
{
    struct arena *a = arena_create(0);
    struct identity id;
    if (!a)
        return STELE_ERR_NOMEM;
    int rc = identity_decode(a, o->self.identity.data, o->self.identity.len, &id, NULL);
    if (rc == STELE_OK && !identity_has_role(&id, "orderer"))
        rc = stele_errf(errmsg, STELE_ERR_CONFIG,
                        "%s holds the identity of %s with role %s; an orderer needs role orderer",
                        o->cfg->identity_dir, id.id, id.role);
    else if (rc)
        rc = stele_errf(errmsg, rc, "%s/identity is not an identity record", o->cfg->identity_dir);
    arena_destroy(a);
    return rc;
}

/* The chain asks before it takes or serves block 0: this orderer must belong to its channel
 * as configured (channel.h). */
static int accept_channel(void *arg, const Stele__ChannelConfig *ch, char **errmsg)
{
    struct orderer *o = arg;
    return orderer_channel_check(o->cfg, &o->self, ch, errmsg);
}

int orderer_create(const struct orderer_config *cfg, struct orderer **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    struct orderer *o = calloc(1, sizeof *o);
    if (!o)
        return STELE_ERR_NOMEM;
    o->cfg = cfg;
    int rc = enrolment_load(cfg->identity_dir, &o->self, errmsg);
    if (rc || (rc = check_role(o, errmsg)))
        goto err;
    struct chain_options co = {.dir = cfg->data_dir,
                               .genesis_file = cfg->genesis_file,
                               .channel_id = cfg->channel_id,
                               .sync = (enum blockstore_sync)cfg->fsync,
                               .accept = accept_channel,
                               .accept_arg = o};
    if ((rc = chain_open(&co, &o->chain, errmsg)))
        goto err;
    const Stele__ChannelConfig *ch = chain_config(o->chain);
    if ((rc = orderer_auth_create(&cfg->membership, &o->auth, errmsg)) ||
        (cfg->membership.n_cas == 0 && (rc = orderer_channel_trust(ch, o->auth, errmsg))) ||
        (rc = orderer_crls_open(o, errmsg)))
        goto err;
    log_info(
        "orderer",
        "channel %s from its genesis block: consensus %s, %zu organisations, %zu orderers, "
        "%zu chaincode definitions; trusting %s",
        ch->channel_id, ch->consensus_type, ch->n_organisations, ch->n_orderers, ch->n_chaincodes,
        cfg->membership.n_cas ? "the CAs of membership.cas" : "the CA keys of its organisations");
    if (!(o->checked = envcache_create(18))) {
        rc = STELE_ERR_NOMEM;
        goto err;
    }
    o->intake = (struct intake){.checked = o->checked,
                                .channel_id = cfg->channel_id,
                                .absolute_max_bytes = ch->batch->absolute_max_bytes,
                                .auth = o->auth};
    struct consensus_params cp = {
        .node_id = cfg->node_id,
        .channel_id = cfg->channel_id,
        .signer = o->self.key,
        .identity = o->self.identity.data,
        .identity_len = o->self.identity.len,
        .channel = ch,
        .data_dir = cfg->data_dir,
        .sync = cfg->fsync == BLOCKSTORE_SYNC_EVERY_BLOCK,
        .fault = cfg->consensus.fault,
        .plugin_config = strcmp(cfg->consensus.type, "pbft") == 0 ? &cfg->consensus.pbft : NULL,
    };
    if (cfg->tls.root_ca) {
        cp.peer_tls = cli_tls_client(&cfg->tls);
        /* The plug-in dials the other orderers from its own threads, where an unreadable file
         * would only be logged: read them now (a channel connects lazily, nothing is sent). */
        struct rpc_channel *probe =
            rpc_channel_open(cfg->listen, &(struct rpc_channel_opts){.tls = cp.peer_tls}, errmsg);
        if (!probe) {
            rc = STELE_ERR_CONFIG;
            goto err;
        }
        rpc_channel_close(probe);
    }
    orderer_channel_cutter(ch, &cp.cutter);
    struct consensus_callbacks cb = {
        .arg = o,
        .chain_head = cb_chain_head,
        .deliver_block = cb_deliver_block,
        .read_block = cb_read_block,
        .check_envelope = cb_check_envelope,
    };
    if ((rc = consensus_create(cfg->consensus.type, &cp, &cb, &o->consensus, errmsg)))
        goto err;
    struct rpc_server_opts so = {
        .listen = cfg->listen,
        .max_streams = (int)cfg->limits.max_streams,
        .max_message = cfg->limits.max_message ? cfg->limits.max_message
                                               : ch->batch->absolute_max_bytes + MESSAGE_HEADROOM,
        .component = "orderer-rpc",
        .tls = cli_tls_server(&cfg->tls),
    };
    struct rpc_tls dial = cli_tls_client(&cfg->tls);
    if ((rc = rpc_tls_check(&so.tls, true, so.component, errmsg)) ||
        (rc = rpc_tls_check(&dial, false, so.component, errmsg)))
        goto err;
    rc = STELE_ERR_NOMEM;
    unsigned streams = (unsigned)cfg->limits.max_streams;
    unsigned per_client = (unsigned)cfg->limits.max_streams_per_client;
    if (!(o->deliver_streams =
              quota_create(streams, per_client < streams ? per_client : streams)) ||
        !(o->deliver_replays = replay_cache_create(ORDERER_DELIVER_REPLAYS,
                                                   INTAKE_DELIVER_WINDOW_MS, clock_wall_ms())) ||
        !(o->server = rpc_server_create(&so, errmsg)) || !(o->health = rpc_health_create()) ||
        !(o->node = rpc_node_service_create(cfg->node_id, "orderer")))
        goto err;
    if ((rc = rpc_health_register(o->health, o->server)) ||
        (rc = rpc_node_service_register(o->node, o->server)) ||
        (rc = orderer_broadcast_register(o, o->server)) ||
        (rc = orderer_deliver_register(o, o->server)) ||
        (rc = consensus_attach(o->consensus, o->server)))
        goto err;
    *out = o;
    return STELE_OK;
err:
    orderer_destroy(o);
    return rc;
}

int orderer_start(struct orderer *o, char **errmsg)
{
    int rc = consensus_start(o->consensus);
    if (rc)
        return stele_errf(errmsg, rc, "cannot start consensus %s: %s", consensus_name(o->consensus),
                          stele_strerror(rc));
    if ((rc = rpc_health_set(o->health, "stele.AtomicBroadcast", true)) ||
        (rc = rpc_health_set(o->health, "stele.Orderer", true)) ||
        (rc = rpc_server_start(o->server, errmsg)))
        return rc;
    o->started = true;
    log_info("orderer", "%s serving channel %s on port %d (consensus %s, height %llu)",
             o->cfg->node_id, o->cfg->channel_id, rpc_server_port(o->server),
             consensus_name(o->consensus), (unsigned long long)chain_height(o->chain));
    return STELE_OK;
}

int orderer_port(const struct orderer *o)
{
    return rpc_server_port(o->server);
}

void orderer_stop(struct orderer *o)
{
    if (!o || o->stopped)
        return;
    o->stopped = true;
    atomic_store(&o->stopping, true);
    if (o->health)
        rpc_health_shutdown(o->health);
    /* Envelopes already acknowledged are cut and written before Deliver streams end. */
    consensus_stop(o->consensus);
    if (o->chain)
        chain_shutdown(o->chain);
    if (o->server)
        rpc_server_stop(o->server, (int)o->cfg->limits.grace_ms);
    if (o->chain)
        log_info("orderer", "stopped at height %llu", (unsigned long long)chain_height(o->chain));
}

void orderer_destroy(struct orderer *o)
{
    if (!o)
        return;
    orderer_stop(o);
    rpc_server_destroy(o->server);
    rpc_health_destroy(o->health);
    rpc_node_service_destroy(o->node);
    consensus_destroy(o->consensus);
    chain_close(o->chain);
    orderer_auth_destroy(o->auth);
    envcache_destroy(o->checked);
    quota_destroy(o->deliver_streams);
    replay_cache_destroy(o->deliver_replays);
    enrolment_release(&o->self);
    free(o);
}
