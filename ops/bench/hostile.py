#!/usr/bin/env python3
"""Issue 13's hostile-load measurements against a running piratenldap (loopback only, every
loop bounded). Raw BER over sockets, so nothing but python3 is needed. Prints one JSON line per
measurement. Called by ops/bench/hostile.sh, which makes the installation and the server."""
import json, os, socket, sys, threading, time

PORT, PID, DATA, N, SVC_PW = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
BASE = b"dc=example,dc=org"
SVC = b"cn=bench,ou=services,dc=example,dc=org"
MEMBER_PW = b"bench-password"

def tlv(tag, body):
    n = len(body)
    if n < 0x80: head = bytes([tag, n])
    elif n < 0x100: head = bytes([tag, 0x81, n])
    elif n < 0x10000: head = bytes([tag, 0x82, n >> 8, n & 0xff])
    else: head = bytes([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
    return head + body

def msg(mid, op):
    raw = mid.to_bytes(4, "big").lstrip(b"\0")
    if raw[0] & 0x80: raw = b"\0" + raw  # a positive INTEGER keeps its top bit clear
    return tlv(0x30, tlv(0x02, raw) + op)
def bind_op(dn, pw): return tlv(0x60, b"\x02\x01\x03" + tlv(0x04, dn) + tlv(0x80, pw))
def eq(attr, val): return tlv(0xa3, tlv(0x04, attr) + tlv(0x04, val))
def present(attr): return tlv(0x87, attr)
def or_(parts): return tlv(0xa1, b"".join(parts))
def search_op(base, flt, attrs=(), scope=2):
    return tlv(0x63, tlv(0x04, base) + bytes([0x0a, 1, scope, 0x0a, 1, 0, 0x02, 1, 0, 0x02, 1, 0, 0x01, 1, 0])
               + flt + tlv(0x30, b"".join(tlv(0x04, a) for a in attrs)))
def member(i): return b"uid=u%06d,ou=people,dc=example,dc=org" % i

def read_msg(s):
    """One LDAPMessage; returns (op tag, bytes) or None on EOF."""
    head = s.recv(2, socket.MSG_WAITALL)
    if len(head) < 2: return None
    n = head[1]
    if n & 0x80:
        k = n & 0x7f; b = s.recv(k, socket.MSG_WAITALL); n = int.from_bytes(b, "big")
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk: return None
        body += chunk
    idlen = body[1]
    return body[2 + idlen], body

def result_code(body):
    idlen = body[1]; op = body[2 + idlen:]
    off = 2 if op[1] < 0x80 else 2 + (op[1] & 0x7f)
    return op[off + 2]

def connect(src="127.0.0.1", timeout=30):
    s = socket.socket(); s.settimeout(timeout); s.bind((src, 0)); s.connect(("127.0.0.1", PORT)); return s

def bind(s, dn, pw, mid=1):
    s.sendall(msg(mid, bind_op(dn, pw))); _, body = read_msg(s); return result_code(body)

def search(s, flt, attrs=(b"1.1",), base=BASE, mid=2):
    s.sendall(msg(mid, search_op(base, flt, attrs))); entries = 0
    while True:
        r = read_msg(s)
        if r is None: return None, entries
        tag, body = r
        if tag == 0x64: entries += 1
        elif tag == 0x65: return result_code(body), entries

def rss_mb():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return 0.0

def db_bytes():
    return sum(os.path.getsize(os.path.join(DATA, f)) for f in os.listdir(DATA) if f.startswith("piratenldap.db"))

def emit(**kw): print(json.dumps(kw), flush=True)

def p99(xs): xs = sorted(xs); return round(xs[int(0.99 * (len(xs) - 1))] * 1000, 2) if xs else None

# 1. Memory: an OR of 12 000 (objectClass=top) by a member (240 KB, inside the message limit;
#    the 16 000 no longer fit in a message), six times at once.
before = rss_mb()
def huge_or():
    s = connect(); bind(s, member(1), MEMBER_PW)
    code, _ = search(s, or_([eq(b"objectClass", b"top")] * 12000)); s.close(); codes.append(code)
codes = []
ts = [threading.Thread(target=huge_or) for _ in range(6)]; [t.start() for t in ts]; [t.join() for t in ts]
emit(case="1 memory: 6 x OR of 12000 (objectClass=top)", rss_before_mb=round(before), rss_after_mb=round(rss_mb()), result_codes=codes)

# 2. CPU: a service's ORs of 500 unindexed equality elements from 4 connections for 10 s,
#    while another client binds and searches.
stop = time.time() + 10
def burn():
    s = connect(); bind(s, SVC, SVC_PW.encode()); k = 2
    while time.time() < stop:
        search(s, or_([eq(b"displayName", b"nobody%d" % i) for i in range(500)]), mid=k); k += 1
    s.close()
ts = [threading.Thread(target=burn) for _ in range(4)]; [t.start() for t in ts]
lat_search, lat_bind = [], []
c = connect(); bind(c, SVC, SVC_PW.encode()); k = 2
while time.time() < stop:
    t0 = time.time(); search(c, eq(b"uid", b"u%06d" % (k % N)), mid=k); lat_search.append(time.time() - t0); k += 1
    if k % 20 == 0:
        b = connect(); t0 = time.time(); bind(b, member(k % N), MEMBER_PW); lat_bind.append(time.time() - t0); b.close()
[t.join() for t in ts]
emit(case="2 cpu: 4 x OR of 500 unindexed elements for 10 s", other_search_p99_ms=p99(lat_search), other_bind_p99_ms=p99(lat_bind), searches=len(lat_search))

# 3. Slots: 4 300 idle connections from 127.0.0.1; a new client from 127.0.0.2.
held = []
for _ in range(4300):
    try: held.append(connect(timeout=5))
    except OSError: break
t0 = time.time(); fresh = connect("127.0.0.2"); code = bind(fresh, member(2), MEMBER_PW); served = time.time() - t0; fresh.close()
alive = 0
for s in held:
    try:
        s.setblocking(False); d = s.recv(1)
        alive += 0 if d == b"" else 1
    except BlockingIOError: alive += 1
    except OSError: pass
    s.close()
emit(case="3 slots: 4300 idle connections from one address", opened=len(held), still_open=alive, new_client_served_s=round(served, 3), bind_code=code)

# 4. Disk: 300 failed binds with 250 KB DNs.
before = db_bytes()
for i in range(300):
    try:
        s = connect(); s.sendall(msg(1, bind_op(b"uid=" + b"x" * 250_000 + b"%d,dc=example,dc=org" % i, b"wrong"))); read_msg(s); s.close()
    except OSError: pass
time.sleep(1)
emit(case="4 disk: 300 binds with 250 KB DNs", db_growth_bytes=db_bytes() - before)

# 5. Readers that never read: 20 connections search everything with every attribute.
before = rss_mb(); readers = []
for _ in range(20):
    s = connect(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); bind(s, SVC, SVC_PW.encode())
    s.sendall(msg(2, search_op(BASE, present(b"objectClass")))); readers.append(s)
time.sleep(5)
during = rss_mb()
emit(case="5 readers that never read: 20 x search everything", rss_before_mb=round(before), rss_after_5s_mb=round(during))
[s.close() for s in readers]

# 6. Rebuilds: one member changes the password 8 times, a paged search after each.
before = rss_mb(); s = connect(); bind(s, member(3), MEMBER_PW); old = MEMBER_PW; codes = []
for i in range(8):
    new = b"violet tractors hum softly %d" % i
    pm = tlv(0x77, tlv(0x80, b"1.3.6.1.4.1.4203.1.11.1") + tlv(0x81, tlv(0x30, tlv(0x81, old) + tlv(0x82, new))))
    s.sendall(msg(10 + i, pm)); _, body = read_msg(s); code = result_code(body); codes.append(code)
    if code == 0: old = new
    paged = tlv(0xa0, tlv(0x30, tlv(0x04, b"1.2.840.113556.1.4.319") + tlv(0x04, tlv(0x30, b"\x02\x01\x05" + tlv(0x04, b"")))))
    s.sendall(tlv(0x30, tlv(0x02, bytes([40 + i])) + search_op(BASE, present(b"objectClass")) + paged))
    while True:
        tag, body = read_msg(s)
        if tag == 0x65: break
s.close(); time.sleep(1)
emit(case="6 rebuilds: 8 password changes with a paged search after each", rss_before_mb=round(before), rss_after_mb=round(rss_mb()), change_codes=codes)
