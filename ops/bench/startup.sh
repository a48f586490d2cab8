#!/usr/bin/env bash
# The 100 000-member targets of issues 7 and 17, measured on a fresh installation (release build):
# how long `member import` takes for N new members, and how soon `serve` answers its first
# search after it starts (RUNS restarts; each time from process start until ldapsearch gets the
# entry back). Writes docs/performance-startup.md.
#
#   ops/bench/startup.sh                  # 100 000 members, 5 starts
#   N=30000 RUNS=3 ops/bench/startup.sh
#
# Installs ldap-utils with apt-get when ldapsearch is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
N=${N:-100000}
RUNS=${RUNS:-5}

if ! command -v ldapsearch >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ldap-utils >/dev/null
fi

cargo build --release -q -p piratenldap-cli -p piratenldap-bench
pl=$root/target/release/piratenldap
bench=$root/target/release/piratenldap-bench

work=$(mktemp -d)
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
config=$work/piratenldap.toml
"$pl" --config "$config" init --ldap-listen "127.0.0.1:$port" --ldaps-listen 127.0.0.1:0 \
  --http-listen 127.0.0.1:0 >/dev/null

# member import: the CLI command itself, on the members populate generates.
"$bench" members-csv --out "$work/members.csv" --members "$N" --all-active
seconds_since() { python3 -c "print(f'{$(date +%s.%N) - $1:.2f}')"; }
t0=$(date +%s.%N)
"$pl" --config "$config" member import "$work/members.csv" >/dev/null
import_s=$(seconds_since "$t0")
echo "member import of $N members: $import_s s" >&2
# Accounts for every member (populate finds the members unchanged).
"$bench" populate --config "$config" --members "$N" --all-active >&2
service_pw=$("$pl" --config "$config" service add bench | sed -n 's/^password: //p')

last=$(printf 'u%06d' $((N - 1)))
times=()
for run in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  "$pl" --config "$config" serve >"$work/serve.out" 2>"$work/serve.err" &
  serve_pid=$!
  until ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D cn=bench,ou=services,dc=example,dc=org \
      -w "$service_pw" -b ou=people,dc=example,dc=org "(uid=$last)" uid 2>/dev/null | grep -q '^uid:'; do
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.02
  done
  t=$(seconds_since "$start")
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$serve_pid/status")
  built=$(grep -o 'read_ms[^ ]* *[0-9]*.*total_ms[^ ]* *[0-9]*' "$work/serve.err" | head -1 | tr -d '\033' | sed 's/\[[0-9;]*m//g')
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
  echo "start $run: first search after $t s (RSS $rss MB; $built)" >&2
  times+=("$t|$rss|$built")
done

python3 - "$N" "$import_s" "${times[@]}" > "$root/docs/performance-startup.md" <<'EOF'
import sys, subprocess, datetime, statistics
n, import_s, runs = sys.argv[1], sys.argv[2], [r.split("|") for r in sys.argv[3:]]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Start-up and import with many members\n")
print(f"Made by `ops/bench/startup.sh` on {datetime.date.today()}: {n} members, all with accounts, "
      f"release build, on one machine ({subprocess.getoutput('nproc')} cores, {cpu}).\n")
print(f"- `member import` of {n} new members: **{import_s} s** (target ≤ 5 s, issue 17).")
firsts = [float(r[0]) for r in runs]
print(f"- first search after `serve` starts: median **{statistics.median(firsts):.2f} s**, "
      f"worst {max(firsts):.2f} s over {len(runs)} starts (target: the worst ≤ 1 s, issue 17).\n")
print("| start | first search after | RSS then | view build (from the server's log) |")
print("|---|---|---|---|")
for i, (t, rss, built) in enumerate(runs, 1):
    print(f"| {i} | {t} s | {rss} MB | {built} |")
EOF
cat "$root/docs/performance-startup.md"
