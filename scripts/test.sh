#!/usr/bin/env bash
# Set up a virtual environment from the project's own files and run the test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HYBRIDNET_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test]"
# Generated kernels are cached on disk; keep the suite's cache inside the tree.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
export HYBRIDNET_HOME="${HYBRIDNET_HOME:-$PWD/.cache/hybridnet}"
exec "$VENV/bin/python" -m pytest -n 2 -q "$@"
