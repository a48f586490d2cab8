#!/usr/bin/env bash
# What a change costs (issue 17), on a fresh installation with N members (release build):
#  1. in this process, without a server: the CPU of one change applied to the view in place,
#     beside a whole rebuild, and the view's memory (`piratenldap-bench changes`), for each
#     size in SIZES (the growth table);
#  2. on a running server with N members: how soon a committed change (an account locked or
#     unlocked through the store, as the CLI does) is answered by a search on the same node,
#     p99 over CHANGES changes at 10 per second (`piratenldap-bench freshness`);
#  3. the server's whole CPU per change (store polled, rows read, view changed and swapped):
#     its CPU while 10 changes per second stream in, less its CPU idle, over STREAM_SECONDS;
#  4. the search rate of 8 connections alone and while 10 changes per second stream in, in
#     ROUNDS alternating pairs (a noisy host moves single runs by 15-50 %): the median ratio.
# Writes docs/performance-changes.md. Loopback only; every step is bounded in time.
#
#   ops/bench/changes.sh                          # N=100000, SIZES="10000 100000 1000000"
#   N=20000 SIZES="10000 20000" CHANGES=200 ops/bench/changes.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
N="${N:-100000}"
SIZES="${SIZES:-10000 100000 1000000}"
CHANGES="${CHANGES:-1000}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
ROUNDS="${ROUNDS:-4}"
STREAM_SECONDS="${STREAM_SECONDS:-30}"
cargo build --release -q -p piratenldap-cli -p piratenldap-bench
bench_bin="$root/target/release/piratenldap-bench"
out="$root/docs/performance-changes.md"
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"; }

growth=""
for size in $SIZES; do
  line=$("$bench_bin" changes --members "$size" --count 1000)
  echo "$line"
  growth+="| $size | $(field "$line" "round(d['build_ms']/1000, 2)") s | $(field "$line" "d['rss_mib']['with_view']-d['rss_mib']['before_view']") MiB | $(field "$line" "d['apply_cpu_ms']['p50']") ms | $(field "$line" "d['apply_cpu_ms']['p99']") ms | $(field "$line" "d['activation_cpu_ms']['p99']") ms | $(field "$line" "d['rebuild_cpu_ms']") ms |"$'\n'
done

. "$root/ops/bench/serve-populated.sh"
args=(--url "ldap://127.0.0.1:$port" --base "ou=people,dc=example,dc=org"
  --service-dn "cn=bench,ou=services,dc=example,dc=org" --service-password "$service_pw" --members "$N")
# The server's CPU (all threads, those that ended included) in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)
stream() {
  "$bench" freshness --config "$work/piratenldap.toml" "${args[@]}" --changes $(($1 * 10)) --rate 10 --stream-only
}
t0=$(server_ticks); sleep "$STREAM_SECONDS"; idle=$(($(server_ticks) - t0))
t0=$(server_ticks); stream "$STREAM_SECONDS" >"$work/stream.json"; streaming=$(($(server_ticks) - t0))
cpu_per_change=$(python3 -c "print(round(1000 * ($streaming - $idle) / $ticks_per_s / ($STREAM_SECONDS * 10), 2))")
echo "server CPU: idle $idle, streaming $streaming ticks over $STREAM_SECONDS s: $cpu_per_change ms per change"
pairs=""
ratios=()
for round in $(seq "$ROUNDS"); do
  alone=$("$bench" load "${args[@]}" --op search --connections 8 --seconds "$SECONDS_PER_RUN")
  stream "$SECONDS_PER_RUN" >/dev/null &
  stream_pid=$!
  streamed=$("$bench" load "${args[@]}" --op search --connections 8 --seconds "$SECONDS_PER_RUN")
  wait "$stream_pid"
  echo "$alone"; echo "$streamed"
  a=$(field "$alone" "d['ops_per_sec']"); b=$(field "$streamed" "d['ops_per_sec']")
  ratios+=("$(python3 -c "print($b / $a)")")
  pairs+="| $round | $a | $b | $(python3 -c "print(round(100 * $b / $a))") % |"$'\n'
done
median=$(printf '%s\n' "${ratios[@]}" | python3 -c 'import statistics,sys; print(round(100 * statistics.median(float(l) for l in sys.stdin)))')
fresh=$("$bench" freshness --config "$work/piratenldap.toml" "${args[@]}" --changes "$CHANGES" --rate 10)
echo "$fresh"
rebuilt=$(grep -c "rebuilding the directory view" "$work/serve.log" || true)

cat >"$out" <<MD
# What a change costs

Made by \`ops/bench/changes.sh\` on $(date -u +%Y-%m-%d): release build, on one machine ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')).

## One change, applied to the view in place (\`piratenldap-bench changes\`)

1 000 changes (half locks or unlocks, three in ten password changes, two in ten activations of
new accounts) applied with \`View::apply\`, each timed on the applying thread's CPU clock;
beside them one whole rebuild of the same directory (all threads' CPU). Memory is the growth of
the process's resident set while the view is built (the generated rows themselves excluded).

| members | whole build (wall) | view memory | change p50 | change p99 | activation p99 | whole rebuild (CPU) |
|---|---|---|---|---|---|---|
$growth

## On a running server with $N members

- A committed change (an account locked or unlocked through the store) is answered by a
  search on the same node after **$(field "$fresh" "d['visible_after_commit_ms']['p50']") ms** (p50), **$(field "$fresh" "d['visible_after_commit_ms']['p99']") ms** (p99),
  $(field "$fresh" "d['visible_after_commit_ms']['max']") ms at most, over $CHANGES changes at 10 per second (target: p99 ≤ 100 ms).
  The server polls the store's revision every 50 ms and applies the change's rows.
- The server's whole CPU per change (noticing the change, reading its rows, changing
  the view and swapping it in): **$cpu_per_change ms** (its CPU while 10 changes per second
  streamed in for $STREAM_SECONDS s, less its CPU idle for as long; target < 5 ms).
- Searches (8 connections, \`(&(objectClass=inetOrgPerson)(uid=…))\`, $SECONDS_PER_RUN s a run) alone and
  while 10 changes per second stream in, $ROUNDS alternating pairs: **median $median %**
  (target ≥ 90 %). The server and the load generator share the two cores with the process
  writing the changes.

| pair | alone ops/s | with changes ops/s | |
|---|---|---|---|
$pairs
- Whole rebuilds during the run (from the server's log): $rebuilt.

Raw figures:

\`\`\`
$(cat "$work/stream.json")
$fresh
\`\`\`
MD
echo "wrote $out"
