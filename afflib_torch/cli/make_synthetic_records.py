"""Write ImageNet-shaped JPEG records (train.rec/.idx, val.rec/.idx) without MXNet and optionally time the PyTorch
engine's ImageNet data loader on them end to end (decode, augmentation, batching, pinned copies).

Examples:
  python -m afflib_torch.cli.make_synthetic_records --out /tmp/syn --images 5120
  python -m afflib_torch.cli.make_synthetic_records --out /tmp/syn --images 5120 --measure 20 -j 16 --device cuda
"""
from __future__ import annotations

import time
from pathlib import Path

from afflib.core.cliargs import exit_on_bad_input, int_range, make_parser, nonneg_int, positive_int
from afflib.core.recordio import write_synthetic_records


def parse_args(argv=None):
    p = make_parser(__doc__)
    p.add_argument("--out", required=True, help="output folder for train.rec/.idx and val.rec/.idx")
    p.add_argument("--images", type=positive_int, default=2560, help="training images (default 2560)")
    p.add_argument("--val-images", type=nonneg_int, default=0, help="validation images (default 0: none)")
    p.add_argument("--classes", type=positive_int, default=1000, help="labels i %% classes (default 1000)")
    p.add_argument("--height", type=positive_int, default=375, help="image height (default 375, ImageNet's usual)")
    p.add_argument("--width", type=positive_int, default=500, help="image width (default 500)")
    p.add_argument("--quality", type=int_range(1, 100), default=90, help="JPEG quality (default 90)")
    p.add_argument("--measure", type=nonneg_int, default=0,
                   help="then time this many training batches through imagenet_train_data (default 0: no timing)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="batch size when timing (default 256)")
    p.add_argument("-j", "--num-data-workers", dest="workers", type=nonneg_int, default=4,
                   help="encoding processes, and DataLoader worker processes when timing (default 4)")
    p.add_argument("--input-size", type=int_range(16), default=224, help="training crop when timing (default 224)")
    p.add_argument("--keep", action="store_true",
                   help="reuse the records already in --out (same --images) instead of writing them again")
    p.add_argument("--device", default=None,
                   help="finish batches on this device (e.g. cuda; default: in the workers, on the CPU)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    size = (args.height, args.width)
    rec = out / "train.rec"
    if args.keep and rec.is_file() and (out / "train.idx").is_file():
        print(f"reusing {rec}")
    else:
        rec, _ = write_synthetic_records(out / "train", args.images, args.classes, size, args.quality, seed=0,
                                         workers=max(1, args.workers))
        if args.val_images:
            write_synthetic_records(out / "val", args.val_images, args.classes, size, args.quality, seed=1,
                                    workers=max(1, args.workers))
        print(f"wrote {args.images} training images ({rec.stat().st_size / args.images / 1024:.1f} KiB each) "
              f"to {rec} in {time.perf_counter() - started:.1f} s")
    if args.measure:
        import torch
        from afflib_torch.imagenet_data import imagenet_train_data, loader_rate
        data = imagenet_train_data(str(out), args.batch_size, args.input_size, workers=args.workers,
                                   pin_memory=torch.cuda.is_available(), device=args.device)
        skip = 2 * args.workers + 1               # what the workers can have prefetched
        rate = loader_rate(data, min(args.measure, len(data) - skip), skip)
        print(f"loader: {rate:.0f} images/s steady state (batches of {args.batch_size} at {args.input_size}, "
              f"{args.workers} workers, device {args.device or 'cpu'}; timed after the first {skip} batches)")
    return 0


def run() -> None:
    """Console entry: bad input is one ``error:`` line and exit status 2."""
    exit_on_bad_input(main)


if __name__ == "__main__":
    run()
