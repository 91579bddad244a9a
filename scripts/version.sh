#!/usr/bin/env bash
# Prints stagegate's version: the [package] version of Cargo.toml, which the binary, the
# wheel and the release files carry (and action.yml's default release: tests/it/install.rs).
#
#   scripts/version.sh            prints it
#   scripts/version.sh --tag TAG  fails unless TAG is v<version> (the release workflow's check)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# The first `version = "..."` line of Cargo.toml is [package]'s.
version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
if [ -z "$version" ]; then
  echo "version: no version in $root/Cargo.toml" >&2
  exit 1
fi

if [ "${1:-}" = --tag ]; then
  tag=${2:?usage: $0 --tag TAG}
  if [ "$tag" != "v$version" ]; then
    echo "version: the tag is $tag but Cargo.toml's version is $version (tag v$version)" >&2
    exit 1
  fi
fi
echo "$version"
