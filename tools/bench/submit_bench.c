/*
 * submit_bench.c — `stele-bench submit`: transactions submitted through the peers' gateways and
 * committed VALID per second, on a whole network that `stele-network up` started (issue #7
 * item 9), with the latency from proposal to commit.
 *
 * The network must already run the chaincode (default "asset", the sample: its `create ID
 * COLOR SIZE VALUE`); scripts/bench starts configs/network.yaml and deploys it with the stele
 * CLI first, as scripts/demo step 4 does. The benchmark checks that once before the clock
 * starts: one proposal endorsed through each peer's gateway.
 *
 * The load (submit_load.c): --clients threads, spread over the peers' gateways and over the
 * network's client identities, each keeping --window transactions between proposal and
 * commit (Endorse and Submit are asynchronous; Submit does not wait for the commit); one
 * subscriber follows the first peer's filtered block events to see each commit. Every
 * transaction creates its own asset, so none conflicts with another. After a --warmup the
 * clock runs for --duration seconds; throughput counts the transactions committed VALID in
 * that time, latency covers those proposed in it, and the stages (endorse, submit, ordering and
 * commit) are shown apart.
 *
 * Beside the result, the physical bound: the signature operations one committed transaction
 * costs the whole topology on this machine, times their cost measured here, over the cores.
 * Per transaction, with E endorsers (observed), O orderers, P peers:
 *   signs     2 (client: proposal, envelope) + E (endorsements)
 *   verifies  E (each endorser: the proposal) + E - 1 (the gateway: the other endorsements)
 *             + O (each orderer: the envelope) + P (the creator's signature: the gateway's
 *             peer checks it at Submit and remembers it for validation, the others validate)
 *             + (E - 1)^2 + (P - E) E (the endorsements a peer validates that it neither signed
 *             nor checked as the gateway: the peers remember those, lib/crypto/sigcache.h)
 * and per block (pbft, f = (O - 1) / 3):
 *   signs     1 PRE-PREPARE + (O - 1) PREPAREs + O COMMITs (+ O CHECKPOINTs every K blocks)
 *   verifies  (O - 1) + (O - 1)^2 + O (O - 1) among the orderers (+ O (O - 1) every K) and
 *             P * (2f + 1) for the peers' finality checks,
 * spread over full blocks (the channel's max_message_count) for the bound: a system that cuts
 * smaller blocks pays more per transaction, which is its inefficiency, not the machine's
 * (bound_observed_blocks_per_s spreads them over the blocks seen instead). Identity records
 * and keys are cached after first use (lib/identity), so they are left out. sign_us and
 * verify_us are CPU time measured here with a client's key.
 * bound_per_s = cores * 1e6 / (signs * sign_us + verifies * verify_us). Everything else
 * (gRPC, protobuf, hashing, the chaincode host round trips, LevelDB, fsync) comes on top, so
 * the CPU time each process used per transaction is printed too (from /proc), with the cores
 * the whole machine was busy.
 */
#include "bench.h"
#include "submit.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "config/config.h"
#include "ledger/tx.h"
#include "ledger/txvalidate.h"
#include "netfile/netfile.h"
#include "rpc/rpc.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG       "stele-bench submit"
#define MAX_IDS    64
#define RATE_GUESS 6000 /* transactions/s to make room for */
#define MAX_TXS    2000000
#define DRAIN_MS   8000 /* the last blocks: wait this long without one at most */

static const char submit_usage[] =
    "Usage: stele-bench submit --network DIR [--clients N] [--window W] [--endorse-limit E]\n"
    "                          [--duration S] [--warmup S] [--rate R] [--chaincode NAME]\n"
    "                          [--json]\n"
    "\n"
    "Submits `create` transactions (a new asset each) through the gateways of the network's\n"
    "peers from N clients, each keeping W transactions between proposal and commit, and\n"
    "follows the first peer's block events to see them commit. Prints the transactions\n"
    "committed VALID per second, the latency from proposal to commit and of its stages, the\n"
    "bound the signature operations of the whole topology set on this machine's cores\n"
    "(bound_per_s, bound_ratio), and the CPU time each process used per transaction.\n"
    "The chaincode must be deployed (scripts/bench does it with the stele CLI).\n"
    "  --network DIR      a network from 'stele-network up --dir DIR' (required)\n"
    "  --clients N        client threads (default 16)\n"
    "  --window W         transactions in flight per client, proposal to commit (default 128)\n"
    "  --endorse-limit E  Endorse calls in flight per gateway, shared by its clients (default\n"
    "                     16: a gateway runs at most 16 at once and refuses the rest; see\n"
    "                     docs/PERFORMANCE.md)\n"
    "  --duration S       measured seconds (default 10), after --warmup S (default 2)\n"
    "  --rate R           propose R transactions/s in total (default: as fast as the windows\n"
    "                     allow)\n"
    "  --chaincode NAME   the chaincode to invoke (default asset)\n"
    "  --json             print one JSON object\n";

struct submit_opts {
    const char *network;
    const char *chaincode;
    int clients;
    unsigned window;
    unsigned endorse_limit;
    double duration_s, warmup_s, rate;
    bool json;
};

static int parse_double(const char *flag, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || v < lo || v > hi)
        return cli_usage(PROG, "%s takes a number from %g to %g", flag, lo, hi);
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, struct submit_opts *o)
{
    static const struct option longopts[] = {
        {"network", required_argument, NULL, 'n'},
        {"clients", required_argument, NULL, 'c'},
        {"window", required_argument, NULL, 'w'},
        {"endorse-limit", required_argument, NULL, 'E'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'W'},
        {"rate", required_argument, NULL, 'r'},
        {"chaincode", required_argument, NULL, 'C'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int ch, rc = 0;
    double v;
    while (rc == 0 && (ch = getopt_long(argc, argv, "n:c:d:r:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o->network = optarg;
            break;
        case 'c':
            if ((rc = parse_double("--clients", optarg, 1, 1024, &v)) == 0)
                o->clients = (int)v;
            break;
        case 'w':
            if ((rc = parse_double("--window", optarg, 1, 100000, &v)) == 0)
                o->window = (unsigned)v;
            break;
        case 'E':
            if ((rc = parse_double("--endorse-limit", optarg, 1, 100000, &v)) == 0)
                o->endorse_limit = (unsigned)v;
            break;
        case 'd':
            rc = parse_double("--duration", optarg, 0.1, 3600, &o->duration_s);
            break;
        case 'W':
            rc = parse_double("--warmup", optarg, 0, 600, &o->warmup_s);
            break;
        case 'r':
            rc = parse_double("--rate", optarg, 1, 1e7, &o->rate);
            break;
        case 'C':
            o->chaincode = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'h':
            fputs(submit_usage, stdout);
            exit(0);
        default:
            return cli_usage(PROG, "see 'stele-bench submit --help'");
        }
    }
    if (rc == 0 && optind < argc)
        rc = cli_usage(PROG, "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !o->network)
        rc = cli_usage(PROG, "--network DIR is required (a network with the chaincode deployed)");
    if (rc == 0 && !tx_chaincode_name_ok(o->chaincode))
        rc = cli_usage(PROG, "--chaincode takes a chaincode name");
    return rc;
}

/* ---- the report --------------------------------------------------------------------------- */

/* What was measured around the load. */
struct around {
    const struct netfile *nf;
    const struct submit_opts *o;
    struct sub_proc ps[SUBMIT_MAX_PROCS]; /* the network's processes here */
    size_t nps;                           /* entries in ps */
    unsigned orderers;                    /* the network's orderers */
    size_t n_ids;                         /* client identities */
    unsigned endorse_limit;               /* per gateway, as applied */
    struct sub_channel chan;              /* from the genesis block */
    double sign_us, verify_us;            /* signature costs here */
    double self_s, machine_s;             /* CPU used in the window: here, everywhere */
    char policy[512];                     /* the chaincode's endorsement policy ("" unknown) */
    bool batch;                           /* this program runs as SCHED_BATCH */
};

static void name_result(struct bench_result *r, const char *name, const char *unit, int clients,
                        double secs)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->clients = clients;
    r->seconds = secs;
}

/* Appends "cpu_us_per_tx": {kind: µs per committed transaction} and the cores used. */
static void cpu_json(struct buf *x, const struct around *w, double txs, double secs)
{
    static const char *const kinds[] = {"ca", "orderer", "peer", "chaincode"};
    static const char *const keys[] = {"ca", "orderers", "peers", "chaincode_hosts"};
    double known = w->self_s;
    buf_printf(x, ",\"cpu_us_per_tx\":{\"bench\":%.1f", w->self_s * 1e6 / txs);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        double sum = 0;
        int count = 0;
        for (size_t i = 0; i < w->nps; i++)
            if (strcmp(w->ps[i].kind, kinds[k]) == 0 && w->ps[i].used_s >= 0) {
                sum += w->ps[i].used_s;
                count++;
                if (k == 1 || k == 2) /* each orderer and peer on its own too */
                    buf_printf(x, ",\"%s\":%.1f", w->ps[i].name, w->ps[i].used_s * 1e6 / txs);
            }
        known += sum;
        buf_printf(x, ",\"%s\":%.1f", keys[k], sum * 1e6 / txs);
        if (k == 3)
            buf_printf(x, ",\"chaincode_processes\":%d", count);
    }
    double other = w->machine_s > known ? w->machine_s - known : 0;
    buf_printf(x, ",\"other\":%.1f,\"total\":%.1f},\"machine_cores_used\":%.2f", other * 1e6 / txs,
               w->machine_s * 1e6 / txs, w->machine_s / secs);
    buf_printf(x, ",\"other_cores_used\":%.2f", other / secs);
}

/* Appends ,"key":"text" with text from the wire made safe for JSON (quotes, backslashes and
 * control characters become '). */
static void json_text(struct buf *x, const char *key, const char *text)
{
    buf_printf(x, ",\"%s\":\"", key);
    for (const char *q = text; *q; q++)
        buf_printf(x, "%c", *q == '"' || *q == '\\' || (unsigned char)*q < 0x20 ? '\'' : *q);
    buf_printf(x, "\"");
}

/* Prints the report; returns the exit status. */
static int report(struct sub_run *r, const struct around *w)
{
    const struct submit_opts *o = w->o;
    uint64_t committed = r->committed, invalid = committed - r->valid;
    uint64_t submitted = r->submitted;
    uint64_t uncommitted = submitted > committed ? submitted - committed : 0;
    uint64_t errors =
        r->endorse_errors + r->refused + r->submit_errors + invalid + uncommitted + r->out_of_room;
    struct bench_result res[5] = {0};
    char name[48];
    snprintf(name, sizeof name, "submit_%d", o->clients);
    name_result(&res[0], name, "transactions", o->clients, o->duration_s);
    res[0].ops = r->valid_in_window;
    res[0].errors = errors;
    res[0].lat = r->lat;
    name_result(&res[1], "endorse", "transactions", o->clients, o->duration_s);
    res[1].ops = r->endorse_lat.count;
    res[1].lat = r->endorse_lat;
    name_result(&res[2], "submit", "transactions", o->clients, o->duration_s);
    res[2].ops = r->submit_lat.count;
    res[2].lat = r->submit_lat;
    name_result(&res[3], "order_and_commit", "transactions", o->clients, o->duration_s);
    res[3].ops = r->order_lat.count;
    res[3].lat = r->order_lat;
    name_result(&res[4], "blocks", "blocks", 1, o->duration_s);
    res[4].ops = r->blocks;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t endorsed = submitted + r->submit_errors;
    double seen_b = r->blocks ? (double)r->block_txs / (double)r->blocks : 0;
    struct sub_sig_model full = {.endorsers = endorsed ? (double)r->endorsers / endorsed : 0,
                                 .txs_per_block = w->chan.max_message_count,
                                 .orderers = w->orderers,
                                 .peers = (unsigned)r->n_peers,
                                 .k = w->chan.checkpoint_interval};
    struct sub_sig_model seen = full;
    seen.txs_per_block = seen_b;
    submit_sig_model(&full, w->sign_us, w->verify_us);
    submit_sig_model(&seen, w->sign_us, w->verify_us);
    double per_s = (double)res[0].ops / o->duration_s;
    double bound = full.us > 0 ? (double)cores * 1e6 / full.us : 0;
    double bound_seen = seen.us > 0 ? (double)cores * 1e6 / seen.us : 0;
    const char *first_bad = "none";
    for (unsigned c = 1; c < SUBMIT_CODES; c++)
        if (r->codes[c]) {
            first_bad = txvalidate_code_name(c);
            break;
        }
    struct buf x;
    buf_init(&x);
    buf_printf(&x,
               "\"network\":\"%s\",\"chaincode\":\"%s\",\"peers\":%zu,\"orderers\":%u,"
               "\"consensus\":\"%s\",\"window\":%u,\"endorse_limit\":%u,\"warmup_s\":%.1f,"
               "\"rate_offered\":%.0f,\"identities\":%zu,\"bench_sched\":\"%s\",",
               w->nf->network, o->chaincode, r->n_peers, w->orderers, w->nf->consensus, o->window,
               w->endorse_limit, o->warmup_s, o->rate, w->n_ids, w->batch ? "batch" : "other");
    buf_printf(&x,
               "\"proposed\":%llu,\"submitted\":%llu,\"committed\":%llu,\"valid\":%llu,"
               "\"invalid\":%llu,\"first_invalid_code\":\"%s\",\"endorse_errors\":%llu,"
               "\"refused\":%llu,\"submit_errors\":%llu,\"uncommitted\":%llu,"
               "\"out_of_room\":%llu,",
               (unsigned long long)r->proposed, (unsigned long long)submitted,
               (unsigned long long)committed, (unsigned long long)r->valid,
               (unsigned long long)invalid, first_bad, (unsigned long long)r->endorse_errors,
               (unsigned long long)r->refused, (unsigned long long)r->submit_errors,
               (unsigned long long)uncommitted, (unsigned long long)r->out_of_room);
    buf_printf(&x,
               "\"endorsers_per_tx\":%.2f,\"txs_per_block\":%.1f,\"full_block\":%u,"
               "\"sign_us\":%.1f,\"verify_us\":%.1f,\"signs_per_tx\":%.2f,"
               "\"verifies_per_tx\":%.2f,\"sig_us_per_tx\":%.0f,\"cores\":%ld,"
               "\"bound_per_s\":%.0f,\"bound_ratio\":%.3f,\"bound_observed_blocks_per_s\":%.0f,"
               "\"bound_observed_blocks_ratio\":%.3f",
               full.endorsers, seen_b, w->chan.max_message_count, w->sign_us, w->verify_us,
               full.signs, full.verifies, full.us, cores, bound, bound > 0 ? per_s / bound : 0,
               bound_seen, bound_seen > 0 ? per_s / bound_seen : 0);
    double txs = res[0].ops ? (double)res[0].ops : 1;
    if (w->machine_s >= 0)
        cpu_json(&x, w, txs, o->duration_s);
    json_text(&x, "endorsement_policy", w->policy);
    if (r->first_error[0])
        json_text(&x, "first_error", r->first_error);
    struct bench_opts bo = {.duration_s = o->duration_s,
                            .clients = o->clients,
                            .json = o->json,
                            .target = o->network,
                            .rate = o->rate};
    bench_report("submit", &bo, res, 5, 0, x.data ? (char *)x.data : "");
    buf_release(&x);
    if (!o->json)
        printf("%.0f transactions/s committed VALID; bound %.0f/s = %ld cores / (%.2f signs x "
               "%.1f us + %.2f verifies x %.1f us); ratio %.2f\n",
               per_s, bound, cores, full.signs, w->sign_us, full.verifies, w->verify_us,
               bound > 0 ? per_s / bound : 0);
    if (!o->json)
        printf("endorsement policy of %s: %s\n", o->chaincode,
               w->policy[0] ? w->policy : "(could not be read)");
    if (atomic_load(&r->sub_failed))
        fprintf(stderr, "%s: the block events stream ended early\n", PROG);
    if (errors)
        fprintf(stderr, "%s: %llu transactions did not commit VALID%s%s\n", PROG,
                (unsigned long long)errors, r->first_error[0] ? "; first error: " : "",
                r->first_error);
    return res[0].ops && !errors && !atomic_load(&r->sub_failed) ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}

/* ---- the command -------------------------------------------------------------------------- */

/* Sleeps until CLOCK_MONOTONIC reaches `ns`. */
static void sleep_until(uint64_t ns)
{
    for (uint64_t now; (now = clock_mono_ns()) < ns;)
        clock_sleep_ms((ns - now) / 1000000 + 1);
}

int bench_submit(int argc, char **argv)
{
    struct submit_opts o = {.chaincode = "asset",
                            .clients = 16,
                            .window = 128,
                            .endorse_limit = 16,
                            .duration_s = 10,
                            .warmup_s = 2};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    /* The clients stand in for machines of their own: as SCHED_BATCH (inherited by every
     * thread created from here on, gRPC's included) their wake-ups do not preempt the
     * network's processes, as in `stele-bench order`. They still get their fair share. */
    struct sched_param sched = {0};
    bool batch = sched_setscheduler(0, SCHED_BATCH, &sched) == 0;
    struct netfile nf;
    struct config *cc = NULL;
    char *err = NULL;
    int code = CLI_EXIT_INTERNAL;
    struct sub_identity *ids = calloc(MAX_IDS, sizeof *ids);
    struct sub_run *r = calloc(1, sizeof *r);
    struct around *w = calloc(1, sizeof *w);
    const char *peer_urls[SUBMIT_MAX_PEERS];
    if (!ids || !r || !w)
        goto out;
    if (netfile_load(o.network, &nf, &cc, &err) != STELE_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err ? err : "cannot read the network file");
        goto out;
    }
    w->nf = &nf;
    w->o = &o;
    w->batch = batch;
    for (size_t i = 0; i < nf.n_processes; i++) {
        const struct netfile_process *p = &nf.processes[i];
        w->orderers += strcmp(p->kind, "orderer") == 0;
        if (strcmp(p->kind, "peer") == 0 && r->n_peers < SUBMIT_MAX_PEERS)
            peer_urls[r->n_peers++] = p->url;
        /* Its CPU time is readable when it runs on this machine (loopback, live pid). */
        if (strncmp(p->url, "127.", 4) == 0 && netfile_pid_alive(p->pid) &&
            w->nps < SUBMIT_MAX_PROCS) {
            struct sub_proc *sp = &w->ps[w->nps++];
            sp->pid = p->pid;
            snprintf(sp->name, sizeof sp->name, "%s", p->name);
            snprintf(sp->kind, sizeof sp->kind, "%s", p->kind);
        }
    }
    if (!r->n_peers || !(w->n_ids = submit_load_clients(nf.ids_dir, ids, MAX_IDS))) {
        fprintf(stderr, "%s: the network in %s has %s\n", PROG, o.network,
                r->n_peers ? "no enrolled identity of role client" : "no peer");
        code = CLI_EXIT_REFUSED;
        goto out;
    }
    struct rpc_channel_opts co = {.max_message = 64u << 20, .tls = netfile_client_tls(&nf)};
    for (size_t i = 0; i < r->n_peers; i++)
        if (!(r->gw[i] = bench_channel(PROG, peer_urls[i], &co)))
            goto out;
    if (!(r->events = bench_channel(PROG, peer_urls[0], &co)))
        goto out;
    r->channel = nf.channel_id;
    r->chaincode = o.chaincode;
    r->ids = ids;
    r->n_ids = w->n_ids;
    r->clients = o.clients;
    r->window = o.window;
    /* Each client gets its share of its gateway's Endorse limit (at least one call). */
    unsigned per_gw = (unsigned)(((size_t)o.clients + r->n_peers - 1) / r->n_peers);
    r->endorsing = o.endorse_limit / per_gw > 0 ? o.endorse_limit / per_gw : 1;
    w->endorse_limit = r->endorsing * per_gw;
    r->gap_ns = o.rate > 0 ? (uint64_t)(1e9 * o.clients / o.rate) : 0;
    /* Asset ids no earlier run used: the time and this process. */
    snprintf(r->prefix, sizeof r->prefix, "b%llx-%x-", (unsigned long long)clock_wall_ms(),
             (unsigned)getpid());
    for (size_t i = 0; i < r->n_peers; i++)
        if ((code = submit_probe(r->gw[i], peer_urls[i], r, (int)i)) != 0)
            goto out;
    code = CLI_EXIT_INTERNAL;
    submit_channel_params(o.network, nf.channel_id, &w->chan);
    if (!w->chan.max_message_count) { /* the bound would charge every transaction a block */
        fprintf(stderr, "%s: cannot read the batch size from %s/genesis.block (channel %s)\n", PROG,
                o.network, nf.channel_id);
        goto out;
    }
    submit_sig_costs(ids[0].e.key, 1024, &w->sign_us, &w->verify_us);
    if (w->sign_us <= 0 || w->verify_us <= 0) {
        fprintf(stderr, "%s: cannot measure what a signature costs here\n", PROG);
        goto out;
    }
    submit_policy(r->gw[0], r, w->policy, sizeof w->policy);
    r->n_txs = (size_t)((o.warmup_s + o.duration_s) * (o.rate > 0 ? o.rate * 1.2 : RATE_GUESS)) +
               (size_t)o.clients * o.window;
    if (r->n_txs > MAX_TXS)
        r->n_txs = MAX_TXS;
    if (!(r->txs = calloc(r->n_txs, sizeof *r->txs)))
        goto out;
    r->meas_ns = (uint64_t)(o.warmup_s * 1e9); /* offsets from the start */
    r->end_ns = r->meas_ns + (uint64_t)(o.duration_s * 1e9);
    if ((rc = submit_load_start(r))) {
        fprintf(stderr, "%s: cannot follow the commits on %s: %s\n", PROG, peer_urls[0],
                stele_strerror(rc));
        submit_load_finish(r, 0);
        goto out;
    }
    /* The CPU time of every process during the window (the chaincode hosts exist by now). */
    sleep_until(r->meas_ns);
    submit_find_hosts(w->ps, &w->nps);
    submit_cpu_start(w->ps, w->nps);
    double self0 = submit_self_cpu_s(), mach0 = submit_machine_busy_s();
    sleep_until(r->end_ns);
    submit_cpu_stop(w->ps, w->nps);
    double mach1 = submit_machine_busy_s();
    w->self_s = submit_self_cpu_s() - self0;
    w->machine_s = mach0 >= 0 && mach1 >= 0 ? mach1 - mach0 : -1;
    submit_load_finish(r, DRAIN_MS);
    code = report(r, w);
out:
    if (r) {
        submit_load_release(r);
        for (size_t i = 0; i < r->n_peers; i++)
            rpc_channel_close(r->gw[i]);
        rpc_channel_close(r->events);
        free(r->txs);
    }
    for (size_t i = 0; ids && w && i < w->n_ids; i++)
        enrolment_release(&ids[i].e);
    config_destroy(cc);
    free(err);
    free(ids);
    free(r);
    free(w);
    return code;
}
