"""``python -m leakyrelu demo``: dying ReLUs, and Leaky ReLU keeping them alive.

A small NumPy MLP (64 -> 64 -> 64 -> 10, softmax cross-entropy, SGD with
momentum) is trained on scikit-learn's bundled digits twice, from one
initialisation, once with :class:`leakyrelu.nn.ReLU` and once with
:class:`leakyrelu.nn.LeakyReLU`. The hidden biases start strongly negative,
so many units start with a negative pre-activation on every sample. A dead
ReLU unit gets no gradient and can never come back; a leaky unit still gets
``alpha`` times the gradient and is pushed back to life.

A unit is *dead* when its pre-activation is <= 0 for every training sample.
"""
import itertools
import sys
import time

import numpy as np

from leakyrelu import nn

LAYER_SIZES = (64, 64, 64, 10)
HIDDEN_BIAS = -1.0       # strongly negative: many units start silent on every sample
LEARNING_RATE = 0.1
MOMENTUM = 0.9
BATCH_SIZE = 32
LEAKY_ALPHA = 0.2
EPOCHS = 20
COLLAPSED = 0.5   # a run whose test accuracy ends below this has failed to train
SEEDS = (0, 1, 2, 3, 4)


def load_data(seed=0, test_fraction=0.2):
    """The 8x8 digits shipped with scikit-learn, scaled to [0, 1], split train/test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def init_params(seed=0, sizes=LAYER_SIZES, hidden_bias=HIDDEN_BIAS):
    """He-normal weights of shape (out, in), as torch.nn.Linear stores them; hidden
    biases set to `hidden_bias`, output biases to 0."""
    rng = np.random.default_rng(seed)
    params = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        weight = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
        bias = np.full(n_out, hidden_bias if i < len(sizes) - 2 else 0.0)
        params.append((weight, bias))
    return params


class Linear:
    """``y = x @ weight.T + bias``, with gradients for SGD."""

    def __init__(self, weight, bias):
        self.weight, self.bias = weight.copy(), bias.copy()
        self.weight_grad = np.zeros_like(self.weight)
        self.bias_grad = np.zeros_like(self.bias)
        self._x = None

    def forward(self, x):
        self._x = x
        return x @ self.weight.T + self.bias

    def backward(self, grad_output):
        self.weight_grad = grad_output.T @ self._x
        self.bias_grad = grad_output.sum(axis=0)
        return grad_output @ self.weight


class MLP:
    """Linear layers with `activation` (a :mod:`leakyrelu.nn` class) between them."""

    def __init__(self, params, activation, **activation_args):
        self.linears = [Linear(w, b) for w, b in params]
        self.activations = [activation(**activation_args) for _ in params[:-1]]

    def forward(self, x):
        """Logits, and the pre-activations of every hidden layer."""
        pre = []
        for linear, activation in zip(self.linears, self.activations):
            z = linear.forward(x)
            pre.append(z)
            x = activation(z)
        return self.linears[-1].forward(x), pre

    def backward(self, grad_logits):
        grad = self.linears[-1].backward(grad_logits)
        for linear, activation in zip(self.linears[-2::-1], self.activations[::-1]):
            grad = linear.backward(activation.backward(grad))

    def parameters(self):
        """(parameter, gradient) pairs, read after backward."""
        for linear in self.linears:
            yield linear.weight, linear.weight_grad
            yield linear.bias, linear.bias_grad


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(labels)
    loss = -log_probs[np.arange(n), labels].mean()
    grad = np.exp(log_probs)
    grad[np.arange(n), labels] -= 1.0
    return loss, grad / n


class SGD:
    """SGD with momentum, as torch.optim.SGD: ``v = momentum * v + g; p -= lr * v``."""

    def __init__(self, model, lr=LEARNING_RATE, momentum=MOMENTUM):
        self.model, self.lr, self.momentum = model, lr, momentum
        self.velocity = None

    def step(self):
        pairs = list(self.model.parameters())
        if self.velocity is None:
            self.velocity = [g.copy() for _, g in pairs]
        else:
            for v, (_, g) in zip(self.velocity, pairs):
                v *= self.momentum
                v += g
        for v, (p, _) in zip(self.velocity, pairs):
            p -= self.lr * v


def epoch_batches(n, rng, batch_size=BATCH_SIZE):
    """Index arrays of one epoch's minibatches, in a random order."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_step(model, optimizer, x, y):
    logits, _ = model.forward(x)
    loss, grad = cross_entropy(logits, y)
    model.backward(grad)
    optimizer.step()
    return loss


def dead_fractions(model, x):
    """Per hidden layer, the fraction of units whose pre-activation is <= 0 on all of x."""
    _, pre = model.forward(x)
    return [float(np.mean(np.all(z <= 0, axis=0))) for z in pre]


def accuracy(model, x, y):
    logits, _ = model.forward(x)
    return float(np.mean(logits.argmax(axis=1) == y))


class _Progress:
    """A one-line text bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total, stream=sys.stderr, width=30, enabled=True):
        self.total, self.stream, self.width = total, stream, width
        self.enabled = enabled and stream.isatty()
        self.done = 0

    def advance(self, label):
        self.done += 1
        if self.enabled:
            filled = self.width * self.done // self.total
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {label}")
            self.stream.flush()

    def clear(self):
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


class _Silent:
    def write(self, text):
        pass

    def flush(self):
        pass


def run(epochs=EPOCHS, seed=0, out=sys.stdout, verbose=True):
    """Train the ReLU and the Leaky ReLU network side by side; return their histories.

    With ``verbose=False`` nothing is printed (the other seeds of :func:`run_seeds`).
    """
    if not verbose:
        out = _Silent()
    x_train, y_train, x_test, y_test = load_data(seed)
    params = init_params(seed)
    runs = {"ReLU": (nn.ReLU, {}), "LeakyReLU": (nn.LeakyReLU, {"alpha": LEAKY_ALPHA})}
    models = {name: MLP(params, cls, **kw) for name, (cls, kw) in runs.items()}
    optimizers = {name: SGD(model) for name, model in models.items()}
    history = {name: [] for name in models}
    shuffle = np.random.default_rng(seed + 1)
    batches_per_epoch = -(-len(x_train) // BATCH_SIZE)
    progress = _Progress(epochs * batches_per_epoch, enabled=verbose)

    def record(name, epoch, loss):
        model = models[name]
        row = {"epoch": epoch, "loss": loss, "train": accuracy(model, x_train, y_train),
               "test": accuracy(model, x_test, y_test),
               "dead": dead_fractions(model, x_train)}
        history[name].append(row)
        return row

    print(f"digits: {len(x_train)} train / {len(x_test)} test samples; MLP "
          f"{' -> '.join(map(str, LAYER_SIZES))}; hidden biases start at {HIDDEN_BIAS}; "
          f"SGD lr={LEARNING_RATE}, momentum={MOMENTUM}, batch {BATCH_SIZE}", file=out)
    print("dead: hidden units whose pre-activation is <= 0 on every training sample, "
          "in hidden layers 1 and 2", file=out)
    titles = {"ReLU": "ReLU", "LeakyReLU": f"LeakyReLU(alpha={LEAKY_ALPHA})"}
    print("      " + "".join(f"  {titles[name]:-^38}" for name in models), file=out)
    print("epoch " + "  {:>7}{:>8}{:>8}{:>8}{:>7}".format(
        "loss", "train", "test", "dead:1", "2") * len(models), file=out)
    start = time.perf_counter()
    for epoch in range(epochs + 1):
        losses = {}
        if epoch > 0:
            totals = dict.fromkeys(models, 0.0)
            for index in epoch_batches(len(x_train), shuffle):
                for name, model in models.items():
                    totals[name] += train_step(model, optimizers[name], x_train[index],
                                               y_train[index]) * len(index)
                progress.advance(f"epoch {epoch}/{epochs}")
            losses = {name: total / len(x_train) for name, total in totals.items()}
        else:  # the starting point: the loss of the initialisation
            for name, model in models.items():
                losses[name] = cross_entropy(model.forward(x_train)[0], y_train)[0]
        progress.clear()
        line = f"{epoch:5d} "
        for name in models:
            row = record(name, epoch, losses[name])
            line += "  {:7.3f}{:8.1%}{:8.1%}{:8.0%}{:7.0%}".format(
                row["loss"], row["train"], row["test"], *row["dead"])
        print(line, file=out, flush=True)
    elapsed = time.perf_counter() - start
    relu, leaky = history["ReLU"][-1], history["LeakyReLU"][-1]
    verdict = ("kept its units alive" if np.mean(leaky["dead"]) < np.mean(relu["dead"])
               else "did not keep more units alive")
    print(f"seed {seed} after {epochs} epochs ({elapsed:.1f} s): ReLU ended with "
          f"{relu['dead'][0]:.0%} / {relu['dead'][1]:.0%} dead units (layer 1 / 2) and "
          f"{relu['test']:.1%} test accuracy; LeakyReLU {verdict}: {leaky['dead'][0]:.0%} / "
          f"{leaky['dead'][1]:.0%} dead and {leaky['test']:.1%} test accuracy", file=out)
    return history


def summarize(histories, out=sys.stdout):
    """Over the seeds: dead units per layer at the start and the end, and test accuracy.

    `histories` maps each seed to what :func:`run` returned. Returns the figures, and
    prints them with a plain statement of where LeakyReLU helped and where it did not.
    """
    seeds = list(histories)
    names = list(next(iter(histories.values())))
    stats = {}
    for name in names:
        start = np.array([histories[s][name][0]["dead"] for s in seeds])
        end = np.array([histories[s][name][-1]["dead"] for s in seeds])
        test = np.array([histories[s][name][-1]["test"] for s in seeds])
        stats[name] = {"dead_start": start.mean(axis=0).tolist(),
                       "dead_end": end.mean(axis=0).tolist(),
                       "dead_end_per_seed": end.tolist(),
                       "test_mean": float(test.mean()), "test_std": float(test.std()),
                       "test_per_seed": test.tolist()}
    epochs = histories[seeds[0]][names[0]][-1]["epoch"]
    print(f"\nover {len(seeds)} seeds ({' '.join(map(str, seeds))}), {epochs} epochs: "
          "dead units in hidden layers 1 / 2 (mean over seeds) and test accuracy "
          "(mean +- standard deviation)", file=out)
    for name in names:
        st = stats[name]
        print(f"  {name:<10} dead at start {st['dead_start'][0]:4.0%} / "
              f"{st['dead_start'][1]:4.0%}, at end {st['dead_end'][0]:4.0%} / "
              f"{st['dead_end'][1]:4.0%}; test {st['test_mean']:.1%} +- "
              f"{st['test_std']:.1%} (per seed: "
              f"{', '.join(f'{t:.1%}' for t in st['test_per_seed'])})", file=out)
    relu, leaky = stats["ReLU"], stats["LeakyReLU"]
    fewer_dead = sum(sum(lk) < sum(rl) for lk, rl in
                     zip(leaky["dead_end_per_seed"], relu["dead_end_per_seed"]))
    better = sum(lk > rl for lk, rl in zip(leaky["test_per_seed"], relu["test_per_seed"]))
    collapsed = [s for s, t in zip(seeds, relu["test_per_seed"]) if t < COLLAPSED]
    kept = [i for i, s in enumerate(seeds) if s not in collapsed]
    text = (f"verdict: LeakyReLU ended with fewer dead units on {fewer_dead} of {len(seeds)} "
            f"seeds and better test accuracy on {better} of {len(seeds)}. ")
    if collapsed:
        text += (f"ReLU collapsed (test accuracy below {COLLAPSED:.0%}, its units dead) on "
                 f"seed{'s' if len(collapsed) > 1 else ''} "
                 f"{' '.join(map(str, collapsed))}; LeakyReLU did not. ")
    if kept:
        r = np.array(relu["test_per_seed"])[kept]
        k = np.array(leaky["test_per_seed"])[kept]
        gap, spread = float(np.mean(k - r)), float(max(r.std(), k.std()))
        where = "On the seeds where ReLU trained" if collapsed else "Over the seeds"
        if abs(gap) <= spread:
            text += (f"{where}, the test accuracies differ by {gap:+.1%}, within "
                     f"the spread over seeds ({spread:.1%}): no clear difference.")
        else:
            text += (f"{where}, LeakyReLU's test accuracy is {gap:+.1%} "
                     f"{'higher' if gap > 0 else 'lower'} on average (spread {spread:.1%}).")
    print(text, file=out)
    print("A dead ReLU unit gets no gradient, but its inputs still change while the layers "
          "below it learn, so dead units can revive (compare the start and end figures).",
          file=out)
    return stats


def run_seeds(epochs=EPOCHS, seeds=SEEDS, out=sys.stdout):
    """The first seed's epochs in full, the others silently; then the summary."""
    histories = {}
    for i, seed in enumerate(seeds):
        if i == 1:
            print(f"\nseeds {' '.join(map(str, seeds[1:]))}: training ...", file=out, flush=True)
        histories[seed] = run(epochs=epochs, seed=seed, out=out, verbose=i == 0)
    return histories, summarize(histories, out=out)


def plot(history, path, seed=None, seeds=None):
    """Draw the seven activations, their gradients, and the per-epoch dead units and
    test accuracy of both runs (of `seed`, one of `seeds`), to the PNG `path`."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    import leakyrelu as lr

    x = np.linspace(-3, 3, 601)
    ones = np.ones_like(x)
    w = np.array([0.25])
    lower, upper = 1 / 8, 1 / 3
    functions = {
        "relu": (lr.relu(x), lr.relu_grad(ones, x)),
        f"leaky_relu (alpha={LEAKY_ALPHA})": (lr.leaky_relu(x, LEAKY_ALPHA),
                                              lr.leaky_relu_grad(ones, x, LEAKY_ALPHA)),
        "prelu (weight 0.25)": (lr.prelu(x, w), lr.prelu_grad(ones, x, w)[0]),
        "rrelu (eval; band: training)": (lr.rrelu(x), lr.rrelu_grad(ones, x)),
        "elu": (lr.elu(x), lr.elu_grad(ones, x)),
        "celu (alpha=2)": (lr.celu(x, 2.0), lr.celu_grad(ones, x, 2.0)),
        "selu": (lr.selu(x), lr.selu_grad(ones, x)),
    }
    fig = Figure(figsize=(13, 9), layout="constrained")
    (ax_f, ax_g), (ax_d, ax_a) = fig.subplots(2, 2)
    for label, (y, dy) in functions.items():
        line, = ax_f.plot(x, y, label=label, linewidth=1.6)
        ax_g.plot(x, dy, label=label, linewidth=1.6, color=line.get_color())
        if label.startswith("rrelu"):  # where training draws its random slopes
            neg = x <= 0
            ax_f.fill_between(x[neg], upper * x[neg], lower * x[neg], color=line.get_color(),
                              alpha=0.15, linewidth=0)
            ax_g.fill_between(x[neg], lower, upper, color=line.get_color(), alpha=0.15,
                              linewidth=0)
    ax_f.set(title="the seven activations", xlabel="x", ylabel="f(x)", ylim=(-2.2, 3.2))
    ax_g.set(title="their gradients", xlabel="x", ylabel="f'(x)", ylim=(-0.1, 2.0))
    ax_f.legend(fontsize=9, loc="upper left")
    ax_g.legend(fontsize=9, loc="upper left")
    for ax in (ax_f, ax_g):
        ax.axhline(0, color="0.6", linewidth=0.6)
        ax.axvline(0, color="0.6", linewidth=0.6)
    colours = {"ReLU": "tab:red", "LeakyReLU": "tab:blue"}
    for name, rows in history.items():
        epochs = [r["epoch"] for r in rows]
        for layer, style in ((0, "-"), (1, "--")):
            ax_d.plot(epochs, [100 * r["dead"][layer] for r in rows], style, marker=".",
                      color=colours[name], label=f"{name}, hidden layer {layer + 1}")
        ax_a.plot(epochs, [100 * r["test"] for r in rows], marker=".", color=colours[name],
                  label=name)
    ax_d.set(title="dead hidden units (pre-activation <= 0 on every training sample)",
             xlabel="epoch", ylabel="dead units (%)", ylim=(-3, 103))
    ax_a.set(title="test accuracy on digits", xlabel="epoch", ylabel="accuracy (%)",
             ylim=(0, 100))
    for ax in (ax_d, ax_a):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=9)
    for ax in (ax_f, ax_g, ax_d, ax_a):
        ax.grid(alpha=0.3)
    epochs = history[next(iter(history))][-1]["epoch"]
    title = f"digits MLP, {epochs} epochs"
    if seed is not None:
        title += f", seed {seed}"
        if seeds is not None and len(seeds) > 1:
            title += f" (of seeds {' '.join(map(str, seeds))}: the summary is printed)"
    fig.suptitle(title)
    fig.savefig(path, dpi=90)


def main(args):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        sys.exit("error: the demo needs scikit-learn for its digits data: "
                 "pip install scikit-learn matplotlib (from a source checkout: "
                 "pip install '.[demo]')")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit("error: --plot needs matplotlib: pip install matplotlib "
                     "(from a source checkout: pip install '.[demo]')")
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    # The network is tiny: one thread for BLAS and for the activations beats any team
    # of threads, whose spinning workers only get in each other's way.
    with threadpool_limits(limits=1):
        histories, _ = run_seeds(epochs=args.epochs, seeds=tuple(args.seeds))
    if args.plot:
        first = args.seeds[0]
        plot(histories[first], args.plot, seed=first, seeds=args.seeds)
        print(f"plot written to {args.plot}")
