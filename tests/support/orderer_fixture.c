/*
 * orderer_fixture.c — the orderer process, clients and subscribers of orderer_fixture.h.
 */
#include "orderer_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/seek.h"
#include "pb/pb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the orderer process ---- */

struct orderer_net g_net;
const char *orderer_fixture_extra_yaml;

static void run(char *const argv[], bool background)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that dies leaves no orderer running */
        FILE *f = fopen(g_net.log, "a");
        if (f)
            dup2(fileno(f), 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (background) {
        g_net.pid = pid;
        return;
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

void start_orderer(void)
{
    unlink(g_net.port_file);
    char *argv[] = {g_net.bin, "--config", g_net.config, "--port-file", g_net.port_file, NULL};
    run(argv, true);
    for (int i = 0; i < 400; i++) {
        size_t len;
        char *port = test_read_file(g_net.port_file, &len);
        if (port && len > 1 && port[len - 1] == '\n') {
            pthread_mutex_lock(&g_net.mu);
            snprintf(g_net.target, sizeof g_net.target, "127.0.0.1:%d", atoi(port));
            pthread_mutex_unlock(&g_net.mu);
            free(port);
            return;
        }
        free(port);
        int st;
        if (waitpid(g_net.pid, &st, WNOHANG) == g_net.pid)
            fail_msg("stele-orderer exited at start; see %s", g_net.log);
        clock_sleep_ms(25);
    }
    fail_msg("stele-orderer did not write its port");
}

void stop_orderer(void)
{
    int st;
    kill(g_net.pid, SIGTERM);
    assert_int_equal(waitpid(g_net.pid, &st, 0), g_net.pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("stele-orderer did not stop cleanly (status %d); see %s", st, g_net.log);
}

void orderer_target(char out[64])
{
    pthread_mutex_lock(&g_net.mu);
    memcpy(out, g_net.target, 64);
    pthread_mutex_unlock(&g_net.mu);
}

int orderer_net_setup(void **state)
{
    (void)state;
    struct orderer_net *n = &g_net;
    pthread_mutex_init(&n->mu, NULL);
    n->dir = test_tmpdir("orderer");
    n->bin = test_binary_path("stele-orderer");
    assert_int_equal(asprintf(&n->config, "%s/orderer.yaml", n->dir) > 0, 1);
    assert_int_equal(asprintf(&n->port_file, "%s/port", n->dir) > 0, 1);
    assert_int_equal(asprintf(&n->log, "%s/orderer.log", n->dir) > 0, 1);
    char path[512];
    assert_int_equal(crypto_key_generate(&n->ca), STELE_OK);
    assert_int_equal(crypto_key_generate(&n->other_ca), STELE_OK);
    uint8_t pub[33];
    crypto_key_public_compressed(n->ca, pub);
    snprintf(path, sizeof path, "%s/ca.pub", n->dir);
    assert_int_equal(test_write_file(path, pub, sizeof pub), 0);
    test_identity_issue(n->ca, 0, "orderer0", "OrdererOrg", "orderer", 0, 86400, &n->orderer);
    snprintf(path, sizeof path, "%s/id", n->dir);
    test_identity_save(&n->orderer, n->ca, path);
    for (int i = 0; i < CLIENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "client%d", i);
        test_identity_issue(n->ca, 0, id, "Org1", "client", 0, 86400, &n->clients[i]);
    }
    test_identity_issue(n->ca, 0, "audrey", "Org1", "auditor", 0, 86400, &n->auditor);
    test_identity_issue(n->other_ca, 0, "mallory", "Org1", "client", 0, 86400, &n->stranger);
    struct buf yaml;
    buf_init(&yaml);
    buf_printf(&yaml,
               "node_id: orderer-test\nlisten: 127.0.0.1:0\ndata_dir: data\n"
               "identity_dir: id\nchannel_id: ch1\ngenesis_file: genesis.block\n"
               "fsync: none\nlog_level: warn\n"
               "batch:\n  max_message_count: 10\n  batch_timeout: 50ms\n"
               "  preferred_max_bytes: 16KiB\n  absolute_max_bytes: 64KiB\n"
               "membership:\n  cas:\n    - public_key: ca.pub\n%s",
               orderer_fixture_extra_yaml ? orderer_fixture_extra_yaml : "");
    assert_int_equal(test_write_file(n->config, yaml.data, yaml.len), 0);
    buf_release(&yaml);
    snprintf(path, sizeof path, "%s/genesis.block", n->dir);
    char *gargv[] = {n->bin, "genesis", "--config", n->config, "--out", path, NULL};
    run(gargv, false);
    start_orderer();
    return 0;
}

int orderer_net_teardown(void **state)
{
    (void)state;
    struct orderer_net *n = &g_net;
    stop_orderer();
    test_identity_free(&n->orderer);
    for (int i = 0; i < CLIENTS; i++)
        test_identity_free(&n->clients[i]);
    test_identity_free(&n->auditor);
    test_identity_free(&n->stranger);
    crypto_key_destroy(n->ca);
    crypto_key_destroy(n->other_ca);
    test_rmtree(n->dir);
    free(n->dir);
    free(n->bin);
    free(n->config);
    free(n->port_file);
    free(n->log);
    pthread_mutex_destroy(&n->mu);
    return 0;
}

/* ---- clients ---- */

/* A transaction envelope naming `who` as creator, signed with `key`, with `pad` octets of
 * data. */
ProtobufCBinaryData orderer_tx(const struct crypto_key *key, const struct test_identity *who,
                               const char *channel, size_t pad, char id[65])
{
    uint8_t *data = calloc(1, pad + 1);
    memset(data, 'd', pad);
    struct envelope_params p = {.channel_id = channel,
                                .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                .creator = who->record->data,
                                .creator_len = who->record->len,
                                .data = data,
                                .data_len = pad};
    ProtobufCBinaryData e;
    assert_int_equal(envelope_build(&p, key, &e, id), STELE_OK);
    free(data);
    return e;
}

/* A channel to the orderer's current address. `fail_fast` for subscribers, which reconnect on
 * their own (and must notice a stopped orderer); the others wait for the server to be ready
 * up to their deadline, as daemons do, so a loaded machine's slow handshake is no failure. */
struct rpc_channel *channel_now(bool fail_fast)
{
    char t[64];
    orderer_target(t);
    struct rpc_channel_opts co = {.max_message = 8u << 20, .fail_fast = fail_fast};
    struct rpc_channel *ch = rpc_channel_open(t, &co, NULL);
    assert_non_null(ch);
    return ch;
}

/* Sends `n` serialized envelopes on one Broadcast stream, all first, then reads the n answers.
 * Returns true, or false with `why` saying what went wrong. No cmocka assertion: senders run
 * on threads of their own. */
static bool try_broadcast(const ProtobufCBinaryData *envs, size_t n, Stele__Status *status,
                          char (*tx_ids)[65], char why[160])
{
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                         &stele__broadcast_response__descriptor, 30000);
    const char *step = "open";
    int rc = c ? STELE_OK : STELE_ERR_NOMEM;
    for (size_t i = 0; rc == STELE_OK && i < n; i++) /* as they are, not re-encoded */
        rc = rpc_call_send_bytes(c, envs[i].data, envs[i].len);
    if (rc == STELE_OK) {
        step = "close_send";
        rc = rpc_call_close_send(c);
    }
    for (size_t i = 0; rc == STELE_OK && i < n; i++) {
        ProtobufCMessage *m;
        step = "recv";
        if ((rc = rpc_call_recv(c, &m, 30000, false)) != STELE_OK)
            break;
        Stele__BroadcastResponse *r = (Stele__BroadcastResponse *)m;
        status[i] = r->status;
        snprintf(tx_ids[i], 65, "%s", r->tx_id);
        pb_free(m);
    }
    if (rc == STELE_OK) {
        ProtobufCMessage *m = NULL;
        step = "end of stream";
        rc = rpc_call_recv(c, &m, 30000, false) == STELE_ERR_NOT_FOUND ? STELE_OK : STELE_ERR_STATE;
        pb_free(m);
    }
    struct rpc_result res = {0};
    int frc = c ? rpc_call_finish(c, rc != STELE_OK, &res) : STELE_OK;
    if (rc == STELE_OK && frc != STELE_OK) {
        step = "finish";
        rc = frc;
    }
    if (rc != STELE_OK)
        snprintf(why, 160, "broadcast %s: %s (%s %.100s)", step, stele_strerror(rc),
                 rpc_code_name(res.code), res.detail);
    rpc_channel_close(ch);
    return rc == STELE_OK;
}

/* try_broadcast() on the test's own thread. */
void orderer_broadcast(const ProtobufCBinaryData *envs, size_t n, Stele__Status *status,
                       char (*tx_ids)[65])
{
    char why[160];
    if (!try_broadcast(envs, n, status, tx_ids, why))
        fail_msg("%s", why);
}

void *orderer_sender_main(void *arg)
{
    struct sender *s = arg;
    ProtobufCBinaryData envs[PER_CLIENT];
    char ids[PER_CLIENT][65], got[PER_CLIENT][65];
    Stele__Status st[PER_CLIENT];
    for (int i = 0; i < PER_CLIENT; i++)
        envs[i] = orderer_tx(g_net.clients[s->client].key, &g_net.clients[s->client], "ch1",
                             (size_t)(i * 37 % 700), ids[i]);
    s->ok = try_broadcast(envs, PER_CLIENT, st, got, s->why);
    for (int i = 0; s->ok && i < PER_CLIENT; i++) {
        if (st[i] != STELE__STATUS__STATUS_SUCCESS || strcmp(got[i], ids[i]) != 0) {
            s->ok = false; /* answers come one per envelope, in order */
            snprintf(s->why, sizeof s->why, "answer %d: status %d tx %.64s", i, st[i], got[i]);
        }
    }
    for (int i = 0; i < PER_CLIENT; i++) {
        pthread_mutex_lock(&g_net.mu);
        if (s->ok)
            memcpy(g_net.accepted[g_net.n_accepted++], ids[i], 65);
        pthread_mutex_unlock(&g_net.mu);
        free(envs[i].data);
    }
    return NULL;
}

/* ---- a Deliver subscriber that survives restarts ---- */

ProtobufCBinaryData deliver_seek(uint64_t start, uint64_t stop, bool fail_if_not_ready)
{
    ProtobufCBinaryData out;
    assert_int_equal(
        seek_deliver_request(
            "ch1", start, stop,
            fail_if_not_ready ? STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY
                              : STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
            g_net.auditor.record->data, g_net.auditor.record->len, g_net.auditor.key, &out),
        STELE_OK);
    return out;
}

static void sub_fail(struct subscriber *s, const char *why, uint64_t n)
{
    if (!s->bad)
        snprintf(s->why, sizeof s->why, "%s (block %llu)", why, (unsigned long long)n);
    s->bad = true;
}

/* Checks and records one delivered block. */
static void sub_take(struct subscriber *s, const Stele__Block *b)
{
    struct arena *a = arena_create(0);
    pthread_mutex_lock(&s->mu);
    uint64_t n = b->header ? b->header->number : UINT64_MAX;
    struct seen_block sb = {.number = n};
    if (n != s->next)
        sub_fail(s, "block out of order or repeated", n);
    if (blockhash_header_pb(b->header, sb.hash) != STELE_OK || blockhash_check_data(b) != STELE_OK)
        sub_fail(s, "bad header or data hash", n);
    memcpy(sb.prev, b->header->previous_hash.data, 32);
    if (s->n_blocks && memcmp(sb.prev, s->blocks[s->n_blocks - 1].hash, 32) != 0)
        sub_fail(s, "previous_hash does not link", n);
    if (n > 0) { /* solo proof: the orderer's signature over the header hash */
        Stele__SoloProof *p = (Stele__SoloProof *)pb_unpack(&stele__solo_proof__descriptor, a,
                                                            b->metadata->finality_proof.data,
                                                            b->metadata->finality_proof.len, 0);
        if (!p || strcmp(b->metadata->consensus_type, "solo") != 0 ||
            p->identity.len != g_net.orderer.record->len ||
            memcmp(p->identity.data, g_net.orderer.record->data, p->identity.len) != 0 ||
            crypto_verify_digest(g_net.orderer.key, sb.hash, p->signature.data, p->signature.len) !=
                STELE_OK)
            sub_fail(s, "solo finality proof does not verify", n);
    }
    for (size_t i = 0; b->data && i < b->data->n_envelopes; i++) {
        struct envelope_view v;
        if (envelope_parse(a, b->data->envelopes[i].data, b->data->envelopes[i].len, 0, &v, NULL) !=
            STELE_OK) {
            sub_fail(s, "undecodable envelope", n);
            continue;
        }
        if (n > 0 && s->n_txs < MAX_TXS)
            memcpy(s->txs[s->n_txs++], v.header->tx_id, 65);
        sb.n_txs++;
    }
    s->blocks = realloc(s->blocks, (s->n_blocks + 1) * sizeof *s->blocks);
    s->blocks[s->n_blocks++] = sb;
    s->next = n + 1;
    pthread_mutex_unlock(&s->mu);
    arena_destroy(a);
}

static void *subscriber_main(void *arg)
{
    struct subscriber *s = arg;
    while (!s->quit) {
        pthread_mutex_lock(&s->mu);
        uint64_t from = s->next;
        pthread_mutex_unlock(&s->mu);
        if (s->stop != UINT64_MAX && from > s->stop)
            break;
        struct rpc_channel *ch = channel_now(true);
        ProtobufCBinaryData req = deliver_seek(from, s->stop, false);
        Stele__Envelope *e =
            (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len, 0);
        struct rpc_call *c =
            rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                            &stele__deliver_response__descriptor, -1);
        bool ended = false;
        if (rpc_call_send(c, &e->base) == STELE_OK && rpc_call_close_send(c) == STELE_OK) {
            while (!s->quit && !ended) {
                ProtobufCMessage *m;
                int rc = rpc_call_recv(c, &m, 200, false);
                if (rc == STELE_ERR_TIMEOUT)
                    continue;
                if (rc != STELE_OK)
                    break;
                Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
                if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_BLOCK)
                    sub_take(s, r->block);
                else {
                    s->final_status = r->status;
                    ended = true;
                }
                pb_free(m);
            }
        }
        struct rpc_result res;
        rpc_call_finish(c, true, &res);
        pb_free(&e->base);
        free(req.data);
        rpc_channel_close(ch);
        if (ended && s->final_status == STELE__STATUS__STATUS_SUCCESS)
            break;
        clock_sleep_ms(100); /* the orderer is restarting, or the machine is slow: again */
    }
    return NULL;
}

/* Starts a subscriber for blocks start..stop (UINT64_MAX: follow). Whenever its stream ends
 * without SUCCESS (orderer restarting, connection refused) it subscribes again from the next
 * block it lacks, so what it records is exactly once, in order, across restarts. */
struct subscriber *sub_start(uint64_t start, uint64_t stop)
{
    struct subscriber *s = calloc(1, sizeof *s);
    s->next = start;
    s->stop = stop;
    s->txs = calloc(MAX_TXS, 65);
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, subscriber_main, s), 0);
    return s;
}

/* Waits until the subscriber holds every accepted tx_id (or 30 s). */
void sub_wait_txs(struct subscriber *s, size_t n)
{
    for (int i = 0; i < 3000; i++) {
        pthread_mutex_lock(&s->mu);
        size_t have = s->n_txs;
        pthread_mutex_unlock(&s->mu);
        if (have >= n)
            return;
        clock_sleep_ms(10);
    }
    fail_msg("subscriber saw %zu of %zu transactions", s->n_txs, n);
}

/* Waits for a subscriber with a stop block to finish on its own. */
void sub_join(struct subscriber *s)
{
    pthread_join(s->thread, NULL);
    s->joined = true;
}

void sub_end(struct subscriber *s)
{
    s->quit = true;
    if (!s->joined)
        pthread_join(s->thread, NULL);
    if (s->bad)
        fail_msg("deliver: %s", s->why);
    pthread_mutex_destroy(&s->mu);
    free(s->blocks);
    free(s->txs);
    free(s);
}

/* Every accepted tx_id is in the subscriber's blocks exactly once; no refused one is. */
void assert_exactly_once(struct subscriber *s)
{
    size_t hits = 0;
    for (size_t i = 0; i < g_net.n_accepted; i++) {
        size_t count = 0;
        for (size_t j = 0; j < s->n_txs; j++)
            count += strcmp(s->txs[j], g_net.accepted[i]) == 0;
        if (count != 1)
            fail_msg("tx %s appears %zu times", g_net.accepted[i], count);
        hits++;
    }
    assert_int_equal(hits, s->n_txs);
    for (size_t i = 0; i < g_net.n_refused; i++)
        for (size_t j = 0; j < s->n_txs; j++)
            if (strcmp(s->txs[j], g_net.refused[i]) == 0)
                fail_msg("refused tx %s is in a block", g_net.refused[i]);
}

void orderer_broadcast_from_all_clients(void)
{
    struct sender senders[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){.client = i};
        assert_int_equal(pthread_create(&senders[i].thread, NULL, orderer_sender_main, &senders[i]),
                         0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(senders[i].thread, NULL);
        if (!senders[i].ok)
            fail_msg("sender %d: %s", i, senders[i].why);
    }
}
