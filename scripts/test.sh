#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine with python3 and python3-venv.
#
#   ./scripts/test.sh [pytest args...]
#
# It creates .venv (if missing), installs kindpulse with its test and plot extras, installs the
# Debian packages of the integration tests when run as root and they are missing, runs
# ruff and mypy, then pytest. Run as root (as CI does), a skipped integration test fails
# the run (KINDPULSE_REQUIRE_INTEGRATION=1), so nothing is passed by being left out.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(dbus dbus-daemon dunst xvfb xdotool x11-utils systemd)

if [ "$(id -u)" = 0 ]; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "test.sh: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
    export KINDPULSE_REQUIRE_INTEGRATION="${KINDPULSE_REQUIRE_INTEGRATION:-1}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# A strict editable install: the top-level folders are mapped into the one package
# `kindpulse` (README, Layout), and static tools see them through it.
.venv/bin/python -m pip install -q -e '.[test,plot]' --config-settings editable_mode=strict 2>&1 \
    | grep -v "^WARNING: Location" || true
# Fail early if the install is broken (from /tmp: the root's kindpulse/ folder would shadow it).
(cd /tmp && "$OLDPWD/.venv/bin/python" -c "import kindpulse.daemon.cli")

echo "== ruff"
.venv/bin/ruff check kindpulse sensors daemon config tests benchmarks scripts
echo "== mypy"
(cd /tmp && "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" -p kindpulse)
echo "== pytest"
exec .venv/bin/pytest "$@"
