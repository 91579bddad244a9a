#!/usr/bin/env bash
# Checks a release build of stagegate before it is shipped:
#
# - on Linux, linked statically (no program interpreter, no shared library), so it runs on
#   any distribution and in the container image; on macOS, linked against the system's
#   libraries only;
# - it runs and reports Cargo.toml's version;
# - it lints the fixtures: fixtures/safe clean (exit 0), fixtures/unsafe with error findings
#   (exit 1).
#
# usage: scripts/check-release-binary.sh BINARY
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY" >&2
  exit 2
fi
binary=$1
root="$(cd "$(dirname "$0")/.." && pwd)"

fail() {
  echo "check-release-binary: $binary: $*" >&2
  exit 1
}

[ -f "$binary" ] && [ -x "$binary" ] || fail "not an executable file"

case "$(uname -s)" in
  Linux)
    command -v readelf >/dev/null 2>&1 || fail "readelf (binutils) is needed to check the linking"
    headers=$(readelf --program-headers --wide "$binary")
    if grep -q 'INTERP' <<<"$headers"; then
      fail "is dynamically linked (it names a program interpreter): $(grep -A1 INTERP <<<"$headers" | tail -n 1)"
    fi
    needed=$(readelf --dynamic --wide "$binary" | grep '(NEEDED)' || true)
    [ -z "$needed" ] || fail "needs shared libraries: $needed"
    linking="statically linked"
    ;;
  Darwin)
    # Only what every macOS has: /usr/lib (libSystem, libiconv, ...) and /System frameworks.
    others=$(otool -L "$binary" | tail -n +2 | awk '{ print $1 }' | grep -v -e '^/usr/lib/' -e '^/System/' || true)
    [ -z "$others" ] || fail "links libraries a Mac may not have: $others"
    linking="linked against the system's libraries only"
    ;;
  *)
    fail "checks Linux and macOS builds only"
    ;;
esac

version=$("$root/scripts/version.sh")
reported=$("$binary" --version) || fail "does not run"
[ "$reported" = "stagegate $version" ] || fail "reports '$reported', not 'stagegate $version'"

cd "$root"
status=0
"$binary" lint fixtures/safe >/dev/null || status=$?
[ "$status" -eq 0 ] || fail "lint fixtures/safe exited $status, not 0"
status=0
findings=$("$binary" lint --format json fixtures/unsafe) || status=$?
[ "$status" -eq 1 ] || fail "lint fixtures/unsafe exited $status, not 1 (error findings)"
grep -q '"severity": "error"' <<<"$findings" || fail "lint fixtures/unsafe reported no error finding"

echo "check-release-binary: $binary: $reported, $linking, lints the fixtures" >&2
