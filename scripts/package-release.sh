#!/usr/bin/env bash
# Packs a built stagegate binary as a release file:
#
#   OUT_DIR/stagegate-<version>-<target>.tar.gz
#     stagegate-<version>-<target>/stagegate, README.md, LICENSE-MIT, LICENSE-APACHE
#
# the name scripts/install-release.sh (and so the GitHub Action) downloads. The version is
# Cargo.toml's. Prints the archive's path. The release's SHA256SUMS is made over all of them
# afterwards (.github/workflows/release.yml).
#
# usage: scripts/package-release.sh TARGET BINARY OUT_DIR
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 TARGET BINARY OUT_DIR" >&2
  exit 2
fi
target=$1
binary=$2
out=$3
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ ! -x "$binary" ]; then
  echo "package-release: $binary is not an executable" >&2
  exit 1
fi
version=$("$root/scripts/version.sh")

name="stagegate-$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/stagegate"
chmod 0755 "$stage/$name/stagegate"
cp "$root/README.md" "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$stage/$name/"

mkdir -p "$out"
out=$(cd "$out" && pwd)
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
