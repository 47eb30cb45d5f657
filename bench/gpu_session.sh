#!/usr/bin/env bash
# A GPU session's measurements in one call (about 7 minutes on an H200):
#   bash bench/gpu_session.sh OUTDIR
# Expects JAX with CUDA installed; installs trine (no dependencies) and, when a .whl/ folder
# of wheels sits in the checkout (Keras 3 for the Keras rows), those too. Data: $TRINE_DATA_DIR,
# else .gpudata/ in the checkout (the four Fashion-MNIST files).
set -uo pipefail
out=${1:?usage: bash bench/gpu_session.sh OUTDIR}
mkdir -p "$out"
export TRINE_DATA_DIR=${TRINE_DATA_DIR:-$PWD/.gpudata}
if compgen -G ".whl/*.whl" > /dev/null; then pip install -q --no-deps .whl/*.whl; fi
pip install -q --no-deps -e . || exit 1
python -c "import jax; print(jax.__version__, jax.devices())"
# one fit call's fixed cost, phase by phase (the per-call gap to the scan reference)
timeout 150 python bench/fit_phases.py W1 W1-1024 W3 --calls 10 \
    --json "$out/gpu-fit-phases.json" 2>&1 | tee "$out/gpu-fit-phases.log"
# the same probe with XLA's command buffers (CUDA graphs) off: each fit call hands the fused
# programs freshly allocated data and state buffers, and XLA updates or re-records a command
# buffer whose buffer addresses changed; if that is the fixed cost, this run loses it
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_command_buffer=" timeout 70 \
    python bench/fit_phases.py W1-1024 --calls 6 \
    --json "$out/gpu-fit-phases-nocmdbuf.json" 2>&1 | tee "$out/gpu-fit-phases-nocmdbuf.log"
# the benchmark table's GPU rows
timeout 300 python -m bench --workloads W1 W1-1024 W3 --rounds 3 --no-torch --no-memory \
    --json "$out/gpu-bench.json" 2>&1 | tee "$out/gpu-bench.log"
