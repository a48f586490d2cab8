#!/bin/sh
# Usage (as root): try-in-namespace.sh NSLCD.CONF COMMAND…
# Runs nslcd with NSLCD.CONF and then each COMMAND (a shell command line, e.g.
# 'getent passwd alice') in a private mount and PID namespace, where /etc/nslcd.conf,
# /etc/nsswitch.conf ("passwd: files ldap", "group: files ldap") and /run are replaced.
# Nothing outside changes; nslcd ends with the namespace. Prints "== COMMAND", its output
# and "== exit N" for each command. For trying a configuration before installing it, and
# for tests/tests/e2e/clients_nslcd.rs.
set -eu
if [ "${1:-}" != --inside ]; then
  exec unshare --mount --pid --kill-child --propagation private "$0" --inside "$@"
fi
shift
conf=$(realpath "$1")
shift
tmp=$(mktemp -d)
printf 'passwd: files ldap\ngroup: files ldap\nshadow: files\n' > "$tmp/nsswitch.conf"
mount --bind "$tmp/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$conf" /etc/nslcd.conf
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/nslcd
chown nslcd:nslcd /run/nslcd
nslcd -d 2> "$tmp/nslcd.log" &
i=0
until [ -S /run/nslcd/socket ]; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then
    echo "nslcd did not start:" >&2
    cat "$tmp/nslcd.log" >&2
    exit 2
  fi
  sleep 0.1
done
for command in "$@"; do
  echo "== $command"
  status=0
  sh -c "$command" || status=$?
  echo "== exit $status"
done
if [ -n "${NSLCD_LOG:-}" ]; then
  cp "$tmp/nslcd.log" "$NSLCD_LOG"
fi
rm -rf "$tmp"
