/* ctorseek.c — a chaincode whose constructor, which runs inside dlopen before the chaincode is
 * locked down, moves stderr's offset to its start: the host's stderr is the peer's, and when
 * that is a log file opened without O_APPEND, the peer's next lines would overwrite its log.
 * The loading sandbox must stop it (test_ccrt_sandbox); loaded, it answers what lseek said. */
#include <stele/chaincode.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char got[32] = "not called";

__attribute__((constructor)) static void at_load(void)
{
    snprintf(got, sizeof got, "lseek: %lld", (long long)lseek(2, 0, SEEK_SET));
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, got, strlen(got));
}

STELE_CHAINCODE("ctorseek", "1.0", NULL, invoke);
