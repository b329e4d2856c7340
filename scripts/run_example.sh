#!/usr/bin/env bash
# Set up a virtual environment from the project's own files and run the main example.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HYBRIDNET_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e .
exec "$VENV/bin/python" examples/mnist_mlp.py "$@"
