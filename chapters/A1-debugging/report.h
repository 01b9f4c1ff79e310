/* Where loopwatch's reports go: one line at a time, each stamped with the seconds since the
 * program started, written with one write(2) so that the lines of several threads and processes
 * sharing the file do not mix. */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

/* Reports go to fd from now on (2 by default). */
void report_to(int fd);

/* Seconds are counted from now (the library's constructor calls it; a forked child keeps it). */
void report_epoch(void);

/* One line: "[  2.511] loopwatch: " then fmt. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC, in ns. */
int64_t mono_ns(void);

#endif
