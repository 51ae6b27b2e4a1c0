/* ctorstat.c — a chaincode whose constructor, which runs inside dlopen before the chaincode is
 * locked down, asks about a file by its path: Landlock does not restrict stat, so without the
 * loading sandbox a chaincode could learn which files the peer's machine has, their sizes,
 * owners and times. It tries the way past a check of the descriptor alone: fstatat() on a
 * descriptor it may open (libc) with an absolute path, which the kernel resolves without the
 * descriptor. The sandbox must stop it (test_ccrt_sandbox). */
#include <stele/chaincode.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char got[96] = "not called";

__attribute__((constructor)) static void at_load(void)
{
    struct stat st;
    int fd = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY | O_CLOEXEC);
    int own = fd >= 0 ? fstat(fd, &st) : -1; /* its own descriptor: allowed */
    int rc = fstatat(fd >= 0 ? fd : AT_FDCWD, "/etc/passwd", &st, 0);
    snprintf(got, sizeof got, "fstat: %d; stat of /etc/passwd: %d, %lld octets", own, rc,
             rc ? 0LL : (long long)st.st_size);
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, got, strlen(got));
}

STELE_CHAINCODE("ctorstat", "1.0", NULL, invoke);
