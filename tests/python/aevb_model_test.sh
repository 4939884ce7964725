#!/usr/bin/env bash
# python/aevb_model.py against aevb-train, aevb-eval and aevb-infer (test_aevb_model.py).
# Usage: aevb_model_test.sh BUILD_DIR SOURCE_DIR. Exit 77 (skip) when no Python 3
# with NumPy and h5py is found: /usr/bin/python3 (Debian's python3-numpy,
# python3-h5py) first, then python3 on PATH; $AEVB_PYTHON overrides both.
set -euo pipefail
BUILD=$1 SRC=$2
for py in ${AEVB_PYTHON:-} /usr/bin/python3 python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import numpy, h5py' >/dev/null 2>&1; then
    exec "$py" "$SRC/tests/python/test_aevb_model.py" "$BUILD" "$SRC"
  fi
done
echo "SKIP: no python3 with numpy and h5py (apt-get install python3-numpy python3-h5py)"
exit 77
