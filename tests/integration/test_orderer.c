/*
 * test_orderer.c — a real stele-orderer process (solo) on 127.0.0.1: concurrent Broadcast
 * clients and Deliver subscribers, refusals with their statuses, subscriptions from the middle,
 * and a restart in the middle of a subscription.
 *
 * Identities are real (lib/identity records issued by a CA key made here, as stele-ca would):
 * the orderer's enrolment directory, 16 clients, an auditor (may read, not write) and a client
 * of a CA the orderer does not trust. The tests run in order on one orderer.
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS        16
#define PER_CLIENT     25
#define MAX_TXS        4096
#define ABSOLUTE_BYTES (64 * 1024)

/* ---- the orderer process ---- */

struct net {
    char *dir, *bin, *config, *port_file, *log;
    pid_t pid;
    pthread_mutex_t mu;
    char target[64]; /* current address (changes across restarts) */
    struct crypto_key *ca, *other_ca;
    struct test_identity orderer;
    struct test_identity clients[CLIENTS];
    struct test_identity auditor;
    struct test_identity stranger;
    char accepted[MAX_TXS][65]; /* tx_ids answered SUCCESS */
    size_t n_accepted;
    char refused[64][65]; /* tx_ids refused (that must never be in a block) */
    size_t n_refused;
};

static struct net g_net;

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

static void start_orderer(void)
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

static void stop_orderer(void)
{
    int st;
    kill(g_net.pid, SIGTERM);
    assert_int_equal(waitpid(g_net.pid, &st, 0), g_net.pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("stele-orderer did not stop cleanly (status %d); see %s", st, g_net.log);
}

static void target(char out[64])
{
    pthread_mutex_lock(&g_net.mu);
    memcpy(out, g_net.target, 64);
    pthread_mutex_unlock(&g_net.mu);
}

static int setup(void **state)
{
    (void)state;
    struct net *n = &g_net;
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
    buf_printf(&yaml, "node_id: orderer-test\nlisten: 127.0.0.1:0\ndata_dir: data\n"
                      "identity_dir: id\nchannel_id: ch1\ngenesis_file: genesis.block\n"
                      "fsync: none\nlog_level: warn\n"
                      "batch:\n  max_message_count: 10\n  batch_timeout: 50ms\n"
                      "  preferred_max_bytes: 16KiB\n  absolute_max_bytes: 64KiB\n"
                      "membership:\n  cas:\n    - public_key: ca.pub\n");
    assert_int_equal(test_write_file(n->config, yaml.data, yaml.len), 0);
    buf_release(&yaml);
    snprintf(path, sizeof path, "%s/genesis.block", n->dir);
    char *gargv[] = {n->bin, "genesis", "--config", n->config, "--out", path, NULL};
    run(gargv, false);
    start_orderer();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct net *n = &g_net;
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
static ProtobufCBinaryData tx(const struct crypto_key *key, const struct test_identity *who,
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
static struct rpc_channel *channel_now(bool fail_fast)
{
    char t[64];
    target(t);
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
static void broadcast(const ProtobufCBinaryData *envs, size_t n, Stele__Status *status,
                      char (*tx_ids)[65])
{
    char why[160];
    if (!try_broadcast(envs, n, status, tx_ids, why))
        fail_msg("%s", why);
}

struct sender {
    int client;
    pthread_t thread;
    bool ok;
    char why[160]; /* what went wrong when !ok */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    ProtobufCBinaryData envs[PER_CLIENT];
    char ids[PER_CLIENT][65], got[PER_CLIENT][65];
    Stele__Status st[PER_CLIENT];
    for (int i = 0; i < PER_CLIENT; i++)
        envs[i] = tx(g_net.clients[s->client].key, &g_net.clients[s->client], "ch1",
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

struct seen_block {
    uint64_t number;
    uint8_t hash[32], prev[32];
    size_t n_txs;
};

struct subscriber {
    uint64_t next; /* next block number wanted */
    uint64_t stop; /* last block wanted (UINT64_MAX: follow) */
    volatile bool quit;
    pthread_t thread;
    bool joined; /* the thread was joined */
    pthread_mutex_t mu;
    struct seen_block *blocks;
    size_t n_blocks;
    char (*txs)[65];
    size_t n_txs;
    int final_status; /* last status received */
    bool bad;         /* an invariant broke (see why) */
    char why[160];
};

/* A signed Deliver request for start..stop. */
static ProtobufCBinaryData seek(uint64_t start, uint64_t stop, bool fail_if_not_ready)
{
    Stele__SeekSpecified a = STELE__SEEK_SPECIFIED__INIT, b = STELE__SEEK_SPECIFIED__INIT;
    a.number = start;
    b.number = stop;
    Stele__SeekPosition s = STELE__SEEK_POSITION__INIT, e = STELE__SEEK_POSITION__INIT;
    s.type_case = e.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    s.specified = &a;
    e.specified = &b;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &s;
    si.stop = &e;
    si.behavior = fail_if_not_ready ? STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY
                                    : STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY;
    size_t len;
    uint8_t *data = pb_pack(&si.base, &len);
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = g_net.auditor.record->data,
                                .creator_len = g_net.auditor.record->len,
                                .data = data,
                                .data_len = len};
    ProtobufCBinaryData out;
    assert_int_equal(envelope_build(&p, g_net.auditor.key, &out, NULL), STELE_OK);
    free(data);
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
        ProtobufCBinaryData req = seek(from, s->stop, false);
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
static struct subscriber *sub_start(uint64_t start, uint64_t stop)
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
static void sub_wait_txs(struct subscriber *s, size_t n)
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
static void sub_join(struct subscriber *s)
{
    pthread_join(s->thread, NULL);
    s->joined = true;
}

static void sub_end(struct subscriber *s)
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
static void assert_exactly_once(struct subscriber *s)
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

/* ---- tests ---- */

static void concurrent_broadcast_many_subscribers(void **state)
{
    (void)state;
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    struct subscriber *more[3] = {sub_start(0, UINT64_MAX), sub_start(0, UINT64_MAX),
                                  sub_start(0, UINT64_MAX)};
    struct sender senders[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        senders[i] = (struct sender){.client = i};
        assert_int_equal(pthread_create(&senders[i].thread, NULL, sender_main, &senders[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(senders[i].thread, NULL);
        if (!senders[i].ok)
            fail_msg("sender %d: %s", i, senders[i].why);
    }
    assert_int_equal(g_net.n_accepted, CLIENTS * PER_CLIENT);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    assert_int_equal(sub->blocks[0].number, 0);
    for (size_t i = 1; i < sub->n_blocks; i++)
        assert_true(sub->blocks[i].n_txs >= 1 && sub->blocks[i].n_txs <= 10);
    /* Every subscriber saw the same chain. */
    for (int k = 0; k < 3; k++) {
        sub_wait_txs(more[k], g_net.n_accepted);
        assert_exactly_once(more[k]);
        pthread_mutex_lock(&more[k]->mu);
        assert_memory_equal(more[k]->blocks[more[k]->n_blocks - 1].hash,
                            sub->blocks[sub->n_blocks - 1].hash, 32);
        pthread_mutex_unlock(&more[k]->mu);
        sub_end(more[k]);
    }
    sub_end(sub);
}

/* The same envelope with its two fields in the other order (valid protobuf, not what an
 * encoder writes). Takes `e` over. */
static ProtobufCBinaryData reversed(ProtobufCBinaryData e)
{
    Stele__Envelope *d =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, e.data, e.len, 0);
    assert_non_null(d);
    Stele__Envelope sig_only = STELE__ENVELOPE__INIT, payload_only = STELE__ENVELOPE__INIT;
    sig_only.signature = d->signature;
    payload_only.payload = d->payload;
    struct buf out;
    buf_init(&out);
    assert_int_equal(pb_pack_buf(&sig_only.base, &out), STELE_OK);
    assert_int_equal(pb_pack_buf(&payload_only.base, &out), STELE_OK);
    assert_int_equal(out.len, e.len);
    assert_memory_not_equal(out.data, e.data, e.len);
    pb_free(&d->base);
    free(e.data);
    ProtobufCBinaryData r;
    r.data = buf_steal(&out, &r.len);
    return r;
}

/* True when some block holds exactly the octets of `e`. */
static bool chain_holds(ProtobufCBinaryData e)
{
    Stele__SeekOldest oldest = STELE__SEEK_OLDEST__INIT;
    Stele__SeekNewest newest = STELE__SEEK_NEWEST__INIT;
    Stele__SeekPosition from = STELE__SEEK_POSITION__INIT, to = STELE__SEEK_POSITION__INIT;
    from.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    from.oldest = &oldest;
    to.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
    to.newest = &newest;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &from;
    si.stop = &to;
    uint8_t data[64];
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = g_net.auditor.record->data,
                                .creator_len = g_net.auditor.record->len,
                                .data = data,
                                .data_len = stele__seek_info__pack(&si, data)};
    ProtobufCBinaryData req;
    assert_int_equal(envelope_build(&p, g_net.auditor.key, &req, NULL), STELE_OK);
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, 10000);
    assert_int_equal(rpc_call_send_bytes(c, req.data, req.len), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    bool found = false;
    for (;;) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        bool done = r->type_case != STELE__DELIVER_RESPONSE__TYPE_BLOCK;
        for (size_t i = 0; !done && i < r->block->data->n_envelopes; i++) {
            const ProtobufCBinaryData *x = &r->block->data->envelopes[i];
            found |= x->len == e.len && memcmp(x->data, e.data, e.len) == 0;
        }
        pb_free(m);
        if (done)
            break;
    }
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    rpc_channel_close(ch);
    free(req.data);
    return found;
}

static void refusals_never_reach_a_block(void **state)
{
    (void)state;
    enum { N = 11 };
    ProtobufCBinaryData envs[N];
    char ids[N][65], got[N][65];
    Stele__Status st[N];
    /* 0: not an Envelope at all. */
    envs[0] = (ProtobufCBinaryData){1, (uint8_t *)strdup("\xff")};
    /* 1: signed by a stranger in a member's name. */
    envs[1] = tx(g_net.stranger.key, &g_net.clients[1], "ch1", 10, ids[1]);
    /* 2: a stranger (a CA the orderer does not trust) in its own name. */
    envs[2] = tx(g_net.stranger.key, &g_net.stranger, "ch1", 10, ids[2]);
    /* 4: over AbsoluteMaxBytes. */
    envs[4] = tx(g_net.clients[2].key, &g_net.clients[2], "ch1", ABSOLUTE_BYTES + 100, ids[4]);
    /* 5: another channel. */
    envs[5] = tx(g_net.clients[3].key, &g_net.clients[3], "ch2", 10, ids[5]);
    /* 6 and 7: a valid one and the same envelope again on the same stream. */
    envs[6] = tx(g_net.clients[4].key, &g_net.clients[4], "ch1", 10, ids[6]);
    envs[7] = (ProtobufCBinaryData){envs[6].len, malloc(envs[6].len)};
    memcpy(envs[7].data, envs[6].data, envs[6].len);
    /* 8: an auditor may read blocks but not broadcast. */
    envs[8] = tx(g_net.auditor.key, &g_net.auditor, "ch1", 10, ids[8]);
    /* 9: valid, but encoded with the signature field first: stored exactly like that. */
    envs[9] = reversed(tx(g_net.clients[5].key, &g_net.clients[5], "ch1", 10, ids[9]));
    /* 10: over PreferredMaxBytes but under AbsoluteMaxBytes: accepted, in a block of its own. */
    envs[10] = tx(g_net.clients[6].key, &g_net.clients[6], "ch1", 40000, ids[10]);
    /* 3: a replay: the first envelope of block 1, fetched from the chain. */
    {
        struct rpc_channel *ch = channel_now(false);
        ProtobufCBinaryData req = seek(1, 1, true);
        Stele__Envelope *e =
            (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len, 0);
        struct rpc_call *call =
            rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                            &stele__deliver_response__descriptor, 10000);
        assert_int_equal(rpc_call_send(call, &e->base), STELE_OK);
        rpc_call_close_send(call);
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(call, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        assert_int_equal(r->type_case, STELE__DELIVER_RESPONSE__TYPE_BLOCK);
        ProtobufCBinaryData *first = &r->block->data->envelopes[0];
        envs[3] = (ProtobufCBinaryData){first->len, malloc(first->len)};
        memcpy(envs[3].data, first->data, first->len);
        pb_free(m);
        assert_int_equal(rpc_call_recv(call, &m, 10000, false), STELE_OK);
        assert_int_equal(((Stele__DeliverResponse *)m)->status, STELE__STATUS__STATUS_SUCCESS);
        pb_free(m);
        struct rpc_result res;
        rpc_call_finish(call, false, &res);
        pb_free(&e->base);
        free(req.data);
        rpc_channel_close(ch);
    }
    broadcast(envs, N, st, got);
    assert_int_equal(st[0], STELE__STATUS__STATUS_BAD_REQUEST);
    assert_int_equal(st[1], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[2], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[3], STELE__STATUS__STATUS_CONFLICT);
    assert_int_equal(st[4], STELE__STATUS__STATUS_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(st[5], STELE__STATUS__STATUS_BAD_REQUEST);
    assert_int_equal(st[6], STELE__STATUS__STATUS_SUCCESS);
    assert_int_equal(st[7], STELE__STATUS__STATUS_CONFLICT);
    assert_int_equal(st[8], STELE__STATUS__STATUS_FORBIDDEN);
    assert_int_equal(st[9], STELE__STATUS__STATUS_SUCCESS);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[9], 65);
    assert_int_equal(st[10], STELE__STATUS__STATUS_SUCCESS);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[10], 65);
    assert_string_equal(got[6], ids[6]);
    memcpy(g_net.accepted[g_net.n_accepted++], ids[6], 65);
    for (int i = 1; i < N; i++)
        if (i != 3 && i != 6 && i != 7 && i != 9 && i != 10)
            memcpy(g_net.refused[g_net.n_refused++], ids[i], 65);
    /* Read the whole chain again: accepted ones once, refused ones never. */
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    sub_end(sub);
    /* The blocks hold the envelopes octet for octet as sent. */
    assert_true(chain_holds(envs[6]));
    assert_true(chain_holds(envs[9]));
    assert_true(chain_holds(envs[10]));
    for (int i = 0; i < N; i++)
        free(envs[i].data);
}

static void subscribe_from_the_middle(void **state)
{
    (void)state;
    struct subscriber *a = sub_start(3, 5), *b = sub_start(2, 4);
    sub_join(a);
    sub_join(b);
    assert_int_equal(a->n_blocks, 3);
    assert_int_equal(a->blocks[0].number, 3);
    assert_int_equal(a->blocks[2].number, 5);
    assert_int_equal(a->final_status, STELE__STATUS__STATUS_SUCCESS);
    assert_int_equal(b->n_blocks, 3);
    assert_memory_equal(a->blocks[0].prev, b->blocks[0].hash, 32); /* 3 follows 2 */
    sub_end(a);
    sub_end(b);
}

/* One Deliver call with the given SeekInfo data; returns the blocks received and the final
 * status in *status. */
static size_t deliver_raw(const uint8_t *data, size_t len, Stele__Status *status)
{
    struct envelope_params p = {.channel_id = "ch1",
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = g_net.auditor.record->data,
                                .creator_len = g_net.auditor.record->len,
                                .data = data,
                                .data_len = len};
    ProtobufCBinaryData req;
    assert_int_equal(envelope_build(&p, g_net.auditor.key, &req, NULL), STELE_OK);
    Stele__Envelope *e =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL, req.data, req.len, 0);
    struct rpc_channel *ch = channel_now(false);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                         &stele__deliver_response__descriptor, 10000);
    assert_int_equal(rpc_call_send(c, &e->base), STELE_OK);
    assert_int_equal(rpc_call_close_send(c), STELE_OK);
    size_t blocks = 0;
    *status = STELE__STATUS__STATUS_UNKNOWN;
    for (;;) {
        ProtobufCMessage *m;
        assert_int_equal(rpc_call_recv(c, &m, 10000, false), STELE_OK);
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        bool done = r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS;
        if (done) {
            *status = r->status;
        } else {
            assert_int_equal(r->block->header->number, blocks);
            blocks++;
        }
        pb_free(m);
        if (done)
            break;
    }
    struct rpc_result res;
    assert_int_equal(rpc_call_finish(c, false, &res), STELE_OK);
    rpc_channel_close(ch);
    pb_free(&e->base);
    free(req.data);
    return blocks;
}

static void seek_positions_and_behaviors(void **state)
{
    (void)state;
    Stele__SeekOldest oldest = STELE__SEEK_OLDEST__INIT;
    Stele__SeekNewest newest = STELE__SEEK_NEWEST__INIT;
    Stele__SeekPosition from = STELE__SEEK_POSITION__INIT, to = STELE__SEEK_POSITION__INIT;
    from.type_case = STELE__SEEK_POSITION__TYPE_OLDEST;
    from.oldest = &oldest;
    to.type_case = STELE__SEEK_POSITION__TYPE_NEWEST;
    to.newest = &newest;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &from;
    si.stop = &to;
    uint8_t buf[64];
    size_t len = stele__seek_info__pack(&si, buf);
    Stele__Status st;
    /* oldest..newest: the whole chain as it is now, then SUCCESS. */
    size_t n = deliver_raw(buf, len, &st);
    assert_int_equal(st, STELE__STATUS__STATUS_SUCCESS);
    assert_true(n > 10);
    /* No stop position: refused. */
    si.stop = NULL;
    len = stele__seek_info__pack(&si, buf);
    assert_int_equal(deliver_raw(buf, len, &st), 0);
    assert_int_equal(st, STELE__STATUS__STATUS_BAD_REQUEST);
    /* Not a SeekInfo at all. */
    assert_int_equal(deliver_raw((const uint8_t *)"\xff\xff", 2, &st), 0);
    assert_int_equal(st, STELE__STATUS__STATUS_BAD_REQUEST);
    /* Past the end with FAIL_IF_NOT_READY: the blocks there are, then NOT_FOUND. */
    Stele__SeekSpecified far = STELE__SEEK_SPECIFIED__INIT;
    far.number = 1000000;
    to.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    to.specified = &far;
    si.stop = &to;
    si.behavior = STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY;
    len = stele__seek_info__pack(&si, buf);
    assert_int_equal(deliver_raw(buf, len, &st), n);
    assert_int_equal(st, STELE__STATUS__STATUS_NOT_FOUND);
}

/* `stele block get` shows a solo proof whose signer it verified with the caller's CA. */
static void cli_verifies_the_proof(void **state)
{
    (void)state;
    char dir[512], cmd[2048], t[64];
    snprintf(dir, sizeof dir, "%s/auditor", g_net.dir);
    test_identity_save(&g_net.auditor, g_net.ca, dir);
    target(t);
    char *cli = test_binary_path("stele");
    snprintf(cmd, sizeof cmd, "%s block get 1 --orderer %s --identity %s --json", cli, t, dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    if (!strstr(out, "\"signature\":\"valid\"") ||
        !strstr(out, "\"signer_identity\":\"verified\"") ||
        !strstr(out, "\"signer_id\":\"orderer0\"") || !strstr(out, "\"data_hash_valid\":true"))
        fail_msg("stele block get: %s", out);
    free(cli);
}

static void restart_resumes_at_the_right_height(void **state)
{
    (void)state;
    struct subscriber *sub = sub_start(0, UINT64_MAX);
    sub_wait_txs(sub, g_net.n_accepted);
    uint64_t before = sub->next;
    stop_orderer();
    start_orderer();
    /* ChainInfo agrees with what was delivered. */
    struct rpc_channel *ch = channel_now(false);
    Stele__ChainInfoRequest req = STELE__CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m;
    struct rpc_result res;
    assert_int_equal(rpc_unary(ch, "/stele.Orderer/ChainInfo", &req.base,
                               &stele__blockchain_info__descriptor, &m, 5000, &res),
                     STELE_OK);
    Stele__BlockchainInfo *info = (Stele__BlockchainInfo *)m;
    assert_int_equal(info->height, before);
    pthread_mutex_lock(&sub->mu);
    assert_memory_equal(info->current_hash.data, sub->blocks[sub->n_blocks - 1].hash, 32);
    pthread_mutex_unlock(&sub->mu);
    pb_free(m);
    rpc_channel_close(ch);
    /* New transactions land after the old head, delivered exactly once across the restart. */
    struct sender s = {.client = 5};
    sender_main(&s);
    if (!s.ok)
        fail_msg("%s", s.why);
    sub_wait_txs(sub, g_net.n_accepted);
    assert_exactly_once(sub);
    assert_true(sub->next > before);
    sub_end(sub);
}

/* Sends envelopes on one stream until told to stop or the stream breaks; never asserts (the
 * orderer is killed under it). */
struct flood {
    pthread_t thread;
    volatile bool quit;
    size_t acknowledged; /* SUCCESS answers received (for debugging) */
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    while (!f->quit) { /* a new stream whenever one breaks (the orderer gets killed) */
        struct rpc_channel *ch = channel_now(false);
        struct rpc_call *c =
            rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                            &stele__broadcast_response__descriptor, 30000);
        while (c && !f->quit) {
            char id[65];
            ProtobufCBinaryData e = tx(g_net.clients[7].key, &g_net.clients[7], "ch1", 200, id);
            int rc = rpc_call_send_bytes(c, e.data, e.len);
            free(e.data);
            ProtobufCMessage *m = NULL;
            if (rc == STELE_OK)
                rc = rpc_call_recv(c, &m, 5000, false);
            if (rc != STELE_OK)
                break;
            if (((Stele__BroadcastResponse *)m)->status == STELE__STATUS__STATUS_SUCCESS)
                f->acknowledged++;
            pb_free(m);
        }
        struct rpc_result res;
        if (c)
            rpc_call_finish(c, true, &res);
        rpc_channel_close(ch);
        if (!f->quit)
            clock_sleep_ms(50);
    }
    return NULL;
}

/* With fsync every_block, every block a subscriber has seen survives kill -9 of the orderer in
 * the middle of a load, and the restarted orderer continues the same chain. (Envelopes
 * acknowledged but not yet cut are lost with solo; clients resend what Deliver never shows.) */
static void sigkill_keeps_every_delivered_block(void **state)
{
    (void)state;
    size_t len;
    char *cfg = test_read_file(g_net.config, &len), *fixed = NULL;
    char *at = strstr(cfg, "fsync: none");
    assert_non_null(at);
    assert_true(asprintf(&fixed, "%.*sfsync: every_block%s", (int)(at - cfg), cfg,
                         at + strlen("fsync: none")) > 0);
    assert_int_equal(test_write_file(g_net.config, fixed, strlen(fixed)), 0);
    free(fixed);
    free(cfg);
    stop_orderer();
    start_orderer();

    struct subscriber *sub = sub_start(0, UINT64_MAX);
    struct flood f = {0};
    assert_int_equal(pthread_create(&f.thread, NULL, flood_main, &f), 0);
    uint64_t start = clock_mono_ms();
    size_t have = 0;
    for (;;) { /* until a few blocks of the flood were delivered */
        pthread_mutex_lock(&sub->mu);
        have = sub->n_txs;
        pthread_mutex_unlock(&sub->mu);
        if (have >= g_net.n_accepted + 30 || clock_mono_ms() - start > 30000)
            break;
        clock_sleep_ms(5);
    }
    kill(g_net.pid, SIGKILL); /* in the middle of the flood */
    int st;
    assert_int_equal(waitpid(g_net.pid, &st, 0), g_net.pid);
    assert_true(WIFSIGNALED(st));
    f.quit = true;
    pthread_join(f.thread, NULL);
    sub->quit = true;
    pthread_join(sub->thread, NULL);
    sub->joined = true;
    assert_true(have >= g_net.n_accepted + 30);

    start_orderer();
    struct subscriber *after = sub_start(0, UINT64_MAX);
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&after->mu);
        size_t got = after->n_blocks;
        pthread_mutex_unlock(&after->mu);
        if (got >= sub->n_blocks)
            break;
        clock_sleep_ms(5);
    }
    pthread_mutex_lock(&after->mu);
    assert_true(after->n_blocks >= sub->n_blocks);
    for (size_t i = 0; i < sub->n_blocks; i++)
        assert_memory_equal(after->blocks[i].hash, sub->blocks[i].hash, 32);
    pthread_mutex_unlock(&after->mu);
    /* And it goes on ordering on top of that chain. */
    struct sender more = {.client = 8};
    sender_main(&more);
    if (!more.ok)
        fail_msg("%s", more.why);
    sub_end(after);
    sub_end(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_broadcast_many_subscribers),
        cmocka_unit_test(refusals_never_reach_a_block),
        cmocka_unit_test(subscribe_from_the_middle),
        cmocka_unit_test(seek_positions_and_behaviors),
        cmocka_unit_test(cli_verifies_the_proof),
        cmocka_unit_test(restart_resumes_at_the_right_height),
        cmocka_unit_test(sigkill_keeps_every_delivered_block),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
