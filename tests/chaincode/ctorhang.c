/*
 * ctorhang.c — a chaincode whose constructor never returns (a loop inside dlopen): each host
 * started for it runs into the runtime's load timeout (test_ccrt_sandbox).
 */
#include <stele/chaincode.h>

static volatile int forever = 1;

__attribute__((constructor)) static void at_load(void)
{
    while (forever)
        ;
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, "loaded", 6);
}

STELE_CHAINCODE("ctorhang", "1.0", NULL, invoke);
