/*
 * cchost_sandbox.c — how a chaincode host locks itself down (ccrt.h gives the sequence).
 *
 * Two seccomp filters, both allow-lists whose default action is SCMP_ACT_TRAP: a forbidden
 * system call raises SIGSYS, whose handler (installed before either filter, and which the
 * chaincode cannot replace: rt_sigaction is never allowed) writes the call's number to the
 * peer and exits. If the chaincode blocks SIGSYS, the kernel kills the host with it instead;
 * a call from another ABI (i386 int 0x80, x32) kills the host outright (libseccomp's default
 * bad-arch action). Filters stack: the serving filter is added on top of the loading one.
 *
 *   loading  while dlopen maps the .so and runs its constructors: the serving list plus
 *            read-only opens of files (the loader reads the .so, and for a chaincode linked to
 *            more than libc, its libraries); Landlock limits those opens to the .so and the
 *            system library directories where the kernel supports it (Linux >= 5.13);
 *   serving  while chaincode code runs: the socket, memory, futex, the clock, exit, abort().
 *
 * Under AddressSanitizer the host also keeps stderr (fd 2) open and may write to it, so that
 * a sanitizer report is not lost.
 */
#include "ccrt_int.h"

#include "base/buf.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CCHOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CCHOST_ASAN 1
#endif
#endif

/* ---- the SIGSYS handler ----------------------------------------------------------------- */

static int trap_fd = -1;

#if defined(__x86_64__)
/* newfstatat(fd, "", buf, AT_EMPTY_PATH) is how glibc's fstat() reaches the kernel, and the
 * loader checks the .so with it. A filter cannot read the path, and with any other path the
 * call stats that file whatever the descriptor, so every newfstatat traps and this answers
 * the empty-path form with fstat on the same descriptor, itself allowed only on the
 * descriptors the loader opens (4 and up) and only while loading: a trapped fstat here is
 * fatal (SIGSYS is blocked in the handler), as any other forbidden call. */
static bool emulate(const siginfo_t *si, ucontext_t *uc)
{
    if (si->si_syscall != SYS_newfstatat)
        return false;
    greg_t *r = uc->uc_mcontext.gregs;
    const char *path = (const char *)r[REG_RSI];
    if (!path || path[0] || !(r[REG_R10] & AT_EMPTY_PATH))
        return false;
    int saved = errno;
    long rc = syscall(SYS_fstat, (int)r[REG_RDI], (void *)r[REG_RDX]);
    r[REG_RAX] = rc < 0 ? -errno : rc;
    errno = saved;
    return true;
}
#define NEWFSTATAT_TRAPPED 1
#endif

/* Reports the forbidden call as a CcHostToPeer frame and exits. Async-signal-safe: the
 * message is packed into a stack buffer (protobuf-c packs without allocating). */
static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
    (void)sig, (void)uctx;
#ifdef NEWFSTATAT_TRAPPED
    if (emulate(si, uctx))
        return;
#endif
    Stele__CcHostToPeer m = STELE__CC_HOST_TO_PEER__INIT;
    m.msg_case = STELE__CC_HOST_TO_PEER__MSG_FORBIDDEN_SYSCALL;
    m.forbidden_syscall = (uint32_t)si->si_syscall;
    uint8_t frame[32];
    size_t n = protobuf_c_message_pack(&m.base, frame + 4);
    put_u32be(frame, (uint32_t)n);
    ssize_t w = write(trap_fd, frame, 4 + n);
    (void)w;
    syscall(SYS_exit_group, 126);
}

int cchost_sandbox_trap(int sock)
{
    trap_fd = sock;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    return sigaction(SIGSYS, &sa, NULL) == 0 ? STELE_OK : STELE_ERR_INTERNAL;
}

/* ---- seccomp ------------------------------------------------------------------------------ */

/* A system call allowed whatever its arguments, and why. */
struct allow {
    int nr;
    const char *why;
};

/* Allowed while serving (and while loading). */
static const struct allow serving[] = {
    {SCMP_SYS(mmap), "malloc of large blocks (no file can be mapped: none is open)"},
    {SCMP_SYS(munmap), "free of large blocks"},
    {SCMP_SYS(mremap), "realloc of large blocks"},
    {SCMP_SYS(brk), "malloc's main heap"},
    {SCMP_SYS(madvise), "free returning pages (MADV_DONTNEED), the sanitizers' allocator"},
    {SCMP_SYS(futex), "libc's internal locks"},
    {SCMP_SYS(clock_gettime), "the clock, when the vDSO falls back to a system call"},
    {SCMP_SYS(gettimeofday), "the clock, likewise"},
    {SCMP_SYS(exit), "ending the process"},
    {SCMP_SYS(exit_group), "ending the process"},
    {SCMP_SYS(rt_sigreturn), "returning from a signal handler"},
    {SCMP_SYS(restart_syscall), "resuming an interrupted call"},
    {SCMP_SYS(rt_sigprocmask), "abort() (an assert) blocks signals before raising SIGABRT"},
    {SCMP_SYS(getpid), "abort() and raise() name the process"},
    {SCMP_SYS(gettid), "abort() and raise() name the thread"},
    {SCMP_SYS(sched_yield), "spin locks (the sanitizers' allocator yields while it waits)"},
};

/* Allowed while loading only (with read-only opens and reads of what they open, below). */
static const struct allow loading[] = {
    {SCMP_SYS(close), "the loader closes the .so; the host closes stdin and stdout (its own)"},
    {SCMP_SYS(mprotect), "the loader protects relocated segments (RELRO)"},
    {SCMP_SYS(seccomp), "installing the serving filter (which only adds restrictions)"},
};

/* Adds the rules both filters have. */

/* "argument 0 equals v" (SCMP_A0 leaves datum_b out, which clang's -Wextra refuses). */
static struct scmp_arg_cmp arg0_eq(scmp_datum_t v)
{
    return (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

static int add_common(scmp_filter_ctx ctx, int sock)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof serving / sizeof serving[0] && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, serving[i].nr, 0);
    /* the socket to the peer: frames in and out */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, arg0_eq((scmp_datum_t)sock));
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_eq((scmp_datum_t)sock));
#ifdef CCHOST_ASAN
    /* the sanitizers' reports */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_eq((scmp_datum_t)2));
    /* AddressSanitizer asks where the signal stack is before every noreturn call (abort()):
     * a query, never a change */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 1,
                              arg0_eq((scmp_datum_t)0));
#endif
    /* abort() and raise() signal the process itself, never another one */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              arg0_eq((scmp_datum_t)getpid()));
    return rc;
}

/* Open flags that create, truncate or write. */
#define WRITE_FLAGS ((scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE))

/* Allows system call `nr` on the descriptors the loader opens (4 and up: 0..2 are the
 * standard ones, 3 the socket), never on stdin, stdout or stderr, which are the peer's own
 * (stderr may be its terminal, or a log file opened for reading too). The kernel takes the
 * descriptor as 32 bits while seccomp compares all 64, so "at least 4" is one masked compare
 * per power of two: [2^k, 2^(k+1)) for k = 2..30. */
static int allow_opened_fds(scmp_filter_ctx ctx, int nr)
{
    int rc = 0;
    for (unsigned k = 2; k <= 30 && !rc; k++) {
        scmp_datum_t low = (scmp_datum_t)1 << k;
        struct scmp_arg_cmp in_block = {
            .arg = 0, .op = SCMP_CMP_MASKED_EQ, .datum_a = ~(low - 1), .datum_b = low};
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, in_block);
    }
    return rc;
}

static int add_loading(scmp_filter_ctx ctx)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof loading / sizeof loading[0] && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, loading[i].nr, 0);
    /* the files it opens, never stdin, stdout, stderr (a constructor moving the peer's log
     * file's offset would overwrite its log) nor paths (stat by path tells whether any file
     * exists, Landlock or not): the loader reads the .so's headers (read, pread64), checks it
     * (fstat; newfstatat with an empty path through fstat where on_sigsys emulates it) */
    static const int on_opened[] = {SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(lseek),
#ifndef NEWFSTATAT_TRAPPED
                                    SCMP_SYS(newfstatat), /* by path too: weaker */
#endif
                                    SCMP_SYS(fstat)};
    for (size_t i = 0; i < sizeof on_opened / sizeof on_opened[0] && !rc; i++)
        rc = allow_opened_fds(ctx, on_opened[i]);
    /* opening files to read them (the .so, its libraries): never to write or create one */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, WRITE_FLAGS, O_RDONLY));
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, WRITE_FLAGS, O_RDONLY));
    return rc;
}

static int load_filter(int sock, bool for_loading, char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return STELE_ERR_INTERNAL;
    }
    int rc = add_common(ctx, sock);
    if (!rc && for_loading)
        rc = add_loading(ctx);
    /* no_new_privs is set by the loading filter (prctl is not allowed after it) */
    if (!rc && !for_loading)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc) {
        snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(-rc));
        return STELE_ERR_INTERNAL;
    }
    return STELE_OK;
}

int cchost_sandbox_serving(int sock, char *err, size_t errlen)
{
    return load_filter(sock, false, err, errlen);
}

/* ---- Landlock ----------------------------------------------------------------------------- */

/* The ruleset attributes of Landlock ABI 6 (the system header may be older). */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

#define LL_FS_ABI1      ((1ull << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER     (1ull << 13)       /* ABI 2 */
#define LL_FS_TRUNCATE  (1ull << 14)       /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)       /* ABI 5 */
#define LL_NET_ALL      3ull               /* BIND_TCP, CONNECT_TCP: ABI 4 */
#define LL_SCOPE_ALL    3ull               /* abstract unix sockets, signals: ABI 6 */

#define LL_READ_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE)
#define LL_READ_DIR  (LL_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Allows `access` beneath `path`; a missing path is skipped unless `required`. */
static int ll_allow(int ruleset, const char *path, uint64_t access, bool required, char *err,
                    size_t errlen)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (!required)
            return STELE_OK;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return STELE_ERR_INVALID;
    }
    struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    close(fd);
    if (r && required) {
        snprintf(err, errlen, "landlock_add_rule(%s): %s", path, strerror(errno));
        return STELE_ERR_INTERNAL;
    }
    return STELE_OK;
}

long cchost_landlock_abi(void)
{
#ifdef STELE_TEST_HOOKS
    const char *no = getenv("STELE_TEST_NO_LANDLOCK");
    if (no && !strcmp(no, "1"))
        return 0;
#endif
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? abi : 0;
}

/* Lets the process open only the .so and the system libraries. Where the kernel has no
 * Landlock, the seccomp filter still refuses writes, sockets and processes, but not reads: a
 * constructor of the .so could read the peer's key. So that is refused unless the operator
 * allowed it (`landlock_required` false). */
static int landlock(const char *so_path, bool required, char *err, size_t errlen)
{
    long abi = cchost_landlock_abi();
    if (abi < 1 && required) {
        snprintf(err, errlen,
                 "this kernel has no Landlock (Linux 5.13 or later), so the chaincode could read "
                 "the peer's files while it loads; chaincode.allow_without_landlock: true in "
                 "peer.yaml runs it anyway");
        return STELE_ERR_PERMISSION;
    }
    if (abi < 1)
        return STELE_OK;
    struct ll_ruleset_attr attr = {.handled_access_fs = LL_FS_ABI1};
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 2)
        attr.handled_access_fs |= LL_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_ALL;
        size = offsetof(struct ll_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ALL;
        size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) {
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
        return STELE_ERR_INTERNAL;
    }
    static const char *const libdirs[] = {"/lib", "/lib64", "/usr/lib", "/usr/lib64",
                                          "/usr/local/lib"};
    int rc = ll_allow(ruleset, so_path, LL_READ_FILE, true, err, errlen);
    for (size_t i = 0; i < sizeof libdirs / sizeof libdirs[0] && !rc; i++)
        rc = ll_allow(ruleset, libdirs[i], LL_READ_DIR, false, err, errlen);
    if (!rc)
        rc =
            ll_allow(ruleset, "/etc/ld.so.cache", LANDLOCK_ACCESS_FS_READ_FILE, false, err, errlen);
    if (!rc && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        rc = STELE_ERR_INTERNAL;
    }
    if (!rc && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        rc = STELE_ERR_INTERNAL;
    }
    close(ruleset);
    return rc;
}

int cchost_sandbox_loading(const char *so_path, int sock, bool landlock_required, char *err,
                           size_t errlen)
{
    int rc = landlock(so_path, landlock_required, err, errlen);
    return rc ? rc : load_filter(sock, true, err, errlen);
}
