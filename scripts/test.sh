#!/usr/bin/env bash
# The project's tests: the Rust workspace, then the Python package built from source (into a
# virtual environment) and its pytest suite (scikit-learn's estimator checks, parity with
# scikit-learn, model files shared with the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace

VENV="${MTLKIT_VENV:-$HOME/.cache/mtlkit-py-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q maturin numpy scipy scikit-learn pytest pandas
# the README's install command, into the venv (maturin builds the Rust extension in release mode)
"$VENV/bin/python" -m pip install -q .

cargo build --release -p mtlkit-cli
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
MTLKIT_CLI="$TARGET/release/mtlkit" "$VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests
