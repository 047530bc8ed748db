#!/usr/bin/env bash
# Run every public function on awkward arrays under valgrind's memcheck:
# sizes around every vector width, the serial threshold and prelu's block
# sizes, all dtypes, strided, reversed, Fortran-ordered and overlapping
# views, every kind of out, 1 and 2 threads, and each kernel build valgrind
# can run (it has no AVX-512: the AVX-512 build is covered by sanitize.sh).
# Any invalid read or write, use of uninitialised memory in a branch, or bad
# free fails the run.
#
# Usage: scripts/valgrind.sh    (uses $PYTHON, default python3, with
#        leakyrelu importable, e.g. installed or on PYTHONPATH)
# Environment: LOG=FILE keeps valgrind's log there.
set -euo pipefail
PYTHON=${PYTHON:-python3}
LOG=${LOG:-$(mktemp -t leakyrelu-valgrind.XXXXXX.log)}
command -v valgrind > /dev/null || { echo "valgrind.sh: valgrind is not installed"; exit 1; }

# CPython is not the code under test. Its own allocator is replaced by
# malloc, so memcheck sees every block; the suppressions shipped for CPython
# apply where they exist; and uses of uninitialised values whose innermost
# frame is in the interpreter itself (seen at start-up with some builds) are
# not reported. Invalid reads and writes are reported wherever they happen,
# except the dynamic loader's word-at-a-time string compare.
SUPP_FILE=$(mktemp -t leakyrelu-valgrind.XXXXXX.supp)
trap 'rm -f "$SUPP_FILE"' EXIT
cat > "$SUPP_FILE" <<'SUPP'
{
   interpreter-uninitialised-value
   Memcheck:Value8
   obj:*/libpython3*
}
{
   interpreter-uninitialised-condition
   Memcheck:Cond
   obj:*/libpython3*
}
{
   static-interpreter-uninitialised-value
   Memcheck:Value8
   obj:*/bin/python3*
}
{
   static-interpreter-uninitialised-condition
   Memcheck:Cond
   obj:*/bin/python3*
}
{
   loader-rpath-strncmp
   Memcheck:Addr8
   fun:strncmp
   fun:is_dst
}
SUPP
SUPP=("--suppressions=$SUPP_FILE")
for f in /usr/lib/valgrind/python3.supp /usr/lib/x86_64-linux-gnu/valgrind/python3.supp; do
    if [ -f "$f" ]; then SUPP+=("--suppressions=$f"); fi
done

EXERCISE=$(cat <<'PY'
import numpy as np
import leakyrelu as lr
from leakyrelu import _dispatch

SIZES = [0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 257,
         4095, 4096, 4097, 8193, 32767, 32768, 32769]
DTYPES = [np.float16, np.float32, np.float64]
rng = np.random.default_rng(0)
calls = 0


def sample(shape, dtype):
    v = rng.standard_normal(shape) * 3
    flat = v.reshape(-1)
    flat[:5] = [0.0, -0.0, np.inf, -np.inf, np.nan][:flat.size]
    return v.astype(dtype)


def functions(dtype):
    """(name, forward?, call(arrays, out, threads)) for every public function."""
    tr = {"training": True, "seed": 5}
    return [
        ("relu", 1, lambda a, **k: lr.relu(*a, **k)),
        ("leaky_relu", 1, lambda a, **k: lr.leaky_relu(*a, 0.1, **k)),
        ("prelu", 1, lambda a, **k: lr.prelu(*a, 0.25, **k)),
        ("rrelu", 1, lambda a, **k: lr.rrelu(*a, **k)),
        ("rrelu-train", 1, lambda a, **k: lr.rrelu(*a, 0.1, 0.3, **tr, **k)),
        ("elu", 1, lambda a, **k: lr.elu(*a, 1.3, **k)),
        ("celu", 1, lambda a, **k: lr.celu(*a, 0.7, **k)),
        ("selu", 1, lambda a, **k: lr.selu(*a, **k)),
        ("relu_grad", 2, lambda a, **k: lr.relu_grad(*a, **k)),
        ("leaky_relu_grad", 2, lambda a, **k: lr.leaky_relu_grad(*a, 0.1, **k)),
        ("leaky_relu_grad-y", 2, lambda a, **k: lr.leaky_relu_grad(*a, 0.1, from_output=True, **k)),
        ("prelu_grad", 2, lambda a, **k: lr.prelu_grad(*a, 0.25, **k)[0]),
        ("rrelu_grad", 2, lambda a, **k: lr.rrelu_grad(*a, **k)),
        ("rrelu_grad-train", 2, lambda a, **k: lr.rrelu_grad(*a, 0.1, 0.3, **tr, **k)),
        ("elu_grad", 2, lambda a, **k: lr.elu_grad(*a, 1.3, **k)),
        ("elu_grad-y", 2, lambda a, **k: lr.elu_grad(*a, 1.3, from_output=True, **k)),
        ("celu_grad", 2, lambda a, **k: lr.celu_grad(*a, 0.7, **k)),
        ("selu_grad", 2, lambda a, **k: lr.selu_grad(*a, **k)),
        ("selu_grad-y", 2, lambda a, **k: lr.selu_grad(*a, from_output=True, **k)),
    ]


def layouts(n, dtype, count):
    """(label, arrays, out) with exactly sized allocations, so memcheck sees every edge."""
    fresh = [sample(n, dtype) for _ in range(count)]
    yield "new", fresh, None
    yield "buffer", fresh, np.empty(n, dtype)
    yield "in-place", [a.copy() for a in fresh], "x"
    if n > 1000:
        return    # large sizes: the flat kernels' edges; views are covered below
    double = [np.repeat(a, 2) for a in fresh]
    yield "strided", [d[::2] for d in double], np.empty(n, dtype)[::-1]
    yield "reversed", [a[::-1] for a in fresh], None
    # out overlapping the input by all but one element
    base = sample(n + 1, dtype)
    yield "overlap", [base[1:]] + fresh[1:], base[:-1] if n else base[:0]


def run(name, call, arrays, out, threads):
    global calls
    if isinstance(out, str):    # in place
        out = arrays[0]
    result = call(arrays, out=out, num_threads=threads)
    assert result.shape == arrays[0].shape
    calls += 1


for isa in _dispatch.supported_instruction_sets():
    _dispatch.use(isa)
    for dtype in DTYPES:
        for name, count, call in functions(dtype):
            for n in SIZES:
                threads = 2 if n >= 32768 else 1
                for label, arrays, out in layouts(n, dtype, count):
                    run(name, call, arrays, out, threads)
            # 2-D and 3-D layouts: Fortran order, transposes, prelu channels.
            for shape in [(3, 5), (17, 9), (1, 33), (4, 3, 65)]:
                arrays = [np.asfortranarray(sample(shape, dtype)) for _ in range(count)]
                run(name, call, arrays, None, 1)
                run(name, call, [a.T for a in arrays], None, 1)
        for shape, axis in [((3, 4097), 0), ((5, 3), 1), ((257, 7), 1), ((255, 7), -1),
                            ((2, 3, 4096), 1), ((2, 3, 1), 1), ((0, 3), 1), ((4, 0, 5), 1)]:
            x, g = sample(shape, dtype), sample(shape, dtype)
            w = np.linspace(-0.5, 1.5, shape[axis]).astype(dtype)
            for threads in (1, 2):
                lr.prelu(x, w, axis=axis, num_threads=threads)
                lr.prelu(np.asfortranarray(x), w, axis=axis, num_threads=threads)
                gx, gw = lr.prelu_grad(g, x, w, axis=axis, num_threads=threads)
                lr.prelu_grad(g, x, w, axis=axis, out=g.copy(), num_threads=threads)
                calls += 4
    # The rrelu loops with element indices near 2**32 and 2**64.
    for dtype in (np.float32, np.float64):
        x = sample(1000, dtype)
        out = np.empty_like(x)
        for offset in (2**32 - 500, 2**64 - 1000):
            loop, ids = _dispatch.kernels.LOOPS[out.dtype.char], _dispatch.kernels.KERNEL_IDS
            views = [a.reshape(1, 1, -1) for a in (out, x, x)]
            loop(ids["rrelu_train"], *views, 0.1, 0.3, 0, 1, 2, offset, 1)
            loop(ids["rrelu_train_grad"], *views, 0.1, 0.3, 0, 1, 2, offset, 1)
            calls += 2
print(f"valgrind.sh: {calls} calls on kernels {_dispatch.supported_instruction_sets()}")
PY
)

echo "valgrind.sh: log in $LOG"
status=0
PYTHONMALLOC=malloc valgrind --tool=memcheck --error-exitcode=1 --leak-check=no \
    --errors-for-leak-kinds=none --num-callers=30 "${SUPP[@]}" --log-file="$LOG" \
    "$PYTHON" -c "$EXERCISE" || status=$?
errors=$(grep -E "ERROR SUMMARY" "$LOG" | tail -1)
ours=$(grep -c "_kernels_" "$LOG" || true)
echo "valgrind.sh: $errors; stack frames in the kernels: $ours"
if [ "$status" -ne 0 ]; then
    grep -E -A25 "Invalid (read|write)|uninitialised|Invalid free|Mismatched" "$LOG" | head -150
    echo "valgrind.sh: FAILED (exit $status)"
fi
exit "$status"
