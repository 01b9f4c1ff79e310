/* A loop-lag watchdog: finds the blocking call in a live event loop (appendix A1).
 * The loop stamps a heartbeat at the top of every turn; a watchdog thread that sees no beat for
 * longer than a threshold logs "loop blocked for N ms" and a backtrace of the loop thread, as
 * eventlet's hub_blocking_detection and asyncio's debug-mode slow-callback warning do. */
#ifndef WATCHDOG_H
#define WATCHDOG_H

/* Starts watching the calling thread, which must be the loop's: from now on a turn of the loop
 * that takes longer than threshold_ms is logged once, with a backtrace, and its end is logged
 * too. Call once, at start-up (dies on failure). Uses SIGURG on the loop thread; the watchdog
 * thread stops by itself at exit. */
void watchdog_start(int threshold_ms);

/* "The loop is back": call at the top of every turn. One clock read and one atomic store;
 * nothing at all while the watchdog is off. */
void watchdog_beat(void);

#endif
