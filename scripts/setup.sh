#!/usr/bin/env bash
# Sets Codex DS up on a fresh machine (Python 3.11+, run as root or in a venv):
# installs the package and its runtime dependencies from PyPI into the active Python.
set -euo pipefail
cd "$(dirname "$0")/.."
# The code-evaluation sandbox uses bubblewrap (Debian package); without it, runs fall back to
# weaker isolation and every evaluation report says so in its first lines.
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null
fi
python -m pip install --disable-pip-version-check -q -e '.[eval,dashboard]'
