#!/usr/bin/env bash
# Benchmark (not a test): apply 1,000 small migrations (one small table each) to an empty
# database with stagegate, beside psql running the same files in one session with one
# transaction per file; then a no-op apply with nothing pending; peak memory of each run.
# Connection set-up is measured by `cargo bench --bench connect`.
#
#   bench/apply.sh [ADMIN_URL] [COUNT]   (default postgres://postgres@127.0.0.1:5432/postgres, 1000)
#
# SSLMODE (default prefer, both tools' default) is given to both tools: `disable` compares
# plain connections, `require` TLS ones. RUNS (default 5) alternating runs of each tool.
set -euo pipefail
cd "$(dirname "$0")/.."

admin=${1:-postgres://postgres@127.0.0.1:5432/postgres}
count=${2:-1000}
base=${admin%/*}
runs=${RUNS:-5}
sslmode=${SSLMODE:-prefer}

cargo build --release --quiet
bin=$PWD/target/release/stagegate

work=$(mktemp -d)
dbs=()
cleanup() {
  for db in "${dbs[@]}"; do psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/migrations"
for i in $(seq 1 "$count"); do
  printf 'CREATE TABLE t_%04d (\n    id bigint PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n' "$i" \
    > "$work/migrations/$(printf '%04d' "$i")_table_$i.up.sql"
done
cat > "$work/stagegate.toml" <<TOML
[environments.bench]
url = "\${BENCH_URL}"
TOML
# psql: one session, one transaction per file.
for f in "$work"/migrations/*.up.sql; do printf 'BEGIN;\n\\i %s\nCOMMIT;\n' "$f"; done > "$work/psql.sql"

fresh() {
  local db="sg_bench_$$_$1"
  psql -X -q "$admin" -c "CREATE DATABASE $db"
  dbs+=("$db")
  echo "$base/$db?sslmode=$sslmode"
}

# Wall time in ms (date, nanoseconds) and peak RSS in KB (/usr/bin/time) of a command.
measure() {
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) $(tail -n 1 "$work/rss")"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
minimum() { sort -n | head -n 1; }

echo "$count migrations, $runs runs each, medians (loopback, $(nproc) cores, sslmode=$sslmode)" >&2
psql_ms=(); sg_ms=(); sg_kb=(); psql_kb=()
for r in $(seq 1 "$runs"); do
  url=$(fresh "p$r")
  read -r ms kb < <(measure psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$work/psql.sql")
  psql_ms+=("$ms"); psql_kb+=("$kb")
  url=$(fresh "s$r")
  read -r ms kb < <(cd "$work" && BENCH_URL=$url measure "$bin" migrate apply --env bench)
  sg_ms+=("$ms"); sg_kb+=("$kb")
done
noop_ms=(); noop_kb=()
for r in $(seq 1 10); do
  read -r ms kb < <(cd "$work" && BENCH_URL=$url measure "$bin" migrate apply --env bench)
  noop_ms+=("$ms"); noop_kb+=("$kb")
done
applied=$(psql -X -At -d "$url" -c "SELECT count(*) FROM stagegate.migrations WHERE status = 'applied'")

p=$(printf '%s\n' "${psql_ms[@]}" | median)
s=$(printf '%s\n' "${sg_ms[@]}" | median)
n=$(printf '%s\n' "${noop_ms[@]}" | median)
printf 'psql, 1 session, 1 transaction per file : %6d ms   peak %6d KB\n' "$p" "$(printf '%s\n' "${psql_kb[@]}" | median)"
printf 'stagegate migrate apply                 : %6d ms   peak %6d KB   (%+.1f %% vs psql; %s recorded)\n' \
  "$s" "$(printf '%s\n' "${sg_kb[@]}" | sort -n | tail -n 1)" "$(awk -v s="$s" -v p="$p" 'BEGIN { print (s - p) * 100 / p }')" "$applied"
printf 'stagegate apply, nothing pending        : %6d ms   peak %6d KB\n' "$n" "$(printf '%s\n' "${noop_kb[@]}" | sort -n | tail -n 1)"
pm=$(printf '%s\n' "${psql_ms[@]}" | minimum)
sm=$(printf '%s\n' "${sg_ms[@]}" | minimum)
printf 'fastest runs: psql %d ms, stagegate %d ms (%+.1f %%), no-op %d ms\n' "$pm" "$sm" \
  "$(awk -v s="$sm" -v p="$pm" 'BEGIN { print (s - p) * 100 / p }')" "$(printf '%s\n' "${noop_ms[@]}" | minimum)"
echo "all runs (ms), psql and stagegate alternating: psql ${psql_ms[*]} | stagegate ${sg_ms[*]} | no-op ${noop_ms[*]}"
