#!/usr/bin/env python3
"""Holds COUNT idle TCP connections to 127.0.0.1:PORT spread over ADDRESSES loopback sources
(127.0.0.2 upwards) for ops/bench/idle.sh: prints "held N" once they are open, waits until
standard input closes (at most 60 s), then prints "open N": how many the server kept open."""
import socket, sys, select

port, count, addresses = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(count):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i % addresses}", 0))
    try:
        s.connect(("127.0.0.1", port))
        held.append(s)
    except OSError:
        s.close()
print(f"held {len(held)}", flush=True)
select.select([sys.stdin], [], [], 60)
alive = 0
for s in held:
    s.setblocking(False)
    try:
        alive += 0 if s.recv(1) == b"" else 1
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
    s.close()
print(f"open {alive}", flush=True)
