/*
 * clock.h — time helpers. Monotonic time for deadlines and durations, wall time for records.
 */
#ifndef STELE_BASE_CLOCK_H
#define STELE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic clock in nanoseconds / microseconds / milliseconds since an arbitrary origin. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_us(void);
uint64_t clock_mono_ms(void);
/* Wall clock: seconds and milliseconds since the Unix epoch (UTC). */
uint64_t clock_wall_s(void);
uint64_t clock_wall_ms(void);
/* Formats `unix_s` as RFC 3339 UTC ("2026-11-23T15:50:00Z") into `out` (at least 21 bytes). */
void clock_format_utc(uint64_t unix_s, char out[21]);
/* The absolute time `ms` milliseconds from now on clock `id`, for pthread_cond_timedwait():
 * CLOCK_MONOTONIC for condition variables set to it, CLOCK_REALTIME for default ones. */
void clock_deadline(clockid_t id, uint64_t ms, struct timespec *out);
/* Sleeps for `ms` milliseconds, resuming after signals. */
void clock_sleep_ms(uint64_t ms);

#endif
