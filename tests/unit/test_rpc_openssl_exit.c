/*
 * test_rpc_openssl_exit.c — a thread that ends while the process exits does not lose its
 * OpenSSL error queue. gRPC's own threads run TLS handshakes, and a refused one leaves an
 * error queue (904 octets) in the thread; such a thread may still be ending when the daemon
 * returns from main. OpenSSL's atexit handler would delete the key under which the queue is
 * kept, the ending thread could no longer free it, and LeakSanitizer would report it (it did,
 * once, for stele-peer in tests/integration/tls_network). lib/rpc keeps OpenSSL from cleaning
 * up at exit; this program is linked with lib/rpc and recreates the race on purpose:
 *   a thread raises an OpenSSL error and waits; main returns; an exit handler registered
 *   before OpenSSL's first use (so run after OpenSSL's own, were there one) lets the thread
 *   end and waits for it.
 * Run under AddressSanitizer (make check), a leak makes this program fail at exit.
 */
#include "rpc/rpc.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool raised, exiting;

static void *thread_main(void *arg)
{
    (void)arg;
    ERR_raise(ERR_LIB_EVP, EVP_R_BAD_DECRYPT); /* the thread's error queue is allocated */
    pthread_mutex_lock(&mu);
    raised = true;
    pthread_cond_broadcast(&cv);
    while (!exiting)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL; /* OpenSSL's thread-exit handler frees the queue, if its key still exists */
}

static void at_exit_let_thread_end(void)
{
    pthread_mutex_lock(&mu);
    exiting = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    usleep(300 * 1000); /* the thread ends meanwhile; LeakSanitizer looks after this */
}

int main(void)
{
    /* lib/rpc is linked for its start-up setting; name something of it so it is kept. */
    if (strcmp(rpc_code_name(RPC_OK), "OK") != 0) {
        fprintf(stderr, "rpc_code_name(RPC_OK) is not OK\n");
        return 1;
    }
    if (atexit(at_exit_let_thread_end) != 0)
        return 1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new(); /* OpenSSL's first use here (its atexit, if any) */
    if (!ctx)
        return 1;
    EVP_MD_CTX_free(ctx);

    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_detach(t) != 0)
        return 1;
    pthread_mutex_lock(&mu);
    while (!raised)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    printf("ok: a thread holding an OpenSSL error queue ends during exit\n");
    return 0;
}
