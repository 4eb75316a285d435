#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls exactly this).
# Installs the package with its test and Spark extras (and Java 17 from Debian when absent),
# then runs the whole suite: slow, subprocess and Spark tests included. Tests that read
# ../shared/data skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v java >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
# The evaluation sandbox runs samples under bubblewrap (tests check the isolation).
if ! command -v bwrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null
fi
# Code evaluation runs JavaScript (Node) and C++ (g++) tasks; their tests must not skip here.
if ! command -v node >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq nodejs g++ >/dev/null
fi
# The dashboard's browser tests drive Debian's Chromium with Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
python -m pip install --disable-pip-version-check -q -e '.[dev,spark,eval,dashboard,e2e]'
# Spark tests must run here, never skip quietly.
export CODEX_DS_REQUIRE_SPARK=1
exec python -m pytest -n 2 --dist loadfile "$@"
