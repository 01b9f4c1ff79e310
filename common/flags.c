#include "flags.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "log.h"
#include "trace.h"

/* What parse_server_flags was given, for usage() and flag_error() later. */
static struct {
    const char *prog;
    const struct chapter_flags *chapter;
    char given[64]; /* the letters seen on the command line */
} flags;

/* The chapter's own flags: letter, usage text, help line. */
static const struct {
    char letter;
    const char *arg, *help;
} extra_flags[] = {
    {'w', " [-w WORKERS]", NULL}, /* the chapter says what its workers are */
    {'j', " [-j LOOPS]", "  -j LOOPS        event loops, one per core (default 1)\n"},
    {'d', " [-d DISKS]", "  -d DISKS        simulated disks (default 1)\n"},
};

static bool has_extra(char letter) {
    return flags.chapter->extra && strchr(flags.chapter->extra, letter) != NULL;
}

__attribute__((noreturn)) static void usage(int status) {
    const struct chapter_flags *ch = flags.chapter;
    FILE *out = status ? stderr : stdout;
    fprintf(out, "usage: %s [-h HOST] [-p PORT] [-T DEADLINE_MS] [-s SEED] [-v] [-E FILE] [-D DIR]",
            flags.prog);
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (has_extra(extra_flags[i].letter))
            fputs(extra_flags[i].arg, out);
    fprintf(out, "%s\n%s\n", ch->modes ? " [-m MODE]" : "", ch->about);
    fprintf(out,
            "  -h HOST         IPv4 address to bind (default 127.0.0.1)\n"
            "  -p PORT         port to bind; 0 picks a free one (default 0)\n"
            "  -T DEADLINE_MS  server-side deadline (default 4000)\n"
            "  -s SEED         seed for the delay model of a bare PATH request (default 1)\n"
            "  -v              log every reply, not only timeouts and errors\n"
            "  -E FILE         append an event trace to FILE, one JSON object a line\n"
            "  -D DIR          read each object for real, as DIR/DELAY_MS/PATH (bin/slowdisk DIR\n"
            "                  mounts a disk that takes DELAY_MS per read); default: simulated\n");
    for (size_t i = 0; i < sizeof extra_flags / sizeof *extra_flags; i++)
        if (has_extra(extra_flags[i].letter) && extra_flags[i].help)
            fputs(extra_flags[i].help, out);
        else if (has_extra(extra_flags[i].letter))
            fprintf(out, "  -w WORKERS      %s (default 4)\n",
                    ch->workers ? ch->workers : "worker threads doing the blocking reads");
    if (ch->modes) {
        fprintf(out, "  -m MODE         one of:");
        for (const char *const *m = ch->modes; *m; m++)
            fprintf(out, "%s %s%s", m == ch->modes ? "" : ",", *m,
                    m == ch->modes ? " (default)" : "");
        fputc('\n', out);
    }
    fprintf(out, "Prints 'listening on HOST:PORT' when ready. Ctrl-C stops it.\n");
    exit(status);
}

void flag_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", flags.prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(2);
}

bool flag_given(char letter) {
    return letter && strchr(flags.given, letter) != NULL;
}

/* -X VALUE as a whole decimal number in lo..hi: digits only, so " 80", "+80" and "80x" are
 * refused rather than read as 80. */
static long number_flag(char letter, const char *what, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(optarg, &end, 10);
    bool digits = optarg[0] >= '0' && optarg[0] <= '9';
    if (!digits || errno || *end || v < lo || v > hi)
        flag_error("bad -%c '%s': want %s, a number from %ld to %ld", letter, optarg, what, lo, hi);
    return v;
}

static int mode_flag(const char *const *modes) {
    for (int i = 0; modes[i]; i++)
        if (strcmp(optarg, modes[i]) == 0)
            return i;
    char want[256] = "";
    for (int i = 0; modes[i]; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                 i == 0         ? ""
                 : modes[i + 1] ? ", "
                                : " or ",
                 modes[i]);
    flag_error("bad -m '%s': want %s", optarg, want);
}

void parse_server_flags(int argc, char **argv, struct server_config *cfg,
                        const struct chapter_flags *chapter) {
    log_start(); /* the server starts now: [0.000] in the log, t_ms 0 in the trace */
    flags.prog = argv[0];
    flags.chapter = chapter;
    *cfg = (struct server_config){
        .host = "127.0.0.1", .deadline_ms = 4000, .seed = 1, .workers = 4, .loops = 1, .disks = 1};
    if (chapter->modes)
        cfg->mode_name = chapter->modes[0];
    char optstring[64];
    snprintf(optstring, sizeof optstring, ":h:p:T:s:vE:D:%s%s",
             chapter->extra ? chapter->extra : "", chapter->modes ? "m:" : "");
    static const struct option long_opts[] = {{"help", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
    struct in_addr ignored;
    int c;
    while ((c = getopt_long(argc, argv, optstring, long_opts, NULL)) != -1) {
        size_t seen = strlen(flags.given);
        if (c != '?' && c != ':' && seen + 1 < sizeof flags.given)
            flags.given[seen] = (char)c;
        switch (c) {
        case 'h':
            if (inet_pton(AF_INET, optarg, &ignored) != 1)
                flag_error("bad -h '%s': want an IPv4 address such as 127.0.0.1", optarg);
            cfg->host = optarg;
            break;
        case 'p': cfg->port = (int)number_flag('p', "a port", 0, 65535); break;
        case 'T': cfg->deadline_ms = (int)number_flag('T', "milliseconds", 1, 3600000); break;
        case 's': cfg->seed = (uint64_t)number_flag('s', "a seed", 0, LONG_MAX); break;
        case 'v': cfg->verbose = true; break;
        case 'E':
            if (trace_open(optarg) < 0)
                flag_error("bad -E '%s': cannot append to it: %s", optarg, strerror(errno));
            cfg->trace_path = optarg;
            break;
        case 'D':
            if (disk_use(optarg) < 0)
                flag_error("bad -D '%s': %s (want a directory: a slow disk's mount point)", optarg,
                           strerror(errno));
            cfg->disk_dir = optarg;
            break;
        case 'w': cfg->workers = (int)number_flag('w', "a worker count", 1, 1024); break;
        case 'j': cfg->loops = (int)number_flag('j', "a loop count", 1, 256); break;
        case 'd': cfg->disks = (int)number_flag('d', "a disk count", 1, 64); break;
        case 'm':
            cfg->mode = mode_flag(chapter->modes);
            cfg->mode_name = chapter->modes[cfg->mode];
            break;
        case 'H': usage(0);
        case ':': flag_error("-%c needs a value", optopt);
        default:
            if (optopt && strchr("WSL", optopt)) /* the chapters' flags before loopwatch */
                flag_error("-%c is bin/loopwatch's: bin/loopwatch -%c ... -- %s ... (appendix A1)",
                           optopt, optopt, flags.prog);
            flag_error("unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        flag_error("unexpected argument '%s'", argv[optind]);
}
