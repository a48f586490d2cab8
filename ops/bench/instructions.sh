#!/usr/bin/env bash
# Instructions the server spends per bare `(uid=…)` search, counted by callgrind: unlike a rate
# or CPU time it does not move with a noisy host, so it compares two builds of the same code
# path run to run (issue 17). User-space instructions only; the kernel's TCP work is not in it.
# For each binary: an installation with N members, the server under valgrind with
# instrumentation switched on once the view is built, a load run of 12 s and one of 30 s at 4
# connections (each begins with the same binds), and the difference of the two counts divided
# by the difference of their searches.
# Usage: [N=100000] ops/bench/instructions.sh [BINARY ...]   (default target/release/piratenldap)
# Needs valgrind (installed with apt-get if missing). Loopback only; about 2 minutes a binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${N:-100000}"
if ! command -v callgrind_control >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind >/dev/null
fi
[ $# -gt 0 ] || set -- "$root/target/release/piratenldap"
cargo build --release -q -p piratenldap-cli -p piratenldap-bench
for binary in "$@"; do
  (
    PIRATENLDAP_BIN="$binary"
    out=$(mktemp -d)
    serve_under=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$out/cg.%p")
    view_wait=300
    . "$root/ops/bench/serve-populated.sh"
    callgrind_control -i on "$pid" >/dev/null 2>&1
    searches() {
      "$bench" load --url "ldap://127.0.0.1:$port" --base "ou=people,dc=example,dc=org" \
        --service-dn "cn=bench,ou=services,dc=example,dc=org" --service-password "$service_pw" \
        --members "$N" --op search --bare-filter --connections 4 --seconds "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["ops"])'
    }
    # Instructions since the counters were zeroed, summed over the dump's files.
    counted() {
      callgrind_control -d "$pid" >/dev/null 2>&1
      sleep 1
      cat "$out"/cg.* | awk '/^summary:/ {s += $2} END {printf "%.0f\n", s}'
      rm -f "$out"/cg.*
    }
    callgrind_control -z "$pid" >/dev/null 2>&1
    short=$(searches 12); short_ir=$(counted)
    callgrind_control -z "$pid" >/dev/null 2>&1
    long=$(searches 30); long_ir=$(counted)
    rm -rf "$out"
    python3 -c "print('$binary: %d instructions per search (%d and %d searches)' % (($long_ir - $short_ir) / ($long - $short), $short, $long))"
  )
done
