#!/usr/bin/env bash
# Installs a stagegate release binary for this machine, checked against the release's
# SHA256SUMS. The GitHub Action (action.yml) runs it; any CI with bash, curl, tar and
# sha256sum (or shasum) can.
#
#   STAGEGATE_VERSION      the release, e.g. 0.1.0 (required)
#   STAGEGATE_RELEASE_URL  where the release's files are (https:// or file://); default
#                          $STAGEGATE_SERVER_URL/$STAGEGATE_REPOSITORY/releases/download/v<version>
#   STAGEGATE_SERVER_URL   the GitHub server; default https://github.com
#   STAGEGATE_REPOSITORY   owner/name of the repository whose releases to use; default: the
#                          one the GitHub Action was taken from
#   STAGEGATE_DIR          where the archive is kept and the binary unpacked; default
#                          $RUNNER_TOOL_CACHE (else ~/.cache)/stagegate/<version>/<target>
#   STAGEGATE_TARGET       the Rust target triple of the binary; default: this machine's
#
# An archive already in STAGEGATE_DIR (a restored cache) is used only when it matches the
# SHA256SUMS downloaded now; the binary is unpacked from the checked archive every time.
# Prints the directory holding `stagegate` on stdout; the rest goes to stderr.
set -euo pipefail

fail() {
  echo "stagegate install: $*" >&2
  exit 1
}

version=${STAGEGATE_VERSION:-}
[ -n "$version" ] || fail "STAGEGATE_VERSION is not set (the release to install, e.g. 0.1.0)"
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
  fail "STAGEGATE_VERSION=$version is not a release version such as 0.1.0"
fi

# The release's binaries (.github/workflows/release.yml builds these).
os=$(uname -s)
arch=$(uname -m)
if [ -n "${STAGEGATE_TARGET:-}" ]; then
  target=$STAGEGATE_TARGET
else
  case "$os/$arch" in
    Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    Darwin/arm64 | Darwin/aarch64) target=aarch64-apple-darwin ;;
    *) fail "no stagegate release binary for $os $arch; install it with pip (stagegate-cli, built from source where no wheel fits) or cargo" ;;
  esac
fi
case "$target" in
  x86_64-unknown-linux-musl | aarch64-unknown-linux-musl | x86_64-apple-darwin | aarch64-apple-darwin) ;;
  *) fail "STAGEGATE_TARGET=$target is not one of the release's targets" ;;
esac

url=${STAGEGATE_RELEASE_URL:-}
if [ -z "$url" ]; then
  repository=${STAGEGATE_REPOSITORY:-}
  # A composite action's own repository is not in its context (github.action_repository is
  # empty there), but the runner unpacks it at _actions/<owner>/<name>/<ref>.
  if [ -z "$repository" ] && [[ ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/[^/]+$ ]]; then
    repository="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  fi
  [ -n "$repository" ] || fail "no release to download from: set STAGEGATE_REPOSITORY (the action's repository input, owner/name) or STAGEGATE_RELEASE_URL"
  if ! [[ $repository =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
    fail "STAGEGATE_REPOSITORY=$repository is not owner/name"
  fi
  server=${STAGEGATE_SERVER_URL:-https://github.com}
  url="${server%/}/$repository/releases/download/v$version"
fi
url=${url%/}

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  fail "neither sha256sum nor shasum is installed: the download cannot be checked"
fi
download() {
  # https (and file:// for a release copied to disk) only, also after a redirect.
  curl --fail --silent --show-error --location --retry 3 \
    --proto '=https,file' --proto-redir '=https' --output "$2" "$1"
}

dir=${STAGEGATE_DIR:-${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/stagegate/$version/$target}
archive="stagegate-$version-$target.tar.gz"
# A binary is there only once its archive passed the check below.
rm -rf "${dir:?}/bin"
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "stagegate install: $archive from $url" >&2
download "$url/SHA256SUMS" "$work/SHA256SUMS" || fail "could not download $url/SHA256SUMS"
# Lines are `<sha256>  <file>` (or `<sha256> *<file>`); exactly one must name the archive.
expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")
if [ -z "$expected" ]; then
  fail "SHA256SUMS of $url has no line for $archive"
fi
if [ "$(printf '%s\n' "$expected" | wc -l)" -ne 1 ] || ! [[ $expected =~ ^[0-9a-fA-F]{64}$ ]]; then
  fail "SHA256SUMS of $url has no single well-formed line for $archive"
fi
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')

if [ -f "$dir/$archive" ] && [ "$(sha256 "$dir/$archive")" = "$expected" ]; then
  echo "stagegate install: using the checked archive in $dir" >&2
else
  rm -f "$dir/$archive"
  download "$url/$archive" "$work/$archive" || fail "could not download $url/$archive"
  actual=$(sha256 "$work/$archive")
  if [ "$actual" != "$expected" ]; then
    fail "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; nothing was installed"
  fi
  mv "$work/$archive" "$dir/$archive"
fi

mkdir -p "$work/unpacked"
tar -xzf "$dir/$archive" -C "$work/unpacked"
binary="$work/unpacked/stagegate-$version-$target/stagegate"
[ -f "$binary" ] || fail "$archive holds no stagegate-$version-$target/stagegate"
chmod 0755 "$binary"
reported=$("$binary" --version) || fail "the stagegate in $archive does not run here"
[ "$reported" = "stagegate $version" ] || fail "$archive holds $reported, not stagegate $version"
mkdir -p "$dir/bin"
mv "$binary" "$dir/bin/stagegate"
echo "stagegate install: $reported in $dir/bin" >&2
echo "$dir/bin"
