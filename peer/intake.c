/*
 * intake.c — pulling blocks from the orderers (DESIGN §2 step 5).
 *
 * One thread asks one orderer at a time for every block from the ledger's height on
 * (AtomicBroadcast/Deliver, a request signed by the peer's identity, blocking until ready) and
 * commits what arrives (ledger.h: finality proof, link, validation, store, state). When the
 * orderer cannot be reached, ends the stream, sends a block that is refused (a bad
 * certificate, a fork) or falls behind, the thread moves to the next orderer of the list after
 * `orderer_retry`. Under PBFT any orderer's blocks are as good as another's: a block is taken
 * only with a quorum of orderer signatures, so a Byzantine orderer can never feed the peer a
 * false block; it could only hold it back, by sending nothing or a certified block now and
 * then.
 *
 * Falling behind: every INTAKE_CHECK_MS the thread asks the other orderers their heights
 * (ChainInfo, which nobody signs) and takes the (f+1)-th highest, a height at least one
 * correct orderer has reached; at the next check the orderer in use must have delivered that
 * far, or the thread moves on, unless it spent less than half the time waiting for blocks (it
 * was busy committing: the peer is the slow one). A lying orderer can only raise the highest f
 * answers, never that one, so it cannot pull the peer away from a correct orderer that keeps
 * up.
 */
#include "peer_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/envelope.h"
#include "ledger/pbft_msg.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define INTAKE_RECV_MS 500 /* receive slice: how often stop and progress are checked */
#define INTAKE_CHECK_MS                                                   \
    10000 /* the orderer in use must reach, by the next check, the height \
             f + 1 orderers reported at this one */

/* The signed Deliver request for blocks `from` onwards; *out is malloc'd. */
static int seek_request(struct peer *p, uint64_t from, ProtobufCBinaryData *out)
{
    return seek_deliver_request(p->cfg->channel_id, from, UINT64_MAX,
                                STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
                                p->self.identity.data, p->self.identity.len, p->self.key, out);
}

/* Asks orderer `addr` for its height (ChainInfo), dialled as `p` dials orderers; 0 when it
 * does not answer. */
static uint64_t orderer_height(const struct peer *p, const char *addr)
{
    struct rpc_channel_opts co = {
        .fail_fast = true, .timeout_ms = 2000, .tls = cli_tls_client(&p->cfg->tls)};
    struct rpc_channel *ch = rpc_channel_open(addr, &co, NULL);
    Stele__ChainInfoRequest rq = STELE__CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    uint64_t h = 0;
    if (ch && rpc_unary(ch, "/stele.Orderer/ChainInfo", &rq.base,
                        &stele__blockchain_info__descriptor, &resp, 2000, NULL) == STELE_OK)
        h = ((Stele__BlockchainInfo *)resp)->height;
    pb_free(resp);
    rpc_channel_close(ch);
    return h;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* The (f+1)-th highest height the orderers other than number `cur` report: one that at least
 * one correct orderer has reached (0 when fewer than f + 1 answer). */
static uint64_t reached_height(struct peer *p, size_t cur)
{
    const Stele__ChannelConfig *cfg = kvledger_config(p->ledger);
    size_t f = pbft_faults(cfg ? cfg->n_orderers : p->n_orderers), n = 0; /* the channel's f,
                                                   whatever part of it this peer lists */
    uint64_t *h = calloc(p->n_orderers ? p->n_orderers : 1, sizeof *h);
    if (!h)
        return 0;
    for (size_t i = 0; i < p->n_orderers; i++)
        if (i != cur && (h[n] = orderer_height(p, p->orderers[i])) > 0)
            n++;
    uint64_t out = 0;
    if (n > f) {
        qsort(h, n, sizeof *h, cmp_desc);
        out = h[f];
        if (out > atomic_load(&p->orderer_height))
            atomic_store(&p->orderer_height, out);
    }
    free(h);
    return out;
}

/* Test builds only (STELE_TEST_HOOKS): STELE_TEST_COMMIT_DELAY_MS holds each block that long
 * before committing it, so that a test can keep this peer a block behind another. */
static void test_commit_delay(void)
{
#ifdef STELE_TEST_HOOKS
    const char *ms = getenv("STELE_TEST_COMMIT_DELAY_MS");
    if (ms && *ms)
        clock_sleep_ms(strtoull(ms, NULL, 10));
#endif
}

/* The largest Deliver message a block of the channel can make: its envelopes (at most
 * preferred_max_bytes of them, or one of up to absolute_max_bytes), their framing, the header and
 * the metadata with a commit certificate, with room to spare; never more than limits.max_message.
 * A faulty orderer's larger message is refused before it is decoded. */
static size_t block_cap(const struct peer *p)
{
    const Stele__ChannelConfig *c = kvledger_config(p->ledger);
    size_t cap = (size_t)p->cfg->limits.max_message;
    if (!c || !c->batch)
        return cap;
    uint64_t data = c->batch->preferred_max_bytes > c->batch->absolute_max_bytes
                        ? c->batch->preferred_max_bytes
                        : c->batch->absolute_max_bytes;
    uint64_t want =
        data + 16ull * c->batch->max_message_count + 1024ull * c->n_orderers + (1u << 20);
    return want < cap ? (size_t)want : cap;
}

/* Pulls from orderer number `idx` until it fails or the peer stops. */
static void pull(struct peer *p, size_t idx)
{
    const char *addr = p->orderers[idx];
    struct rpc_channel_opts co = {
        .max_message = block_cap(p), .fail_fast = true, .tls = cli_tls_client(&p->cfg->tls)};
    char *err = NULL;
    ProtobufCBinaryData req = {0};
    Stele__Envelope *env = NULL;
    struct rpc_call *call = NULL;
    struct rpc_channel *ch = rpc_channel_open(addr, &co, &err);
    uint64_t from = kvledger_height(p->ledger);
    if (!ch) {
        log_warn("peer", "orderer %s: %s", addr, err ? err : "cannot open a channel");
        goto out;
    }
    if (seek_request(p, from, &req) ||
        !(env = (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len,
                                             0)) ||
        !(call = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                 &stele__deliver_response__descriptor, -1)) ||
        rpc_call_send(call, &env->base) || rpc_call_close_send(call)) {
        log_warn("peer", "orderer %s: cannot send the Deliver request", addr);
        goto out;
    }
    log_info("peer", "pulling blocks from orderer %s from block %llu", addr,
             (unsigned long long)from);
    uint64_t check_at = clock_mono_ms() + INTAKE_CHECK_MS, owed = 0, waited = 0;
    while (!atomic_load(&p->stopping)) {
        if (clock_mono_ms() >= check_at) {
            uint64_t h = kvledger_height(p->ledger);
            /* behind, and for lack of blocks: a peer that spent the time committing what it
             * had (catching up, or slower than the channel) does not blame its orderer */
            if (owed > h && waited >= INTAKE_CHECK_MS / 2) {
                log_warn("peer",
                         "orderer %s delivered up to block %llu in %d s, while f + 1 orderers "
                         "had %llu: moving on",
                         addr, (unsigned long long)h, INTAKE_CHECK_MS / 1000,
                         (unsigned long long)owed);
                break;
            }
            owed = reached_height(p, idx);
            check_at = clock_mono_ms() + INTAKE_CHECK_MS;
            waited = 0;
        }
        ProtobufCMessage *m = NULL;
        uint64_t t0 = clock_mono_ms();
        int rc = rpc_call_recv(call, &m, INTAKE_RECV_MS, false);
        waited += clock_mono_ms() - t0; /* waiting for the orderer, not committing */
        if (rc == STELE_ERR_TIMEOUT)
            continue;
        if (rc) {
            log_warn("peer", "orderer %s: the Deliver stream ended: %s", addr, stele_strerror(rc));
            break;
        }
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS) {
            log_warn("peer", "orderer %s ended the Deliver stream with status %d", addr, r->status);
            pb_free(m);
            break;
        }
        if (r->type_case != STELE__DELIVER_RESPONSE__TYPE_BLOCK || !r->block) {
            pb_free(m);
            continue;
        }
        uint64_t n = r->block->header ? r->block->header->number : 0;
        test_commit_delay();
        uint64_t commit_t0 = clock_mono_us();
        rc = kvledger_commit(p->ledger, r->block, &err);
        if (rc == STELE_OK)
            ops_hist_observe_us(&p->counts.commit_time, clock_mono_us() - commit_t0);
        /* an orderer's height counts once one of its blocks was taken (a refused block's
         * number proves nothing) */
        if (rc == STELE_OK && n + 1 > atomic_load(&p->orderer_height))
            atomic_store(&p->orderer_height, n + 1);
        pb_free(m);
        if (rc) {
            log_error("peer", "orderer %s: %s", addr, err ? err : stele_strerror(rc));
            free(err);
            err = NULL;
            break;
        }
    }
out:
    if (call)
        rpc_call_finish(call, true, NULL);
    pb_free(env ? &env->base : NULL);
    free(req.data);
    free(err);
    rpc_channel_close(ch);
}

static void *intake_main(void *arg)
{
    struct peer *p = arg;
    for (size_t idx = 0; !atomic_load(&p->stopping); idx = (idx + 1) % p->n_orderers) {
        pull(p, idx);
        for (uint64_t slept = 0; slept < p->cfg->retry_ms && !atomic_load(&p->stopping);
             slept += 50)
            clock_sleep_ms(50);
    }
    return NULL;
}

int peer_intake_start(struct peer *p, char **errmsg)
{
    if (p->n_orderers == 0)
        return stele_errf(errmsg, STELE_ERR_CONFIG,
                          "no orderer to pull blocks from: list them under `orderers` (the "
                          "genesis block gives no address)");
    if (pthread_create(&p->intake, NULL, intake_main, p) != 0)
        return stele_errf(errmsg, STELE_ERR_NOMEM, "cannot start the block intake thread");
    p->intake_running = true;
    return STELE_OK;
}

void peer_intake_stop(struct peer *p)
{
    if (!p->intake_running)
        return;
    atomic_store(&p->stopping, true);
    p->intake_running = false;
    pthread_join(p->intake, NULL);
}
