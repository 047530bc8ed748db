"""Dask arrays in, lazy Dask arrays out.

:func:`dask_aware` wraps each public function in a function of the same
signature. A NumPy call goes straight through after a type check; a call
with a ``dask.array.Array`` among its array arguments returns a lazy
``dask.array.Array`` that applies the NumPy function to each block:

* elementwise functions and gradients: ``map_blocks``, dtype preserved;
  a NumPy array passed next to a Dask one is chunked like it;
* ``prelu``: a per-channel weight is split along with the chunks of `x` on
  the channel axis (``blockwise`` aligns them), so each block sees its own
  slice of the weight; the channel axis may have any chunking;
* ``prelu_grad``: one task per block computes both gradients; the weight
  gradient is the lazy float64 sum of the per-block partial sums, cast to
  the dtype of `x`, so it can differ from the NumPy result in the last bits;
* ``rrelu`` in training: the block at chunk location ``(i, j, ...)`` uses
  the seed ``block_seed(seed, (i, j, ...))``, so the result equals the NumPy
  function applied block by block with those seeds, on any scheduler. It
  depends on the chunking.

``out=`` is refused with ``TypeError``. ``num_threads=None`` means one
OpenMP thread per block, because Dask already runs blocks in parallel; an
int sets the threads per block. Dask is imported only when a Dask array
arrives.
"""
import functools
import inspect
import operator

import numpy as np

_MASK64 = (1 << 64) - 1


def splitmix64(value):
    """SplitMix64's finaliser (Steele, Lea and Flood, 2014): a bijection on 64-bit ints."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def block_seed(seed, location):
    """The rrelu training seed of the Dask block at chunk `location`.

    ``h = splitmix64(seed)``, then ``h = splitmix64(h ^ i)`` for each index
    ``i`` of `location` in order; the result is an int in ``[0, 2**64)``.

    Examples
    --------
    >>> from leakyrelu._dask import block_seed, splitmix64
    >>> block_seed(7, (1, 2)) == splitmix64(splitmix64(splitmix64(7) ^ 1) ^ 2)
    True
    """
    h = splitmix64(int(seed))
    for i in location:
        h = splitmix64(h ^ int(i))
    return h


# Types told apart without asking for their module (0.14 us a look-up).
_NEVER_DASK = frozenset((np.ndarray, float, int))


def _maybe_dask(value):
    # A cheap test that never imports dask; isinstance confirms it later
    kind = type(value)
    return kind not in _NEVER_DASK and kind.__module__.startswith("dask.")


def dask_aware(func, n_arrays=1):
    """Wrap `func` so that a Dask array among its first `n_arrays` arguments
    gives a lazy Dask result.

    The wrapper has `func`'s own signature (compiled from it), so a NumPy
    call costs one plain call more, not a repacking of ``*args, **kwargs``
    (about 0.5 us on a 0.8 us call). When the first argument is an exact
    NumPy array and none of the next `n_arrays - 1` is a Dask array, the call
    goes straight to `func`; otherwise every argument is searched for a Dask
    array, and a Dask array anywhere else reaches `func`, which refuses it.
    """
    signature = inspect.signature(func)
    names = list(signature.parameters)
    positional = [n for n, p in signature.parameters.items()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    keyword = [n for n in names if n not in positional]
    header = ", ".join(positional + (["*"] + keyword if keyword else []))
    passed = ", ".join(positional + [f"{n}={n}" for n in keyword])
    # _NEVER_DASK is tested inline too: the call to `_maybe_dask` alone was
    # a fifth of a small gradient call.
    plain = " and ".join([f"type({names[0]}) is _ndarray"]
                         + [f"(type({n}) in _never_dask or not _maybe_dask({n}))"
                            for n in names[1:n_arrays]])
    source = (f"def {func.__name__}({header}):\n"
              f"    if {plain}:\n"
              f"        return _func({passed})\n"
              f"    return _general({passed})\n")

    def general(*args, **kwargs):
        if any(map(_maybe_dask, args)) or any(map(_maybe_dask, kwargs.values())):
            return _lazy(func, signature, args, kwargs)
        return func(*args, **kwargs)

    namespace = {"_ndarray": np.ndarray, "_never_dask": _NEVER_DASK,
                 "_maybe_dask": _maybe_dask, "_func": func, "_general": general}
    exec(source, namespace)
    wrapper = functools.wraps(func)(namespace[func.__name__])
    wrapper.__defaults__ = func.__defaults__
    wrapper.__kwdefaults__ = func.__kwdefaults__
    # Found under its public name, so pickle finds the wrapper, not `func`
    wrapper.__module__ = "leakyrelu"
    return wrapper


def _lazy(func, signature, args, kwargs):
    import dask.array as da

    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    params = dict(bound.arguments)
    if not any(isinstance(v, da.Array) for v in params.values()):
        return func(*args, **kwargs)  # some other dask object: refused there
    if params.pop("out") is not None:
        raise TypeError("out= is not supported with dask arrays: the result is a new lazy "
                        "dask array")
    if params["num_threads"] is None:
        params["num_threads"] = 1
    name = func.__name__
    if name in ("prelu", "prelu_grad"):
        return _prelu(func, params, da)
    arrays = _arrays(params, da)
    meta = _validate(func, arrays, params)
    block = functools.partial(func, **params)
    if name.startswith("rrelu") and params["training"]:
        block = functools.partial(_rrelu_block, func=func, seed=params.pop("seed"),
                                  params=params)
    return da.map_blocks(block, *arrays, dtype=meta.dtype, meta=meta, token=name)


def _arrays(params, da):
    """Pop the array arguments (grad_output, then x) as Dask arrays of one shape."""
    names = [n for n in ("grad_output", "x") if n in params]
    arrays = [params.pop(n) for n in names]
    for n, a in zip(names, arrays):
        if not isinstance(a, (np.ndarray, da.Array)):
            raise TypeError(f"{n} must be a numpy.ndarray or a dask array, not "
                            f"{type(a).__name__}")
        if a.shape != arrays[0].shape:
            raise ValueError(f"{names[0]} has shape {arrays[0].shape} but {names[-1]} has "
                             f"shape {arrays[-1].shape}")
    # NumPy arrays take the chunks of a Dask one (one chunk if only prelu's weight is Dask)
    chunks = next((a.chunks for a in arrays if isinstance(a, da.Array)), -1)
    arrays = [a if isinstance(a, da.Array) else da.from_array(a, chunks=chunks)
              for a in arrays]
    if len(arrays) > 1:  # map_blocks pairs blocks by position: give them one chunking
        index = tuple(range(arrays[0].ndim))
        _, arrays = da.core.unify_chunks(*(item for a in arrays for item in (a, index)))
    return arrays


def _validate(func, arrays, params, keep=None):
    """Check every argument now, on empty stand-ins of the blocks (of their length
    along axis ``keep``); return the result on them."""
    empty = [np.empty(tuple(n if d == keep else 0 for d, n in enumerate(a.shape)), a.dtype)
             for a in arrays]
    return func(*empty, **params)


def _rrelu_block(*blocks, func, seed, params, block_info=None):
    location = block_info[0]["chunk-location"]
    return func(*blocks, seed=block_seed(seed, location), **params)


def _prelu(func, params, da):
    from dask.base import tokenize

    from leakyrelu._rectifiers import prelu_plan

    grad = func.__name__ == "prelu_grad"
    weight, axis = params.pop("weight"), params.pop("axis")
    arrays = _arrays(params, da)
    x = arrays[-1]
    # Every check of the NumPy path, now: on empty stand-ins of the blocks
    # and of a Dask weight (only its dtype and shape matter).
    stand_in = np.empty(weight.shape, weight.dtype) if isinstance(weight, da.Array) else weight
    channel = axis % x.ndim if isinstance(axis, int) and x.ndim else None
    result = _validate(functools.partial(func, weight=stand_in, axis=axis), arrays, params,
                       keep=channel)
    dtype = (result[0] if grad else result).dtype
    meta = np.empty((0,) * x.ndim, dtype=dtype)
    plan = prelu_plan(x.ndim, x.shape, dtype, stand_in, axis)
    weight_shape = plan.shape
    per_channel = plan.channel is not None
    channel = plan.channel
    if not per_channel and isinstance(weight, da.Array):
        weight = weight.reshape(())
    elif per_channel and not isinstance(weight, da.Array):
        weight = da.from_array(plan.weight, chunks=-1)
    index = tuple(range(x.ndim))
    weight_index = (channel,) if per_channel else ()
    pairs = [item for a in arrays for item in (a, index)]
    if not isinstance(weight, da.Array):  # a single weight, the same for every block
        block = functools.partial(_prelu_block, func=func, weight=weight, axis=axis,
                                  params=params)
    else:
        block = functools.partial(_prelu_block, func=func, axis=axis, params=params)
        pairs += [weight, weight_index]
    if not grad:
        return da.blockwise(block, index, *pairs, dtype=dtype, meta=meta,
                            name="prelu-" + tokenize(block, *pairs))
    block = functools.partial(_prelu_grad_block, block=block, channel=channel)
    both = da.blockwise(block, index, *pairs, meta=(meta, meta),
                        name="prelu_grad-" + tokenize(block, *pairs))
    grad_x = both.map_blocks(operator.getitem, 0, dtype=dtype, meta=meta)
    # Block partials of the weight gradient: size 1 on every axis but the channel axis
    part_chunks = tuple(both.chunks[i] if i == channel else (1,) * both.numblocks[i]
                        for i in range(x.ndim))
    parts = both.map_blocks(operator.getitem, 1, chunks=part_chunks, dtype=dtype, meta=meta)
    summed = tuple(i for i in range(x.ndim) if i != channel)
    grad_weight = parts.sum(axis=summed, dtype=np.float64).astype(dtype)
    return grad_x, grad_weight.reshape(weight_shape)


def _prelu_block(*blocks, func, axis, params, weight=None):
    if weight is None:  # the weight's block came last
        *blocks, weight = blocks
    return func(*blocks, weight, axis, **params)


def _prelu_grad_block(*blocks, block, channel):
    grad_x, grad_weight = block(*blocks)
    shape = [1] * grad_x.ndim
    if channel is not None:
        shape[channel] = grad_weight.size
    return grad_x, grad_weight.reshape(shape)
