#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 server (Debian's postgresql-15 package), then
# stops and removes the server, and exits with the command's status. The command finds the server
# in DATABASE_URL and BENCH_DATABASE_URL (database "postgres", user and password "postgres"); the
# tests (test/global-setup.ts) and the benchmarks (bench/support.ts) create their own databases on it.
#
#   scripts/with-pg15.sh [--durable] <command> [args...]
#
# Without --durable the server runs as the tests' embedded one does (fsync and synchronous_commit
# off); with it, as the benchmarks' embedded one does (PostgreSQL's defaults, max_connections=200),
# so that timings compare. PG15_BIN overrides where the server binaries are (default
# /usr/lib/postgresql/15/bin); PG15_EXTRA_SETTINGS adds server settings (e.g.
# "-c shared_preload_libraries=pg_stat_statements" for npm run bench:writes's BENCH_STATEMENTS).
set -euo pipefail

settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
if [[ "${1:-}" == "--durable" ]]; then
  settings="-c max_connections=200"
  shift
fi
settings="$settings ${PG15_EXTRA_SETTINGS:-}"

PG_BIN="${PG15_BIN:-/usr/lib/postgresql/15/bin}"
for tool in initdb pg_ctl postgres; do
  if [[ ! -x "$PG_BIN/$tool" ]]; then
    echo "PostgreSQL 15 server binaries not found in $PG_BIN." >&2
    echo "On Debian or Ubuntu: apt-get install -y postgresql-15 (as root), or set PG15_BIN to their directory." >&2
    exit 2
  fi
done
if [[ $# -eq 0 ]]; then
  echo "usage: $0 [--durable] <command> [args...]" >&2
  exit 2
fi

# initdb and postgres refuse to run as root: as root, the server runs as the "postgres" OS user
# (created if missing), in a directory of /tmp that this user owns.
as_server=()
base="${TMPDIR:-/tmp}"
if [[ "$(id -u)" -eq 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  as_server=(runuser -u postgres --)
  base=/tmp
fi
server() { ${as_server[@]+"${as_server[@]}"} "$@"; }

dir="$(mktemp -d "$base/auth-pg15-XXXXXX")"
if [[ ${#as_server[@]} -gt 0 ]]; then chown postgres: "$dir"; fi
started=""
cleanup() {
  if [[ -n "$started" ]]; then server "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

locale=C
if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
echo postgres >"$dir/password"
chmod 644 "$dir/password"
server "$PG_BIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/password" --auth=scram-sha-256 \
  --encoding=UTF8 --locale="$locale" >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
rm -f "$dir/password"

port="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
# TCP on loopback only; the socket in the temporary directory.
started=1
server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir $settings" start >/dev/null || {
  cat "$dir/server.log" >&2
  exit 1
}
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2

export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:$port/postgres"
export BENCH_DATABASE_URL="$DATABASE_URL"
set +e
"$@"
status=$?
set -e
exit "$status"
