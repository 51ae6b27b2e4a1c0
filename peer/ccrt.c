/*
 * ccrt.c — the chaincode runtime (ccrt.h): pools of host processes, one per .so, and the run
 * of one invocation on a host (the exchange of state calls and the result).
 *
 * Locking: one mutex guards the pools, their slots' busy flags and the counters. A thread
 * owns a slot (and its host) while the slot is busy, so starting, talking to and killing a
 * host happen without the lock. A pool is freed when it was evicted and nobody holds or
 * waits for one of its slots (`refs`).
 */
#include "ccrt_int.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/chaincode.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CCRT_LOG            "ccrt"
#define DEFAULT_POOL        6
#define DEFAULT_TIMEOUT_MS  3000
#define DEFAULT_LOAD_MS     10000
#define DEFAULT_MEMORY      (256u << 20)
#define MIN_MEMORY          (16u << 20)
#define DEFAULT_KEYS        10000
#define DEFAULT_WRITE_BYTES (8u << 20)
#define IDLE_PAUSE_MS       100 /* a host idle this long is stopped (pause_idle) */

#if defined(__SANITIZE_ADDRESS__)
#define CCRT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CCRT_ASAN 1
#endif
#endif

extern char **environ;

#define LOAD_BACKOFF_MIN_MS 1000
#define LOAD_BACKOFF_MAX_MS 30000

/* A place for one host in a pool. */
struct slot {
    struct ccrt_host host;
    bool busy;              /* owned by an invocation (or a load) */
    uint64_t idle_since_ms; /* clock_mono_ms() when it was last given back */
};

/* The hosts of one .so. */
struct pool {
    struct pool *next;
    char *so_path;
    struct slot *slots; /* pool_size of them */
    unsigned refs;      /* threads holding or waiting for a slot */
    bool retired;       /* evicted: no longer in the list */
    int refused;        /* a remembered refusal to load (STELE_OK: none) */
    char refusal[256];
    /* A load that failed otherwise (a constructor that crashed, hung or took too much memory,
     * a spawn that failed) may succeed later, but each attempt can hold a worker for the load
     * timeout: no host is started before retry_at_ms (0: none), after a pause doubling from
     * LOAD_BACKOFF_MIN_MS to LOAD_BACKOFF_MAX_MS, reset by a load that succeeds. */
    uint64_t retry_at_ms;
    unsigned backoff_ms; /* 0: the last load succeeded (or none failed) */
    bool probing;        /* the one host tried after the pause is loading */
    char load_failure[256];
    bool have_info;
    struct ccrt_info info;
    pthread_cond_t cv; /* a slot became idle, or the pool changed */
};

struct ccrt {
    struct ccrt_config cfg;
    struct ccrt_spawn spawn;
    char **envp;
    pthread_mutex_t mu;
    struct pool *pools;
    struct ccrt_stats stats;
    pthread_t idler;        /* stops idle hosts (idler_main) */
    pthread_cond_t idle_cv; /* wakes the idler to end */
    bool idler_started;
    bool stopping;
};

/* ---- the environment of hosts --------------------------------------------------------- */

/* Under AddressSanitizer the host must let fatal signals kill it (the sanitizer's handler
 * would read /proc and be stopped by the sandbox, hiding the crash), must not run the leak
 * checker (it needs ptrace) and returns NULL for huge allocations as malloc does. Its
 * quarantine of freed memory, which stays resident, is kept at 16 MiB (256 by default): the
 * memory limit counts the host's resident memory, and a chaincode handling megabytes per
 * invocation would otherwise go over it under the sanitizer only. */
#ifdef CCRT_ASAN
#define HOST_ASAN_OPTIONS                                                           \
    "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:" \
    "detect_leaks=0:allocator_may_return_null=1:quarantine_size_mb=16"
#endif

static void free_env(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

/* Whether the host may see the peer's environment variable `kv`: only the sanitizers'
 * options and the test builds' switches. Anything else (paths, tokens, an operator's
 * secrets) stays out of reach of a chaincode, which could return it in a payload. */
static bool host_may_see(const char *kv)
{
    static const char *const allowed[] = {
        "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "STELE_TEST_"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strncmp(kv, allowed[i], strlen(allowed[i])) == 0)
            return true;
    return false;
}

/* The hosts' environment: what host_may_see() lets through of the peer's. */
static char **host_env(void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!host_may_see(environ[i]))
            continue;
#ifdef CCRT_ASAN
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0)
            continue;
#endif
        if (!(envp[k++] = strdup(environ[i])))
            goto nomem;
    }
#ifdef CCRT_ASAN
    const char *old = getenv("ASAN_OPTIONS");
    size_t len = strlen("ASAN_OPTIONS=") + (old ? strlen(old) + 1 : 0) + sizeof HOST_ASAN_OPTIONS;
    if (!(envp[k] = malloc(len)))
        goto nomem;
    snprintf(envp[k++], len, "ASAN_OPTIONS=%s%s" HOST_ASAN_OPTIONS, old ? old : "", old ? ":" : "");
#endif
    return envp;
nomem:
    free_env(envp);
    return NULL;
}

/* ---- runtime ----------------------------------------------------------------------------- */

static void count_loss(struct ccrt *rt, int rc);

/* Stops, and checks the memory of, the hosts idle for IDLE_PAUSE_MS (lock held). A chaincode
 * can write a result (or, from a constructor, a hello) of its own and carry on; a host is
 * timed and watched only while an invocation waits for it, so whatever it runs after that is
 * cut short here. Idle hosts are not stopped at each result: under load a host is given the
 * next invocation at once, which times it again, and stopping it in between (SIGSTOP wakes a
 * host waiting in read() just to stop it) cost about 5% of the throughput. */
static void pause_idle(struct ccrt *rt)
{
    uint64_t now = clock_mono_ms();
    for (struct pool *p = rt->pools; p; p = p->next)
        for (unsigned i = 0; i < rt->cfg.pool_size; i++) {
            struct slot *s = &p->slots[i];
            if (s->busy || s->host.pid <= 0 || s->host.paused ||
                now - s->idle_since_ms < IDLE_PAUSE_MS)
                continue;
            ccrt_host_pause(&s->host);
            struct ccrt_wait w;
            struct ccrt_fail f = {0};
            ccrt_wait_start(&w, rt->cfg.timeout_ms, rt->cfg.memory_limit, false);
            if (ccrt_host_check_memory(&s->host, &w, &f) != STELE_OK) {
                count_loss(rt, f.rc);
                log_warn(CCRT_LOG, "an idle chaincode host of %s: %s", p->so_path, f.msg);
            }
        }
}

static void *idler_main(void *arg)
{
    struct ccrt *rt = arg;
    pthread_mutex_lock(&rt->mu);
    while (!rt->stopping) {
        struct timespec ts;
        clock_deadline(CLOCK_REALTIME, IDLE_PAUSE_MS, &ts);
        pthread_cond_timedwait(&rt->idle_cv, &rt->mu, &ts);
        if (!rt->stopping)
            pause_idle(rt);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

bool ccrt_kernel_has_landlock(void)
{
    return cchost_landlock_abi() >= 1;
}

int ccrt_create(const struct ccrt_config *cfg, struct ccrt **out, char **errmsg)
{
    *out = NULL;
    struct ccrt_config c = *cfg;
    c.pool_size = c.pool_size ? c.pool_size : DEFAULT_POOL;
    c.timeout_ms = c.timeout_ms ? c.timeout_ms : DEFAULT_TIMEOUT_MS;
    c.load_timeout_ms = c.load_timeout_ms ? c.load_timeout_ms : DEFAULT_LOAD_MS;
    c.memory_limit = c.memory_limit ? c.memory_limit : DEFAULT_MEMORY;
    c.max_keys = c.max_keys ? c.max_keys : DEFAULT_KEYS;
    c.max_write_bytes = c.max_write_bytes ? c.max_write_bytes : DEFAULT_WRITE_BYTES;
    if (c.max_keys > TX_MAX_RWSET_ITEMS)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "chaincode max_keys %zu is above the %d items a transaction may have",
                          c.max_keys, TX_MAX_RWSET_ITEMS);
    if (c.memory_limit < MIN_MEMORY)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "chaincode memory limit %zu is under the minimum of %u MiB",
                          c.memory_limit, MIN_MEMORY >> 20);
    struct ccrt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return STELE_ERR_NOMEM;
    rt->cfg = c;
    rt->cfg.host_exe = strdup(c.host_exe ? c.host_exe : "/proc/self/exe");
    rt->envp = host_env();
    if (!rt->cfg.host_exe || !rt->envp) {
        free((char *)rt->cfg.host_exe);
        free_env(rt->envp);
        free(rt);
        return STELE_ERR_NOMEM;
    }
    rt->spawn =
        (struct ccrt_spawn){rt->cfg.host_exe, rt->envp, c.memory_limit, c.allow_without_landlock};
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->idle_cv, NULL);
    if (pthread_create(&rt->idler, NULL, idler_main, rt) != 0) {
        ccrt_destroy(rt);
        return stele_errf(errmsg, STELE_ERR_NOMEM, "cannot start the chaincode runtime's thread");
    }
    rt->idler_started = true;
    *out = rt;
    return STELE_OK;
}

static void pool_free(struct pool *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        ccrt_host_kill(&p->slots[i].host);
    pthread_cond_destroy(&p->cv);
    free(p->slots);
    free(p->so_path);
    free(p);
}

void ccrt_destroy(struct ccrt *rt)
{
    if (!rt)
        return;
    if (rt->idler_started) {
        pthread_mutex_lock(&rt->mu);
        rt->stopping = true;
        pthread_cond_signal(&rt->idle_cv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->idler, NULL);
    }
    pthread_cond_destroy(&rt->idle_cv);
    while (rt->pools) {
        struct pool *p = rt->pools;
        rt->pools = p->next;
        pool_free(p, rt->cfg.pool_size);
    }
    pthread_mutex_destroy(&rt->mu);
    free_env(rt->envp);
    free((char *)rt->cfg.host_exe);
    free(rt);
}

void ccrt_get_stats(struct ccrt *rt, struct ccrt_stats *out)
{
    pthread_mutex_lock(&rt->mu);
    *out = rt->stats;
    pthread_mutex_unlock(&rt->mu);
}

/* Counts a host lost to failure `rc` (called with the lock held). */
static void count_loss(struct ccrt *rt, int rc)
{
    if (rc == STELE_ERR_TIMEOUT)
        rt->stats.timeouts++;
    else if (rc == STELE_ERR_LIMIT)
        rt->stats.memory++;
    else if (rc == STELE_ERR_PERMISSION)
        rt->stats.forbidden++;
    else if (rc == STELE_ERR_INTERNAL)
        rt->stats.crashed++;
}

/* ---- pools ---------------------------------------------------------------------------- */

/* The pool of `so_path`, created when absent (lock held). NULL when out of memory. */
static struct pool *pool_get(struct ccrt *rt, const char *so_path)
{
    for (struct pool *p = rt->pools; p; p = p->next)
        if (strcmp(p->so_path, so_path) == 0)
            return p;
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->so_path = strdup(so_path);
    p->slots = calloc(rt->cfg.pool_size, sizeof *p->slots);
    if (!p->so_path || !p->slots) {
        free(p->so_path);
        free(p->slots);
        free(p);
        return NULL;
    }
    for (unsigned i = 0; i < rt->cfg.pool_size; i++)
        ccrt_host_init(&p->slots[i].host);
    pthread_cond_init(&p->cv, NULL);
    p->next = rt->pools;
    rt->pools = p;
    return p;
}

/* Drops a reference to `p`, freeing it when evicted and unused (lock held). */
static void pool_unref(struct ccrt *rt, struct pool *p)
{
    if (--p->refs == 0 && p->retired)
        pool_free(p, rt->cfg.pool_size);
}

/* An idle slot, one with a host first; NULL when all are busy (lock held). */
static struct slot *pick(struct ccrt *rt, struct pool *p)
{
    struct slot *empty = NULL;
    for (unsigned i = 0; i < rt->cfg.pool_size; i++) {
        struct slot *s = &p->slots[i];
        if (s->busy)
            continue;
        if (s->host.pid)
            return s;
        if (!empty)
            empty = s;
    }
    return empty;
}

/* The slots of `p` in use or with a host (lock held; a busy slot's host is its owner's to
 * read). */
static unsigned pool_running(const struct ccrt *rt, const struct pool *p)
{
    unsigned n = 0;
    for (unsigned i = 0; i < rt->cfg.pool_size; i++)
        n += p->slots[i].busy || p->slots[i].host.pid > 0;
    return n;
}

/* Starts a host in slot `s` of `p` (owned by the caller); `probe`: the one host tried after a
 * failed load (p->probing). */
static int spawn_host(struct ccrt *rt, struct pool *p, struct slot *s, bool probe,
                      struct ccrt_fail *f)
{
    struct ccrt_wait w;
    ccrt_wait_start(&w, rt->cfg.load_timeout_ms, rt->cfg.memory_limit, true);
    Stele__CcHostHello *hi = NULL;
    int rc = ccrt_host_spawn(&s->host, &rt->spawn, p->so_path, &w, &hi, f);
    if (rc == STELE_OK && hi->abi_version != STELE_CC_ABI_VERSION) {
        rc = ccrt_fail_set(f, STELE_ERR_INVALID,
                           "cannot be loaded: ABI version %u, the peer runs %u", hi->abi_version,
                           STELE_CC_ABI_VERSION);
        ccrt_host_kill(&s->host);
    }
    pthread_mutex_lock(&rt->mu);
    rt->stats.spawned++;
    if (rc == STELE_OK && !p->have_info) {
        snprintf(p->info.name, sizeof p->info.name, "%s", hi->name ? hi->name : "");
        snprintf(p->info.version, sizeof p->info.version, "%s", hi->version ? hi->version : "");
        p->have_info = true;
    }
    if (rc == STELE_ERR_INVALID || rc == STELE_ERR_PERMISSION) { /* it will fail again */
        p->refused = rc;
        snprintf(p->refusal, sizeof p->refusal, "%s", f->msg);
    } else if (rc) {
        /* It may not: try again later, one host at a time. The pause doubles when the host
         * tried after one failed too, not for each of a burst of loads that failed together;
         * a host this peer could not start (IO: out of processes or descriptors) is tried
         * again after the shortest pause. */
        if (probe && rc != STELE_ERR_IO && p->backoff_ms)
            p->backoff_ms *= 2;
        else if (p->backoff_ms < LOAD_BACKOFF_MIN_MS || rc == STELE_ERR_IO)
            p->backoff_ms = LOAD_BACKOFF_MIN_MS;
        if (p->backoff_ms > LOAD_BACKOFF_MAX_MS)
            p->backoff_ms = LOAD_BACKOFF_MAX_MS;
        p->retry_at_ms = clock_mono_ms() + p->backoff_ms;
        snprintf(p->load_failure, sizeof p->load_failure, "%s", f->msg);
    } else if (p->backoff_ms) { /* the pause is over: the waiters may start hosts */
        p->backoff_ms = 0;
        p->retry_at_ms = 0;
        pthread_cond_broadcast(&p->cv);
    }
    if (probe) { /* the waiters may start hosts now, or fail at once */
        p->probing = false;
        pthread_cond_broadcast(&p->cv);
    }
    if (rc != STELE_ERR_INVALID)
        count_loss(rt, rc);
    pthread_mutex_unlock(&rt->mu);
    if (hi)
        pb_free(&hi->base);
    if (rc)
        log_warn(CCRT_LOG, "chaincode host for %s: %s", p->so_path, f->msg);
    return rc;
}

/* Gives slot `s` of `p` back. */
static void release(struct ccrt *rt, struct pool *p, struct slot *s)
{
    /* A host that sent more after its result would have it taken as the next invocation's
     * state calls: it is not reused. (The slot is still ours: no lock needed.) */
    if (s->host.pid > 0 && ccrt_host_has_input(&s->host)) {
        log_warn(CCRT_LOG, "a chaincode host (pid %d) of %s sent more after its result; killed",
                 (int)s->host.pid, p->so_path);
        ccrt_host_kill(&s->host);
    }
    pthread_mutex_lock(&rt->mu);
    s->busy = false;
    s->idle_since_ms = clock_mono_ms();
    if (p->retired)
        ccrt_host_kill(&s->host);
    /* One slot came free: one waiter can have it. Waking them all (up to the peer's workers)
     * put every one through a wake-up and back to sleep per invocation. A refusal or an
     * eviction concerns every waiter. */
    if (p->refused || p->retired || p->backoff_ms) /* every waiter may fail at once now */
        pthread_cond_broadcast(&p->cv);
    else
        pthread_cond_signal(&p->cv);
    pool_unref(rt, p);
    pthread_mutex_unlock(&rt->mu);
}

/* Takes an idle slot of the pool of `so_path`, with a running host. */
static int acquire(struct ccrt *rt, const char *so_path, struct pool **pp, struct slot **sp,
                   struct ccrt_fail *f)
{
    uint64_t give_up = clock_mono_ms() + rt->cfg.timeout_ms;
    pthread_mutex_lock(&rt->mu);
    struct pool *p = pool_get(rt, so_path);
    if (!p) {
        pthread_mutex_unlock(&rt->mu);
        return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
    }
    p->refs++;
    struct slot *s;
    bool probe = false; /* this host is the one tried after a failed load */
    for (;;) {
        if (p->refused) {
            int rc = ccrt_fail_set(f, p->refused, "%s", p->refusal);
            pool_unref(rt, p);
            pthread_mutex_unlock(&rt->mu);
            return rc;
        }
        if (p->retired) { /* evicted while waiting: go to the new pool */
            pool_unref(rt, p);
            if (!(p = pool_get(rt, so_path))) {
                pthread_mutex_unlock(&rt->mu);
                return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
            }
            p->refs++;
            continue;
        }
        uint64_t now = clock_mono_ms();
        if ((s = pick(rt, p))) {
            /* after a failed load one host is tried at a time, once the pause is over */
            bool may_start = !p->backoff_ms || (now >= p->retry_at_ms && !p->probing);
            if (s->host.pid || may_start) {
                probe = !s->host.pid && p->backoff_ms;
                p->probing = p->probing || probe;
                break;
            }
            /* no host may start yet: wait for a running one, if there is any besides the one
             * being tried */
            s = NULL;
            if (pool_running(rt, p) <= (p->probing ? 1u : 0u)) {
                int rc = p->probing ? ccrt_fail_set(f, STELE_ERR_UNAVAILABLE,
                                                    "%s; another host is being tried: retry later",
                                                    p->load_failure)
                                    : ccrt_fail_set(f, STELE_ERR_UNAVAILABLE,
                                                    "%s; no host is started again before %llu ms: "
                                                    "retry later",
                                                    p->load_failure,
                                                    (unsigned long long)(p->retry_at_ms - now));
                pool_unref(rt, p);
                pthread_mutex_unlock(&rt->mu);
                return rc;
            }
        }
        /* Not forever: a chaincode whose every host runs to its timeout must not gather the
         * peer's workers here one after another. */
        if (now >= give_up) {
            int rc = ccrt_fail_set(f, STELE_ERR_UNAVAILABLE,
                                   "all %u hosts of this chaincode stayed busy for %u ms; "
                                   "retry later",
                                   rt->cfg.pool_size, rt->cfg.timeout_ms);
            pool_unref(rt, p);
            pthread_mutex_unlock(&rt->mu);
            return rc;
        }
        uint64_t until = give_up; /* or when a host may start again */
        if (p->retry_at_ms > now && p->retry_at_ms < until)
            until = p->retry_at_ms;
        struct timespec ts;
        clock_deadline(CLOCK_REALTIME, until - now, &ts);
        pthread_cond_timedwait(&p->cv, &rt->mu, &ts);
    }
    s->busy = true;
    pthread_mutex_unlock(&rt->mu);
    /* (a host that died while idle had loaded: it is replaced at once, pause or not) */
    if (s->host.pid && !ccrt_host_alive(&s->host))
        log_warn(CCRT_LOG, "chaincode host for %s died while idle; starting another", so_path);
    if (!s->host.pid) {
        int rc = spawn_host(rt, p, s, probe, f);
        if (rc) {
            release(rt, p, s);
            return rc;
        }
    }
    *pp = p;
    *sp = s;
    return STELE_OK;
}

void ccrt_evict(struct ccrt *rt, const char *so_path)
{
    pthread_mutex_lock(&rt->mu);
    for (struct pool **pp = &rt->pools; *pp; pp = &(*pp)->next) {
        struct pool *p = *pp;
        if (strcmp(p->so_path, so_path) != 0)
            continue;
        *pp = p->next;
        p->retired = true;
        for (unsigned i = 0; i < rt->cfg.pool_size; i++)
            if (!p->slots[i].busy)
                ccrt_host_kill(&p->slots[i].host);
        pthread_cond_broadcast(&p->cv);
        if (p->refs == 0)
            pool_free(p, rt->cfg.pool_size);
        break;
    }
    pthread_mutex_unlock(&rt->mu);
}

int ccrt_load(struct ccrt *rt, const char *so_path, struct ccrt_info *info, char **errmsg)
{
    if (!so_path || !so_path[0])
        return stele_errf(errmsg, STELE_ERR_INVALID, "no chaincode path");
    struct pool *p;
    struct slot *s;
    struct ccrt_fail f;
    int rc = acquire(rt, so_path, &p, &s, &f);
    if (rc)
        return stele_errf(errmsg, rc, "chaincode %s: %s", so_path, f.msg);
    pthread_mutex_lock(&rt->mu);
    if (info)
        *info = p->info;
    pthread_mutex_unlock(&rt->mu);
    release(rt, p, s);
    return STELE_OK;
}

static bool invocation_ok(const struct ccrt_invocation *inv, const char **why)
{
    if (!inv->chaincode || !tx_chaincode_name_ok(inv->chaincode) || inv->chaincode[0] == '_')
        *why = "not a chaincode name (or a system namespace)";
    else if (!inv->so_path || !inv->so_path[0])
        *why = "no chaincode path";
    else if (!inv->db)
        *why = "no state database";
    else if ((inv->n_args && !inv->args) || (inv->n_attrs && !inv->attrs))
        *why = "arguments or attributes missing";
    else
        return true;
    return false;
}

int ccrt_invoke(struct ccrt *rt, const struct ccrt_invocation *inv, struct ccrt_result *out,
                char **errmsg)
{
    memset(out, 0, sizeof *out);
    const char *why;
    if (!invocation_ok(inv, &why))
        return stele_errf(errmsg, STELE_ERR_INVALID, "chaincode %s: %s",
                          inv->chaincode ? inv->chaincode : "(none)", why);
    struct pool *p;
    struct slot *s;
    struct ccrt_fail f;
    int rc = acquire(rt, inv->so_path, &p, &s, &f);
    if (rc)
        return stele_errf(errmsg, rc, "chaincode %s: %s", inv->chaincode, f.msg);
    /* The package a definition names must hold that chaincode: otherwise its code would run as
     * inv->chaincode, on that namespace's state (a definition committed by other organisations
     * may name any package hash; this peer's own approval would have refused it). p->info is
     * written once, under rt->mu, before the first host of the pool is handed out: acquire()
     * took that lock since. */
    if (inv->package_name && p->have_info && strcmp(p->info.name, inv->package_name) != 0) {
        int rc_name = stele_errf(errmsg, STELE_ERR_STATE,
                                 "chaincode %s: the package its definition names holds chaincode "
                                 "\"%s\" on this peer, not \"%s\"; refused",
                                 inv->chaincode, p->info.name, inv->package_name);
        release(rt, p, s);
        return rc_name;
    }
    uint64_t t0 = clock_mono_us();
    rc = ccrt_run(&rt->cfg, &s->host, inv, out, &f);
    pthread_mutex_lock(&rt->mu);
    rt->stats.invocations++;
    if (rc && !s->host.pid)
        count_loss(rt, rc);
    pthread_mutex_unlock(&rt->mu);
    if (rc && !s->host.pid)
        log_warn(CCRT_LOG, "chaincode %s (tx %s): %s", inv->chaincode,
                 inv->tx_id ? inv->tx_id : "-", f.msg);
    release(rt, p, s);
    if (rc) {
        ccrt_result_release(out);
        return stele_errf(errmsg, rc, "chaincode %s: %s", inv->chaincode, f.msg);
    }
    out->duration_us = clock_mono_us() - t0;
    return STELE_OK;
}

void ccrt_result_release(struct ccrt_result *r)
{
    if (!r)
        return;
    arena_destroy(r->arena);
    memset(r, 0, sizeof *r);
}
