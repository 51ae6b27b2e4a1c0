/* badabi.c — a chaincode built for another ABI version: the runtime must refuse to load it
 * (test_ccrt). */
#include <stele/chaincode.h>

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_success(stub, NULL, 0);
}

__attribute__((visibility("default"))) const struct stele_chaincode stele_chaincode = {
    STELE_CC_ABI_VERSION + 98, "badabi", "1.0", NULL, invoke};
