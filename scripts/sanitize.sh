#!/usr/bin/env bash
# Build the kernels with AddressSanitizer and UndefinedBehaviorSanitizer in a
# temporary copy of this checkout, install them into a temporary venv and run
# the test suite against them. Any out-of-bounds access, use after free or
# undefined behaviour in the kernels aborts the run with a report.
#
# Usage: scripts/sanitize.sh [pytest options]   (e.g. -x, -k NAME; default: the whole suite)
# Environment: PYTHON (default python3.11 or python3), KEEP=1 keeps the
# temporary directory, WORK=DIR uses DIR instead of a fresh one.
#
# The kernels are compiled with setup.py's own flags (-O3 and the vector
# flags come after CFLAGS, so the code checked is the optimised code that
# ships); CFLAGS adds the sanitizers and debug information. Python itself is
# not instrumented, so the ASan runtime is preloaded. PyTorch is not
# installed in the venv (the parity tests skip): its bundled runtime does not
# load under ASan, and it is not the code under test.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
CC=${CC:-gcc}
WORK=${WORK:-$(mktemp -d -t leakyrelu-sanitize.XXXXXX)}
if [ "${KEEP:-0}" = 0 ]; then trap 'rm -rf "$WORK"' EXIT; fi
echo "sanitize.sh: working in $WORK"

# The checkout as it stands, uncommitted files included, without build
# products (the rendered .pyx and generated .c are made afresh).
mkdir -p "$WORK/src"
tar -C "$REPO" --exclude=.git --exclude=build --exclude='*.so' --exclude='.*_cache' \
    --exclude='src/leakyrelu/_kernels_*.pyx' --exclude='src/leakyrelu/_kernels_*.c' \
    -cf - . | tar -C "$WORK/src" -xf -

"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --upgrade pip "setuptools>=77" "Cython>=3.1" "numpy>=2" \
    pytest hypothesis threadpoolctl "dask[array]" > "$WORK/pip.log" 2>&1 || {
    tail -30 "$WORK/pip.log"; echo "sanitize.sh: pip install failed"; exit 1; }

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
# The flags go into CC as well: setup.py's OpenMP probe links its test
# program with CC alone, and without them would fail and build serial kernels.
(cd "$WORK/src" && LEAKYRELU_DEBUG_INFO=1 CC="$CC $SAN" CFLAGS="$SAN" LDFLAGS="$SAN" \
    "$VPY" -m pip install --no-build-isolation --no-deps -v . > "$WORK/build.log" 2>&1) || {
    tail -50 "$WORK/build.log"; echo "sanitize.sh: build failed"; exit 1; }
# Every kernel build must have been compiled with the sanitizers (and with
# setup.py's own flags after them).
pattern='-fsanitize=address,undefined.* -c src/leakyrelu/_kernels_[a-z0-9]+\.c'
compiled=$(grep -c -E -- "$pattern" "$WORK/build.log" || true)
echo "sanitize.sh: $compiled kernel builds compiled with the sanitizers:"
grep -E -- "$pattern" "$WORK/build.log" | grep -o -E -- "-c src/leakyrelu/_kernels_.*" \
    | sed -E 's/ -o [^ ]+//; s/^/    /'
if [ "$compiled" -lt 1 ]; then echo "sanitize.sh: sanitizer flags missing from the build"; exit 1; fi
for so in "$WORK"/venv/lib/python*/site-packages/leakyrelu/_kernels_*.so; do
    nm -D "$so" | grep __asan_report > /dev/null || {
        echo "sanitize.sh: $so is not instrumented"; exit 1; }
done

ASAN_LIB=$("$CC" -print-file-name=libasan.so)
UBSAN_LIB=$("$CC" -print-file-name=libubsan.so)
cd "$WORK"   # so that the installed package, not a source tree, is imported
export LD_PRELOAD="$ASAN_LIB $UBSAN_LIB"
# Python's allocations at exit are not leaks of ours; everything else aborts.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONMALLOC=malloc   # every Python allocation goes through ASan's malloc
"$VPY" -c "import leakyrelu._config as c; c.show_config(); assert c.config()['openmp'], 'no OpenMP'"
# The copy's tests with its pytest settings; arguments add options (-x, -k ...).
# --capture=sys leaves file descriptor 2 alone, so that a sanitizer report
# printed just before the process exits is not lost in pytest's capture.
"$VPY" -m pytest -p no:cacheprovider --capture=sys --rootdir "$WORK/src" \
    -c "$WORK/src/pyproject.toml" "$WORK/src/tests" "$@"
