#!/usr/bin/env bash
# Sets Codex DS up on a fresh machine (Python 3.11+, run as root or in a venv):
# installs the package and its runtime dependencies from PyPI into the active Python.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --disable-pip-version-check -q -e .
