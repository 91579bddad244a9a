#!/usr/bin/env bash
# Benchmark (not a test) of the migration runner, each figure printed beside its reference
# from the same run (docs/performance.md):
#
#   apply    1,000 one-table migrations applied to an empty database, beside psql running the
#            same files in one session with one transaction per file (the floor); runs of the
#            two alternate, each on a fresh database.
#   noop     `migrate apply` with nothing pending, 1,000 and 5,000 applied (targets: 20 and
#            40 ms), beside psql reading the same state rows and events in one session.
#   status   `migrate status --env E` and `migrate plan --env E`, text and JSON, with 5,000
#            and 10,000 migrations applied (target: 0.3 s at 5,000, 10,000 at most 2.2 times
#            5,000), beside the same psql read.
#
#   bench/apply.sh [ADMIN_URL]   (default postgres://postgres@127.0.0.1:5432/postgres)
#
# SECTIONS (default "apply noop status"), COUNT (default 1000, the apply section), SIZES
# (default "5000 10000", the status section; the no-op section uses 1,000 and the first),
# RUNS (default 5) runs of each command, medians printed with every run. FAST_SETUP=1 records
# the migrations of the no-op and status databases through the state's recording function
# instead of applying them (on a loaded machine, 10,000 CREATE TABLEs take many minutes); what
# is timed is the same. SSLMODE (default
# prefer, both tools' default) is given to both tools. STAGEGATE=path uses that binary
# instead of building target/release/stagegate. KEEP=1 keeps the databases and the project
# directories at the end (their names are printed), for profiling a command on them.
set -euo pipefail
cd "$(dirname "$0")/.."

admin=${1:-postgres://postgres@127.0.0.1:5432/postgres}
base=${admin%/*}
count=${COUNT:-1000}
sizes=${SIZES:-5000 10000}
runs=${RUNS:-5}
sections=${SECTIONS:-apply noop status}
sslmode=${SSLMODE:-prefer}

if [[ -n ${STAGEGATE:-} ]]; then
  bin=$STAGEGATE
else
  cargo build --release --quiet
  bin=$PWD/target/release/stagegate
fi

work=$(mktemp -d)
cleanup() {
  if [[ -n ${KEEP:-} ]]; then
    echo "kept: projects in $work, databases:" >&2
    psql -X -At "$admin" -c "SELECT datname FROM pg_database WHERE datname LIKE 'sg\_bench\_$$\_%'" >&2
    return
  fi
  for db in $(psql -X -At "$admin" -c "SELECT datname FROM pg_database WHERE datname LIKE 'sg\_bench\_$$\_%'"); do
    psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
  rm -rf "$work"
}
trap cleanup EXIT

# A project of the first N one-table migrations (the files are shared).
largest=$count
for n in $sizes 1000; do (( n > largest )) && largest=$n; done
mkdir "$work/all"
for i in $(seq 1 "$largest"); do
  printf 'CREATE TABLE t_%05d (\n    id bigint PRIMARY KEY,\n    name text NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n' "$i" \
    > "$work/all/$(printf '%05d' "$i")_table_$i.up.sql"
done
project() {
  local n=$1 dir="$work/p$1"
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir/migrations"
    ls "$work/all" | head -n "$n" | while read -r f; do ln "$work/all/$f" "$dir/migrations/$f"; done
    printf '[environments.bench]\nurl = "${BENCH_URL}"\n' > "$dir/stagegate.toml"
  fi
  echo "$dir"
}

fresh() {
  local db="sg_bench_$$_$1"
  psql -X -q "$admin" -c "CREATE DATABASE $db"
  echo "$base/$db?sslmode=$sslmode"
}

# Wall time in ms (date, nanoseconds) and peak RSS in KB (/usr/bin/time) of a command.
measure() {
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >"$work/stdout" 2>"$work/stderr" || {
    local rc=$?
    # 0 ok; plan and status exit 0 here; anything else is a broken benchmark.
    cat "$work/stderr" >&2
    return "$rc"
  }
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) $(tail -n 1 "$work/rss")"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Times `stagegate ARGS` in project $1 against database $2, RUNS times; prints the median and
# every run.
time_sg() {
  local dir=$1 url=$2; shift 2
  local ms kb all=()
  for _ in $(seq 1 "$runs"); do
    read -r ms kb < <(cd "$dir" && BENCH_URL=$url measure "$bin" "$@")
    all+=("$ms")
  done
  echo "$(printf '%s\n' "${all[@]}" | median) ${all[*]}"
}

# The floor of reading a state: psql fetching every state row and event in one session.
time_read() {
  local url=$1 ms kb all=()
  for _ in $(seq 1 "$runs"); do
    read -r ms kb < <(measure psql -X -q -At -d "$url" \
      -c "SELECT * FROM stagegate.migrations" -c "SELECT * FROM stagegate.events ORDER BY id")
    all+=("$ms")
  done
  echo "$(printf '%s\n' "${all[@]}" | median) ${all[*]}"
}

# A database with the first N migrations applied (by stagegate), made once; its URL in
# $applied_url.
declare -A applied_db=()
applied() {
  local n=$1
  if [[ -z ${applied_db[$n]:-} ]]; then
    local url dir
    url=$(fresh "a$n")
    dir=$(project "$n")
    if [[ -n ${FAST_SETUP:-} ]]; then
      # stagegate applies the first migration (the state schema, the binding); the others
      # are recorded by the state's own recording function, as apply records them, without
      # running their CREATE TABLE (minutes on a loaded machine). Their tables are missing,
      # which status and plan do not read.
      (cd "$(project 1)" && BENCH_URL=$url "$bin" migrate apply --env bench >/dev/null 2>"$work/setup.err") \
        || { cat "$work/setup.err" >&2; exit 1; }
      psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c "DO \$\$ DECLARE t text; BEGIN
        FOR i IN 2..$n LOOP
          t := format(E'CREATE TABLE t_%s (\\n    id bigint PRIMARY KEY,\\n    name text NOT NULL,\\n    created_at timestamptz NOT NULL DEFAULT now()\\n);\\n', lpad(i::text, 5, '0'));
          PERFORM stagegate.record_apply(i::text, lpad(i::text, 5, '0'), 'table_' || i,
            'sha256:' || encode(sha256(convert_to(t, 'UTF8')), 'hex'), NULL, NULL, false,
            'bench', 1, NULL);
        END LOOP; END \$\$" >/dev/null
    else
      (cd "$dir" && BENCH_URL=$url "$bin" migrate apply --env bench >/dev/null 2>"$work/setup.err") \
        || { cat "$work/setup.err" >&2; exit 1; }
    fi
    # Every migration must read as applied, or the figures time something else.
    local summary
    summary=$(cd "$dir" && BENCH_URL=$url "$bin" migrate status --env bench | grep '^bench: [0-9]* applied,')
    [[ $summary == "bench: $n applied, 0 pending, 0 failed, 0 drift, 0 missing locally" ]] \
      || { echo "setup of $n: $summary" >&2; exit 1; }
    applied_db[$n]=$url
  fi
  applied_url=${applied_db[$n]}
}

echo "loopback, $(nproc) cores, sslmode=$sslmode, $runs runs of each, medians (ms) then every run" >&2
echo "stagegate: $bin ($("$bin" --version))"

if [[ " $sections " == *" apply "* ]]; then
  dir=$(project "$count")
  # psql: one session, one transaction per file.
  for f in "$dir"/migrations/*.up.sql; do printf 'BEGIN;\n\\i %s\nCOMMIT;\n' "$f"; done > "$work/psql.sql"
  psql_ms=(); sg_ms=(); psql_kb=(); sg_kb=()
  for r in $(seq 1 "$runs"); do
    url=$(fresh "p$r")
    read -r ms kb < <(measure psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$work/psql.sql")
    psql_ms+=("$ms"); psql_kb+=("$kb")
    url=$(fresh "s$r")
    read -r ms kb < <(cd "$dir" && BENCH_URL=$url measure "$bin" migrate apply --env bench)
    sg_ms+=("$ms"); sg_kb+=("$kb")
    applied_db[$count]=$url
  done
  recorded=$(psql -X -At -d "${applied_db[$count]}" -c "SELECT count(*) FROM stagegate.migrations WHERE status = 'applied'")
  p=$(printf '%s\n' "${psql_ms[@]}" | median)
  s=$(printf '%s\n' "${sg_ms[@]}" | median)
  echo
  echo "apply of $count one-table migrations to an empty database"
  printf '  psql, 1 session, 1 transaction per file : %6d ms  peak %6d KB  runs %s\n' "$p" \
    "$(printf '%s\n' "${psql_kb[@]}" | median)" "${psql_ms[*]}"
  printf '  stagegate migrate apply                 : %6d ms  peak %6d KB  runs %s\n' "$s" \
    "$(printf '%s\n' "${sg_kb[@]}" | median)" "${sg_ms[*]}"
  echo "  stagegate / psql: $(ratio "$s" "$p") (target 1.05); $recorded recorded applied"
fi

if [[ " $sections " == *" noop "* ]]; then
  first=${sizes%% *}
  echo
  echo "migrate apply with nothing pending"
  for n in 1000 "$first"; do
    applied "$n"; url=$applied_url
    read -r s sall < <(time_sg "$(project "$n")" "$url" migrate apply --env bench)
    read -r p pall < <(time_read "$url")
    target=$(( n <= 1000 ? 20 : 40 ))
    printf '  %5d applied: stagegate %5d ms (target %d; runs %s)   psql reading the state %5d ms (runs %s)\n' \
      "$n" "$s" "$target" "$sall" "$p" "$pall"
  done
fi

if [[ " $sections " == *" status "* ]]; then
  declare -A med=()
  commands=("migrate status --env bench" "migrate status --env bench --format json"
            "migrate plan --env bench" "migrate plan --env bench --format json")
  for n in $sizes; do
    applied "$n"; url=$applied_url
    dir=$(project "$n")
    echo
    echo "$n migrations, all applied"
    read -r p pall < <(time_read "$url")
    printf '  %-36s %5d ms  (runs %s)\n' "psql reading the state" "$p" "$pall"
    for cmd in "${commands[@]}"; do
      # shellcheck disable=SC2086
      read -r s sall < <(time_sg "$dir" "$url" $cmd)
      med["$cmd $n"]=$s
      printf '  %-36s %5d ms  (runs %s)\n' "stagegate ${cmd/ --env bench/}" "$s" "$sall"
    done
  done
  set -- $sizes
  if (( $# >= 2 )); then
    echo
    echo "growth from $1 to $2 migrations (target: at most 2.2; at $1 at most 300 ms)"
    for cmd in "${commands[@]}"; do
      printf '  %-36s %s\n' "stagegate ${cmd/ --env bench/}" "$(ratio "${med["$cmd $2"]}" "${med["$cmd $1"]}")"
    done
  fi
fi
