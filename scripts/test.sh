#!/usr/bin/env bash
# The test suite, as the README runs it: installs Debian's chromium for the browser test when it is
# missing (with apt-get, as root or through sudo), then runs pytest with the arguments given (e.g. a test
# path, -x). Run it from the repository root.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  SUDO=
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  fi
  if { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; } && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: installing Debian's chromium for the browser test (apt-get)" >&2
    if ! { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "error: apt-get could not install chromium; the browser test will fail" >&2
    fi
  else
    echo "error: $CHROMIUM is missing and installing it needs root (or sudo) and apt-get" \
      "(apt-get install -y chromium); the browser test will fail" >&2
  fi
fi
exec python -m pytest "$@"
