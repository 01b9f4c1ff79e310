/* The access log of accesslog.h: a pipe, the shipper process at its far end, and a logger thread
 * with a bounded queue for the lines that must not wait (the Python logging cookbook's
 * QueueHandler, tracing-appender's non_blocking writer: a thread of its own, and a line dropped
 * rather than a caller blocked). */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "log.h"
#include "net.h"
#include "signals.h"

#define QUEUE_LINES 256 /* lines the logger may be behind by: 128 KiB at most */

static int pipe_fd = -1; /* the pipe's writing end */
static pid_t shipper;

static struct {
    pthread_mutex_t lock; /* held to copy a line in or out, never across a write */
    pthread_cond_t not_empty;
    char lines[QUEUE_LINES][ACCESS_LINE_MAX];
    size_t len[QUEUE_LINES];
    size_t head, count;
    long dropped, reported; /* lines dropped since start; how many of them the log has told */
    bool stopping;
} queue = {.lock = PTHREAD_MUTEX_INITIALIZER, .not_empty = PTHREAD_COND_INITIALIZER};
static pthread_t logger;

/* The shipper, in its own process: copies whole lines from the pipe to stderr until the server
 * closes the pipe. Whole lines, so that they never interleave with the server's own log lines. */
__attribute__((noreturn)) static void ship(int from) {
    static char buf[16384];
    size_t have = 0;
    ssize_t n;
    while ((n = read(from, buf + have, sizeof buf - have)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        have += (size_t)n;
        char *end = memrchr(buf, '\n', have);
        size_t whole = end ? (size_t)(end + 1 - buf) : have == sizeof buf ? have : 0;
        if (write_all(STDERR_FILENO, buf, whole) < 0)
            break;
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    (void)!write(STDERR_FILENO, buf, have);
    _exit(0);
}

/* One write of a whole line (a pipe takes up to PIPE_BUF bytes at once or not at all). Blocks
 * while the pipe is full; a harmless signal (SIGURG) restarts it, a stop signal ends it, and from
 * then on no write waits: the loop may have a turn's worth of lines left to write. */
static int write_line(const char *line, size_t len) {
    ssize_t n = -1;
    while (!stop_requested && (n = write(pipe_fd, line, len)) < 0 && errno == EINTR)
        ;
    if (stop_requested)
        fcntl(pipe_fd, F_SETFL, O_NONBLOCK);
    return n == (ssize_t)len ? 0 : -1;
}

void access_log_write(const char *line, size_t len) {
    write_line(line, len);
}

void access_log_queue(const char *line, size_t len) {
    pthread_mutex_lock(&queue.lock);
    if (queue.count == QUEUE_LINES || len > ACCESS_LINE_MAX) {
        queue.dropped++;
    } else {
        size_t slot = (queue.head + queue.count++) % QUEUE_LINES;
        memcpy(queue.lines[slot], line, len);
        queue.len[slot] = len;
        pthread_cond_signal(&queue.not_empty);
    }
    pthread_mutex_unlock(&queue.lock);
}

/* The logger thread: takes a line off the queue and writes it, waiting on the pipe as long as it
 * must. When the pipe takes lines again after some were dropped, it says how many. */
static void *log_lines(void *arg) {
    (void)arg;
    block_stop_signals();
    static char line[ACCESS_LINE_MAX];
    pthread_mutex_lock(&queue.lock);
    while (!queue.stopping) {
        if (queue.count == 0) {
            pthread_cond_wait(&queue.not_empty, &queue.lock);
            continue;
        }
        size_t len = queue.len[queue.head];
        memcpy(line, queue.lines[queue.head], len);
        queue.head = (queue.head + 1) % QUEUE_LINES;
        queue.count--;
        pthread_mutex_unlock(&queue.lock);
        int err = write_line(line, len);
        pthread_mutex_lock(&queue.lock);
        if (!err && queue.dropped > queue.reported) {
            log_msg("access log: %ld lines dropped while its pipe was full",
                    queue.dropped - queue.reported);
            queue.reported = queue.dropped;
        }
    }
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

void access_log_start(void) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        perror_die("pipe2");
    pid_t parent = getpid();
    if ((shipper = fork()) < 0)
        perror_die("fork");
    if (shipper == 0) {
        /* Dies with the server, even while stopped: a frozen shipper is never left behind. Not
         * with Ctrl-C, which reaches the whole process group: the server's end of the pipe
         * closing is what ends it, after the last line. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGINT, SIG_IGN);
        prctl(PR_SET_NAME, "log-shipper");
        if (getppid() != parent)
            _exit(0);
        close(fds[1]);
        ship(fds[0]);
    }
    close(fds[0]);
    pipe_fd = fds[1];
    log_msg("access log: a pipe of %d bytes to the log shipper, pid %d",
            fcntl(pipe_fd, F_GETPIPE_SZ), (int)shipper);
    if (pthread_create(&logger, NULL, log_lines, NULL) != 0)
        die("cannot start the logger thread");
}

void access_log_stop(void) {
    pthread_mutex_lock(&queue.lock);
    queue.stopping = true;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    join_interrupting(logger); /* it may be waiting on a full pipe */
    if (queue.dropped)
        log_msg("access log: %ld lines dropped in all", queue.dropped);
    close(pipe_fd);
    kill(shipper, SIGCONT); /* one that was frozen copies what is left, then sees the end */
    for (int waited = 0; waited < 1000; waited += 10) {
        if (waitpid(shipper, NULL, WNOHANG) == shipper)
            return;
        sleep_ms(10);
    }
    kill(shipper, SIGKILL);
    waitpid(shipper, NULL, 0);
}
