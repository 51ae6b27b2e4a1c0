/*
 * test_cli_hostile.c — the `stele` CLI against a hostile daemon: a lib/rpc server on 127.0.0.1
 * that answers some of a peer's methods (Query, Events, Lifecycle) and the Node service with
 * whatever a compromised peer may send. The tests run the real `stele` binary and check what
 * reaches the operator's terminal and the exit status.
 *
 *   1. text the peer sends (tx ids, peer and node ids, organisations, chaincode names,
 *      versions and policies, a channel id an audit quotes) reaches a terminal with its control
 * characters escaped: an escape sequence in it could rewrite the screen, set the window title or
 * make the terminal answer back;
 *   2. so do the details of its errors (a gRPC status message is text of the server's
 *      choosing), and those of an orderer's, whichever command quotes them;
 *   3. a peer that answers every History page with the same writes and "more follow" does not
 *      keep `stele history` asking and printing forever: once a page does not move past the
 *      one before, the answer is refused (exit 1);
 *   4. a chaincode's answer to `stele query` is printed as text only when it is well-formed
 *      UTF-8 without control characters: C1 controls (U+009B is a CSI) and DEL included;
 *   5. a daemon that does not serve the method asked (another kind of daemon at that address:
 *      UNIMPLEMENTED) is a refusal, exit 1, not a failure that trying again could mend (3),
 *      in the --all-orderers and --all-peers tables too;
 *   6. `stele events --to N` ends after block N even when the peer goes on sending blocks
 *      and never the status that ends the stream, and a peer repeating a block is refused;
 *   7. `stele block get N` refuses another block than N, from an orderer or a peer, instead of
 *      showing it as the answer;
 *   8. `stele submit FILE` reports the tx_id of the transaction in FILE, not the one the peer
 *      names, and refuses a FILE that holds no transaction before asking anyone;
 *   9. the channel configuration of a block 0 (`stele chain config`, `block get 0`) reaches a
 *      terminal with its C1 controls escaped: genesis_check() lets names carry them;
 *  10. `stele state get K` refuses an answer for another key, `state range` one holding a key
 *      outside the range asked, and `tx get ID` another transaction than ID.
 */
#include "testutil.h"

#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "base/arena.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "rpc/rpc.h"
#include "stele/common.pb-c.h"
#include "stele/identity.pb-c.h"
#include "stele/lifecycle.pb-c.h"
#include "stele/node.pb-c.h"
#include "stele/orderer.pb-c.h"
#include "stele/peer.pb-c.h"
#include "stele/transaction.pb-c.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a hostile peer puts in its strings: an OSC that sets the window title, a CSI that
 * clears the screen, a C1 CSI (as UTF-8) and a bell. */
#define EVIL                             \
    "x\x1b]0;owned\x07y\x1b[2Jz\xc2\x9b" \
    "31m"

static struct {
    struct rpc_server *srv;
    char target[64];
    struct rpc_server *other; /* serves nothing: every method is UNIMPLEMENTED */
    char other_target[64];
    char *dir;      /* scratch: the identity, the CLI's output */
    char *identity; /* an enrolment directory the CLI signs with */
    char *cli;      /* the stele binary */
    char *pkg;      /* a chaincode package (of tests/chaincode/kv.so) */
    char *tx;       /* a signed transaction envelope, as `stele invoke --prepare` writes */
    char tx_id[65]; /* its tx_id */
    uint8_t *env;   /* its octets */
    size_t env_len;
    bool fail;    /* every method fails, with EVIL in its detail */
    bool loop;    /* History: the same page, "more follow", forever */
    bool endless; /* Events: blocks 1, 2, 3, ... and never a status */
    bool repeat;  /* Events: block 1, again and again */
    bool skip;    /* Events: blocks 1, 3, 5, ... */
    bool torn;    /* Transaction: the first half of g.env's octets (no envelope) */
} g;

/* The error every method answers with in g.fail mode. */
static enum rpc_code refuse(struct rpc_call *call)
{
    return rpc_call_error(call, RPC_INVALID_ARGUMENT, "refused " EVIL);
}

static enum rpc_code history(struct rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)req;
    (void)arg;
    static Stele__Version v = STELE__VERSION__INIT;
    static Stele__HistoryEntry e = STELE__HISTORY_ENTRY__INIT, *es[1] = {&e};
    static Stele__HistoryResponse r = STELE__HISTORY_RESPONSE__INIT;
    (void)call;
    v.block_number = 3;
    e.version = &v;
    e.tx_id = EVIL "0123456789abcdef";
    e.value = (ProtobufCBinaryData){2, (uint8_t *)"ok"};
    r.entries = es;
    r.n_entries = 1;
    r.has_more = g.loop;
    *resp = &r.base;
    return RPC_OK;
}

static enum rpc_code chain_info(struct rpc_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)call;
    (void)req;
    (void)arg;
    static Stele__PeerChainInfo ci = STELE__PEER_CHAIN_INFO__INIT;
    ci.channel_id = EVIL;
    ci.peer_id = EVIL;
    ci.org = EVIL;
    ci.height = 4;
    *resp = &ci.base;
    return RPC_OK;
}

static enum rpc_code node_info(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)call;
    (void)req;
    (void)arg;
    static Stele__NodeInfo ni = STELE__NODE_INFO__INIT;
    ni.node_id = EVIL;
    ni.role = EVIL;
    ni.version = EVIL;
    *resp = &ni.base;
    return RPC_OK;
}

static enum rpc_code installed(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)call;
    (void)req;
    (void)arg;
    static Stele__InstalledChaincode c = STELE__INSTALLED_CHAINCODE__INIT, *cs[1] = {&c};
    static Stele__InstalledList l = STELE__INSTALLED_LIST__INIT;
    c.name = EVIL;
    c.version = EVIL;
    l.chaincodes = cs;
    l.n_chaincodes = 1;
    *resp = &l.base;
    return RPC_OK;
}

static enum rpc_code committed(struct rpc_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)call;
    (void)req;
    (void)arg;
    static Stele__ChaincodeDefinition d = STELE__CHAINCODE_DEFINITION__INIT;
    static Stele__CommittedChaincode c = STELE__COMMITTED_CHAINCODE__INIT, *cs[1] = {&c};
    static Stele__CommittedList l = STELE__COMMITTED_LIST__INIT;
    d.name = EVIL;
    d.version = EVIL;
    d.endorsement_policy = EVIL;
    c.definition = &d;
    l.chaincodes = cs;
    l.n_chaincodes = 1;
    *resp = &l.base;
    return RPC_OK;
}

/* State: the entry of key "other", whichever key was asked for. */
static enum rpc_code state(struct rpc_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)arg;
    static Stele__StateEntry e = STELE__STATE_ENTRY__INIT;
    static Stele__StateResponse r = STELE__STATE_RESPONSE__INIT;
    if (g.fail)
        return refuse(call);
    e.key = "other";
    e.value = (ProtobufCBinaryData){1, (uint8_t *)"v"};
    r.found = true;
    r.entry = &e;
    *resp = &r.base;
    return RPC_OK;
}

/* StateRange: keys "a" and "z", whichever range was asked for. */
static enum rpc_code state_range(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    (void)call;
    (void)req;
    (void)arg;
    static Stele__StateEntry a = STELE__STATE_ENTRY__INIT, z = STELE__STATE_ENTRY__INIT;
    static Stele__StateEntry *es[2] = {&a, &z};
    static Stele__RangeResponse r = STELE__RANGE_RESPONSE__INIT;
    a.key = "a";
    z.key = "z";
    r.entries = es;
    r.n_entries = 2;
    *resp = &r.base;
    return RPC_OK;
}

/* Transaction: g.tx's, whichever tx_id was asked for. */
static enum rpc_code transaction(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    (void)call;
    (void)req;
    (void)arg;
    static Stele__ProcessedTransaction t = STELE__PROCESSED_TRANSACTION__INIT;
    t.envelope = (ProtobufCBinaryData){g.torn ? g.env_len / 2 : g.env_len, g.env};
    t.block_number = 3;
    *resp = &t.base;
    return RPC_OK;
}

/* Block 7 (a header alone), whichever block was asked for. */
static Stele__Block *block7(void)
{
    static Stele__BlockHeader h = STELE__BLOCK_HEADER__INIT;
    static Stele__Block b = STELE__BLOCK__INIT;
    h.number = 7;
    b.header = &h;
    return &b;
}

static enum rpc_code query_block(struct rpc_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp, void *arg)
{
    (void)call;
    (void)req;
    (void)arg;
    *resp = &block7()->base;
    return RPC_OK;
}

/* Deliver: block 7, then SUCCESS. */
static enum rpc_code deliver(struct rpc_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    if (g.fail)
        return refuse(call);
    Stele__DeliverResponse r = STELE__DELIVER_RESPONSE__INIT;
    r.type_case = STELE__DELIVER_RESPONSE__TYPE_BLOCK;
    r.block = block7();
    if (rpc_call_send(call, &r.base) != STELE_OK)
        return RPC_CANCELLED;
    r.type_case = STELE__DELIVER_RESPONSE__TYPE_STATUS;
    r.status = STELE__STATUS__STATUS_SUCCESS;
    return rpc_call_send(call, &r.base) == STELE_OK ? RPC_OK : RPC_CANCELLED;
}

/* A peer's Install, an orderer's ChainInfo: refused, always. */
static enum rpc_code refusing(struct rpc_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    return refuse(call);
}

/* Gateway/Evaluate: the chaincode's answer, 200 with a payload holding a C1 CSI. */
static enum rpc_code evaluate(struct rpc_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, void *arg)
{
    (void)call;
    (void)req;
    (void)arg;
    static Stele__Response r = STELE__RESPONSE__INIT;
    static Stele__ProposalResponse pr = STELE__PROPOSAL_RESPONSE__INIT;
    static const char payload[] = "fine \xc2\x9b"
                                  "2J";
    r.status = 200;
    r.payload = (ProtobufCBinaryData){sizeof payload - 1, (uint8_t *)payload};
    pr.response = &r;
    *resp = &pr.base;
    return RPC_OK;
}

/* Gateway/Submit: accepted, committed VALID in block 3, under a tx_id of the peer's own. */
static enum rpc_code submit(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    (void)call;
    (void)req;
    (void)arg;
    static Stele__SubmitResponse r = STELE__SUBMIT_RESPONSE__INIT;
    r.tx_id = EVIL;
    r.orderers_accepted = 1;
    r.committed = true;
    r.validation_code = STELE__TX_VALIDATION_CODE__VALID;
    r.block_number = 3;
    *resp = &r.base;
    return RPC_OK;
}

/* Events: one filtered block and one block of chaincode events, both carrying EVIL tx ids,
 * then SUCCESS (whichever form was asked for: the CLI prints what comes). */
static enum rpc_code events(struct rpc_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp, void *arg)
{
    if (g.fail)
        return refuse(call);
    (void)req;
    (void)resp;
    (void)arg;
    Stele__FilteredTransaction ft = STELE__FILTERED_TRANSACTION__INIT, *fts[1] = {&ft};
    Stele__FilteredBlock fb = STELE__FILTERED_BLOCK__INIT;
    Stele__ChaincodeEvent ev = STELE__CHAINCODE_EVENT__INIT, *evs[1] = {&ev};
    Stele__ChaincodeEvents ce = STELE__CHAINCODE_EVENTS__INIT;
    Stele__EventsResponse r = STELE__EVENTS_RESPONSE__INIT;
    ft.tx_id = EVIL;
    ft.chaincode = "cc";
    fb.number = 1;
    fb.transactions = fts;
    fb.n_transactions = 1;
    r.type_case = STELE__EVENTS_RESPONSE__TYPE_FILTERED_BLOCK;
    r.filtered_block = &fb;
    if (rpc_call_send(call, &r.base) != STELE_OK)
        return RPC_CANCELLED;
    if (g.endless || g.repeat || g.skip) { /* until the client goes */
        ft.tx_id = "0123";
        while ((fb.number += g.skip ? 2 : g.endless) && rpc_call_send(call, &r.base) == STELE_OK)
            ;
        return RPC_CANCELLED;
    }
    ev.chaincode = "cc";
    ev.tx_id = EVIL;
    ev.name = "e";
    ce.block_number = 2;
    ce.events = evs;
    ce.n_events = 1;
    r.type_case = STELE__EVENTS_RESPONSE__TYPE_CHAINCODE_EVENTS;
    r.chaincode_events = &ce;
    if (rpc_call_send(call, &r.base) != STELE_OK)
        return RPC_CANCELLED;
    r.type_case = STELE__EVENTS_RESPONSE__TYPE_STATUS;
    r.status = STELE__STATUS__STATUS_SUCCESS;
    return rpc_call_send(call, &r.base) == STELE_OK ? RPC_OK : RPC_CANCELLED;
}

/* Runs `argv` (argv[0] the program, NULL-terminated) with a 20 s limit; *out and *err (free)
 * get what it wrote. Returns its exit status, or -1 when it had to be killed. */
static int run_argv(char **args, char **out, char **err)
{
    char *argv[32], of[4096], ef[4096];
    size_t n = 0;
    argv[n++] = g.cli;
    while (n < 31 && args[n - 1])
        argv[n] = args[n - 1], n++;
    argv[n] = NULL;
    snprintf(of, sizeof of, "%s/out", g.dir);
    snprintf(ef, sizeof ef, "%s/err", g.dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(of, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(ef, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    for (int i = 0; i < 2000 && waitpid(pid, &st, WNOHANG) == 0; i++)
        usleep(10000);
    int rc;
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        rc = -1;
    } else {
        rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    size_t len;
    *out = test_read_file(of, &len);
    *err = test_read_file(ef, &len);
    assert_non_null(*out);
    assert_non_null(*err);
    return rc;
}

static int setup(void **state_)
{
    (void)state_;
#define M(p, k, d, h)                                     \
    {                                                     \
        .path = p, .kind = k, .request = &d, .handler = h \
    }
    static const struct rpc_method m[] = {
        M("/stele.Query/History", RPC_UNARY, stele__signed_request__descriptor, history),
        M("/stele.Query/ChainInfo", RPC_UNARY, stele__peer_chain_info_request__descriptor,
          chain_info),
        M("/stele.Lifecycle/Installed", RPC_UNARY, stele__signed_request__descriptor, installed),
        M("/stele.Lifecycle/Committed", RPC_UNARY, stele__signed_request__descriptor, committed),
        M("/stele.Query/State", RPC_UNARY, stele__signed_request__descriptor, state),
        M("/stele.Query/Transaction", RPC_UNARY, stele__signed_request__descriptor, transaction),
        M("/stele.Query/StateRange", RPC_UNARY, stele__signed_request__descriptor, state_range),
        M("/stele.Orderer/ChainInfo", RPC_UNARY, stele__chain_info_request__descriptor, refusing),
        M("/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM, stele__envelope__descriptor,
          deliver),
        M("/stele.Query/Block", RPC_UNARY, stele__signed_request__descriptor, query_block),
        M("/stele.Lifecycle/Install", RPC_UNARY, stele__signed_install__descriptor, refusing),
        M("/stele.Gateway/Evaluate", RPC_UNARY, stele__signed_proposal__descriptor, evaluate),
        M("/stele.Gateway/Submit", RPC_UNARY, stele__submit_request__descriptor, submit),
        M("/stele.Node/Info", RPC_UNARY, stele__node_info_request__descriptor, node_info),
        M("/stele.Events/Blocks", RPC_SERVER_STREAM, stele__signed_request__descriptor, events),
    };
#undef M
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    g.srv = rpc_server_create(&o, NULL);
    assert_non_null(g.srv);
    assert_int_equal(rpc_server_add(g.srv, m, sizeof m / sizeof m[0]), STELE_OK);
    assert_int_equal(rpc_server_start(g.srv, NULL), STELE_OK);
    snprintf(g.target, sizeof g.target, "127.0.0.1:%d", rpc_server_port(g.srv));
    g.other = rpc_server_create(&o, NULL);
    assert_non_null(g.other);
    assert_int_equal(rpc_server_start(g.other, NULL), STELE_OK);
    snprintf(g.other_target, sizeof g.other_target, "127.0.0.1:%d", rpc_server_port(g.other));
    g.dir = test_tmpdir("cli-hostile");
    assert_true(asprintf(&g.identity, "%s/id", g.dir) > 0);
    struct crypto_key *ca = NULL;
    struct test_identity id;
    assert_int_equal(crypto_key_generate(&ca), STELE_OK);
    test_identity_issue(ca, 1, "auditor1", "org1", "auditor", 0, 3600, &id);
    test_identity_save(&id, ca, g.identity);
    struct envelope_params ep = {.channel_id = "ch",
                                 .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                 .creator = id.record->data,
                                 .creator_len = id.record->len,
                                 .data = (const uint8_t *)"x",
                                 .data_len = 1};
    ProtobufCBinaryData env;
    assert_int_equal(envelope_build(&ep, id.key, &env, g.tx_id), STELE_OK);
    assert_true(asprintf(&g.tx, "%s/prepared.tx", g.dir) > 0);
    assert_int_equal(test_write_file(g.tx, env.data, env.len), 0);
    g.env = env.data;
    g.env_len = env.len;
    test_identity_free(&id);
    crypto_key_destroy(ca);
    g.cli = test_binary_path("stele");
    char *so = test_binary_path("tests/chaincode/kv.so"), *out, *err;
    assert_true(asprintf(&g.pkg, "%s/kv.pkg", g.dir) > 0);
    char *pack[] = {"chaincode", "package", "--so",  so,    "--name", "kv",
                    "--version", "1",       "--out", g.pkg, NULL};
    if (run_argv(pack, &out, &err) != 0)
        fail_msg("stele chaincode package: %s", err);
    free(out), free(err), free(so);
    return 0;
}

static int teardown(void **state_)
{
    (void)state_;
    rpc_server_destroy(g.srv);
    rpc_server_destroy(g.other);
    test_rmtree(g.dir);
    free(g.dir);
    free(g.identity);
    free(g.cli);
    free(g.pkg);
    free(g.tx);
    free(g.env);
    return 0;
}

/* Counts a failure unless `s` is free of ESC, BEL and the C1 CSI and holds the escaped form
 * of EVIL's ESC ("\x1b" spelled out), so that the operator still sees that something odd was
 * sent. Prints what is wrong with its control characters shown, not obeyed. */
static int escaped(const char *what, const char *s)
{
    bool raw = strchr(s, 0x1b) || strchr(s, 0x07) || strstr(s, "\xc2\x9b");
    if (!raw && strstr(s, "\\x1b"))
        return 0;
    fprintf(stderr, "%s: %s: ", what,
            raw ? "a control character reached the terminal"
                : "the peer's text is not shown escaped");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fprintf(stderr, *p < 0x20 || *p >= 0x7f ? "<%02x>" : "%c", *p);
    fputc('\n', stderr);
    return 1;
}

/* Runs each command of `cmds` against the hostile peer; counts those that exit otherwise than
 * `rc` says (or print on stdout while failing) and, with `text`, those whose output (stdout and
 * stderr) does not show EVIL escaped. */
struct cmd {
    int rc;               /* the exit status wanted */
    const char *argv[12]; /* after "stele"; "@P" is replaced by the peer's address, "@I" by the
                             identity */
};

static int run_all(const struct cmd *cmds, size_t n, bool text)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *argv[16], *out, *err, what[256] = "stele";
        size_t k = 0;
        for (const char *const *a = cmds[i].argv; *a; a++) {
            argv[k++] = strcmp(*a, "@P") == 0   ? g.target
                        : strcmp(*a, "@I") == 0 ? g.identity
                        : strcmp(*a, "@K") == 0 ? g.pkg
                        : strcmp(*a, "@O") == 0 ? g.other_target
                                                : (char *)*a;
            snprintf(what + strlen(what), sizeof what - strlen(what), " %s", *a);
        }
        argv[k] = NULL;
        int rc = run_argv(argv, &out, &err);
        char *both = NULL;
        assert_true(asprintf(&both, "%s%s", out, err) >= 0);
        if (rc != cmds[i].rc) {
            fprintf(stderr, "%s: exit %d, want %d\n", what, rc, cmds[i].rc);
            bad++;
        } else if (rc != 0 && out[0] && strcmp(argv[0], "audit") != 0) {
            /* (an audit's finding is its report, on stdout, exit 1) */
            fprintf(stderr, "%s: exit %d, and yet something on stdout\n", what, rc);
            bad++;
        }
        if (text)
            bad += escaped(what, both);
        free(both), free(out), free(err);
    }
    return bad;
}

static void text_a_peer_sends_is_escaped(void **state_)
{
    (void)state_;
    static const struct cmd cmds[] = {
        {0, {"history", "cc", "k", "--peer", "@P", "--identity", "@I"}},
        {0, {"events", "--peer", "@P", "--identity", "@I", "--from", "1"}},
        {0, {"chain", "info", "--peer", "@P"}},
        {0, {"chaincode", "list", "--installed", "--peer", "@P", "--identity", "@I"}},
        {0, {"chaincode", "list", "--peer", "@P", "--identity", "@I"}},
        {0, {"node", "info", "--url", "@P"}},
        {1, {"audit", "--peer", "@P", "--identity", "@I"}},
    };
    int bad = run_all(cmds, sizeof cmds / sizeof cmds[0], true);
    if (bad)
        fail_msg("%d of the commands put the peer's control characters on a terminal", bad);
}

static void error_details_are_escaped(void **state_)
{
    (void)state_;
    static const struct cmd cmds[] = {
        {1, {"state", "get", "cc", "k", "--peer", "@P", "--identity", "@I"}},
        {1, {"history", "cc", "k", "--peer", "@P", "--identity", "@I"}},
        {1, {"events", "--peer", "@P", "--identity", "@I", "--from", "1"}},
        {1, {"chaincode", "list", "--peer", "@P", "--identity", "@I"}},
        {1, {"chaincode", "install", "@K", "--peer", "@P", "--identity", "@I"}},
        {1, {"invoke", "cc", "fn", "--peer", "@P", "--identity", "@I"}},
        {1, {"chain", "info", "--orderer", "@P"}},
        {1, {"block", "get", "1", "--orderer", "@P", "--identity", "@I"}},
        {1, {"node", "info", "--url", "@P"}},
    };
    g.fail = true;
    int bad = run_all(cmds, sizeof cmds / sizeof cmds[0], true);
    g.fail = false;
    if (bad)
        fail_msg("%d of the commands put the peer's control characters on a terminal", bad);
}

static void a_query_answer_with_controls_is_hex(void **state_)
{
    (void)state_;
    char *out, *err;
    char *argv[] = {"query", "cc", "fn", "--peer", g.target, "--identity", g.identity, NULL};
    int rc = run_argv(argv, &out, &err);
    /* "fine \xc2\x9b" "2J" in hex */
    if (rc != 0 || strcmp(out, "66696e6520c29b324a\n") != 0)
        fail_msg("stele query of an answer holding a C1 CSI: exit %d, stdout %.100s (hex: %02x), "
                 "stderr %.300s",
                 rc, out, (unsigned char)out[5], err);
    free(out), free(err);
}

static void a_history_that_never_moves_on_is_refused(void **state_)
{
    (void)state_;
    char *out, *err;
    char *argv[] = {"history",    "cc",       "k",      "--peer", g.target,
                    "--identity", g.identity, "--json", NULL};
    g.loop = true;
    int rc = run_argv(argv, &out, &err);
    g.loop = false;
    if (rc != 1 || !strstr(err, "does not move past block 3 tx 0") || out[0])
        fail_msg("stele history of a peer repeating its page: exit %d (-1: killed after 20 s), "
                 "stdout %.100s, stderr %.300s",
                 rc, out, err);
    free(out), free(err);
}

/* Exit statuses of commands given a daemon that serves none of their methods. */
static void another_kind_of_daemon_is_a_refusal(void **state_)
{
    (void)state_;
    static const struct cmd cmds[] = {
        {1, {"state", "get", "cc", "k", "--peer", "@O", "--identity", "@I"}},
        {1, {"events", "--peer", "@O", "--identity", "@I", "--from", "1"}},
        {1, {"query", "cc", "fn", "--peer", "@O", "--identity", "@I"}},
        {1, {"chaincode", "install", "@K", "--peer", "@O", "--identity", "@I"}},
        {1, {"chain", "info", "--orderer", "@O"}},
        {1, {"block", "get", "1", "--orderer", "@O", "--identity", "@I"}},
        {1, {"node", "info", "--url", "@O"}},
    };
    int bad = run_all(cmds, sizeof cmds / sizeof cmds[0], false);
    /* the tables print their rows (stdout) whatever the exit status */
    char *out, *err, list[160];
    snprintf(list, sizeof list, "%s,%s", g.other_target, g.target);
    char *orderers[] = {"chain", "info", "--all-orderers", "--orderer", list, NULL};
    char *peers[] = {"chain", "info", "--all-peers", "--peer", g.other_target, "--json", NULL};
    char **tables[] = {orderers, peers};
    for (size_t i = 0; i < 2; i++) {
        int rc = run_argv(tables[i], &out, &err);
        if (rc != 1 || !strstr(out, "unknown method"))
            fprintf(stderr, "chain info %s: exit %d: %s%s\n", tables[i][2], rc, out, err), bad++;
        free(out), free(err);
    }
    if (bad)
        fail_msg("%d of the commands did not exit 1 on a daemon of another kind", bad);
}

static void events_end_at_to_whatever_the_peer_sends(void **state_)
{
    (void)state_;
    char *out, *err;
    char *argv[] = {"events", "--peer", g.target, "--identity", g.identity,
                    "--from", "1",      "--to",   "2",          NULL};
    g.endless = true;
    int rc = run_argv(argv, &out, &err);
    if (rc != 0 || !strstr(out, "block 1 ") || !strstr(out, "block 2 ") || strstr(out, "block 3 "))
        fail_msg("stele events --to 2 from a peer that sends blocks for ever: exit %d (-1: killed "
                 "after 20 s), stdout %.200s, stderr %.200s",
                 rc, out, err);
    free(out), free(err);
    /* block 1 again and again, --to 2 never comes: refused at the second block 1 */
    g.endless = false, g.repeat = true;
    rc = run_argv(argv, &out, &err);
    g.endless = true, g.repeat = false;
    if (rc != 1 || !strstr(err, "sent block 1 after block 1"))
        fail_msg("stele events from a peer repeating block 1: exit %d (-1: killed after 20 s), "
                 "stderr %.200s",
                 rc, err);
    free(out), free(err);
    /* blocks 1, 3, 5, ...: a block left out is refused too */
    g.endless = false, g.skip = true, argv[8] = "9";
    rc = run_argv(argv, &out, &err);
    g.endless = true, g.skip = false, argv[8] = "2";
    if (rc != 1 || !strstr(err, "sent block 3 after block 1"))
        fail_msg("stele events from a peer leaving block 2 out: exit %d, stderr %.200s", rc, err);
    free(out), free(err);
    /* from block 0 to block 0, and the peer starts at block 1: not an answer */
    argv[6] = "0", argv[8] = "0";
    rc = run_argv(argv, &out, &err);
    g.endless = false;
    if (rc != 1 || out[0] || !strstr(err, "sent block 1, past --to 0, without block 0"))
        fail_msg("stele events --from 0 --to 0 answered with block 1: exit %d, stdout %.200s, "
                 "stderr %.200s",
                 rc, out, err);
    free(out), free(err);
}

static void another_block_than_the_one_asked_is_refused(void **state_)
{
    (void)state_;
    static const struct cmd cmds[] = {
        {1, {"block", "get", "1", "--orderer", "@P", "--channel", "ch", "--identity", "@I"}},
        {1,
         {"block", "get", "1", "--orderer", "@P", "--channel", "ch", "--identity", "@I", "--json"}},
        {1, {"block", "get", "1", "--peer", "@P", "--identity", "@I"}},
    };
    int bad = run_all(cmds, sizeof cmds / sizeof cmds[0], false);
    if (bad)
        fail_msg("%d of the commands took block 7 for block 1", bad);
}

static void submit_reports_the_transactions_own_tx_id(void **state_)
{
    (void)state_;
    char *out, *err, *argv[] = {"submit", g.tx, "--peer", g.target, NULL, NULL};
    int rc = run_argv(argv, &out, &err);
    if (rc != 0 || !strstr(out, g.tx_id) || strchr(out, 0x1b))
        fail_msg("stele submit: exit %d, stdout %.300s (want tx %s), stderr %.300s", rc, out,
                 g.tx_id, err);
    free(out), free(err);
    argv[4] = "--json";
    rc = run_argv(argv, &out, &err);
    char want[128];
    snprintf(want, sizeof want, "\"tx_id\":\"%s\"", g.tx_id);
    if (rc != 0 || !strstr(out, want))
        fail_msg("stele submit --json: exit %d, stdout %.300s (want tx %s)", rc, out, g.tx_id);
    free(out), free(err);
    /* a file that holds no transaction is refused here (the package is not one) */
    char *bad[] = {"submit", g.pkg, "--peer", g.other_target, "--json", NULL};
    rc = run_argv(bad, &out, &err);
    if (rc != 1 || out[0] || !strstr(err, "not a signed transaction"))
        fail_msg("stele submit of a package: exit %d, stdout %.300s, stderr %.300s", rc, out, err);
    free(out), free(err);
}

static void a_genesis_block_is_shown_escaped(void **state_)
{
    (void)state_;
    struct arena *a = arena_create(0);
    struct crypto_key *k = NULL;
    assert_non_null(a);
    assert_int_equal(crypto_key_generate(&k), STELE_OK);
    struct test_identity admin;
    test_identity_issue(k, 1, "admin.orderers", "OrdererOrg", "admin", 0, 3600, &admin);
    Stele__ChannelConfig *c = test_channel_config(a,
                                                  "ch\xc2\x9b"
                                                  "2J",
                                                  "solo", &k, 1, k);
    c->chaincodes[0]->version = "1.0\xc2\x9b"
                                "2J";
    struct buf b;
    char *err = NULL, *path = NULL, *out, *errs;
    buf_init(&b);
    if (genesis_build(c, admin.key, admin.record->data, admin.record->len, 0, &b, &err))
        fail_msg("genesis_build: %s", err ? err : "?");
    assert_true(asprintf(&path, "%s/c1.block", g.dir) > 0);
    assert_int_equal(test_write_file(path, b.data, b.len), 0);
    char *argv[] = {"chain", "config", "--file", path, NULL};
    int rc = run_argv(argv, &out, &errs);
    if (rc != 0 || strstr(out, "\xc2\x9b") || !strstr(out, "channel ch\\xc2\\x9b2J") ||
        !strstr(out, "vote           1.0\\xc2\\x9b2J,"))
        fail_msg("stele chain config of a block 0 with C1 controls in names: exit %d, stdout "
                 "%.600s, stderr %.300s",
                 rc, out, errs);
    free(out), free(errs), free(path);
    buf_release(&b);
    test_identity_free(&admin);
    crypto_key_destroy(k);
    arena_destroy(a);
}

static void an_answer_to_another_question_is_refused(void **state_)
{
    (void)state_;
    static const struct cmd cmds[] = {
        {1, {"state", "get", "cc", "k", "--peer", "@P", "--identity", "@I"}},
        {1, {"state", "get", "cc", "k", "--peer", "@P", "--identity", "@I", "--json"}},
        {1, {"state", "range", "cc", "b", "c", "--peer", "@P", "--identity", "@I", "--json"}},
    };
    int bad = run_all(cmds, sizeof cmds / sizeof cmds[0], false);
    char zeros[65], *out, *err;
    memset(zeros, '0', 64), zeros[64] = 0;
    char *other[] = {"tx", "get", zeros, "--peer", g.target, "--identity", g.identity, NULL};
    int rc = run_argv(other, &out, &err);
    if (rc != 1 || out[0] || !strstr(err, "answered with another transaction than"))
        fprintf(stderr, "tx get of another id: exit %d: %s%s", rc, out, err), bad++;
    free(out), free(err);
    char *same[] = {"tx", "get", g.tx_id, "--peer", g.target, "--identity", g.identity, NULL};
    if ((rc = run_argv(same, &out, &err)) != 0 || !strstr(out, g.tx_id))
        fprintf(stderr, "tx get of its own id: exit %d: %s%s", rc, out, err), bad++;
    free(out), free(err);
    g.torn = true; /* octets that name no transaction are not ID's either */
    rc = run_argv(same, &out, &err);
    g.torn = false;
    if (rc != 1 || out[0] || !strstr(err, "an envelope that does not open"))
        fprintf(stderr, "tx get answered with no envelope: exit %d: %s%s", rc, out, err), bad++;
    free(out), free(err);
    if (bad)
        fail_msg("%d of the commands took keys or transactions not asked for as the answer", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_a_peer_sends_is_escaped),
        cmocka_unit_test(error_details_are_escaped),
        cmocka_unit_test(a_history_that_never_moves_on_is_refused),
        cmocka_unit_test(a_query_answer_with_controls_is_hex),
        cmocka_unit_test(another_kind_of_daemon_is_a_refusal),
        cmocka_unit_test(events_end_at_to_whatever_the_peer_sends),
        cmocka_unit_test(another_block_than_the_one_asked_is_refused),
        cmocka_unit_test(submit_reports_the_transactions_own_tx_id),
        cmocka_unit_test(a_genesis_block_is_shown_escaped),
        cmocka_unit_test(an_answer_to_another_question_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
