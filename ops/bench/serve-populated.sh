# Sourced by the one-build benchmarks (one-op.sh, hostile.sh, changes.sh, instructions.sh): makes an installation with $N
# generated members and a service `bench`, and serves it. Sets: pl, bench (binaries), work,
# port (LDAP on 127.0.0.1), http_port, pid (the server) and service_pw; the server and $work are removed
# on exit. Needs $root and $N. Optional, set before sourcing: serve_under (an array: a command
# the server runs under, such as valgrind) and view_wait (seconds to wait for the view; 20).
pl="${PIRATENLDAP_BIN:-$root/target/release/piratenldap}"
bench="${PIRATENLDAP_BENCH:-$root/target/release/piratenldap-bench}"
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)   # a fixed port: it is the single sign-on issuer (http.public_url)
"$pl" --config "$work/piratenldap.toml" init --ldap-listen "127.0.0.1:$port" \
  --ldaps-listen 127.0.0.1:0 --http-listen "127.0.0.1:$http_port" >/dev/null
"$bench" populate --config "$work/piratenldap.toml" --members "$N" --all-active >/dev/null
service_pw=$("$pl" --config "$work/piratenldap.toml" service add bench | sed -n 's/^password: //p')
${serve_under[@]+"${serve_under[@]}"} "$pl" --config "$work/piratenldap.toml" serve >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq $((${view_wait:-20} * 5))); do grep -q "directory view built" "$work/serve.log" 2>/dev/null && break; sleep 0.2; done
