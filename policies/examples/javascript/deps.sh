# Shared by build.sh and test.sh (sourced, not run): make sure node, npm and node_modules exist.
# `npm ci` runs when node_modules is missing or package-lock.json changed since the last install.

ensure_node_modules() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: node and npm are required (Node.js 20 or later): install them, e.g. 'apt-get install nodejs npm' or from https://nodejs.org/" >&2
    exit 127
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if ((major < 20)); then
    echo "error: Node.js $(node --version) is too old; install Node.js 20 or later" >&2
    exit 127
  fi
  local stamp="$here/node_modules/.package-lock.sha256"
  local want
  want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -d "$here/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "deps: npm ci in ${here} (package-lock.json changed or node_modules missing) ..."
    (cd "$here" && nice npm ci --no-audit --no-fund)
    echo "$want" >"$stamp"
  fi
}
