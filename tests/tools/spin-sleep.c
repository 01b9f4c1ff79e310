/* spin-sleep.so: LD_PRELOAD it and every nanosleep() spins on a CPU for its time instead of
 * sleeping. The tests use it to turn chapter 05's blocking sleep into a compute-bound stall (a
 * checksum, a regex, a JSON parse that takes too long) without a line of the server changing. */
#include <errno.h>
#include <time.h>

int nanosleep(const struct timespec *req, struct timespec *rem) {
    struct timespec now, until;
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
        errno = EINVAL;
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += req->tv_sec;
    until.tv_nsec += req->tv_nsec;
    if (until.tv_nsec >= 1000000000)
        until.tv_sec++, until.tv_nsec -= 1000000000;
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while (now.tv_sec < until.tv_sec ||
           (now.tv_sec == until.tv_sec && now.tv_nsec < until.tv_nsec));
    if (rem)
        *rem = (struct timespec){0};
    return 0;
}
