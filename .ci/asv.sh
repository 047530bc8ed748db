#!/usr/bin/env bash
# asv smoke test against the leakyrelu installed in the active venv (no
# builds): `asv check` imports every benchmark and checks its signature,
# then one quick pass (each benchmark called once) over a small subset of
# every family. A benchmark that raises makes asv, and this script, fail.
#
# Usage (from any directory, with the package and its test extra installed
# in the active venv, as .ci/run has it): .ci/asv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet "asv>=0.6,<0.7"
python -c "import leakyrelu; print('asv.sh: leakyrelu', leakyrelu.__version__, 'from', leakyrelu.__file__)"

# asv needs a machine description; in CI the defaults are fine.
python -m asv machine --yes > /dev/null

python -m asv check --python=same

# One combination or a few per family, small arrays except for peakmem
# (whose point is 16M elements). Names carry their parameters, so the
# patterns pick parameter combinations too.
python -m asv run --python=same --quick --show-stderr \
    --bench "Forward\.time_(relu|leaky_relu|prelu|rrelu_train)\('float32', 10000, " \
    --bench "Gradient\.time_(prelu_grad|rrelu_train_grad|elu_grad)\('float64', 10000, " \
    --bench "MemoryForward\.peakmem_leaky_relu\('float32', " \
    --bench "MemoryGradient\.peakmem_prelu_grad\('float32', " \
    --bench "Ratio\.track_(relu|selu_grad)\('float32', 10000, 1\)" \
    --bench "Compare\.time_(leaky_relu|prelu_grad|rrelu_train_grad)\('[a-z]+', 10000, 1\)" \
    --bench "Table\.track_ratio\('(leaky_relu|relu_grad)', 'float32', 10000, 'out', 1, " \
    --bench "Inputs\.track_ratio\('leaky_relu (float16|float32 x\[:, ::2\]) out', 'memory'\)"
