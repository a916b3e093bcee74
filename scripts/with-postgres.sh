#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at PostgreSQL.
# With POSTGRES_TEST_URL set, that server is used. Otherwise a throwaway cluster is made in a
# temporary folder, started on a free loopback port, and removed when the command ends.
set -euo pipefail

if [ -n "${POSTGRES_TEST_URL:-}" ]; then
  DATABASE_URL="$POSTGRES_TEST_URL" exec "$@"
fi

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
else
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && bindir=$dir; done
fi
if [ -z "$bindir" ]; then
  echo "PostgreSQL server not found: install it (apt-get install postgresql) or set POSTGRES_TEST_URL." >&2
  exit 1
fi

workdir=$(mktemp -d /tmp/progmetal-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  chown postgres "$workdir"
  as_owner=(runuser -u postgres --)
fi

stop() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap stop EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$workdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $workdir -c fsync=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres progmetal

DATABASE_URL="postgres://postgres@127.0.0.1:$port/progmetal" "$@"
