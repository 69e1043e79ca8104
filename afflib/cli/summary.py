"""Print a per-layer summary (output shapes, parameters, multiply-accumulates) of a registry model.

    .venv/bin/python scripts/summary.py --model aff_resnet50 [--input-size 224] [--depth 2]
    .venv/bin/python scripts/summary.py --table            # the README's model table
"""
import sys

import afflib
from afflib.core.cliargs import int_range, make_parser, nonneg_int, positive_int
from afflib.model_zoo.summary import format_summary, summarize
from afflib.model_zoo.table import model_table


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--model", help="registry name, e.g. aff_resnet50 (see --list; default: none)")
    parser.add_argument("--input-size", type=int_range(16), default=None,
                        help="square input side (default: 224 for ImageNet models, 32 for CIFAR models)")
    parser.add_argument("--classes", type=positive_int, default=None,
                        help="override the number of outputs (default: the registry's)")
    parser.add_argument("--depth", type=nonneg_int, default=0,
                        help="aggregate rows to the first DEPTH name components (0: every layer)")
    parser.add_argument("--list", action="store_true", help="list the registry's model names")
    parser.add_argument("--table", action="store_true", help="print the README's model table (Markdown)")
    args = parser.parse_args(argv)

    if args.list:
        print("\n".join(afflib.get_model_list()))
        return 0
    if args.table:
        print(model_table())
        return 0
    if not args.model:
        parser.error("give --model NAME, --list or --table")
    kwargs = {} if args.classes is None else {"classes": args.classes}
    try:
        net = afflib.get_model(args.model, **kwargs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = args.input_size or (32 if args.model.startswith("cifar_") else 224)
    net.initialize()
    print(f"{args.model} at {size}x{size}")
    print(format_summary(summarize(net, (1, 3, size, size)), depth=args.depth))
    return 0


def run() -> None:
    """Console-script entry point ``afflib-summary``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
