/* ccrt_fixture.h — a chaincode runtime (peer/ccrt.h) for tests, whose hosts are the build's
 * stele-peer (`stele-peer chaincode-host`). */
#ifndef STELE_TEST_CCRT_FIXTURE_H
#define STELE_TEST_CCRT_FIXTURE_H

#include "testutil.h"

#include "base/status.h"
#include "peer/ccrt.h"

#include <stdlib.h>

/* A runtime with `base`'s settings (host_exe set here); fails the test when it cannot start.
 * Free with ccrt_destroy(). */
static inline struct ccrt *ccrt_fx_runtime(const struct ccrt_config *base)
{
    struct ccrt_config cfg = *base;
    char *exe = test_binary_path("stele-peer");
    cfg.host_exe = exe;
    struct ccrt *rt = NULL;
    char *err = NULL;
    int rc = ccrt_create(&cfg, &rt, &err);
    if (rc)
        fail_msg("ccrt_create: %s", err ? err : stele_strerror(rc));
    free(exe);
    return rt;
}

#endif
