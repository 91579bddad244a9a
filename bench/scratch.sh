#!/usr/bin/env bash
# Benchmark (not a test): start-up of the throwaway scratch cluster (src/scratch.rs), RUNS
# times (default 10), beside the floor: a bare initdb + pg_ctl start -w + pg_ctl stop of the
# same settings, from the same binaries, in the same temporary directory, as the same user.
#
#   bench/scratch.sh [BIN_DIR]   (default: pg_config --bindir)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-10}
bin=${1:-$(pg_config --bindir)}

echo "== stagegate::scratch::Cluster"
cargo bench --quiet --bench scratch -- "$runs"

# As root, run the server programs as postgres (else nobody), as Cluster does.
as_user=()
owner=
if [ "$(id -u)" = 0 ]; then
  user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  as_user=(runuser -u "$user" --)
  owner=$user
fi

ms() { echo $(( ($2 - $1) / 1000000 )); }
starts=() stops=() totals=()
for _ in $(seq 1 "$runs"); do
  # A free port, found outside the timing (python may start slowly behind a version shim).
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  t0=$(date +%s%N)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/stagegate-floor-XXXXXX")
  [ -n "$owner" ] && chown "$owner" "$dir"
  TZ=UTC "${as_user[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
  # The same settings as SETTINGS in src/scratch.rs.
  cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
wal_level = minimal
max_wal_senders = 0
huge_pages = off
jit = off
unix_socket_directories = '$dir'
port = $port
CONF
  "${as_user[@]}" "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -s
  t1=$(date +%s%N)
  "${as_user[@]}" "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -s
  rm -rf "$dir"
  t2=$(date +%s%N)
  starts+=("$(ms "$t0" "$t1")") stops+=("$(ms "$t1" "$t2")") totals+=("$(ms "$t0" "$t2")")
done

summary() {
  printf '%s\n' "${@:2}" | sort -n | awk -v what="$1" '{ a[NR] = $1 } END { printf "  %s: median %d ms, fastest %d ms\n", what, a[int((NR + 1) / 2)], a[1] }'
}
echo "== floor: initdb + pg_ctl start -w, then pg_ctl stop -m immediate + rm -rf ($runs runs)"
summary "initdb + pg_ctl start -w" "${starts[@]}"
summary "pg_ctl stop -m immediate + rm -rf" "${stops[@]}"
summary "total" "${totals[@]}"
