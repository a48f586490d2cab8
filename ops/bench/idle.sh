#!/usr/bin/env bash
# Issue 13's idle-connection measurement: the search rate of 8 service connections
# (`piratenldap-bench load --op search`) alone, then while 5 000 connections that never bind
# are held from 50 loopback addresses (127.0.0.2–127.0.0.51, 100 each), against a release
# build with N members (default 20 000). Prints one JSON line per phase. Loopback only; every
# loop is bounded (the holder gives up after 60 s).
# Usage: ops/bench/idle.sh [N] [SECONDS]   (PIRATENLDAP_BIN / PIRATENLDAP_BENCH override)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-20000}"
SECONDS_PER_RUN="${2:-10}"
ulimit -n 16384
. "$root/ops/bench/serve-populated.sh"
load() {
  "$bench" load --url "ldap://127.0.0.1:$port" --base "ou=people,dc=example,dc=org" \
    --service-dn "cn=bench,ou=services,dc=example,dc=org" --service-password "$service_pw" \
    --members "$N" --op search --connections 8 --seconds "$SECONDS_PER_RUN"
}
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
echo "{\"phase\":\"alone\",\"rss_mb\":$(rss),\"load\":$(load)}"
# The holder opens the connections, says "held N", holds them until stdin closes, then prints
# how many the server had kept open.
coproc HOLDER { python3 "$root/ops/bench/idle_holder.py" "$port" 5000 50; }
read -r _ opened <&"${HOLDER[0]}"
during=$(load)
echo "{\"phase\":\"with idle connections\",\"opened\":$opened,\"rss_mb\":$(rss),\"load\":$during}"
exec {HOLDER[1]}>&-
read -r _ still_open <&"${HOLDER[0]}"
echo "{\"phase\":\"after\",\"idle_still_open\":$still_open}"
