#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: makes .venv, installs the project with
# its test extras, lints, and runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
.venv/bin/ruff check gateway connectors mappings tests examples
.venv/bin/ruff format --check gateway connectors mappings tests examples
exec .venv/bin/pytest "$@"
