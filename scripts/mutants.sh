#!/usr/bin/env bash
# Mutation testing of the safety-critical code, one group of files at a time, each with the
# tests that cover it (see docs/testing.md). Usage:
#
#   scripts/mutants.sh GROUP [cargo-mutants options...]     e.g. scripts/mutants.sh audit
#   scripts/mutants.sh list                                 the groups, their files and tests
#
# Extra options go to cargo-mutants: `--shard 1/4` splits a group across machines, `--list`
# only lists its mutants, `--in-diff FILE` keeps the mutants in the lines a diff touches.
# Mutants build one at a time in target/mutants-build (STAGEGATE_MUTANTS_TARGET), kept
# between runs.
# Results: target/mutants/GROUP/mutants.out (caught.txt, missed.txt, unviable.txt, timeout.txt).
# Needs cargo-mutants (`cargo install --locked cargo-mutants`), cargo-nextest, and what the
# end-to-end tests need (a PostgreSQL, the client programs, `bash scripts/test-deps.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

# group | files (cargo-mutants --file globs) | nextest options | nextest filter expression.
# `events` needs only the unit tests (one crate to rebuild per mutant); the others rebuild the
# binary and run it end to end against PostgreSQL.
groups=(
  "events|src/db/events.rs|--lib|test(/db::events/)"
  "audit|src/db/events.rs src/commands/audit.rs||test(/db::events/) | test(/audit/)"
  "promotion|src/deploy/promote.rs||test(/^gates::/) | test(/deploy::promote/) | test(promotion_gate_names_what_is_missing)"
  "confirm|src/deploy/confirm.rs src/deploy/who.rs||test(/^gates::/) | test(/deploy::confirm/) | test(/deploy::who/) | test(a_gated_environment_gets_the_confirmation_and_a_fresh_backup_first)"
  "down|src/deploy/down.rs||test(/^down::/) | test(/deploy::down/) | test(/promotion_refuses_a_migration_partly_reverted/)"
  "backup|src/backup/*.rs||test(/backup/)"
  "runner|src/deploy/runner.rs src/deploy/apply.rs src/deploy/concurrent.rs src/deploy/resolve.rs||test(/^runner::/) | test(/^faults::/) | test(/deploy::/)"
  "plan|src/deploy/plan.rs src/deploy/mod.rs||test(/^runner::/) | test(/^gates::/) | test(/deploy::/)"
  "baseline|src/deploy/baseline.rs||test(/^baseline::/) | test(/deploy::baseline/)"
  "state|src/db/state.rs src/db/session.rs src/db/lock.rs||test(/^runner::/) | test(/^faults::/) | test(/^down::/) | test(/db::/)"
)

if [[ $# -lt 1 ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
group=$1
shift
if [[ $group == list ]]; then
  for entry in "${groups[@]}"; do
    IFS='|' read -r name files options filter <<<"$entry"
    printf '%-10s %s\n           tests: %s %s\n' "$name" "$files" "$options" "$filter"
  done
  exit 0
fi

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 2
fi

for entry in "${groups[@]}"; do
  name=${entry%%|*}
  [[ $name == "$group" ]] || continue
  IFS='|' read -r _ files options filter <<<"$entry"
  args=()
  for file in $files; do
    args+=(--file "$file")
  done
  # The options choose the test targets, so they go to the build as well as to the run.
  cargo_args=()
  read -ra test_options <<<"$options"
  for option in "${test_options[@]}"; do
    cargo_args+=(--cargo-arg "$option")
  done
  # Every mutant builds in this one directory, kept between runs: only stagegate is rebuilt.
  # Seeded from target/debug with the files' times kept, so the dependencies count as built.
  build_dir=${STAGEGATE_MUTANTS_TARGET:-$PWD/target/mutants-build}
  if [[ ! -d $build_dir/debug && -d target/debug ]]; then
    mkdir -p "$build_dir"
    cp -a target/debug "$build_dir/debug"
  fi
  export CARGO_TARGET_DIR=$build_dir
  mkdir -p "target/mutants/$group"
  exec cargo mutants "${args[@]}" "${cargo_args[@]}" --output "target/mutants/$group" "$@" \
    -- -E "$filter"
done
echo "unknown group \`$group\`; the groups are:" >&2
"$0" list >&2
exit 2
