#!/usr/bin/env bash
# Growth (issue 17): for each size in SIZES, on a fresh installation (release build):
#  - `member import` of N new members (the CLI command, timed);
#  - start-up: from `serve` starting until a search finds the last member (worst of STARTS);
#  - RSS of the server after a search run;
#  - the search rate of 8 connections for SECONDS_PER_RUN s (`(&(objectClass=…)(uid=…))`);
#  - in-process (`piratenldap-bench changes`): the CPU of one change applied in place.
# Writes docs/performance-growth.md (table, per-member figures) and docs/performance-growth.png
# (the plot, made with matplotlib, installed into a private virtualenv with pip when missing).
#
#   ops/bench/growth.sh                              # SIZES="10000 100000 1000000"
#   SIZES="10000 100000" STARTS=3 ops/bench/growth.sh
#
# Loopback only; every step is bounded in time; the temporary directory is removed on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
SIZES="${SIZES:-10000 100000 1000000}"
STARTS="${STARTS:-3}"
SECS="${SECONDS_PER_RUN:-10}"
cargo build --release -q -p piratenldap-cli -p piratenldap-bench
pl=$root/target/release/piratenldap
bench=$root/target/release/piratenldap-bench
command -v ldapsearch >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo;
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ldap-utils >/dev/null; }

venv=$root/target/bench-venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q matplotlib
fi

work=$(mktemp -d)
serve_pid=""
cleanup() { [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(date +%s.%N) - $1:.3f}')"; }
results=$work/growth.jsonl
# Waits until the server started at $1 finds the last member (gives up after 600 s).
answered() {
  until ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D cn=bench,ou=services,dc=example,dc=org \
      -w "$service_pw" -b ou=people,dc=example,dc=org "(uid=$last)" uid 2>/dev/null | grep -q '^uid:'; do
    kill -0 "$serve_pid" 2>/dev/null || { cat "$dir/serve.err" >&2; exit 1; }
    [ "$(since "$1" | cut -d. -f1)" -lt 600 ] || { echo "no answer within 600 s" >&2; exit 1; }
    sleep 0.05
  done
}

for n in $SIZES; do
  dir=$work/n$n
  port=$(free_port)
  "$pl" --config "$dir/piratenldap.toml" init --ldap-listen "127.0.0.1:$port" --ldaps-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null
  "$bench" members-csv --out "$dir/members.csv" --members "$n" --all-active
  t0=$(now)
  "$pl" --config "$dir/piratenldap.toml" member import "$dir/members.csv" >/dev/null
  import_s=$(since "$t0")
  "$bench" populate --config "$dir/piratenldap.toml" --members "$n" --all-active >/dev/null
  service_pw=$("$pl" --config "$dir/piratenldap.toml" service add bench | sed -n 's/^password: //p')
  last=$(printf 'u%06d' $((n - 1)))
  worst=0
  for _ in $(seq "$STARTS"); do
    t0=$(now)
    "$pl" --config "$dir/piratenldap.toml" serve >"$dir/serve.out" 2>"$dir/serve.err" &
    serve_pid=$!
    answered "$t0"
    s=$(since "$t0")
    worst=$(python3 -c "print(max($worst, $s))")
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
  done
  "$pl" --config "$dir/piratenldap.toml" serve >"$dir/serve.out" 2>"$dir/serve.err" &
  serve_pid=$!
  answered "$(now)"
  load=$("$bench" load --url "ldap://127.0.0.1:$port" --base ou=people,dc=example,dc=org \
    --service-dn cn=bench,ou=services,dc=example,dc=org --service-password "$service_pw" --members "$n" \
    --op search --connections 8 --seconds "$SECS")
  rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$serve_pid/status")
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
  changes=$("$bench" changes --members "$n" --count 200)
  python3 - "$n" "$import_s" "$worst" "$rss_kib" "$load" "$changes" >> "$results" <<'EOF'
import json, sys
n, imp, start, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
load, changes = json.loads(sys.argv[5]), json.loads(sys.argv[6])
print(json.dumps({"members": n, "import_s": imp, "first_search_s": start, "rss_mib": rss // 1024,
                  "search_ops": load["ops_per_sec"], "change_p50_ms": changes["apply_cpu_ms"]["p50"],
                  "change_p99_ms": changes["apply_cpu_ms"]["p99"], "build_s": changes["build_ms"] / 1000}))
EOF
  rm -rf "$dir"
  echo "done: $n members" >&2
done

"$venv/bin/python" "$root/ops/bench/growth_plot.py" "$results" "$root/docs/performance-growth.md" "$root/docs/performance-growth.png"
