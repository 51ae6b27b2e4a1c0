/* clock.c — time helpers. */
#include "base/clock.h"

#include <errno.h>
#include <time.h>

static uint64_t read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void clock_deadline(clockid_t id, uint64_t ms, struct timespec *out)
{
    clock_gettime(id, out);
    out->tv_sec += (time_t)(ms / 1000);
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}

uint64_t clock_mono_ns(void)
{
    return read_ns(CLOCK_MONOTONIC);
}

uint64_t clock_mono_us(void)
{
    return read_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t clock_mono_ms(void)
{
    return read_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t clock_wall_s(void)
{
    return read_ns(CLOCK_REALTIME) / 1000000000u;
}

uint64_t clock_wall_ms(void)
{
    return read_ns(CLOCK_REALTIME) / 1000000u;
}

void clock_format_utc(uint64_t unix_s, char out[21])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = 0; /* year beyond 9999: not representable in 20 characters */
}

void clock_sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
