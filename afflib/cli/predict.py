"""Top-k classes with probabilities for image files or folders, with the evaluation preprocessing of the
dataset the model was trained on.

Examples::

    .venv/bin/python scripts/predict.py --model aff_resnet50 --pretrained photos/ --topk 5
    .venv/bin/python scripts/predict.py --params demo/fmnist/0.9012-fashion-mnist-cifar_aff_resnet8-c1-9-best.params shoe.png
    .venv/bin/python scripts/predict.py --model cifar_aff_resnet32 --dataset cifar10 --params c10.params a.png --json
"""
import argparse
import json
import sys

from afflib.deploy import format_table, list_images, predict_files
from afflib.deploy.cli import add_model_flags, model_from_flags
from afflib.core.cliargs import make_parser, positive_int
from afflib.train.runner import exit_on_error


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser("Classify image files with an afflib (or GluonCV) network.")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--topk", type=positive_int, default=5, help="classes shown per image (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON (one list of records) instead of a table")
    add_model_flags(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.topk < 1:
        raise ValueError(f"--topk must be >= 1, got {args.topk}")
    net, name, preset, names = model_from_flags(args, hybridize=True)
    paths = list_images(args.images)
    if not paths:
        raise ValueError(f"no image files found in {', '.join(args.images)}")
    predictions = predict_files(net, preset, paths, min(args.topk, len(names)), names)
    if args.json:
        print(json.dumps({"model": name, "dataset": preset.name,
                          "predictions": [p.as_dict() for p in predictions]}, indent=1))
    else:
        print(f"model {name}, {preset.name} preprocessing ({preset.input_size} px)")
        print(format_table(predictions))
    failed = [p for p in predictions if p.error]
    for prediction in failed:
        print(f"error: {prediction.error}", file=sys.stderr)
    return 1 if failed else 0


def run() -> None:
    """Console-script entry point ``afflib-predict``."""
    exit_on_error(lambda: sys.exit(main()))


if __name__ == "__main__":
    run()
