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
    until ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D cn=bench,ou=services,dc=example,dc=org \
        -w "$service_pw" -b ou=people,dc=example,dc=org "(uid=$last)" uid 2>/dev/null | grep -q '^uid:'; do
      kill -0 "$serve_pid" 2>/dev/null || { cat "$dir/serve.err" >&2; exit 1; }
      [ "$(since "$t0" | cut -d. -f1)" -lt 600 ] || { echo "no answer within 600 s" >&2; exit 1; }
      sleep 0.05
    done
    s=$(since "$t0")
    worst=$(python3 -c "print(max($worst, $s))")
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
  done
  "$pl" --config "$dir/piratenldap.toml" serve >"$dir/serve.out" 2>"$dir/serve.err" &
  serve_pid=$!
  until grep -q "directory view built" "$dir/serve.err" 2>/dev/null; do sleep 0.2; done
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

"$venv/bin/python" - "$results" "$root/docs/performance-growth.md" "$root/docs/performance-growth.png" <<'EOF'
import json, sys, datetime, subprocess
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = [json.loads(l) for l in open(sys.argv[1])]
md, png = sys.argv[2], sys.argv[3]
with open(md, "w") as f:
    f.write("# Growth: 10 000 to 1 000 000 members\n\n")
    f.write(f"Made by `ops/bench/growth.sh` on {datetime.date.today()} (release build, "
            f"{subprocess.getoutput('nproc')} cores, the load generator on the same machine). "
            "First search: from `serve` starting until a search finds the last member, worst of the starts. "
            "Change: CPU of one lock, password change or activation applied to the view in place "
            "(`piratenldap-bench changes`, 200 changes). Plot: `performance-growth.png`.\n\n")
    f.write("| members | member import | first search | RSS | search ops/s (8 conns) | change p50 | change p99 | whole build (in-process) |\n")
    f.write("|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write(f"| {r['members']} | {r['import_s']:.2f} s | {r['first_search_s']:.2f} s | {r['rss_mib']} MiB | "
                f"{r['search_ops']:.0f} | {r['change_p50_ms']} ms | {r['change_p99_ms']} ms | {r['build_s']:.2f} s |\n")
    f.write("\nPer member (flat is the goal):\n\n| members | import µs | first search µs | RSS KiB |\n|---|---|---|---|\n")
    for r in rows:
        n = r["members"]
        f.write(f"| {n} | {r['import_s'] * 1e6 / n:.1f} | {r['first_search_s'] * 1e6 / n:.1f} | {r['rss_mib'] * 1024 / n:.2f} |\n")
fig, axes = plt.subplots(2, 3, figsize=(13, 7))
n = [r["members"] for r in rows]
for ax, key, title in zip(axes.flat,
        ["import_s", "first_search_s", "rss_mib", "search_ops", "change_p99_ms", "build_s"],
        ["member import (s)", "first search after start (s)", "RSS (MiB)", "search ops/s, 8 connections",
         "one change, p99 CPU (ms)", "whole view build (s)"]):
    ax.plot(n, [r[key] for r in rows], marker="o")
    ax.set_xscale("log")
    if key not in ("search_ops",):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("members")
    ax.grid(True, which="both", alpha=0.3)
fig.suptitle("piratenldap: growth from 10 000 to 1 000 000 members")
fig.tight_layout()
fig.savefig(png, dpi=90)
print(f"wrote {md} and {png}", file=sys.stderr)
EOF
