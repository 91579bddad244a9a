#!/usr/bin/env bash
# Benchmark (not a test): `stagegate lint DIR` beside squawk on the same migrations, in one
# run, the tools alternating; prints per input the median wall time and CPU time (user +
# system) of each, their ratios to squawk's, and the peak RSS. See docs/performance.md.
#
#   bench/lint-vs-squawk.sh [INPUT...]   (default: real fixtures generated)
#
# Inputs, each at 1x, 10x and 100x its files (MULTIPLIERS, default "1 10 100"):
#   real       the 434 up migrations of bench/corpus (crates.io, concourse), copied k times
#   fixtures   the 133 up migrations of fixtures/ (all layouts), copied k times
#   generated  200 x k migrations of bench/gen-migrations.py (shaped like real projects')
# Each input is one flat directory of `<version>_<name>.up.sql` files: stagegate lints the
# directory, squawk the pattern `DIR/*.up.sql` (it expands it itself: 43,400 paths would not
# fit on a command line).
#
# SQUAWK (default: squawk on PATH) is the squawk binary, e.g. from a virtual environment
# with `pip install squawk-cli==2.70.0`. RUNS (default 5) runs of each tool per input.
# stagegate runs with its default number of workers (the processors) and with `--jobs 1`.
# The release binary is built first (STAGEGATE=path skips that and uses that binary). Both
# tools write their text report to a file. On a shared machine compare the ratios within
# one run, not absolute times; the load is printed beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

runs=${RUNS:-5}
multipliers=${MULTIPLIERS:-1 10 100}
squawk=${SQUAWK:-squawk}
command -v "$squawk" >/dev/null || {
  echo "squawk not found: set SQUAWK, or python3 -m venv v && v/bin/pip install squawk-cli==2.70.0" >&2
  exit 2
}
inputs=("$@")
[ ${#inputs[@]} -gt 0 ] || inputs=(real fixtures generated)

if [ -n "${STAGEGATE:-}" ]; then
  bin=$STAGEGATE
else
  cargo build --release --quiet --bin stagegate
  bin=$repo/target/release/stagegate
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The up migrations of an input, one path a line, in their order.
sources() {
  case $1 in
    real)
      find bench/corpus/crates-io/migrations -name up.sql | sort
      find bench/corpus/concourse/migrations -name '*.up.sql' | sort
      ;;
    fixtures)
      find fixtures -name '*.sql' ! -path 'fixtures/layouts/bad/*' ! -name '*down*' \
        ! -name '*verify*' ! -name 'U*' | sort
      ;;
    *) echo "unknown input $1 (real, fixtures, generated)" >&2; exit 2 ;;
  esac
}

# Fills directory $3 with input $1 at multiplier $2: copy c of source i is migration
# c * 10000 + i + 1, named after the source's directory or file.
make_input() {
  local input=$1 k=$2 dir=$3
  mkdir -p "$dir"
  if [ "$input" = generated ]; then
    python3 bench/gen-migrations.py $((200 * k)) "$dir"
    return
  fi
  # One process for all the copies (43,400 files at 100x).
  sources "$input" | python3 -c '
import os, re, shutil, sys
k, out = int(sys.argv[1]), sys.argv[2]
files = sys.stdin.read().splitlines()
for c in range(k):
    for i, path in enumerate(files):
        name = path[: -len(".sql")].removesuffix(".up")
        if os.path.basename(name) == "up":
            name = os.path.dirname(name)
        name = re.sub("[^A-Za-z0-9_]", "_", os.path.basename(name))
        shutil.copyfile(path, f"{out}/{c * 10000 + i + 1:08d}_{name}.up.sql")
' "$k" "$dir"
}

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
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
maximum() { tr ' ' '\n' | grep . | sort -n | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "$(nproc) cores, $runs runs of each tool alternating; $("$squawk" --version); stagegate $("$bin" --version | awk '{ print $2 }')"
printf '%-10s %6s %7s  %-20s %8s %6s %8s %6s %9s\n' input files MB tool "wall ms" ratio "CPU ms" ratio "peak KB"
for input in "${inputs[@]}"; do
  for k in $multipliers; do
    dir=$work/$input-$k
    make_input "$input" "$k" "$dir"
    count=$(find "$dir" -name '*.up.sql' | wc -l)
    mb=$(du -sb "$dir" | awk '{ printf "%.2f", $1 / 1000000 }')
    load_before=$(cut -d ' ' -f 1 /proc/loadavg)
    # One untimed run of each, to warm the page cache.
    "$squawk" "$dir/*.up.sql" >/dev/null 2>&1 || true
    "$bin" lint "$dir" >/dev/null 2>&1 || true
    declare -A wall=() cpu=() rss=()
    for _ in $(seq 1 "$runs"); do
      for tool in squawk stagegate jobs1; do
        case $tool in
          squawk) cmd=("$squawk" "$dir/*.up.sql") ;;
          stagegate) cmd=("$bin" lint "$dir") ;;
          jobs1) cmd=("$bin" lint --jobs 1 "$dir") ;;
        esac
        read -r ms kb cpums < <(measure "${cmd[@]}")
        wall[$tool]+="$ms "; cpu[$tool]+="$cpums "; rss[$tool]+="$kb "
      done
    done
    qw=$(median <<<"${wall[squawk]}"); qc=$(median <<<"${cpu[squawk]}")
    for tool in squawk stagegate jobs1; do
      w=$(median <<<"${wall[$tool]}"); c=$(median <<<"${cpu[$tool]}")
      label=$tool
      [ "$tool" = stagegate ] && label="stagegate lint"
      [ "$tool" = jobs1 ] && label="stagegate --jobs 1"
      printf '%-10s %6d %7s  %-20s %8d %6s %8d %6s %9d\n' "$input ${k}x" "$count" "$mb" "$label" \
        "$w" "$(ratio "$w" "$qw")" "$c" "$(ratio "$c" "$qc")" "$(maximum <<<"${rss[$tool]}")"
    done
    echo "           load $load_before -> $(cut -d ' ' -f 1 /proc/loadavg); wall ms: squawk ${wall[squawk]}| stagegate ${wall[stagegate]}| --jobs 1 ${wall[jobs1]}"
    unset wall cpu rss
    rm -rf "$dir"
  done
done
