"""``python -m leakyrelu bench``: leakyrelu side by side with its peers.

Every row times one kernel call in one mode and, interleaved in the same
process, its references:

* the memory limit, NumPy streaming the same bytes: ``np.copyto`` for
  ``out=`` calls, ``np.multiply(x, 1, out=x)`` in place and ``x.copy()`` for
  allocating calls (gradients read two arrays, so their reference moves
  1.5 times as many elements, or multiplies in place by an array of ones);
* PyTorch's CPU kernel at the same thread count, when torch is installed;
* the NumPy idiom a user would otherwise write, where there is one.

Inputs are random-sign normal data. Each timing is the best of several
calls; in-place calls start every repetition from fresh data.
"""
import json
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import leakyrelu as lr
from leakyrelu import _dispatch

MODES = ("out", "inplace", "alloc")
DEFAULT_SIZES = (1 << 16, 1 << 20, 1 << 24)
FULL_SIZES = (1 << 16, 1 << 20, 1 << 24, 1 << 26)   # 64M elements: well beyond the L3
QUICK_SIZES = (1 << 20,)
PRELU_CHANNELS = 16

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is an optional peer
    torch = None


@dataclass
class Case:
    """How to call one function in each mode, for leakyrelu and its peers."""
    name: str
    grad: bool
    ours: object                      # (arrays, out, threads) -> result
    torch_call: dict = field(default_factory=dict)   # mode -> (tensors, out) -> result
    numpy_idiom: object = None        # arrays -> result
    memory_bound: bool = True
    torch_target: float = 1.0         # ours / torch must not exceed this


def _prelu_shape(n):
    return (max(n // (PRELU_CHANNELS * 1024), 1), PRELU_CHANNELS, min(n // PRELU_CHANNELS, 1024))


def _cases():
    a, lo, hi, seed = 0.01, 1 / 8, 1 / 3, 1234
    sa, ss = lr.SELU_ALPHA, lr.SELU_SCALE
    nn = torch._C._nn if torch else None
    aten = torch.ops.aten if torch else None
    w = {}  # prelu weights by dtype, made on first use

    def weight(dtype):
        if dtype not in w:
            w[dtype] = np.linspace(0.05, 0.3, PRELU_CHANNELS).astype(dtype)
        return w[dtype]

    def tw(t):
        return torch.from_numpy(weight(t.numpy().dtype))

    def rrelu_noise(t):
        return torch.empty_like(t)

    cases = [
        Case("leaky_relu", False, lambda A, o, t: lr.leaky_relu(A[0], a, out=o, num_threads=t),
             {"out": lambda T, o: nn.leaky_relu(T[0], a, out=o),
              "inplace": lambda T, o: F.leaky_relu_(T[0], a),
              "alloc": lambda T, o: F.leaky_relu(T[0], a)},
             lambda A: np.where(A[0] > 0, A[0], a * A[0])),
        Case("leaky_relu_grad", True,
             lambda A, o, t: lr.leaky_relu_grad(A[0], A[1], a, out=o, num_threads=t),
             {"out": lambda T, o: aten.leaky_relu_backward.grad_input(T[0], T[1], a, False,
                                                                      grad_input=o),
              "alloc": lambda T, o: aten.leaky_relu_backward(T[0], T[1], a, False)},
             lambda A: np.where(A[1] > 0, A[0], a * A[0])),
        Case("relu", False, lambda A, o, t: lr.relu(A[0], out=o, num_threads=t),
             {"out": lambda T, o: torch.clamp_min(T[0], 0, out=o),
              "inplace": lambda T, o: torch.relu_(T[0]),
              "alloc": lambda T, o: torch.relu(T[0])},
             lambda A: np.maximum(A[0], 0)),
        Case("relu_grad", True, lambda A, o, t: lr.relu_grad(A[0], A[1], out=o, num_threads=t),
             {"out": lambda T, o: aten.threshold_backward.grad_input(T[0], T[1], 0, grad_input=o),
              "alloc": lambda T, o: aten.threshold_backward(T[0], T[1], 0)},
             lambda A: np.where(A[1] > 0, A[0], 0)),
        Case("prelu", False,
             lambda A, o, t: lr.prelu(A[0], weight(A[0].dtype), out=o, num_threads=t),
             {"alloc": lambda T, o: F.prelu(T[0], tw(T[0]))},
             lambda A: np.where(A[0] > 0, A[0], weight(A[0].dtype)[:, None] * A[0])),
        Case("prelu_grad", True,
             lambda A, o, t: lr.prelu_grad(A[0], A[1], weight(A[0].dtype), out=o, num_threads=t),
             {"alloc": lambda T, o: [r.sum((0, 2)) if r.dim() == 3 and i else r for i, r in
                                     enumerate(aten._prelu_kernel_backward(
                                         T[0], T[1], tw(T[0]).view(1, -1, 1)))]}),
        Case("rrelu", False, lambda A, o, t: lr.rrelu(A[0], lo, hi, out=o, num_threads=t),
             {"inplace": lambda T, o: F.rrelu_(T[0], lo, hi, training=False),
              "alloc": lambda T, o: F.rrelu(T[0], lo, hi, training=False)}),
        Case("rrelu_train", False,
             lambda A, o, t: lr.rrelu(A[0], lo, hi, training=True, seed=seed, out=o,
                                      num_threads=t),
             {"inplace": lambda T, o: F.rrelu_(T[0], lo, hi, training=True),
              "alloc": lambda T, o: F.rrelu(T[0], lo, hi, training=True)},
             memory_bound=False, torch_target=0.1),
        Case("rrelu_train_grad", True,
             lambda A, o, t: lr.rrelu_grad(A[0], A[1], lo, hi, training=True, seed=seed,
                                           out=o, num_threads=t),
             {"alloc": lambda T, o: aten.rrelu_with_noise_backward(
                 T[0], T[1], rrelu_noise(T[1]), lo, hi, True, False)}),
        Case("elu", False, lambda A, o, t: lr.elu(A[0], out=o, num_threads=t),
             {"out": lambda T, o: nn.elu(T[0], out=o),
              "inplace": lambda T, o: F.elu_(T[0]),
              "alloc": lambda T, o: F.elu(T[0])},
             lambda A: np.where(A[0] > 0, A[0], np.expm1(np.minimum(A[0], 0))),
             memory_bound=False),
        Case("elu_grad", True, lambda A, o, t: lr.elu_grad(A[0], A[1], out=o, num_threads=t),
             {"out": lambda T, o: aten.elu_backward.grad_input(T[0], 1.0, 1, 1, False, T[1],
                                                               grad_input=o),
              "alloc": lambda T, o: aten.elu_backward(T[0], 1.0, 1, 1, False, T[1])},
             memory_bound=False),
        Case("celu", False, lambda A, o, t: lr.celu(A[0], 2.0, out=o, num_threads=t),
             {"out": lambda T, o: nn.elu(T[0], 2.0, 1, 0.5, out=o),
              "inplace": lambda T, o: F.celu_(T[0], 2.0),
              "alloc": lambda T, o: F.celu(T[0], 2.0)},
             memory_bound=False),
        Case("celu_grad", True,
             lambda A, o, t: lr.celu_grad(A[0], A[1], 2.0, out=o, num_threads=t),
             {"alloc": lambda T, o: aten.elu_backward(T[0], 2.0, 1, 0.5, False, T[1])},
             memory_bound=False),
        Case("selu", False, lambda A, o, t: lr.selu(A[0], out=o, num_threads=t),
             {"out": lambda T, o: nn.elu(T[0], sa, ss, 1, out=o),
              "inplace": lambda T, o: F.selu(T[0], inplace=True),
              "alloc": lambda T, o: F.selu(T[0])},
             memory_bound=False),
        Case("selu_grad", True, lambda A, o, t: lr.selu_grad(A[0], A[1], out=o, num_threads=t),
             {"alloc": lambda T, o: aten.elu_backward(T[0], sa, ss, 1, False, T[1])},
             memory_bound=False),
    ]
    return {c.name: c for c in cases}


FUNCTIONS = tuple(_cases())


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()

    def step(self, label):
        self.done += 1
        if self.enabled:
            filled = 30 * self.done // self.total
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total} {label:<40.40}")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")


def _best_interleaved(calls, reps, budget):
    """Best time of each call, taking turns so that drift hits all alike.

    At least ``reps`` rounds; more, up to 1000, while the rounds fit in
    ``budget`` seconds, since the best of many short calls is what is stable.
    """
    best = [float("inf")] * len(calls)
    start = time.perf_counter()
    for rep in range(1000):
        for i, (prepare, call) in enumerate(calls):
            prepare()
            t0 = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - t0)
        if rep + 1 >= reps and time.perf_counter() - start > budget:
            break
    return best


@dataclass
class Row:
    function: str
    dtype: str
    size: int
    threads: int
    mode: str
    leakyrelu_us: float
    memory_us: float
    memory_ratio: float
    torch_us: float = None
    torch_ratio: float = None
    numpy_us: float = None
    status: str = "ok"


def _inputs(dtype, size, rng):
    x = rng.standard_normal(size, dtype=np.float64).astype(dtype)
    g = rng.standard_normal(size, dtype=np.float64).astype(dtype)
    return x, g


def _measure(case, mode, x0, g0, threads, reps, budget):
    """Time one row. Inputs are (x,) or (g, x); in-place calls overwrite a copy of the first."""
    shape = _prelu_shape(x0.size) if case.name.startswith("prelu") else x0.shape
    pristine = [g0.reshape(shape), x0.reshape(shape)] if case.grad else [x0.reshape(shape)]
    arrays = [a.copy() for a in pristine]
    out = np.empty_like(arrays[0])
    ones = np.ones_like(arrays[0])

    def restore():
        np.copyto(arrays[0], pristine[0])

    def nothing():
        pass

    if mode == "out":
        ours = (nothing, lambda: case.ours(arrays, out, threads))
        if case.grad:  # three streams: copy 1.5x the elements (real data, not zero pages)
            big_src = np.concatenate([x0, g0[: x0.size // 2]])
            big_dst = np.empty_like(big_src)
            memory = (nothing, lambda: np.copyto(big_dst, big_src))
        else:
            memory = (nothing, lambda: np.copyto(out, arrays[0]))
    elif mode == "inplace":
        ours = (restore, lambda: case.ours(arrays, arrays[0], threads))
        if case.grad:
            memory = (restore, lambda: np.multiply(arrays[0], ones, out=arrays[0]))
        else:
            memory = (restore, lambda: np.multiply(arrays[0], 1, out=arrays[0]))
    else:
        ours = (nothing, lambda: case.ours(arrays, None, threads))
        if case.grad:
            memory = (nothing, lambda: np.multiply(arrays[0], ones))
        else:
            memory = (nothing, lambda: arrays[0].copy())
    calls = [ours, memory]

    torch_fn = case.torch_call.get(mode) if torch is not None else None
    if torch_fn is not None:
        tensors = [torch.from_numpy(a) for a in arrays]
        tout = torch.from_numpy(out)
        calls.append((restore if mode == "inplace" else nothing,
                      lambda: torch_fn(tensors, tout)))
    if case.numpy_idiom is not None and mode == "alloc":
        calls.append((nothing, lambda: case.numpy_idiom(arrays)))

    if torch is not None:
        torch.set_num_threads(threads)
    times = _best_interleaved(calls, reps, budget)
    row = Row(case.name, x0.dtype.name, x0.size, threads, mode,
              times[0] * 1e6, times[1] * 1e6, times[0] / times[1])
    extra = iter(times[2:])
    if torch_fn is not None:
        t = next(extra)
        row.torch_us, row.torch_ratio = t * 1e6, times[0] / t
    if case.numpy_idiom is not None and mode == "alloc":
        row.numpy_us = next(extra) * 1e6
    behind = (case.memory_bound and row.memory_ratio > 1.05) or (
        row.torch_ratio is not None and row.torch_ratio > case.torch_target)
    row.status = "behind" if behind else "ok"
    return row


def _tiny_rows(reps):
    """A whole allocating call on 100 elements against ``np.maximum(x, 0)``."""
    rows = []
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(0).standard_normal(100).astype(dtype)
        times = _best_interleaved([(lambda: None, lambda: lr.leaky_relu(x)),
                                   (lambda: None, lambda: np.maximum(x, 0))], reps * 200, 0.5)
        rows.append({"function": "leaky_relu", "dtype": np.dtype(dtype).name, "size": 100,
                     "leakyrelu_us": times[0] * 1e6, "np_maximum_us": times[1] * 1e6,
                     "ratio": times[0] / times[1],
                     "status": "ok" if times[0] <= times[1] else "behind"})
    return rows


IN_CACHE_BYTES = 16 << 20   # one array's size that, with its output, still sits in the L3


def scaling(rows):
    """The speed-up from 1 to 2 threads, for arrays of 1M elements and up that sit in cache.

    Beyond the cache both threads wait on the same memory bus, so the
    speed-up there says more about the machine than about the kernels.
    """
    by_key = {(r["function"], r["dtype"], r["size"], r["mode"], r["threads"]): r for r in rows}
    result = []
    for (name, dtype, size, mode, threads), r in by_key.items():
        two = by_key.get((name, dtype, size, mode, 2))
        in_cache = size * np.dtype(dtype).itemsize <= IN_CACHE_BYTES
        if threads == 1 and two is not None and size >= 1 << 20 and in_cache:
            speedup = r["leakyrelu_us"] / two["leakyrelu_us"]
            result.append({"function": name, "dtype": dtype, "size": size, "mode": mode,
                           "speedup": speedup, "status": "ok" if speedup >= 1.7 else "behind"})
    return result


def _below_threshold_rows(reps):
    """Below the serial threshold, asking for 2 threads must cost nothing."""
    rows = []
    for dtype in (np.float32, np.float64):
        size = _dispatch.kernels.SERIAL_THRESHOLD_BYTES // np.dtype(dtype).itemsize // 2
        x = np.random.default_rng(1).standard_normal(size).astype(dtype)
        out = np.empty_like(x)
        times = _best_interleaved(
            [(lambda: None, lambda: lr.leaky_relu(x, out=out, num_threads=1)),
             (lambda: None, lambda: lr.leaky_relu(x, out=out, num_threads=2))], reps * 100, 0.3)
        ratio = times[1] / times[0]
        rows.append({"function": "leaky_relu", "dtype": np.dtype(dtype).name, "size": size,
                     "one_thread_us": times[0] * 1e6, "two_threads_us": times[1] * 1e6,
                     "ratio": ratio, "status": "ok" if ratio <= 1.05 else "behind"})
    return rows


def run(functions=FUNCTIONS, sizes=DEFAULT_SIZES, threads=(1, 2), dtypes=("float32", "float64"),
        modes=MODES, reps=7, budget=0.5, progress=True):
    """Measure every combination; return the rows as dicts."""
    cases = _cases()
    rng = np.random.default_rng(2024)
    jobs = [(f, d, s, t, m) for d in dtypes for s in sizes for f in functions
            for t in threads for m in modes]
    bar = Progress(len(jobs), progress)
    rows, data = [], {}
    for name, dtype, size, nthreads, mode in jobs:
        if (dtype, size) not in data:
            data.clear()
            data[(dtype, size)] = _inputs(np.dtype(dtype), size, rng)
        x0, g0 = data[(dtype, size)]
        bar.step(f"{name} {dtype} {size} {nthreads}t {mode}")
        rows.append(asdict(_measure(cases[name], mode, x0, g0, nthreads, reps, budget)))
    bar.close()
    return rows


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows):
    header = (f"{'function':<17} {'dtype':<8} {'size':>9} {'thr':>3} {'mode':<8} "
              f"{'leakyrelu':>10} {'memory':>10} {'x mem':>6} {'torch':>10} {'x torch':>7} "
              f"{'numpy':>10}  status")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['function']:<17} {r['dtype']:<8} {r['size']:>9} {r['threads']:>3} "
            f"{r['mode']:<8} {r['leakyrelu_us']:>8.1f}us {r['memory_us']:>8.1f}us "
            f"{r['memory_ratio']:>6.2f} {_fmt(r['torch_us'], '>8.1f') + 'us':>10} "
            f"{_fmt(r['torch_ratio'], '>7.2f'):>7} {_fmt(r['numpy_us'], '>8.1f') + 'us':>10}"
            f"  {r['status']}")
    return "\n".join(lines)


def main(args):
    sizes = tuple(args.sizes) if args.sizes else (
        QUICK_SIZES if args.quick else FULL_SIZES if args.full else DEFAULT_SIZES)
    threads = tuple(args.threads) if args.threads else ((1,) if args.quick else (1, 2))
    functions = tuple(args.functions) if args.functions else FUNCTIONS
    unknown = set(functions) - set(FUNCTIONS)
    if unknown:
        raise SystemExit(f"unknown function(s): {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(FUNCTIONS)}")
    reps = 3 if args.quick else 7
    rows = run(functions, sizes, threads, reps=reps, budget=0.1 if args.quick else 0.3,
               progress=not args.json)
    tiny = _tiny_rows(reps)
    threaded = scaling(rows)
    serial = _below_threshold_rows(reps)
    if args.json:
        json.dump({"config": _config(), "rows": rows, "tiny": tiny, "scaling": threaded,
                   "below_threshold": serial}, sys.stdout, indent=1)
        print()
        return
    cfg = _config()
    print(f"leakyrelu {cfg['version']} on {cfg['instruction_set']} kernels, "
          f"OpenMP {'on' if cfg['openmp'] else 'off'}; torch "
          f"{torch.__version__ if torch else 'not installed'}; numpy {np.__version__}")
    print("times are the best of several calls; x mem = leakyrelu / memory limit "
          "(target <= 1.05), x torch = leakyrelu / torch (target <= 1.00; rrelu_train <= 0.10)\n")
    print(format_table(rows))
    print("\ntiny arrays (100 elements), a whole allocating call against np.maximum(x, 0):")
    for r in tiny:
        print(f"  leaky_relu {r['dtype']:<8} {r['leakyrelu_us']:6.2f}us vs "
              f"{r['np_maximum_us']:6.2f}us  ratio {r['ratio']:.2f}  {r['status']}")
    if threaded:
        print("\n2 threads against 1, same call, arrays of 1M elements and up that fit in "
              "cache (target: >= 1.7x faster):")
        for r in threaded:
            print(f"  {r['function']:<17} {r['dtype']:<8} {r['size']:>9} {r['mode']:<8} "
                  f"{r['speedup']:5.2f}x  {r['status']}")
    print(f"\nbelow the serial threshold ({_dispatch.kernels.SERIAL_THRESHOLD_BYTES // 1024} KiB), "
          "num_threads=2 against 1 (target: no slowdown):")
    for r in serial:
        print(f"  leaky_relu {r['dtype']:<8} {r['size']:>7} {r['two_threads_us']:6.2f}us vs "
              f"{r['one_thread_us']:6.2f}us  ratio {r['ratio']:.2f}  {r['status']}")
    everything = rows + tiny + threaded + serial
    behind = sum(r["status"] == "behind" for r in everything)
    print(f"\n{len(everything) - behind} ok, {behind} behind")


def _config():
    from leakyrelu._config import config
    cfg = config()
    cfg["cpu"] = _dispatch.kernels.INSTRUCTION_SET
    return cfg
