/*
 * order_bench.c — `stele-bench order`: signed envelopes per second through Broadcast into
 * blocks cut by the orderer, seen by a Deliver subscriber.
 *
 * With --network DIR it uses a network `stele-network up` started; without, it starts its own
 * in a temporary directory by running `stele-network up` beside this program (one CA, one solo
 * orderer with the shipped batch parameters, fsync every block) and stops it afterwards.
 *
 * Envelopes (ENDORSER_TRANSACTION, 40 octets of data carrying a marker and an index) are
 * signed with the CA admin's identity before the clock starts, so the clients' signing does
 * not compete with the orderer for the machine's cores. Then --clients threads each open a
 * Broadcast stream on one shared channel (one HTTP/2 connection, as a peer's gateway holds to
 * an orderer; gRPC shared the TCP connection between per-client channels anyway, but each
 * channel's completion thread cost the machine ~15-30 µs per envelope in hand-offs) and keep
 * up to WINDOW envelopes unanswered (one response per envelope), while one Deliver stream from
 * the current height counts blocks, finds each envelope's index in the block and records the
 * time from its send to its delivery. At the end every accepted envelope must have been
 * delivered exactly once. Throughput counts the envelopes delivered while the clients were
 * sending, over that time; latency covers all.
 *
 * Under pbft (the network's consensus, or --consensus pbft for a network of its own: four
 * orderers) every client broadcasts every envelope to every orderer, as DESIGN §2 asks of
 * clients, so that a censoring primary is noticed; an envelope counts as accepted when one
 * orderer accepted it (the others may already have it in a block and answer CONFLICT).
 * --rate R offers R envelopes/s in total instead of as many as the orderers answer, for
 * latency at a given load.
 *
 * Beside the result: the cost of one ECDSA verification (crypto_verify) measured here, and
 * the bound it sets: solo, bound_per_s = 1e6 / verify_us, what one core checking one
 * signature per envelope allows; pbft, bound_per_s = cores * 1e6 / (orderers * verify_us),
 * since every orderer checks every envelope and they share this machine's cores.
 * Client and orderer share this machine's cores, so the CPU each used per envelope over the
 * sending window is printed too (the orderer's from /proc when it runs here), and
 * orderer_alone_per_s = cores * 1e6 / orderer_cpu_us_per_envelope, the rate the orderer's own
 * cost would allow with every core to itself (a projection, not a measurement). The
 * benchmark runs as SCHED_BATCH so that its wake-ups do not preempt the orderer (clients on
 * machines of their own never would); a network it starts itself runs as usual.
 */
#include "bench.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "config/config.h"
#include "crypto/ecdsa.h"
#include "identity/enrolment.h"
#include "ledger/envelope.h"
#include "ledger/seek.h"
#include "netfile/netfile.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/orderer.pb-c.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char order_usage[] =
    "Usage: stele-bench order [--network DIR | --consensus solo|pbft] [--duration S]\n"
    "                         [--clients N] [--rate R] [--json]\n"
    "\n"
    "Broadcasts pre-signed envelopes to the network's orderer from N clients, each on its own\n"
    "Broadcast stream (one shared connection), for S seconds (default 5); a Deliver subscriber\n"
    "counts blocks and checks every accepted envelope arrives exactly once. Prints envelopes/s\n"
    "delivered in blocks, latency from send to delivery, the bound one ECDSA verification per\n"
    "envelope sets (bound_per_s = 1e6 / verify_us), and the CPU time per envelope of this\n"
    "program and of the orderer (when it runs on this machine).\n"
    "Under pbft every envelope goes to every orderer.\n"
    "  --network DIR    a network from 'stele-network up --dir DIR' (default: start one here)\n"
    "  --consensus C    without --network: the network started here runs solo (one orderer,\n"
    "                   the default) or pbft (four orderers)\n"
    "  --clients N      concurrent clients (default 16)\n"
    "  --rate R         offer R envelopes/s in total (default: as fast as they are answered)\n";

#define WINDOW     128                   /* unanswered envelopes per stream */
#define MAX_ENVS   400000                /* envelopes signed at most */
#define RATE_GUESS 25000                 /* envelopes/s to sign for */
#define MAGIC      0x5354454c4542454eULL /* "STELEBEN": marks an envelope's index */
#define MAX_ORD    16                    /* orderers a client broadcasts to */

/* One run. */
struct order_run {
    const char *url;                   /* the orderer Deliver reads from */
    const char *urls[MAX_ORD];         /* every orderer Broadcast sends to */
    size_t n_orderers;                 /* entries in urls */
    struct rpc_channel *bchs[MAX_ORD]; /* a shared Broadcast channel per orderer */
    int64_t pids[MAX_ORD];             /* their processes when they run here, else 0 */
    uint64_t gap_ns;                   /* --rate: time between two sends of one client */
    const char *channel;               /* its channel */
    struct enrolment id;               /* signs envelopes and the Deliver request */
    ProtobufCBinaryData *envs;         /* the signed envelopes */
    size_t n_envs;                     /* how many */
    atomic_size_t next_sign;           /* signing: next index */
    atomic_size_t next_send;           /* clients: next envelope to take */
    uint64_t *sent_ns;                 /* per envelope: when it was sent */
    uint8_t *acked;                    /* per envelope: the orderer answered SUCCESS */
    uint8_t *seen;                     /* per envelope: times delivered (saturating) */
    atomic_uint_fast64_t acks;         /* SUCCESS answers */
    atomic_uint_fast64_t errors;       /* other answers and stream failures */
    atomic_uint_fast64_t lost_streams; /* Broadcast streams whose orderer failed */
    atomic_uint_fast64_t delivered;    /* envelopes delivered */
    uint64_t in_window;                /* of those, delivered before end_ns */
    uint64_t blocks;                   /* blocks delivered */
    uint64_t first_ns, last_block_ns;  /* first send, last block seen */
    uint64_t end_ns;                   /* clients stop sending here */
    struct hist lat;                   /* send to delivery, microseconds */
    struct rpc_call *deliver;          /* the Deliver stream */
    atomic_bool stop;                  /* the subscriber should end */
    double orderer_cpu_s;              /* the orderers' CPU time (user + system) while clients
                                          sent, when they run here; -1 if unknown */
    double self_cpu_s;                 /* this program's CPU time while clients sent */
    double machine_cpu_s;              /* every process's CPU time then (/proc/stat) */
};

/* CPU seconds (user + system) process `pid` has used, from /proc; -1 when unknown. */
static double proc_cpu_s(int64_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    unsigned long long ut, st;
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds all cores of the machine have been busy (user, nice, system, irq, softirq; not
 * idle, waiting for I/O or stolen by the hypervisor), from /proc/stat; -1 when unknown. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    if (n < 5)
        return -1;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds this process has used. */
static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Signs envelopes from next_sign until all are made. */
static void *sign_worker(void *arg)
{
    struct order_run *r = arg;
    uint8_t data[40];
    for (size_t i; (i = atomic_fetch_add(&r->next_sign, 1)) < r->n_envs;) {
        memset(data, 0, sizeof data);
        uint64_t m = MAGIC, idx = i;
        memcpy(data, &m, 8);
        memcpy(data + 8, &idx, 8);
        struct envelope_params p = {.channel_id = r->channel,
                                    .type = STELE__HEADER_TYPE__ENDORSER_TRANSACTION,
                                    .creator = r->id.identity.data,
                                    .creator_len = r->id.identity.len,
                                    .data = data,
                                    .data_len = sizeof data};
        if (envelope_build(&p, r->id.key, &r->envs[i], NULL) != STELE_OK)
            r->envs[i].len = 0;
    }
    return NULL;
}

/* Finds the index an envelope carries, or SIZE_MAX. */
static size_t envelope_index(const struct order_run *r, const ProtobufCBinaryData *e)
{
    uint64_t m = MAGIC, idx;
    const uint8_t *p = memmem(e->data, e->len, &m, 8);
    if (!p || p + 16 > e->data + e->len)
        return SIZE_MAX;
    memcpy(&idx, p + 8, 8);
    return idx < r->n_envs ? (size_t)idx : SIZE_MAX;
}

/* The Deliver subscriber. */
static void *deliver_worker(void *arg)
{
    struct order_run *r = arg;
    while (!atomic_load(&r->stop)) {
        ProtobufCMessage *m = NULL;
        int rc = rpc_call_recv(r->deliver, &m, 200, false);
        if (rc == STELE_ERR_TIMEOUT)
            continue;
        if (rc)
            break;
        Stele__DeliverResponse *d = (Stele__DeliverResponse *)m;
        if (d->type_case == STELE__DELIVER_RESPONSE__TYPE_BLOCK && d->block && d->block->data) {
            uint64_t now = clock_mono_ns();
            r->blocks++;
            r->last_block_ns = now;
            for (size_t i = 0; i < d->block->data->n_envelopes; i++) {
                size_t k = envelope_index(r, &d->block->data->envelopes[i]);
                if (k == SIZE_MAX)
                    continue;
                if (r->seen[k] < 255)
                    r->seen[k]++;
                if (r->seen[k] == 1 && r->sent_ns[k]) {
                    hist_add(&r->lat, (now - r->sent_ns[k]) / 1000);
                    atomic_fetch_add(&r->delivered, 1);
                    r->in_window += now <= r->end_ns;
                }
            }
        }
        bool end = d->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS;
        pb_free(m);
        if (end)
            break;
    }
    return NULL;
}

/* One Broadcast stream of a client: to one orderer, with its unanswered envelopes. */
struct stream {
    struct rpc_call *call;
    size_t fifo[WINDOW], head, tail;
    bool dead; /* the orderer went away: the client goes on with the others */
};

/* Reads one Broadcast answer for the envelope at the head of the stream's fifo. An envelope is
 * accepted when any orderer accepted it (under pbft the others may answer CONFLICT: it is in
 * their blocks already). */
static int take_answer(struct order_run *r, struct stream *st)
{
    ProtobufCMessage *m = NULL;
    int rc = rpc_call_recv(st->call, &m, 30000, false);
    if (rc)
        return rc;
    size_t k = st->fifo[st->head++ % WINDOW];
    const Stele__BroadcastResponse *a = (Stele__BroadcastResponse *)m;
    if (a->status == STELE__STATUS__STATUS_SUCCESS) {
        if (!r->acked[k]) {
            r->acked[k] = 1;
            atomic_fetch_add(&r->acks, 1);
        }
    } else if (r->n_orderers == 1 && atomic_fetch_add(&r->errors, 1) == 0) {
        fprintf(stderr, "stele-bench order: refused: %s\n", a->info);
    }
    pb_free(m);
    return STELE_OK;
}

/* Makes room in a full stream: answers a quarter window at a time, one wake-up per batch as a
 * client with many transactions in flight would, rather than one per answer. */
static int drain(struct order_run *r, struct stream *st, bool all)
{
    int rc = STELE_OK;
    while (rc == STELE_OK && st->head < st->tail && (all || st->tail - st->head == WINDOW)) {
        size_t n = all ? 1 : rpc_call_recv_wait(st->call, WINDOW / 4, 50);
        for (size_t i = 0; rc == STELE_OK && i < (n ? n : 1) && st->head < st->tail; i++)
            rc = take_answer(r, st);
    }
    return rc;
}

/* Marks a stream whose orderer failed as dead. Returns false when no stream is left. */
static bool bury(struct order_run *r, struct stream *st, size_t n, size_t which)
{
    if (!st[which].dead) {
        st[which].dead = true;
        if (r->n_orderers == 1 || atomic_fetch_add(&r->lost_streams, 1) == 0)
            fprintf(stderr, "stele-bench order: lost the Broadcast stream to %s\n", r->urls[which]);
    }
    for (size_t o = 0; o < n; o++)
        if (!st[o].dead)
            return true;
    return false;
}

/* One client: a Broadcast stream to every orderer (on the shared channels), up to WINDOW
 * envelopes unanswered on each; every envelope goes to every orderer that is up. An orderer
 * that fails is left out (under pbft the others order without it); the client stops when none
 * is left. */
static void *client_worker(void *arg)
{
    struct order_run *r = arg;
    size_t n = r->n_orderers;
    struct stream *st = calloc(n, sizeof *st);
    bool alive = st != NULL;
    for (size_t o = 0; alive && o < n; o++)
        if (!(st[o].call =
                  rpc_stream_open(r->bchs[o], "/stele.AtomicBroadcast/Broadcast", RPC_BIDI_STREAM,
                                  &stele__broadcast_response__descriptor, -1)))
            alive = bury(r, st, n, o);
    uint64_t next_at = clock_mono_ns();
    while (alive && clock_mono_ns() < r->end_ns) {
        for (size_t o = 0; alive && o < n; o++)
            if (!st[o].dead && drain(r, &st[o], false) != STELE_OK)
                alive = bury(r, st, n, o);
        if (!alive)
            break;
        if (r->gap_ns) { /* --rate: keep to this client's share */
            uint64_t now = clock_mono_ns();
            if (now < next_at) {
                struct timespec ts = {0, (long)(next_at - now)};
                nanosleep(&ts, NULL);
            }
            next_at += r->gap_ns;
        }
        size_t k = atomic_fetch_add(&r->next_send, 1);
        if (k >= r->n_envs)
            break;
        if (r->envs[k].len == 0)
            continue;
        r->sent_ns[k] = clock_mono_ns();
        for (size_t o = 0; alive && o < n; o++) {
            if (st[o].dead)
                continue;
            if (rpc_call_send_bytes(st[o].call, r->envs[k].data, r->envs[k].len) == STELE_OK)
                st[o].fifo[st[o].tail++ % WINDOW] = k;
            else
                alive = bury(r, st, n, o);
        }
    }
    if (!alive)
        atomic_fetch_add(&r->errors, 1);
    for (size_t o = 0; st && o < n; o++) {
        int drc = !st[o].dead ? drain(r, &st[o], true) : STELE_ERR_UNAVAILABLE;
        if (st[o].call) {
            rpc_call_close_send(st[o].call);
            rpc_call_finish(st[o].call, drc != STELE_OK, NULL);
        }
    }
    free(st);
    return NULL;
}

/* Opens the Deliver stream from the orderer's current height, never stopping. */
static int open_deliver(struct order_run *r, struct rpc_channel *ch)
{
    Stele__ChainInfoRequest creq = STELE__CHAIN_INFO_REQUEST__INIT;
    Stele__BlockchainInfo *info = NULL;
    int rc = rpc_unary(ch, "/stele.Orderer/ChainInfo", &creq.base,
                       &stele__blockchain_info__descriptor, (ProtobufCMessage **)&info, 5000, NULL);
    if (rc)
        return rc;
    uint64_t height = info->height;
    pb_free(&info->base);
    ProtobufCBinaryData env = {0, NULL};
    rc = seek_deliver_request(r->channel, height, UINT64_MAX,
                              STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_BLOCK_UNTIL_READY,
                              r->id.identity.data, r->id.identity.len, r->id.key, &env);
    if (rc)
        return rc;
    r->deliver = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                 &stele__deliver_response__descriptor, -1);
    rc = r->deliver ? rpc_call_send_bytes(r->deliver, env.data, env.len) : STELE_ERR_NOMEM;
    if (rc == STELE_OK)
        rc = rpc_call_close_send(r->deliver);
    free(env.data);
    return rc;
}

/* Microseconds one crypto_verify of a 300-octet message takes on this machine (one thread). */
static double verify_us(const struct crypto_key *k)
{
    uint8_t msg[300] = {1}, sig[CRYPTO_SIG_LEN];
    size_t sig_len = sizeof sig;
    if (crypto_sign(k, msg, sizeof msg, sig) != STELE_OK)
        return 0;
    uint64_t n = 0, t0 = clock_mono_ns(), t;
    while ((t = clock_mono_ns()) - t0 < 500000000ULL && n < 100000)
        n += crypto_verify(k, msg, sizeof msg, sig, sig_len) == STELE_OK;
    return n ? (double)(t - t0) / 1e3 / (double)n : 0;
}

/* Starts a temporary network with `stele-network up`: one solo orderer, or four pbft ones.
 * Returns 0 or -1. */
static int own_network(const char *dir, char *netdir, size_t n, bool pbft)
{
    char self[PATH_MAX], yaml[PATH_MAX + 16], port[16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = 0;
    char *slash = strrchr(self, '/');
    if (!slash || snprintf(slash + 1, sizeof self - (size_t)(slash + 1 - self), "%s",
                           "stele-network") >= (int)(sizeof self - (size_t)(slash + 1 - self)))
        return -1;
    snprintf(yaml, sizeof yaml, "%s/network.yaml", dir);
    snprintf(netdir, n, "%s/net", dir);
    snprintf(port, sizeof port, "%d", 20000 + (int)(clock_mono_ns() / 1000 % 800) * 50);
    FILE *f = fopen(yaml, "w");
    static const char common[] =
        "network: bench\nbase_port: 17050\nca: {listen: 127.0.0.1:17054, log_level: "
        "warn}\norganisations: [{name: bench}]\nchannel:\n  id: bench\n"
        "  batch: {max_message_count: 500, "
        "batch_timeout: 2s, preferred_max_bytes: 2MiB, absolute_max_bytes: 10MiB}\n";
    static const char solo[] =
        "  consensus: {type: solo}\n"
        "orderers: [{id: orderer0, listen: 127.0.0.1:17050, log_level: warn}]\n"
        "identities: [{id: orderer0, org: bench, role: orderer}]\n";
    static const char four[] = "  consensus: {type: pbft}\n"
                               "orderers:\n"
                               "  - {id: orderer0, listen: 127.0.0.1:17050, log_level: warn}\n"
                               "  - {id: orderer1, listen: 127.0.0.1:17051, log_level: warn}\n"
                               "  - {id: orderer2, listen: 127.0.0.1:17052, log_level: warn}\n"
                               "  - {id: orderer3, listen: 127.0.0.1:17053, log_level: warn}\n"
                               "identities:\n"
                               "  - {id: orderer0, org: bench, role: orderer}\n"
                               "  - {id: orderer1, org: bench, role: orderer}\n"
                               "  - {id: orderer2, org: bench, role: orderer}\n"
                               "  - {id: orderer3, org: bench, role: orderer}\n";
    if (!f || fputs(common, f) < 0 || fputs(pbft ? four : solo, f) < 0 || fclose(f) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct sched_param sp = {0};
        sched_setscheduler(0, SCHED_OTHER, &sp); /* the network runs as any daemon would */
        execl(self, self, "up", "--config", yaml, "--dir", netdir, "--base-port", port,
              (char *)NULL);
        _exit(127);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Runs `stele-network down` on the temporary network and removes its directory. */
static void drop_network(const char *dir, const char *netdir)
{
    char cmd[PATH_MAX * 3 + 64], self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(cmd, sizeof cmd, "'%s/stele-network' down --dir '%s' >/dev/null && rm -rf '%s'", self,
             netdir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "stele-bench order: could not stop the network in %s\n", netdir);
}

/* Signs the envelopes on every core. */
static void sign_all(struct order_run *r)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > 0 && cores < 64 ? (int)cores : 2;
    pthread_t t[64];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, sign_worker, r);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* CPU seconds used by every orderer running here; -1 when one is not readable. */
static double orderers_cpu_s(const struct order_run *r)
{
    double sum = 0;
    for (size_t i = 0; i < r->n_orderers; i++) {
        double c = r->pids[i] ? proc_cpu_s(r->pids[i]) : -1;
        if (c < 0)
            return -1;
        sum += c;
    }
    return sum;
}

/* The measured part: clients and subscriber, then the wait for the last blocks. */
static void measure(struct order_run *r, int clients, double secs)
{
    pthread_t sub, *t = calloc((size_t)clients, sizeof *t);
    pthread_create(&sub, NULL, deliver_worker, r);
    r->first_ns = clock_mono_ns();
    r->end_ns = r->first_ns + (uint64_t)(secs * 1e9);
    double ocpu = orderers_cpu_s(r), scpu = self_cpu_s();
    double mcpu = machine_busy_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, client_worker, r);
    /* CPU used by the orderer and by this program while the clients send. */
    for (uint64_t now; (now = clock_mono_ns()) < r->end_ns;)
        clock_sleep_ms((r->end_ns - now) / 1000000 + 1);
    double ocpu_end = ocpu >= 0 ? orderers_cpu_s(r) : -1;
    r->orderer_cpu_s = ocpu_end >= 0 ? ocpu_end - ocpu : -1;
    r->self_cpu_s = self_cpu_s() - scpu;
    r->machine_cpu_s = mcpu >= 0 ? machine_busy_s() - mcpu : -1;
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    /* The last batch is cut by its timeout: wait while blocks still come. */
    uint64_t last = atomic_load(&r->delivered), quiet = clock_mono_ms();
    while (atomic_load(&r->delivered) < atomic_load(&r->acks) && clock_mono_ms() - quiet < 5000) {
        clock_sleep_ms(20);
        if (atomic_load(&r->delivered) != last) {
            last = atomic_load(&r->delivered);
            quiet = clock_mono_ms();
        }
    }
    atomic_store(&r->stop, true);
    pthread_join(sub, NULL);
    free(t);
}

int bench_order(int argc, char **argv)
{
    struct bench_opts o = {.duration_s = 5, .clients = 16};
    int rc = bench_parse_common(argc, argv, &o, order_usage);
    if (rc)
        return rc;
    if (o.target)
        return cli_usage("stele-bench order", "use --network DIR, not --target");
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    /* The clients stand in for machines of their own: as SCHED_BATCH, inherited by every
     * thread created from here on (gRPC's included), their wake-ups do not preempt the
     * orderer, which on a shared core they otherwise did at every response. They still get
     * their fair share of the CPU. */
    struct sched_param sp = {0};
    bool batch = sched_setscheduler(0, SCHED_BATCH, &sp) == 0;
    char tmpl[] = "/tmp/stele-bench-order-XXXXXX", netdir[PATH_MAX] = "";
    const char *tmp = NULL, *dir = o.network;
    struct order_run *r = calloc(1, sizeof *r);
    struct netfile nf;
    struct config *cc = NULL;
    struct rpc_channel *ch = NULL;
    char *err = NULL;
    int code = CLI_EXIT_INTERNAL;
    if (!r)
        return CLI_EXIT_INTERNAL;
    if (!dir) {
        bool pbft = o.consensus && strcmp(o.consensus, "pbft") == 0;
        if (!(tmp = mkdtemp(tmpl)) || own_network(tmp, netdir, sizeof netdir, pbft) != 0) {
            fprintf(stderr, "stele-bench order: cannot start a network (see %s)\n",
                    tmp ? tmp : "/tmp");
            goto out;
        }
        dir = netdir;
    }
    if (netfile_load(dir, &nf, &cc, &err) != STELE_OK || !netfile_find(&nf, "orderer") ||
        !nf.admin || enrolment_load(nf.admin, &r->id, &err) != STELE_OK) {
        fprintf(stderr, "stele-bench order: %s\n", err ? err : "the network has no orderer");
        goto out;
    }
    if (o.network && o.consensus && strcmp(o.consensus, nf.consensus) != 0) {
        fprintf(stderr, "stele-bench order: the network in %s runs %s, not %s\n", o.network,
                nf.consensus, o.consensus);
        code = CLI_EXIT_USAGE;
        goto out;
    }
    r->url = netfile_find(&nf, "orderer")->url;
    bool pbft = strcmp(nf.consensus, "pbft") == 0;
    for (size_t i = 0; i < nf.n_processes && r->n_orderers < MAX_ORD; i++) {
        const struct netfile_process *p = &nf.processes[i];
        if (strcmp(p->kind, "orderer") != 0 || (!pbft && r->n_orderers == 1))
            continue;
        /* Its CPU time is readable when it runs on this machine (loopback, live pid). */
        r->pids[r->n_orderers] =
            strncmp(p->url, "127.", 4) == 0 && netfile_pid_alive(p->pid) ? p->pid : 0;
        r->urls[r->n_orderers++] = p->url;
    }
    if (o.rate > 0)
        r->gap_ns = (uint64_t)(1e9 * o.clients / o.rate);
    r->channel = nf.channel_id;
    r->n_envs = (size_t)(o.duration_s * RATE_GUESS) + (size_t)o.clients * WINDOW;
    if (r->n_envs > MAX_ENVS)
        r->n_envs = MAX_ENVS;
    r->envs = calloc(r->n_envs, sizeof *r->envs);
    r->sent_ns = calloc(r->n_envs, sizeof *r->sent_ns);
    r->acked = calloc(r->n_envs, 1);
    r->seen = calloc(r->n_envs, 1);
    /* Under pbft an orderer that is down is noticed at once and left out (fail_fast); alone, the
     * orderer is waited for as a daemon would. */
    struct rpc_channel_opts co = {.max_message = 80u << 20, .tls = netfile_client_tls(&nf)},
                            bco = {.timeout_ms = 30000,
                                   .fail_fast = r->n_orderers > 1,
                                   .tls = netfile_client_tls(&nf)};
    if (!r->envs || !r->sent_ns || !r->acked || !r->seen)
        goto out;
    if (!(ch = bench_channel("stele-bench order", r->url, &co)))
        goto out;
    for (size_t i = 0; i < r->n_orderers; i++)
        if (!(r->bchs[i] = bench_channel("stele-bench order", r->urls[i], &bco)))
            goto out;
    sign_all(r);
    if (open_deliver(r, ch) != STELE_OK) {
        fprintf(stderr, "stele-bench order: cannot subscribe to %s with Deliver\n", r->url);
        goto out;
    }
    measure(r, o.clients, o.duration_s);

    uint64_t dup = 0, missing = 0, stray = 0, refused = 0;
    for (size_t i = 0; i < r->n_envs; i++) {
        dup += r->seen[i] > 1;
        missing += r->acked[i] && !r->seen[i];
        stray += !r->acked[i] && r->seen[i];
        refused += r->n_orderers > 1 && r->sent_ns[i] && !r->acked[i] && !r->seen[i];
    }
    atomic_fetch_add(&r->errors, refused); /* no orderer accepted it */
    struct bench_result res[2] = {0};
    snprintf(res[0].name, sizeof res[0].name, "order_%d", o.clients);
    snprintf(res[0].unit, sizeof res[0].unit, "envelopes");
    res[0].clients = o.clients;
    /* Steady state: what was delivered while the clients were sending (the last batch waits
     * out its BatchTimeout after they stop, which is not throughput). */
    res[0].ops = r->in_window;
    res[0].errors = atomic_load(&r->errors) + dup + missing;
    res[0].seconds = (double)(r->end_ns - r->first_ns) / 1e9;
    res[0].lat = r->lat;
    snprintf(res[1].name, sizeof res[1].name, "blocks");
    snprintf(res[1].unit, sizeof res[1].unit, "blocks");
    res[1].clients = 1;
    res[1].ops = r->blocks;
    res[1].seconds = res[0].seconds;
    double vus = verify_us(r->id.key);
    long ncores = sysconf(_SC_NPROCESSORS_ONLN);
    /* solo: one core checks one signature per envelope; pbft: every orderer checks every
     * envelope, and they share this machine's cores. */
    double bound = vus <= 0             ? 0
                   : r->n_orderers <= 1 ? 1e6 / vus
                                        : (double)ncores * 1e6 / ((double)r->n_orderers * vus);
    double per_s = res[0].seconds > 0 ? (double)res[0].ops / res[0].seconds : 0;
    /* CPU per envelope: what one envelope costs the orderer, and this program (the clients
     * and the subscriber), over the sending window; orderer_alone_per_s is the rate the
     * orderer's own cost allows when it has every core (a projection, not a measurement). */
    double n_env = res[0].ops ? (double)res[0].ops : 1;
    double o_us = r->orderer_cpu_s >= 0 ? r->orderer_cpu_s * 1e6 / n_env : 0;
    double s_us = r->self_cpu_s * 1e6 / n_env;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char cpu[256] = "";
    /* What else ran meanwhile (other programs on a shared machine) shows as other_cores. */
    double other = r->machine_cpu_s - r->self_cpu_s - (r->orderer_cpu_s > 0 ? r->orderer_cpu_s : 0);
    if (o_us > 0)
        snprintf(cpu, sizeof cpu,
                 ",\"orderer_cpu_us_per_envelope\":%.1f,\"orderer_cores_used\":%.2f,"
                 "\"orderer_alone_per_s\":%.0f,\"other_cores_used\":%.2f",
                 o_us, r->orderer_cpu_s / res[0].seconds, (double)cores * 1e6 / o_us,
                 r->machine_cpu_s >= 0 && other > 0 ? other / res[0].seconds : 0);
    char extra[768];
    snprintf(
        extra, sizeof extra,
        "\"consensus\":\"%s\",\"orderers\":%zu,\"rate_offered\":%.0f,"
        "\"verify_us\":%.1f,\"bound_per_s\":%.0f,\"bound_ratio\":%.3f,\"cores\":%ld,"
        "\"bench_cpu_us_per_envelope\":%.1f%s,\"bench_sched\":\"%s\","
        "\"accepted\":%llu,\"delivered\":%llu,\"delivered_exactly_once\":%s,\"duplicates\":%llu,"
        "\"missing\":%llu,\"unacknowledged_delivered\":%llu,\"presigned\":%zu,"
        "\"lost_streams\":%llu",
        nf.consensus, r->n_orderers, o.rate, vus, bound, bound > 0 ? per_s / bound : 0, cores, s_us,
        cpu, batch ? "batch" : "other", (unsigned long long)atomic_load(&r->acks),
        (unsigned long long)atomic_load(&r->delivered), dup == 0 && missing == 0 ? "true" : "false",
        (unsigned long long)dup, (unsigned long long)missing, (unsigned long long)stray, r->n_envs,
        (unsigned long long)atomic_load(&r->lost_streams));
    bench_report("order", &o, res, 2, 0, extra);
    code = res[0].errors || res[0].ops == 0 ? CLI_EXIT_INTERNAL : CLI_EXIT_OK;
out:
    if (r->deliver)
        rpc_call_finish(r->deliver, true, NULL);
    rpc_channel_close(ch);
    for (size_t i = 0; i < r->n_orderers; i++)
        rpc_channel_close(r->bchs[i]);
    for (size_t i = 0; r->envs && i < r->n_envs; i++)
        free(r->envs[i].data);
    free(r->envs);
    free(r->sent_ns);
    free(r->acked);
    free(r->seen);
    enrolment_release(&r->id);
    config_destroy(cc);
    free(err);
    free(r);
    if (tmp)
        drop_network(tmp, netdir);
    return code;
}
