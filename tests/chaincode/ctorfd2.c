/* ctorfd2.c — a chaincode whose constructor, which runs inside dlopen before the chaincode is
 * locked down, reads from stderr: the host's stderr is the peer's (its terminal, or a log
 * file opened for reading and writing). The loading sandbox must stop it, and the runtime
 * refuse the chaincode (test_ccrt_sandbox); loaded, it answers what it read. */
#include <stele/chaincode.h>

#include <string.h>
#include <unistd.h>

static char got[64] = "nothing";

__attribute__((constructor)) static void at_load(void)
{
    char buf[sizeof got - 1];
    ssize_t n = read(2, buf, sizeof buf);
    if (n > 0) {
        memcpy(got, buf, (size_t)n);
        got[n] = 0;
    }
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, got, strlen(got));
}

STELE_CHAINCODE("ctorfd2", "1.0", NULL, invoke);
