/* The flags every server takes, and a chapter's own, parsed one way: a bad one is refused with
 * one line saying which and why, then the usage, exit status 2. */
#ifndef FLAGS_H
#define FLAGS_H

#include <stdbool.h>
#include <stdint.h>

/* Flags every server takes; a chapter opts in to its own extras (see struct chapter_flags). */
struct server_config {
    const char *host;       /* -h, default 127.0.0.1 */
    int port;               /* -p, 0 = any free port */
    int deadline_ms;        /* -T, default 4000: the seed's server-side deadline */
    uint64_t seed;          /* -s, seeds the delay model used for a bare PATH */
    bool verbose;           /* -v, log every reply, not only the notable ones */
    const char *trace_path; /* -E, the event trace (trace.h), NULL: none */
    const char *disk_dir;   /* -D, where objects are read for real (disk.h), NULL: simulated */
    int workers;            /* -w, worker threads (chapters with a pool), default 4 */
    int loops;              /* -j, event loops (one per core), default 1 */
    int disks;              /* -d, simulated disks (chapter 11), default 1 */
    int mode;               /* -m, index into chapter_flags.modes; 0, the first, by default */
    const char *mode_name;  /* its name, or NULL for a chapter without modes */
};

/* What a chapter adds to the flags every server takes. */
struct chapter_flags {
    const char *about;        /* what this chapter's server is, for the usage message */
    const char *extra;        /* the chapter's own flags, any of "w:j:d:" (workers, loops,
                                 disks); -m comes with modes */
    const char *const *modes; /* -m's values, NULL-terminated, the default first; NULL: no -m */
    const char *workers;      /* what -w counts, when not "worker threads doing the blocking
                                 reads" */
};

/* Fills cfg from argv. A bad flag or value prints one line saying which and why, then the
 * usage, and exits 2; --help prints the usage and exits 0. */
void parse_server_flags(int argc, char **argv, struct server_config *cfg,
                        const struct chapter_flags *chapter);

/* After parse_server_flags: true when the flag was on the command line, not left at its
 * default. For checks across flags, such as a flag that a mode does not use. */
bool flag_given(char letter);

/* After parse_server_flags, for a chapter's own checks: prints the message as parse_server_flags
 * does a bad flag, then the usage, and exits 2. */
void flag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
