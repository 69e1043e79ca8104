"""Grad-CAM heatmaps (Selvaraju et al. 2017) of image files as PNGs: the image, the overlay, class name and
probability; ``--compare`` puts a second model beside the first (e.g. AFF next to its plain-addition twin).

Examples::

    .venv/bin/python scripts/gradcam.py --model aff_resnet50 --pretrained --compare resnet50_v1d --compare-pretrained \
        photos/ --out cams/
    .venv/bin/python scripts/gradcam.py --params demo/fmnist/<run>-best.params shoe.png --class 7 --stage 2 --out cams/
"""
import argparse
import sys
from pathlib import Path

from afflib.deploy import ImageReadError, list_images, read_image
from afflib.deploy.cli import add_model_flags, model_from_flags
from afflib.explain import GradCAM
from afflib.explain.figure import save_gradcam_figure
from afflib.core.cliargs import make_parser, nonneg_int, positive_int
from afflib.core.outputs import add_force_flag, refuse_existing
from afflib.train.runner import exit_on_error


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser("Grad-CAM figures of image files for one or two networks.")
    p.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", default="gradcam",
                   help="output folder of the PNGs, one <image>-gradcam.png per image (default: ./gradcam)")
    p.add_argument("--class", dest="class_index", type=nonneg_int, default=None,
                   help="explain this class index (default: each model's predicted class)")
    p.add_argument("--stage", type=positive_int, default=None,
                   help="residual stage to explain, 1-based (default: last)")
    p.add_argument("--layer", default=None,
                   help="dotted block path instead of --stage, e.g. features.5 (default: none)")
    add_force_flag(p, "PNGs in --out")
    add_model_flags(p)
    add_model_flags(p, prefix="compare-")
    return p.parse_args(argv)


def _explainer(args, prefix=""):
    net, name, preset, names = model_from_flags(args, prefix)
    return GradCAM(net, stage=args.stage, layer=args.layer), name, preset, names


def figure_paths(out: str, images) -> list:
    """One ``<stem>-gradcam.png`` in ``out`` per image (``_`` appended to a stem seen before)."""
    paths, seen = [], set()
    for image in images:
        stem = Path(image).stem
        while stem in seen:      # same file name in two folders
            stem += "_"
        seen.add(stem)
        paths.append(Path(out) / f"{stem}-gradcam.png")
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = list_images(args.images)
    if not paths:
        raise ValueError(f"no image files found in {', '.join(args.images)}")
    figures = figure_paths(args.out, paths)
    refuse_existing(figures, args.force)
    models = [_explainer(args)]
    if args.compare_model or args.compare_params:
        if args.compare_model and args.compare_dataset is None:
            args.compare_dataset = models[0][2].name      # same preprocessing and classes as the first model
        models.append(_explainer(args, "compare-"))
    failed = 0
    for path, figure in zip(paths, figures):
        try:
            image = read_image(path)
        except ImageReadError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        panels, view = [], None
        for explainer, name, preset, names in models:
            data = preset.preprocess(image)
            view = preset.network_view(data) if view is None else view
            result = explainer(data, args.class_index)
            cls = int(result.classes[0])
            panels.append((f"{name} [{result.layer}]\n{names[cls]} ({cls}) p={result.class_probabilities[0]:.3f}",
                           result.cams[0]))
        out = save_gradcam_figure(figure, view, panels, image_title=Path(path).name)
        print(f"{path} -> {out}: " + "; ".join(title.replace("\n", " ") for title, _ in panels))
    return 1 if failed else 0


def run() -> None:
    """Console-script entry point ``afflib-gradcam``."""
    exit_on_error(lambda: sys.exit(main()))


if __name__ == "__main__":
    run()
