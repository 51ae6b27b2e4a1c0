/* common.c — codes, buffers, deadlines and gRPC log routing shared by server and client. */
#include "rpc/rpc_internal.h"

#include "base/log.h"
#include "base/status.h"
#include "pb/pb.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *rpc_code_name(enum rpc_code code)
{
    if ((unsigned)code < sizeof code_names / sizeof code_names[0])
        return code_names[code];
    return "UNKNOWN";
}

enum rpc_code rpc_code_from_status(int status)
{
    switch (status) {
    case STELE_OK:
        return RPC_OK;
    case STELE_ERR_INVALID:
    case STELE_ERR_MALFORMED:
    case STELE_ERR_CONFIG:
        return RPC_INVALID_ARGUMENT;
    case STELE_ERR_NOT_FOUND:
        return RPC_NOT_FOUND;
    case STELE_ERR_EXISTS:
        return RPC_ALREADY_EXISTS;
    case STELE_ERR_PERMISSION:
    case STELE_ERR_REVOKED:
        return RPC_PERMISSION_DENIED;
    case STELE_ERR_AUTH:
    case STELE_ERR_EXPIRED:
        return RPC_UNAUTHENTICATED;
    case STELE_ERR_TIMEOUT:
        return RPC_DEADLINE_EXCEEDED;
    case STELE_ERR_UNAVAILABLE:
        return RPC_UNAVAILABLE;
    case STELE_ERR_CANCELLED:
        return RPC_CANCELLED;
    case STELE_ERR_TOO_BIG:
    case STELE_ERR_LIMIT:
        return RPC_RESOURCE_EXHAUSTED;
    case STELE_ERR_STATE:
    case STELE_ERR_REPLAY:
        return RPC_FAILED_PRECONDITION;
    case STELE_ERR_CONFLICT:
        return RPC_ABORTED;
    default:
        return RPC_INTERNAL;
    }
}

int rpc_status_from_code(enum rpc_code code)
{
    switch (code) {
    case RPC_OK:
        return STELE_OK;
    case RPC_CANCELLED:
        return STELE_ERR_CANCELLED;
    case RPC_INVALID_ARGUMENT:
    case RPC_OUT_OF_RANGE:
        return STELE_ERR_INVALID;
    case RPC_DEADLINE_EXCEEDED:
        return STELE_ERR_TIMEOUT;
    case RPC_NOT_FOUND:
        return STELE_ERR_NOT_FOUND;
    case RPC_ALREADY_EXISTS:
        return STELE_ERR_EXISTS;
    case RPC_PERMISSION_DENIED:
        return STELE_ERR_PERMISSION;
    case RPC_RESOURCE_EXHAUSTED:
        return STELE_ERR_LIMIT;
    case RPC_FAILED_PRECONDITION:
        return STELE_ERR_STATE;
    case RPC_ABORTED:
        return STELE_ERR_CONFLICT;
    case RPC_UNAVAILABLE:
        return STELE_ERR_UNAVAILABLE;
    case RPC_UNAUTHENTICATED:
        return STELE_ERR_AUTH;
    default:
        return STELE_ERR_INTERNAL;
    }
}

static void grpc_log_to_stele(gpr_log_func_args *args)
{
    enum log_level level = LOG_DEBUG;
    if (args->severity == GPR_LOG_SEVERITY_ERROR)
        level = LOG_WARN; /* gRPC's errors are usually a peer's fault: a warning for us */
    else if (args->severity == GPR_LOG_SEVERITY_INFO)
        level = LOG_DEBUG;
    const char *file = args->file ? strrchr(args->file, '/') : NULL;
    log_write(level, "grpc", "%s:%d %s", file ? file + 1 : "?", args->line, args->message);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

/* Debian builds Abseil without NDEBUG, so every absl::Mutex that gRPC locks runs Abseil's
   debug-only deadlock detector: a global spin lock, a hash lookup, edges and sometimes a stack
   trace per lock, a graph update per destroyed mutex. In a peer under load that was ~2% of the
   CPU and contention on one lock across all threads (docs/PERFORMANCE.md). Release builds of
   Abseil have it off; so do we, through the C++ function absl::SetMutexDeadlockDetectionMode
   (kIgnore = 0; the enum is an int), found by its mangled name in the inline namespace of the
   installed headers. If it is not there, the detector stays as it was. */
#if defined(__has_include)
#if __has_include(<absl/base/options.h>)
#include <absl/base/options.h>
#endif
#endif

#define STELE_STR2(x) #x
#define STELE_STR(x)  STELE_STR2(x)

bool rpc_absl_deadlock_detection_off(void)
{
#if defined(ABSL_OPTION_USE_INLINE_NAMESPACE) && ABSL_OPTION_USE_INLINE_NAMESPACE == 1
    const char *ns = STELE_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
    char name[160];
    snprintf(name, sizeof name,
             "_ZN4absl%zu%s29SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE", strlen(ns), ns);
#else
    const char *name = "_ZN4absl29SetMutexDeadlockDetectionModeENS_15OnDeadlockCycleE";
#endif
    void *sym = dlsym(RTLD_DEFAULT, name);
    if (!sym) {
        log_write(LOG_DEBUG, "rpc", "Abseil's deadlock detector left as it is (%s not found)",
                  name);
        return false;
    }
    void (*set_mode)(int);
    memcpy(&set_mode, &sym, sizeof set_mode); /* object pointer to function pointer (POSIX) */
    set_mode(0);
    return true;
}

/* OpenSSL frees its global state in an atexit handler, and with it the key under which each
 * thread keeps its error queue. gRPC's own threads (TLS handshakes run on them) may still be
 * ending while the process exits: one that ends after that handler can no longer free its
 * queue, and LeakSanitizer reports the 904 octets as lost (seen after refused handshakes in
 * tests/integration/tls_network). The option must come before OpenSSL's first use, which in a
 * daemon precedes the first RPC (keys are loaded first), so it is set when the program starts.
 * Nothing is lost by it: the process is ending, and the operating system takes back its memory. */
__attribute__((constructor)) static void openssl_keep_state_at_exit(void)
{
    (void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

static void global_init_once(void)
{
    (void)rpc_absl_deadlock_detection_off();
    gpr_set_log_function(grpc_log_to_stele);
    if (!getenv("GRPC_VERBOSITY"))
        gpr_set_log_verbosity(log_get_level() <= LOG_DEBUG ? GPR_LOG_SEVERITY_INFO
                                                           : GPR_LOG_SEVERITY_ERROR);
}

void rpc_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

gpr_timespec rpc_deadline_ms(int64_t ms)
{
    if (ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

grpc_byte_buffer *rpc_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

ProtobufCMessage *rpc_bb_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                                struct arena *a, size_t max)
{
    grpc_byte_buffer_reader r;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m = pb_unpack(desc, a, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), max);
    grpc_slice_unref(s);
    return m;
}

/* Formats ASN.1 time `t` as "YYYY-MM-DD HH:MM UTC" into `out`. */
static void cert_time(const ASN1_TIME *t, char out[32])
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm))
        strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
    else
        snprintf(out, 32, "?");
}

int rpc_check_cert_dates(const char *pem, const char *path, const char *component, char **errmsg)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) {
        rpc_set_err(errmsg, "certificate file %s holds no PEM certificate", path);
        return -1;
    }
    char when[32];
    int rc = 0, days = 0, secs = 0;
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
        cert_time(X509_get0_notBefore(x), when);
        rpc_set_err(errmsg, "certificate %s is not valid before %s", path, when);
        rc = -1;
    } else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        cert_time(X509_get0_notAfter(x), when);
        rpc_set_err(errmsg, "certificate %s expired on %s", path, when);
        rc = -1;
    } else if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) && days < 30) {
        cert_time(X509_get0_notAfter(x), when);
        log_warn(component, "certificate %s expires in %d days (%s): issue a new one", path, days,
                 when);
    }
    X509_free(x);
    return rc;
}

int rpc_tls_check(const struct rpc_tls *tls, bool server, const char *component, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    const struct {
        const char *path, *what;
    } files[] = {{tls->cert_file, "certificate"},
                 {tls->key_file, "key"},
                 {tls->ca_file, server ? "client CA" : "root CA"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!files[i].path)
            continue;
        char *pem = rpc_read_pem(files[i].path, files[i].what, errmsg);
        int bad = !pem;
        if (pem && i == 0)
            bad = rpc_check_cert_dates(pem, files[i].path, component ? component : "rpc", errmsg) !=
                  0;
        else if (pem && !strstr(pem, "-----BEGIN ")) {
            rpc_set_err(errmsg, "%s file %s holds no PEM block", files[i].what, files[i].path);
            bad = 1;
        }
        if (pem) {
            OPENSSL_cleanse(pem, strlen(pem)); /* the key's, among them */
            free(pem);
        }
        if (bad)
            return STELE_ERR_CONFIG;
    }
    return STELE_OK;
}

char *rpc_read_pem(const char *path, const char *what, char **errmsg)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rpc_set_err(errmsg, "cannot read %s file %s", what, path);
        return NULL;
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 20)) {
                rpc_set_err(errmsg, "%s file %s is larger than 1 MiB", what, path);
                goto fail;
            }
            char *p = realloc(data, cap);
            if (!p)
                goto fail;
            data = p;
        }
        size_t n = fread(data + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    fclose(f);
    data[len] = 0;
    if (!strstr(data, "-----BEGIN ")) {
        rpc_set_err(errmsg, "%s file %s is not PEM", what, path);
        free(data);
        return NULL;
    }
    return data;
fail:
    fclose(f);
    free(data);
    return NULL;
}

void rpc_set_err(char **errmsg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    stele_verrf(errmsg, STELE_OK, fmt, ap);
    va_end(ap);
}

void rpc_slice_to_str(grpc_slice s, char *out, size_t out_len)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n >= out_len)
        n = out_len - 1;
    memcpy(out, GRPC_SLICE_START_PTR(s), n);
    out[n] = 0;
}

int bbq_init(struct bbq *q, size_t cap, size_t max_bytes)
{
    q->items = calloc(cap, sizeof *q->items);
    q->cap = cap;
    q->head = q->len = 0;
    q->bytes = 0;
    q->max_bytes = max_bytes;
    return q->items ? STELE_OK : STELE_ERR_NOMEM;
}

bool bbq_full(const struct bbq *q)
{
    return q->len == q->cap || (q->len && q->bytes >= q->max_bytes);
}

bool bbq_half_empty(const struct bbq *q)
{
    return q->len <= q->cap / 2 && q->bytes <= q->max_bytes / 2;
}

void bbq_release(struct bbq *q)
{
    grpc_byte_buffer *bb;
    while ((bb = bbq_pop(q)) != NULL)
        grpc_byte_buffer_destroy(bb);
    free(q->items);
    q->items = NULL;
    q->cap = 0;
}

bool bbq_push(struct bbq *q, grpc_byte_buffer *bb)
{
    if (bbq_full(q)) /* also a queue never initialised (cap 0) */
        return false;
    q->items[(q->head + q->len) % q->cap] = bb;
    q->len++;
    q->bytes += grpc_byte_buffer_length(bb);
    return true;
}

grpc_byte_buffer *bbq_pop(struct bbq *q)
{
    if (q->len == 0)
        return NULL;
    grpc_byte_buffer *bb = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    q->bytes -= grpc_byte_buffer_length(bb);
    return bb;
}

void rpc_cq_run(grpc_completion_queue *cq)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            struct rpc_tag *tag = ev.tag;
            tag->fn(tag, ev.success != 0);
        }
    }
}
