#include "stats.h"

#include <math.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double nearest_rank(const double *sorted, size_t n, double p) {
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

struct latency_summary summarize(double *v, size_t n) {
    struct latency_summary s = {0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, by_value);
    s.p50 = nearest_rank(v, n, 50);
    s.p90 = nearest_rank(v, n, 90);
    s.p99 = nearest_rank(v, n, 99);
    s.max = v[n - 1];
    return s;
}
