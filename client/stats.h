/* Latency percentiles, nearest-rank: the p-th percentile of n sorted values is the value at rank
 * ceil(p/100 * n), so every figure printed is one that was actually measured. */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>

struct latency_summary {
    double p50, p90, p99, max;
};

/* Sorts v[0..n) in place and returns its percentiles; all zero when n is 0. */
struct latency_summary summarize(double *v, size_t n);

#endif
