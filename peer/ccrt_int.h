/*
 * ccrt_int.h — the parts of the chaincode runtime (ccrt.h) shared by its files:
 *   ccrt.c       pools of hosts, invocations;
 *   ccrt_host.c  one host process seen from the peer: start, framed I/O under a deadline and
 *                the memory watchdog, kill and reap, and what to call a host's death;
 *   ccrt_sim.c   the state calls of one invocation and the read/write set they make;
 * and of the host (`stele-peer chaincode-host`):
 *   cchost.c          loading the .so and serving invocations;
 *   cchost_sandbox.c  Landlock, the seccomp filters and the SIGSYS handler.
 * Not for the endorser: ccrt.h is.
 */
#ifndef STELE_PEER_CCRT_INT_H
#define STELE_PEER_CCRT_INT_H

#include "ccrt.h"
#include "stele/cchost.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CCRT_MEMORY_TICK_MS 5 /* how often the watchdog reads a busy host's resident size */

/* Why a host failed: a status of ccrt.h and a sentence (without the chaincode's name). */
struct ccrt_fail {
    int rc;
    char msg[256];
};

/* Fills *f and returns `rc`. */
int ccrt_fail_set(struct ccrt_fail *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One host process as the peer sees it. A zeroed struct with fd = statm_fd = -1 (or
 * ccrt_host_init()) has no process. */
struct ccrt_host {
    pid_t pid;     /* 0: none */
    int fd;        /* the peer's end of the socketpair */
    int statm_fd;  /* /proc/PID/statm, for the watchdog */
    bool paused;   /* stopped (SIGSTOP) while idle: ccrt_host_pause() */
    uint8_t *in;   /* received octets; those not yet consumed (a partial frame, or more)
                      are the in_len from in_off on */
    size_t in_off; /* consumed octets before them (moved out once per receive, not per frame) */
    size_t in_len; /* octets not yet consumed */
    size_t in_cap; /* octets allocated at `in` */
};

/* The limits of one exchange with a host. */
struct ccrt_wait {
    uint64_t deadline_ms; /* clock_mono_ms() after which the host is killed */
    unsigned timeout_ms;  /* what the deadline came from, for the message */
    size_t memory_limit;  /* resident bytes after which the host is killed */
    uint64_t next_mem_ms; /* when the watchdog reads the resident size next */
    bool loading;         /* the host is starting (changes the wording of failures) */
};

/* Starts the deadline and watchdog of an exchange that may last `timeout_ms`. */
void ccrt_wait_start(struct ccrt_wait *w, unsigned timeout_ms, size_t memory_limit, bool loading);

/* How hosts are started. */
struct ccrt_spawn {
    const char *exe;        /* the program */
    char *const *envp;      /* its environment */
    size_t memory_limit;    /* passed as --memory */
    bool landlock_optional; /* --landlock optional (else required) */
};

/* Marks `h` as having no process. */
void ccrt_host_init(struct ccrt_host *h);

/* Starts a host for `so_path` and waits (under `w`) for its hello, which is returned in
 * *hello (free with pb_free()) when it loaded the chaincode. Returns STELE_OK; or, with the
 * host killed and reaped and *f filled: STELE_ERR_INVALID (the host could not load the .so:
 * the hello's error), STELE_ERR_IO (cannot start the program), or a failure as
 * ccrt_host_recv(). */
int ccrt_host_spawn(struct ccrt_host *h, const struct ccrt_spawn *sp, const char *so_path,
                    struct ccrt_wait *w, Stele__CcHostHello **hello, struct ccrt_fail *f);

/* Sends one frame. Returns STELE_OK, or a failure (the host killed and reaped, *f filled):
 * STELE_ERR_TIMEOUT, STELE_ERR_LIMIT (memory), STELE_ERR_PERMISSION, STELE_ERR_INTERNAL (the
 * host died), STELE_ERR_NOMEM, STELE_ERR_TOO_BIG (a message over CCHOST_MAX_FRAME; the host
 * is left alone). */
int ccrt_host_send(struct ccrt_host *h, const Stele__CcPeerToHost *m, struct ccrt_wait *w,
                   struct ccrt_fail *f);

/* Receives one frame into *out (free with pb_free()). A forbidden_syscall frame is not
 * returned: it is a failure. Returns STELE_OK, or a failure as ccrt_host_send() (INTERNAL
 * also for an oversize or undecodable frame). */
int ccrt_host_recv(struct ccrt_host *h, struct ccrt_wait *w, Stele__CcHostToPeer **out,
                   struct ccrt_fail *f);

/* Stops the host's process (SIGSTOP) until the next ccrt_host_send() or ccrt_host_recv()
 * continues it. For an idle host (ccrt.c stops those idle for a while): the chaincode may
 * have written its last result or hello itself and carried on, and nothing it runs between
 * invocations would be timed or watched for memory. */
void ccrt_host_pause(struct ccrt_host *h);

/* Reads the host's resident size now and kills it when it is over w->memory_limit. Returns
 * STELE_OK or STELE_ERR_LIMIT (killed, *f filled). */
int ccrt_host_check_memory(struct ccrt_host *h, struct ccrt_wait *w, struct ccrt_fail *f);

/* True when the host's process still runs; when it has died (while idle), reaps it, logs why
 * and leaves `h` without a process. */
bool ccrt_host_alive(struct ccrt_host *h);

/* True when the host has sent something not yet taken (buffered or on the socket). */
bool ccrt_host_has_input(struct ccrt_host *h);

/* Kills (SIGKILL) and reaps the process, closes the descriptors, frees the buffer. Accepts a
 * host without a process. */
void ccrt_host_kill(struct ccrt_host *h);

/* ---- one invocation (ccrt_run.c) -------------------------------------------------------- */

/* Runs `inv` on host `h` under the limits of `cfg`: the invoke, the state calls, the result
 * (ccrt_invoke() says what each return means). On a failure that is the host's, the host is
 * killed (h->pid is 0 afterwards). *f says why. */
int ccrt_run(const struct ccrt_config *cfg, struct ccrt_host *h, const struct ccrt_invocation *inv,
             struct ccrt_result *out, struct ccrt_fail *f);

/* ---- the state calls of one invocation ------------------------------------------------ */

struct ccrt_sim;

/* Key octets the peer keeps for one invocation's reads (keys read, range bounds, keys listed
 * by ranges): 10,000 ranges with 4 KiB bounds would otherwise hold ~80 MiB, twice. */
#define CCRT_MAX_READ_KEY_BYTES ((size_t)8 << 20)
#define CCRT_MAX_READ_KEY_MIB   "8"

/* Limits of one invocation's read/write set. */
struct ccrt_sim_limits {
    size_t max_keys;        /* items, counted as tx.h counts them */
    size_t max_write_bytes; /* octets of keys and values in the write set */
};

/* Starts the simulation of an invocation of namespace `ns` (copied) against `db`. NULL when
 * out of memory. */
struct ccrt_sim *ccrt_sim_create(struct statedb *db, const char *ns,
                                 const struct ccrt_sim_limits *lim);

/* Makes the simulation read through `snap` (borrowed: it must outlive the simulation), not the
 * latest state. */
void ccrt_sim_set_snapshot(struct ccrt_sim *s, const struct statedb_snap *snap);

/* Frees the simulation. Accepts NULL. */
void ccrt_sim_destroy(struct ccrt_sim *s);

/* Serves one state call: fills *reply (its pointers stay valid until the next call) and sets
 * *has_reply (CLOSE and a write sent with no_reply have none). A call the peer cannot serve (a
 * bad key, an unknown iterator) is answered with its STELE_CC_* code; a state database failure
 * or a read past max_keys is answered STELE_CC_FAILED and remembered (ccrt_sim_error()), and
 * so is a no_reply write the peer refuses (the host told the chaincode it succeeded). Returns
 * STELE_OK, or STELE_ERR_INTERNAL for an unknown operation or no_reply on anything but PUT or
 * DEL (protocol errors). */
int ccrt_sim_call(struct ccrt_sim *s, const Stele__CcHostCall *c, Stele__CcHostReply *reply,
                  bool *has_reply);

/* The first failure that makes the read/write set unusable: STELE_OK when none, else its
 * status (STELE_ERR_LIMIT, or the state database's) with *why (static or owned by `s`). */
int ccrt_sim_error(const struct ccrt_sim *s, const char **why);

/* Builds the read/write set in arena `a` (an iterator left open counts as stopped where the
 * chaincode left it; one never advanced is not listed): *out has no namespace when nothing
 * was read or written. Returns STELE_OK or STELE_ERR_NOMEM. */
int ccrt_sim_finish(struct ccrt_sim *s, struct arena *a, Stele__TxRwSet **out);

/* ---- the host's sandbox (cchost_sandbox.c) ------------------------------------------- */

/* Installs the SIGSYS handler that reports a forbidden system call on socket `sock` and
 * exits. Returns STELE_OK or STELE_ERR_INTERNAL. */
int cchost_sandbox_trap(int sock);

/* Restricts the host for loading `so_path`: Landlock and the loading seccomp filter. Where the
 * kernel has no Landlock, STELE_ERR_PERMISSION when `landlock_required` (nothing loads), else
 * the seccomp filter alone. Returns STELE_OK, or an error with `err` (errlen octets) saying
 * why. */
int cchost_sandbox_loading(const char *so_path, int sock, bool landlock_required, char *err,
                           size_t errlen);

/* The kernel's Landlock ABI version, 0 without Landlock. In test builds (STELE_TEST_HOOKS)
 * STELE_TEST_NO_LANDLOCK=1 in the environment makes it 0. */
long cchost_landlock_abi(void);

/* Installs the final seccomp filter (the chaincode's). Returns STELE_OK, or an error with
 * `err` saying why. */
int cchost_sandbox_serving(int sock, char *err, size_t errlen);

#endif
