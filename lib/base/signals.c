/* signals.c — termination signals for daemons. */
#include "base/signals.h"

#include "base/status.h"

#include <pthread.h>
#include <signal.h>

static void termination_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int sig_block_termination(void)
{
    sigset_t set;
    termination_set(&set);
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? STELE_OK : STELE_ERR_INTERNAL;
}

int sig_wait_termination(void)
{
    sigset_t set;
    termination_set(&set);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}
