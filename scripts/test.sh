#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls exactly this).
# Installs the package with its test extras, then runs the whole suite, slow and
# shared-data tests included (shared-data tests skip with a reason when ../shared/data is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --disable-pip-version-check -q -e '.[dev]'
exec python -m pytest -n 2 --dist loadfile "$@"
