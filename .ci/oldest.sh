#!/usr/bin/env bash
# The oldest pair pyproject.toml allows: Python 3.10 (requires-python) with
# the lowest NumPy (numpy>=2, so 2.0.*), for the build and the tests alike.
# A constraint keeps the test extra's dependencies from upgrading NumPy.
set -euo pipefail
cd "$(dirname "$0")/.."

# OLDEST_PYTHON, else a python3.10 that runs (a pyenv shim may refuse), else pyenv's.
PYTHON=${OLDEST_PYTHON:-}
if [ -z "$PYTHON" ] && python3.10 -c "" 2> /dev/null; then
    PYTHON=$(command -v python3.10)
fi
if [ -z "$PYTHON" ] && command -v pyenv > /dev/null; then
    PYTHON=$(ls -d "$(pyenv root)"/versions/3.10*/bin/python3.10 2> /dev/null | tail -1)
fi
[ -n "$PYTHON" ] || { echo "oldest.sh: no Python 3.10 found (set OLDEST_PYTHON)"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "numpy==2.0.*" > "$WORK/constraints.txt"
export PIP_CONSTRAINT="$WORK/constraints.txt"
"$PYTHON" -m venv "$WORK/venv"
# shellcheck disable=SC1091
. "$WORK/venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet ".[test]"
python -c "import sys, numpy; print('oldest pair: Python', sys.version.split()[0], 'NumPy', numpy.__version__); assert sys.version_info[:2] == (3, 10) and numpy.__version__.startswith('2.0.')"
python -c "import leakyrelu._config as c; assert c.config()['openmp'], 'built without OpenMP'"
# From outside the checkout, so the installed package is the one tested.
(cd "$WORK" && python -m pytest -q -p no:cacheprovider "$OLDPWD/tests")
