"""Pack Fashion-MNIST (IDX files) into RecordIO: OUT/train.rec/.idx and OUT/test.rec/.idx (28x28 grayscale PNG).

Example:
  afflib-pack-fashion-mnist --out ~/.mxnet/datasets/fashion-mnist/rec
"""
import sys

from afflib.core.cliargs import make_parser
from afflib.data.fashion_mnist import pack_fashion_mnist


def main(argv=None) -> int:
    parser = make_parser(__doc__)
    parser.add_argument("--data-dir", help="folder of the IDX files (default: /usr/share/datasets/fashion-mnist, "
                                           "then ~/.mxnet/datasets/fashion-mnist)")
    parser.add_argument("--out", required=True, help="output folder for train.rec/.idx and test.rec/.idx (~43 MB)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild existing record files (without it they are checked and kept, or reported if "
                             "damaged)")
    args = parser.parse_args(argv)
    try:
        result = pack_fashion_mnist(args.data_dir, args.out, force=args.force)
    except (OSError, ValueError) as error:  # missing/bad IDX files, a damaged existing .rec/.idx pair
        print(f"pack_fashion_mnist: error: {error}", file=sys.stderr)
        return 2
    for split, (rec, _, count) in result.items():
        print(f"{split}: {count} images in {rec}")
    return 0


def run() -> None:
    """Console-script entry point ``afflib-pack-fashion-mnist``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
