/* procs.c — running and keeping the network's processes (see procs.h). */
#include "procs.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/enrolment.h"
#include "pb/pb.h"
#include "rpc/rpc.h"
#include "rpc/services.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void procs_sibling(const char *name, char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    if (snprintf(out, n, "%s/%s", slash ? self : ".", name) >= (int)n)
        out[0] = 0; /* too long: running it then fails and says so */
}

/* Spawn attributes for a child that must not inherit our signal mask or ignored signals. */
static void clean_attr(posix_spawnattr_t *attr, short extra)
{
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_init(attr);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &def);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extra);
}

int procs_run(char *const argv[], struct buf *out)
{
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    pid_t pid;
    if (out && pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    clean_attr(&attr, 0);
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (out)
        close(fds[1]);
    if (rc != 0) {
        if (out)
            close(fds[0]);
        return -1;
    }
    char chunk[4096];
    ssize_t n;
    while (out && ((n = read(fds[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            buf_append(out, chunk, (size_t)n);
    if (out)
        close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int procs_start(char *const argv[], const char *log, const char *pid_file, const char *exit_file,
                pid_t *pid)
{
    char self[PATH_MAX + 32];
    procs_sibling("stele-network", self, sizeof self);
    size_t n = 0;
    while (argv[n])
        n++;
    char **kargv = calloc(n + 10, sizeof *kargv);
    if (!kargv)
        return STELE_ERR_NOMEM;
    size_t k = 0;
    kargv[k++] = self;
    kargv[k++] = "keep";
    kargv[k++] = "--log";
    kargv[k++] = (char *)log;
    kargv[k++] = "--pid-file";
    kargv[k++] = (char *)pid_file;
    kargv[k++] = "--exit-file";
    kargv[k++] = (char *)exit_file;
    kargv[k++] = "--";
    for (size_t i = 0; i < n; i++)
        kargv[k++] = argv[i];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    clean_attr(&attr, POSIX_SPAWN_SETSID);
    unlink(pid_file);
    unlink(exit_file);
    pid_t keeper;
    int rc = posix_spawn(&keeper, self, &fa, &attr, kargv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(kargv);
    if (rc != 0)
        return STELE_ERR_IO;
    /* The keeper writes the daemon's pid at once; it stays our child until we exit. */
    for (int i = 0; i < 500; i++) {
        struct buf b;
        buf_init(&b);
        if (enrolment_read_file(pid_file, 64, &b) == STELE_OK && buf_append_byte(&b, 0) == 0) {
            *pid = (pid_t)atol((char *)b.data);
            buf_release(&b);
            return *pid > 0 ? STELE_OK : STELE_ERR_MALFORMED;
        }
        buf_release(&b);
        if (waitpid(keeper, NULL, WNOHANG) == keeper)
            return STELE_ERR_UNAVAILABLE;
        clock_sleep_ms(10);
    }
    return STELE_ERR_TIMEOUT;
}

bool procs_exit_status(const char *exit_file, char *out, size_t n)
{
    struct buf b;
    buf_init(&b);
    bool ok = enrolment_read_file(exit_file, 256, &b) == STELE_OK && buf_append_byte(&b, 0) == 0;
    if (ok)
        snprintf(out, n, "%.*s", (int)strcspn((char *)b.data, "\n"), (char *)b.data);
    buf_release(&b);
    return ok;
}

/* Whether `arg`, a path as process `pid` was given it (relative to its working directory),
 * names the same file as `conf`. */
static bool same_file(int64_t pid, const char *arg, const char *conf)
{
    char path[PATH_MAX + 64];
    struct stat a, b;
    int n = arg[0] == '/' ? snprintf(path, sizeof path, "%s", arg)
                          : snprintf(path, sizeof path, "/proc/%lld/cwd/%s", (long long)pid, arg);
    return n > 0 && n < (int)sizeof path && stat(path, &a) == 0 && stat(conf, &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool procs_is_daemon(int64_t pid, const char *program, const char *conf)
{
    char path[64], cmd[4 * PATH_MAX + 1024];
    const char *argv[64];
    size_t argc = 0, len = 0;
    ssize_t n;
    if (pid <= 0 || pid > INT_MAX)
        return false;
    snprintf(path, sizeof path, "/proc/%lld/cmdline", (long long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    while (len < sizeof cmd - 1 &&
           ((n = read(fd, cmd + len, sizeof cmd - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    close(fd);
    cmd[len] = 0; /* a zombie has no command line: not the daemon any more */
    for (size_t at = 0; at < len && argc < 64; at += strlen(cmd + at) + 1)
        argv[argc++] = cmd + at;
    /* The daemon's argv, or its keeper's (stele-network keep ... -- PROGRAM serve ...) in the
     * moment between the keeper's fork and exec. */
    for (size_t i = 0; i + 3 < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        if ((i == 0 || strcmp(argv[i - 1], "--") == 0) && strcmp(base, program) == 0 &&
            strcmp(argv[i + 1], "serve") == 0 && strcmp(argv[i + 2], "--config") == 0)
            return same_file(pid, argv[i + 3], conf);
    }
    return false;
}

bool procs_addr_in_use(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hlen = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hlen >= sizeof host)
        return false;
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']')
        snprintf(host, sizeof host, "%.*s", (int)(hlen - 2), addr + 1);
    else
        snprintf(host, sizeof host, "%.*s", (int)hlen, addr);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0)
        return false;
    bool busy = false;
    for (const struct addrinfo *a = ai; a && !busy; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol), one = 1;
        if (fd < 0)
            continue;
        /* As gRPC binds: connections of a stopped server in TIME_WAIT do not count. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        busy = bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE;
        close(fd);
    }
    freeaddrinfo(ai);
    return busy;
}

volatile sig_atomic_t procs_signal;

static void on_signal(int sig)
{
    procs_signal = sig;
}

void procs_catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

/* Whether the daemon's keeper recorded its exit (waiting longer is pointless). */
static bool exited(void *exit_file)
{
    struct stat sb;
    return exit_file && stat(exit_file, &sb) == 0;
}

/* Whether to stop waiting for a daemon: it ended, or we were asked to stop. */
static bool give_up(void *exit_file)
{
    return procs_signal || exited(exit_file);
}

int procs_health(const char *url, const struct rpc_tls *tls, uint64_t wait_ms,
                 const char *exit_file, const char **state, struct rpc_result *res)
{
    enum rpc_health_state h =
        rpc_health_wait(url, tls, "", wait_ms, give_up, (void *)exit_file, res);
    const char *st = h == RPC_HEALTH_SERVING       ? "SERVING"
                     : h == RPC_HEALTH_NOT_SERVING ? "NOT_SERVING"
                     : exited((void *)exit_file)   ? "EXITED"
                                                   : "UNREACHABLE";
    if (state)
        *state = st;
    return h == RPC_HEALTH_SERVING       ? STELE_OK
           : h == RPC_HEALTH_NOT_SERVING ? STELE_ERR_STATE
                                         : STELE_ERR_UNAVAILABLE;
}

/* Writes `text` to `path` (whole, replacing it). */
static void write_text(const char *path, const char *text)
{
    if (enrolment_write_file(path, text, strlen(text), 0644) != STELE_OK)
        fprintf(stderr, "stele-network keep: cannot write %s\n", path);
}

int cmd_keep(int argc, char **argv)
{
    const char *log = NULL, *pid_file = NULL, *exit_file = NULL;
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        const char **slot = strcmp(argv[i], "--log") == 0         ? &log
                            : strcmp(argv[i], "--pid-file") == 0  ? &pid_file
                            : strcmp(argv[i], "--exit-file") == 0 ? &exit_file
                                                                  : NULL;
        if (!slot)
            break;
        *slot = argv[i + 1];
    }
    if (!log || !pid_file || !exit_file || i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc)
        return cli_usage("stele-network keep",
                         "usage: keep --log F --pid-file F --exit-file F -- PROGRAM ARGS...");
    char **child_argv = argv + i + 1;
    /* The keeper outlives terminals and stop requests: only its daemon is signalled. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return cli_fail("stele-network keep", STELE_ERR_IO, "cannot open %s", log);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail("stele-network keep", STELE_ERR_INTERNAL, "fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(child_argv[0], child_argv);
        fprintf(stderr, "stele-network keep: cannot run %s: %s\n", child_argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    char text[64];
    snprintf(text, sizeof text, "%ld\n", (long)pid);
    write_text(pid_file, text);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            write_text(exit_file, "lost\n");
            return CLI_EXIT_INTERNAL;
        }
    if (WIFEXITED(st))
        snprintf(text, sizeof text, "exited %d\n", WEXITSTATUS(st));
    else
        snprintf(text, sizeof text, "killed by signal %d\n", WTERMSIG(st));
    write_text(exit_file, text);
    return CLI_EXIT_OK;
}
