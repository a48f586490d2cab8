#!/usr/bin/env bash
# One `piratenldap-bench load` operation (OP, default `groups`: the NSS group lookup
# `(&(objectClass=posixGroup)(memberUid=<member>))`, where every automatic group lists every
# active member) against one piratenldap binary with N members, at 1 and 8 connections: for
# comparing two builds without slapd.
# Usage: [OP=search] ops/bench/one-op.sh [N] [SECONDS]   (PIRATENLDAP_BIN / PIRATENLDAP_BENCH:
# binaries; default target/release). One JSON line per run. Loopback only; bounded by SECONDS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-20000}"
SECONDS_PER_RUN="${2:-10}"
OP="${OP:-groups}"
pl="${PIRATENLDAP_BIN:-$root/target/release/piratenldap}"
bench="${PIRATENLDAP_BENCH:-$root/target/release/piratenldap-bench}"
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
for c in 1 8; do
  "$bench" load --url "ldap://127.0.0.1:$port" --base "ou=people,dc=example,dc=org" \
    --service-dn "cn=bench,ou=services,dc=example,dc=org" --service-password "$service_pw" \
    --members "$N" --op "$OP" --connections "$c" --seconds "$SECONDS_PER_RUN"
done
