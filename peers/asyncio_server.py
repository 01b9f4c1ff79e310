#!/usr/bin/python3 -B
"""asyncio_server.py: the same object server on Python's own event loop, asyncio.

async/await changes nothing about a blocking call: the handler's read (a real open() and read(2)
with -D, a time.sleep standing for one without) runs on the loop's thread, and every other
connection waits for it, as in eventlet. asyncio patches nothing, so here even the simulated
read blocks: there is no green sleep to hide the bug. --to-thread hands the read to
asyncio.to_thread (a thread pool, as run_in_executor) and awaits it: the loop goes on serving.
Chapters 05 and 06 are these two in C.
"""
import asyncio
import concurrent.futures
import time

import common as c


def disk_read(args, disk):
    """The blocking read: on the slow disk (-D) for real, else a time.sleep of its delay, which
    blocks just the same. Returns the bytes read."""
    if args.mountpoint:
        return c.read_object(args.mountpoint, disk)
    time.sleep(disk.delay_ms / 1000)
    if disk.io_fail:
        raise OSError("simulated I/O failure")
    return disk.bytes


async def receive_request(reader):
    buf = b""
    while True:
        data = await reader.read(c.MAX_REQUEST)
        buf += data
        req = c.parse_request(buf, at_eof=not data)
        if req:
            return req


async def serve(args, reader, writer, arrived, rng):
    """One connection, one task: request, read, reply."""
    try:
        job = c.Job(await receive_request(reader), rng, arrived)
    except c.BadRequest as e:
        writer.write(c.bad_request_reply(e))
        return
    if not job.expired_in_queue(args.deadline):
        try:
            if args.to_thread:  # the fix: a worker thread blocks, this task awaits it
                nbytes = await asyncio.to_thread(disk_read, args, job.disk)
            else:  # the bug: no await, so the loop's own thread blocks
                nbytes = disk_read(args, job.disk)
            job.finish(args.deadline, nbytes)
        except OSError as e:
            job.finish(args.deadline, error=e)
    writer.write(job.reply())


async def serve_and_close(args, reader, writer, rng):
    """serve, send the reply and close; a failing connection costs one log line. The close
    itself happens on the loop's next turn (transport.close schedules it), so a client whose
    reply is written still waits for a loop that is blocked."""
    arrived = c.now_ms()
    try:
        await serve(args, reader, writer, arrived, rng)
        await writer.drain()
    except OSError as e:
        c.log("connection lost: %s" % (e.strerror or e))
    except Exception as e:  # a bug here must cost one connection, never the server
        c.log("connection failed: %r" % e)
    finally:
        writer.close()


async def main():
    ap = c.flag_parser(__doc__)
    ap.add_argument("-w", dest="threads", type=int, help="threads (default min(32, CPUs + 4))")
    ap.add_argument("--to-thread", action="store_true", help="read in asyncio.to_thread: the fix")
    args = c.parse_flags(ap)
    if args.threads:  # to_thread's default pool has min(32, CPUs + 4) threads: 6 on two cores
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.threads)
        asyncio.get_running_loop().set_default_executor(pool)
    c.stop_on_signals()
    rng = c.Prng(args.seed)
    server = await asyncio.start_server(
        lambda r, w: serve_and_close(args, r, w, rng), args.host, args.port, backlog=1024
    )
    print("listening on %s:%d" % server.sockets[0].getsockname(), flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
