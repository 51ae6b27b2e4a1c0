/*
 * status.h — the one status enum of libstele.
 *
 * Every action in libstele returns an `int` that is STELE_OK (0) or one of the negative codes
 * below; predicates return bool. stele_strerror() turns a code into a short English phrase.
 * Where a caller must show the user *why*, functions also take `char **errmsg`, set to a
 * malloc'd sentence the caller frees (NULL when there is nothing to add).
 */
#ifndef STELE_BASE_STATUS_H
#define STELE_BASE_STATUS_H

#include <stdarg.h>
#include <stdbool.h>

/* X(name, value, message). Values are stable: they may be logged and compared across versions. */
#define STELE_STATUS_MAP(X)                                  \
    X(OK, 0, "ok")                                           \
    X(ERR_INVALID, -1, "invalid argument")                   \
    X(ERR_NOMEM, -2, "out of memory")                        \
    X(ERR_IO, -3, "input/output error")                      \
    X(ERR_NOT_FOUND, -4, "not found")                        \
    X(ERR_EXISTS, -5, "already exists")                      \
    X(ERR_PERMISSION, -6, "permission denied")               \
    X(ERR_AUTH, -7, "authentication failed")                 \
    X(ERR_TIMEOUT, -8, "timed out")                          \
    X(ERR_UNAVAILABLE, -9, "service unavailable")            \
    X(ERR_CANCELLED, -10, "cancelled")                       \
    X(ERR_TOO_BIG, -11, "too large")                         \
    X(ERR_MALFORMED, -12, "malformed data")                  \
    X(ERR_CONFIG, -13, "bad configuration")                  \
    X(ERR_CRYPTO, -14, "cryptographic failure")              \
    X(ERR_REVOKED, -15, "identity revoked")                  \
    X(ERR_EXPIRED, -16, "identity expired or not yet valid") \
    X(ERR_REPLAY, -17, "replayed request")                   \
    X(ERR_LIMIT, -18, "limit reached")                       \
    X(ERR_STATE, -19, "not allowed in the current state")    \
    X(ERR_CONFLICT, -20, "conflicting update")               \
    X(ERR_INTERNAL, -21, "internal error")

enum stele_status {
#define STELE_STATUS_ENUM(name, value, msg) STELE_##name = value,
    STELE_STATUS_MAP(STELE_STATUS_ENUM)
#undef STELE_STATUS_ENUM
};

/* Returns a static, never-NULL description of `status` ("unknown status" for values not in the
 * map). Thread-safe. */
const char *stele_strerror(int status);

/* Returns the symbolic name of `status` ("ERR_NOT_FOUND"), static, or "UNKNOWN". */
const char *stele_status_name(int status);

/* True for a failure of the one who checks rather than a verdict on what was checked (out of
 * memory, OpenSSL failing): a verifier whose decision must be the same everywhere (a ledger's
 * validation) decides nothing on it and tries again. */
static inline bool stele_no_verdict(int status)
{
    return status == STELE_ERR_NOMEM || status == STELE_ERR_CRYPTO;
}

/* Exit code for a command-line program that ends with `status` (DESIGN §9): 0 on success,
 * 1 for a refused operation (bad input, policy, not found, ...), 3 for internal or transport
 * failures. Usage errors (2) are decided by the argument parser, not here. */
int stele_exit_code(int status);

/* Sets *errmsg (when errmsg is not NULL) to a malloc'd message formatted from `fmt` (NULL if
 * that fails) and returns `status`, so that a function can end with
 * `return stele_errf(errmsg, STELE_ERR_CONFIG, "%s: no such file", path);`. */
int stele_errf(char **errmsg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* stele_errf() with a va_list. */
int stele_verrf(char **errmsg, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
