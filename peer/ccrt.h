/*
 * ccrt.h — the peer's chaincode runtime (DESIGN §6): runs an installed chaincode's .so in
 * sandboxed host processes and turns the state calls it makes into a read/write set.
 *
 * Processes. For each .so (keyed by the path given) the runtime keeps a pool of up to
 * `pool_size` host processes, started lazily. A host is the peer's own binary run with the
 * hidden subcommand `stele-peer chaincode-host --fd 3 --so PATH --memory BYTES` (posix_spawn:
 * fork + exec, never a bare fork of the multi-threaded peer; empty signal mask, default
 * dispositions, stdin/stdout on /dev/null, a process group of its own). A host idle for
 * 100 ms is stopped (SIGSTOP) until its next invocation, and its memory checked once more: a
 * chaincode can write a result itself and carry on, and would otherwise run untimed and
 * unwatched for as long as the host is not used (under load a host gets its next invocation
 * at once, which times it again). Should the peer die, the kernel continues and hangs up its
 * orphaned stopped hosts, which then end (an idle host exits when its socket closes). The
 * host (peer/cchost*.c):
 *   1. closes every descriptor but the socket (fd 3) and stdio; sets RLIMIT_CORE to 0 and, in
 *      builds without AddressSanitizer, RLIMIT_AS to its address space at start plus twice
 *      the memory limit (a backstop for the watchdog below); resolves the .so's real path;
 *   2. restricts itself for loading: Landlock (Linux >= 5.13) lets it open only the .so and
 *      the system library directories (without Landlock it loads nothing, unless
 *      allow_without_landlock); the loading seccomp filter refuses sockets, exec, fork,
 *      threads, any open for writing and reads of stdin, stdout and stderr;
 *   3. dlopens the .so (RTLD_NOW | RTLD_LOCAL) — its constructors run here, confined by 2 —
 *      and checks its `stele_chaincode` descriptor: abi_version == STELE_CC_ABI_VERSION (the
 *      stub's layout, chaincode/shim/stub.h, is part of that ABI), invoke not NULL, a valid
 *      name, a version of at most 128 octets;
 *   4. closes stdin, stdout and stderr (stderr stays in sanitizer builds, for their reports),
 *      installs the serving seccomp filter — reading and writing the socket, memory, futex,
 *      the clock, exit, abort() and nothing else; peer/cchost_sandbox.c says why for each
 *      call — and says hello (the descriptor's name and version, or why it cannot load);
 *   5. serves invocations one at a time until the socket closes.
 * Both filters trap: a forbidden system call raises SIGSYS, whose handler reports the call's
 * number to the peer and exits (rt_sigaction is never allowed, so a chaincode cannot replace
 * the handler; if it blocks SIGSYS the kernel kills the host with it).
 *
 * What a malicious .so can do. Code that runs in the host can undo anything the host does
 * later in its own address space, and a constructor runs before the serving filter; so for a
 * hostile .so the loading restrictions are the floor: no sockets, no exec, no fork, no
 * threads, no writes to any file, reads of the .so and the system libraries only, and no
 * use of stdin, stdout or stderr but closing them (the host shares their offsets with the
 * peer) nor of a path but opening it to read (no stat by path). Where the
 * kernel has no Landlock the loading filter cannot confine reads, so a host refuses to load
 * anything there unless the operator allowed it (allow_without_landlock; the constructor could
 * then read any file the peer can). The peer trusts nothing the host sends.
 *
 * Sanitizer builds. The sanitizers read /proc to print a report, which the sandbox refuses:
 * a sanitizer report inside a host ends as a forbidden system call (readlink, ioctl). Hosts
 * get ASAN_OPTIONS that let a crash kill them (handle_segv=0, ...) so a SIGSEGV reads as one.
 *
 * Wire. proto/stele/cchost.proto: u32 big-endian length + one protobuf message, at most
 * CCHOST_MAX_FRAME octets from the peer, CCHOST_MAX_HOST_FRAME from a host. Each state call
 * is a request and (except CLOSE) a reply; the peer checks every message from the host (the
 * chaincode can write anything to the socket), and the invocation's deadline before each.
 * Each invocation has a random nonce (CcHostInvoke.nonce) that its calls and result repeat:
 * a frame with another is left from an earlier invocation, and the host is killed. (The
 * chaincode's code can read the nonce, and the socket: it answers its own invocations as it
 * likes; the nonce keeps stale frames from being counted for a later invocation.)
 *
 * Read/write set (what the peer builds from the state calls, in the chaincode's namespace):
 *   get    — the invocation's own write of the key if there is one (no read recorded: the
 *            value does not depend on the ledger); otherwise statedb_get(), recording the read
 *            with its version (no version: absent) the first time the key is read.
 *   put/del — the write set; the last write of a key wins; a delete has no value.
 *   range  — [start, end) merged from the committed keys (statedb_range(), in pages) and the
 *            invocation's writes in the range when the iterator was opened (a write replaces
 *            the committed entry of its key; a delete hides it). Each RangeRead lists every
 *            committed key the iterator went past (shown, replaced or hidden) with its
 *            version, in order. Reaching the end makes it exhausted. An iterator closed early
 *            (or left open) is recorded as not exhausted, so that validation checks the range
 *            up to the last key listed; when the chaincode's last entry was one of its own
 *            writes, past every committed key listed, the range is recorded as exhausted up
 *            to that key instead (end_key = it), so that a key committed later in between is
 *            still a phantom. Range reads are listed in the order the iterators were opened.
 *   The set follows tx.h: one NsRwSet (none when nothing was read or written), reads and
 *   writes strictly ascending by key. At most `max_keys` items (reads + writes + listed
 *   range keys + one per range read) and `max_write_bytes` octets of written keys and values:
 *   a put or delete past them gets STELE_CC_LIMIT, a read past them fails the invocation
 *   (STELE_ERR_LIMIT: its set would be incomplete); at most 256 iterators open at once (the
 *   257th range gets STELE_CC_LIMIT), holding at most 16 MiB of values between them: the
 *   committed entries they fetched, and the invocation's written values replaced since an
 *   open iterator took them; past that the invocation fails (STELE_ERR_LIMIT).
 *
 * Limits and failures. Each invocation has a wall-clock timeout (state calls included); the
 * memory limit bounds the host's resident set size, which the invoking thread reads from
 * /proc/PID/statm every 5 ms while it waits for the host, once more when the result arrives
 * and once when the idle host is stopped (so memory a chaincode keeps across invocations
 * counts too). RLIMIT_AS alone cannot serve — AddressSanitizer reserves terabytes of shadow address
 * space — so the watchdog is the limit in every build and RLIMIT_AS only a backstop in
 * release builds (a chaincode touching memory fast can overshoot the limit by what it touches
 * in 5 ms). A host that times out, exceeds the limit, makes a forbidden system call, crashes,
 * exits or breaks the protocol is killed (SIGKILL), reaped and replaced by a fresh one at the
 * next invocation that needs it; the failing invocation gets an error naming the cause, and
 * every other invocation carries on. An idle host that dies (killed from outside) is reaped
 * when its slot is next used, or when the pool is evicted or the runtime destroyed. Costs
 * (release build, 2 cores, one get and one put per invocation): about 7,000 invocations/s
 * from one thread, 17,000/s from four threads on a pool of two.
 *
 * Threads. ccrt_invoke(), ccrt_load(), ccrt_evict() and ccrt_get_stats() may be called from any
 * number of threads at once; an invocation waits when every host of its pool is busy. Only
 * ccrt_destroy() must not run concurrently with anything.
 */
#ifndef STELE_PEER_CCRT_H
#define STELE_PEER_CCRT_H

#include "stele/transaction.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct ccrt;
struct statedb;

#define CCHOST_MAX_FRAME (8u << 20) /* octets of one framed message from the peer */
/* ... and from a host: a result holds at most two values of STELE_CC_MAX_VALUE (payload and
 * event) and short texts. Kept near that, since decoding a frame of tiny unknown fields costs
 * the peer some 40 times its size in memory. */
#define CCHOST_MAX_HOST_FRAME ((2u << 20) + (64u << 10))

/* Settings of a runtime; zero fields take the defaults given. */
struct ccrt_config {
    const char *host_exe;        /* the program run as the host (NULL: "/proc/self/exe", the
                                    peer itself); it must understand `chaincode-host` */
    unsigned pool_size;          /* hosts per chaincode (.so): at most this many invocations of
                                    one chaincode run at once (0: 2) */
    unsigned timeout_ms;         /* wall time of one invocation, state calls included (0: 3000) */
    unsigned load_timeout_ms;    /* starting a host: exec, dlopen, checks (0: 10000) */
    size_t memory_limit;         /* bytes of resident memory of a host (0: 256 MiB) */
    size_t max_keys;             /* items of a read/write set (0: 10000; at most
                                    TX_MAX_RWSET_ITEMS) */
    size_t max_write_bytes;      /* octets of keys and values written (0: 8 MiB) */
    bool allow_without_landlock; /* hosts load chaincode even where the kernel has no Landlock
                                    (false: they refuse to, and every invocation fails saying
                                    why) */
};

/* A creator attribute (a key and its value). */
struct ccrt_attr {
    const char *key;
    const char *value;
};

/* One invocation. Every pointer is the caller's and must stay valid during ccrt_invoke(). */
struct ccrt_invocation {
    const char *chaincode;           /* the chaincode's name: its state namespace; a name for
                                        tx_chaincode_name_ok() not starting with '_' (system
                                        namespaces such as _lifecycle are refused) */
    const char *so_path;             /* the installed .so (hosts are pooled by this path) */
    const char *package_name;        /* when not NULL, the name the .so's descriptor must give
                                        (the endorser's: the committed definition's name) */
    const char *function;            /* function name (NULL: "") */
    const ProtobufCBinaryData *args; /* n_args arguments (NULL when n_args is 0) */
    size_t n_args;
    const char *tx_id;       /* the proposal's tx_id (NULL: "") */
    uint64_t timestamp_ms;   /* the proposal's timestamp */
    const char *creator_id;  /* the verified creator: textual id, organisation, role */
    const char *creator_org; /* (NULL: "") */
    const char *creator_role;
    uint8_t creator_certhash[32];  /* SHA-256 of its CertU */
    const struct ccrt_attr *attrs; /* n_attrs attributes (NULL when n_attrs is 0) */
    size_t n_attrs;
    struct statedb *db;              /* the committed state to run against (only read) */
    const struct statedb_snap *snap; /* a snapshot of db to read, or NULL: its latest state */
};

/* What a chaincode answered. Every pointer lives in `arena`; free with ccrt_result_release(). */
struct ccrt_result {
    int status;                   /* what the entry point returned: 200..299 success,
                                     400..499 refused, 500..599 failed (any int is possible) */
    const char *message;          /* its message (never NULL; "" when none) */
    ProtobufCBinaryData payload;  /* its payload (len 0 when none) */
    Stele__TxRwSet *rwset;        /* success (200..299) only: the read/write set, ready for
                                     tx_response_payload_build(); NULL otherwise (a failed
                                     invocation writes nothing) */
    Stele__ChaincodeEvent *event; /* success only, and only when the chaincode set one:
                                     chaincode, tx_id, name, payload; NULL otherwise */
    uint64_t duration_us;         /* wall time of the invocation, waiting for a host excluded */
    struct arena *arena;          /* owns everything above */
};

/* What a .so's descriptor says (ccrt_load()). */
struct ccrt_info {
    char name[65];     /* its name (at most 64 octets) */
    char version[129]; /* its version (truncated to 128 octets) */
};

/* Counters since the runtime was created. */
struct ccrt_stats {
    uint64_t invocations; /* ccrt_invoke() calls that reached a host */
    uint64_t spawned;     /* hosts started (successfully loaded or not) */
    uint64_t timeouts;    /* hosts killed for a timeout */
    uint64_t memory;      /* hosts killed for the memory limit */
    uint64_t forbidden;   /* hosts that made a forbidden system call */
    uint64_t crashed;     /* hosts that died or broke the protocol */
};

/* Creates a runtime with the settings of `cfg` (copied). No host starts yet. Returns STELE_OK
 * with *out (free with ccrt_destroy()), STELE_ERR_INVALID (max_keys above TX_MAX_RWSET_ITEMS,
 * a memory limit under 16 MiB) with *errmsg (malloc'd, may be NULL), or STELE_ERR_NOMEM. */
int ccrt_create(const struct ccrt_config *cfg, struct ccrt **out, char **errmsg);

/* True when the kernel has Landlock, which hosts need to confine what a chaincode's code reads
 * while it loads (see allow_without_landlock). */
bool ccrt_kernel_has_landlock(void);

/* Kills and reaps every host and frees the runtime. Accepts NULL. No other call on `rt` may be
 * running or follow. */
void ccrt_destroy(struct ccrt *rt);

/* Runs `inv` in a host of the pool of inv->so_path: waits for an idle host (starting one when
 * the pool has room), sends the invocation, serves its state calls against inv->db and
 * collects the answer. Returns:
 *   STELE_OK              the chaincode ran (whatever status it answered): *out is filled
 *                         (release it with ccrt_result_release());
 *   STELE_ERR_TIMEOUT     it ran past timeout_ms (the host was killed);
 *   STELE_ERR_LIMIT       its host went over memory_limit (killed), or it read more than
 *                         max_keys items or 8 MiB of keys (range bounds and listed keys
 *                         included) (its writes are refused with STELE_CC_LIMIT instead);
 *   STELE_ERR_PERMISSION  it made a forbidden system call (the host was killed), also
 *                         while loading (a constructor): that refusal is remembered as below;
 *   STELE_ERR_INTERNAL    its host crashed, exited, or sent a malformed message (killed);
 *   STELE_ERR_INVALID     a bad invocation (one over CCHOST_MAX_FRAME octets too), or the
 *                         .so cannot be loaded (no such file, dlopen failed, no
 *                         `stele_chaincode` descriptor, another ABI version, no invoke);
 *                         a refusal to load is remembered until ccrt_evict();
 *   STELE_ERR_IO / STELE_ERR_MALFORMED / STELE_ERR_NOMEM  the state database could not be read
 *                         (the chaincode was told STELE_CC_FAILED), or the host could not be
 *                         started (IO);
 *   STELE_ERR_STATE       the .so's descriptor names another chaincode than
 *                         inv->package_name (nothing ran);
 *   STELE_ERR_UNAVAILABLE every host stayed busy for timeout_ms, or no host is running and
 *                         the last one failed to load otherwise than above (crashed, hung or
 *                         went over the memory limit in a constructor, or could not be
 *                         started): none is started again for a pause of 1 s, then one host
 *                         is tried, and the pause doubles (to 30 s) each time that one fails
 *                         too (a load that succeeds ends it, so does ccrt_evict()); the
 *                         message says why;
 * with *errmsg (malloc'd, may be NULL; free it) naming the chaincode and the cause, e.g.
 * "chaincode kv: timed out after 3000 ms; its host was killed". On an error *out is zeroed.
 * A crash, timeout, limit or forbidden call affects only this invocation: the next one gets a
 * fresh host. Thread-safe. */
int ccrt_invoke(struct ccrt *rt, const struct ccrt_invocation *inv, struct ccrt_result *out,
                char **errmsg);

/* Frees a result's arena and zeroes it. Accepts a zeroed result and NULL. */
void ccrt_result_release(struct ccrt_result *r);

/* Makes sure the pool of `so_path` has a loaded host (starting one if needed) and copies what
 * its descriptor says into *info (may be NULL): for `install`, to refuse a .so that cannot
 * run. Returns STELE_OK, or as ccrt_invoke() for loading (INVALID, PERMISSION, TIMEOUT, LIMIT,
 * INTERNAL, IO, NOMEM) with *errmsg. Thread-safe. */
int ccrt_load(struct ccrt *rt, const char *so_path, struct ccrt_info *info, char **errmsg);

/* Drops the pool of `so_path` (after an upgrade or a reinstall): idle hosts are killed now,
 * busy ones when their invocation ends; a remembered refusal to load is forgotten. The next
 * invocation of that path starts a new pool. Thread-safe. */
void ccrt_evict(struct ccrt *rt, const char *so_path);

/* Copies the counters. Thread-safe. */
void ccrt_get_stats(struct ccrt *rt, struct ccrt_stats *out);

/* The host side: `stele-peer chaincode-host --fd N --so PATH --memory BYTES` (a hidden
 * subcommand; argv[0] is "chaincode-host"). Serves invocations on descriptor N until it
 * closes, then exits with 0 (_exit: no atexit handlers run); exits with 1 when the .so cannot
 * be loaded (after telling the peer) and with 126 after a forbidden system call; returns 2 on
 * a usage error. */
int ccrt_host_main(int argc, char **argv);

#endif
