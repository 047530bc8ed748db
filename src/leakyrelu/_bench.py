"""``python -m leakyrelu bench``: a report over the benchmark table in ``_benchcases``.

Every row times one call of leakyrelu and, interleaved in the same process
at the same thread count, its memory reference and every installed peer
(see ``_benchcases``). Each row gets one verdict against stated targets:

* ``ok``: every target of the row is met, by timings that settled (each
  call's two best passes, a whole pass over the rows apart, agree within 5%);
* ``ok (noisy)``: every target is met, but some timing did not settle: the
  figures may move from run to run;
* ``behind <ref>``: a target is missed, by timings that settled;
* ``noisy``: a target is missed but the timings did not settle: not a slowdown;
* ``no target``: nothing to compare with (e.g. torch absent for rrelu_train).

Targets: ``x mem`` <= 1.05 for memory-bound functions; ``x torch`` <= 1.00
(rrelu_train <= 0.10); ours / numba, numexpr, jax, onnxruntime <= 1.00;
the input rows (float16, bfloat16, strided, 100 elements) state their own.
"""
import json
import os
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

import leakyrelu as lr
from leakyrelu import _dispatch
from leakyrelu._benchcases import (FUNCTIONS, cases, MEMORY_TARGET, PEER_TARGET, PEERS, inputs,
                                   installed_peers, measure_apart, optional,
                                   row_calls)

MODES = ("out", "inplace", "alloc")
QUICK_FUNCTIONS = ("leaky_relu", "leaky_relu_grad", "relu", "prelu", "elu", "elu_grad")
QUICK_ALLOC = ("leaky_relu", "relu")          # allocating rows too: jax and onnxruntime
QUICK_SIZES = (1 << 16, 1 << 21)    # 256 KB float32: in L2; 8/16 MB: beyond L2
FULL_SIZES = (1 << 16, 1 << 20, 1 << 24, 1 << 26)   # 64M elements: well beyond the L3
DEFAULT_SIZES = QUICK_SIZES
ROW_ARRAYS = 8       # row_calls takes at most 7 times the input; one more for peers' results
QUICK_GAP = 0.02    # seconds of sleep between runtimes at 2+ threads (see _benchcases.measure)


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
    peers_us: dict = field(default_factory=dict)    # numba, numexpr, jax, onnxruntime
    noisy: bool = False           # some timing of the row did not settle
    leakyrelu_noisy: bool = False     # ours did not
    targets: str = ""


def verdict(checks):
    """One verdict from [(reference, ratio, target, noisy)]; ratio None = reference absent.

    ``ok`` when every present target is met, ``ok (noisy)`` if some of those
    timings did not settle; a missed target makes the row ``behind
    <reference>``, unless the timing was noisy, then ``noisy``. No present
    target at all: ``no target``.
    """
    present = [c for c in checks if c[1] is not None and c[2] is not None]
    if not present:
        return "no target"
    missed = [c for c in present if c[1] > c[2]]
    if not missed:
        return "ok (noisy)" if any(noisy for _, _, _, noisy in present) else "ok"
    if any(noisy for _, _, _, noisy in missed):
        return "noisy"
    return "behind " + ",".join(name for name, _, _, _ in missed)


def row_timing(case, mode, x0, g0, threads, peers=PEERS):
    """(label, make_calls, measure options) of one row, for ``measure_apart``."""
    gap = QUICK_GAP if threads > 1 else 0.0
    return (f"{case.name} {x0.dtype.name} {x0.size} {threads}t {mode}",
            lambda: row_calls(case, mode, x0, g0, threads, peers),
            {"quiet_gap": gap, "min_rounds": 2 if gap else 3})   # per pass


def measure_row(case, mode, x0, threads, t):
    """The Row of one call, from its timings ``t`` ({label: Timing})."""
    ours = t["leakyrelu"]
    row = Row(case.name, x0.dtype.name, x0.size, threads, mode, ours.seconds * 1e6,
              t["memory"].seconds * 1e6, ours.seconds / t["memory"].seconds)
    checks = [("mem", row.memory_ratio, MEMORY_TARGET if case.memory_bound else None,
               ours.noisy or t["memory"].noisy)]
    targets = [f"mem<={MEMORY_TARGET}"] if case.memory_bound else []
    if "torch" in t:
        row.torch_us, row.torch_ratio = t["torch"].seconds * 1e6, ours.seconds / t["torch"].seconds
        checks.append(("torch", row.torch_ratio, case.torch_target,
                       ours.noisy or t["torch"].noisy))
        targets.append(f"torch<={case.torch_target}")
    elif case.torch_call.get(mode):
        checks.append(("torch", None, case.torch_target, False))
    for peer in PEERS[1:]:
        if peer in t:
            row.peers_us[peer] = t[peer].seconds * 1e6
            checks.append((peer, ours.seconds / t[peer].seconds, PEER_TARGET,
                           ours.noisy or t[peer].noisy))
            targets.append(f"{peer}<={PEER_TARGET}")
    if "numpy" in t:
        row.numpy_us = t["numpy"].seconds * 1e6
    row.noisy = any(c[3] for c in checks)
    row.leakyrelu_noisy = ours.noisy
    row.status = verdict(checks)
    row.targets = " ".join(targets)
    return row


def jobs(functions, sizes, threads, dtypes, modes):
    """(function, dtype, size, threads, mode), skipping modes a function has no call for."""
    return [(f, d, s, t, m) for d in dtypes for s in sizes for f in functions
            for t in threads for m in modes]


def run(functions=QUICK_FUNCTIONS, sizes=QUICK_SIZES, threads=(1, 2),
        dtypes=("float32", "float64"), modes=("out",), budget=0.3, progress=True,
        extra_alloc=QUICK_ALLOC, peers=PEERS):
    """Measure every combination; return the rows as dicts."""
    todo = jobs(functions, sizes, threads, dtypes, modes)
    if "alloc" not in modes:
        todo += jobs([f for f in functions if f in extra_alloc], sizes, threads, dtypes,
                     ("alloc",))
    todo.sort(key=lambda j: (j[1], j[2], functions.index(j[0]), j[3], MODES.index(j[4])))
    rng = np.random.default_rng(2024)
    data = {group: inputs(np.dtype(group[0]), group[1], rng)
            for group in dict.fromkeys((job[1], job[2]) for job in todo)}

    def row(i, timings):
        name, dtype, size, nthreads, mode = todo[i]
        return measure_row(cases()[name], mode, data[dtype, size][0], nthreads, timings)

    # Every row in one measure_apart: a row's two passes are a whole pass over
    # every size apart, so a slow stretch of the machine has to outlast that
    # to pass for a settled timing (docs/benchmarking.md). The cost: every
    # size's inputs stay alive for the whole run.
    # Each later pass holds as much memory as one row's arrays may take
    # (ROW_ARRAYS times the largest input), so it times them on other pages.
    bar = Progress(2 * len(todo), progress)
    timings = measure_apart([row_timing(cases()[name], mode, *data[dtype, size], nthreads, peers)
                             for name, dtype, size, nthreads, mode in todo],
                            budget=budget, step=bar.step,
                            undecided=lambda i, t: row(i, t).status == "noisy",
                            displace_bytes=ROW_ARRAYS * max(x.nbytes for x, _ in data.values()))
    rows = [asdict(row(i, t)) for i, t in enumerate(timings)]
    bar.close()
    return rows


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()

    def step(self, label):
        self.done += 1
        self.total = max(self.total, self.done)   # a row timed once more
        if self.enabled:
            filled = 30 * self.done // self.total
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total} {label:<40.40}")
            sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")


# --- input rows: float16, bfloat16, strided views, per-call overhead ------------------

def input_rows(budget=0.3, functions=FUNCTIONS, size=1 << 20):
    """Rows for the inputs beyond a contiguous float32/float64 array, 1 thread.

    Each: leakyrelu, the memory reference, and torch on the same data
    (half, bfloat16, the same strided view), with the row's targets.
    """
    from leakyrelu._benchcases import input_row_specs
    specs = [spec for spec in input_row_specs(size) if spec["function"] in functions]
    timings = measure_apart([(spec["input"], spec["calls"], {}) for spec in specs], budget)
    rows = []
    for spec, t in zip(specs, timings):
        targets = spec["targets"]
        ours = t["leakyrelu"]
        checks, ratios = [], {}
        for ref, target in targets.items():
            if ref in t:
                ratios[ref] = ours.seconds / t[ref].seconds
                checks.append((ref, ratios[ref], target, ours.noisy or t[ref].noisy))
            else:
                checks.append((ref, None, target, False))
        rows.append({"function": spec["function"], "input": spec["input"],
                     "mode": spec["mode"], "size": spec["size"],
                     "times_us": {k: v.seconds * 1e6 for k, v in t.items()},
                     "ratios": ratios,
                     "targets": {k: v for k, v in targets.items()},
                     "noisy": any(c[3] for c in checks), "status": verdict(checks)})
    return rows


def _below_threshold_rows(budget):
    """Below the serial threshold, asking for 2 threads must cost nothing."""
    def size(dtype):   # an out= call reads and writes half the threshold
        return _dispatch.kernels.SERIAL_THRESHOLD_BYTES // np.dtype(dtype).itemsize // 4

    def make_calls(dtype):
        def calls():
            x = np.random.default_rng(1).standard_normal(size(dtype)).astype(dtype)
            out = np.empty_like(x)
            return {"one": (lambda: None, lambda: lr.leaky_relu(x, out=out, num_threads=1),
                            "ours"),
                    "two": (lambda: None, lambda: lr.leaky_relu(x, out=out, num_threads=2),
                            "ours")}
        return calls

    dtypes = (np.float32, np.float64)
    rows = []
    for dtype, t in zip(dtypes, measure_apart([(np.dtype(d).name, make_calls(d), {})
                                               for d in dtypes], budget)):
        ratio = t["two"].seconds / t["one"].seconds
        rows.append({"function": "leaky_relu", "dtype": np.dtype(dtype).name,
                     "size": size(dtype), "one_thread_us": t["one"].seconds * 1e6,
                     "two_threads_us": t["two"].seconds * 1e6, "ratio": ratio,
                     "status": verdict([("1 thread", ratio, 1.05,
                                         t["one"].noisy or t["two"].noisy)])})
    return rows


def _tiny_rows(budget):
    """A whole allocating call on 100 elements against ``np.maximum(x, 0)``."""
    def make_calls(dtype):
        x = np.random.default_rng(0).standard_normal(100).astype(dtype)
        return lambda: {"ours": (lambda: None, lambda: lr.leaky_relu(x), "ours"),
                        "np": (lambda: None, lambda: np.maximum(x, 0), "numpy")}

    dtypes = (np.float32, np.float64)
    rows = []
    for dtype, t in zip(dtypes, measure_apart([(np.dtype(d).name, make_calls(d), {})
                                               for d in dtypes], budget)):
        ratio = t["ours"].seconds / t["np"].seconds
        rows.append({"function": "leaky_relu", "dtype": np.dtype(dtype).name, "size": 100,
                     "leakyrelu_us": t["ours"].seconds * 1e6,
                     "np_maximum_us": t["np"].seconds * 1e6, "ratio": ratio,
                     "status": verdict([("np.maximum", ratio, 1.0,
                                         t["ours"].noisy or t["np"].noisy)])})
    return rows


def in_cache_bytes():
    """The largest array that, with its output, sits in this CPU's L3 (16 MiB where unknown)."""
    return _dispatch.kernels.L3_BYTES // 2 or 16 << 20


def scaling(rows):
    """The speed-up from 1 to 2 threads, for arrays of 1M elements and up that sit in cache."""
    by_key = {(r["function"], r["dtype"], r["size"], r["mode"], r["threads"]): r for r in rows}
    result = []
    for (name, dtype, size, mode, threads), r in by_key.items():
        two = by_key.get((name, dtype, size, mode, 2))
        in_cache = size * np.dtype(dtype).itemsize <= in_cache_bytes()
        if threads == 1 and two is not None and size >= 1 << 20 and in_cache:
            speedup = r["leakyrelu_us"] / two["leakyrelu_us"]
            result.append({"function": name, "dtype": dtype, "size": size, "mode": mode,
                           "speedup": speedup,
                           "status": verdict([("speed-up", 1.7 / speedup, 1.0,
                                               r["leakyrelu_noisy"] or two["leakyrelu_noisy"])])})
    return result


# --- the report --------------------------------------------------------------------

def _us(value):
    return "-" if value is None else f"{value:.1f}us"


def _x(value):
    return "-" if value is None else f"{value:.2f}"


def format_table(rows, peers=None):
    """The rows as text; a peer's column appears when any row has it, "-" where absent."""
    peers = peers if peers is not None else [p for p in PEERS[1:]
                                             if any(p in r.get("peers_us", {}) for r in rows)]
    header = (f"{'function':<16} {'dtype':<7} {'size':>8} {'thr':>3} {'mode':<7} "
              f"{'ours':>9} {'memory':>9} {'x mem':>5} {'torch':>9} {'x torch':>7}"
              + "".join(f" {p[:8]:>9}" for p in peers) + "  verdict")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['function']:<16} {r['dtype']:<7} {r['size']:>8} {r['threads']:>3} "
            f"{r['mode']:<7} {_us(r['leakyrelu_us']):>9} {_us(r['memory_us']):>9} "
            f"{_x(r['memory_ratio']):>5} {_us(r['torch_us']):>9} {_x(r['torch_ratio']):>7}"
            + "".join(f" {_us(r.get('peers_us', {}).get(p)):>9}" for p in peers)
            + f"  {r['status']}")
    return "\n".join(lines)


def format_inputs(rows):
    lines = []
    for r in rows:
        refs = "  ".join(f"x {ref} {_x(r['ratios'].get(ref))} (<= {target})"
                         for ref, target in r["targets"].items())
        times = " ".join(f"{k} {_us(v)}" for k, v in r["times_us"].items())
        lines.append(f"  {r['function']:<16} {r['input']:<22} {r['mode']:<7} {r['size']:>8}  "
                     f"{refs}  {r['status']}   [{times}]")
    return "\n".join(lines)


def main(args):
    full = args.full
    sizes = tuple(args.sizes) if args.sizes else (FULL_SIZES if full else QUICK_SIZES)
    threads = tuple(args.threads) if args.threads else (1, 2)
    functions = tuple(args.functions) if args.functions else (
        FUNCTIONS if full else QUICK_FUNCTIONS)
    functions = tuple(f for f in FUNCTIONS if f in functions)   # the table's order
    modes = MODES if full else ("out",)
    budget = 0.3 if full else 0.12
    rows = run(functions, sizes, threads, modes=modes, budget=budget, progress=not args.json)
    threaded = scaling(rows)
    with_leaky = "leaky_relu" in functions
    tiny = _tiny_rows(budget) if with_leaky else []
    serial = _below_threshold_rows(budget) if with_leaky else []
    extra = input_rows(budget, functions) if full else []
    if args.json:
        json.dump({"config": _config(), "rows": rows, "tiny": tiny, "scaling": threaded,
                   "below_threshold": serial, "inputs": extra}, sys.stdout, indent=1)
        print()
        return
    cfg = _config()
    torch = optional("torch")
    print(f"leakyrelu {cfg['version']} on {cfg['instruction_set']} kernels, "
          f"OpenMP {'on' if cfg['openmp'] else 'off'}, {os.cpu_count()} CPUs; "
          f"numpy {np.__version__}; torch {torch.__version__ if torch else 'not installed'}; "
          f"other peers: {', '.join(installed_peers()[1:] if torch else installed_peers()) or 'none'}")
    print("times: best of passes of interleaved rounds; x mem, x torch = our time / theirs; peer "
          "columns: their time. verdict: ok = every target met; ok (noisy) = met, but a "
          "timing did not settle, so its figures may move between runs; behind <ref> = a "
          f"target missed; noisy = missed, timings unsettled, rerun. Targets: x mem <= "
          f"{MEMORY_TARGET} "
          "(memory-bound functions), x torch <= 1.00 (rrelu_train <= 0.10), "
          "ours <= each peer.\n")
    print(format_table(rows))
    if extra:
        print("\ninputs, 1 thread (ratio = our time / reference, target in brackets):")
        print(format_inputs(extra))
    if tiny:
        print("\nper-call overhead: 100 elements, a whole allocating call against "
              "np.maximum(x, 0) (target: <= 1.00):")
        for r in tiny:
            print(f"  leaky_relu {r['dtype']:<8} {r['leakyrelu_us']:6.2f}us vs "
                  f"{r['np_maximum_us']:6.2f}us  ratio {r['ratio']:.2f}  {r['status']}")
    fits = f"{in_cache_bytes() >> 20} MiB" + (" or less" if _dispatch.kernels.L3_BYTES else
                                                " or less: the L3's size unknown")
    if threaded:
        print(f"\n2 threads against 1, same call, arrays of 1M elements and up that fit in "
              f"cache ({fits}; target: >= 1.7x faster):")
        for r in threaded:
            print(f"  {r['function']:<17} {r['dtype']:<8} {r['size']:>9} {r['mode']:<8} "
                  f"{r['speedup']:5.2f}x  {r['status']}")
    elif any(r["threads"] == 2 and r["size"] >= 1 << 20 for r in rows):
        print(f"\n2 threads against 1: no array of 1M elements and up in this run fits in "
              f"cache with its output ({fits}), so no speed-up is judged")
    if serial:
        print(f"\nbelow the serial threshold "
              f"({_dispatch.kernels.SERIAL_THRESHOLD_BYTES // 1024} KiB read and written), "
              "num_threads=2 against 1 (target: no slowdown):")
        for r in serial:
            print(f"  leaky_relu {r['dtype']:<8} {r['size']:>7} {r['two_threads_us']:6.2f}us vs "
                  f"{r['one_thread_us']:6.2f}us  ratio {r['ratio']:.2f}  {r['status']}")
    everything = rows + tiny + threaded + serial + extra
    counts = {}
    for r in everything:
        key = "behind" if r["status"].startswith("behind") else r["status"]
        counts[key] = counts.get(key, 0) + 1
    print("\n" + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if not full:
        print("python -m leakyrelu bench --full: every function, mode and size, and the "
              "float16, bfloat16, strided and list rows (about 5-25 minutes, by machine)")


def _config():
    from leakyrelu._config import config
    cfg = config()
    cfg["cpu"] = _dispatch.kernels.INSTRUCTION_SET
    return cfg
