/* The reports' output (report.h). Nothing here may call back into the wrapped functions: the
 * reporting thread only formats and writes. */
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int out_fd = 2;
static int64_t epoch_ns;

int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void report_to(int fd) {
    out_fd = fd;
}

void report_epoch(void) {
    epoch_ns = mono_ns();
}

void report(const char *fmt, ...) {
    char line[1024];
    int saved = errno;
    double s = (double)(mono_ns() - epoch_ns) / 1e9;
    int n = snprintf(line, sizeof line, "[%7.3f] loopwatch: ", s);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2; /* cut, but still one line */
    line[n++] = '\n';
    for (ssize_t off = 0, w; off < n; off += w)
        if ((w = write(out_fd, line + off, (size_t)(n - off))) <= 0 && errno != EINTR)
            break;
        else if (w < 0)
            w = 0;
    errno = saved;
}
