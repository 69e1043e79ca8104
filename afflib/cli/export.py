"""Export a network for deployment (MXNet symbol + params, or ONNX) and check the exported file with its
runtime against MXNet on random input.

Examples::

    .venv/bin/python scripts/export.py --model aff_resnet50 --pretrained --format onnx --batch dynamic --out aff_resnet50
    .venv/bin/python scripts/export.py --params demo/fmnist/<run>-best.params --format mxnet --batch 8 --out fmnist_aff
"""
import argparse
import sys

from afflib.deploy.cli import add_model_flags, model_from_flags
from afflib.core.outputs import add_force_flag, refuse_existing
from afflib.deploy.export import check_mxnet_export, check_onnx_export, export_mxnet, export_onnx
from afflib.core.cliargs import make_parser
from afflib.train.runner import exit_on_error

TOLERANCE = 1e-4    # largest accepted |exported - MXNet| relative to the largest |MXNet output|


def parse_args(argv=None) -> argparse.Namespace:
    p = make_parser("Export an afflib (or GluonCV) network to MXNet symbol files or ONNX.")
    p.add_argument("--format", choices=("onnx", "mxnet"), default="onnx",
                   help="file format (onnx needs onnx/onnxruntime)")
    p.add_argument("--batch", default="dynamic",
                   help="'dynamic' (any batch size; checked with batches 1 and 3) or a fixed batch size N")
    p.add_argument("--out", default=None, help="output prefix (default: the model name): PREFIX.onnx, or "
                                               "PREFIX-symbol.json + PREFIX-0000.params")
    add_force_flag(p, "exported files")
    add_model_flags(p)
    return p.parse_args(argv)


def batch_sizes(text: str):
    """(dynamic?, batch sizes to check)."""
    if text == "dynamic":
        return True, (1, 3)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--batch must be 'dynamic' or a positive batch size, got {text!r}")
    return False, (int(text),)


def output_files(prefix: str, fmt: str):
    """The files an export with ``prefix`` writes."""
    return [f"{prefix}.onnx"] if fmt == "onnx" else [f"{prefix}-symbol.json", f"{prefix}-0000.params"]


def main(argv=None) -> int:
    args = parse_args(argv)
    dynamic, batches = batch_sizes(args.batch)
    net, name, preset, _ = model_from_flags(args)
    shape = (batches[0], preset.channels, preset.input_size, preset.input_size)
    prefix = args.out or name
    refuse_existing(output_files(prefix, args.format), args.force)
    if args.format == "onnx":
        path = export_onnx(net, f"{prefix}.onnx", shape, dynamic_batch=dynamic)
        checks = check_onnx_export(net, path, shape, batches)
        print(f"wrote {path} (opset 13, input 'data' {('N',) + shape[1:] if dynamic else shape})")
    else:
        symbol_file, params_file = export_mxnet(net, prefix, shape)
        checks = check_mxnet_export(net, symbol_file, params_file, shape, batches)
        print(f"wrote {symbol_file} and {params_file} (input 'data', any batch size)")
    runtime = "onnxruntime" if args.format == "onnx" else "SymbolBlock.imports"
    worst = 0.0
    for check in checks:
        print(f"batch {check.batch}: max |{runtime} - MXNet| = {check.max_abs_diff:.3g} "
              f"(relative {check.relative:.3g} of max |output| {check.max_abs_output:.3g})")
        worst = max(worst, check.relative)
    if worst > TOLERANCE:
        print(f"error: the exported model differs from MXNet by {worst:.3g} (relative) > {TOLERANCE}",
              file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console-script entry point ``afflib-export``."""
    exit_on_error(lambda: sys.exit(main()))


if __name__ == "__main__":
    run()
