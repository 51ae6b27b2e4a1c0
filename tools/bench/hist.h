/*
 * hist.h — latency histogram for benchmarks: log-linear buckets from 1 µs to ~100 s with about
 * 1.5% relative error, constant memory, merge across threads.
 */
#ifndef STELE_BENCH_HIST_H
#define STELE_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB    64 /* linear sub-buckets per power of two */
#define HIST_POWERS 28 /* 2^0 .. 2^27 µs */

struct hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t buckets[HIST_POWERS][HIST_SUB];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t us);
void hist_merge(struct hist *into, const struct hist *from);
/* The value (µs) below which `q` (0..1) of the samples fall; 0 for an empty histogram. */
double hist_quantile_us(const struct hist *h, double q);

#endif
