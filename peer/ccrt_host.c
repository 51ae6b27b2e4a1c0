/*
 * ccrt_host.c — one chaincode host process seen from the peer (ccrt_int.h): starting it with
 * posix_spawn, framed messages under a deadline with the memory watchdog, and killing and
 * reaping it with a sentence that says why.
 *
 * Every failure kills and reaps the host before it returns, so a caller only has to forget
 * the process; nothing is left a zombie. Sends use MSG_NOSIGNAL (a dead host must not raise
 * SIGPIPE in the peer) and never block: a host that stops reading cannot stall a peer thread
 * past its deadline.
 */
#include "ccrt_int.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST_FD       3     /* the socket's descriptor in the host */
#define EXIT_GRACE_MS 200   /* how long a host that hung up may take to exit */
#define IN_CHUNK      65536 /* receive granularity */
#define IN_KEEP       65536 /* a receive buffer larger than this is freed when empty */
#define CCRT_LOG      "ccrt"

int ccrt_fail_set(struct ccrt_fail *f, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->rc = rc;
    return rc;
}

void ccrt_wait_start(struct ccrt_wait *w, unsigned timeout_ms, size_t memory_limit, bool loading)
{
    uint64_t now = clock_mono_ms();
    w->deadline_ms = now + timeout_ms;
    w->timeout_ms = timeout_ms;
    w->memory_limit = memory_limit;
    w->next_mem_ms = now + CCRT_MEMORY_TICK_MS;
    w->loading = loading;
}

void ccrt_host_init(struct ccrt_host *h)
{
    memset(h, 0, sizeof *h);
    h->fd = h->statm_fd = -1;
}

/* Reaps the process, waiting at most `grace_ms` for it to exit on its own before killing it.
 * Returns its wait status; *killed tells whether it had to be killed. */
static int reap(pid_t pid, unsigned grace_ms, bool *killed)
{
    int st = 0;
    *killed = false;
    for (unsigned waited = 0;; waited++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return st;
        if (waited >= grace_ms)
            break;
        clock_sleep_ms(1);
    }
    kill(pid, SIGKILL);
    *killed = true;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/* Closes the descriptors and frees the buffer of a host whose process is gone. */
static void forget(struct ccrt_host *h)
{
    if (h->fd >= 0)
        close(h->fd);
    if (h->statm_fd >= 0)
        close(h->statm_fd);
    free(h->in);
    ccrt_host_init(h);
}

void ccrt_host_kill(struct ccrt_host *h)
{
    if (h->pid > 0) {
        bool killed;
        reap(h->pid, 0, &killed);
    }
    forget(h);
}

/* Describes a wait status in *f. */
static int describe_death(int st, bool killed, bool loading, struct ccrt_fail *f)
{
    const char *when = loading ? " while loading" : "";
    if (killed)
        return ccrt_fail_set(f, STELE_ERR_INTERNAL, "its host hung up%s and was killed", when);
    if (WIFEXITED(st))
        return ccrt_fail_set(f, STELE_ERR_INTERNAL, "its host exited%s with status %d", when,
                             WEXITSTATUS(st));
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    const char *name = sigabbrev_np(sig);
    if (sig == SIGSYS)
        return ccrt_fail_set(f, STELE_ERR_PERMISSION,
                             "made a forbidden system call%s (its host was killed by SIGSYS)",
                             when);
    if (sig == SIGKILL)
        return ccrt_fail_set(f, STELE_ERR_INTERNAL,
                             "its host was killed by SIGKILL%s (out of memory?)", when);
    return ccrt_fail_set(f, STELE_ERR_INTERNAL,
                         "crashed%s: its host was killed by signal %d (SIG%s)", when, sig,
                         name ? name : "?");
}

/* The host closed its end or the connection broke: reap it and say why. */
static int died(struct ccrt_host *h, const struct ccrt_wait *w, struct ccrt_fail *f)
{
    bool killed;
    int st = reap(h->pid, EXIT_GRACE_MS, &killed);
    forget(h);
    return describe_death(st, killed, w->loading, f);
}

/* Kills the host and fills *f. */
static int kill_for(struct ccrt_host *h, struct ccrt_fail *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int kill_for(struct ccrt_host *h, struct ccrt_fail *f, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    f->rc = rc;
    ccrt_host_kill(h);
    return rc;
}

int ccrt_host_check_memory(struct ccrt_host *h, struct ccrt_wait *w, struct ccrt_fail *f)
{
    char text[128];
    ssize_t n = h->statm_fd >= 0 ? pread(h->statm_fd, text, sizeof text - 1, 0) : -1;
    if (n <= 0)
        return STELE_OK; /* exiting: the receive path will say how */
    text[n] = 0;
    unsigned long long size, resident;
    if (sscanf(text, "%llu %llu", &size, &resident) != 2)
        return STELE_OK;
    unsigned long long bytes = resident * (unsigned long long)sysconf(_SC_PAGESIZE);
    if (bytes <= w->memory_limit)
        return STELE_OK;
    return kill_for(h, f, STELE_ERR_LIMIT,
                    "went over its memory limit of %zu MiB%s (resident %llu MiB); its host was "
                    "killed",
                    w->memory_limit >> 20, w->loading ? " while loading" : "", bytes >> 20);
}

/* Enforces the deadline and, every CCRT_MEMORY_TICK_MS, the memory limit: STELE_OK, or the
 * host was killed. Checked before every frame, not only when the socket would block: a host
 * that keeps the socket full of frames needing no answer must not outlive its deadline. */
static int check_limits(struct ccrt_host *h, struct ccrt_wait *w, struct ccrt_fail *f, uint64_t now)
{
    if (now >= w->deadline_ms) {
        if (w->loading)
            return kill_for(h, f, STELE_ERR_TIMEOUT,
                            "did not load within %u ms; its host was killed", w->timeout_ms);
        return kill_for(h, f, STELE_ERR_TIMEOUT, "timed out after %u ms; its host was killed",
                        w->timeout_ms);
    }
    if (now >= w->next_mem_ms) {
        int rc = ccrt_host_check_memory(h, w, f);
        if (rc)
            return rc;
        w->next_mem_ms = now + CCRT_MEMORY_TICK_MS;
    }
    return STELE_OK;
}

/* Waits until the socket is ready for `events`, enforcing the deadline and the memory limit. */
static int wait_io(struct ccrt_host *h, short events, struct ccrt_wait *w, struct ccrt_fail *f)
{
    for (;;) {
        uint64_t now = clock_mono_ms();
        int rc = check_limits(h, w, f, now);
        if (rc)
            return rc;
        uint64_t until = w->deadline_ms < w->next_mem_ms ? w->deadline_ms : w->next_mem_ms;
        struct pollfd p = {.fd = h->fd, .events = events};
        int r = poll(&p, 1, (int)(until - now));
        if (r > 0)
            return STELE_OK; /* ready, or hung up: the I/O says which */
        if (r < 0 && errno != EINTR)
            return kill_for(h, f, STELE_ERR_IO, "cannot wait for its host: %s", strerror(errno));
    }
}

void ccrt_host_pause(struct ccrt_host *h)
{
    if (h->pid > 0 && !h->paused && kill(h->pid, SIGSTOP) == 0)
        h->paused = true;
}

/* Continues a paused host. */
static void resume(struct ccrt_host *h)
{
    if (h->paused && h->pid > 0)
        kill(h->pid, SIGCONT);
    h->paused = false;
}

int ccrt_host_send(struct ccrt_host *h, const Stele__CcPeerToHost *m, struct ccrt_wait *w,
                   struct ccrt_fail *f)
{
    int lrc = check_limits(h, w, f, clock_mono_ms());
    if (lrc)
        return lrc;
    size_t len = protobuf_c_message_get_packed_size(&m->base);
    if (len > CCHOST_MAX_FRAME)
        return ccrt_fail_set(f, STELE_ERR_TOO_BIG, "a message of %zu octets is too large", len);
    uint8_t *frame = malloc(4 + len);
    if (!frame)
        return ccrt_fail_set(f, STELE_ERR_NOMEM, "out of memory");
    put_u32be(frame, (uint32_t)len);
    protobuf_c_message_pack(&m->base, frame + 4);
    int rc = STELE_OK;
    for (size_t off = 0; off < 4 + len;) {
        ssize_t n = send(h->fd, frame + off, 4 + len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        /* continued once the frame (or what fits) is waiting: it wakes once, to read it */
        resume(h);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((rc = wait_io(h, POLLOUT, w, f)))
                break;
        } else {
            rc = died(h, w, f);
            break;
        }
    }
    free(frame);
    return rc;
}

/* Takes a whole frame off the receive buffer when there is one: *out (NULL: not yet). */
static int take_frame(struct ccrt_host *h, Stele__CcHostToPeer **out, struct ccrt_fail *f)
{
    *out = NULL;
    if (h->in_len < 4)
        return STELE_OK;
    const uint8_t *at = h->in + h->in_off;
    uint32_t len = get_u32be(at);
    if (len > CCHOST_MAX_HOST_FRAME)
        return kill_for(h, f, STELE_ERR_INTERNAL,
                        "its host sent a frame of %u octets (at most %u); it was killed", len,
                        CCHOST_MAX_HOST_FRAME);
    if (h->in_len < 4 + (size_t)len)
        return STELE_OK;
    *out = (Stele__CcHostToPeer *)pb_unpack(&stele__cc_host_to_peer__descriptor, NULL, at + 4, len,
                                            CCHOST_MAX_HOST_FRAME);
    if (!*out)
        return kill_for(h, f, STELE_ERR_INTERNAL,
                        "its host sent a malformed message; it was killed");
    /* consumed: the rest moves to the front at the next receive (reserve_in), so a host
     * sending many small frames costs one move per receive, not one per frame */
    h->in_off += 4 + (size_t)len;
    h->in_len -= 4 + (size_t)len;
    if (!h->in_len) {
        h->in_off = 0;
        if (h->in_cap > IN_KEEP) {
            free(h->in);
            h->in = NULL;
            h->in_cap = 0;
        }
    }
    return STELE_OK;
}

/* Makes room for the rest of the frame being received (or a chunk when its length is not
 * known yet). */
static int reserve_in(struct ccrt_host *h, struct ccrt_fail *f)
{
    if (h->in_off) {
        memmove(h->in, h->in + h->in_off, h->in_len);
        h->in_off = 0;
    }
    size_t want = h->in_len + IN_CHUNK;
    if (h->in_len >= 4) {
        size_t frame = 4 + (size_t)get_u32be(h->in);
        want = frame > h->in_len ? frame : h->in_len + 1;
    }
    if (want <= h->in_cap)
        return STELE_OK;
    uint8_t *p = realloc(h->in, want);
    if (!p)
        return kill_for(h, f, STELE_ERR_NOMEM, "out of memory");
    h->in = p;
    h->in_cap = want;
    return STELE_OK;
}

int ccrt_host_recv(struct ccrt_host *h, struct ccrt_wait *w, Stele__CcHostToPeer **out,
                   struct ccrt_fail *f)
{
    *out = NULL;
    resume(h);
    int rc = check_limits(h, w, f, clock_mono_ms());
    if (rc)
        return rc;
    for (;;) {
        rc = take_frame(h, out, f);
        if (rc)
            return rc;
        if (*out && (*out)->msg_case == STELE__CC_HOST_TO_PEER__MSG_FORBIDDEN_SYSCALL) {
            uint32_t nr = (*out)->forbidden_syscall;
            pb_free(&(*out)->base);
            *out = NULL;
            /* malloc'd by libseccomp; NULL for a number it does not know */
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
            rc = kill_for(h, f, STELE_ERR_PERMISSION,
                          "made a forbidden system call%s: %s (%u); its host was killed",
                          w->loading ? " while loading" : "", name ? name : "unknown", nr);
            free(name);
            return rc;
        }
        if (*out)
            return STELE_OK;
        if ((rc = reserve_in(h, f)))
            return rc;
        ssize_t n = recv(h->fd, h->in + h->in_len, h->in_cap - h->in_len, MSG_DONTWAIT);
        if (n > 0) {
            h->in_len += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((rc = wait_io(h, POLLIN, w, f)))
                return rc;
        } else {
            return died(h, w, f);
        }
    }
}

bool ccrt_host_has_input(struct ccrt_host *h)
{
    if (h->in_len)
        return true;
    struct pollfd p = {.fd = h->fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

bool ccrt_host_alive(struct ccrt_host *h)
{
    if (h->pid <= 0)
        return false;
    int st = 0;
    pid_t r = waitpid(h->pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (r < 0) { /* not our child any more (cannot be): forget it */
        log_warn(CCRT_LOG, "an idle chaincode host (pid %d) cannot be waited for: %s", (int)h->pid,
                 strerror(errno));
        h->pid = 0;
        forget(h);
        return false;
    }
    struct ccrt_fail f;
    describe_death(st, false, false, &f);
    log_warn(CCRT_LOG, "an idle chaincode host (pid %d) %s", (int)h->pid, f.msg);
    h->pid = 0;
    forget(h);
    return false;
}

/* posix_spawn()s the host program with the child's end of the socket as HOST_FD. */
static int start(struct ccrt_host *h, const struct ccrt_spawn *sp, const char *so_path,
                 struct ccrt_fail *f)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return ccrt_fail_set(f, STELE_ERR_IO, "cannot create a socketpair: %s", strerror(errno));
    int child = sv[1];
    if (child <= HOST_FD) { /* dup2() onto itself would keep FD_CLOEXEC; 0..2 get replaced */
        child = fcntl(sv[1], F_DUPFD_CLOEXEC, HOST_FD + 1);
        close(sv[1]);
        if (child < 0) {
            close(sv[0]);
            return ccrt_fail_set(f, STELE_ERR_IO, "cannot dup: %s", strerror(errno));
        }
    }
    char mem[32], fd[16];
    snprintf(mem, sizeof mem, "%zu", sp->memory_limit);
    snprintf(fd, sizeof fd, "%d", HOST_FD);
    char *const argv[] = {(char *)sp->exe,
                          "chaincode-host",
                          "--fd",
                          fd,
                          "--so",
                          (char *)so_path,
                          "--memory",
                          mem,
                          "--landlock",
                          sp->landlock_optional ? "optional" : "required",
                          NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, child, HOST_FD);
    /* the peer blocks SIGTERM/SIGINT in its threads and may ignore SIGPIPE: the host starts
     * with an empty mask and default dispositions */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    /* A process group of its own: should the peer die while the host is paused (stopped),
     * the group is orphaned and the kernel sends it SIGHUP and SIGCONT, which end it (an idle
     * host in the peer's group would stay stopped for ever). */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int err = posix_spawn(&pid, sp->exe, &fa, &attr, argv, sp->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(child);
    if (err) {
        close(sv[0]);
        return ccrt_fail_set(f, STELE_ERR_IO, "cannot start the chaincode host %s: %s", sp->exe,
                             strerror(err));
    }
    h->pid = pid;
    h->fd = sv[0];
    char statm[64];
    snprintf(statm, sizeof statm, "/proc/%d/statm", (int)pid);
    h->statm_fd = open(statm, O_RDONLY | O_CLOEXEC);
    if (h->statm_fd < 0) { /* its memory could not be watched: not started */
        int e = errno;
        ccrt_host_kill(h);
        return ccrt_fail_set(f, STELE_ERR_IO, "cannot watch the chaincode host's memory (%s): %s",
                             statm, strerror(e));
    }
    return STELE_OK;
}

int ccrt_host_spawn(struct ccrt_host *h, const struct ccrt_spawn *sp, const char *so_path,
                    struct ccrt_wait *w, Stele__CcHostHello **hello, struct ccrt_fail *f)
{
    *hello = NULL;
    ccrt_host_init(h);
    int rc = start(h, sp, so_path, f);
    if (rc)
        return rc;
    Stele__CcHostToPeer *m = NULL;
    if ((rc = ccrt_host_recv(h, w, &m, f)))
        return rc;
    if (m->msg_case != STELE__CC_HOST_TO_PEER__MSG_HELLO) {
        pb_free(&m->base);
        return kill_for(h, f, STELE_ERR_INTERNAL, "its host did not say hello; it was killed");
    }
    Stele__CcHostHello *hi = m->hello;
    if (hi->error && hi->error[0]) {
        rc = kill_for(h, f, STELE_ERR_INVALID, "cannot load %s: %s", so_path, hi->error);
        pb_free(&m->base);
        return rc;
    }
    /* keep the hello, drop the envelope */
    m->hello = NULL;
    m->msg_case = STELE__CC_HOST_TO_PEER__MSG__NOT_SET;
    pb_free(&m->base);
    *hello = hi;
    return STELE_OK;
}
