#!/usr/bin/env python3
"""Chat latency on a TLS natterd while others flood it with TLS handshakes. A named
client sends PING every 10 ms and times each answer, first alone, then while K
processes open, complete and drop TLS connections as fast as they can.

    tls-flood.py PORT CA_FILE [K] [SECONDS]        (defaults 4 and 5)

Prints the handshakes completed per second and PING p50 / p99 / max for both phases.
Loopback only; stops on its own.
"""
import multiprocessing
import socket
import ssl
import sys
import time

port, ca = int(sys.argv[1]), sys.argv[2]
k = int(sys.argv[3]) if len(sys.argv) > 3 else 4
secs = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0


def context():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx


def flood(until, counter):
    ctx = context()
    n = 0
    while time.time() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw) as s:
                    s.recv(1)  # the WELCOME's first byte: the handshake is done
                    n += 1
        except OSError:
            pass
    with counter.get_lock():
        counter.value += n


def pings(s, seconds):
    rtts = []
    buf = b""
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        s.sendall(b"PING\n")
        while b"OK PING" not in buf:
            buf += s.recv(4096)
        buf = buf[buf.index(b"OK PING") + 7:]
        rtts.append((time.perf_counter() - t) * 1000)
        time.sleep(0.01)
    rtts.sort()
    q = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))]
    return f"p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {rtts[-1]:.1f} ms ({len(rtts)} pings)"


raw = socket.create_connection(("127.0.0.1", port))
me = context().wrap_socket(raw)
me.sendall(b"HELLO pinger\n")
buf = b""
while b"OK HELLO" not in buf:
    buf += me.recv(4096)
print("alone:        ", pings(me, 2))
counter = multiprocessing.Value("i", 0)
until = time.time() + secs
procs = [multiprocessing.Process(target=flood, args=(until, counter)) for _ in range(k)]
for p in procs:
    p.start()
during = pings(me, secs - 0.5)
for p in procs:
    p.join()
print("during flood: ", during)
print(f"handshakes: {counter.value / secs:.0f}/s from {k} processes")
