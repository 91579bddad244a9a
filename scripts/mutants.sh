#!/usr/bin/env bash
# Mutation testing of the safety-critical code, one group of files at a time, each with the
# tests that cover it (see docs/testing.md). Usage:
#
#   scripts/mutants.sh GROUP [cargo-mutants options...]     e.g. scripts/mutants.sh audit
#   scripts/mutants.sh changed [BASE [options...]]          the mutants in the lines a change
#                                                           touches, in every group it touches
#   scripts/mutants.sh list                                 the groups, their files and tests
#
# `changed` is the run for a change before it merges: the diff of the working tree (commits
# and uncommitted edits) against its merge base with BASE (default main), each group whose
# files it touches run with `--in-diff`, one after the other on one server.
#
# Extra options go to cargo-mutants: `--shard 1/4` splits a group across runs or machines,
# `--list` only lists its mutants, `-F REGEX` picks some, `--in-diff FILE` keeps the mutants in
# the lines a diff touches, `--iterate` skips what the last run caught or found unviable.
# The tree is copied (tracked and untracked files; the first time, times kept) to a fixed place,
# $STAGEGATE_MUTANTS_DIR (default /tmp/stagegate-mutants), mutated there in place and built in
# its own target/ (seeded from target/debug), both kept between runs, so a run rebuilds only
# what changed. The test binaries are built once per run from the unmutated copy; each mutant
# then rebuilds only the stagegate binary (and the library's unit tests where the group runs
# them): see scripts/mutants-cargo.sh.
# Results: target/mutants/GROUP/mutants.out (caught.txt, missed.txt, unviable.txt, timeout.txt).
# Needs cargo-mutants (`cargo install --locked cargo-mutants`), cargo-nextest, rsync, and what
# the end-to-end tests need (PostgreSQL's server binaries and client programs, `bash
# scripts/test-deps.sh`); the tests' server is started for the run (start_server below).
set -euo pipefail
cd "$(dirname "$0")/.."

# group | files (cargo-mutants --file globs) | test binaries (lib: the library's unit tests,
# it: tests/it) | nextest filter: the tests that cover those files, and no others.
groups=(
  "events|src/db/events.rs|lib|test(/^db::events::/)"
  "audit|src/commands/audit.rs src/db/trust.rs|it|test(/audit/) | test(/^faults::/) | test(/^trust::/)"
  "promotion|src/deploy/promote.rs|it|test(/^gates::(promotion_|production_|a_migration_reverted|a_soak|each_environment)/) | test(/^baseline::a_gated_environment/) | test(/^alembic::sql_that_renders_differently/)"
  "confirm|src/deploy/confirm.rs|it|test(/^gates::(in_ci|on_a_terminal|the_confirmation|without_a_terminal|a_typed_reason)/) | test(/^down::a_gated_environment/)"
  "approve|src/deploy/approve.rs src/deploy/approvals.rs|it|test(/^approvals::(apply_waits|an_edited|only_the|an_approval)/)"
  "after|src/deploy/after.rs|it|test(/^approvals::(after_|a_failing_after|a_timed_out_after|sigterm_)/)"
  "replace_down|src/deploy/replace_down.rs|it|test(/^playbooks::a_wrong_or_missing_down_is_replaced/)"
  "who|src/who.rs|lib it|test(/^who::/) | test(/^gates::(in_ci|without_a_terminal)/) | test(/^ux::apply_records_the_os_user/) | test(/^approvals::(apply_waits|only_the)/)"
  "down|src/deploy/down.rs|it|test(/^down::/) | test(/^faults::a_killed_no_transaction_down_needs/) | test(/^alembic::down_reverts_a_merge/)"
  "backup|src/backup/*.rs|lib it|test(/^backup::/) | test(/^down::a_(down_whose_backup|gated_environment)/) | test(/^gates::a_soak/) | test(/^execution::a_(down_)?dry_run_on_a_scratch_copy/)"
  "concurrent|src/deploy/concurrent.rs|lib it|test(/^deploy::concurrent::/) | test(/concurrent|index|reindex/)"
  "runner|src/deploy/runner.rs src/deploy/runner/*.rs src/deploy/apply.rs src/deploy/resolve.rs src/db/script.rs|it|test(/^runner::/) | test(/^faults::/) | test(/^execution::/)"
  "plan|src/deploy/plan.rs src/deploy/mod.rs src/deploy/gates.rs|it|test(/^runner::/) | test(/^gates::/)"
  "baseline|src/deploy/baseline.rs|lib it|test(/^deploy::baseline::/) | test(/^baseline::/)"
  "state|src/db/state/*.rs src/db/session.rs src/db/lock.rs|lib it|test(/^db::session::/) | test(/^runner::/) | test(/^faults::/) | test(/^down::/)"
)

if [[ $# -lt 1 ]]; then
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
group=$1
shift
if [[ $group == list ]]; then
  for entry in "${groups[@]}"; do
    IFS='|' read -r name files targets filter <<<"$entry"
    printf '%-10s %s\n           tests (%s): %s\n' "$name" "$files" "$targets" "$filter"
  done
  exit 0
fi

if ! cargo-mutants mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 2
fi

# The tests' server for the run: a cluster of its own in STAGEGATE_MUTANTS_DIR, with the
# settings of the tests' own throwaway cluster (fsync, synchronous_commit and full_page_writes
# off: nothing in it is worth keeping, and the tests' commits stop waiting for the disk, which
# made `down::` 2.5 times faster than on the machine's server) and TLS on with the machine's
# snakeoil certificate where it has one, as the tests' throwaway cluster does. Stopped when
# the run ends. STAGEGATE_TEST_DATABASE_URL names a server of your own instead.
start_server() {
  local dir=$1 bin initdb run_as=() port
  for bin in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V -r) ""; do
    [[ -x $bin/initdb ]] && break
  done
  if [[ -n $bin ]]; then
    initdb=$bin/initdb
  else
    initdb=$(command -v initdb) || {
      echo "mutants.sh: no PostgreSQL server binaries (initdb) for the tests' server;" \
        "set STAGEGATE_TEST_DATABASE_URL to a server the tests may use" >&2
      exit 2
    }
    bin=$(dirname "$initdb")
  fi
  # initdb refuses root: the server runs as postgres then.
  if [[ $(id -u) == 0 ]]; then
    run_as=(runuser -u postgres --)
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [[ ${#run_as[@]} -eq 0 ]] || chown postgres: "$dir"
  "${run_as[@]}" "$initdb" --no-sync -A trust -U postgres -D "$dir/data" >"$dir/initdb.log"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "max_connections = 200"
    if "${run_as[@]}" test -r /etc/ssl/private/ssl-cert-snakeoil.key; then
      echo "ssl = on"
      echo "ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'"
      echo "ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'"
    fi
  } >>"$dir/data/postgresql.conf"
  "${run_as[@]}" "$bin/pg_ctl" -w -D "$dir/data" -l "$dir/server.log" start >/dev/null
  # shellcheck disable=SC2064 # the paths are fixed now
  trap "${run_as[*]} '$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1 || true" EXIT
  export STAGEGATE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "mutants.sh: the tests' server: $STAGEGATE_TEST_DATABASE_URL (its files in $dir)" >&2
}

if [[ $group == changed ]]; then
  base=${1:-main}
  shift || true
  work=${STAGEGATE_MUTANTS_DIR:-/tmp/stagegate-mutants}
  mkdir -p "$work"
  diff=$work/changes.diff
  git diff "$(git merge-base "$base" HEAD)" -- src >"$diff"
  mapfile -t changed < <(git diff --name-only "$(git merge-base "$base" HEAD)" -- src)
  touched=()
  for entry in "${groups[@]}"; do
    IFS='|' read -r name files _ _ <<<"$entry"
    set -f
    # shellcheck disable=SC2206 # the globs are split here and matched below, not expanded
    globs=($files)
    set +f
    for file in "${changed[@]}"; do
      for glob in "${globs[@]}"; do
        # shellcheck disable=SC2053 # a glob, matched as one
        if [[ $file == $glob ]]; then
          touched+=("$name")
          continue 3
        fi
      done
    done
  done
  if [[ ${#touched[@]} -eq 0 ]]; then
    echo "mutants.sh: the change touches no group's files (${#changed[@]} files under src/ changed)" >&2
    exit 0
  fi
  echo "mutants.sh: the change touches ${touched[*]}" >&2
  [[ -n ${STAGEGATE_TEST_DATABASE_URL-} ]] || start_server "$work/server"
  worst=0
  for name in "${touched[@]}"; do
    status=0
    "$0" "$name" --in-diff "$diff" "$@" || status=$?
    echo "mutants.sh: $name: exit $status (results in target/mutants/$name/mutants.out)" >&2
    ((status > worst)) && worst=$status
  done
  exit "$worst"
fi

for entry in "${groups[@]}"; do
  name=${entry%%|*}
  [[ $name == "$group" ]] || continue
  IFS='|' read -r _ files targets filter <<<"$entry"
  args=()
  for file in $files; do
    args+=(--file "$file")
  done
  source_dir=$PWD
  work=${STAGEGATE_MUTANTS_DIR:-/tmp/stagegate-mutants}
  tree=$work/tree
  export CARGO_TARGET_DIR=$work/target
  mkdir -p "$tree" "$CARGO_TARGET_DIR"
  # The tests' Python tools (scripts/test-deps.sh) stay in the real target directory.
  if [[ -z ${STAGEGATE_TEST_VENV-} && -d target/test-venv ]]; then
    export STAGEGATE_TEST_VENV=$source_dir/target/test-venv
  fi
  # The first copy keeps the files' times, so the build seeded from target/debug is fresh.
  # Later copies write only the files whose content differs, with a new time, and leave the
  # others' times alone: a file the last run mutated and restored (or left mutated, if it was
  # stopped) is newer than that run's last build, so cargo rebuilds it. Copying the times
  # again put the source's older time back on such a file, older than the last mutant's
  # build, and cargo took that build as fresh: the next run's baseline tested the last
  # mutant's binary (`after` shard 3/4's baseline failed on shard 2/4's last mutant).
  copy=(rsync --delete --exclude=/target --exclude=/.git --exclude=/mutants.out)
  if [[ -e $tree/Cargo.toml ]]; then
    copy+=(-rlpgoD --checksum)
  else
    copy+=(-a)
  fi
  "${copy[@]}" "$source_dir/" "$tree/"
  # The dependencies come from target/debug, times kept, the first time.
  if [[ ! -d $CARGO_TARGET_DIR/debug && -d target/debug ]]; then
    cp -a target/debug "$CARGO_TARGET_DIR/debug"
  fi
  # The test binaries, once, from the unmutated copy; nextest's list of them for the runs.
  build_targets=()
  for target in $targets; do
    case $target in
      lib) build_targets+=(--lib) ;;
      it) build_targets+=(--test it) ;;
    esac
  done
  binaries=$work/binaries-$group.json
  started=$SECONDS
  (cd "$tree" && cargo nextest list "${build_targets[@]}" --list-type binaries-only \
    --message-format json >"$binaries")
  echo "mutants.sh: test binaries built and listed in $((SECONDS - started)) s" >&2
  export STAGEGATE_MUTANTS_BINARIES=$binaries
  export STAGEGATE_MUTANTS_UNIT=0
  [[ " $targets " == *" lib "* ]] && STAGEGATE_MUTANTS_UNIT=1
  STAGEGATE_MUTANTS_REAL_CARGO=$(command -v cargo)
  export STAGEGATE_MUTANTS_REAL_CARGO
  mkdir -p "$source_dir/target/mutants/$group"
  if [[ -z ${STAGEGATE_TEST_DATABASE_URL-} ]]; then
    start_server "$work/server"
  fi
  # cargo-mutants runs `$CARGO`: scripts/mutants-cargo.sh, which builds only the binary.
  cd "$tree"
  status=0
  CARGO=$tree/scripts/mutants-cargo.sh cargo-mutants mutants --in-place "${args[@]}" \
    --output "$source_dir/target/mutants/$group" "$@" -- -E "$filter" || status=$?
  exit "$status"
done
echo "unknown group \`$group\`; the groups are:" >&2
"$0" list >&2
exit 2
