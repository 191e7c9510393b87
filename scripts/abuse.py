#!/usr/bin/env python3
"""Fault and abuse run against a live natterd (see abuse.sh). Loopback only, bounded
in count and time; every abuser stops by itself.

    abuse.py PORT SHARED_DIR PID SECONDS CHURN

While a good pair of clients chats (one says numbered messages, the other checks it
hears every one, in order), abusers run at once: random bytes, frames split at every
byte, half-open connections that never send, named clients that never read,
connect/disconnect churn, uploads and downloads cut off halfway, hostile names and
oversize declared sizes. At the end it checks the listener missed nothing, PING
answers quickly, the folder holds no temporary or partial file, and RSS is back near
its start. Exit status 0 when every check passes.
"""
import os
import random
import socket
import sys
import threading
import time

port, shared, pid, seconds, churn = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
ADDR = ("127.0.0.1", port)
stop_at = time.time() + seconds
rng = random.Random(1234)
failures = []
counts = {}


def bump(what, n=1):
    counts[what] = counts.get(what, 0) + n


def rss_kib():
    with open("/proc/%s/status" % pid) as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


class Peer:
    def __init__(self, timeout=10):
        self.s = socket.create_connection(ADDR, timeout=timeout)
        self.buf = b""

    def send(self, b):
        self.s.sendall(b)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l.decode("utf-8", "replace")

    def reply(self):
        while True:
            l = self.line()
            if not l.split(" ")[0] in ("JOIN", "LEAVE", "FROM", "PRIVATE", "SHARED"):
                return l

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def named(name):
    p = Peer()
    p.line()  # WELCOME
    p.send(b"HELLO %s\n" % name.encode())
    r = p.reply()
    if not r.startswith("OK HELLO"):
        raise RuntimeError("HELLO %s: %s" % (name, r))
    return p


def loop(name, body):
    def run():
        i = 0
        while time.time() < stop_at:
            try:
                body(i)
                bump(name)
            except (OSError, EOFError):
                bump(name + " (server closed)")
            i += 1
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def random_bytes(i):
    p = Peer()
    p.send(bytes(rng.getrandbits(8) for _ in range(rng.choice([100, 3000, 9000]))))
    p.close()


def split_frames(i):
    p = Peer()
    for b in b"HELLO split%d\r\nSAY one byte at a time\nPING\n" % i:
        p.send(bytes([b]))
    while p.reply() != "OK PING":
        pass
    p.close()


def churn_once(i):
    for j in range(churn // 10 or 1):
        p = Peer()
        p.line()
        p.send(b"HELLO churn%d_%d\n" % (i, j) + (b"QUIT\n" if j % 2 else b""))
        p.close()


def cut_transfers(i):
    p = named("cutter%d" % i)
    p.send(b"PUT part%d.bin 1000000\n" % i)
    xfer = int(p.reply().split()[2])
    p.send(b"DATA %d 40000\n" % xfer + b"\0" * 40000)
    p.send(b"GET abuse-big.bin\n")
    while not p.reply().startswith("OK GET"):
        pass
    p.s.recv(70000)
    p.close()


def hostile(i):
    p = named("hostile%d" % i)
    for req in (b"GET ../../etc/passwd", b"PUT %2e%2e%2fx 10", b"PUT .hidden 1",
                b"DELETE /etc/passwd", b"RENAME a b/c", b"GET a%00b"):
        p.send(req + b"\n")
        r = p.reply()
        if not r.startswith("ERR bad-name"):
            failures.append("%s -> %s" % (req, r))
    p.send(b"PUT huge.bin 99999999999999\n")
    if not p.reply().startswith("ERR too-large"):
        failures.append("oversize PUT accepted")
    p.send(b"DATA 1 99999999\n")
    if not p.reply().startswith("ERR bad-request"):
        failures.append("oversize DATA header accepted")
    p.close()


with open(os.path.join(shared, "abuse-big.bin"), "wb") as f:
    f.write(os.urandom(16 << 20))

ears, mouth = named("ears"), named("mouth")
rss_start = rss_kib()
silent = [socket.create_connection(ADDR) for _ in range(200)]
deaf = []
for i in range(20):
    d = named("deaf%d" % i)
    d.send(b"GET abuse-big.bin\n")
    deaf.append(d)
threads = [loop("random bytes", random_bytes), loop("split frames", split_frames),
           loop("churn x%d" % (churn // 10 or 1), churn_once), loop("cut transfers", cut_transfers),
           loop("hostile names", hostile)]

sent = 0
heard = 0
while time.time() < stop_at:
    mouth.send(b"SAY message %d\n" % sent)
    while not mouth.reply().startswith("OK SAY"):
        pass
    sent += 1
    while heard < sent:
        l = ears.line()
        if l.startswith("FROM mouth "):
            if l != "FROM mouth message %d" % heard:
                failures.append("ears heard %r, expected message %d" % (l, heard))
            heard += 1
for t in threads:
    t.join()
for s in silent:
    s.close()
for d in deaf:
    d.close()

t0 = time.time()
ears.send(b"PING\n")
while ears.reply() != "OK PING":
    pass
ping_ms = (time.time() - t0) * 1000

deadline = time.time() + 15
while True:
    mouth.send(b"STATUS\n")
    r = mouth.reply()
    while not r.startswith("OK STATUS"):
        r = mouth.reply()
    active = int(r.split()[2])
    if active == 2 or time.time() > deadline:
        break
    time.sleep(0.1)
left = [n for n in os.listdir(shared) if n != "abuse-big.bin"]
rss_end = rss_kib()

print("abuse for %.0f s: %s" % (seconds, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
print("good chat: %d messages sent, %d heard in order" % (sent, heard))
print("PING after abuse: %.1f ms; connections left: %d (want 2)" % (ping_ms, active))
print("natterd RSS: %d KiB before, %d KiB after (%+d KiB)" % (rss_start, rss_end, rss_end - rss_start))
print("files left in the shared folder besides the test file: %s" % (left or "none"))
if heard != sent:
    failures.append("the good client missed %d messages" % (sent - heard))
if active != 2:
    failures.append("%d connections still open" % active)
if left:
    failures.append("left in the folder: %s" % left)
if ping_ms > 1000:
    failures.append("PING took %.0f ms" % ping_ms)
if rss_end > rss_start + 32 * 1024:
    failures.append("RSS grew by %d KiB" % (rss_end - rss_start))
os.remove(os.path.join(shared, "abuse-big.bin"))
if failures:
    print("FAILED:\n  " + "\n  ".join(failures[:20]))
    sys.exit(1)
print("all checks passed")
