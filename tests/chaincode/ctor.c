/*
 * ctor.c — a chaincode whose constructor, which runs inside dlopen before the chaincode is
 * locked down, tries to read a file that is not a library (test_ccrt). The loading sandbox
 * lets it run but (with Landlock) not read the file; "probe" tells what happened:
 * "denied" or "read".
 */
#include <stele/chaincode.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int probe_fd = -2;

__attribute__((constructor)) static void at_load(void)
{
    probe_fd = open("/etc/hostname", O_RDONLY);
    if (probe_fd >= 0)
        close(probe_fd);
}

static int invoke(stele_cc_stub *stub)
{
    const char *what = probe_fd >= 0 ? "read" : "denied";
    return stele_cc_success(stub, what, strlen(what));
}

STELE_CHAINCODE("ctor", "1.0", NULL, invoke);
