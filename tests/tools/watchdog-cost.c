/* watchdog-cost: what -W, -S and -L cost a loop (make debug-cost, appendix A1). Runs a million
 * empty turns of three callbacks through the watchdog's hooks, then a million getppid() system
 * calls, with the flags it is given, and prints the time each took (the best of five rounds):
 *   bin/watchdog-cost            (everything off)
 *   bin/watchdog-cost -W 100 -S -L
 * The turns measure the hooks; the system calls measure strict mode's filter, which the kernel
 * runs at every call the loop thread makes. */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "utils.h"
#include "watchdog.h"

#define TURNS  1000000
#define CALLS  1000000
#define ROUNDS 5

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    struct server_config cfg;
    parse_server_flags(
        argc, argv, &cfg,
        &(struct chapter_flags){.about = "Times the watchdog's hooks.", .extra = "W:SL"});
    watchdog_start(&cfg);
    /* The best of ROUNDS rounds: the machine may be busy with something else for some of them. */
    double turn_ns = 1e18, call_ns = 1e18;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < TURNS; i++) {
            watchdog_turn_begin();
            watchdog_callback("a", 5);
            watchdog_callback("b", 6);
            watchdog_callback("c", 7);
            watchdog_turn_end();
        }
        double t1 = now_ns();
        for (int i = 0; i < CALLS; i++)
            syscall(SYS_getppid);
        double t2 = now_ns();
        turn_ns = (t1 - t0) / TURNS < turn_ns ? (t1 - t0) / TURNS : turn_ns;
        call_ns = (t2 - t1) / CALLS < call_ns ? (t2 - t1) / CALLS : call_ns;
    }
    char flags[64] = "";
    for (int i = 1; i < argc; i++)
        snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "%s%s", i > 1 ? " " : "",
                 argv[i]);
    printf("%-14s %7.1f ns a turn of 3 callbacks, %6.1f ns a system call\n",
           argc > 1 ? flags : "(off)", turn_ns, call_ns);
    watchdog_stop();
    return 0;
}
