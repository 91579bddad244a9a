#!/usr/bin/env bash
# Installs what the tests and .ci/run need beyond Rust and PostgreSQL:
#
# - Chromium (headless, for the HTML report's test) and a font for it to render text with;
# - Python 3 with venv, and the test virtual environment: the pinned tools of
#   scripts/test-requirements.txt (maturin, for the pip wheel's test) in target/test-venv,
#   or $STAGEGATE_TEST_VENV;
# - musl-tools (musl-gcc, for ring's C code in the static Linux build of .ci/run);
# - PgBouncer (a real transaction-mode pooler, for the test that stagegate refuses one).
#
# Idempotent: installs only what is missing, and rebuilds the virtual environment only when
# the requirements changed. System packages from Debian/Ubuntu (apt-get), as root or through
# sudo; the Python tools from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if [ -n "${STAGEGATE_CHROMIUM:-}" ]; then
  if [ ! -x "$STAGEGATE_CHROMIUM" ]; then
    echo "test-deps: STAGEGATE_CHROMIUM=$STAGEGATE_CHROMIUM is not an executable" >&2
    exit 1
  fi
elif ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
  && ! command -v google-chrome >/dev/null 2>&1; then
  missing+=(chromium)
fi
# Headless Chromium renders no text (and a blank-looking page) without any font.
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -n 1)" ]; }; then
  missing+=(fonts-dejavu-core)
fi
# Debian splits venv and ensurepip out of python3 (python3-venv).
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
  missing+=(musl-tools)
fi
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  missing+=(pgbouncer)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: missing ${missing[*]}, and no apt-get to install it with." >&2
    echo "Install them yourself (Chromium or Chrome and a font, or point STAGEGATE_CHROMIUM at" >&2
    echo "one; Python 3 with its venv module; musl-gcc)." >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "test-deps: missing ${missing[*]}; installing it needs root (or passwordless sudo):" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "or point STAGEGATE_CHROMIUM at a Chromium or Chrome binary." >&2
    exit 1
  fi

  echo "test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet; an update is needed only then or when the
  # install cannot find the package.
  if ! "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    "${as_root[@]}" apt-get update
    "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# The test virtual environment. tests/it/tools.rs looks for it at the same place.
venv="${STAGEGATE_TEST_VENV:-${CARGO_TARGET_DIR:-target}/test-venv}"
requirements=scripts/test-requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  echo "test-deps: making the test virtual environment $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  # Written last: a half-made environment is made again next time.
  cp "$requirements" "$venv/requirements.txt"
fi
