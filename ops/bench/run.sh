#!/usr/bin/env bash
# Benchmark piratenldap against OpenLDAP's slapd (back-mdb) on the same data, in one run, and
# write docs/performance-vs-slapd.md.
#
#   ops/bench/run.sh                      # 50 000 members, 10 s per measurement
#   N=10000 SECONDS_PER_RUN=5 ops/bench/run.sh
#
# Installs slapd and ldap-utils with apt-get when missing. Both servers get the same members
# (uid u000000…, mail, groups) with the same argon2id hash (m=19456, t=2, p=1) of
# "bench-password", and a service account that searches. Everything runs on loopback ports in
# a temporary directory that is removed afterwards.
#
#   PIN=1 ops/bench/run.sh     # each server on CPU 0, the load generator on CPU 1 (taskset), so
#                              # the generator's own CPU does not count against the server
#   DOC=/tmp/x.md ops/bench/run.sh   # write the table somewhere else (partial runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
N=${N:-50000}
SECS=${SECONDS_PER_RUN:-10}
CONNS=${CONNECTIONS:-"1 8 32"}
OPS=${OPERATIONS:-"search search-bare search-tls search-bare-tls bind login mixed"}
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v slapd >/dev/null || ! command -v ldapsearch >/dev/null; then
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections 2>/dev/null || true
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slapd ldap-utils >/dev/null
fi

cargo build --release -q -p piratenldap-cli -p piratenldap-bench
pl=$root/target/release/piratenldap
bench=$root/target/release/piratenldap-bench

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- piratenldap -------------------------------------------------------------------------
pl_port=$(free_port)
"$pl" --config "$work/pl/piratenldap.toml" init --ldap-listen "127.0.0.1:$pl_port" \
  --ldaps-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >/dev/null
# Every bench member is active and unlocked, so both servers can return every one.
"$bench" populate --config "$work/pl/piratenldap.toml" --members "$N" --all-active
service_pw=$("$pl" --config "$work/pl/piratenldap.toml" service add bench | sed -n 's/^password: //p')
hash=$(python3 - "$work/pl/data/piratenldap.db" <<'EOF'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select password_hash from accounts limit 1").fetchone()[0])
EOF
)

# --- slapd -------------------------------------------------------------------------------
sl_port=$(free_port)
mkdir -p "$work/sl/db"
cat > "$work/sl/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $root/schema/piratenldap.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload argon2 m=19456 t=2 p=1
pidfile $work/sl/slapd.pid
password-hash {ARGON2}
database mdb
maxsize 4294967296
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw admin-password
directory $work/sl/db
index objectClass eq
index uid eq
index mail eq
index member eq
overlay memberof
TLSCertificateFile $work/pl/data/tls/server.pem
TLSCertificateKeyFile $work/pl/data/tls/server.key
TLSCACertificateFile $work/pl/data/ca/ca.pem
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=bench,ou=services,dc=example,dc=org" read by self read by * none
EOF
python3 - "$N" "$hash" > "$work/sl/data.ldif" <<'EOF'
import sys
n, h = int(sys.argv[1]), sys.argv[2]
b = "dc=example,dc=org"
print(f"dn: {b}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Bench\n")
for ou in ("people", "groups", "services"):
    print(f"dn: ou={ou},{b}\nobjectClass: organizationalUnit\nou: {ou}\n")
print(f"dn: cn=bench,ou=services,{b}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: bench\nuserPassword: {{ARGON2}}{h}\n")
for i in range(n):
    u = f"u{i:06}"
    print(f"dn: uid={u},ou=people,{b}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: {u}\ncn: User {i}\nsn: Surname{i}\n"
          f"mail: {u}@bench.example.org\nuidNumber: {20000+i}\ngidNumber: 10001\nhomeDirectory: /home/{u}\n"
          f"memberOf: cn=members,ou=groups,{b}\nuserPassword: {{ARGON2}}{h}\n")
EOF
slapadd -q -f "$work/sl/slapd.conf" -l "$work/sl/data.ldif"
python3 - "$N" > "$work/sl/group.ldif" <<'EOF'
import sys
b = "dc=example,dc=org"
print(f"dn: cn=members,ou=groups,{b}\nobjectClass: groupOfNames\ncn: members")
for i in range(int(sys.argv[1])):
    print(f"member: uid=u{i:06},ou=people,{b}")
EOF
slapadd -q -f "$work/sl/slapd.conf" -l "$work/sl/group.ldif"

# --- serve both ---------------------------------------------------------------------------
server_cpu=(); load_cpu=()
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); load_cpu=(taskset -c 1); fi
"${server_cpu[@]}" "$pl" --config "$work/pl/piratenldap.toml" serve >"$work/pl.out" 2>"$work/pl.err" & pids+=($!); pl_pid=$!
"${server_cpu[@]}" slapd -f "$work/sl/slapd.conf" -h "ldap://127.0.0.1:$sl_port/" -d 0 >"$work/sl.log" 2>&1 & pids+=($!); sl_pid=$!
for port in "$pl_port" "$sl_port"; do
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
done
sleep 2

results=$work/results.jsonl
run() { # server url op conns
  local args=(--url "$2" --base "ou=people,dc=example,dc=org" --service-dn "cn=bench,ou=services,dc=example,dc=org"
              --service-password "$5" --members "$N" --connections "$4" --seconds "$SECS")
  case $3 in
    search-bare) args+=(--op search --bare-filter) ;;
    search-tls) args+=(--op search --starttls) ;;
    search-bare-tls) args+=(--op search --bare-filter --starttls) ;;
    *) args+=(--op "$3") ;;
  esac
  "${load_cpu[@]}" "$bench" load "${args[@]}" | python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$1'; d['case']='$3'; print(json.dumps(d))" >> "$results"
}
for op in $OPS; do
  for c in $CONNS; do
    run piratenldap "ldap://127.0.0.1:$pl_port" "$op" "$c" "$service_pw"
    run slapd "ldap://127.0.0.1:$sl_port" "$op" "$c" "bench-password"
    echo "done: $op at $c connections" >&2
  done
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
pl_rss=$(rss "$pl_pid"); sl_rss=$(rss "$sl_pid")

doc=${DOC:-$root/docs/performance-vs-slapd.md}
python3 - "$results" "$N" "$SECS" "$pl_rss" "$sl_rss" "$doc" > "$work/doc.md" <<'EOF'
import json, sys, platform, subprocess, datetime
path, n, secs, pl_rss, sl_rss, doc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
MARK = "<!-- Below: written by hand; ops/bench/run.sh keeps it. -->"
rows = [json.loads(l) for l in open(path)]
by = {(r["server"], r["case"], r["connections"]): r for r in rows}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# piratenldap against OpenLDAP slapd\n")
print(f"Made by `ops/bench/run.sh` on {datetime.date.today()}: {n} members, {secs} s per measurement, "
      f"both servers and the load generator on one machine ({subprocess.getoutput('nproc')} cores, {cpu}).\n")
print("| operation | conns | piratenldap ops/s | slapd ops/s | ratio | piratenldap p99 ms | slapd p99 ms | errors (pl/slapd) |")
print("|---|---|---|---|---|---|---|---|")
for (server, case, c), r in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2])):
    if server != "piratenldap":
        continue
    s = by.get(("slapd", case, c))
    if not s:
        continue
    ratio = r["ops_per_sec"] / s["ops_per_sec"] if s["ops_per_sec"] else float("inf")
    extra = ""
    if case == "mixed":
        extra = f" (search p99 {r['search_p99_ms']} / {s['search_p99_ms']} ms; logins {r['login_ops_per_sec']} / {s['login_ops_per_sec']}/s)"
    print(f"| {case}{extra} | {c} | {r['ops_per_sec']} | {s['ops_per_sec']} | {ratio:.2f} | {r['p99_ms']} | {s['p99_ms']} | {r['errors']}/{s['errors']} |")
print(f"\nRSS after the runs: piratenldap {pl_rss // 1024} MB, slapd {sl_rss // 1024} MB.")
print("\nCases: `search` is `(&(objectClass=inetOrgPerson)(uid=…))`, `search-bare` is `(uid=…)`; "
      "`-tls` runs them on connections that did StartTLS first (both servers with the same certificate).\n")
print("## Against the targets of issue 17\n")
print("| target | measured | |")
print("|---|---|---|")
def ratio(case, c):
    r, s = by.get(("piratenldap", case, c)), by.get(("slapd", case, c))
    return r["ops_per_sec"] / s["ops_per_sec"] if r and s and s["ops_per_sec"] else None
for case, what in [("search", "AND-filter search"), ("search-bare", "bare-uid search"),
                   ("search-tls", "AND-filter search over StartTLS"), ("search-bare-tls", "bare-uid search over StartTLS")]:
    rs = [ratio(case, c) for c in (8, 32)]
    if None in rs:
        continue
    ok = all(x >= 4.0 for x in rs)
    print(f"| {what} ≥ 4× slapd at 8 and 32 connections | {rs[0]:.2f}× and {rs[1]:.2f}× | {'met' if ok else 'not met'} |")
third = pl_rss * 3 <= sl_rss
print(f"| RSS after the run ≤ ⅓ of slapd's | {pl_rss // 1024} MB against {sl_rss // 1024} MB ({pl_rss / sl_rss:.2f}) | {'met' if third else 'not met'} |")
try:
    old = open(doc).read()
    if MARK in old:
        print("\n" + MARK + old.split(MARK, 1)[1], end="")
except FileNotFoundError:
    pass
EOF
mv "$work/doc.md" "$doc"
echo "wrote docs/performance-vs-slapd.md" >&2
