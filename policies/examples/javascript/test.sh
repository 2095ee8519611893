#!/usr/bin/env bash
# Run the JavaScript SDK and policy tests with the Node built-in test runner (no Wasm needed).
# Usage: policies/examples/javascript/test.sh [extra node --test arguments]. Works from any cwd.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deps.sh
source "$here/deps.sh"
ensure_node_modules
cd "$here"
status=0
node --test "$@" test/ || status=$?
exit "$status"
