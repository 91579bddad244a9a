#!/usr/bin/env bash
# Benchmark (not a test): `stagegate lint DIR` beside squawk on the same generated migrations
# (the files of `cargo bench --bench lint`: fixed content, ~2.5 KB each, sqlx layout), in one
# run, the tools alternating; prints the median wall time and CPU time (user + system) of
# each, their ratios to squawk's, and the peak RSS.
#
#   bench/lint-vs-squawk.sh [COUNT]   (default 2000)
#
# SQUAWK (default: squawk on PATH) is the squawk binary, e.g. from `pip install
# squawk-cli==2.70.0`. RUNS (default 7) runs of each tool. stagegate runs with its default
# number of workers (the processors), and also with `--jobs 1` for reference. On a shared
# machine, compare the ratio of one run, not absolute times; the load is printed beside them.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-2000}
runs=${RUNS:-7}
squawk=${SQUAWK:-squawk}
command -v "$squawk" >/dev/null || { echo "squawk not found (set SQUAWK, or pip install squawk-cli==2.70.0)" >&2; exit 2; }

cargo build --release --quiet --bin stagegate
bin=$PWD/target/release/stagegate

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The lint benchmark's generator writes the files and exits.
STAGEGATE_BENCH_WRITE="$work/migrations" STAGEGATE_BENCH_FILES=$count \
  cargo bench --quiet --bench lint >/dev/null
files=("$work"/migrations/*.sql)
[ "${#files[@]}" -eq "$count" ] || { echo "expected $count files, found ${#files[@]}" >&2; exit 1; }

# Wall time in ms (date, nanoseconds), peak RSS in KB and CPU time (user + system) in ms
# (/usr/bin/time) of a command; exit 0 or 1 (findings) is success for both tools.
measure() {
  local start end status=0
  start=$(date +%s%N)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$@" >"$work/stdout" 2>"$work/stderr" || status=$?
  end=$(date +%s%N)
  if [ "$status" -gt 1 ]; then cat "$work/stderr" >&2; return 1; fi
  echo "$(( (end - start) / 1000000 )) $(tail -n 1 "$work/rss" | awk '{ printf "%d %d", $1, ($2 + $3) * 1000 }')"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
maximum() { sort -n | tail -n 1; }

# Run from the empty work directory: no stagegate.toml or .squawk.toml applies.
cd "$work"
# One untimed run of each, to warm the page cache and count what they report.
"$squawk" "${files[@]}" >"$work/squawk.out" 2>&1 || true
"$bin" lint migrations --format json >"$work/stagegate.json" 2>/dev/null || true
sg_findings=$(grep -o '"code":' "$work/stagegate.json" | wc -l)
sq_lines=$(wc -l <"$work/squawk.out")

echo "$count files, $runs runs of each tool alternating, $(nproc) cores; load before: $(uptime | sed 's/.*load average: //')" >&2
sq_ms=(); sq_kb=(); sq_cpu=(); sg_ms=(); sg_kb=(); sg_cpu=(); one_ms=(); one_kb=(); one_cpu=()
for _ in $(seq 1 "$runs"); do
  read -r ms kb cpu < <(measure "$squawk" "${files[@]}"); sq_ms+=("$ms"); sq_kb+=("$kb"); sq_cpu+=("$cpu")
  read -r ms kb cpu < <(measure "$bin" lint migrations); sg_ms+=("$ms"); sg_kb+=("$kb"); sg_cpu+=("$cpu")
  read -r ms kb cpu < <(measure "$bin" lint --jobs 1 migrations); one_ms+=("$ms"); one_kb+=("$kb"); one_cpu+=("$cpu")
done
load_after=$(uptime | sed 's/.*load average: //')

q=$(printf '%s\n' "${sq_ms[@]}" | median)
s=$(printf '%s\n' "${sg_ms[@]}" | median)
o=$(printf '%s\n' "${one_ms[@]}" | median)
qc=$(printf '%s\n' "${sq_cpu[@]}" | median)
sc=$(printf '%s\n' "${sg_cpu[@]}" | median)
oc=$(printf '%s\n' "${one_cpu[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "medians               wall ms   ratio    CPU ms   ratio   peak KB" >&2
printf 'squawk %-12s  %8d  %6s  %8d  %6s  %8d   (%s output lines)\n' "$("$squawk" --version | awk '{ print $2 }')" \
  "$q" 1.00 "$qc" 1.00 "$(printf '%s\n' "${sq_kb[@]}" | maximum)" "$sq_lines"
printf 'stagegate lint        %8d  %6s  %8d  %6s  %8d   (%s findings)\n' \
  "$s" "$(ratio "$s" "$q")" "$sc" "$(ratio "$sc" "$qc")" "$(printf '%s\n' "${sg_kb[@]}" | maximum)" "$sg_findings"
printf 'stagegate --jobs 1    %8d  %6s  %8d  %6s  %8d\n' \
  "$o" "$(ratio "$o" "$q")" "$oc" "$(ratio "$oc" "$qc")" "$(printf '%s\n' "${one_kb[@]}" | maximum)"
echo "load after: $load_after"
echo "all runs, wall ms: squawk ${sq_ms[*]} | stagegate ${sg_ms[*]} | --jobs 1 ${one_ms[*]}"
