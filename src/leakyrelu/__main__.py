"""Command line: ``python -m leakyrelu bench``, ``config`` and ``demo``."""
import argparse
import os
import sys


def _positive(text):
    """An integer >= 1, for sizes, thread counts and epochs."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _png_path(text):
    """A file path whose folder exists, checked before any training."""
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder does not exist: {folder}")
    return text


class _Parser(argparse.ArgumentParser):
    """Refuses a bad command line in one line on stderr, exit status 2, before any work."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    from leakyrelu import __version__
    from leakyrelu._bench import FUNCTIONS, QUICK_FUNCTIONS, QUICK_SIZES, FULL_SIZES
    from leakyrelu._demo import EPOCHS, SEEDS

    parser = _Parser(
        prog="python -m leakyrelu",
        description="leakyrelu: Leaky ReLU and its family on NumPy arrays.")
    parser.add_argument("--version", action="version", version=f"leakyrelu {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{bench,config,demo}")
    bench = commands.add_parser(
        "bench", help="time the kernels against the memory limit and every installed peer",
        description=(
            "Time leakyrelu against the memory limit (NumPy streaming the same bytes) and "
            "every installed peer (torch, numba, numexpr, jax, onnxruntime, NumPy idioms), "
            "in one process, as ratios. "
            f"Default: {', '.join(QUICK_FUNCTIONS)}; float32 and float64; "
            f"{' and '.join(map(str, QUICK_SIZES))} elements; 1 and 2 threads; out= calls; "
            "about 10-30 s, by the peers installed. "
            f"--full: all {len(FUNCTIONS)} functions, all modes (out=, in place, "
            f"allocating), {', '.join(map(str, FULL_SIZES))} elements, plus float16, "
            "bfloat16, strided and per-call overhead rows: about 5-25 minutes, by machine."))
    bench.add_argument("--full", action="store_true",
                       help="every function, mode and size, and the float16/bfloat16, "
                            "strided and small-call rows (about 5-25 minutes, by machine)")
    bench.add_argument("--quick", action="store_true",
                       help="the default (kept for compatibility)")
    bench.add_argument("--sizes", type=_positive, nargs="+", metavar="N",
                       help="array sizes in elements (default: "
                            f"{' '.join(map(str, QUICK_SIZES))})")
    bench.add_argument("--threads", type=_positive, nargs="+", metavar="T",
                       help="thread counts (default: 1 2)")
    bench.add_argument("--functions", nargs="+", metavar="NAME", choices=FUNCTIONS,
                       help=f"which to time (default: {' '.join(QUICK_FUNCTIONS)}), "
                            f"from: {' '.join(FUNCTIONS)}")
    bench.add_argument("--json", action="store_true", help="print the rows as JSON")
    commands.add_parser("config", help="print the build and runtime configuration")
    demo = commands.add_parser(
        "demo", help="train a small MLP on digits with ReLU and LeakyReLU over several "
                     "seeds and count the dead units",
        description=f"Needs scikit-learn (and matplotlib for --plot): "
                    f"pip install scikit-learn matplotlib. Default: {EPOCHS} epochs, "
                    f"seeds {' '.join(map(str, SEEDS))}; about 10-20 s.")
    demo.add_argument("--epochs", type=_positive, default=EPOCHS,
                      help=f"training epochs (default {EPOCHS})")
    demo.add_argument("--seed", type=int, nargs="+", dest="seeds", default=list(SEEDS),
                      metavar="SEED",
                      help="data split, weights and batch order; one run per seed "
                           f"(default {' '.join(map(str, SEEDS))})")
    demo.add_argument("--plot", metavar="FILE.png", type=_png_path,
                      help="also draw the activations, their gradients, and the dead units "
                           "and accuracy per epoch to a PNG (needs matplotlib)")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "bench":
        from leakyrelu import _bench
        _bench.main(args)
    elif args.command == "config":
        from leakyrelu import show_config
        show_config()
    elif args.command == "demo":
        from leakyrelu import _demo
        _demo.main(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
