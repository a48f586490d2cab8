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
. "$root/ops/bench/serve-populated.sh"
for c in 1 8; do
  "$bench" load --url "ldap://127.0.0.1:$port" --base "ou=people,dc=example,dc=org" \
    --service-dn "cn=bench,ou=services,dc=example,dc=org" --service-password "$service_pw" \
    --members "$N" --op "$OP" --connections "$c" --seconds "$SECONDS_PER_RUN"
done
