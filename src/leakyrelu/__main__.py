"""Command line: ``python -m leakyrelu bench``, ``config`` and ``demo``."""
import argparse
import sys


def _parser():
    from leakyrelu._bench import FUNCTIONS
    from leakyrelu._demo import EPOCHS

    parser = argparse.ArgumentParser(prog="python -m leakyrelu")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="time every kernel against memory, torch and numpy")
    bench.add_argument("--quick", action="store_true", help="1M elements, 1 thread, fewer repeats")
    bench.add_argument("--full", action="store_true",
                       help="add 64M elements (beyond the cache) to the default sizes")
    bench.add_argument("--sizes", type=int, nargs="+", metavar="N", help="array sizes in elements")
    bench.add_argument("--threads", type=int, nargs="+", metavar="T", help="thread counts")
    bench.add_argument("--functions", nargs="+", metavar="NAME",
                       help=f"which to time, from: {' '.join(FUNCTIONS)}")
    bench.add_argument("--json", action="store_true", help="print the rows as JSON")
    commands.add_parser("config", help="print the build and runtime configuration")
    demo = commands.add_parser("demo", help="train a small MLP on digits with ReLU and "
                               "LeakyReLU and watch ReLU units die")
    demo.add_argument("--epochs", type=int, default=EPOCHS,
                      help=f"training epochs (default {EPOCHS})")
    demo.add_argument("--seed", type=int, default=0, help="data split, weights and batch order")
    demo.add_argument("--plot", metavar="FILE.png",
                      help="also draw the activations, their gradients, and the dead units "
                           "and accuracy per epoch to a PNG (needs matplotlib)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
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
