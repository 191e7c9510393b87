#!/usr/bin/env python3
"""What a crowded shared folder costs natterd's other clients, two ways:
- numbering: with COPIES numbered copies of dup.bin in the folder, one client sends 20
  pipelined `PUT dup.bin 0` while another times a PING sent at the same moment;
- listings: with the folder holding FILES files, READERS clients each send FILES and
  read nothing; natterd's RSS before and after (VmRSS from /proc).

    folder-stress.py PORT PID DIR [COPIES] [READERS]    (defaults 30000 and 30)

DIR is natterd's shared folder; the files are made there first (natterd hears of
them through its watch). Loopback only; stops on its own.
"""
import os
import socket
import sys
import time

port, pid, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
copies = int(sys.argv[4]) if len(sys.argv) > 4 else 30000
readers = int(sys.argv[5]) if len(sys.argv) > 5 else 30


def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def join(name):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"HELLO %s\n" % name.encode())
    buf = b""
    while b"OK HELLO" not in buf:
        buf += s.recv(4096)
    return s


def wait_for(s, needle, buf=b""):
    while needle not in buf:
        buf += s.recv(65536)
    return buf


for i in range(1, copies + 1):
    open(os.path.join(folder, f"dup_{i}.bin"), "wb").close()
open(os.path.join(folder, "dup.bin"), "wb").close()
time.sleep(1)  # the watch catches up
a, b = join("putter"), join("pinger")
t = time.perf_counter()
a.sendall(b"PUT dup.bin 0\n" * 20)
b.sendall(b"PING\n")
wait_for(b, b"OK PING")
ping = (time.perf_counter() - t) * 1000
got = wait_for(a, b"OK PUT", b"")
while got.count(b"DONE") < 20:
    got += a.recv(65536)
put_all = (time.perf_counter() - t) * 1000
names = sorted(set(l.split()[3] for l in got.decode().splitlines() if l.startswith("OK PUT")))
print(f"numbering: {copies} copies; 20 pipelined PUTs done in {put_all:.1f} ms; "
      f"the other client's PING answered in {ping:.2f} ms; names {names[0]} .. {names[-1]}")
before = rss()
deaf = []
for i in range(readers):
    s = join(f"deaf{i}")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"FILES\n")
    deaf.append(s)
time.sleep(2)
b.sendall(b"PING\n")
t = time.perf_counter()
wait_for(b, b"OK PING")
print(f"listings: {copies + 21} files, {readers} clients send FILES and read nothing: "
      f"RSS {before} -> {rss()} KiB; PING {(time.perf_counter() - t) * 1000:.2f} ms")
