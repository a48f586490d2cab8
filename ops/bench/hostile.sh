#!/usr/bin/env bash
# Issue 13's hostile-load measurements (ops/bench/hostile.py) against a release build with N
# members (default 20 000). Loopback only (127.0.0.1, 127.0.0.2); every loop is bounded.
# Usage: ops/bench/hostile.sh [N]   (PIRATENLDAP_BIN / PIRATENLDAP_BENCH override the binaries)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-20000}"
pl="${PIRATENLDAP_BIN:-$root/target/release/piratenldap}"
bench="${PIRATENLDAP_BENCH:-$root/target/release/piratenldap-bench}"
ulimit -n 16384
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$pl" --config "$work/piratenldap.toml" init --ldap-listen "127.0.0.1:$port" \
  --ldaps-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >/dev/null
"$bench" populate --config "$work/piratenldap.toml" --members "$N" --all-active >/dev/null
service_pw=$("$pl" --config "$work/piratenldap.toml" service add bench | sed -n 's/^password: //p')
"$pl" --config "$work/piratenldap.toml" serve >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "directory view built" "$work/serve.log" 2>/dev/null && break; sleep 0.2; done
python3 "$root/ops/bench/hostile.py" "$port" "$pid" "$work/data" "$N" "$service_pw"
