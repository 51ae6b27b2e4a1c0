/*
 * submit_env.c — what surrounds the load of `stele-bench submit` (submit.h): the CPU time of
 * the network's processes, its client identities and channel parameters, the check that the
 * chaincode is deployed, the cost of a signature here and the bound the signatures set.
 */
#include "submit.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "identity/identity.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "stele/lifecycle.pb-c.h"
#include "stele/peer.pb-c.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- CPU time from /proc ------------------------------------------------------------------ */

/* CPU seconds (user + system) of `pid`, and its parent; -1 when unknown. */
static double proc_cpu_s(int64_t pid, int64_t *ppid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    long long pp;
    unsigned long long ut, st;
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    if (!p ||
        sscanf(p + 2, "%*c %lld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3)
        return -1;
    if (ppid)
        *ppid = pp;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double submit_machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    return n < 7 ? -1 : (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)sysconf(_SC_CLK_TCK);
}

double submit_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void submit_find_hosts(struct sub_proc *ps, size_t *n)
{
    size_t known = *n;
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d)) && *n < SUBMIT_MAX_PROCS;) {
        char *end;
        long long pid = strtoll(e->d_name, &end, 10);
        int64_t ppid = 0;
        if (*end || pid <= 0 || proc_cpu_s(pid, &ppid) < 0)
            continue;
        for (size_t i = 0; i < known; i++)
            if (strcmp(ps[i].kind, "peer") == 0 && ps[i].pid == ppid) {
                ps[*n] = (struct sub_proc){.pid = pid};
                snprintf(ps[*n].name, sizeof ps[*n].name, "chaincode");
                snprintf(ps[*n].kind, sizeof ps[*n].kind, "chaincode");
                ++*n;
                break;
            }
    }
    if (d)
        closedir(d);
}

void submit_cpu_start(struct sub_proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ps[i].cpu0_s = proc_cpu_s(ps[i].pid, NULL);
}

void submit_cpu_stop(struct sub_proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double c = ps[i].cpu0_s >= 0 ? proc_cpu_s(ps[i].pid, NULL) : -1;
        ps[i].used_s = c >= 0 ? c - ps[i].cpu0_s : -1;
    }
}

/* ---- the network -------------------------------------------------------------------------- */

size_t submit_load_clients(const char *ids_dir, struct sub_identity *ids, size_t max)
{
    size_t n = 0;
    DIR *d = opendir(ids_dir);
    struct arena *a = arena_create(0);
    for (struct dirent *e; d && a && (e = readdir(d)) && n < max;) {
        char path[PATH_MAX];
        struct identity id;
        if (e->d_name[0] == '.' ||
            snprintf(path, sizeof path, "%s/%s", ids_dir, e->d_name) >= (int)sizeof path ||
            enrolment_load(path, &ids[n].e, NULL) != STELE_OK)
            continue;
        if (identity_decode(a, ids[n].e.identity.data, ids[n].e.identity.len, &id, NULL) ==
                STELE_OK &&
            strcmp(id.role, "client") == 0) {
            snprintf(ids[n].name, sizeof ids[n].name, "%.63s", e->d_name);
            n++;
        } else {
            enrolment_release(&ids[n].e);
        }
    }
    if (d)
        closedir(d);
    arena_destroy(a);
    return n;
}

void submit_channel_params(const char *dir, const char *channel, struct sub_channel *out)
{
    char path[PATH_MAX];
    struct buf b;
    struct arena *a = arena_create(0);
    Stele__ChannelConfig *cfg = NULL;
    memset(out, 0, sizeof *out);
    buf_init(&b);
    snprintf(path, sizeof path, "%s/genesis.block", dir);
    if (a && enrolment_read_file(path, 64u << 20, &b) == STELE_OK &&
        genesis_read_bytes(a, b.data, b.len, channel, NULL, &cfg, NULL) == STELE_OK) {
        if (cfg->pbft)
            out->checkpoint_interval = cfg->pbft->checkpoint_interval;
        if (cfg->batch)
            out->max_message_count = cfg->batch->max_message_count;
    }
    buf_release(&b);
    arena_destroy(a);
}

int submit_probe(struct rpc_channel *ch, const char *url, const struct sub_run *r, int i)
{
    char id[64];
    int idlen = snprintf(id, sizeof id, "%sprobe%d", r->prefix, i);
    ProtobufCBinaryData args[4] = {{(size_t)idlen, (uint8_t *)id},
                                   {4, (uint8_t *)"blue"},
                                   {1, (uint8_t *)"5"},
                                   {3, (uint8_t *)"300"}};
    struct tx_proposal_params pp = {.channel_id = r->channel,
                                    .creator = r->ids[0].e.identity.data,
                                    .creator_len = r->ids[0].e.identity.len,
                                    .chaincode = r->chaincode,
                                    .function = "create",
                                    .args = args,
                                    .n_args = 4};
    struct buf prop;
    uint8_t sig[64];
    char tx_id[65];
    buf_init(&prop);
    int rc = tx_proposal_build(&pp, r->ids[0].e.key, &prop, sig, tx_id);
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    if (rc == STELE_OK) {
        Stele__SignedProposal sp = STELE__SIGNED_PROPOSAL__INIT;
        sp.proposal_bytes = (ProtobufCBinaryData){prop.len, prop.data};
        sp.signature = (ProtobufCBinaryData){64, sig};
        rc = rpc_unary(ch, "/stele.Gateway/Endorse", &sp.base,
                       &stele__prepared_transaction__descriptor, &m, 30000, &res);
    }
    buf_release(&prop);
    const Stele__PreparedTransaction *pt = (const Stele__PreparedTransaction *)m;
    if (rc == STELE_OK && pt->result && pt->result->status >= 200 && pt->result->status <= 299) {
        pb_free(m);
        return 0;
    }
    fprintf(stderr,
            "stele-bench submit: %s cannot endorse '%s create': %s\n"
            "  deploy the chaincode first (scripts/bench does), as scripts/demo step 4 does:\n"
            "  stele chaincode package, install on every peer, approve by every organisation,\n"
            "  commit\n",
            url, r->chaincode,
            rc ? (res.detail[0] ? res.detail : stele_strerror(rc))
               : (pt->result ? pt->result->message : "no result"));
    pb_free(m);
    return CLI_EXIT_REFUSED;
}

int submit_sign_request(const struct sub_run *r, const char *method, const ProtobufCMessage *body,
                        struct buf *req, uint8_t sig[64], Stele__SignedRequest *sr)
{
    struct buf b;
    buf_init(&b);
    buf_init(req);
    const struct enrolment *e = &r->ids[0].e;
    int rc = pb_pack_buf(body, &b);
    if (rc == STELE_OK)
        rc = signed_request_create(e->key, e->identity.data, e->identity.len, method, b.data, b.len,
                                   clock_wall_ms(), req, sig);
    buf_release(&b);
    stele__signed_request__init(sr);
    sr->request = (ProtobufCBinaryData){req->len, req->data};
    sr->signature = (ProtobufCBinaryData){CRYPTO_SIG_LEN, sig};
    return rc;
}

void submit_policy(struct rpc_channel *ch, const struct sub_run *r, char *out, size_t len)
{
    static const char method[] = "/stele.Lifecycle/Committed";
    Stele__CommittedQuery q = STELE__COMMITTED_QUERY__INIT;
    q.name = (char *)r->chaincode;
    struct buf req;
    uint8_t sig[CRYPTO_SIG_LEN];
    Stele__SignedRequest sr;
    ProtobufCMessage *m = NULL;
    struct rpc_result res = {0};
    snprintf(out, len, "%s", "");
    if (submit_sign_request(r, method, &q.base, &req, sig, &sr) == STELE_OK &&
        rpc_unary(ch, method, &sr.base, &stele__committed_list__descriptor, &m, 30000, &res) ==
            STELE_OK) {
        const Stele__CommittedList *l = (const Stele__CommittedList *)m;
        for (size_t i = 0; i < l->n_chaincodes; i++) {
            const Stele__ChaincodeDefinition *d = l->chaincodes[i]->definition;
            if (d && d->name && strcmp(d->name, r->chaincode) == 0 && d->endorsement_policy)
                snprintf(out, len, "%s", d->endorsement_policy);
        }
    }
    pb_free(m);
    buf_release(&req);
}

/* ---- signatures --------------------------------------------------------------------------- */

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU time, not wall time: the machine is shared with the network (and, on a developer's
 * machine, with whatever else runs), and the bound asks what an operation costs, not how long
 * this thread waited for a core. */
void submit_sig_costs(const struct crypto_key *k, size_t len, double *sign_us, double *verify_us)
{
    uint8_t *msg = calloc(1, len), sig[CRYPTO_SIG_LEN];
    *sign_us = *verify_us = 0;
    if (!msg || crypto_sign(k, msg, len, sig) != STELE_OK) {
        free(msg);
        return;
    }
    uint64_t n = 0, t0 = thread_cpu_ns(), t;
    while ((t = thread_cpu_ns()) - t0 < 300000000ULL)
        n += crypto_sign(k, msg, len, sig) == STELE_OK;
    *sign_us = n ? (double)(t - t0) / 1e3 / (double)n : 0;
    n = 0;
    t0 = thread_cpu_ns();
    while ((t = thread_cpu_ns()) - t0 < 300000000ULL)
        n += crypto_verify(k, msg, len, sig, sizeof sig) == STELE_OK;
    *verify_us = n ? (double)(t - t0) / 1e3 / (double)n : 0;
    free(msg);
}

void submit_sig_model(struct sub_sig_model *m, double sign_us, double verify_us)
{
    double e = m->endorsers > 0 ? m->endorsers : 2, o = m->orderers, p = m->peers;
    double b = m->txs_per_block >= 1 ? m->txs_per_block : 1;
    double f = m->orderers > 0 ? (double)((m->orderers - 1) / 3) : 0, k = m->k ? m->k : 10;
    /* per block: PRE-PREPARE, PREPAREs, COMMITs, CHECKPOINTs every k; the peers' finality
     * checks of 2f + 1 COMMITs (solo: one orderer signs, each peer verifies) */
    double block_signs = o > 1 ? 1 + (o - 1) + o + o / k : 1;
    double block_verifies =
        o > 1 ? (o - 1) + (o - 1) * (o - 1) + o * (o - 1) + o * (o - 1) / k + p * (2 * f + 1) : p;
    m->signs = 2 + e + block_signs / b;
    /* validation: every peer checks the creator; an endorsement is checked only by a peer that
     * neither signed it nor checked it as the gateway (lib/crypto/sigcache.h): none on the
     * gateway, e - 1 on each other endorser, e on each peer that did not endorse */
    double endorsement_checks = (e - 1) * (e - 1) + (p > e ? (p - e) * e : 0);
    m->verifies = e + (e - 1) + o + p + endorsement_checks + block_verifies / b;
    m->us = m->signs * sign_us + m->verifies * verify_us;
}
