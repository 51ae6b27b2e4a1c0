/* peer.c — assembling and running one committing peer (see peer.h). */
#include "peer_int.h"
#include "base/clock.h"
#include "base/quota.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "identity/identity.h"
#include "identity/replay.h"
#include "ledger/pbft_msg.h"
#include "rpc/services.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Reads a whole file into `out`. */
/* Reads the whole file at `path` (at most `max` octets) into `out`. */
static int read_file(const char *path, size_t max, struct buf *out, char **errmsg)
{
    int rc = enrolment_read_file(path, max, out);
    return rc ? stele_errf(errmsg, rc, "cannot read %s: %s", path, stele_strerror(rc)) : STELE_OK;
}

/* The peer's own identity: role peer; remembers its organisation. */
static int check_self(struct peer *p, char **errmsg)
{
    struct arena *a = arena_create(0);
    struct identity id;
    if (!a)
        return STELE_ERR_NOMEM;
    int rc = identity_decode(a, p->self.identity.data, p->self.identity.len, &id, NULL);
    if (rc == STELE_OK && !identity_has_role(&id, "peer"))
        rc = stele_errf(errmsg, STELE_ERR_CONFIG,
                        "%s holds the identity of %s with role %s; a peer needs role peer",
                        p->cfg->identity_dir, id.id, id.role);
    else if (rc)
        rc = stele_errf(errmsg, rc, "%s/identity is not an identity record", p->cfg->identity_dir);
    else if (!(p->org = strdup(id.org)))
        rc = STELE_ERR_NOMEM;
    arena_destroy(a);
    return rc;
}

/* Installs the configured CRL files into the services' MSP, not the one validation judges with
 * (after the ledger added the channel's CAs and its CRLs to both: a file older than the
 * ledger's CRL of the same CA is ignored, with a warning). */
static int install_crls(struct peer *p, char **errmsg)
{
    for (size_t i = 0; i < p->cfg->n_crls; i++) {
        struct buf b;
        char *err = NULL;
        buf_init(&b);
        int rc = read_file(p->cfg->crls[i], IDENTITY_CRL_MAX_LEN, &b, errmsg);
        if (rc) { /* *errmsg names the file */
            buf_release(&b);
            return rc;
        }
        if ((rc = msp_set_crl(p->msp, b.data, b.len, &err)) == STELE_ERR_STATE) {
            log_warn("peer", "%s: %s: the ledger carries a newer CRL of that CA; file ignored",
                     p->cfg->crls[i], err ? err : "older");
            rc = STELE_OK;
        } else if (rc) {
            rc = stele_errf(errmsg, STELE_ERR_CONFIG, "%s: %s", p->cfg->crls[i],
                            err ? err : stele_strerror(rc));
        }
        free(err);
        buf_release(&b);
        if (rc)
            return rc;
    }
    return STELE_OK;
}

/* The socket address of `addr` when its host is an IP literal ("127.0.0.1:7050",
 * "[::1]:7050", or gRPC's "ipv4:"/"ipv6:" forms), or NULL (freeaddrinfo). Host names are not
 * resolved: two names may be two orderers behind one proxy that routes by name, and a lookup
 * at start could wait on DNS. */
static struct addrinfo *resolve(const char *addr)
{
    const char *s = addr;
    if (strncmp(s, "ipv4:", 5) == 0 || strncmp(s, "ipv6:", 5) == 0)
        s += 5;
    else if (strncmp(s, "dns:///", 7) == 0)
        s += 7;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || strchr(s, ',') || strchr(s, '/'))
        return NULL;
    char host[256];
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']')
        s++, hl -= 2;
    if (hl == 0 || hl >= sizeof host)
        return NULL;
    memcpy(host, s, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV},
                    *res = NULL;
    return getaddrinfo(host, colon + 1, &hints, &res) == 0 ? res : NULL;
}

/* True when the two lists share a socket address. */
static bool share_address(const struct addrinfo *a, const struct addrinfo *b)
{
    for (; a; a = a->ai_next)
        for (const struct addrinfo *x = b; x; x = x->ai_next)
            if (a->ai_addrlen == x->ai_addrlen &&
                memcmp(a->ai_addr, x->ai_addr, a->ai_addrlen) == 0)
                return true;
    return false;
}

/* The orderers to pull from: configured, else the genesis block's addresses. One orderer listed
 * twice — by the same text, or as two spellings of one IP address and port (127.0.0.1:7050 and
 * ipv4:127.0.0.1:7050) — would count twice toward a Submit's f + 1, so it is used once. */
static int pick_orderers(struct peer *p)
{
    const Stele__ChannelConfig *ch = kvledger_config(p->ledger);
    size_t n = p->cfg->n_orderers ? p->cfg->n_orderers : ch->n_orderers;
    struct addrinfo **ai = calloc(n ? n : 1, sizeof *ai);
    if (!ai || !(p->orderers = calloc(n ? n : 1, sizeof *p->orderers))) {
        free(ai);
        return STELE_ERR_NOMEM;
    }
    int rc = STELE_OK;
    for (size_t i = 0; i < n && rc == STELE_OK; i++) {
        const char *a = p->cfg->n_orderers ? p->cfg->orderers[i] : ch->orderers[i]->address;
        if (!a || !a[0])
            continue;
        struct addrinfo *mine = resolve(a);
        size_t k = 0;
        while (k < p->n_orderers && strcmp(p->orderers[k], a) != 0 &&
               !(mine && share_address(mine, ai[k])))
            k++;
        if (k < p->n_orderers) {
            if (strcmp(p->orderers[k], a) == 0)
                log_warn("peer", "orderer %s is listed twice; it is used once", a);
            else
                log_warn("peer", "orderers %s and %s are one address; it is used once",
                         p->orderers[k], a);
            if (mine)
                freeaddrinfo(mine);
            continue;
        }
        if (!(p->orderers[p->n_orderers] = strdup(a))) {
            rc = STELE_ERR_NOMEM;
            if (mine)
                freeaddrinfo(mine);
            break;
        }
        ai[p->n_orderers++] = mine;
    }
    for (size_t i = 0; i < p->n_orderers; i++)
        if (ai[i])
            freeaddrinfo(ai[i]);
    free(ai);
    return rc;
}

int peer_create(const struct peer_config *cfg, struct peer **out, char **errmsg)
{
    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    struct peer *p = calloc(1, sizeof *p);
    struct buf genesis;
    buf_init(&genesis);
    if (!p)
        return STELE_ERR_NOMEM;
    ops_hist_init(&p->counts.commit_time, ops_latency_bounds, ops_latency_n);
    ops_hist_init(&p->counts.endorse_time, ops_latency_bounds, ops_latency_n);
    p->cfg = cfg;
    int rc = enrolment_load(cfg->identity_dir, &p->self, errmsg);
    if (rc || (rc = check_self(p, errmsg)))
        goto err;
    unsigned streams = (unsigned)cfg->limits.max_streams;
    unsigned per_client = (unsigned)cfg->limits.max_streams_per_client;
    if (!(p->msp = msp_create(0)) || msp_enable_sigcache(p->msp, PEER_SIGCACHE) != STELE_OK ||
        !(p->ledger_msp = msp_create(0)) || msp_share_sigcache(p->ledger_msp, p->msp) ||
        !(p->replays =
              replay_cache_create(PEER_REPLAY_CACHE, IDENTITY_REQ_WINDOW_MS, clock_wall_ms())) ||
        !(p->commit_waits =
              quota_create(PEER_MAX_COMMIT_WAITERS, PEER_MAX_COMMIT_WAITS_PER_CALLER)) ||
        !(p->event_streams = quota_create(streams, per_client < streams ? per_client : streams)) ||
        !(p->executing = quota_create(PEER_WORKERS, PEER_MAX_EXECUTING_PER_CALLER)) ||
        !(p->querying = quota_create(PEER_MAX_QUERIES, PEER_MAX_QUERIES_PER_CALLER))) {
        rc = STELE_ERR_NOMEM;
        goto err;
    }
    if (cfg->genesis_file &&
        (rc = read_file(cfg->genesis_file, (size_t)cfg->limits.max_message, &genesis, errmsg)))
        goto err;
    struct kvledger_options lo = {
        .dir = cfg->data_dir,
        .channel_id = cfg->channel_id,
        .genesis = cfg->genesis_file ? genesis.data : NULL,
        .genesis_len = genesis.len,
        .sync = cfg->fsync == 0,
        .threads = (unsigned)cfg->validation.threads,
        .msp = p->ledger_msp,
        .also_msp = p->msp,
    };
    if ((rc = kvledger_open(&lo, &p->ledger, errmsg)) || (rc = install_crls(p, errmsg)) ||
        (rc = pick_orderers(p)))
        goto err;
    const Stele__ChannelConfig *ch = kvledger_config(p->ledger);
    log_info("peer", "channel %s: consensus %s, %zu organisations, %zu orderers, height %llu",
             ch->channel_id, ch->consensus_type, ch->n_organisations, ch->n_orderers,
             (unsigned long long)kvledger_height(p->ledger));
    /* the gateway sends to the orderers it pulls from and needs f + 1 of the channel's to
     * accept (gateway_submit.c): fewer listed and every Submit fails */
    size_t need = pbft_faults(ch->n_orderers) + 1;
    if (ch->n_orderers && p->n_orderers < need)
        log_warn("peer",
                 "`orderers` lists %zu orderer(s); the gateway's Submit needs %zu of the "
                 "channel's %zu to accept each transaction and will refuse every one: list at "
                 "least %zu, or leave `orderers` out to use the genesis block's addresses",
                 p->n_orderers, need, ch->n_orderers, need);
    struct rpc_server_opts so = {
        .listen = cfg->listen,
        .workers = PEER_WORKERS,
        .max_streams = (int)cfg->limits.max_streams,
        .max_message = cfg->limits.max_message,
        .component = "peer-rpc",
        .tls = cli_tls_server(&cfg->tls),
        .shared_queue = true, /* the gateway serves and calls at once */
    };
    struct rpc_tls dial = cli_tls_client(&cfg->tls);
    if ((rc = rpc_tls_check(&so.tls, true, so.component, errmsg)) ||
        (rc = rpc_tls_check(&dial, false, so.component, errmsg)))
        goto err;
    rc = STELE_ERR_NOMEM;
    if (!(p->server = rpc_server_create(&so, errmsg)) || !(p->health = rpc_health_create()) ||
        !(p->node = rpc_node_service_create(cfg->peer_id, "peer")))
        goto err;
    if ((rc = rpc_health_register(p->health, p->server)) ||
        (rc = rpc_node_service_register(p->node, p->server)) ||
        (rc = peer_query_register(p, p->server)) || (rc = peer_events_register(p, p->server)) ||
        (rc = peer_lifecycle_register(p, p->server)) || (rc = peer_gateway_create(p, errmsg)) ||
        (rc = peer_ccrt_create(p, errmsg)) || (rc = peer_endorser_register(p, p->server)) ||
        (rc = peer_gateway_register(p, p->server)))
        goto err;
    buf_release(&genesis);
    *out = p;
    return STELE_OK;
err:
    buf_release(&genesis);
    peer_destroy(p);
    return rc;
}

int peer_start(struct peer *p, char **errmsg)
{
    int rc;
    if ((rc = rpc_health_set(p->health, "stele.Query", true)) ||
        (rc = rpc_health_set(p->health, "stele.Events", true)) ||
        (rc = rpc_health_set(p->health, "stele.Gateway", true)) ||
        (rc = rpc_health_set(p->health, "stele.Endorser", true)) ||
        (rc = rpc_server_start(p->server, errmsg)) || (rc = peer_intake_start(p, errmsg)))
        return rc;
    log_info("peer", "%s of %s serving channel %s on port %d (height %llu, %zu orderers)",
             p->cfg->peer_id, p->org, p->cfg->channel_id, rpc_server_port(p->server),
             (unsigned long long)kvledger_height(p->ledger), p->n_orderers);
    return STELE_OK;
}

int peer_port(const struct peer *p)
{
    return rpc_server_port(p->server);
}

void peer_stop(struct peer *p)
{
    if (!p || p->stopped)
        return;
    p->stopped = true;
    atomic_store(&p->stopping, true);
    if (p->health)
        rpc_health_shutdown(p->health);
    peer_intake_stop(p);
    if (p->ledger)
        kvledger_shutdown(p->ledger);
    if (p->server)
        rpc_server_stop(p->server, (int)p->cfg->limits.grace_ms);
    if (p->ledger)
        log_info("peer", "stopped at height %llu", (unsigned long long)kvledger_height(p->ledger));
}

void peer_destroy(struct peer *p)
{
    if (!p)
        return;
    peer_stop(p);
    rpc_server_destroy(p->server);
    rpc_health_destroy(p->health);
    rpc_node_service_destroy(p->node);
    peer_gateway_destroy(p);
    peer_ccrt_destroy(p);
    kvledger_close(p->ledger);
    msp_destroy(p->ledger_msp); /* borrows p->msp's signature cache */
    msp_destroy(p->msp);
    quota_destroy(p->commit_waits);
    replay_cache_destroy(p->replays);
    quota_destroy(p->event_streams);
    quota_destroy(p->executing);
    quota_destroy(p->querying);
    free(p->query_methods);
    for (size_t i = 0; i < p->n_orderers; i++)
        free(p->orderers[i]);
    free(p->orderers);
    free(p->org);
    enrolment_release(&p->self);
    free(p);
}
