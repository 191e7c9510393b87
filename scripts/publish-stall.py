#!/usr/bin/env python3
"""How long other clients wait while natterd takes a big upload and publishes it
(its final fsync runs on the loop thread). One client uploads SIZE MiB flat out; a
second sends PING every 5 ms and times each answer, from before the upload to after
its DONE. Prints the upload's time and the pings' p50, p99 and max.

    publish-stall.py PORT [SIZE_MIB]        (default 1024)

Loopback only; stops on its own.
"""
import socket
import sys
import threading
import time

port = int(sys.argv[1])
size = int(sys.argv[2]) * (1 << 20) if len(sys.argv) > 2 else 1 << 30
done = threading.Event()
rtts = []


def lines(sock):
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode()
        chunk = sock.recv(65536)
        if not chunk:
            return
        buf += chunk


def pinger():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"HELLO pinger\n")
    it = lines(s)
    while not next(it).startswith("OK HELLO"):
        pass
    while not done.is_set():
        t = time.perf_counter()
        s.sendall(b"PING\n")
        for line in it:
            if line.startswith("OK PING"):
                break
        rtts.append(time.perf_counter() - t)
        time.sleep(0.005)


th = threading.Thread(target=pinger)
th.start()
time.sleep(0.2)
u = socket.create_connection(("127.0.0.1", port))
u.sendall(b"HELLO uploader\nPUT stall.bin %d\n" % size)
it = lines(u)
xfer = None
for line in it:
    if line.startswith("OK PUT "):
        xfer = int(line.split()[2])
        break
chunk = bytes(range(256)) * 256
start = time.perf_counter()
sent = 0
while sent < size:
    n = min(len(chunk), size - sent)
    u.sendall(b"DATA %d %d\n" % (xfer, n) + chunk[:n])
    sent += n
for line in it:
    if line.startswith("DONE %d" % xfer) or line.startswith("FAILED"):
        print(line)
        break
took = time.perf_counter() - start
time.sleep(0.2)
done.set()
th.join()
rtts.sort()
ms = lambda q: rtts[min(len(rtts) - 1, int(q * len(rtts)))] * 1000
print(f"upload {size >> 20} MiB in {took:.2f} s; pings {len(rtts)}: "
      f"p50 {ms(0.5):.2f} ms, p99 {ms(0.99):.2f} ms, max {rtts[-1] * 1000:.1f} ms")
