/*
 * commit_bench.c — `stele-bench commit`: transactions validated and committed per second by
 * one peer's ledger (issue #6 item 8).
 *
 * Everything is real and in this process: the ledger (lib/ledger/kvledger.h) in a temporary
 * directory with its LevelDB state and block files, ECQV identities of two organisations,
 * and every signature. Before the clock starts, commit_chain.c issues the identities, builds
 * the genesis block of a solo channel and --blocks blocks of --txs-per-block transactions,
 * each signed by its creator and endorsed by a peer of each organisation (the policy is
 * AND(Org1.peer,Org2.peer)), each block carrying the solo orderer's finality proof. Then:
 *
 *   commit      kvledger_commit() of every block in order, as a peer's committer does it:
 *               finality proof, validation on --threads threads, block append, state batch,
 *               each synced unless --no-sync. Throughput counts VALID transactions over the
 *               whole loop; latency is per block. Every transaction must come out VALID (the
 *               codes are read back from the stored blocks) or the run fails: a benchmark
 *               that measures rejections is worthless.
 *   stage_*     the same blocks committed again into a second directory through the parts
 *               kvledger_commit() is made of, each timed on its own: finality_check(),
 *               txvalidate_block(), statedb_update_hash(), blockstore_append(),
 *               statedb_apply(). Their rates tell where a block's time goes; both ledgers
 *               must end with the same state hash.
 *
 * Beside the result: the cost of one ECDSA verification measured here over a message the
 * size of an envelope (verify_us), and bound_per_s = cores * 1e6 / (3 * verify_us), what the
 * machine's cores allow when they do nothing but the three signature checks each transaction
 * needs (creator, two endorsers). Identity records and keys are cached by the MSP after their
 * first use, so their CA signatures and ECQV extractions (once per identity) are left out.
 */
#include "bench.h"
#include "commit_chain.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "identity/identity.h"
#include "ledger/blockstore.h"
#include "ledger/envelope.h"
#include "ledger/finality.h"
#include "ledger/genesis.h"
#include "ledger/kvledger.h"
#include "ledger/statedb.h"
#include "ledger/txvalidate.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char commit_usage[] =
    "Usage: stele-bench commit [--blocks N] [--txs-per-block T] [--threads V] [--creators C]\n"
    "                          [--no-reads] [--sync | --no-sync] [--json]\n"
    "\n"
    "Builds and signs N blocks of T endorsed transactions (creator signature and two\n"
    "endorsements each) for a solo channel of two organisations, then commits them into a\n"
    "ledger in a temporary directory with kvledger_commit() and prints validated-and-committed\n"
    "transactions per second, the per-block commit latency and the bound three signature\n"
    "verifications per transaction set on this machine's cores. The same blocks are then\n"
    "committed again stage by stage to show where the time goes. Fails unless every\n"
    "transaction is VALID.\n"
    "  --blocks N          blocks to commit (default 50)\n"
    "  --txs-per-block T   transactions per block (default 500)\n"
    "  --threads V         validation threads (default 2)\n"
    "  --creators C        client identities creating the transactions in turn (default 16)\n"
    "  --no-reads          transactions only write (default: each also reads a key written in\n"
    "                      the previous block, so MVCC checks read the state)\n"
    "  --sync, --no-sync   fsync blocks and state batches, as a peer does (default), or not\n"
    "  --json              print one JSON object\n";

/* The stages of a commit, in the order kvledger_commit() runs them. */
enum stage { ST_FINALITY, ST_VALIDATE, ST_HASH, ST_APPEND, ST_APPLY, N_STAGES };
static const char *const stage_names[N_STAGES] = {"finality", "validate", "state_hash", "append",
                                                  "apply"};

/* The command line. */
struct commit_opts {
    unsigned blocks;   /* --blocks */
    unsigned txs;      /* --txs-per-block */
    unsigned threads;  /* --threads: validation threads */
    unsigned creators; /* --creators */
    bool reads;        /* not --no-reads */
    bool sync;         /* --sync (default) or --no-sync */
    bool json;         /* --json */
};

/* CPU seconds used meanwhile: by this process, and by every process (from /proc/stat). */
struct cpu_mark {
    double self_s;    /* user + system of this process */
    double machine_s; /* busy time of all cores, -1 when unknown */
};

static void cpu_mark(struct cpu_mark *m)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    m->self_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    m->machine_s = -1;
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8];
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8)
        m->machine_s =
            (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
    if (f)
        fclose(f);
}

static int parse_count(const char *flag, const char *arg, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || v < lo || v > hi)
        return cli_usage("stele-bench commit", "%s takes a number from %u to %u", flag, lo, hi);
    *out = (unsigned)v;
    return 0;
}

static int parse(int argc, char **argv, struct commit_opts *o)
{
    static const struct option longopts[] = {
        {"blocks", required_argument, NULL, 'b'},  {"txs-per-block", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'T'}, {"creators", required_argument, NULL, 'c'},
        {"no-reads", no_argument, NULL, 'R'},      {"sync", no_argument, NULL, 's'},
        {"no-sync", no_argument, NULL, 'S'},       {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    optind = 1;
    int ch, rc = 0;
    while (rc == 0 && (ch = getopt_long(argc, argv, "b:t:T:c:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            rc = parse_count("--blocks", optarg, 1, 100000, &o->blocks);
            break;
        case 't':
            rc = parse_count("--txs-per-block", optarg, 1, 10000, &o->txs);
            break;
        case 'T':
            rc = parse_count("--threads", optarg, 1, 64, &o->threads);
            break;
        case 'c':
            rc = parse_count("--creators", optarg, 1, 4096, &o->creators);
            break;
        case 'R':
            o->reads = false;
            break;
        case 's':
        case 'S':
            o->sync = ch == 's';
            break;
        case 'j':
            o->json = true;
            break;
        case 'h':
            fputs(commit_usage, stdout);
            exit(0);
        default:
            return cli_usage("stele-bench commit", "see 'stele-bench commit --help'");
        }
    }
    if (rc == 0 && optind < argc)
        rc = cli_usage("stele-bench commit", "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && (uint64_t)o->blocks * o->txs > 1000000)
        rc = cli_usage("stele-bench commit", "--blocks times --txs-per-block is at most 1000000");
    return rc;
}

/* Counts the VALID transactions of blocks 1..n as stored in `bs`; *first_bad gets the first
 * other code seen (-1 when none). Returns STELE_OK or the error reading a block. */
static int count_valid(struct blockstore *bs, uint64_t n, uint64_t *valid, int *first_bad)
{
    struct arena *a = arena_create(0);
    int rc = a ? STELE_OK : STELE_ERR_NOMEM;
    *valid = 0;
    *first_bad = -1;
    for (uint64_t k = 1; rc == STELE_OK && k <= n; k++) {
        Stele__Block *b = NULL;
        if ((rc = blockstore_get(bs, k, a, &b)))
            break;
        const ProtobufCBinaryData *codes = &b->metadata->validation_codes;
        for (size_t i = 0; i < codes->len; i++) {
            *valid += codes->data[i] == STELE__TX_VALIDATION_CODE__VALID;
            if (codes->data[i] != STELE__TX_VALIDATION_CODE__VALID && *first_bad < 0)
                *first_bad = codes->data[i];
        }
        arena_reset(a);
    }
    arena_destroy(a);
    return rc;
}

/* The headline: every block through kvledger_commit(). Fills res (transactions, latency per
 * block) and the state hash after the last block. */
static int run_ledger(const struct commit_opts *o, const struct commit_chain *c, const char *dir,
                      struct bench_result *res, struct cpu_mark *used, uint8_t state[32],
                      int *first_bad)
{
    struct msp *m = msp_create(0);
    struct kvledger *l = NULL;
    char *err = NULL;
    struct kvledger_options ko = {.dir = dir,
                                  .channel_id = COMMIT_CHANNEL,
                                  .genesis = c->genesis,
                                  .genesis_len = c->genesis_len,
                                  .sync = o->sync,
                                  .threads = o->threads,
                                  .msp = m};
    int rc = m ? kvledger_open(&ko, &l, &err) : STELE_ERR_NOMEM;
    if (rc)
        goto out;
    struct cpu_mark before, after;
    cpu_mark(&before);
    uint64_t t0 = clock_mono_ns(), t = t0;
    for (size_t k = 0; k < c->n_blocks; k++) {
        if ((rc = kvledger_commit(l, c->blocks[k], &err)))
            goto out;
        uint64_t now = clock_mono_ns();
        hist_add(&res->lat, (now - t) / 1000);
        t = now;
    }
    res->seconds = (double)(t - t0) / 1e9;
    cpu_mark(&after);
    used->self_s = after.self_s - before.self_s;
    used->machine_s = before.machine_s >= 0 ? after.machine_s - before.machine_s : -1;
    if ((rc = count_valid(kvledger_blocks(l), c->n_blocks, &res->ops, first_bad)))
        goto out;
    res->errors = c->n_blocks * c->txs_per_block - res->ops;
    kvledger_head(l, NULL, NULL, NULL, state);
out:
    if (rc)
        fprintf(stderr, "stele-bench commit: %s\n", err ? err : stele_strerror(rc));
    free(err);
    kvledger_close(l);
    msp_destroy(m);
    return rc;
}

/* Stores `b` with `codes` and the state hash `state` in its metadata, as kvledger does. */
static int store(struct blockstore *bs, const Stele__Block *b, uint8_t *codes, size_t n,
                 uint8_t state[32])
{
    Stele__BlockMetadata md = *b->metadata;
    md.validation_codes = (ProtobufCBinaryData){n, codes};
    md.state_hash = (ProtobufCBinaryData){32, state};
    Stele__Block copy = *b;
    copy.metadata = &md;
    return blockstore_append(bs, &copy);
}

/* The parts a stage run commits with. */
struct parts {
    struct msp *msp;       /* trusts the two organisations' CAs */
    struct blockstore *bs; /* blocks/ */
    struct statedb *db;    /* state/ */
    struct txvalidator *v; /* validates on --threads threads */
    struct finality fin;   /* checks the solo proofs */
    struct arena *a;       /* holds the channel configuration */
    uint8_t state[32];     /* the state hash after the last block stored */
};

/* Opens a block store and a state database in `dir`, stores and applies the genesis block as
 * kvledger_open() joins a channel, and sets up the finality check and the validator. */
static int parts_open(const struct commit_opts *o, const struct commit_chain *c, const char *dir,
                      struct parts *p, char **err)
{
    char path[PATH_MAX + 16];
    struct blockstore_options bo = {.sync = o->sync ? BLOCKSTORE_SYNC_EVERY_BLOCK
                                                    : BLOCKSTORE_SYNC_NONE};
    static const uint8_t zero[32];
    uint8_t code = STELE__TX_VALIDATION_CODE__VALID;
    const Stele__Block *g;
    Stele__ChannelConfig *cfg;
    struct envelope_view ev;
    struct statedb_update *u = NULL;
    int rc = STELE_ERR_NOMEM;
    if (!(p->msp = msp_create(0)) || !(p->a = arena_create(0)))
        return rc;
    if (mkdir(dir, 0750) != 0)
        return stele_errf(err, STELE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/blocks", dir);
    if ((rc = blockstore_open(path, &bo, &p->bs, err)))
        return rc;
    snprintf(path, sizeof path, "%s/state", dir);
    if ((rc = statedb_open(path, o->sync, &p->db, err)) ||
        (rc = genesis_read_bytes(p->a, c->genesis, c->genesis_len, COMMIT_CHANNEL, &g, &cfg, err)))
        return rc;
    const ProtobufCBinaryData *e = &g->data->envelopes[0];
    if ((rc = envelope_parse(p->a, e->data, e->len, 0, &ev, NULL)) ||
        !(u = statedb_update_create(0)) || (rc = txvalidate_genesis(cfg, ev.header->tx_id, u)) ||
        (rc = statedb_update_hash(u, zero, p->state)) ||
        (rc = store(p->bs, g, &code, 1, p->state)) || (rc = statedb_apply(p->db, u, NULL))) {
        statedb_update_destroy(u);
        return stele_errf(err, rc ? rc : STELE_ERR_NOMEM, "cannot join the genesis block: %s",
                          stele_strerror(rc ? rc : STELE_ERR_NOMEM));
    }
    statedb_update_destroy(u);
    for (size_t i = 0; i < cfg->n_organisations; i++) {
        const Stele__OrganisationConfig *org = cfg->organisations[i];
        for (size_t k = 0; k < org->n_ca_public_keys; k++) {
            struct crypto_key *key = NULL;
            rc = crypto_key_from_public(org->ca_public_keys[k].data, org->ca_public_keys[k].len,
                                        &key);
            if (rc == STELE_OK)
                rc = msp_add_ca(p->msp, org->name, 0, key);
            crypto_key_destroy(key);
            if (rc)
                return rc;
        }
    }
    struct txvalidate_config vc = {
        .channel_id = COMMIT_CHANNEL, .msp = p->msp, .threads = o->threads};
    if ((rc = finality_init(&p->fin, cfg, err)))
        return rc;
    return txvalidate_create(&vc, &p->v);
}

static void parts_close(struct parts *p)
{
    txvalidate_destroy(p->v);
    finality_release(&p->fin);
    statedb_close(p->db);
    blockstore_close(p->bs);
    arena_destroy(p->a);
    msp_destroy(p->msp);
}

/* Commits block `b` stage by stage, adding each stage's time to st[]. */
static int commit_staged(struct parts *p, const Stele__Block *b, struct arena *a, uint8_t *codes,
                         struct bench_result st[N_STAGES], uint64_t *valid, char **err)
{
    uint64_t t[N_STAGES + 1];
    size_t n = b->data->n_envelopes;
    const char *why = "";
    struct statedb_update *u = statedb_update_create(b->header->number);
    int rc = u ? STELE_OK : STELE_ERR_NOMEM;
    t[0] = clock_mono_ns();
    if (rc == STELE_OK && (rc = finality_check(&p->fin, a, b, NULL, &why)))
        stele_errf(err, rc, "block %llu: %s", (unsigned long long)b->header->number, why);
    t[1] = clock_mono_ns();
    if (rc == STELE_OK)
        rc = txvalidate_block(p->v, p->db, p->bs, b, codes, u, err);
    t[2] = clock_mono_ns();
    if (rc == STELE_OK)
        rc = statedb_update_hash(u, p->state, p->state);
    t[3] = clock_mono_ns();
    if (rc == STELE_OK)
        rc = store(p->bs, b, codes, n, p->state);
    t[4] = clock_mono_ns();
    if (rc == STELE_OK)
        rc = statedb_apply(p->db, u, NULL);
    t[5] = clock_mono_ns();
    statedb_update_destroy(u);
    for (int s = 0; rc == STELE_OK && s < N_STAGES; s++) {
        st[s].seconds += (double)(t[s + 1] - t[s]) / 1e9;
        st[s].ops += n;
        hist_add(&st[s].lat, (t[s + 1] - t[s]) / 1000);
    }
    for (size_t i = 0; rc == STELE_OK && i < n; i++)
        *valid += codes[i] == STELE__TX_VALIDATION_CODE__VALID;
    return rc;
}

/* The breakdown: every block again, into `dir`, one stage at a time. */
static int run_stages(const struct commit_opts *o, const struct commit_chain *c, const char *dir,
                      struct bench_result st[N_STAGES], uint8_t state[32], uint64_t *valid)
{
    struct parts p = {0};
    struct arena *a = arena_create(0);
    uint8_t *codes = malloc(c->txs_per_block);
    char *err = NULL;
    int rc = a && codes ? parts_open(o, c, dir, &p, &err) : STELE_ERR_NOMEM;
    *valid = 0;
    for (size_t k = 0; rc == STELE_OK && k < c->n_blocks; k++) {
        rc = commit_staged(&p, c->blocks[k], a, codes, st, valid, &err);
        arena_reset(a);
    }
    if (rc)
        fprintf(stderr, "stele-bench commit: stage by stage: %s\n", err ? err : stele_strerror(rc));
    memcpy(state, p.state, 32);
    free(err);
    free(codes);
    arena_destroy(a);
    parts_close(&p);
    return rc;
}

/* Microseconds one crypto_verify() of a `len`-octet message takes here (one thread). */
static double verify_us(const struct crypto_key *k, size_t len)
{
    uint8_t *msg = calloc(1, len ? len : 1), sig[CRYPTO_SIG_LEN];
    uint64_t n = 0, t0 = clock_mono_ns(), t = t0;
    if (!msg || crypto_sign(k, msg, len, sig) != STELE_OK) {
        free(msg);
        return 0;
    }
    while ((t = clock_mono_ns()) - t0 < 500000000ULL && n < 100000)
        n += crypto_verify(k, msg, len, sig, sizeof sig) == STELE_OK;
    free(msg);
    return n ? (double)(t - t0) / 1e3 / (double)n : 0;
}

static void name_result(struct bench_result *r, const char *name, const char *unit, int clients)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->clients = clients;
}

int bench_commit(int argc, char **argv)
{
    struct commit_opts o = {
        .blocks = 50, .txs = 500, .threads = 2, .creators = 16, .reads = true, .sync = true};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct commit_chain_params cp = {.blocks = o.blocks,
                                     .txs_per_block = o.txs,
                                     .creators = o.creators,
                                     .reads = o.reads,
                                     .threads = cores > 0 && cores < 64 ? (unsigned)cores : 2};
    struct commit_chain c;
    struct bench_result *res = calloc(2 + N_STAGES, sizeof *res);
    char tmpl[] = "/tmp/stele-bench-commit-XXXXXX", path[PATH_MAX];
    char *dir = NULL, *err = NULL;
    int code = CLI_EXIT_INTERNAL, first_bad = -1;
    uint8_t state[32], staged_state[32];
    uint64_t staged_valid = 0;
    struct cpu_mark used = {0};
    if (!res)
        return code;
    if (isatty(STDERR_FILENO) && !o.json)
        fprintf(stderr, "stele-bench commit: signing %u blocks of %u transactions...\n", o.blocks,
                o.txs);
    if ((rc = commit_chain_build(&cp, &c, &err))) {
        fprintf(stderr, "stele-bench commit: %s\n", err ? err : stele_strerror(rc));
        goto out;
    }
    if (!(dir = mkdtemp(tmpl))) {
        fprintf(stderr, "stele-bench commit: cannot create %s: %s\n", tmpl, strerror(errno));
        goto out;
    }
    uint64_t total = (uint64_t)o.blocks * o.txs;
    name_result(&res[0], "commit", "transactions", (int)o.threads);
    name_result(&res[1], "blocks", "blocks", 1);
    snprintf(path, sizeof path, "%s/ledger", dir);
    if (run_ledger(&o, &c, path, &res[0], &used, state, &first_bad))
        goto out;
    res[1].ops = o.blocks;
    res[1].seconds = res[0].seconds;
    for (int s = 0; s < N_STAGES; s++) {
        char name[48];
        snprintf(name, sizeof name, "stage_%s", stage_names[s]);
        name_result(&res[2 + s], name, "transactions", s == ST_VALIDATE ? (int)o.threads : 1);
    }
    snprintf(path, sizeof path, "%s/stages", dir);
    if (run_stages(&o, &c, path, &res[2], staged_state, &staged_valid))
        goto out;

    double vus = verify_us(c.verifier, (size_t)(c.envelope_bytes / total));
    double bound = vus > 0 ? (double)cores * 1e6 / (3 * vus) : 0;
    double per_s = res[0].seconds > 0 ? (double)res[0].ops / res[0].seconds : 0;
    double staged_s = 0;
    for (int s = 0; s < N_STAGES; s++)
        staged_s += res[2 + s].seconds;
    bool same_state = memcmp(state, staged_state, 32) == 0;
    double other = used.machine_s >= 0 && used.machine_s > used.self_s
                       ? (used.machine_s - used.self_s) / res[0].seconds
                       : 0;
    char extra[1024];
    snprintf(extra, sizeof extra,
             "\"blocks\":%u,\"txs_per_block\":%u,\"validation_threads\":%u,\"creators\":%u,"
             "\"reads\":%s,\"sync\":%s,\"envelope_bytes\":%llu,\"identities\":%zu,"
             "\"valid\":%llu,\"invalid\":%llu,\"first_invalid_code\":\"%s\","
             "\"staged_valid\":%llu,\"staged_per_s\":%.0f,\"state_hash_match\":%s,"
             "\"verify_us\":%.1f,\"signatures_per_tx\":3,\"cores\":%ld,\"bound_per_s\":%.0f,"
             "\"bound_ratio\":%.3f,\"cpu_us_per_tx\":%.1f,\"cores_used\":%.2f,"
             "\"other_cores_used\":%.2f,\"prebuild_s\":%.1f",
             o.blocks, o.txs, o.threads, o.creators, o.reads ? "true" : "false",
             o.sync ? "true" : "false", (unsigned long long)(c.envelope_bytes / total),
             c.identities, (unsigned long long)res[0].ops, (unsigned long long)res[0].errors,
             first_bad < 0 ? "none" : txvalidate_code_name((unsigned)first_bad),
             (unsigned long long)staged_valid, staged_s > 0 ? (double)total / staged_s : 0,
             same_state ? "true" : "false", vus, cores, bound, bound > 0 ? per_s / bound : 0,
             res[0].ops ? used.self_s * 1e6 / (double)res[0].ops : 0,
             res[0].seconds > 0 ? used.self_s / res[0].seconds : 0, other, c.build_s);
    struct bench_opts bo = {
        .duration_s = res[0].seconds, .clients = (int)o.threads, .json = o.json};
    bench_report("commit", &bo, res, 2 + N_STAGES, 0, extra);
    if (!o.json)
        printf("%.0f transactions/s validated and committed; bound %.0f/s = %ld cores / (3 x "
               "%.1f us per verification); ratio %.2f\n",
               per_s, bound, cores, vus, bound > 0 ? per_s / bound : 0);
    if (!o.json && other > 0.15)
        printf("not a quiet machine: other programs used %.2f cores while the blocks were "
               "committed\n",
               other);
    if (res[0].errors || staged_valid != total || !same_state) {
        fprintf(stderr,
                "stele-bench commit: FAILED: %llu of %llu transactions were not VALID (first: "
                "%s), %llu VALID stage by stage, state hashes %s\n",
                (unsigned long long)res[0].errors, (unsigned long long)total,
                first_bad < 0 ? "none" : txvalidate_code_name((unsigned)first_bad),
                (unsigned long long)staged_valid, same_state ? "agree" : "differ");
        goto out;
    }
    code = CLI_EXIT_OK;
out:
    if (dir) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "stele-bench commit: could not remove %s\n", dir);
    }
    commit_chain_release(&c);
    free(err);
    free(res);
    return code;
}
