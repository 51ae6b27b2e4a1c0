/* status.c — names and messages for the status enum. */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>

const char *stele_strerror(int status)
{
    switch (status) {
#define STELE_STATUS_MSG(name, value, msg) \
    case value:                            \
        return msg;
        STELE_STATUS_MAP(STELE_STATUS_MSG)
#undef STELE_STATUS_MSG
    }
    return "unknown status";
}

const char *stele_status_name(int status)
{
    switch (status) {
#define STELE_STATUS_NAME(name, value, msg) \
    case value:                             \
        return #name;
        STELE_STATUS_MAP(STELE_STATUS_NAME)
#undef STELE_STATUS_NAME
    }
    return "UNKNOWN";
}

int stele_exit_code(int status)
{
    switch (status) {
    case STELE_OK:
        return 0;
    case STELE_ERR_NOMEM:
    case STELE_ERR_IO:
    case STELE_ERR_TIMEOUT:
    case STELE_ERR_UNAVAILABLE:
    case STELE_ERR_CRYPTO:
    case STELE_ERR_INTERNAL:
        return 3;
    default:
        return 1;
    }
}

int stele_verrf(char **errmsg, int status, const char *fmt, va_list ap)
{
    if (errmsg && vasprintf(errmsg, fmt, ap) < 0)
        *errmsg = NULL;
    return status;
}

int stele_errf(char **errmsg, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    stele_verrf(errmsg, status, fmt, ap);
    va_end(ap);
    return status;
}
