#!/usr/bin/env bash
# Issue 14's single sign-on benchmark: web logins through /login against LDAP binds in the same
# run (both one argon2 verification, production parameters), and code-for-token exchanges at
# /oauth2/token, at 8 and 32 connections, against a release build with N members (default
# 20 000). One JSON line per phase. Loopback only; bounded by SECONDS per phase.
# Usage: ops/bench/sso.sh [N] [SECONDS]   (PIRATENLDAP_BIN / PIRATENLDAP_BENCH override)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-20000}"
SECONDS_PER_RUN="${2:-10}"
. "$root/ops/bench/serve-populated.sh"
out=$("$pl" --config "$work/piratenldap.toml" service add bench-sso --oidc --redirect-uri http://127.0.0.1:9/cb)
secret=$(sed -n 's/^client_secret: //p' <<<"$out")
issuer=$(sed -n 's/^issuer: //p' <<<"$out")
sleep 2   # the running server's view picks up the new client
"$bench" sso --issuer "$issuer" --ldap-url "ldap://127.0.0.1:$port" --client-id bench-sso \
  --client-secret "$secret" --redirect-uri http://127.0.0.1:9/cb --members "$N" \
  --connections 8,32 --seconds "$SECONDS_PER_RUN"
