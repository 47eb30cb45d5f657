#!/usr/bin/env bash
# A GPU session's measurements in one call (about 3 minutes on an H200):
#   bash bench/gpu_session.sh OUTDIR
# Expects JAX with CUDA installed; runs trine from src/ (no install: that machine cannot fetch
# the build backend) and, when a .whl/ folder of wheels sits in the checkout (Keras 3 for the
# Keras rows), installs those into /tmp/site for the python3 that runs the bench. Data: $TRINE_DATA_DIR,
# else .gpudata/ in the checkout (the four Fashion-MNIST files).
set -uo pipefail
out=${1:?usage: bash bench/gpu_session.sh OUTDIR}
mkdir -p "$out"
export TRINE_DATA_DIR=${TRINE_DATA_DIR:-$PWD/.gpudata}
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
python3 -c "import jax; print(jax.__version__, jax.devices())"
# one fit call's fixed cost, phase by phase (the per-call gap to the scan reference)
timeout 150 python3 bench/fit_phases.py W1 W1-1024 W3 --calls 10 \
    --json "$out/gpu-fit-phases.json" 2>&1 | tee "$out/gpu-fit-phases.log"
# what putting the data on the device costs, by size and by method (the per-call gap above
# was found to be the device_arrays phase: 24-27 ms on an H200 for 31 MB and 188 MB alike;
# with XLA's command buffers off, 2026-11-27, the per-call time rose: they are not the cost)
timeout 90 python3 bench/transfer_probe.py --json "$out/gpu-transfer.json" 2>&1 \
    | tee "$out/gpu-transfer.log"
# the benchmark table's GPU rows
timeout 300 python3 -m bench --workloads W1 W1-1024 W3 --rounds 3 --no-torch --no-memory \
    --json "$out/gpu-bench.json" 2>&1 | tee "$out/gpu-bench.log"
# first epochs in fresh processes (compile included), trine and Keras, with every compile
timeout 150 python3 bench/compiles.py W1 W3 --json "$out/gpu-compiles.json" 2>&1 \
    | tee "$out/gpu-compiles.log"
