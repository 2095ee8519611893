#!/usr/bin/env bash
# Build the JavaScript policy components with componentize-js (pinned in package-lock.json):
#   OUT_DIR/capacity-freeze-guard.wasm  from policies/examples/javascript/src + sdk
#   OUT_DIR/js-hostile.wasm             from tests/foreign-guests/js-hostile (test only)
# against the `policy` world of wit/ (unchanged).
#
# Usage: policies/examples/javascript/build.sh [OUT_DIR]   (default: policies/examples/javascript/dist)
# Works from any directory. Runs `npm ci` when node_modules is missing or package-lock.json
# changed; skips a component whose output is newer than its sources and the WIT files.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
wit="$root/wit"
hostile="$root/tests/foreign-guests/js-hostile"

out="${1:-$here/dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# shellcheck source=deps.sh
source "$here/deps.sh"
ensure_node_modules

# build NAME ENTRY WORKSPACE SOURCE_DIRS...
# WORKSPACE is the directory componentize-js maps as the module root, so relative imports
# (src/component.js -> ../sdk/index.js) resolve inside it.
build() {
  local name="$1" entry="$2" workspace="$3"
  shift 3
  local target="$out/$name.wasm"
  if [[ -f "$target" ]] &&
    [[ -z "$(find "$@" "$wit" "$here/package-lock.json" -newer "$target" \( -name '*.js' -o -name '*.wit' -o -name '*.json' \) -print -quit)" ]]; then
    echo "build.sh: $name.wasm is up to date ($target)"
    return
  fi
  echo "build.sh: building $name.wasm from ${entry#"$root"/} (componentize-js, world policy) ..."
  local start=$SECONDS
  (
    cd "$workspace"
    nice node "$here/node_modules/@bytecodealliance/componentize-js/src/cli.js" "${entry#"$workspace"/}" \
      --wit "$wit" --world-name policy \
      --disable http fetch-event \
      -o "$target.tmp"
  )
  mv "$target.tmp" "$target"
  echo "build.sh: wrote $target ($(stat -c %s "$target") bytes, $((SECONDS - start)) s)"
}

build capacity-freeze-guard "$here/src/component.js" "$here" "$here/src" "$here/sdk"
# From the repository root: the hostile module imports the SDK from here.
build js-hostile "$hostile/hostile.js" "$root" "$hostile" "$here/sdk"
