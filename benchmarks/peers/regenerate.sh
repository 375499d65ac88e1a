#!/usr/bin/env bash
# Regenerate every peer reference fixture under tests/data/:
#   tests/data/peers/<stem>.<peer>.json       (peer_values.py, each peer in its own venv)
#   tests/data/artifacts/nsrdb_60min_injected.{txt,json}   (make_artifacts.py, numpy only)
#   tests/data/artifacts/<stem>.nk_kubios{.txt,_info.json} (nk_fixpeaks.py, neurokit2 venv)
#
#   bash benchmarks/peers/regenerate.sh
#
# Creates the venvs first if needed (setup.sh). The neurokit2 run takes a few minutes:
# hrv_nonlinear on the whole 60-minute recording alone is about 2.5 minutes on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venvs="$root/benchmarks/.venvs"
cd "$root"

bash "$here/setup.sh"

for peer in hrvanalysis neurokit2 pyhrv; do
    echo "== $peer"
    MPLBACKEND=Agg "$venvs/$peer/bin/python" "$here/peer_values.py" --peer "$peer"
done

echo "== artifacts"
"$venvs/neurokit2/bin/python" "$here/make_artifacts.py"
"$venvs/neurokit2/bin/python" "$here/nk_fixpeaks.py"
