"""Pack ILSVRC2012 (tar files + devkit) or any class-folder dataset into RecordIO train/val .lst/.rec/.idx.

Examples:
  afflib-prepare-imagenet --train-tar ILSVRC2012_img_train.tar --val-tar ILSVRC2012_img_val.tar \\
      --devkit ILSVRC2012_devkit_t12.tar.gz --out ~/.mxnet/datasets/imagenet/rec -j 8
  afflib-prepare-imagenet --train-dir data/train --val-dir data/val --out data/rec --resize 0
"""
import sys

from afflib.core.cliargs import int_range, make_parser, nonneg_int, positive_int
from afflib.data.ilsvrc import prepare_imagenet
from afflib.data.records import OutputsExistError


def parse_args(argv=None):
    parser = make_parser(__doc__)
    train = parser.add_mutually_exclusive_group(required=True)
    train.add_argument("--train-tar",
                       help="ILSVRC2012_img_train.tar (one <wnid>.tar per class inside; this or --train-dir is "
                            "required)")
    train.add_argument("--train-dir",
                       help="training class folders: DIR/<class>/<images> (this or --train-tar is required)")
    parser.add_argument("--val-tar",
                        help="ILSVRC2012_img_val.tar (needs --devkit for the labels; default: no validation set)")
    parser.add_argument("--devkit", help="ILSVRC2012_devkit_t12.tar.gz or its unpacked folder (default: none)")
    parser.add_argument("--val-dir",
                        help="validation class folders with the training set's class names (default: none)")
    parser.add_argument("--out", required=True, help="output folder for train/val .lst/.rec/.idx and classes.txt")
    parser.add_argument("--resize", type=nonneg_int, default=480,
                        help="resize the shorter side to this many pixels (0 keeps the size); default 480 keeps "
                             "detail for random-resized crops at 224 and halves the size of the full images")
    parser.add_argument("--quality", type=int_range(1, 100), default=95,
                        help="JPEG quality of the re-encoded images (default 95)")
    parser.add_argument("-j", "--workers", type=positive_int, default=1, help="encoding processes (default 1)")
    parser.add_argument("--force", action="store_true", help="rebuild finished outputs (replaced only when done)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        results = prepare_imagenet(args.out, train_tar=args.train_tar, train_dir=args.train_dir,
                                   val_tar=args.val_tar, devkit=args.devkit, val_dir=args.val_dir, resize=args.resize,
                                   quality=args.quality, workers=args.workers, force=args.force,
                                   progress=False if args.no_progress else None)
    except (OutputsExistError, FileNotFoundError, ValueError) as error:
        print(f"prepare_imagenet: error: {error}", file=sys.stderr)
        return 2
    for name, result in results.items():
        print(f"{name}: {result['written']} records written to {args.out}/{name}.rec")
    return 0


def run() -> None:
    """Console-script entry point ``afflib-prepare-imagenet``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
