/* loopwatch: catch a blocked event loop in any dynamically linked program, while it is blocked,
 * with no hook in the program (appendix A1).
 *   bin/loopwatch [-W MS] [-L] [-C] [-S | -R] [-o FILE] -- COMMAND [ARGS...]
 * This launcher only checks its flags, puts them in the environment, and runs COMMAND with
 * libloopwatch.so (found beside it) preloaded; everything else happens in the library
 * (preload.c, watchdog.c) inside COMMAND's processes, which keep their pid. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: loopwatch [-W MS] [-L] [-C] [-S | -R] [-o FILE] -- COMMAND [ARGS...]\n"
    "Runs COMMAND (any dynamically linked program: our chapters, eventlet, asyncio, nginx) and\n"
    "watches its event loops: the threads that wait in epoll_wait, or in poll or select for two\n"
    "descriptors or more. Forked children and the programs they run are watched too.\n"
    "  -W MS    a turn of a loop longer than MS is reported while it lasts: the system call the\n"
    "           loop is in, with its arguments and file, its state and wait channel, its stacks;\n"
    "           then its length when it ends (the default, with MS 200, when no flag is given)\n"
    "  -L       each loop's turn lengths, p50/p99/max and a log2 histogram, at exit; and at once\n"
    "           on `touch /tmp/loopwatch-PID` (a file, not a signal: a signal would interrupt\n"
    "           the read it reports)\n"
    "  -C       every turn that slept in the kernel, however briefly (a voluntary context\n"
    "           switch: a disk read, a page fault that read, a contended lock)\n"
    "  -S       strict: a blocking system call on a loop thread (a sleep, a read at an offset,\n"
    "           an open, a sync, a waiting lock) is refused, EPERM, and reported with its stack\n"
    "  -R       report-only: the same calls are reported, and go on (for a real service)\n"
    "  -o FILE  reports go to FILE (appended), not to the program's stderr\n"
    "Environment, for the appendix's lessons: LOOPWATCH_CLOCK=cpu times turns on the loop's CPU\n"
    "clock (as Seastar's detector does); LOOPWATCH_STACK=signal takes every stack with a signal\n"
    "(as eventlet's does).\n";

static void fail(const char *fmt, const char *arg) {
    fprintf(stderr, "loopwatch: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    exit(2);
}

/* The file execvp would run for name: name itself when it has a slash, else found in PATH. */
static bool find_command(const char *name, char *out, size_t size) {
    if (strchr(name, '/'))
        return snprintf(out, size, "%s", name) < (int)size && access(out, X_OK) == 0;
    const char *path = getenv("PATH");
    for (const char *dir = path ? path : "/usr/bin:/bin"; *dir;) {
        size_t len = strcspn(dir, ":");
        if (snprintf(out, size, "%.*s/%s", (int)len, len ? dir : ".", name) < (int)size &&
            access(out, X_OK) == 0)
            return true;
        dir += len + (dir[len] == ':');
    }
    return false;
}

/* An ELF file with no interpreter (PT_INTERP) is statically linked: nothing can be preloaded
 * into it. A script's interpreter, and any other file, are taken to be dynamic. */
static bool statically_linked(const char *file) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    bool is_static = false;
    if (fd >= 0 && pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
        eh.e_phentsize == sizeof(Elf64_Phdr)) {
        is_static = true;
        for (int i = 0; i < eh.e_phnum && is_static; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (size_t)i * sizeof ph)) !=
                (ssize_t)sizeof ph)
                break;
            is_static = ph.p_type != PT_INTERP;
        }
    }
    if (fd >= 0)
        close(fd);
    return is_static;
}

/* name=value, or value appended to what name holds already, after sep. */
static void set_env(const char *name, const char *value, const char *sep) {
    const char *old = getenv(name);
    if (!sep || !old || !*old) {
        setenv(name, value, 1);
        return;
    }
    char *both = malloc(strlen(value) + strlen(sep) + strlen(old) + 1);
    if (!both)
        fail("out of memory%s", "");
    sprintf(both, "%s%s%s", value, sep, old);
    setenv(name, both, 1);
    free(both);
}

/* What the flags ask for. */
struct flags {
    int watch_ms;
    bool lag, sleeps, refuse, report_only;
    const char *out;
};

/* Reads the flags before COMMAND; exits 2 with the usage on a bad one. Returns COMMAND's index. */
static int parse_flags(int argc, char **argv, struct flags *f) {
    int opt;
    while ((opt = getopt(argc, argv, "+W:LCSRo:h")) != -1) {
        char *end;
        long ms;
        switch (opt) {
        case 'W':
            errno = 0;
            ms = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || ms < 1 || ms > 3600000)
                fail("-W %s: give milliseconds, 1 to 3600000", optarg);
            f->watch_ms = (int)ms;
            break;
        case 'L': f->lag = true; break;
        case 'C': f->sleeps = true; break;
        case 'S': f->refuse = true; break;
        case 'R': f->report_only = true; break;
        case 'o': f->out = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fail("unknown flag%s", "");
        }
    }
    if (f->refuse && f->report_only)
        fail("-S refuses the calls and -R lets them go on: choose one%s", "");
    if (optind >= argc)
        fail("no command to run%s", "");
    if (!f->watch_ms && !f->lag && !f->sleeps && !f->refuse && !f->report_only)
        f->watch_ms = 200;
    const char *clock = getenv("LOOPWATCH_CLOCK"), *stack = getenv("LOOPWATCH_STACK");
    if (clock && *clock && strcmp(clock, "cpu") != 0 && strcmp(clock, "wall") != 0)
        fail("LOOPWATCH_CLOCK=%s in the environment: want cpu or wall", clock);
    if (stack && *stack && strcmp(stack, "scan") != 0 && strcmp(stack, "signal") != 0)
        fail("LOOPWATCH_STACK=%s in the environment: want scan or signal", stack);
    return optind;
}

int main(int argc, char **argv) {
    struct flags f = {0};
    optind = parse_flags(argc, argv, &f);
    char command[PATH_MAX], self[PATH_MAX], library[PATH_MAX + 32];
    if (!find_command(argv[optind], command, sizeof command)) {
        fprintf(stderr, "loopwatch: %s: command not found\n", argv[optind]);
        return 127;
    }
    if (statically_linked(command)) {
        fprintf(stderr,
                "loopwatch: %s is statically linked: no library can be preloaded into it, so it "
                "runs unwatched\n",
                command);
        execv(command, argv + optind);
        fprintf(stderr, "loopwatch: %s: %s\n", command, strerror(errno));
        return 126;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(library, sizeof library, "%.*s/libloopwatch.so", slash ? (int)(slash - self) : 1,
             slash ? self : ".");
    if (access(library, R_OK) != 0) {
        fprintf(stderr, "loopwatch: %s: %s (make builds it beside bin/loopwatch)\n", library,
                strerror(errno));
        return 126;
    }

    char number[16];
    snprintf(number, sizeof number, "%d", f.watch_ms);
    setenv("LOOPWATCH_W", number, 1);
    setenv("LOOPWATCH_L", f.lag ? "1" : "0", 1);
    setenv("LOOPWATCH_C", f.sleeps ? "1" : "0", 1);
    setenv("LOOPWATCH_STRICT", f.refuse ? "1" : f.report_only ? "2" : "0", 1);
    setenv("LOOPWATCH_OUT", f.out ? f.out : "", 1);
    snprintf(number, sizeof number, "%d", (int)getpid()); /* exec keeps it: COMMAND's pid */
    setenv("LOOPWATCH_TOP", number, 1);
    set_env("LD_PRELOAD", library, ":");
    /* A program built with AddressSanitizer wants its runtime first; the library asks nothing
     * of it, so let it come second. */
    set_env("ASAN_OPTIONS", "verify_asan_link_order=0", ":");
    execv(command, argv + optind);
    fprintf(stderr, "loopwatch: %s: %s\n", command, strerror(errno));
    return 126;
}
