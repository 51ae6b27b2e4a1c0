/*
 * peer_fixture.c — the network of peer_fixture.h.
 */
#include "peer_fixture.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"
#include "stele/identity.pb-c.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct net N;

static const char *const org_names[3] = {"OrdererOrg", "Org1", "Org2"};

/* ---- processes ---- */

/* Forks and execs `bin --config conf` in p->dir, output appended to p->log. */
static void spawn(struct proc *p, const char *bin)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(p->dir) != 0)
            _exit(126);
        execl(bin, bin, "--config", p->conf, (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
}

/* rpc_health_wait()'s give_up: the process exited (not reaped here). */
static bool exited(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static void wait_serving(struct proc *p, const char *service, const char *name)
{
    struct rpc_result res;
    if (rpc_health_wait(p->addr, NULL, service, 60000, exited, &p->pid, &res) == RPC_HEALTH_SERVING)
        return;
    /* The directory goes with the test: show the end of the log here. */
    size_t len = 0;
    char tail[1600] = "(no log)", *log = test_read_file(p->log, &len);
    if (log)
        snprintf(tail, sizeof tail, "%s", len > 1500 ? log + len - 1500 : log);
    free(log);
    fail_msg("%s did not start serving%s%s at %s; the end of %s:\n%s", name, service[0] ? " " : "",
             service, p->addr, p->log, tail);
}

void net_orderer_start(int i)
{
    char name[16];
    snprintf(name, sizeof name, "o%d", i);
    spawn(&N.o[i], N.orderer_bin);
    wait_serving(&N.o[i], "", name);
}

void peer_wait_serving(int i)
{
    char name[32];
    snprintf(name, sizeof name, "peer0.org%d", i + 1);
    wait_serving(&N.p[i], "stele.Query", name);
}

void net_peer_start(int i, bool wait)
{
    spawn(&N.p[i], N.peer_bin);
    if (wait)
        peer_wait_serving(i);
}

void proc_stop(struct proc *p, int sig, const char *name)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    int st = 0;
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    if (sig == SIGKILL && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        fail_msg("%s was no longer running when killed (status 0x%x); see %s", name, st, p->log);
    if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fail_msg("%s did not stop cleanly on SIGTERM (status 0x%x); see %s", name, st, p->log);
}

/* ---- setting up ---- */

static void proc_paths(struct proc *p, const char *name, const char *conf)
{
    snprintf(p->dir, sizeof p->dir, "%s/%s", N.dir, name);
    snprintf(p->conf, sizeof p->conf, "%s/%s", p->dir, conf);
    snprintf(p->log, sizeof p->log, "%s/%s.log", p->dir, name);
    snprintf(p->addr, sizeof p->addr, "127.0.0.1:%d", test_free_port());
    snprintf(p->ops, sizeof p->ops, "127.0.0.1:%d", test_free_port());
    assert_int_equal(mkdir(p->dir, 0700), 0);
}

static void write_text(const char *path, struct buf *b)
{
    assert_int_equal(test_write_file(path, b->data, b->len), 0);
    buf_release(b);
}

static const char *log_level(void)
{
    const char *l = getenv("STELE_TEST_LOG_LEVEL");
    return l ? l : "info";
}

static void write_orderer_config(int i)
{
    struct buf y;
    buf_init(&y);
    buf_printf(&y,
               "node_id: o%d\nlisten: %s\ndata_dir: data\nidentity_dir: id\nchannel_id: " CHANNEL
               "\ngenesis_file: ../genesis.block\nfsync: none\nlog_level: %s\n"
               "consensus:\n  type: pbft\noperations:\n  listen: %s\n",
               i, N.o[i].addr, log_level(), N.o[i].ops);
    write_text(N.o[i].conf, &y);
}

/* Peers pull from the orderers in order o0, o1, ... and fsync every block. */
static void write_peer_config(int i)
{
    struct buf y;
    buf_init(&y);
    buf_printf(&y,
               "peer_id: peer0.org%d\nlisten: %s\ndata_dir: data\nidentity_dir: id\n"
               "channel_id: " CHANNEL "\ngenesis_file: ../genesis.block\nlog_level: %s\n"
               "fsync: every_block\norderer_retry: 100ms\noperations:\n  listen: %s\n"
               "orderers:\n",
               i + 1, N.p[i].addr, log_level(), N.p[i].ops);
    for (int k = 0; k < ORDERERS; k++)
        buf_printf(&y, "  - %s\n", N.o[k].addr);
    buf_printf(&y, "crls:\n  - %s/org1.crl\n", N.dir);
    write_text(N.p[i].conf, &y);
}

/* Org1's CRL, revoking N.revoked. */
static void write_crl(void)
{
    struct arena *a = arena_create(0);
    struct identity id;
    assert_int_equal(identity_decode(a, N.revoked.record->data, N.revoked.record->len, &id, NULL),
                     STELE_OK);
    struct identity_revoked r = {.serial = id.fields.serial,
                                 .id = "user9.org1",
                                 .revoked_at = clock_wall_s() - 30,
                                 .reason = "key compromise (test)"};
    memcpy(r.certhash, id.certhash, 32);
    struct buf crl;
    buf_init(&crl);
    uint64_t now = clock_wall_s();
    assert_int_equal(crl_issue(N.ca[1], 0, 1, now - 60, now + 86400, &r, 1, &crl), STELE_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/org1.crl", N.dir);
    write_text(path, &crl);
    arena_destroy(a);
}

/* The channel: three organisations, four pbft orderers, chaincode "cc". */
static void write_genesis(void)
{
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *c = arena_calloc(a, 1, sizeof *c);
    Stele__BatchParameters *b = arena_calloc(a, 1, sizeof *b);
    Stele__PbftParameters *pp = arena_calloc(a, 1, sizeof *pp);
    Stele__ChaincodeDefinition *cc = arena_calloc(a, 1, sizeof *cc);
    stele__channel_config__init(c);
    stele__batch_parameters__init(b);
    stele__pbft_parameters__init(pp);
    stele__chaincode_definition__init(cc);
    c->channel_id = CHANNEL;
    c->consensus_type = "pbft";
    c->lifecycle_policy = GENESIS_DEFAULT_LIFECYCLE_POLICY;
    c->endorsement_version = TX_ENDORSEMENT_VERSION; /* as genesis builders write it */
    b->max_message_count = 8;                        /* small blocks, many of them */
    b->batch_timeout_ms = 50;
    b->preferred_max_bytes = 64 * 1024;
    b->absolute_max_bytes = 128 * 1024;
    c->batch = b;
    pp->checkpoint_interval = 5;
    pp->log_window = 20;
    pp->request_timeout_ms = 1500;
    pp->view_change_timeout_ms = 1000;
    pp->view_change_timeout_max_ms = 8000;
    c->pbft = pp;
    c->organisations = arena_calloc(a, 3, sizeof *c->organisations);
    for (int k = 0; k < 3; k++) {
        Stele__OrganisationConfig *o = arena_calloc(a, 1, sizeof *o);
        uint8_t *pub = arena_alloc(a, 33);
        stele__organisation_config__init(o);
        crypto_key_public_compressed(N.ca[k], pub);
        o->name = (char *)org_names[k];
        o->ca_public_keys = arena_calloc(a, 1, sizeof *o->ca_public_keys);
        o->ca_public_keys[0] = (ProtobufCBinaryData){33, pub};
        o->n_ca_public_keys = 1;
        c->organisations[c->n_organisations++] = o;
    }
    c->orderers = arena_calloc(a, ORDERERS, sizeof *c->orderers);
    for (int i = 0; i < ORDERERS; i++) {
        Stele__OrdererNodeConfig *o = arena_calloc(a, 1, sizeof *o);
        uint8_t *pub = arena_alloc(a, 33);
        stele__orderer_node_config__init(o);
        crypto_key_public_compressed(N.orderer[i].key, pub);
        o->node_id = arena_printf(a, "o%d", i);
        o->organisation = "OrdererOrg";
        o->public_key = (ProtobufCBinaryData){33, pub};
        o->identity = (ProtobufCBinaryData){N.orderer[i].record->len, N.orderer[i].record->data};
        o->address = N.o[i].addr;
        c->orderers[c->n_orderers++] = o;
    }
    uint8_t *hash = arena_alloc(a, 32);
    assert_int_equal(crypto_sha256("cc package", 10, hash), STELE_OK);
    cc->name = CC;
    cc->version = "1.0";
    cc->sequence = 1;
    cc->package_hash = (ProtobufCBinaryData){32, hash};
    cc->endorsement_policy = "AND(Org1.peer, Org2.peer)";
    c->chaincodes = arena_calloc(a, 1, sizeof *c->chaincodes);
    c->chaincodes[c->n_chaincodes++] = cc;
    struct buf g;
    char *err = NULL, path[600];
    buf_init(&g);
    if (genesis_build(c, N.orderer[0].key, N.orderer[0].record->data, N.orderer[0].record->len, 0,
                      &g, &err) != STELE_OK)
        fail_msg("genesis_build: %s", err ? err : "?");
    snprintf(path, sizeof path, "%s/genesis.block", N.dir);
    write_text(path, &g);
    arena_destroy(a);
}

static char *binary(const char *name)
{
    char *rel = test_binary_path(name);
    char *abs = realpath(rel, NULL); /* the daemons run in their own directories */
    if (!abs)
        fail_msg("%s is not built (looked for %s)", name, rel);
    free(rel);
    return abs;
}

/* Issues `t` (`id`, `role`) of organisation k and, when `dir` is given, saves it there as an
 * enrolment. */
static void issue(struct test_identity *t, int k, const char *id, const char *role, const char *dir)
{
    test_identity_issue(N.ca[k], 0, id, org_names[k], role, 0, 86400, t);
    if (dir)
        test_identity_save(t, N.ca[k], dir);
}

void net_up(void)
{
    char path[700];
    memset(&N, 0, sizeof N);
    N.dir = test_tmpdir("peer");
    assert_non_null(N.dir);
    N.orderer_bin = binary("stele-orderer");
    N.peer_bin = binary("stele-peer");
    N.cli = binary("stele");
    for (int k = 0; k < 3; k++)
        assert_int_equal(crypto_key_generate(&N.ca[k]), STELE_OK);
    assert_int_equal(crypto_key_generate(&N.stranger_ca), STELE_OK);
    for (int i = 0; i < ORDERERS; i++) {
        char name[8];
        snprintf(name, sizeof name, "o%d", i);
        proc_paths(&N.o[i], name, "orderer.yaml");
        snprintf(path, sizeof path, "%s/id", N.o[i].dir);
        issue(&N.orderer[i], 0, name, "orderer", path);
    }
    for (int i = 0; i < PEERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "peer0.org%d", i + 1);
        proc_paths(&N.p[i], name, "peer.yaml");
        snprintf(path, sizeof path, "%s/id", N.p[i].dir);
        issue(&N.peer[i], i + 1, name, "peer", path);
    }
    snprintf(N.user_dir, sizeof N.user_dir, "%s/user1.org1", N.dir);
    issue(&N.user, 1, "user1.org1", "client", N.user_dir);
    issue(&N.user2, 2, "user1.org2", "client", NULL);
    issue(&N.revoked, 1, "user9.org1", "client", NULL);
    test_identity_issue(N.stranger_ca, 0, "peer9.org2", "Org2", "peer", 0, 86400, &N.stranger);
    write_genesis();
    write_crl();
    for (int i = 0; i < ORDERERS; i++)
        write_orderer_config(i);
    for (int i = 0; i < PEERS; i++)
        write_peer_config(i);
    for (int i = 0; i < ORDERERS; i++)
        net_orderer_start(i);
    for (int i = 0; i < PEERS; i++)
        net_peer_start(i, true);
}

void net_down(void)
{
    for (int i = 0; i < PEERS; i++)
        if (N.p[i].pid > 0) {
            kill(N.p[i].pid, SIGKILL);
            waitpid(N.p[i].pid, NULL, 0);
        }
    for (int i = 0; i < ORDERERS; i++)
        if (N.o[i].pid > 0) {
            kill(N.o[i].pid, SIGKILL);
            waitpid(N.o[i].pid, NULL, 0);
        }
    struct test_identity *ids[] = {&N.user, &N.user2, &N.revoked, &N.stranger};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        test_identity_free(ids[i]);
    for (int i = 0; i < ORDERERS; i++)
        test_identity_free(&N.orderer[i]);
    for (int i = 0; i < PEERS; i++)
        test_identity_free(&N.peer[i]);
    for (int k = 0; k < 3; k++)
        crypto_key_destroy(N.ca[k]);
    crypto_key_destroy(N.stranger_ca);
    if (N.dir && getenv("STELE_KEEP_TEST_DIR"))
        fprintf(stderr, "kept %s\n", N.dir);
    else if (N.dir)
        test_rmtree(N.dir);
    free(N.dir);
    free(N.orderer_bin);
    free(N.peer_bin);
    free(N.cli);
    memset(&N, 0, sizeof N);
}

/* ---- transactions ---- */

/* tx_build_endorsed() by its steps, with the last endorsement's signature corrupted after
 * signing: the creator signs the envelope over the corrupted endorsement, so only the
 * endorsement fails. */
static int build_corrupt(const struct tx_proposal_params *pp, const struct tx_signer *creator,
                         const struct tx_result *r, const struct tx_signer *es, size_t n,
                         ProtobufCBinaryData *out, char tx_id[65])
{
    Stele__Endorsement e[3];
    const Stele__Endorsement *ep[3];
    uint8_t sigs[3][64], psig[64];
    struct buf prop, resp;
    buf_init(&prop);
    buf_init(&resp);
    struct tx_proposal_params p = *pp;
    p.creator = creator->identity;
    p.creator_len = creator->identity_len;
    int rc = tx_proposal_build(&p, creator->key, &prop, psig, tx_id);
    if (rc == STELE_OK)
        rc = tx_response_payload_build(prop.data, prop.len, r, &resp);
    for (size_t i = 0; rc == STELE_OK && i < n; i++) {
        rc = tx_endorse(NULL, TX_ENDORSEMENT_VERSION, resp.data, resp.len, es[i].identity,
                        es[i].identity_len, es[i].key, sigs[i]);
        stele__endorsement__init(&e[i]);
        e[i].endorser = (ProtobufCBinaryData){es[i].identity_len, (uint8_t *)es[i].identity};
        e[i].signature = (ProtobufCBinaryData){64, sigs[i]};
        ep[i] = &e[i];
    }
    if (rc == STELE_OK) {
        sigs[n - 1][20] ^= 0x01;
        rc = tx_envelope_build(prop.data, prop.len, resp.data, resp.len, ep, n, creator->key, out);
    }
    buf_release(&prop);
    buf_release(&resp);
    return rc;
}

bool tx_make(const struct txspec *s, ProtobufCBinaryData *out, char tx_id[65])
{
    Stele__KVRead rd[2], *rdp[2];
    Stele__KVWrite wr[3], *wrp[3];
    size_t nr = 0, nw = 0, ne = 0;
    for (; nr < 2 && s->reads[nr].key; nr++) {
        stele__kvread__init(&rd[nr]);
        rd[nr].key = (char *)s->reads[nr].key;
        rd[nr].version = (Stele__Version *)s->reads[nr].ver;
        rdp[nr] = &rd[nr];
    }
    for (; nw < 3 && s->writes[nw].key; nw++) {
        stele__kvwrite__init(&wr[nw]);
        wr[nw].key = (char *)s->writes[nw].key;
        wr[nw].value = (ProtobufCBinaryData){s->writes[nw].len ? s->writes[nw].len
                                                               : strlen(s->writes[nw].value),
                                             (uint8_t *)s->writes[nw].value};
        wrp[nw] = &wr[nw];
    }
    const char *cc = s->chaincode ? s->chaincode : CC;
    Stele__NsRwSet ns = STELE__NS_RW_SET__INIT, *nsp = &ns;
    ns.namespace_ = (char *)(s->ns ? s->ns : cc);
    ns.reads = rdp;
    ns.n_reads = nr;
    ns.writes = wrp;
    ns.n_writes = nw;
    Stele__TxRwSet rw = STELE__TX_RW_SET__INIT;
    rw.ns_rwsets = &nsp;
    rw.n_ns_rwsets = 1;
    Stele__Response resp = STELE__RESPONSE__INIT;
    resp.status = 200;
    const struct test_identity *who = s->creator ? s->creator : &N.user;
    struct tx_signer creator = {who->key, who->record->data, who->record->len, NULL};
    struct tx_signer es[3];
    for (; ne < 3 && s->endorser[ne]; ne++) {
        const struct test_identity *e = s->endorser[ne];
        es[ne] = (struct tx_signer){s->endorser_key[ne] ? s->endorser_key[ne] : e->key,
                                    e->record->data, e->record->len, NULL};
    }
    if (ne == 0)
        for (; ne < PEERS; ne++)
            es[ne] = (struct tx_signer){N.peer[ne].key, N.peer[ne].record->data,
                                        N.peer[ne].record->len, NULL};
    ProtobufCBinaryData arg = {3, (uint8_t *)"put"};
    struct tx_proposal_params pp = {.channel_id = s->channel ? s->channel : CHANNEL,
                                    .chaincode = cc,
                                    .function = "put",
                                    .args = &arg,
                                    .n_args = 1,
                                    .nonce = s->nonce,
                                    .nonce_len = s->nonce ? 24 : 0,
                                    .timestamp_ms = s->timestamp_ms};
    struct tx_result r = {.chaincode = cc,
                          .version = s->version ? s->version : "1.0",
                          .sequence = s->sequence ? s->sequence : 1,
                          .rwset = &rw,
                          .response = &resp};
    int rc = s->corrupt_endorsement ? build_corrupt(&pp, &creator, &r, es, ne, out, tx_id)
                                    : tx_build_endorsed(&pp, &creator, &r, es, ne, out, tx_id);
    return rc == STELE_OK;
}

ProtobufCBinaryData tx_must(const struct txspec *s, char tx_id[65])
{
    ProtobufCBinaryData e;
    if (!tx_make(s, &e, tx_id))
        fail_msg("cannot build a transaction");
    return e;
}

/* Sends the envelopes on one Broadcast stream to orderer i; st[k] gets each answer (left as
 * is when none came). */
static void send_to(int i, const ProtobufCBinaryData *envs, size_t n, Stele__Status *st)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.o[i].addr, &co, NULL);
    struct rpc_call *c =
        ch ? rpc_stream_open(ch, "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                             &stele__broadcast_response__descriptor, 20000)
           : NULL;
    int rc = c ? STELE_OK : STELE_ERR_UNAVAILABLE;
    for (size_t k = 0; rc == STELE_OK && k < n; k++)
        rc = rpc_call_send_bytes(c, envs[k].data, envs[k].len);
    if (rc == STELE_OK)
        rc = rpc_call_close_send(c);
    for (size_t k = 0; rc == STELE_OK && k < n; k++) {
        ProtobufCMessage *m;
        if (rpc_call_recv(c, &m, 20000, false) != STELE_OK)
            break;
        st[k] = ((Stele__BroadcastResponse *)m)->status;
        pb_free(m);
    }
    if (c)
        rpc_call_finish(c, true, NULL);
    rpc_channel_close(ch);
}

void broadcast(unsigned mask, const ProtobufCBinaryData *envs, size_t n, Stele__Status *best)
{
    Stele__Status *st = calloc(n, sizeof *st);
    for (size_t k = 0; k < n; k++)
        best[k] = STELE__STATUS__STATUS_UNKNOWN;
    for (int i = 0; i < ORDERERS && st; i++) {
        if (!(mask & (1u << i)))
            continue;
        memset(st, 0, n * sizeof *st);
        send_to(i, envs, n, st);
        for (size_t k = 0; k < n; k++)
            if (best[k] != STELE__STATUS__STATUS_SUCCESS && st[k] != STELE__STATUS__STATUS_UNKNOWN)
                best[k] = st[k];
    }
    free(st);
}

void submit(unsigned mask, const ProtobufCBinaryData *envs, size_t n)
{
    Stele__Status *best = calloc(n, sizeof *best);
    assert_non_null(best);
    broadcast(mask, envs, n, best);
    for (size_t k = 0; k < n; k++)
        if (best[k] != STELE__STATUS__STATUS_SUCCESS)
            fail_msg("the orderers refused envelope %zu of %zu (status %d)", k, n, best[k]);
    free(best);
}

/* ---- queries ---- */

int peer_call(int i, const char *method, const ProtobufCMessage *body,
              const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, int timeout_ms)
{
    return peer_call_as(i, &N.user, method, body, desc, out, timeout_ms, NULL);
}

int peer_call_as(int i, const struct test_identity *who, const char *method,
                 const ProtobufCMessage *body, const ProtobufCMessageDescriptor *desc,
                 ProtobufCMessage **out, int timeout_ms, struct rpc_result *res)
{
    struct buf b, req;
    uint8_t sig[64];
    buf_init(&b);
    buf_init(&req);
    int rc = pb_pack_buf(body, &b);
    if (rc == STELE_OK)
        rc = signed_request_create(who->key, who->record->data, who->record->len, method, b.data,
                                   b.len, clock_wall_ms(), &req, sig);
    Stele__SignedRequest sr = STELE__SIGNED_REQUEST__INIT;
    sr.request = (ProtobufCBinaryData){req.len, req.data};
    sr.signature = (ProtobufCBinaryData){64, sig};
    struct rpc_channel_opts co = {.fail_fast = true, .max_message = 16u << 20};
    struct rpc_channel *ch = rc ? NULL : rpc_channel_open(N.p[i].addr, &co, NULL);
    *out = NULL;
    if (ch)
        rc = rpc_unary(ch, method, &sr.base, desc, out, timeout_ms, res);
    else if (rc == STELE_OK)
        rc = STELE_ERR_UNAVAILABLE;
    rpc_channel_close(ch);
    buf_release(&b);
    buf_release(&req);
    return rc;
}

bool peer_head(int i, struct head *h)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.p[i].addr, &co, NULL);
    Stele__PeerChainInfoRequest rq = STELE__PEER_CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    bool ok = ch && rpc_unary(ch, "/stele.Query/ChainInfo", &rq.base,
                              &stele__peer_chain_info__descriptor, &m, 5000, NULL) == STELE_OK;
    if (ok) {
        Stele__PeerChainInfo *in = (Stele__PeerChainInfo *)m;
        ok = in->current_hash.len == 32 && in->previous_hash.len == 32 && in->state_hash.len == 32;
        h->height = in->height;
        if (ok) {
            memcpy(h->hash, in->current_hash.data, 32);
            memcpy(h->prev, in->previous_hash.data, 32);
            memcpy(h->state, in->state_hash.data, 32);
        }
    }
    pb_free(m);
    rpc_channel_close(ch);
    return ok;
}

uint64_t orderer_height(int i)
{
    struct rpc_channel_opts co = {.fail_fast = true};
    struct rpc_channel *ch = rpc_channel_open(N.o[i].addr, &co, NULL);
    Stele__ChainInfoRequest rq = STELE__CHAIN_INFO_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    uint64_t h = 0;
    if (ch && rpc_unary(ch, "/stele.Orderer/ChainInfo", &rq.base,
                        &stele__blockchain_info__descriptor, &m, 5000, NULL) == STELE_OK)
        h = ((Stele__BlockchainInfo *)m)->height;
    pb_free(m);
    rpc_channel_close(ch);
    return h;
}

int tx_code(int i, const char *tx_id, uint64_t *block, uint32_t *index)
{
    Stele__TransactionQuery q = STELE__TRANSACTION_QUERY__INIT;
    q.tx_id = (char *)tx_id;
    ProtobufCMessage *m;
    int rc = peer_call(i, "/stele.Query/Transaction", &q.base,
                       &stele__processed_transaction__descriptor, &m, 10000);
    if (rc == STELE_ERR_NOT_FOUND)
        return -1;
    if (rc)
        fail_msg("Query/Transaction on peer %d: %s", i, stele_strerror(rc));
    Stele__ProcessedTransaction *t = (Stele__ProcessedTransaction *)m;
    int code = (int)t->validation_code;
    if (block)
        *block = t->block_number;
    if (index)
        *index = t->tx_index;
    pb_free(m);
    return code;
}

unsigned tx_wait(int i, const char *tx_id, int timeout_ms, uint64_t *block, uint32_t *index)
{
    Stele__CommitStatusRequest q = STELE__COMMIT_STATUS_REQUEST__INIT;
    q.tx_id = (char *)tx_id;
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        ProtobufCMessage *m = NULL;
        int64_t left = (int64_t)(deadline - clock_mono_ms());
        int rc = peer_call(i, "/stele.Events/CommitStatus", &q.base,
                           &stele__commit_status_response__descriptor, &m,
                           left > 5000 ? 5000 : (int)(left > 100 ? left : 100));
        pb_free(m);
        if (rc == STELE_OK)
            break;
        if (clock_mono_ms() >= deadline)
            fail_msg("tx %.16s… did not commit on peer %d in %d ms (last: %s); logs under %s",
                     tx_id, i, timeout_ms, stele_strerror(rc), N.dir);
        if (rc != STELE_ERR_TIMEOUT)
            clock_sleep_ms(100); /* the peer restarts, or answers an error */
    }
    int code = tx_code(i, tx_id, block, index);
    if (code < 0)
        fail_msg("peer %d answered CommitStatus for %.16s… but Query/Transaction does not know it",
                 i, tx_id);
    return (unsigned)code;
}

bool state_get(int i, const char *key, char **value, Stele__Version *ver)
{
    Stele__StateQuery q = STELE__STATE_QUERY__INIT;
    q.namespace_ = CC;
    q.key = (char *)key;
    ProtobufCMessage *m;
    int rc =
        peer_call(i, "/stele.Query/State", &q.base, &stele__state_response__descriptor, &m, 10000);
    if (rc)
        fail_msg("Query/State %s on peer %d: %s", key, i, stele_strerror(rc));
    Stele__StateResponse *r = (Stele__StateResponse *)m;
    bool found = r->found && r->entry;
    if (value)
        *value = found ? strndup((const char *)r->entry->value.data, r->entry->value.len) : NULL;
    if (ver && found && r->entry->version)
        *ver = *r->entry->version;
    pb_free(m);
    return found;
}

Stele__Block *block_get(int i, uint64_t number)
{
    Stele__BlockQuery q = STELE__BLOCK_QUERY__INIT;
    q.by_case = STELE__BLOCK_QUERY__BY_NUMBER;
    q.number = number;
    ProtobufCMessage *m;
    int rc = peer_call(i, "/stele.Query/Block", &q.base, &stele__block__descriptor, &m, 10000);
    if (rc == STELE_ERR_NOT_FOUND)
        return NULL;
    if (rc)
        fail_msg("Query/Block %llu on peer %d: %s", (unsigned long long)number, i,
                 stele_strerror(rc));
    return (Stele__Block *)m;
}

size_t txid_occurrences(int i, const char *tx_id, unsigned *codes, size_t max)
{
    struct head h;
    size_t n = 0;
    assert_true(peer_head(i, &h));
    struct arena *a = arena_create(0);
    for (uint64_t b = 1; b < h.height; b++) {
        Stele__Block *blk = block_get(i, b);
        assert_non_null(blk);
        for (size_t k = 0; blk->data && k < blk->data->n_envelopes; k++) {
            struct envelope_view v;
            const ProtobufCBinaryData *e = &blk->data->envelopes[k];
            arena_reset(a);
            if (envelope_parse(a, e->data, e->len, 0, &v, NULL) != STELE_OK ||
                strcmp(v.header->tx_id, tx_id) != 0)
                continue;
            if (n < max)
                codes[n] = k < blk->metadata->validation_codes.len
                               ? blk->metadata->validation_codes.data[k]
                               : 256;
            n++;
        }
        pb_free(&blk->base);
    }
    arena_destroy(a);
    return n;
}

static void hex8(const uint8_t *h, char out[17])
{
    hex_encode(h, 8, out);
}

void assert_peers_agree(int timeout_s)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_s * 1000;
    struct head h[PEERS];
    memset(h, 0, sizeof h);
    for (;;) {
        uint64_t top = 0, low = UINT64_MAX;
        for (int i = 0; i < ORDERERS; i++) {
            if (N.o[i].pid <= 0)
                continue;
            uint64_t oh = orderer_height(i);
            top = oh > top ? oh : top;
            low = oh < low ? oh : low;
        }
        bool ok = top > 0 && low == top;
        for (int i = 0; i < PEERS; i++)
            ok &= peer_head(i, &h[i]) && h[i].height == top;
        if (ok)
            break;
        if (clock_mono_ms() > deadline)
            fail_msg("orderers (heights %llu..%llu) and peers (%llu, %llu) did not reach one "
                     "height in %d s; logs under %s",
                     (unsigned long long)low, (unsigned long long)top,
                     (unsigned long long)h[0].height, (unsigned long long)h[1].height, timeout_s,
                     N.dir);
        clock_sleep_ms(200);
    }
    char a[17], b[17];
    hex8(h[0].hash, a);
    hex8(h[1].hash, b);
    if (memcmp(h[0].hash, h[1].hash, 32) != 0)
        fail_msg("at height %llu the peers' head hashes differ: %s… and %s…",
                 (unsigned long long)h[0].height, a, b);
    hex8(h[0].state, a);
    hex8(h[1].state, b);
    if (memcmp(h[0].state, h[1].state, 32) != 0)
        fail_msg("at height %llu the peers' state hashes differ: %s… and %s…",
                 (unsigned long long)h[0].height, a, b);
}

Stele__SubmitResponse *gateway_submit(int i, ProtobufCBinaryData env, struct rpc_result *res)
{
    struct rpc_channel *ch = rpc_channel_open(N.p[i].addr, NULL, NULL);
    Stele__SubmitRequest req = STELE__SUBMIT_REQUEST__INIT;
    req.envelope = env;
    ProtobufCMessage *resp = NULL;
    rpc_unary(ch, "/stele.Gateway/Submit", &req.base, &stele__submit_response__descriptor, &resp,
              10000, res);
    rpc_channel_close(ch);
    free(env.data);
    return (Stele__SubmitResponse *)resp;
}

int net_group_up(void **state)
{
    (void)state;
    net_up();
    return 0;
}

int net_group_down(void **state)
{
    (void)state;
    net_down();
    return 0;
}

void install_genesis_cc(int i, const char *so_rel)
{
    uint8_t h[32];
    char hx[65], dir[700], path[800];
    assert_int_equal(crypto_sha256("cc package", 10, h), STELE_OK);
    hex_encode(h, 32, hx);
    snprintf(dir, sizeof dir, "%s/data/chaincodes", N.p[i].dir);
    mkdir(dir, 0700);
    char *so_path = test_binary_path(so_rel);
    size_t len = 0;
    char *so = test_read_file(so_path, &len);
    assert_non_null(so);
    snprintf(path, sizeof path, "%s/%s.so", dir, hx);
    assert_int_equal(test_write_file(path, so, len), 0);
    assert_int_equal(chmod(path, 0500), 0);
    snprintf(path, sizeof path, "%s/%s.pkg", dir, hx);
    assert_int_equal(test_write_file(path, "cc package", 10), 0);
    free(so);
    free(so_path);
}

/* net_peer_with(): peer_fixture.h. */
void net_peer_with(int i, const char *const *orderers, size_t n, const char *extra)
{
    static char *saved[PEERS]; /* the fixture's configurations */
    static size_t saved_len[PEERS];
    if (!saved[i])
        saved[i] = test_read_file(N.p[i].conf, &saved_len[i]);
    assert_non_null(saved[i]);
    char name[32];
    snprintf(name, sizeof name, "peer0.org%d", i + 1);
    proc_stop(&N.p[i], SIGTERM, name);
    const char *all[ORDERERS];
    if (!orderers && extra) {
        for (int k = 0; k < ORDERERS; k++)
            all[k] = N.o[k].addr;
        orderers = all;
        n = ORDERERS;
    }
    if (!orderers) {
        assert_int_equal(test_write_file(N.p[i].conf, saved[i], saved_len[i]), 0);
    } else {
        struct buf y;
        buf_init(&y);
        buf_printf(&y,
                   "peer_id: %s\nlisten: %s\ndata_dir: data\nidentity_dir: id\n"
                   "channel_id: " CHANNEL "\ngenesis_file: ../genesis.block\nlog_level: %s\n"
                   "fsync: every_block\norderer_retry: 100ms\noperations:\n  listen: %s\n"
                   "orderers:\n",
                   name, N.p[i].addr, log_level(), N.p[i].ops);
        for (size_t k = 0; k < n; k++)
            buf_printf(&y, "  - %s\n", orderers[k]);
        buf_printf(&y, "crls:\n  - %s/org1.crl\n%s", N.dir, extra ? extra : "");
        assert_int_equal(test_write_file(N.p[i].conf, y.data, y.len), 0);
        buf_release(&y);
    }
    net_peer_start(i, true);
}
