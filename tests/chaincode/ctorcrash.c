/*
 * ctorcrash.c — a chaincode whose constructor crashes (SIGSEGV) inside dlopen, every time:
 * each host started for it dies while loading (test_ccrt_sandbox). A runtime must not start
 * another host at every invocation.
 */
#include <stele/chaincode.h>

#include <stddef.h>
#include <string.h>

static volatile int *nowhere = NULL;

__attribute__((constructor, no_sanitize("address", "undefined"))) static void at_load(void)
{
    *nowhere = 1;
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, "loaded", 6);
}

STELE_CHAINCODE("ctorcrash", "1.0", NULL, invoke);
