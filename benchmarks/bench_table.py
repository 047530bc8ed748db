"""The command-line bench's table, in asv: ``Table.track_ratio``.

The same calls, references, peers and timer as ``python -m leakyrelu bench``
(``leakyrelu._benchcases``): each benchmark is one row's ratio, our time over
the reference's (``memory``, ``torch``, ``numba``, ``numexpr``, ``jax``,
``onnxruntime``), measured side by side in one process. A reference that is
not installed, or has no call of that shape, is skipped.
"""
from leakyrelu import _benchcases as table

REFERENCES = ["memory", *table.PEERS]


class _Ratios:
    """Our time over one reference's, the two measured side by side."""
    unit = "ratio"
    number = 1
    repeat = 1
    timeout = 120
    gap = 0.0       # quiet_gap: seconds between calls of different runtimes
    budget = 0.3

    def _keep(self, calls, reference, missing):
        if reference not in calls:
            raise NotImplementedError(missing)
        self.calls = {"leakyrelu": calls["leakyrelu"], reference: calls[reference]}
        self.reference = reference

    def _ratio(self):
        t = table.measure(self.calls, budget=self.budget, quiet_gap=self.gap)
        return t["leakyrelu"].seconds / t[self.reference].seconds


class Table(_Ratios):
    # The bench's own sizes: 64K in the L2, 1M beyond it; both whole
    # (outer, 16, 1024) arrays for prelu's NCHW rows (1 000 000 is not).
    params = [list(table.FUNCTIONS), ["float32", "float64"], [65_536, 1_048_576],
              list(table.MODES), [1, 2], REFERENCES]
    param_names = ["function", "dtype", "size", "mode", "num_threads", "reference"]

    def setup(self, function, dtype, size, mode, num_threads, reference):
        import numpy as np
        case = table.cases()[function]
        x, g = table.inputs(np.dtype(dtype), size, np.random.default_rng(2024))
        calls = table.row_calls(case, mode, x, g, num_threads,
                                peers=[reference] if reference != "memory" else [])
        self._keep(calls, reference, f"{reference}: no such call, or not installed")
        self.gap = 0.02 if num_threads > 1 else 0.0

    def track_ratio(self, function, dtype, size, mode, num_threads, reference):
        return self._ratio()


def _input_rows():
    return {f"{spec['function']} {spec['input']} {spec['mode']}": spec
            for spec in table.input_row_specs()}


class Inputs(_Ratios):
    """The bench's input rows (float16, bfloat16, strided views, array-likes)
    at 1M elements: our time over each reference's, as ``bench --full`` prints."""
    params = [list(_input_rows()), ["memory", "torch", "np.maximum"]]
    param_names = ["row", "reference"]
    budget = 0.5

    def setup(self, row, reference):
        self._keep(_input_rows()[row]["calls"](), reference,
                   f"{row}: no {reference} reference, or it is not installed")

    def track_ratio(self, row, reference):
        return self._ratio()
