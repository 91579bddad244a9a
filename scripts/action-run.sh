#!/usr/bin/env bash
# The GitHub Action's command step (action.yml): runs stagegate with the `args` input, or,
# without args, the default lint.
#
#   scripts/action-run.sh run     stagegate $STAGEGATE_ARGS, or the default lint with
#                                 workflow annotations (--format github)
#   scripts/action-run.sh sarif   the default lint as SARIF into $STAGEGATE_SARIF_FILE; exit 1
#                                 (findings) counts as done, the annotations step fails on it
#
# The default lint: on a pull request (GITHUB_BASE_REF set), the migrations the pull request
# adds or changes, judged against the base branch (`--changed-since origin/<base>`; the base
# branch's tip is fetched when the checkout lacks it); otherwise every migration.
#
# STAGEGATE_ARGS is split as a shell would (quotes group words; $VAR expands): keep text from
# a pull request in environment variables and write "$VAR", never ${{ ... }} in args.
set -euo pipefail

fail() {
  echo "stagegate action: $*" >&2
  exit 2
}

default_lint() {
  lint=(lint)
  local base=${GITHUB_BASE_REF:-}
  if [ -n "$base" ]; then
    if ! git rev-parse --verify --quiet "refs/remotes/origin/$base^{commit}" >/dev/null; then
      echo "stagegate action: fetching origin/$base to compare with" >&2
      git fetch --no-tags --depth=1 origin "+refs/heads/$base:refs/remotes/origin/$base" >&2
    fi
    lint+=(--changed-since "origin/$base")
  fi
}

mode=${1:-}
case "$mode" in
  run)
    if [ -n "${STAGEGATE_ARGS:-}" ]; then
      eval "set -- $STAGEGATE_ARGS"
      exec stagegate "$@"
    fi
    default_lint
    exec stagegate "${lint[@]}" --format github
    ;;
  sarif)
    if [ -n "${STAGEGATE_ARGS:-}" ]; then
      fail "sarif: true goes with the default lint; with args, run lint --format sarif --output FILE in a step of your own and upload that"
    fi
    file=${STAGEGATE_SARIF_FILE:?STAGEGATE_SARIF_FILE is not set}
    default_lint
    status=0
    stagegate "${lint[@]}" --format sarif --output "$file" || status=$?
    # 1 is findings, reported (and failed on) by the annotations step.
    [ "$status" -eq 0 ] || [ "$status" -eq 1 ] || exit "$status"
    ;;
  *)
    fail "usage: $0 run|sarif"
    ;;
esac
