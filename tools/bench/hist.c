/* hist.c — log-linear latency histogram. */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

static void index_of(uint64_t us, int *p, int *s)
{
    if (us < HIST_SUB) { /* the first power holds 0..63 µs exactly */
        *p = 0;
        *s = (int)us;
        return;
    }
    int bits = 63 - __builtin_clzll(us); /* us >= 64: bits >= 6 */
    int power = bits - 5;
    if (power >= HIST_POWERS) {
        *p = HIST_POWERS - 1;
        *s = HIST_SUB - 1;
        return;
    }
    *p = power;
    *s = (int)((us >> (bits - 6)) - HIST_SUB); /* the 6 bits after the leading one */
}

static double value_of(int p, int s)
{
    if (p == 0)
        return s;
    int bits = p + 5;
    double base = (double)(1ull << bits);
    return base + (s + 0.5) * base / HIST_SUB;
}

void hist_add(struct hist *h, uint64_t us)
{
    int p, s;
    index_of(us, &p, &s);
    h->buckets[p][s]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (int p = 0; p < HIST_POWERS; p++)
        for (int s = 0; s < HIST_SUB; s++)
            into->buckets[p][s] += from->buckets[p][s];
    into->count += from->count;
    into->sum_us += from->sum_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

double hist_quantile_us(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1;
    uint64_t seen = 0;
    for (int p = 0; p < HIST_POWERS; p++)
        for (int s = 0; s < HIST_SUB; s++) {
            seen += h->buckets[p][s];
            if (seen >= rank)
                return value_of(p, s);
        }
    return (double)h->max_us;
}
