# Sourced by build.sh and test.sh: create .venv and install requirements.txt when needed.
# Expects HERE (this directory) and VENV to be set.

ensure_venv() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "error: python3 not found; install Python 3.10 or newer with venv support" \
            "(Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
        exit 1
    fi
    local stamp="$VENV/.requirements.stamp"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV" >&2
        python3 -m venv "$VENV" || {
            echo "error: python3 -m venv failed; install the venv module" \
                "(Debian/Ubuntu: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    if [[ ! -f "$stamp" ]] || ! cmp -s "$HERE/requirements.txt" "$stamp"; then
        echo "installing $HERE/requirements.txt into $VENV" >&2
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
        cp "$HERE/requirements.txt" "$stamp"
    fi
}
