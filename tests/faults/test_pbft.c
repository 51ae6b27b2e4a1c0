/*
 * test_pbft.c — four real stele-orderer processes running pbft on 127.0.0.1 (issue 5's
 * acceptance). Every scenario ends by reading each live orderer's whole chain over
 * stele.Cluster/Fetch and asserting: identical block hashes at every height, a valid commit
 * certificate on every block, and every envelope an orderer acknowledged in exactly one block.
 *
 * Identities are real (records issued by a CA key made here); the genesis block lists the four
 * orderers with their keys and addresses. Byzantine orderers need a test build
 * (STELE_TEST_HOOKS, on in `make check`).
 */
#include "testutil.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "ledger/pbft_msg.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/orderer.pb-c.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N       4
#define CLIENTS 4
#define MAX_TXS 8192

struct cluster {
    char *dir, *bin;
    struct crypto_key *ca;
    struct test_identity orderers[N], clients[CLIENTS];
    char addr[N][32];
    char ops[N][32]; /* each orderer's operations endpoint (GET /metrics) */
    pid_t pid[N];
    Stele__ChannelConfig *cfg; /* in arena */
    struct arena *a;
    struct pbft_members m;
    pthread_mutex_t mu;
    char acked[MAX_TXS][65];
    size_t n_acked;
};

static struct cluster C;

static void path_of(char *out, size_t len, int i, const char *rel)
{
    snprintf(out, len, "%s/o%d%s%s", C.dir, i, rel[0] ? "/" : "", rel);
}

/* Writes orderer i's configuration; `fault` (may be NULL) is a test-build fault. */
static void write_config(int i, const char *fault)
{
    char path[512];
    struct buf y;
    buf_init(&y);
    buf_printf(&y,
               "node_id: o%d\nlisten: %s\ndata_dir: data\nidentity_dir: id\nchannel_id: ch\n"
               "genesis_file: ../genesis.block\nfsync: none\nlog_level: %s\n"
               "consensus:\n  type: pbft\n%s%s%s"
               "batch:\n  max_message_count: 50\n  batch_timeout: 50ms\n"
               "  preferred_max_bytes: 64KiB\n  absolute_max_bytes: 128KiB\n"
               "membership:\n  cas:\n    - public_key: ../ca.pub\n"
               "operations:\n  listen: %s\n",
               i, C.addr[i],
               getenv("STELE_TEST_LOG_LEVEL") ? getenv("STELE_TEST_LOG_LEVEL") : "info",
               fault ? "  fault: " : "", fault ? fault : "", fault ? "\n" : "", C.ops[i]);
    path_of(path, sizeof path, i, "orderer.yaml");
    assert_int_equal(test_write_file(path, y.data, y.len), 0);
    buf_release(&y);
}

static void start(int i)
{
    char conf[512], log[512];
    path_of(conf, sizeof conf, i, "orderer.yaml");
    path_of(log, sizeof log, i, "orderer.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = fopen(log, "a");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        char dir[512];
        path_of(dir, sizeof dir, i, "");
        if (chdir(dir) != 0)
            _exit(126);
        execl(C.bin, C.bin, "--config", conf, (char *)NULL);
        _exit(127);
    }
    C.pid[i] = pid;
    struct rpc_result res;
    if (rpc_health_wait(C.addr[i], NULL, "", 60000, NULL, NULL, &res) != RPC_HEALTH_SERVING)
        fail_msg("orderer o%d did not become healthy; see %s", i, log);
}

static void kill_node(int i, int sig)
{
    if (C.pid[i] <= 0)
        return;
    kill(C.pid[i], sig);
    int st;
    waitpid(C.pid[i], &st, 0);
    if (sig == SIGTERM && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
        fail_msg("o%d did not stop cleanly (status %d)", i, st);
    C.pid[i] = 0;
}

/* A fresh cluster; faults[i] (may be NULL) for orderer i. */
static void cluster_up(const char *const faults[N])
{
    char path[512];
    pthread_mutex_init(&C.mu, NULL);
    C.n_acked = 0;
    C.dir = test_tmpdir("pbft");
    char *rel = test_binary_path("stele-orderer");
    C.bin = realpath(rel, NULL); /* the orderers run in their own directories */
    assert_non_null(C.bin);
    free(rel);
    C.a = arena_create(0);
    assert_int_equal(crypto_key_generate(&C.ca), STELE_OK);
    uint8_t capub[33];
    crypto_key_public_compressed(C.ca, capub);
    snprintf(path, sizeof path, "%s/ca.pub", C.dir);
    assert_int_equal(test_write_file(path, capub, sizeof capub), 0);
    Stele__ChannelConfig *cfg = arena_calloc(C.a, 1, sizeof *cfg);
    stele__channel_config__init(cfg);
    cfg->channel_id = "ch";
    cfg->consensus_type = "pbft";
    cfg->lifecycle_policy = GENESIS_DEFAULT_LIFECYCLE_POLICY;
    cfg->endorsement_version = TX_ENDORSEMENT_VERSION;
    Stele__BatchParameters *bp = arena_calloc(C.a, 1, sizeof *bp);
    stele__batch_parameters__init(bp);
    bp->max_message_count = 50;
    bp->batch_timeout_ms = 50;
    bp->preferred_max_bytes = 64 * 1024;
    bp->absolute_max_bytes = 128 * 1024;
    cfg->batch = bp;
    Stele__PbftParameters *pp = arena_calloc(C.a, 1, sizeof *pp);
    stele__pbft_parameters__init(pp);
    pp->checkpoint_interval = 5;
    pp->log_window = 20;
    pp->request_timeout_ms = 1500;
    pp->view_change_timeout_ms = 1000;
    pp->view_change_timeout_max_ms = 8000;
    cfg->pbft = pp;
    const char *orgs[2] = {"orderers", "org1"};
    cfg->organisations = arena_calloc(C.a, 2, sizeof *cfg->organisations);
    for (int k = 0; k < 2; k++) {
        Stele__OrganisationConfig *o = arena_calloc(C.a, 1, sizeof *o);
        stele__organisation_config__init(o);
        o->name = (char *)orgs[k];
        o->ca_public_keys = arena_calloc(C.a, 1, sizeof *o->ca_public_keys);
        o->ca_public_keys[0] = (ProtobufCBinaryData){33, arena_memdup(C.a, capub, 33)};
        o->n_ca_public_keys = 1;
        cfg->organisations[cfg->n_organisations++] = o;
    }
    cfg->orderers = arena_calloc(C.a, N, sizeof *cfg->orderers);
    for (int i = 0; i < N; i++) {
        char id[8];
        snprintf(id, sizeof id, "o%d", i);
        snprintf(C.addr[i], sizeof C.addr[i], "127.0.0.1:%d", test_free_port());
        snprintf(C.ops[i], sizeof C.ops[i], "127.0.0.1:%d", test_free_port());
        path_of(path, sizeof path, i, "");
        assert_int_equal(mkdir(path, 0700), 0);
        test_identity_issue(C.ca, 0, id, "orderers", "orderer", 0, 86400, &C.orderers[i]);
        path_of(path, sizeof path, i, "id");
        test_identity_save(&C.orderers[i], C.ca, path);
        Stele__OrdererNodeConfig *o = arena_calloc(C.a, 1, sizeof *o);
        stele__orderer_node_config__init(o);
        o->node_id = arena_strdup(C.a, id);
        o->organisation = "orderers";
        uint8_t *pub = arena_alloc(C.a, 33);
        crypto_key_public_compressed(C.orderers[i].key, pub);
        o->public_key = (ProtobufCBinaryData){33, pub};
        o->identity = (ProtobufCBinaryData){C.orderers[i].record->len, C.orderers[i].record->data};
        o->address = C.addr[i];
        cfg->orderers[cfg->n_orderers++] = o;
    }
    for (int i = 0; i < CLIENTS; i++) {
        char id[16];
        snprintf(id, sizeof id, "client%d", i);
        test_identity_issue(C.ca, 0, id, "org1", "client", 0, 86400, &C.clients[i]);
    }
    C.cfg = cfg;
    assert_int_equal(pbft_members_init(&C.m, cfg), STELE_OK);
    struct buf g;
    buf_init(&g);
    char *err = NULL;
    if (genesis_build(cfg, C.orderers[0].key, C.orderers[0].record->data, C.orderers[0].record->len,
                      0, &g, &err) != STELE_OK)
        fail_msg("genesis_build: %s", err ? err : "?");
    snprintf(path, sizeof path, "%s/genesis.block", C.dir);
    assert_int_equal(test_write_file(path, g.data, g.len), 0);
    buf_release(&g);
    for (int i = 0; i < N; i++)
        write_config(i, faults ? faults[i] : NULL);
    for (int i = 0; i < N; i++)
        start(i);
}

static int cluster_down(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++)
        kill_node(i, SIGKILL);
    for (int i = 0; i < N; i++)
        test_identity_free(&C.orderers[i]);
    for (int i = 0; i < CLIENTS; i++)
        test_identity_free(&C.clients[i]);
    pbft_members_release(&C.m);
    crypto_key_destroy(C.ca);
    arena_destroy(C.a);
    if (getenv("STELE_KEEP_TEST_DIR"))
        fprintf(stderr, "kept %s\n", C.dir);
    else
        test_rmtree(C.dir);
    free(C.dir);
    free(C.bin);
    pthread_mutex_destroy(&C.mu);
    memset(&C, 0, sizeof C);
    return 0;
}

/* ---- clients ---- */

struct load {
    int client, first, count; /* envelopes first..first+count of this client */
    unsigned mask;            /* orderers to send to (bit i: oi) */
    pthread_t thread;
};

/* Sends the load's envelopes on one Broadcast stream to orderer `to`; records the tx_ids it
 * acknowledged. */
static void send_to(int to, const ProtobufCBinaryData *envs, char (*ids)[65], int n)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(C.addr[to], &co, NULL);
    struct rpc_call *c =
        ch ? rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                             &stele__broadcast_response__descriptor, 20000)
           : NULL;
    int rc = c ? STELE_OK : STELE_ERR_UNAVAILABLE;
    for (int i = 0; rc == STELE_OK && i < n; i++)
        rc = rpc_call_send_bytes(c, envs[i].data, envs[i].len);
    if (rc == STELE_OK)
        rc = rpc_call_close_send(c);
    for (int i = 0; rc == STELE_OK && i < n; i++) {
        ProtobufCMessage *m;
        if (rpc_call_recv(c, &m, 20000, false) != STELE_OK)
            break;
        Stele__BroadcastResponse *r = (Stele__BroadcastResponse *)m;
        if (r->status == STELE__STATUS__STATUS_SUCCESS && strcmp(r->tx_id, ids[i]) == 0) {
            pthread_mutex_lock(&C.mu);
            bool dup = false;
            for (size_t k = 0; k < C.n_acked && !dup; k++)
                dup = strcmp(C.acked[k], ids[i]) == 0;
            if (!dup && C.n_acked < MAX_TXS)
                memcpy(C.acked[C.n_acked++], ids[i], 65);
            pthread_mutex_unlock(&C.mu);
        }
        pb_free(m);
    }
    if (c)
        rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
}

static void *load_main(void *arg)
{
    struct load *l = arg;
    ProtobufCBinaryData *envs = calloc((size_t)l->count, sizeof *envs);
    char(*ids)[65] = calloc((size_t)l->count, 65);
    const struct test_identity *who = &C.clients[l->client];
    for (int i = 0; i < l->count; i++) {
        char data[64];
        snprintf(data, sizeof data, "client %d envelope %d", l->client, l->first + i);
        struct envelope_params p = {.channel_id = "ch",
                                    .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                    .creator = who->record->data,
                                    .creator_len = who->record->len,
                                    .data = (const uint8_t *)data,
                                    .data_len = strlen(data)};
        if (envelope_build(&p, who->key, &envs[i], ids[i]) != STELE_OK)
            abort();
    }
    for (int to = 0; to < N; to++) /* clients broadcast to every orderer (DESIGN §2) */
        if (l->mask & (1u << to))
            send_to(to, envs, ids, l->count);
    for (int i = 0; i < l->count; i++)
        free(envs[i].data);
    free(envs);
    free(ids);
    return NULL;
}

/* CLIENTS concurrent clients, `per` envelopes each, to the orderers in `mask`. */
static void load(int per, unsigned mask, int round)
{
    struct load l[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        l[i] = (struct load){.client = i, .first = round * per, .count = per, .mask = mask};
        assert_int_equal(pthread_create(&l[i].thread, NULL, load_main, &l[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(l[i].thread, NULL);
}

/* ---- reading the chains ---- */

struct chainview {
    size_t n;
    uint8_t (*hash)[32];
};

/* Fetches orderer i's blocks 1.. (each checked: certificate, link), with the tx_ids seen
 * counted into `seen` (may be NULL). Returns false if unreachable. */
static bool read_chain(int i, struct chainview *cv, size_t *seen)
{
    struct arena *a = arena_create(0);
    Stele__PbftMessage msg = STELE__PBFT_MESSAGE__INIT;
    msg.type = STELE__PBFT_TYPE__PBFT_FETCH;
    msg.seq = 1;
    msg.timestamp_ms = clock_wall_ms();
    msg.channel_id = "ch";
    msg.sender = "o0";
    Stele__PbftSigned req;
    assert_int_equal(pbft_sign(&msg, C.orderers[0].key, a, &req), STELE_OK);
    struct rpc_channel_opts co = {.fail_fast = true, .max_message = 16u << 20};
    struct rpc_channel *ch = rpc_channel_open(C.addr[i], &co, NULL);
    struct rpc_call *c = rpc_stream_open(ch, "/stele.Cluster/Fetch", RPC_SERVER_STREAM,
                                         &stele__block__descriptor, 20000);
    cv->n = 0;
    cv->hash = NULL;
    bool ok = c && rpc_call_send(c, &req.base) == STELE_OK && rpc_call_close_send(c) == STELE_OK;
    uint8_t prev[32] = {0};
    for (;;) {
        ProtobufCMessage *m;
        if (!ok || rpc_call_recv(c, &m, 20000, false) != STELE_OK)
            break;
        Stele__Block *b = (Stele__Block *)m;
        uint8_t h[32];
        const char *why = "";
        arena_reset(a);
        if (pbft_block_check(&C.m, a, b, h, &why) != STELE_OK)
            fail_msg("o%d block %llu: %s", i, (unsigned long long)b->header->number, why);
        if (b->header->number != cv->n + 1)
            fail_msg("o%d sent block %llu after %zu", i, (unsigned long long)b->header->number,
                     cv->n);
        if (cv->n && memcmp(b->header->previous_hash.data, prev, 32) != 0)
            fail_msg("o%d block %zu does not link", i, cv->n + 1);
        memcpy(prev, h, 32);
        cv->hash = realloc(cv->hash, (cv->n + 1) * 32);
        memcpy(cv->hash[cv->n++], h, 32);
        for (size_t k = 0; seen && k < b->data->n_envelopes; k++) {
            struct envelope_view v;
            const ProtobufCBinaryData *e = &b->data->envelopes[k];
            assert_int_equal(envelope_parse(a, e->data, e->len, 0, &v, NULL), STELE_OK);
            for (size_t t = 0; t < C.n_acked; t++)
                if (strcmp(C.acked[t], v.header->tx_id) == 0)
                    seen[t]++;
        }
        pb_free(m);
    }
    if (c)
        rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
    arena_destroy(a);
    return ok;
}

/* Waits until every orderer in `mask` holds every acknowledged envelope (exactly once), then
 * asserts their chains are identical up to the shortest. */
static void assert_converged(unsigned mask, int timeout_s)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_s * 1000;
    for (;;) {
        bool done = true;
        struct chainview cv[N] = {{0}};
        size_t *seen = calloc(C.n_acked + 1, sizeof *seen);
        for (int i = 0; i < N; i++) {
            if (!(mask & (1u << i)))
                continue;
            memset(seen, 0, (C.n_acked + 1) * sizeof *seen);
            read_chain(i, &cv[i], seen);
            for (size_t t = 0; t < C.n_acked; t++) {
                if (seen[t] > 1)
                    fail_msg("o%d holds tx %.16s… %zu times", i, C.acked[t], seen[t]);
                done &= seen[t] == 1;
            }
        }
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++) {
                if (!(mask & (1u << i)) || !(mask & (1u << j)))
                    continue;
                size_t n = cv[i].n < cv[j].n ? cv[i].n : cv[j].n;
                for (size_t k = 0; k < n; k++)
                    if (memcmp(cv[i].hash[k], cv[j].hash[k], 32) != 0)
                        fail_msg("FORK: o%d and o%d differ at block %zu", i, j, k + 1);
                done &= cv[i].n == cv[j].n;
            }
        for (int i = 0; i < N; i++)
            free(cv[i].hash);
        free(seen);
        if (done)
            return;
        if (clock_mono_ms() > deadline)
            fail_msg("orderers did not converge on every acknowledged envelope in %d s "
                     "(logs under %s; STELE_KEEP_TEST_DIR=1 keeps them)",
                     timeout_s, C.dir);
        clock_sleep_ms(250);
    }
}

/* Every orderer in `mask`, faulty ones included, holds only certified blocks, and no two hold
 * different blocks at one height: a Byzantine orderer must not get a conflicting block
 * certified either. */
static void assert_no_fork(unsigned mask)
{
    struct chainview cv[N] = {{0}};
    for (int i = 0; i < N; i++)
        if (mask & (1u << i))
            read_chain(i, &cv[i], NULL);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            for (size_t k = 0; k < cv[i].n && k < cv[j].n; k++)
                if (memcmp(cv[i].hash[k], cv[j].hash[k], 32) != 0)
                    fail_msg("FORK: o%d and o%d differ at block %zu", i, j, k + 1);
    for (int i = 0; i < N; i++)
        free(cv[i].hash);
}

/* Height of orderer i (0 if unreachable). */
static uint64_t height_of(int i)
{
    struct chainview cv;
    read_chain(i, &cv, NULL);
    free(cv.hash);
    return cv.n + 1;
}

/* Orderer i's view and role from stele.Orderer/ChainInfo (role "" when unreachable). */
static uint64_t view_of(int i, char role[32])
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(C.addr[i], &co, NULL);
    Stele__ChainInfoRequest req = STELE__CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    uint64_t view = 0;
    role[0] = 0;
    if (rpc_unary(ch, "/stele.Orderer/ChainInfo", &req.base, &stele__blockchain_info__descriptor,
                  &m, 5000, NULL) == STELE_OK) {
        Stele__BlockchainInfo *in = (Stele__BlockchainInfo *)m;
        view = in->view;
        snprintf(role, 32, "%s", in->role);
    }
    pb_free(m);
    rpc_channel_close(ch);
    return view;
}

/* ---- scenarios ---- */

static void normal_case_under_load(void **state)
{
    (void)state;
    cluster_up(NULL);
    load(150, 0xf, 0);
    assert_true(C.n_acked == CLIENTS * 150);
    assert_converged(0xf, 60);
    assert_true(height_of(1) > 2);
}

/* Orderer i's metric `sample` (asserted present). */
static double metric_of(int i, const char *sample)
{
    struct buf m;
    buf_init(&m);
    assert_int_equal(test_http_get(C.ops[i], "/metrics", NULL, &m), 200);
    double v = -1;
    if (!test_metric((const char *)m.data, sample, &v))
        fail_msg("o%d serves no %s", i, sample);
    buf_release(&m);
    return v;
}

static void primary_killed_under_load_view_change(void **state)
{
    (void)state;
    cluster_up(NULL);
    load(30, 0xf, 0);
    kill_node(0, SIGKILL); /* o0 is the primary of view 0 */
    load(60, 0xe, 1);      /* acknowledged by the backups, ordered after a view change */
    assert_converged(0xe, 60);
    /* The old primary comes back believing it is still the primary of view 0 (its persisted
     * state), and proposes to the others: they ignore it, show it the NEW-VIEW, and it joins
     * view 1 as a backup and catches up. */
    start(0);
    load(20, 0xf, 2);
    assert_converged(0xf, 60);
    assert_no_fork(0xf);
    /* it may still be finishing a view change of its own started before the NEW-VIEW reached
     * it (a loaded machine): it must settle as a backup of the others' view */
    char role[32];
    uint64_t v0 = 0;
    for (int t = 0; t < 150; t++) {
        v0 = view_of(0, role);
        if (strcmp(role, "backup") == 0)
            break;
        clock_sleep_ms(100);
    }
    assert_true(v0 >= 1);
    assert_string_equal(role, "backup");
    assert_true(view_of(1, role) >= 1);
    /* what an operator sees: every orderer's view rose since it started (o0 since its restart,
     * from its persisted view 0), and one of them is the primary */
    double primaries = 0;
    for (int i = 0; i < N; i++) {
        double changes = metric_of(i, "stele_consensus_view_changes_total");
        print_message("o%d: view %.0f, view changes %.0f\n", i,
                      metric_of(i, "stele_consensus_view"), changes);
        assert_true(changes >= 1);
        primaries += metric_of(i, "stele_consensus_role{role=\"primary\"}");
    }
    assert_true(primaries == 1);
}

static void replica_catches_up_during_a_view_change(void **state)
{
    (void)state;
    cluster_up(NULL);
    kill_node(3, SIGKILL);
    load(40, 0x7, 0); /* o3 misses these blocks */
    assert_converged(0x7, 60);
    kill_node(0, SIGKILL); /* o1 and o2 alone cannot finish a view change */
    load(10, 0x6, 1);
    clock_sleep_ms(2000); /* their request timers fire: VIEW-CHANGEs for view 1 are out */
    start(3);             /* behind, it joins the view change and fetches what it lacks */
    assert_converged(0xe, 90);
    char role[32];
    assert_true(view_of(3, role) >= 1);
}

static void backup_restarts_and_wiped_backup_catches_up(void **state)
{
    (void)state;
    cluster_up(NULL);
    load(40, 0xf, 0);
    kill_node(2, SIGKILL);
    load(40, 0xb, 1);
    start(2);
    load(20, 0xf, 2);
    assert_converged(0xf, 60);
    /* Wipe o3's data directory: it refetches the whole chain, each block with its
     * certificate. */
    kill_node(3, SIGKILL);
    char dir[512];
    path_of(dir, sizeof dir, 3, "data");
    test_rmtree(dir);
    load(20, 0x7, 3);
    start(3);
    load(10, 0xf, 4);
    assert_converged(0xf, 60);
}

static void whole_cluster_restarts_and_resumes(void **state)
{
    (void)state;
    cluster_up(NULL);
    load(150, 0xf, 0); /* well past log_window / 2 blocks */
    assert_converged(0xf, 60);
    assert_true(height_of(0) > 12);
    for (int i = 0; i < N; i++)
        kill_node(i, SIGKILL);
    for (int i = 0; i < N; i++)
        start(i);
    load(20, 0xf, 1); /* the primary, restarted, proposes again */
    assert_converged(0xf, 60);
}

static void two_down_stalls_safely_then_resumes(void **state)
{
    (void)state;
    cluster_up(NULL);
    load(20, 0xf, 0);
    assert_converged(0xf, 60);
    uint64_t h = height_of(0);
    kill_node(2, SIGKILL);
    kill_node(3, SIGKILL);
    load(20, 0x3, 1); /* accepted for ordering, but 2 of 4 cannot commit */
    clock_sleep_ms(3000);
    assert_true(height_of(0) == h && height_of(1) == h);
    start(2);
    assert_converged(0x7, 90);
    start(3);
    assert_converged(0xf, 90);
}

#ifdef STELE_TEST_HOOKS
static void equivocating_primary_is_replaced(void **state)
{
    (void)state;
    const char *f[N] = {"equivocate", NULL, NULL, NULL};
    cluster_up(f);
    load(40, 0xf, 0);
    assert_converged(0xe, 90); /* the honest ones agree and ordered everything */
    assert_no_fork(0xf);
    char role[32];
    /* the equivocating primary was replaced: o1 saw both blocks and showed the others, so every
     * honest orderer complained and left view 0 (before, o1 left alone and the others kept
     * ordering under o0) */
    for (int i = 1; i < N; i++)
        assert_true(view_of(i, role) >= 1);
}

static void view_change_while_a_block_awaits_commits(void **state)
{
    (void)state;
    /* o0 sends its PRE-PREPARE to o1 and o2 only and never COMMITs: they prepare the block but
     * can never commit it in view 0. The view change must carry their prepared proof, and view
     * 1 re-propose that very block. */
    const char *f[N] = {"withhold", NULL, NULL, NULL};
    cluster_up(f);
    load(20, 0xf, 0);
    assert_converged(0xe, 90);
    assert_no_fork(0xf);
    char role[32];
    assert_true(view_of(1, role) >= 1);
}

static void bad_signatures_and_silence_are_tolerated(void **state)
{
    (void)state;
    const char *f[N] = {NULL, "bad-signatures", NULL, NULL};
    cluster_up(f);
    load(40, 0xf, 0);
    assert_converged(0xd, 60);
    assert_no_fork(0xf);
    cluster_down(NULL);
    const char *g[N] = {"silent", NULL, NULL, NULL}; /* a primary that says nothing */
    cluster_up(g);
    load(40, 0xf, 0);
    assert_converged(0xe, 90);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(normal_case_under_load, cluster_down),
        cmocka_unit_test_teardown(primary_killed_under_load_view_change, cluster_down),
        cmocka_unit_test_teardown(backup_restarts_and_wiped_backup_catches_up, cluster_down),
        cmocka_unit_test_teardown(whole_cluster_restarts_and_resumes, cluster_down),
        cmocka_unit_test_teardown(two_down_stalls_safely_then_resumes, cluster_down),
        cmocka_unit_test_teardown(replica_catches_up_during_a_view_change, cluster_down),
#ifdef STELE_TEST_HOOKS
        cmocka_unit_test_teardown(equivocating_primary_is_replaced, cluster_down),
        cmocka_unit_test_teardown(view_change_while_a_block_awaits_commits, cluster_down),
        cmocka_unit_test_teardown(bad_signatures_and_silence_are_tolerated, cluster_down),
#endif
    };
    if (getenv("STELE_TEST_FILTER")) /* e.g. STELE_TEST_FILTER='*view_change*' */
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
