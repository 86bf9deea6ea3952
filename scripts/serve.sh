#!/usr/bin/env bash
# Runs the gateway on its embedded default (SQLite, no external service) on a fresh
# machine: makes .venv, installs the project, serves on 127.0.0.1:8080.
# Extra arguments go to `open311-gateway serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/open311-gateway serve "$@"
