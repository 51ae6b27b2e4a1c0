/*
 * evil.c — a chaincode that misbehaves on request, for the runtime's tests (test_ccrt). Each
 * function tries one thing the sandbox must stop; "ok" answers normally, to show the runtime
 * still serves afterwards.
 *
 *   ok        200 "fine"
 *   segv      writes through a NULL pointer             -> crash (SIGSEGV)
 *   abort     abort()                                   -> crash (SIGABRT)
 *   exit      _exit(0) in the middle of an invocation   -> the host exited
 *   loop      spins forever                             -> timeout
 *   alloc     allocates and touches 1 MiB blocks forever -> memory limit
 *   open      open("/etc/hostname")                     -> forbidden (openat)
 *   socket    socket(AF_INET, SOCK_STREAM)              -> forbidden (socket)
 *   exec      execve("/bin/true")                       -> forbidden (execve)
 *   fork      fork()                                    -> forbidden (clone)
 *   thread    pthread_create()                          -> forbidden (clone3)
 *   sigsys    blocks SIGSYS, then opens a file          -> killed by SIGSYS
 *   garbage   writes junk to the peer's socket (fd 3)   -> protocol error
 *   flood     writes CLOSE calls (which get no answer; with the invocation's nonce) to fd 3
 *             forever -> timeout
 *   forge     writes a result "forged" and a CLOSE call to fd 3, then answers "honest"
 *             -> neither carries the invocation's nonce: refused, the host replaced
 *   linger [MiB]  writes a result "linger" to fd 3 (with the invocation's nonce, read from
 *             the host's memory), then goes on: touches MiB (320 when not given) MiB and spins
 *             -> the peer takes "linger"; the host must not run on between invocations
 *   snapshots N  puts a 1 MiB value, then N times opens a range over it and puts another
 *             1 MiB value in its place (each open iterator shows the value it was opened
 *             with) -> the invocation fails when the values held pass the peer's limit
 *   int80     a system call of the i386 ABI (int $0x80)  -> killed (another architecture)
 *   x32       a system call of the x32 ABI               -> forbidden
 */
#include <stele/chaincode.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A real SIGSEGV, not a sanitizer's report of a null store. */
static volatile uintptr_t bad_address = 8;

__attribute__((no_sanitize("address", "undefined"), noinline)) static void crash(void)
{
    *(volatile int *)bad_address = 1;
}

static void *thread_main(void *arg)
{
    return arg;
}

/* The running invocation's nonce, which frames written past the shim must carry, read where
 * the host keeps it (what a hostile chaincode can do: its memory is the host's; the stub's
 * layout begins with the ops and the host, chaincode/shim/stub.h, and the host with it). */
static uint64_t invocation_nonce(stele_cc_stub *stub)
{
    struct stub_abi {
        const void *ops;
        const uint64_t *impl;
    };
    return *((const struct stub_abi *)(const void *)stub)->impl;
}

static int invoke(stele_cc_stub *stub)
{
    const char *fn = stele_cc_function(stub);
    if (strcmp(fn, "ok") == 0)
        return stele_cc_success(stub, "fine", 4);
    if (strcmp(fn, "segv") == 0) {
        crash();
    } else if (strcmp(fn, "abort") == 0) {
        abort();
    } else if (strcmp(fn, "exit") == 0) {
        _exit(0);
    } else if (strcmp(fn, "loop") == 0) {
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (strcmp(fn, "alloc") == 0) {
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p)
                return stele_cc_error(stub, 507, "malloc failed before the limit");
            memset(p, 1, 1 << 20);
        }
    } else if (strcmp(fn, "open") == 0) {
        int fd = open("/etc/hostname", O_RDONLY);
        return stele_cc_error(stub, 500, "open returned %d", fd);
    } else if (strcmp(fn, "socket") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        return stele_cc_error(stub, 500, "socket returned %d", fd);
    } else if (strcmp(fn, "exec") == 0) {
        char *const argv[] = {"true", NULL};
        execv("/bin/true", argv);
        return stele_cc_error(stub, 500, "exec returned");
    } else if (strcmp(fn, "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        return stele_cc_error(stub, 500, "fork returned %d", (int)pid);
    } else if (strcmp(fn, "thread") == 0) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, thread_main, NULL);
        return stele_cc_error(stub, 500, "pthread_create returned %d", rc);
    } else if (strcmp(fn, "sigsys") == 0) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSYS);
        sigprocmask(SIG_BLOCK, &s, NULL);
        int fd = open("/etc/hostname", O_RDONLY);
        return stele_cc_error(stub, 500, "open returned %d", fd);
    } else if (strcmp(fn, "flood") == 0) {
        /* CcHostToPeer{call: CcHostCall{op: CLOSE, nonce}}, framed, 8192 at a time: the peer
         * always finds another frame waiting */
        unsigned char close_call[4 + 13] = {0, 0, 0, 13, 0x12, 11, 0x08, 0x05, 0x39};
        uint64_t nonce = invocation_nonce(stub);
        for (int i = 0; i < 8; i++)
            close_call[9 + i] = (unsigned char)(nonce >> (8 * i));
        static char many[8192 * sizeof close_call];
        for (size_t i = 0; i < sizeof many; i += sizeof close_call)
            memcpy(many + i, close_call, sizeof close_call);
        for (;;) {
            ssize_t w = write(3, many, sizeof many);
            (void)w;
        }
    } else if (strcmp(fn, "forge") == 0) {
        /* CcHostToPeer{result: CcHostResult{status: 200, payload: "forged"}}, framed */
        static const char result[] = "\x00\x00\x00\x0d\x1a\x0b\x08\x90\x03\x1a\x06"
                                     "forged"
                                     "\x00\x00\x00\x04\x12\x02\x08\x05";
        ssize_t w = write(3, result, sizeof result - 1);
        (void)w;
        return stele_cc_success(stub, "honest", 6);
    } else if (strcmp(fn, "linger") == 0) {
        /* CcHostToPeer{result: CcHostResult{status: 200, payload: "linger", nonce}}, framed */
        uint64_t nonce = invocation_nonce(stub);
        unsigned char result[4 + 22] = {0,    0, 0,   22,  0x1a, 20,  0x08, 0x90, 0x03,
                                        0x1a, 6, 'l', 'i', 'n',  'g', 'e',  'r',  0x39};
        for (int i = 0; i < 8; i++)
            result[18 + i] = (unsigned char)(nonce >> (8 * i));
        ssize_t w = write(3, result, sizeof result);
        (void)w;
        const char *arg = stele_cc_arg_string(stub, 0);
        int mib = arg ? atoi(arg) : 320;
        for (int i = 0; i < mib; i++) {
            char *p = malloc(1 << 20);
            if (p)
                memset(p, 1, 1 << 20);
        }
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (strcmp(fn, "snapshots") == 0) {
        const char *n = stele_cc_arg_string(stub, 0);
        static uint8_t v[1 << 20];
        for (int i = 0, rounds = n ? atoi(n) : 0; i <= rounds; i++) {
            v[0] = (uint8_t)i;
            int rc = stele_cc_put_state(stub, "k", v, sizeof v);
            stele_cc_iter *it;
            if (rc == STELE_CC_OK && i < rounds)
                rc = stele_cc_range(stub, "", "", &it);
            if (rc != STELE_CC_OK)
                return stele_cc_error(stub, 413, "round %d: %d", i, rc);
        }
        return stele_cc_success(stub, "held", 4);
    } else if (strcmp(fn, "int80") == 0) {
#if defined(__x86_64__)
        long r = 20; /* getpid on i386 */
        __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
        return stele_cc_error(stub, 500, "int 0x80 returned %ld", r);
#else
        return stele_cc_error(stub, 501, "not x86-64");
#endif
    } else if (strcmp(fn, "x32") == 0) {
#if defined(__x86_64__)
        long r = syscall(0x40000000L | SYS_getpid);
        return stele_cc_error(stub, 500, "the x32 getpid returned %ld", r);
#else
        return stele_cc_error(stub, 501, "not x86-64");
#endif
    } else if (strcmp(fn, "garbage") == 0) {
        static const char junk[] = "\x00\x00\x00\x05hello";
        ssize_t w = write(3, junk, sizeof junk - 1);
        (void)w;
        return stele_cc_success(stub, NULL, 0);
    }
    return stele_cc_error(stub, 400, "unknown function %s", fn);
}

STELE_CHAINCODE("evil", "6.6.6", NULL, invoke);
