"""``python -m leakyrelu demo``: output, dying ReLUs, the plot, and PyTorch parity."""
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from leakyrelu import _demo, nn

pytest.importorskip("sklearn", reason="the demo's data ships with scikit-learn")

# An epoch row: the epoch, then per run: loss, train %, test %, dead % in layers 1 and 2
RUN = r"\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%\s+(\d+)%\s+(\d+)%"
ROW = re.compile(r"^\s*(\d+)" + RUN * 2 + r"\s*$")


def run_demo(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "leakyrelu", "demo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def parse_rows(stdout):
    """Per epoch: {'ReLU': (loss, train, test, dead1, dead2), 'LeakyReLU': (...)}."""
    rows = []
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            values = [float(v) for v in match.groups()[1:]]
            rows.append({"epoch": int(match.group(1)), "ReLU": values[:5],
                         "LeakyReLU": values[5:]})
    return rows


@pytest.fixture(scope="module")
def two_epochs():
    result = run_demo("--epochs", "2", "--seed", "0", "1")
    assert result.returncode == 0, result.stderr
    return result


def test_demo_prints_every_epoch_for_both_runs(two_epochs):
    out = two_epochs.stdout
    assert "ReLU" in out and "LeakyReLU(alpha=0.2)" in out
    assert "1438 train / 359 test" in out
    rows = parse_rows(out)
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    for row in rows:
        for name in ("ReLU", "LeakyReLU"):
            loss, train, test, dead1, dead2 = row[name]
            assert 0 < loss < 10 and 0 <= train <= 100 and 0 <= test <= 100
            assert 0 <= dead1 <= 100 and 0 <= dead2 <= 100
    # Both runs start from one initialisation: the same first-layer pre-activations
    assert rows[0]["ReLU"][3] == rows[0]["LeakyReLU"][3]
    assert two_epochs.stderr == ""  # no progress bar when stderr is not a terminal


def test_relu_units_die_and_leaky_ones_come_back(two_epochs):
    last = parse_rows(two_epochs.stdout)[-1]
    relu_dead = np.mean(last["ReLU"][3:])
    leaky_dead = np.mean(last["LeakyReLU"][3:])
    assert relu_dead >= 50 and relu_dead >= leaky_dead + 30
    assert last["LeakyReLU"][2] >= 80 and last["LeakyReLU"][2] > last["ReLU"][2] + 30
    lines = two_epochs.stdout.splitlines()
    summary = next(line for line in lines if line.startswith("seed 0 after 2 epochs"))
    assert "LeakyReLU kept its units alive" in summary
    assert f"{last['LeakyReLU'][2]:.1f}% test accuracy" in summary


def test_summary_over_seeds(two_epochs):
    out = two_epochs.stdout
    assert "over 2 seeds (0 1), 2 epochs" in out
    for name in ("ReLU", "LeakyReLU"):
        line = next(line for line in out.splitlines() if line.startswith(f"  {name} "))
        assert re.search(r"dead at start +\d+% / +\d+%, at end +\d+% / +\d+%; "
                         r"test [\d.]+% \+- [\d.]+% \(per seed: [\d.]+%, [\d.]+%\)", line)
    assert re.search(r"verdict: LeakyReLU ended with fewer dead units on \d of 2 seeds", out)


def test_summarize_says_where_leaky_relu_does_not_help():
    def history(test, dead):
        return [{"epoch": 0, "test": 0.1, "dead": [0.5, 0.9]},
                {"epoch": 3, "test": test, "dead": dead}]
    histories = {0: {"ReLU": history(0.96, [0.1, 0.1]), "LeakyReLU": history(0.95, [0, 0])},
                 1: {"ReLU": history(0.97, [0.2, 0.0]), "LeakyReLU": history(0.96, [0, 0])}}
    out = io.StringIO()
    stats = _demo.summarize(histories, out=out)
    assert stats["ReLU"]["test_mean"] == pytest.approx(0.965)
    assert stats["LeakyReLU"]["dead_start"] == [0.5, 0.9]
    text = out.getvalue()
    assert "better test accuracy on 0 of 2" in text
    assert "collapsed" not in text
    assert "lower on average" in text


def test_dead_relu_units_never_learn():
    # Why they die: a unit that is silent on every sample gets exactly zero gradient
    x, y, _, _ = _demo.load_data(0)
    params = _demo.init_params(0)
    relu = _demo.MLP(params, nn.ReLU)
    leaky = _demo.MLP(params, nn.LeakyReLU, alpha=_demo.LEAKY_ALPHA)
    dead = np.all(relu.forward(x)[1][0] <= 0, axis=0)
    assert dead.mean() == pytest.approx(_demo.dead_fractions(relu, x)[0])
    assert 0.2 < dead.mean() < 0.8
    rng = np.random.default_rng(1)
    relu_opt, leaky_opt = _demo.SGD(relu), _demo.SGD(leaky)
    for index in _demo.epoch_batches(len(x), rng):
        _demo.train_step(relu, relu_opt, x[index], y[index])
        _demo.train_step(leaky, leaky_opt, x[index], y[index])
    first = params[0]
    np.testing.assert_array_equal(relu.linears[0].weight[dead], first[0][dead])
    np.testing.assert_array_equal(relu.linears[0].bias[dead], first[1][dead])
    assert np.all(np.any(leaky.linears[0].weight[dead] != first[0][dead], axis=1))
    assert _demo.dead_fractions(leaky, x)[0] < dead.mean()


def test_plot_writes_a_png(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "demo.png"
    result = run_demo("--epochs", "1", "--plot", str(path))
    assert result.returncode == 0, result.stderr
    assert f"plot written to {path}" in result.stdout
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 900
    assert pixels[..., :3].std() > 0.05  # something is drawn


@pytest.mark.parametrize("module", ["matplotlib", "sklearn"])
def test_clear_error_without_optional_dependency(tmp_path, module):
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from leakyrelu.__main__ import main\n"
            "main(['demo', '--epochs', '1', '--plot', 'x.png'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert f"needs {'matplotlib' if module == 'matplotlib' else 'scikit-learn'}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        bar = _demo._Progress(4, stream=stream, width=8)
        for _ in range(4):
            bar.advance("epoch 1/1")
        bar.clear()
        text = stream.getvalue()
        if drawn:
            assert "\r[##------] 1/4 epoch 1/1" in text and "[########] 4/4" in text
            assert text.endswith("\r\033[K")
        else:
            assert text == ""


def torch_losses(torch, params, activation, x, y, batches):
    layers = []
    for i, (weight, bias) in enumerate(params):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(activation())
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(net.parameters(), lr=_demo.LEARNING_RATE,
                                momentum=_demo.MOMENTUM)
    losses = []
    for index in batches:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x[index])),
                                                 torch.from_numpy(y[index]))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), [p.detach().numpy() for p in net.parameters()]


@pytest.mark.parametrize("hidden_bias", [_demo.HIDDEN_BIAS, 0.0])
@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU"])
def test_training_matches_pytorch(torch_ref, name, hidden_bias):
    x, y, _, _ = _demo.load_data(0)
    params = _demo.init_params(3, hidden_bias=hidden_bias)
    rng = np.random.default_rng(4)
    batches = _demo.epoch_batches(len(x), rng) + _demo.epoch_batches(len(x), rng)[:15]
    if name == "ReLU":
        model = _demo.MLP(params, nn.ReLU)
        activation = torch_ref.nn.ReLU
    else:
        model = _demo.MLP(params, nn.LeakyReLU, alpha=_demo.LEAKY_ALPHA)
        activation = lambda: torch_ref.nn.LeakyReLU(_demo.LEAKY_ALPHA)
    optimizer = _demo.SGD(model)
    ours = np.array([_demo.train_step(model, optimizer, x[i], y[i]) for i in batches])
    theirs, torch_params = torch_losses(torch_ref, params, activation, x, y, batches)
    assert len(ours) == 60 and np.ptp(ours) > 0.05  # it learns
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    ours_params = [p for p, _ in model.parameters()]
    for a, b in zip(ours_params, torch_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
