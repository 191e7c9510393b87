#!/usr/bin/env python3
"""Downloads one shared file from natterd with K parallel connections and discards
the bytes, checking every DATA frame's framing. Used by bench-files.sh.

    fetch.py PORT FILE K

Prints one line: total bytes and seconds. Loopback only; stops on its own.
"""
import selectors
import socket
import sys
import time

port, name, k = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sel = selectors.DefaultSelector()


class Fetch:
    def __init__(self, i):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"HELLO fetch%d\nGET %s\n" % (i, name.encode()))
        self.buf = bytearray()
        self.need = 0  # body bytes still to skip
        self.got = 0
        self.done = False
        self.sock.setblocking(False)
        sel.register(self.sock, selectors.EVENT_READ, self)

    def feed(self, data):
        self.buf += data
        while True:
            if self.need:
                take = min(self.need, len(self.buf))
                del self.buf[:take]
                self.need -= take
                self.got += take
                if self.need:
                    return
            nl = self.buf.find(b"\n")
            if nl < 0:
                return
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 1]
            if line.startswith(b"DATA "):
                self.need = int(line.split()[2])
            elif line.startswith(b"DONE "):
                self.done = True
                return
            elif line.startswith(b"ERR") or line.startswith(b"FAILED"):
                sys.exit("server said: " + line.decode())


start = time.time()
fetches = [Fetch(i) for i in range(k)]
deadline = start + 600
while not all(f.done for f in fetches):
    if time.time() > deadline:
        sys.exit("timed out")
    for key, _ in sel.select(timeout=1):
        f = key.data
        try:
            data = f.sock.recv(1 << 20)
        except BlockingIOError:
            continue
        if not data:
            sys.exit("connection closed early")
        f.feed(data)
elapsed = time.time() - start
print("%d %.3f" % (sum(f.got for f in fetches), elapsed))
