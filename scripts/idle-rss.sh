#!/usr/bin/env bash
# Measures natterd's resident memory with N idle, named connections.
#
#   scripts/idle-rss.sh [N]        (default 1000; loopback only; ends by itself)
#
# Builds natterd (release), starts it on a free loopback port, records its RSS,
# opens N connections that each take a name and then sit idle, records the RSS
# again, and prints the cost per connection. Needs python3 for the idle clients.
n=${1:-1000}
source "$(dirname "$0")/lib.sh"
start_natterd --max-clients $((n + 100))
pid=$PID
port=$PORT
rss() { rss_kib; }
before=$(rss)
python3 - "$port" "$n" "$pid" "$before" <<'PY'
import socket, sys, time
port, n, pid, before = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
socks = []
deadline = time.time() + 120
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"HELLO idle%d\n" % i)
    socks.append(s)
# Wait until the server has answered every HELLO: the last one to join sees its OK.
def wait_for(s, needle):
    buf = b""
    while needle not in buf:
        if time.time() > deadline:
            sys.exit("timed out waiting for the server")
        s.settimeout(max(0.1, deadline - time.time()))
        buf += s.recv(1 << 20)
    return buf
wait_for(socks[-1], b"OK HELLO idle%d" % (n - 1))
probe = socket.create_connection(("127.0.0.1", port))
probe.sendall(b"HELLO probe\nWHO\n")
buf = wait_for(probe, b"OK WHO ")
count = int(buf.split(b"OK WHO ")[1].split(b"\n")[0])
assert count == n + 1, count
# Every idle socket has JOIN events queued for it by now; give the server a moment
# to flush them, then read its RSS.
time.sleep(1)
after = int(open("/proc/%s/status" % pid).read().split("VmRSS:")[1].split()[0])
print("idle connections: %d" % n)
print("natterd RSS before: %d KiB, with %d idle named connections: %d KiB" % (before, n, after))
print("per connection: %.2f KiB" % ((after - before) / n))
for s in socks:
    s.close()
PY
