#!/usr/bin/env bash
# Builds and installs the Python package from python/ into a fresh virtual environment the way a
# user would (`pip install ./python`), then runs its pytest suite and its two examples.
# Needs python3 (with venv) and network access to PyPI and crates.io. Fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$(pwd)/${RLHF_CLAIMS_VENV:-python/.venv}"
rm -rf "$venv"
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet maturin numpy pytest
# The build compiles the crate once more, in release mode, into python/target (unless
# CARGO_TARGET_DIR says otherwise).
"$py" -m pip install ./python
# From outside the source tree, so that the installed package is what gets imported.
cd python
"$venv/bin/python" -c "import rlhf_claims, numpy as np; print(rlhf_claims.tilt(np.array([0.5, 0.5]), np.array([0.0, 1.0]), 1.0))"
"$venv/bin/python" -m pytest -q tests
"$venv/bin/python" examples/reinforce_kl.py
"$venv/bin/python" examples/kl_estimator_bias.py
