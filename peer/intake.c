/*
 * intake.c — pulling blocks from the orderers (DESIGN §2 step 5).
 *
 * One thread asks one orderer at a time for every block from the ledger's height on
 * (AtomicBroadcast/Deliver, a request signed by the peer's identity, blocking until ready) and
 * commits what arrives (ledger.h: finality proof, link, validation, store, state). When the
 * orderer cannot be reached, ends the stream, sends a block that is refused (a bad
 * certificate, a fork) or goes silent for INTAKE_SILENCE_MS while another orderer is ahead,
 * the thread moves to the next orderer of the list after `orderer_retry`. Under PBFT any
 * orderer's blocks are as good as another's: a block is taken only with 2f+1 orderer
 * signatures, so a Byzantine orderer can delay the peer but never feed it a false block.
 */
#include "peer_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/envelope.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "stele/orderer.pb-c.h"

#include <stdlib.h>
#include <string.h>

#define INTAKE_RECV_MS    500   /* receive slice: how often stop and silence are checked */
#define INTAKE_SILENCE_MS 10000 /* no block for this long while another orderer is ahead */

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

/* True when an orderer other than number `cur` has blocks past `height`. */
static bool other_ahead(struct peer *p, size_t cur, uint64_t height)
{
    for (size_t i = 0; i < p->n_orderers; i++) {
        if (i == cur)
            continue;
        uint64_t h = orderer_height(p, p->orderers[i]);
        if (h > atomic_load(&p->orderer_height))
            atomic_store(&p->orderer_height, h);
        if (h > height)
            return true;
    }
    return false;
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
    uint64_t want = data + 16ull * c->batch->max_message_count + 1024ull * c->n_orderers +
                    (1u << 20);
    return want < cap ? (size_t)want : cap;
}

/* Pulls from orderer number `idx` until it fails or the peer stops. */
static void pull(struct peer *p, size_t idx)
{
    const char *addr = p->orderers[idx];
    struct rpc_channel_opts co = {.max_message = block_cap(p),
                                  .fail_fast = true,
                                  .tls = cli_tls_client(&p->cfg->tls)};
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
    uint64_t quiet_since = clock_mono_ms();
    while (!atomic_load(&p->stopping)) {
        ProtobufCMessage *m = NULL;
        int rc = rpc_call_recv(call, &m, INTAKE_RECV_MS, false);
        if (rc == STELE_ERR_TIMEOUT) {
            uint64_t h = kvledger_height(p->ledger);
            if (clock_mono_ms() - quiet_since >= INTAKE_SILENCE_MS) {
                if (other_ahead(p, idx, h)) {
                    log_warn("peer",
                             "orderer %s sent nothing for %d s while another orderer "
                             "is ahead: moving on",
                             addr, INTAKE_SILENCE_MS / 1000);
                    break;
                }
                quiet_since = clock_mono_ms();
            }
            continue;
        }
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
        rc = kvledger_commit(p->ledger, r->block, &err);
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
        quiet_since = clock_mono_ms();
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
