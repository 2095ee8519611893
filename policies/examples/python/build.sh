#!/usr/bin/env bash
# Build the Python example policy and the test-only hostile module as WebAssembly components.
#
#   policies/examples/python/build.sh [OUT_DIR]     (default: policies/examples/python/dist)
#
# Creates .venv (componentize-py, pytest; see requirements.txt) on first use, generates the
# bindings for world `policy` of wit/ into .venv/build, and builds:
#   OUT_DIR/namespace-pdb-guard.wasm   from namespace_pdb_guard/ + tke_recycle_sdk/
#   OUT_DIR/python-hostile.wasm        from tests/foreign-guests/python-hostile/ (tests only)
# A component newer than all of its sources and the WIT files is left alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WIT="$ROOT/wit"
VENV="$HERE/.venv"
BUILD="$VENV/build"
OUT="${1:-$HERE/dist}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# shellcheck source=venv.sh
source "$HERE/venv.sh"
ensure_venv

# Newest modification time (seconds) of the given files and directories' files.
newest() {
    find "$@" -type f ! -path '*/__pycache__/*' -printf '%T@\n' | sort -n | tail -1 | cut -d. -f1
}

# Bindings depend on the WIT only.
if [[ ! -f "$BUILD/bindings/wit_world/__init__.py" ]] \
    || (( $(newest "$WIT") >= $(newest "$BUILD/bindings") )); then
    echo "build.sh: generating bindings for world policy from $WIT"
    rm -rf "$BUILD/bindings"
    mkdir -p "$BUILD"
    nice "$VENV/bin/componentize-py" -d "$WIT" -w policy bindings "$BUILD/bindings" >/dev/null
fi

# componentize NAME OUT_FILE SOURCE_DIR...: module `app` from the first source dir.
componentize() {
    local name="$1" out="$2"
    shift 2
    if [[ -f "$out" ]] && (( $(stat -c %Y "$out") > $(newest "$WIT" "$@") )); then
        echo "build.sh: $name is up to date: $out"
        return
    fi
    # Stage the sources so that only they (not .venv, tests, ...) go into the component.
    local stage="$BUILD/stage-$name"
    rm -rf "$stage"
    mkdir -p "$stage"
    local src
    for src in "$@"; do
        if [[ -f "$src/app.py" ]]; then
            cp -r "$src"/. "$stage"/
        else
            cp -r "$src" "$stage"/
        fi
    done
    find "$stage" -name __pycache__ -prune -exec rm -rf {} +
    echo "build.sh: building $name -> $out"
    local start=$SECONDS
    nice "$VENV/bin/componentize-py" -d "$WIT" -w policy componentize \
        -p "$stage" -p "$BUILD/bindings" app -o "$out.tmp" >/dev/null
    mv "$out.tmp" "$out"
    echo "build.sh: built $name ($(du -h "$out" | cut -f1), $((SECONDS - start)) s)"
}

componentize namespace-pdb-guard "$OUT/namespace-pdb-guard.wasm" \
    "$HERE/namespace_pdb_guard" "$HERE/tke_recycle_sdk"
componentize python-hostile "$OUT/python-hostile.wasm" \
    "$ROOT/tests/foreign-guests/python-hostile"
