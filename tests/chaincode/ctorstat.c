/* ctorstat.c — a chaincode whose constructor, which runs inside dlopen before the chaincode is
 * locked down, asks about a file by its path: Landlock does not restrict stat, so without the
 * loading sandbox a chaincode could learn which files the peer's machine has, their sizes,
 * owners and times. The sandbox must stop it (test_ccrt_sandbox). */
#include <stele/chaincode.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char got[64] = "not called";

__attribute__((constructor)) static void at_load(void)
{
    struct stat st;
    int rc = stat("/etc/passwd", &st);
    snprintf(got, sizeof got, "stat: %d, %lld octets", rc, rc ? 0LL : (long long)st.st_size);
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, got, strlen(got));
}

STELE_CHAINCODE("ctorstat", "1.0", NULL, invoke);
