/* test_ccrt_sandbox.c — what a hostile chaincode (tests/chaincode/evil.c) must not get away
 * with beyond test_ccrt's misdeeds: running on after writing a result of its own, making the
 * peer hold values for its iterators without bound, system calls of other ABIs, reading the
 * peer's stderr while loading, and hosts left behind when the peer dies; and a chaincode whose
 * hosts die while loading (tests/chaincode/ctorcrash.c, ctorhang.c) is not started again at
 * every call, and nobody waits behind the one host tried after a pause.
 * Real host processes (stele-peer chaincode-host). */
#include "ccrt_fixture.h"
#include "testutil.h"

#include "base/clock.h"
#include "base/status.h"
#include "ledger/statedb.h"
#include "peer/ccrt.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 1500
#define MEMORY     (192u << 20)

struct fixture {
    char *dir;
    struct statedb *db;
    struct ccrt *rt;
    char *evil;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir("ccrtsb");
    char *err = NULL;
    if (statedb_open(fx->dir, false, &fx->db, &err))
        return -1;
    fx->rt = ccrt_fx_runtime(
        &(struct ccrt_config){.pool_size = 2, .timeout_ms = TIMEOUT_MS, .memory_limit = MEMORY});
    fx->evil = test_binary_path("tests/chaincode/evil.so");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    ccrt_destroy(fx->rt);
    statedb_close(fx->db);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* every host reaped */
    assert_int_equal(errno, ECHILD);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->evil);
    free(fx);
    return 0;
}

static int invoke_rt(struct fixture *fx, struct ccrt *rt, const char *fn, const char *arg,
                     struct ccrt_result *res, char **err)
{
    ProtobufCBinaryData a = {arg ? strlen(arg) : 0, (uint8_t *)arg};
    struct ccrt_invocation inv = {.chaincode = "evil",
                                  .so_path = fx->evil,
                                  .function = fn,
                                  .args = arg ? &a : NULL,
                                  .n_args = arg ? 1 : 0,
                                  .tx_id = "ab12",
                                  .db = fx->db};
    *err = NULL;
    return ccrt_invoke(rt, &inv, res, err);
}

/* ---- processes --------------------------------------------------------------------------- */

/* What /proc says of a process. */
struct proc {
    pid_t pid;
    char state; /* R, S, T, Z, ... */
    pid_t ppid;
    unsigned long ticks; /* user + system CPU time, in clock ticks */
    unsigned long rss;   /* resident pages */
};

static bool proc_read(pid_t pid, struct proc *p)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *s = strrchr(text, ')');
    unsigned long utime, stime;
    int ppid;
    if (!s || sscanf(s + 2,
                     "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                     "%*d %*u %*u %lu",
                     &p->state, &ppid, &utime, &stime, &p->rss) != 5)
        return false;
    p->pid = pid;
    p->ppid = ppid;
    p->ticks = utime + stime;
    return true;
}

/* The children of `parent` (at most `max`); returns how many. */
static size_t children(pid_t parent, struct proc *out, size_t max)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; n < max && (e = readdir(d));) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && proc_read(pid, &out[n]) && out[n].ppid == parent)
            n++;
    }
    closedir(d);
    return n;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* A chaincode can write a result of its own to the socket and carry on: the peer takes that
 * result (the chaincode decides its result anyway) and gives the host back to the pool, but
 * the code must not go on running there — spinning a CPU, touching memory the watchdog no
 * longer looks at — for as long as the host is not used again. */
static void linger(struct fixture *fx, const char *mib)
{
    struct ccrt_result r;
    char *err = NULL;
    int rc = invoke_rt(fx, fx->rt, "linger", mib, &r, &err);
    if (rc)
        fail_msg("linger: %s", err ? err : stele_strerror(rc));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.payload.len, 6);
    assert_memory_equal(r.payload.data, "linger", 6);
    ccrt_result_release(&r);
}

/* Touching more memory than its limit once idle: the host is killed when it is stopped (the
 * memory watchdog only reads a host's size while an invocation waits for it), or, on a machine
 * too loaded for it to have touched that much within the 100 ms before it is stopped, it is
 * stopped under its limit and touches nothing more. Either way it never runs past its limit
 * unwatched. */
static void test_no_growing_on_after_the_result(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_stats st0, st1;
    ccrt_get_stats(fx->rt, &st0);
    linger(fx, "320");
    struct proc p[8];
    size_t n = 1;
    for (int t = 0; t < 40; t++) {
        clock_sleep_ms(100);
        ccrt_get_stats(fx->rt, &st1);
        n = children(getpid(), p, 8);
        if (st1.memory - st0.memory == 1 && n == 0)
            return; /* killed for it */
        if (n == 1 && p[0].state == 'T')
            break;
    }
    assert_int_equal(n, 1);
    assert_int_equal(p[0].state, 'T');
    unsigned long rss0 = p[0].rss;
    clock_sleep_ms(300);
    struct proc later[8];
    assert_int_equal(children(getpid(), later, 8), 1);
    print_message("    stopped under its limit: resident %lu MiB, then %lu MiB\n",
                  (unsigned long)(rss0 * sysconf(_SC_PAGESIZE) >> 20),
                  (unsigned long)(later[0].rss * sysconf(_SC_PAGESIZE) >> 20));
    assert_int_equal(later[0].state, 'T');
    assert_true(later[0].rss * sysconf(_SC_PAGESIZE) <= MEMORY);
    assert_int_equal(later[0].rss, rss0); /* it touches nothing more */
}

static void test_no_running_on_after_the_result(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_result r;
    char *err = NULL;
    int rc;
    /* spinning only: once idle (100 ms) it is stopped, and runs no more */
    linger(fx, "0");
    clock_sleep_ms(300);
    struct proc before[8], after[8];
    size_t n = children(getpid(), before, 8);
    assert_int_equal(n, 1);
    clock_sleep_ms(500);
    assert_int_equal(children(getpid(), after, 8), 1);
    assert_int_equal(after[0].pid, before[0].pid);
    unsigned long ran_ms = (after[0].ticks - before[0].ticks) * 1000 / sysconf(_SC_CLK_TCK);
    unsigned long rss_mib = after[0].rss * sysconf(_SC_PAGESIZE) >> 20;
    print_message("    the idle host (state %c) ran %lu ms in 500 ms; resident %lu MiB\n",
                  after[0].state, ran_ms, rss_mib);
    assert_true(ran_ms < 100);
    assert_int_equal(after[0].state, 'T');
    assert_true(rss_mib <= MEMORY >> 20);

    /* the runtime still serves: the host that ran on fails at most one more invocation (of
     * this chaincode), with the limit it breaks */
    int failures = 0;
    for (;;) {
        rc = invoke_rt(fx, fx->rt, "ok", NULL, &r, &err);
        if (rc == STELE_OK)
            break;
        assert_non_null(err);
        print_message("    then: %s\n", err);
        assert_non_null(strstr(err, "chaincode evil"));
        free(err);
        assert_true(++failures <= 1);
    }
    assert_int_equal(r.status, 200);
    ccrt_result_release(&r);
}

/* Each open iterator shows the writes of its range as they were when it was opened, so the
 * peer keeps a value the chaincode has since overwritten as long as an iterator may show it.
 * Those values count against the 16 MiB open iterators may hold (stele/chaincode.h): past it
 * the invocation fails, instead of the peer holding up to 256 iterators' worth of the write
 * set (2 GiB at the default limits) for each running invocation. */
static void test_iterators_hold_bounded_values(void **state)
{
    struct fixture *fx = *state;
    struct ccrt_result r;
    char *err = NULL;
    int rc = invoke_rt(fx, fx->rt, "snapshots", "8", &r, &err);
    if (rc)
        fail_msg("snapshots 8: %s", err ? err : stele_strerror(rc));
    assert_int_equal(r.status, 200);
    ccrt_result_release(&r);

    rc = invoke_rt(fx, fx->rt, "snapshots", "40", &r, &err);
    print_message("    snapshots 40 -> %s: %s\n", stele_status_name(rc), err ? err : "-");
    assert_int_equal(rc, STELE_ERR_LIMIT);
    assert_non_null(strstr(err, "16 MiB"));
    assert_null(r.arena);
    free(err);
}

/* The filters allow system calls of the host's own ABI only: an i386 call (int 0x80) kills
 * the host, an x32 one is forbidden like any call not allowed. */
static void test_other_abis(void **state)
{
#if defined(__x86_64__)
    struct fixture *fx = *state;
    static const char *const fns[] = {"int80", "x32"};
    for (size_t i = 0; i < 2; i++) {
        struct ccrt_result r;
        char *err = NULL;
        int rc = invoke_rt(fx, fx->rt, fns[i], NULL, &r, &err);
        print_message("    %-5s -> %s: %s\n", fns[i], stele_status_name(rc), err ? err : "-");
        assert_int_equal(rc, STELE_ERR_PERMISSION);
        assert_non_null(strstr(err, "forbidden system call"));
        free(err);
    }
#else
    (void)state;
    skip();
#endif
}

/* A host starts with the peer's stderr (for sanitizer reports), which may be its terminal or
 * a log file it can read: a constructor, which runs before the host is locked down fully,
 * must not read from it. */
static void test_constructor_cannot_read_stderr(void **state)
{
    struct fixture *fx = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static const char secret[] = "what the operator typed";
    assert_int_equal(write(sv[1], secret, sizeof secret - 1), (ssize_t)sizeof secret - 1);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(sv[0], 2), 2); /* the hosts inherit it */
    char *so = test_binary_path("tests/chaincode/ctorfd2.so");
    struct ccrt_invocation inv = {.chaincode = "ctorfd2", .so_path = so, .db = fx->db};
    struct ccrt_result r;
    char *err = NULL;
    int rc = ccrt_invoke(fx->rt, &inv, &r, &err);
    dup2(saved, 2);
    close(saved);
    close(sv[0]);
    close(sv[1]);
    free(so);
    print_message("    ctorfd2 -> %s: %s\n", stele_status_name(rc), err ? err : "-");
    if (rc == STELE_OK)
        fail_msg("the constructor read '%.*s' from stderr", (int)r.payload.len,
                 (const char *)r.payload.data);
    assert_int_equal(rc, STELE_ERR_PERMISSION);
    assert_non_null(strstr(err, "forbidden system call while loading: read"));
    free(err);
}

/* Nor move the offset the host's stderr shares with the peer's (a log file opened without
 * O_APPEND: the peer's next lines would overwrite its log), nor stat a file by its path. */
static void test_constructor_cannot_seek_stderr_or_stat(void **state)
{
    struct fixture *fx = *state;
    char path[] = "/tmp/stele-ctorseek-XXXXXX";
    int log = mkstemp(path);
    assert_true(log >= 0);
    unlink(path);
    static const char lines[] = "the peer's log, line 1\nline 2\n";
    assert_int_equal(write(log, lines, sizeof lines - 1), (ssize_t)sizeof lines - 1);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(log, 2), 2);
    char *so = test_binary_path("tests/chaincode/ctorseek.so");
    struct ccrt_invocation inv = {.chaincode = "ctorseek", .so_path = so, .db = fx->db};
    struct ccrt_result r;
    char *err = NULL;
    int rc = ccrt_invoke(fx->rt, &inv, &r, &err);
    off_t at = lseek(2, 0, SEEK_CUR); /* past our lines, and past what the runtime logged */
    dup2(saved, 2);
    close(saved);
    char head[sizeof lines - 1];
    ssize_t n = pread(log, head, sizeof head, 0);
    close(log);
    free(so);
    print_message("    ctorseek -> %s: %s (offset %lld)\n", stele_status_name(rc), err ? err : "-",
                  (long long)at);
    assert_true(at >= (off_t)(sizeof lines - 1));
    assert_int_equal(n, (ssize_t)sizeof head); /* the log's first lines are still there */
    assert_memory_equal(head, lines, sizeof head);
    assert_int_equal(rc, STELE_ERR_PERMISSION);
    assert_non_null(strstr(err, "forbidden system call while loading: lseek"));
    free(err);

    so = test_binary_path("tests/chaincode/ctorstat.so");
    inv = (struct ccrt_invocation){.chaincode = "ctorstat", .so_path = so, .db = fx->db};
    err = NULL;
    rc = ccrt_invoke(fx->rt, &inv, &r, &err);
    free(so);
    print_message("    ctorstat -> %s: %s\n", stele_status_name(rc), err ? err : "-");
    if (rc == STELE_OK)
        fail_msg("the constructor learnt '%.*s'", (int)r.payload.len, (const char *)r.payload.data);
    assert_int_equal(rc, STELE_ERR_PERMISSION);
    assert_non_null(strstr(err, "forbidden system call while loading: newfstatat"));
    free(err);
}

/* A peer that dies (SIGKILL) leaves no host behind, even one stopped between invocations:
 * an idle host exits when its socket closes, and a stopped one is continued for that. */
static void test_no_host_outlives_the_peer(void **state)
{
    struct fixture *fx = *state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t peer = fork();
    assert_true(peer >= 0);
    if (peer == 0) { /* a peer of its own session, as stele-network starts them */
        close(pfd[0]);
        setsid();
        struct ccrt *rt =
            ccrt_fx_runtime(&(struct ccrt_config){.pool_size = 2, .timeout_ms = TIMEOUT_MS});
        struct ccrt_result r;
        char *err = NULL;
        int ok = invoke_rt(fx, rt, "ok", NULL, &r, &err) == STELE_OK;
        struct proc host;
        pid_t pid = ok && children(getpid(), &host, 1) == 1 ? host.pid : 0;
        ssize_t w = write(pfd[1], &pid, sizeof pid);
        (void)w;
        pause();
        _exit(0);
    }
    close(pfd[1]);
    pid_t host = 0;
    assert_int_equal(read(pfd[0], &host, sizeof host), (ssize_t)sizeof host);
    close(pfd[0]);
    assert_true(host > 0);
    clock_sleep_ms(400); /* idle for 100 ms: stopped */
    struct proc stopped;
    if (proc_read(host, &stopped) && stopped.state != 'T')
        print_message("    the idle host is in state %c, not stopped\n", stopped.state);
    kill(peer, SIGKILL);
    assert_int_equal(waitpid(peer, NULL, 0), peer);
    struct proc p = {0};
    bool gone = false;
    for (int i = 0; i < 200 && !gone; i++) { /* 2 s */
        gone = !proc_read(host, &p) || p.state == 'Z' || p.state == 'X';
        if (!gone)
            clock_sleep_ms(10);
    }
    if (!gone) {
        kill(host, SIGKILL);
        fail_msg("the host %d outlived its peer (state %c)", (int)host, p.state);
    }
}

/* One invocation, by `rt`, of the chaincode at `so` (one that may not load): its status, with
 * *err (malloc'd, may be NULL) and *spawned (may be NULL: the hosts `rt` started meanwhile,
 * by any thread). */
static int invoke_so(struct fixture *fx, struct ccrt *rt, const char *so, char **err,
                     uint64_t *spawned)
{
    struct ccrt_stats s0, s1;
    ccrt_get_stats(rt, &s0);
    struct ccrt_invocation inv = {.chaincode = "noload", .so_path = so, .db = fx->db};
    struct ccrt_result r;
    *err = NULL;
    int rc = ccrt_invoke(rt, &inv, &r, err);
    if (rc == STELE_OK)
        ccrt_result_release(&r);
    ccrt_get_stats(rt, &s1);
    if (spawned)
        *spawned = s1.spawned - s0.spawned;
    return rc;
}

/* invoke_so() on a thread of its own. */
struct invoke_job {
    struct fixture *fx;
    struct ccrt *rt;
    const char *so;
    int rc;
    pthread_t t;
};

static void *invoke_job_main(void *arg)
{
    struct invoke_job *j = arg;
    char *err = NULL;
    j->rc = invoke_so(j->fx, j->rt, j->so, &err, NULL);
    free(err);
    return NULL;
}

/* A chaincode whose every host dies while loading (its constructor crashes) is not started
 * again at every invocation: after a failed load, invocations fail at once for a pause that
 * doubles from 1 s, saying why; an eviction (a reinstall) forgets it. */
static void test_failed_loads_are_not_retried_at_once(void **state)
{
    struct fixture *fx = *state;
    char *so = test_binary_path("tests/chaincode/ctorcrash.so");
    char *err = NULL;
    uint64_t spawned = 0;
    int first = invoke_so(fx, fx->rt, so, &err, &spawned);
    print_message("first: %s (%s)\n", stele_status_name(first), err ? err : "-");
    assert_int_not_equal(first, STELE_OK);
    assert_int_equal(spawned, 1);
    free(err);
    for (int i = 0; i < 3; i++) { /* at once: no host started, the failure said */
        int rc = invoke_so(fx, fx->rt, so, &err, &spawned);
        if (i == 0)
            print_message("again at once: %s (%s)\n", stele_status_name(rc), err ? err : "-");
        assert_int_equal(rc, STELE_ERR_UNAVAILABLE);
        assert_non_null(strstr(err, "no host is started again before"));
        assert_int_equal(spawned, 0);
        free(err);
    }
    clock_sleep_ms(1100); /* past the first pause: one more try */
    assert_int_equal(invoke_so(fx, fx->rt, so, &err, &spawned), first);
    assert_int_equal(spawned, 1);
    free(err);
    clock_sleep_ms(1100); /* the second pause is 2 s */
    assert_int_equal(invoke_so(fx, fx->rt, so, &err, &spawned), STELE_ERR_UNAVAILABLE);
    assert_int_equal(spawned, 0);
    free(err);
    ccrt_evict(fx->rt, so);
    assert_int_equal(invoke_so(fx, fx->rt, so, &err, &spawned), first);
    assert_int_equal(spawned, 1);
    free(err);

    /* a burst: the loads that fail together (one per slot) count as one failure, and after
     * the pause one host is tried, not one per waiting invocation */
    ccrt_evict(fx->rt, so);
    struct ccrt_stats s0, s1;
    ccrt_get_stats(fx->rt, &s0);
    struct invoke_job b[6];
    for (int i = 0; i < 6; i++) {
        b[i] = (struct invoke_job){.fx = fx, .rt = fx->rt, .so = so};
        assert_int_equal(pthread_create(&b[i].t, NULL, invoke_job_main, &b[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(b[i].t, NULL);
    ccrt_get_stats(fx->rt, &s1);
    uint64_t burst_spawned = s1.spawned - s0.spawned;
    print_message("a burst of 6 on 2 slots: %llu hosts started\n",
                  (unsigned long long)burst_spawned);
    assert_true(burst_spawned >= 1 && burst_spawned <= 2);
    assert_int_equal(invoke_so(fx, fx->rt, so, &err, &spawned), STELE_ERR_UNAVAILABLE);
    const char *at = strstr(err, "before ");
    assert_non_null(at);
    assert_true(strtoul(at + 7, NULL, 10) <= 1000); /* not doubled by the burst */
    free(err);
    free(so);
}

/* While the one host tried after a pause is loading (its constructor hangs until the load
 * timeout), another invocation fails at once instead of waiting for it. */
static void test_no_waiting_behind_the_host_tried(void **state)
{
    struct fixture *fx = *state;
    struct ccrt *rt = ccrt_fx_runtime(&(struct ccrt_config){
        .pool_size = 2, .timeout_ms = TIMEOUT_MS, .memory_limit = MEMORY, .load_timeout_ms = 1000});
    char *so = test_binary_path("tests/chaincode/ctorhang.so");
    char *err = NULL;
    int first = invoke_so(fx, rt, so, &err, NULL); /* ~1 s: the load times out */
    print_message("first: %s\n", stele_status_name(first));
    assert_int_not_equal(first, STELE_OK);
    free(err);
    clock_sleep_ms(1100); /* past the pause: the next invocation's host is the one tried */
    struct invoke_job probe = {.fx = fx, .rt = rt, .so = so};
    assert_int_equal(pthread_create(&probe.t, NULL, invoke_job_main, &probe), 0);
    clock_sleep_ms(300);
    uint64_t t0 = clock_mono_ms();
    int rc = invoke_so(fx, rt, so, &err, NULL);
    uint64_t took = clock_mono_ms() - t0;
    print_message("during the try: %s in %llu ms (%s)\n", stele_status_name(rc),
                  (unsigned long long)took, err ? err : "-");
    assert_int_equal(rc, STELE_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "another host is being tried"));
    assert_true(took < 500);
    free(err);
    pthread_join(probe.t, NULL);
    assert_int_equal(probe.rc, first);
    ccrt_destroy(rt);
    free(so);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_growing_on_after_the_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_running_on_after_the_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterators_hold_bounded_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_abis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructor_cannot_read_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constructor_cannot_seek_stderr_or_stat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_host_outlives_the_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_loads_are_not_retried_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_waiting_behind_the_host_tried, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
