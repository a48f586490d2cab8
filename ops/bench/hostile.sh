#!/usr/bin/env bash
# Issue 13's hostile-load measurements (ops/bench/hostile.py) against a release build with N
# members (default 20 000). Loopback only (127.0.0.1, 127.0.0.2); every loop is bounded.
# Usage: ops/bench/hostile.sh [N]   (PIRATENLDAP_BIN / PIRATENLDAP_BENCH override the binaries)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-20000}"
ulimit -n 16384
. "$root/ops/bench/serve-populated.sh"
python3 "$root/ops/bench/hostile.py" "$port" "$pid" "$work/data" "$N" "$service_pw"
