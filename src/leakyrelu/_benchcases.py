"""The benchmark table: every timed call, its memory reference, its peers, and the timer.

One table serves ``python -m leakyrelu bench`` (a report over it, in
``_bench.py``) and the asv suite in ``benchmarks/``. A row is one function,
dtype, size, thread count and mode; :func:`row_calls` gives, for a row, the
call of leakyrelu, the memory reference and every installed peer, each in
the call shape it offers (``out=`` where it has one, allocating otherwise),
and :func:`measure` times them side by side with one timer.

References and peers, all optional except NumPy:

* ``memory``: NumPy streaming the same bytes: ``np.copyto(out, x)`` for
  ``out=``, ``np.multiply(x, 1, out=x)`` in place, ``x.copy()`` allocating
  (gradients read two arrays: ``np.copyto`` of 1.5n elements, a multiply
  by an array of ones);
* ``torch``: PyTorch's CPU kernel (the ATen op autograd calls);
* ``numba``: an ``@njit(parallel=True, fastmath=True)`` prange loop, ``out=``;
* ``numexpr``: ``evaluate("where(x > 0, x, a * x)", out=out)``;
* ``jax``: ``jax.jit`` on CPU, allocating (the result is a new jax array);
* ``onnxruntime``: a one-node LeakyRelu / Relu model, allocating;
* ``numpy``: the NumPy idiom a user would otherwise write, allocating.
"""
import functools
import itertools
import os
import time
from dataclasses import dataclass, field

import numpy as np

import leakyrelu as lr

MODES = ("out", "inplace", "alloc")
PRELU_CHANNELS = 16
ALPHA, LOWER, UPPER, SEED, CELU_ALPHA = 0.01, 1 / 8, 1 / 3, 1234, 2.0
PEERS = ("torch", "numba", "numexpr", "jax", "onnxruntime")


@functools.cache
def optional(name):
    """The module `name`, imported on first use, or None when it is not installed."""
    try:
        if name == "torch":
            import torch
            return torch
        if name == "numba":
            import numba
            return numba
        if name == "numexpr":
            import numexpr
            return numexpr
        if name == "jax":
            import jax
            jax.config.update("jax_enable_x64", True)   # float64 stays float64
            jax.config.update("jax_platforms", "cpu")
            return jax
        if name == "onnxruntime":
            import onnx  # noqa: F401  (to build the one-node models)
            import onnxruntime
            return onnxruntime
        if name == "ml_dtypes":
            import ml_dtypes
            return ml_dtypes
    except Exception:   # not installed, or broken: a peer is never required
        return None
    raise ValueError(name)


def installed_peers():
    return [p for p in PEERS if optional(p) is not None]


@dataclass
class Case:
    """How to call one function: leakyrelu in every mode, and what to compare it with."""
    name: str
    grad: bool
    ours: object                      # (arrays, out, threads) -> result
    torch_call: dict = field(default_factory=dict)   # mode -> (tensors, out) -> result
    numpy_idiom: object = None        # arrays -> result
    memory_bound: bool = True         # target: x mem <= MEMORY_TARGET
    torch_target: float = 1.0         # ours / torch must not exceed this
    slope: float = None               # leaky_relu / relu: the slope the other peers compute


def _prelu_shape(n):
    # NCHW: (outer, PRELU_CHANNELS, inner), rows of at most 1024 elements.
    if n % PRELU_CHANNELS:
        raise ValueError(f"prelu's rows need a size that is a multiple of {PRELU_CHANNELS}, "
                         f"not {n}")
    per_channel = n // PRELU_CHANNELS
    inner = next(d for d in range(min(per_channel, 1024), 0, -1) if per_channel % d == 0)
    return (per_channel // inner, PRELU_CHANNELS, inner)


@functools.cache
def _weight(dtype):
    return np.linspace(0.05, 0.3, PRELU_CHANNELS).astype(dtype)


def _cases():
    a, lo, hi, seed = ALPHA, LOWER, UPPER, SEED
    sa, ss = lr.SELU_ALPHA, lr.SELU_SCALE
    torch = optional("torch")
    nn = torch._C._nn if torch else None
    aten = torch.ops.aten if torch else None
    F = torch.nn.functional if torch else None

    def tw(t):
        return torch.from_numpy(_weight(np.dtype(str(t.dtype).replace("torch.", ""))))

    cases = [
        Case("leaky_relu", False, lambda A, o, t: lr.leaky_relu(A[0], a, out=o, num_threads=t),
             {"out": lambda T, o: nn.leaky_relu(T[0], a, out=o),
              "inplace": lambda T, o: F.leaky_relu_(T[0], a),
              "alloc": lambda T, o: F.leaky_relu(T[0], a)},
             lambda A: np.where(A[0] > 0, A[0], a * A[0]), slope=a),
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
             lambda A: np.maximum(A[0], 0), slope=0.0),
        Case("relu_grad", True, lambda A, o, t: lr.relu_grad(A[0], A[1], out=o, num_threads=t),
             {"out": lambda T, o: aten.threshold_backward.grad_input(T[0], T[1], 0, grad_input=o),
              "alloc": lambda T, o: aten.threshold_backward(T[0], T[1], 0)},
             lambda A: np.where(A[1] > 0, A[0], 0)),
        Case("prelu", False,
             lambda A, o, t: lr.prelu(A[0], _weight(A[0].dtype), out=o, num_threads=t),
             {"alloc": lambda T, o: F.prelu(T[0], tw(T[0]))},
             lambda A: np.where(A[0] > 0, A[0], _weight(A[0].dtype)[:, None] * A[0])),
        Case("prelu_grad", True,
             lambda A, o, t: lr.prelu_grad(A[0], A[1], _weight(A[0].dtype), out=o,
                                           num_threads=t),
             {"alloc": lambda T, o: [r.sum((0, 2)) if r.dim() == 3 and i else r for i, r in
                                     enumerate(aten._prelu_kernel_backward(
                                         T[0], T[1], tw(T[0]).view(1, -1, 1)))]},
             lambda A: (np.where(A[1] > 0, A[0], _weight(A[0].dtype)[:, None] * A[0]),
                        np.where(A[1] > 0, 0, A[0] * A[1]).sum(axis=(0, 2)))),
        Case("rrelu", False, lambda A, o, t: lr.rrelu(A[0], lo, hi, out=o, num_threads=t),
             {"inplace": lambda T, o: F.rrelu_(T[0], lo, hi, training=False),
              "alloc": lambda T, o: F.rrelu(T[0], lo, hi, training=False)},
             lambda A: np.where(A[0] > 0, A[0], (lo + hi) / 2 * A[0])),
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
                 T[0], T[1], torch.empty_like(T[1]), lo, hi, True, False)}),
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
             lambda A: np.where(A[1] > 0, A[0], A[0] * np.exp(np.minimum(A[1], 0))),
             memory_bound=False),
        Case("celu", False, lambda A, o, t: lr.celu(A[0], CELU_ALPHA, out=o, num_threads=t),
             {"out": lambda T, o: nn.elu(T[0], CELU_ALPHA, 1, 1 / CELU_ALPHA, out=o),
              "inplace": lambda T, o: F.celu_(T[0], CELU_ALPHA),
              "alloc": lambda T, o: F.celu(T[0], CELU_ALPHA)},
             memory_bound=False),
        Case("celu_grad", True,
             lambda A, o, t: lr.celu_grad(A[0], A[1], CELU_ALPHA, out=o, num_threads=t),
             {"alloc": lambda T, o: aten.elu_backward(T[0], CELU_ALPHA, 1, 1 / CELU_ALPHA,
                                                      False, T[1])},
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


@functools.cache
def cases():
    """{name: Case}, built on first use (it imports torch when installed)."""
    return _cases()


FUNCTIONS = ("leaky_relu", "leaky_relu_grad", "relu", "relu_grad", "prelu", "prelu_grad",
             "rrelu", "rrelu_train", "rrelu_train_grad", "elu", "elu_grad", "celu",
             "celu_grad", "selu", "selu_grad")
MEMORY_TARGET = 1.05    # x mem, for memory-bound functions
PEER_TARGET = 1.0       # ours / peer, for numba, numexpr, jax and onnxruntime


# --- the other peers: leaky_relu and relu only, in the call shape each offers ---------

@functools.cache
def _numba_kernel():
    numba = optional("numba")

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def leaky(x, slope, out):
        for i in numba.prange(x.size):
            v = x[i]
            out[i] = v if v > 0 else v * slope
    return leaky


@functools.cache
def _jax_kernel(slope):
    jax = optional("jax")
    jnp = jax.numpy
    return jax.jit(lambda x: jnp.where(x > 0, x, x * slope))


@functools.cache
def _onnx_session(slope, dtype, threads):
    import onnx
    from onnx import TensorProto, helper
    ort = optional("onnxruntime")
    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    node = (helper.make_node("Relu", ["x"], ["y"]) if slope == 0 else
            helper.make_node("LeakyRelu", ["x"], ["y"], alpha=float(slope)))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, None)],
                              [helper.make_tensor_value_info("y", elem, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Its workers would otherwise spin between calls and steal the other runtimes' cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def peer_call(peer, case, mode, arrays, out, threads):
    """(prepare, call) for `peer` on this row, or None where it has no such call."""
    slope = case.slope
    x = arrays[0]
    if slope is None or case.grad:
        return None
    if peer == "numba" and mode == "out":
        kernel, s = _numba_kernel(), x.dtype.type(slope)
        numba = optional("numba")
        flat_x, flat_o = x.reshape(-1), out.reshape(-1)
        kernel(flat_x[:16], s, flat_o[:16])   # compile for this dtype, untimed

        def call():
            numba.set_num_threads(threads)
            kernel(flat_x, s, flat_o)
            return out
        return call
    if peer == "numexpr" and mode == "out":
        ne = optional("numexpr")
        env = {"x": x, "a": x.dtype.type(slope)}

        def call():
            ne.set_num_threads(threads)
            return ne.evaluate("where(x > 0, x, a * x)", local_dict=env, out=out)
        return call
    if peer == "jax" and mode == "alloc":
        if threads != (os.cpu_count() or 1):   # XLA's CPU threads cannot be set per call
            return None
        f = _jax_kernel(slope)
        f(x).block_until_ready()   # compile, untimed
        return lambda: f(x).block_until_ready()
    if peer == "onnxruntime" and mode == "alloc":
        try:
            session = _onnx_session(slope, x.dtype.name, threads)
            session.run(None, {"x": x})
        except Exception:   # no kernel for this dtype in this onnxruntime
            return None
        return lambda: session.run(None, {"x": x})[0]
    return None


# --- one row's calls ---------------------------------------------------------------

def inputs(dtype, size, rng):
    """Random-sign normal data (x, g), drawn in float32 and cast."""
    x = rng.standard_normal(size, dtype=np.float32).astype(dtype)
    g = rng.standard_normal(size, dtype=np.float32).astype(dtype)
    return x, g


HUGE_PAGE = 2 << 20
# Each placed array starts PLACE_STEP bytes further into its huge page than
# the one before, PLACES steps in turn: see placed().
PLACE_STEP = 64 << 10
PLACES = 16
_place = itertools.count()


def placed(array, fill=None):
    """A copy of `array` (or an array like it filled with `fill`) in memory NumPy
    asks Linux to back with huge pages, k * 64 KiB past a 2 MiB boundary, with
    k = 0, 1, ..., 15 for consecutive calls.

    Where an array sits decides part of a call's time: which of its stretches
    are on huge pages, which cache sets its pages fall in, and whether its
    addresses trail another array's by a few cache lines modulo 4 KiB (then a
    load waits on an unrelated store: up to 1.3x on a 64K-element call). On
    malloc's addresses all of that changes from process to process
    (docs/benchmarking.md). Placed alike, every array of a run, ours and the
    references', is alike, and so is every run. The 64 KiB steps keep the
    arrays of one row from lying a multiple of 256 MiB apart, where two
    input streams read in step run at about 0.6x their speed on Zen 4.
    """
    # NumPy asks for huge pages from 4 MiB up, so even a small array gets one.
    buffer = np.empty(max(array.nbytes, HUGE_PAGE) + 2 * HUGE_PAGE, np.uint8)
    start = -buffer.ctypes.data % HUGE_PAGE + next(_place) % PLACES * PLACE_STEP
    result = buffer[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    result[...] = array if fill is None else fill
    return result


def row_calls(case, mode, x0, g0, threads, peers=PEERS):
    """{label: (prepare, call, runtime)} for one row: leakyrelu, memory, then the peers.

    Inputs are (x,) or (g, x); in-place calls overwrite a copy of the first
    array, restored from a pristine copy (untimed) before every call.
    `runtime` names the OpenMP runtime (or thread pool) the call runs on.
    """
    shape = _prelu_shape(x0.size) if case.name.startswith("prelu") else x0.shape
    pristine = [g0.reshape(shape), x0.reshape(shape)] if case.grad else [x0.reshape(shape)]
    arrays = [placed(p) for p in pristine]
    out = placed(arrays[0], 0.5)       # written once: no page faults when timed
    ones = placed(arrays[0], 1)

    def restore():
        np.copyto(arrays[0], pristine[0])

    def nothing():
        pass

    calls = {}
    if mode == "out":
        calls["leakyrelu"] = (nothing, lambda: case.ours(arrays, out, threads), "ours")
        if case.grad:  # three streams: copy 1.5x the elements (real data, not zero pages)
            big_src = placed(np.concatenate([x0, g0[: x0.size // 2]]))
            big_dst = placed(big_src, 0.5)
            calls["memory"] = (nothing, lambda: np.copyto(big_dst, big_src), "numpy")
        else:
            calls["memory"] = (nothing, lambda: np.copyto(out, arrays[0]), "numpy")
    elif mode == "inplace":
        calls["leakyrelu"] = (restore, lambda: case.ours(arrays, arrays[0], threads), "ours")
        if case.grad:
            calls["memory"] = (restore, lambda: np.multiply(arrays[0], ones, out=arrays[0]),
                               "numpy")
        else:
            calls["memory"] = (restore, lambda: np.multiply(arrays[0], 1, out=arrays[0]),
                               "numpy")
    else:
        calls["leakyrelu"] = (nothing, lambda: case.ours(arrays, None, threads), "ours")
        if case.grad:
            calls["memory"] = (nothing, lambda: np.multiply(arrays[0], ones), "numpy")
        else:
            calls["memory"] = (nothing, lambda: arrays[0].copy(), "numpy")

    torch = optional("torch") if "torch" in peers else None
    torch_fn = case.torch_call.get(mode) if torch is not None else None
    if torch_fn is not None:
        tensors = [torch.from_numpy(a) for a in arrays]
        tout = torch.from_numpy(out)

        def torch_call():
            torch.set_num_threads(threads)
            return torch_fn(tensors, tout)
        calls["torch"] = (restore if mode == "inplace" else nothing, torch_call, "torch")
    for peer in peers:
        if peer != "torch" and optional(peer) is not None:
            call = peer_call(peer, case, mode, arrays, out, threads)
            if call is not None:
                calls[peer] = (nothing, call, peer)
    if case.numpy_idiom is not None and mode == "alloc":
        calls["numpy"] = (nothing, lambda: case.numpy_idiom(arrays), "numpy")
    return calls


# --- the timer ---------------------------------------------------------------------

BLOCK_SECONDS = 2e-3      # a block of repeated calls lasts at least this long
STABLE = 0.05             # first and second half of the rounds agree within 5%
# Runtimes that leave no worker spinning after a call (NumPy runs on the calling
# thread, numexpr's pool waits on a condition variable): no quiet gap after them.
QUIET_RUNTIMES = ("numpy", "numexpr")


@dataclass
class Timing:
    seconds: float            # the best block's time per call
    noisy: bool               # the halves of the rounds disagreed by more than STABLE


def measure(calls, budget=0.3, min_rounds=6, max_rounds=200, quiet_gap=0.0):
    """Time every call side by side; {label: Timing}.

    Rounds take turns over the calls, so that drift hits all alike, each
    starting one call later than the last. In a
    round each call runs as a block of repeated calls lasting at least
    BLOCK_SECONDS (one call for slow ones); the block's time per call is one
    sample. When the call before belonged to another runtime that may leave
    a worker spinning (not one of QUIET_RUNTIMES), `quiet_gap`
    seconds of sleep come first, and the block's first call is not timed:
    that lets the other runtime's spinning workers go to sleep before ours
    start (two OpenMP runtimes in one process otherwise steal each other's
    cores). Rounds go on until the best sample of the first half of the
    rounds and that of the second half agree within STABLE for every call,
    or the budget is spent; then a call whose halves disagree is noisy.
    """
    labels = list(calls)
    number = {}
    for label in labels:   # warm up, and size the blocks
        prepare, call, _ = calls[label]
        prepare()
        t0 = time.perf_counter()
        call()
        once = time.perf_counter() - t0
        prepare()
        t0 = time.perf_counter()
        call()
        once = min(once, time.perf_counter() - t0)
        number[label] = max(1, int(BLOCK_SECONDS / max(once, 1e-7)))
    samples = {label: [] for label in labels}
    start = time.perf_counter()
    previous = None
    rounds = 0
    while rounds < max_rounds:
        # Each round starts one call later, so that no call always follows
        # the same other (a slow peer can leave the caches and the core in a
        # state that slows whatever comes next).
        shift = rounds % len(labels)
        for label in labels[shift:] + labels[:shift]:
            prepare, call, runtime = calls[label]
            if quiet_gap and previous not in (None, runtime, *QUIET_RUNTIMES):
                time.sleep(quiet_gap)
                prepare()
                call()
            previous = runtime
            best = float("inf")
            for _ in range(number[label]):
                prepare()
                t0 = time.perf_counter()
                call()
                best = min(best, time.perf_counter() - t0)
            samples[label].append(best)
        rounds += 1
        if rounds >= min_rounds:
            stable = all(_agree(samples[label]) for label in labels)
            if stable or time.perf_counter() - start > budget:
                break
    return {label: Timing(min(s), not _agree(s)) for label, s in samples.items()}


def measure_apart(rows, budget=0.3, passes=2, extra_passes=2, step=None, undecided=None,
                  displace_bytes=0):
    """Time several rows, each in `passes` passes over all of them; one {label: Timing} per row.

    `rows` holds (label, make_calls, options): `make_calls()` builds a row's
    calls afresh (new arrays, so a new place in memory), `options` are keyword
    arguments of `measure`. A row's passes are the length of a pass apart, so
    a machine that slows down for a second or two (another guest on the same
    core) cannot fool every pass of a row. A call's time is its best pass;
    rows whose calls' two best passes disagree by more than STABLE get up to
    `extra_passes` more, and a call is noisy only if its two best passes still
    disagree. `undecided(i, timings)`, if given, narrows the extra passes to
    the rows whose unsettled calls matter (a verdict that noise could flip).
    `step(label)` is called before each row's pass (a progress bar).

    Pass k > 0 runs while k * `displace_bytes` of memory are held, so that its
    arrays do not land on the physical pages the last pass freed (Linux hands
    freed pages out again first): each pass samples another placement, and
    a row whose speed depends on it comes out noisy (docs/benchmarking.md).
    The memory held is capped at a quarter of what is available.
    """
    if undecided is None:
        def undecided(i, timings):
            return any(t.noisy for t in timings.values())
    found = [[] for _ in rows]
    done = itertools.count()

    def one_pass(indices):
        ballast = _displacement(next(done) * displace_bytes)
        for i in indices:
            label, make_calls, options = rows[i]
            if step is not None:
                step(label)
            found[i].append(measure(make_calls(), budget=budget, **options))
        del ballast

    for _ in range(passes):
        one_pass(range(len(rows)))
    for _ in range(extra_passes):
        one_pass([i for i, timings in enumerate(found) if undecided(i, _settle(timings))])
    return [_settle(timings) for timings in found]


def _displacement(nbytes):
    """`nbytes` of memory written once (so backed by pages), at most a quarter of what is free."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):   # not on every platform
        free = 0
    nbytes = min(nbytes, free // 4)
    return np.ones(nbytes, np.uint8) if nbytes > 0 else None


def _settle(passes):
    """{label: Timing} from one row's passes: the best, noisy unless two passes agree."""
    if len(passes) == 1:
        return passes[0]
    settled = {}
    for label in passes[0]:
        best = sorted(timings[label].seconds for timings in passes)
        settled[label] = Timing(best[0], best[1] > best[0] * (1 + STABLE))
    return settled


def _agree(samples):
    half = len(samples) // 2
    a, b = min(samples[:half]), min(samples[half:])
    return abs(a - b) <= STABLE * min(a, b)


# --- input rows: float16, bfloat16, strided views, array-likes ---------------------

def _torch_view(torch, array):
    """A tensor sharing `array`'s memory; bfloat16 through its bits."""
    if array.dtype.name == "bfloat16":
        return torch.from_numpy(array.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(array)


def input_row_specs(size=1 << 20):
    """The input rows, each {function, input, mode, size, calls: () -> calls, targets}.

    Targets are our time over the reference's: ``torch`` is PyTorch on the
    same data (half, bfloat16, the same strided view), ``memory`` NumPy
    streaming the same bytes.
    """
    torch = optional("torch")
    F = torch.nn.functional if torch else None
    nn = torch._C._nn if torch else None
    aten = torch.ops.aten if torch else None
    a = ALPHA
    rng = np.random.default_rng(7)
    specs = []

    def half_row(function, dtype_name, make_dtype, ours, torch_fn, mem_target):
        def calls():
            dtype = make_dtype()
            x = placed(rng.standard_normal(size, dtype=np.float32).astype(dtype))
            g = placed(rng.standard_normal(size, dtype=np.float32).astype(dtype))
            out = placed(x, 0.5)
            c = {"leakyrelu": (lambda: None, lambda: ours(g, x, out), "ours"),
                 "memory": (lambda: None, lambda: np.copyto(out, x), "numpy")}
            if torch is not None:
                tx, tg, to = _torch_view(torch, x), _torch_view(torch, g), _torch_view(torch, out)

                def tcall():
                    torch.set_num_threads(1)
                    torch_fn(tg, tx, to)
                c["torch"] = (lambda: None, tcall, "torch")
            return c
        targets = {"torch": 1.0}
        if mem_target:
            targets["memory"] = mem_target
        specs.append({"function": function, "input": dtype_name, "mode": "out", "size": size,
                      "calls": calls, "targets": targets})

    types = [("float16", lambda: np.float16)]
    if optional("ml_dtypes") is not None:
        types.append(("bfloat16", lambda: optional("ml_dtypes").bfloat16))
    for name, make in types:
        half_row("leaky_relu", name, make,
                 lambda g, x, o: lr.leaky_relu(x, a, out=o, num_threads=1),
                 lambda g, x, o: nn.leaky_relu(x, a, out=o), 1.3)
        half_row("elu", name, make, lambda g, x, o: lr.elu(x, out=o, num_threads=1),
                 lambda g, x, o: nn.elu(x, out=o), None)
        half_row("leaky_relu_grad", name, make,
                 lambda g, x, o: lr.leaky_relu_grad(g, x, a, out=o, num_threads=1),
                 lambda g, x, o: aten.leaky_relu_backward.grad_input(g, x, a, False,
                                                                     grad_input=o), None)

    # prelu_grad, (outer, 16, inner), on half data and on a strided view of
    # float32, against torch's kernel on the same data (it has no out=, and
    # leaves the weight gradient unsummed).
    shape = _prelu_shape(size)

    def prelu_grad_calls(make_arrays):
        def calls():
            g, x, out = make_arrays()
            w = _weight(x.dtype)
            c = {"leakyrelu": (lambda: None,
                               lambda: lr.prelu_grad(g, x, w, out=out, num_threads=1), "ours")}
            if torch is not None:
                tg, tx = _torch_view(torch, g), _torch_view(torch, x)
                tw = _torch_view(torch, w).view(1, -1, 1)

                def tcall():
                    torch.set_num_threads(1)
                    aten._prelu_kernel_backward(tg, tx, tw)
                c["torch"] = (lambda: None, tcall, "torch")
            return c
        return calls

    for name, make in types:
        def half_arrays(make=make):
            x, g = (placed(rng.standard_normal(shape, dtype=np.float32).astype(make()))
                    for _ in range(2))
            return g, x, placed(x, 0.5)
        specs.append({"function": "prelu_grad", "input": name, "mode": "out", "size": size,
                      "calls": prelu_grad_calls(half_arrays), "targets": {"torch": 1.0}})

    def strided_arrays():
        wide = shape[:-1] + (2 * shape[-1],)
        g, x = (placed(rng.standard_normal(wide, dtype=np.float32))[..., ::2] for _ in range(2))
        return g, x, placed(np.empty(wide, np.float32), 0.5)[..., ::2]
    specs.append({"function": "prelu_grad", "input": "float32 x[..., ::2]", "mode": "out",
                  "size": size, "calls": prelu_grad_calls(strided_arrays),
                  "targets": {"torch": 1.0}})

    side = int(np.sqrt(size))

    def strided_out():
        base = placed(rng.standard_normal((side, 2 * side), dtype=np.float32))
        view = base[:, ::2]
        out = placed(np.empty(view.shape, np.float32), 0.5)
        c = {"leakyrelu": (lambda: None,
                           lambda: lr.leaky_relu(view, a, out=out, num_threads=1), "ours"),
             "memory": (lambda: None, lambda: np.copyto(out, view), "numpy")}
        if torch is not None:
            tview, tout = torch.from_numpy(base)[:, ::2], torch.from_numpy(out)

            def tcall():
                torch.set_num_threads(1)
                nn.leaky_relu(tview, a, out=tout)
            c["torch"] = (lambda: None, tcall, "torch")
        return c

    specs.append({"function": "leaky_relu", "input": "float32 x[:, ::2]", "mode": "out",
                  "size": side * side, "calls": strided_out,
                  "targets": {"memory": 1.25, "torch": 1.0}})

    def strided_inplace():
        pristine = rng.standard_normal((2 * side, side), dtype=np.float32)
        base = placed(pristine)
        view = base.T[::2]

        def restore():
            np.copyto(base, pristine)
        c = {"leakyrelu": (restore, lambda: lr.leaky_relu(view, a, out=view, num_threads=1),
                           "ours"),
             "memory": (restore, lambda: np.multiply(view, 1, out=view), "numpy")}
        if torch is not None:
            tview = torch.from_numpy(base).T[::2]

            def tcall():
                torch.set_num_threads(1)
                F.leaky_relu_(tview, a)
            c["torch"] = (restore, tcall, "torch")
        return c

    specs.append({"function": "leaky_relu", "input": "float32 base.T[::2]", "mode": "inplace",
                  "size": side * side, "calls": strided_inplace,
                  "targets": {"memory": 1.25, "torch": 1.0}})

    def every_third(mode):
        # Any other stride: each element moved through a register lane.
        def calls():
            pristine = rng.standard_normal(3 * size, dtype=np.float32)
            base, other = placed(pristine), placed(pristine, 0.5)
            view = base[::3]
            out = view if mode == "inplace" else other[::3]

            def restore():
                np.copyto(base, pristine)
            prepare = restore if mode == "inplace" else (lambda: None)
            c = {"leakyrelu": (prepare, lambda: lr.leaky_relu(view, a, out=out, num_threads=1),
                               "ours"),
                 "memory": (prepare, (lambda: np.multiply(view, 1, out=view)) if mode == "inplace"
                            else (lambda: np.copyto(out, view)), "numpy")}
            if torch is not None:
                tview, tout = torch.from_numpy(base)[::3], torch.from_numpy(other)[::3]

                def tcall():
                    torch.set_num_threads(1)
                    if mode == "inplace":
                        F.leaky_relu_(tview, a)
                    else:
                        nn.leaky_relu(tview, a, out=tout)
                c["torch"] = (prepare, tcall, "torch")
            return c
        return calls

    # NumPy's own strided loop does no more than load and store each element
    # once; ours goes through a block (docs/performance.md, "Other strides").
    specs.append({"function": "leaky_relu", "input": "float32 x[::3]", "mode": "out",
                  "size": size, "calls": every_third("out"),
                  "targets": {"memory": 1.25, "torch": 1.0}})
    specs.append({"function": "leaky_relu", "input": "float32 x[::3]", "mode": "inplace",
                  "size": size, "calls": every_third("inplace"),
                  "targets": {"torch": 1.0}})

    def small_array():
        x = rng.standard_normal(100).astype(np.float32)
        return {"leakyrelu": (lambda: None, lambda: lr.leaky_relu(x), "ours"),
                "np.maximum": (lambda: None, lambda: np.maximum(x, 0), "numpy")}

    def small_list():
        x = rng.standard_normal(100).tolist()
        return {"leakyrelu": (lambda: None, lambda: lr.leaky_relu(x), "ours"),
                "np.maximum": (lambda: None, lambda: np.maximum(x, 0.0), "numpy")}

    specs.append({"function": "leaky_relu", "input": "float32 array of 100", "mode": "alloc",
                  "size": 100, "calls": small_array, "targets": {"np.maximum": 1.0}})
    specs.append({"function": "leaky_relu", "input": "list of 100 floats", "mode": "alloc",
                  "size": 100, "calls": small_list, "targets": {"np.maximum": 3.0}})
    return specs
