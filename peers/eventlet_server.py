#!/usr/bin/python3 -B
"""eventlet_server.py: the object server as OpenStack Swift runs it, on eventlet, for real.

One OS thread, one hub (an epoll loop), a green thread per connection, and the object read with
plain file I/O, as Swift's DiskFile reads it. monkey_patch() makes sockets and time.sleep yield
to the hub; it cannot make a read(2) from a disk yield, since epoll says a regular file is
always ready. So the read blocks the hub and every other client waits: the seed's bug.
--tpool runs the read in eventlet's pool of OS threads (Swift's eventlet_tpool_num_threads),
and the hub goes on serving. Chapter 09 is this model in C.

Run it with Debian's /usr/bin/python3, the interpreter its python3-eventlet is built for
(-B: no __pycache__ beside it).
"""
import eventlet

# Before anything else imports socket or time: from here on they are eventlet's green versions.
eventlet.monkey_patch()

import time  # noqa: E402 (after monkey_patch, on purpose)

import eventlet.patcher  # noqa: E402
import eventlet.tpool  # noqa: E402

import common as c  # noqa: E402

# The real time.sleep, as it was before monkey_patch: it blocks the OS thread, hub and all.
blocking_sleep = eventlet.patcher.original("time").sleep


def disk_read(args, disk):
    """The read. -D: a real open and read(2) on the slow disk, which blocks the thread that
    makes it, always. Without -D, the seed's simulated disk: time.sleep, which monkey_patch
    turned into a green sleep that yields to the hub. That is why the Swift experts' advice
    (simulate the dying disk with a sleep) hid the bug: the sleep was patched, a read never is.
    --blocking-sleep uses the original sleep, which blocks as the read does. Returns the bytes."""
    if args.mountpoint:
        return c.read_object(args.mountpoint, disk)
    (blocking_sleep if args.blocking_sleep else time.sleep)(disk.delay_ms / 1000)
    if disk.io_fail:
        raise OSError("simulated I/O failure")
    return disk.bytes


def receive_request(conn):
    """Reads until a whole request is in: a green recv, the hub serves others meanwhile."""
    buf = b""
    while True:
        data = conn.recv(c.MAX_REQUEST)
        buf += data
        req = c.parse_request(buf, at_eof=not data)
        if req:
            return req


def serve(args, conn, arrived, rng):
    """One connection, in its own green thread: request, read, reply."""
    try:
        job = c.Job(receive_request(conn), rng, arrived)
    except c.BadRequest as e:
        conn.sendall(c.bad_request_reply(e))
        return
    if not job.expired_in_queue(args.deadline):
        try:
            if args.tpool:  # the fix: an OS thread blocks, this green thread waits green
                nbytes = eventlet.tpool.execute(disk_read, args, job.disk)
            else:  # the bug: the hub's own thread blocks
                nbytes = disk_read(args, job.disk)
            job.finish(args.deadline, nbytes)
        except OSError as e:
            job.finish(args.deadline, error=e)
    conn.sendall(job.reply())


def serve_and_close(args, conn, arrived, rng):
    """serve; whatever happens the connection is closed and the server goes on."""
    try:
        serve(args, conn, arrived, rng)
    except OSError as e:  # the client went away: one line, nothing more
        c.log("connection lost: %s" % (e.strerror or e))
    except Exception as e:  # a bug here must cost one connection, never the server
        c.log("connection failed: %r" % e)
    finally:
        conn.close()


def main():
    ap = c.flag_parser(__doc__)
    ap.add_argument("-w", dest="threads", type=int, help="tpool threads (default eventlet's 20)")
    ap.add_argument("--tpool", action="store_true", help="read in eventlet.tpool: the fix")
    ap.add_argument("--blocking-sleep", action="store_true", help="simulate with the real sleep")
    args = c.parse_flags(ap)
    if args.threads:
        eventlet.tpool.set_num_threads(args.threads)
    c.stop_on_signals()
    listener = eventlet.listen((args.host, args.port), backlog=1024)
    print("listening on %s:%d" % listener.getsockname(), flush=True)
    rng = c.Prng(args.seed)
    pool = eventlet.GreenPool(10000)  # Swift's default max_clients is 1024
    while True:
        conn, _ = listener.accept()  # green: the hub runs the other green threads meanwhile
        pool.spawn_n(serve_and_close, args, conn, c.now_ms(), rng)


if __name__ == "__main__":
    main()
