"""One forward and backward pass through every leakyrelu function, fully typed.

It runs as a script, and it is the check that the package's type stubs are
complete and precise: ``mypy --strict examples/typing_example.py`` must pass
against the installed package. Results keep their input's dtype, so the
float32 annotations below are checked, not just asserted.
"""
import numpy as np
import numpy.typing as npt

import leakyrelu as lr
from leakyrelu import nn

F32 = npt.NDArray[np.float32]


def forward_backward(x: F32, g: F32) -> dict[str, F32]:
    """Every function and its gradient on x, with g as the incoming gradient."""
    w = np.linspace(0.1, 0.4, x.shape[1], dtype=np.float32)
    buf: F32 = np.empty_like(x)
    dw: F32

    results: dict[str, F32] = {
        "relu": lr.relu(x),
        "relu_grad": lr.relu_grad(g, x),
        "leaky_relu": lr.leaky_relu(x, 0.1, out=buf, num_threads=1),
        "leaky_relu_grad": lr.leaky_relu_grad(g, x, alpha=0.1),
        "prelu": lr.prelu(x, w, axis=1),
        "rrelu": lr.rrelu(x),
        "rrelu_train": lr.rrelu(x, 0.1, 0.3, training=True, seed=7),
        "rrelu_train_grad": lr.rrelu_grad(g, x, 0.1, 0.3, training=True, seed=7),
        "rrelu_grad": lr.rrelu_grad(g, x),
        "elu": lr.elu(x, alpha=1.0),
        "elu_grad": lr.elu_grad(g, x, 1.0),
        "celu": lr.celu(x, alpha=np.float32(2.0)),
        "celu_grad": lr.celu_grad(g, x, 2.0),
        "selu": lr.selu(x, num_threads=None),
        "selu_grad": lr.selu_grad(g, x),
    }
    results["prelu_grad"], dw = lr.prelu_grad(g, x, w, axis=1)
    results["prelu_grad_weight"] = dw

    # An in-place forward, differentiated from its output.
    y = x.copy()
    lr.elu(y, out=y)
    results["elu_grad_from_output"] = lr.elu_grad(g, y, from_output=True)
    return results


def train_step() -> float:
    """The layers of leakyrelu.nn, typed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4))
    act = nn.LeakyReLU(alpha=0.1)
    prelu = nn.PReLU(num_parameters=4, axis=1)
    h = prelu(act(x))
    grad = act.backward(prelu.backward(np.ones_like(h)))
    prelu.weight -= 0.01 * prelu.weight_grad
    prelu.zero_grad()
    drop = nn.RReLU(seed=0)
    drop.eval()
    return float(grad.sum() + drop(x).sum() + nn.ELU()(x).sum() + nn.SELU()(x).sum()
                 + nn.CELU(alpha=2.0)(x).sum() + nn.ReLU()(x).sum())


def main() -> None:
    rng = np.random.default_rng(0)
    x: F32 = rng.standard_normal((4, 8), dtype=np.float32)
    g: F32 = np.ones_like(x)
    for name, value in forward_backward(x, g).items():
        assert value.dtype == np.float32, name
    assert train_step() == train_step()
    lr.show_config()
    print(f"leakyrelu {lr.__version__}: SELU_ALPHA={lr.SELU_ALPHA}, SELU_SCALE={lr.SELU_SCALE}")


if __name__ == "__main__":
    main()

