#!/usr/bin/env bash
# Run the native tests of the Python SDK and example policy (no WebAssembly involved).
#
#   policies/examples/python/test.sh [PYTEST ARGS...]
#
# Creates .venv like build.sh does; the exit code is pytest's.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
# shellcheck source=venv.sh
source "$HERE/venv.sh"
ensure_venv

cd "$HERE"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" tests/
