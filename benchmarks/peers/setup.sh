#!/usr/bin/env bash
# Create the virtual environments of the three peer HRV libraries used to produce reference
# values (tests/data/peers/) and timings. They live in benchmarks/.venvs/ (git-ignored); the
# project itself never imports them.
#
#   bash benchmarks/peers/setup.sh            # create what is missing, then check imports
#   PYTHON=python3.12 bash benchmarks/peers/setup.sh
#   FORCE=1 bash benchmarks/peers/setup.sh    # rebuild all three from scratch
#
# Idempotent: a venv whose library already imports at the pinned version is left alone.
# Pins: hrv-analysis 1.0.6 (+ nolds 0.6.2), neurokit2 0.2.13, pyhrv 0.5.0 (+ nolds 0.6.2,
# peakutils). nolds is installed in a second pip call on purpose: hrv-analysis 1.0.6 declares
# nolds>=0.6.3, so pip reports a conflict there; that is expected and harmless for the features
# used here. A machine-wide pip constraints file is bypassed for these calls (PIP_CONSTRAINT=).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venvs="$(cd "$here/.." && pwd)/.venvs"
python="${PYTHON:-python3.11}"
mkdir -p "$venvs"

# pip in a peer venv, with any global constraints file switched off.
vpip() {
    local name="$1"
    shift
    PIP_CONSTRAINT="" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$venvs/$name/bin/python" -m pip install --quiet "$@"
}

# True when the venv's library imports and reports the expected version.
ready() {
    local name="$1" module="$2" version="$3"
    [[ -x "$venvs/$name/bin/python" ]] || return 1
    MPLBACKEND=Agg "$venvs/$name/bin/python" - "$module" "$version" <<'EOF' >/dev/null 2>&1
import importlib.metadata as md
import importlib
import sys

module, version = sys.argv[1], sys.argv[2]
importlib.import_module(module)
dist = {"hrvanalysis": "hrv-analysis"}.get(module, module)
sys.exit(0 if md.version(dist) == version else 1)
EOF
}

make_venv() {
    local name="$1"
    if [[ "${FORCE:-0}" == "1" ]]; then
        rm -rf "${venvs:?}/$name"
    fi
    if [[ ! -x "$venvs/$name/bin/python" ]]; then
        "$python" -m venv "$venvs/$name"
        vpip "$name" --upgrade pip
    fi
}

# --- hrv-analysis ------------------------------------------------------------------------------
if ready hrvanalysis hrvanalysis 1.0.6 && [[ "${FORCE:-0}" != "1" ]]; then
    echo "hrvanalysis: ready"
else
    make_venv hrvanalysis
    vpip hrvanalysis "hrv-analysis==1.0.6"
    # Expected: pip warns that hrv-analysis 1.0.6 requires nolds>=0.6.3.
    vpip hrvanalysis "nolds==0.6.2" || true
fi

# --- neurokit2 ---------------------------------------------------------------------------------
if ready neurokit2 neurokit2 0.2.13 && [[ "${FORCE:-0}" != "1" ]]; then
    echo "neurokit2: ready"
else
    make_venv neurokit2
    vpip neurokit2 "neurokit2==0.2.13" astropy pandas scipy
fi

# --- pyhrv -------------------------------------------------------------------------------------
if ready pyhrv pyhrv 0.5.0 && [[ "${FORCE:-0}" != "1" ]]; then
    echo "pyhrv: ready"
else
    make_venv pyhrv
    vpip pyhrv "pyhrv==0.5.0"
    vpip pyhrv "nolds==0.6.2" peakutils
fi

# --- check ------------------------------------------------------------------------------------
status=0
for spec in "hrvanalysis hrvanalysis 1.0.6" "neurokit2 neurokit2 0.2.13" "pyhrv pyhrv 0.5.0"; do
    read -r name module version <<<"$spec"
    if ready "$name" "$module" "$version"; then
        nolds="$("$venvs/$name/bin/python" -c \
            'import importlib.metadata as m
try:
    print(m.version("nolds"))
except m.PackageNotFoundError:
    print("-")')"
        echo "ok  $name: $module $version (nolds $nolds) in $venvs/$name"
    else
        echo "FAIL $name: $module $version does not import" >&2
        status=1
    fi
done
exit "$status"
