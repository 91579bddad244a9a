#!/usr/bin/env bash
# The `cargo` that cargo-mutants runs (through $CARGO) under scripts/mutants.sh, so that a
# mutant costs one incremental build of the stagegate binary instead of a build of every test
# target. scripts/mutants.sh builds the test binaries once, from the unmutated tree, and lists
# them in $STAGEGATE_MUTANTS_BINARIES (nextest's binaries metadata). Then, per mutant:
#
#   build (`nextest run --no-run ...`): the binary only (`cargo build --bin stagegate
#       --examples`, below), and the library's unit-test binary if the group runs unit
#       tests ($STAGEGATE_MUTANTS_UNIT=1);
#   test (`nextest run ... -E FILTER`): nextest with --binaries-metadata, which builds
#       nothing: the end-to-end tests (tests/it, built once) run the mutated binary, which
#       nextest names to them in CARGO_BIN_EXE_stagegate.
#
# The `it` binary's own copy of the library is the unmutated one: a mutant caught only by a
# test that calls the library directly (not through the binary) shows as missed here
# (docs/testing.md says how to check a survivor with a full build).
# Anything else cargo-mutants runs (metadata, locate-project) goes to cargo as it is.
set -euo pipefail
real=${STAGEGATE_MUTANTS_REAL_CARGO:?scripts/mutants.sh sets STAGEGATE_MUTANTS_REAL_CARGO}

if [[ ${1-} != nextest || ${2-} != run ]]; then
  exec "$real" "$@"
fi
shift 2
build=false
test_args=()
for arg in "$@"; do
  case $arg in
    --no-run) build=true ;;
    # cargo's own options, which a run from binaries metadata does not take.
    --verbose | --workspace | --package=*) ;;
    *) test_args+=("$arg") ;;
  esac
done

if $build; then
  # `--examples` (the package has none, so nothing more is built) makes cargo resolve the
  # dependencies' features as it does for the test binaries (with the dev-dependencies'
  # features), so this is the very library and binary that scripts/mutants.sh's
  # `nextest list` built: the unmutated baseline is a no-op. A plain `--bin stagegate`
  # resolves them without, and rebuilt the library and sqlx-macros a second time on a new
  # tree.
  "$real" build --bin stagegate --examples
  if [[ ${STAGEGATE_MUTANTS_UNIT-} == 1 ]]; then
    "$real" test --no-run --lib
  fi
  exit 0
fi
exec "$real" nextest run --binaries-metadata "${STAGEGATE_MUTANTS_BINARIES:?}" \
  "${test_args[@]}"
