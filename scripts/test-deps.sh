#!/usr/bin/env bash
# Installs what the tests need beyond Rust and PostgreSQL: Chromium (headless, for the HTML
# report's test) and a font for it to render text with. Idempotent: installs only what is
# missing. Debian/Ubuntu (apt-get), as root or through sudo.
set -euo pipefail

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

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${missing[*]}, and no apt-get to install it with." >&2
  echo "Install Chromium (and a font) yourself, or point STAGEGATE_CHROMIUM at a Chromium or" >&2
  echo "Chrome binary." >&2
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
