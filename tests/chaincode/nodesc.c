/* nodesc.c — a shared object without the `stele_chaincode` descriptor: the runtime must refuse
 * to load it (test_ccrt). */
#include <stele/chaincode.h>

__attribute__((visibility("default"))) int not_a_chaincode(void)
{
    return 42;
}
