/* ctorsock.c — a chaincode whose constructor opens a socket while it is being loaded: the
 * loading sandbox must stop it, and the runtime refuse the chaincode (test_ccrt). */
#include <stele/chaincode.h>

#include <sys/socket.h>

static int fd = -1;

__attribute__((constructor)) static void at_load(void)
{
    fd = socket(AF_INET, SOCK_STREAM, 0);
}

static int invoke(stele_cc_stub *stub)
{
    return stele_cc_error(stub, 500, "loaded with socket %d", fd);
}

STELE_CHAINCODE("ctorsock", "1.0", NULL, invoke);
