#!/usr/bin/env bash
# Fuzz the public API for a bounded time (FUZZ_TIME seconds, default 60;
# FUZZ_SEED, default 1, makes the run repeatable: CI must not pass or fail
# by luck; a new seed explores new inputs)
# with atheris (libFuzzer for Python): any crash, unexpected exception or
# wrong result fails. Without atheris (no wheel for this Python), the same
# harness runs on random inputs instead.
#
# Usage (from any directory, with leakyrelu installed in the active venv):
#   .ci/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_SEED=${FUZZ_SEED:-1}
ARTIFACTS=$(mktemp -d -t leakyrelu-fuzz.XXXXXX)

python -m pip install --quiet atheris || echo "fuzz.sh: atheris did not install"
if python -c "import atheris" 2> /dev/null; then
    # Crash inputs land in $ARTIFACTS; replay one with: python fuzz/fuzz_api.py FILE
    python fuzz/fuzz_api.py -max_total_time="$FUZZ_TIME" -seed="$FUZZ_SEED" -timeout=60 -rss_limit_mb=6144 \
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" 2>&1 \
        | grep -v -E "^INFO: Instrumenting|^#[0-9]+\s+(NEW|REDUCE|pulse)" \
        || { echo "fuzz.sh: FAILED; the input is in $ARTIFACTS"; ls "$ARTIFACTS"; exit 1; }
else
    python fuzz/fuzz_api.py --random "$FUZZ_TIME"
fi
echo "fuzz.sh: no failure in $FUZZ_TIME s"
