"""What the Python peers share, as the chapters share common/: the protocol (common/protocol.c),
the simulated and the slow disk (common/disk.c), the seed's deadline, the flags and the log.

  request  DELAY_MS,PATH\n | PATH\n (delay from the seed's model) | RC,DELAY_MS,PATH\n
           | GET /DELAY_MS,PATH HTTP/1.x\r\n ... \r\n\r\n
  reply    RC,BYTES,ELAPSED_MS,PATH\n (the body of an HTTP reply), then close
  RC       0 read done, 1 timeout, 2 I/O failure or bad request

The same parse rules and the same delay model (splitmix64, so -s SEED draws what a chapter
draws), so a peer and a chapter answer the same load the same way. What differs is each
server's handler, and that is the lesson: which thread makes the blocking read.
"""
import argparse
import os
import re
import signal
import sys
import time

RC_OK, RC_TIMEOUT, RC_FAIL = 0, 1, 2
MAX_REQUEST = 4096  # bytes before the end of a request; more is a bad request
MAX_PATH = 1024
MAX_DELAY_MS = 3600000  # an hour: a longer "read" is refused as absurd
MAX_OBJECT = 65536  # objects are 1-64 KiB: one read(2) reads any

_started = time.monotonic()


def now_ms():
    return int(time.monotonic() * 1000)


def log(msg):
    """One line on stderr, stamped with seconds since start, as the chapters' log_msg."""
    t = time.monotonic() - _started
    sys.stderr.write("[%3d.%03d] %s\n" % (int(t), int(t * 1000) % 1000, msg))
    sys.stderr.flush()


# --- the protocol ---------------------------------------------------------------------------


class BadRequest(Exception):
    """Its message is the reason logged; http says in which form to refuse (400 or RC 2)."""

    def __init__(self, why, http):
        super().__init__(why)
        self.http = http


class Request:
    def __init__(self, http, delay_ms, path):
        self.http, self.delay_ms, self.path = http, delay_ms, path  # delay_ms None: bare PATH


def _number(s, most):
    """A whole decimal number 0..most, or None: digits only, as parse_number."""
    return int(s) if re.fullmatch(rb"[0-9]{1,10}", s) and int(s) <= most else None


def _fields(s, http):
    """DELAY_MS,PATH | RC,DELAY_MS,PATH | PATH -> Request."""
    if not s:
        raise BadRequest("empty request", http)
    if any(b < 0x21 or b > 0x7E for b in s):
        raise BadRequest("request has a byte that is not printable ASCII", http)
    delay, path = None, s
    head, comma, rest = s.partition(b",")
    if comma:
        mid, comma2, tail = rest.partition(b",")
        if comma2 and _number(head, 9) is not None and _number(mid, MAX_DELAY_MS) is not None:
            head, rest = mid, tail  # the seed's three-field form: a leading RC, ignored
        delay = _number(head, MAX_DELAY_MS)
        if delay is None:
            raise BadRequest("delay is not a number of milliseconds from 0 to 3600000", http)
        path = rest
    if not path:
        raise BadRequest("empty path", http)
    if len(path) > MAX_PATH:
        raise BadRequest("path longer than 1024 bytes", http)
    return Request(http, delay, path.decode())


def _http_line(line):
    """GET /TARGET HTTP/1.x -> Request; the target after '/' is the line form."""
    parts = line.split(b" ")
    if len(parts) != 3 or len(parts[2]) != 8 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest("malformed HTTP request line", True)
    method, target = parts[0], parts[1]
    if method != b"GET":
        raise BadRequest("HTTP method is not GET", True)
    if len(target) < 2 or not target.startswith(b"/"):
        raise BadRequest("HTTP target is not /DELAY_MS,PATH", True)
    # "/300,/a" carries a delay; "/a" alone is a bare PATH and keeps its slash.
    return _fields(target[1:] if b"," in target else target, True)


def parse_request(buf, at_eof):
    """The request at the start of buf (bytes), or None when more bytes are needed (never when
    at_eof, the client has stopped sending). Raises BadRequest."""
    nl = buf.find(b"\n")
    http = b" HTTP/" in (buf[:nl] if nl >= 0 else buf)
    if nl < 0:
        if len(buf) >= MAX_REQUEST:
            raise BadRequest("no newline within 4096 bytes", http)
        if at_eof:
            raise BadRequest("connection ended before a newline", http)
        return None
    line = buf[:nl].removesuffix(b"\r")
    if not http:
        return _fields(line, False)
    # HTTP: answer only once the headers have ended, so that closing never discards unread bytes
    # (the kernel would send a reset that can destroy the reply in flight).
    if b"\r\n\r\n" not in buf and b"\n\n" not in buf:
        if len(buf) >= MAX_REQUEST:
            raise BadRequest("HTTP headers longer than 4096 bytes", True)
        if at_eof:
            raise BadRequest("connection ended inside the HTTP headers", True)
        return None
    return _http_line(line)


def format_reply(rc, nbytes, elapsed_ms, path, http):
    """The reply line, in an HTTP reply when http. path None: a bad request, written '-'."""
    body = "%d,%d,%d,%s\n" % (rc, nbytes, elapsed_ms, path if path is not None else "-")
    if not http:
        return body.encode()
    status = {RC_OK: "200 OK", RC_TIMEOUT: "408 Request Timeout"}.get(rc)
    status = status or ("500 Internal Server Error" if path is not None else "400 Bad Request")
    return (
        "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
        "Connection: close\r\n\r\n%s" % (status, len(body), body)
    ).encode()


def bad_request_reply(e):
    """Logs the BadRequest e and returns its refusal."""
    log("bad request: %s" % e)
    return format_reply(RC_FAIL, 0, 0, None, e.http)


# --- the disk -------------------------------------------------------------------------------


class Prng:
    """splitmix64, as prng_next in common/protocol.c."""

    M = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.M

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.M
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.M
        return z ^ (z >> 31)

    def uniform(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)


class DiskRead:
    """One read, planned when its request arrives (plan_disk_read): how long the disk takes,
    whether it fails, and the simulated size (stable per path)."""

    def __init__(self, req, rng):
        self.path, self.delay_ms, self.io_fail = req.path, req.delay_ms, False
        h = 1469598103934665603  # FNV-1a of the path
        for b in req.path.encode():
            h = ((h ^ b) * 1099511628211) & Prng.M
        self.bytes = 1024 + h % 64512
        if self.delay_ms is None:  # a bare PATH: the seed's model
            draw = rng.uniform(0, 9999)  # in units of 0.01 %
            if draw < 10:
                self.io_fail, self.delay_ms = True, rng.uniform(300, 3000)
            elif draw < 1010:
                self.delay_ms = rng.uniform(6000, 20000)
            else:
                self.delay_ms = rng.uniform(75, 400)
        if self.io_fail:
            self.bytes = 0


def disk_path(mountpoint, disk):
    """Where the object is on the slow disk (common/disk.c's disk_path): MOUNTPOINT/DELAY_MS/PATH,
    or MOUNTPOINT/eio for a failing read, each directory of PATH named with .d, since slowdisk
    tells a directory from a file by its name: /a/b/c becomes /a.d/b.d/c."""
    names = [n for n in disk.path.split("/") if n]
    top = "eio" if disk.io_fail else str(disk.delay_ms)
    return os.path.join(mountpoint, top, *[n + ".d" for n in names[:-1]], *names[-1:])


def read_object(mountpoint, disk):
    """The read for real: open and one read(2) of up to 64 KiB, as Swift's DiskFile reads a
    chunk, waited for in the kernel. buffering=0: one read(2), not a buffered loop of them (a
    read at the end of the file would pay the disk's delay again). Returns the bytes read."""
    with open(disk_path(mountpoint, disk), "rb", buffering=0) as f:
        return len(f.read(MAX_OBJECT))


# --- a request's life: common/protocol.h's struct job -----------------------------------------


class Job:
    """A request from the moment its connection was accepted to its reply."""

    def __init__(self, req, rng, arrived_ms):
        self.req, self.disk, self.arrived_ms = req, DiskRead(req, rng), arrived_ms
        self.rc, self.nbytes, self.started_ms = RC_OK, 0, None

    def expired_in_queue(self, deadline_ms):
        """The seed's queue deadline: the read is about to start; if the request has waited
        deadline_ms or more it is answered RC 1 instead, and logged "timeout (queue)"."""
        self.started_ms = now_ms()
        waited = self.started_ms - self.arrived_ms
        if waited < deadline_ms:
            return False
        log("timeout (queue) %s waited %d ms before its read could start" % (self.req.path, waited))
        self.rc = RC_TIMEOUT
        return True

    def finish(self, deadline_ms, nbytes=0, error=None):
        """The read has ended, with nbytes or an OSError: RC 2 "io fail", RC 1 "timeout
        (service)" if it took longer than deadline_ms, else RC 0."""
        took = now_ms() - self.started_ms
        if error:
            log("io fail %s after %d ms: %s" % (self.req.path, took, error.strerror or error))
            self.rc = RC_FAIL
        elif took > deadline_ms:
            log(
                "timeout (service) %s: the read took %d ms, over the %d ms deadline"
                % (self.req.path, took, deadline_ms)
            )
            self.rc = RC_TIMEOUT
        else:
            self.nbytes = nbytes

    def reply(self):
        elapsed = now_ms() - self.arrived_ms
        nbytes = self.nbytes if self.rc == RC_OK else 0
        return format_reply(self.rc, nbytes, elapsed, self.req.path, self.req.http)


# --- flags and signals ----------------------------------------------------------------------


def flag_parser(doc):
    """The flags every server takes (-p -h -T -s -D, as common/flags.c); a server adds its own,
    then calls parse_flags."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0], add_help=False)
    ap.add_argument("-p", dest="port", type=int, default=0, help="port; 0 picks a free one")
    ap.add_argument("-h", dest="host", default="127.0.0.1", help="IPv4 address to bind")
    ap.add_argument("-T", dest="deadline", type=int, default=4000, help="deadline, ms")
    ap.add_argument("-s", dest="seed", type=int, default=1, help="seed of a bare PATH's delay")
    ap.add_argument("-D", dest="mountpoint", help="read MOUNTPOINT/DELAY_MS/PATH (bin/slowdisk)")
    ap.add_argument("--help", action="help", help="show this help and exit")
    return ap


def parse_flags(ap):
    args = ap.parse_args()
    if args.mountpoint and not os.path.isdir(args.mountpoint):
        ap.error("-D %s: not a directory" % args.mountpoint)
    return args


def stop_on_signals():
    """SIGINT and SIGTERM stop the server at once, with "stopping" logged and exit status 0,
    even mid-read. A plain Python signal handler runs as soon as the blocking call it
    interrupted returns (a FUSE read is interrupted, a sleep too), where asyncio's
    loop.add_signal_handler would wait for the loop's next turn: the whole read. os._exit, not
    sys.exit: a read in a worker thread cannot be cancelled and a normal exit would wait for
    it; the kernel closes the sockets, and there is nothing else to save."""

    def stop(signum, frame):
        log("stopping")
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
