"""Test accuracy of a params file on CIFAR-10, CIFAR-100 (fine or coarse labels) or Fashion-MNIST.

Examples::

    .venv/bin/python scripts/eval_cifar.py --params runs/fmnist/fashion-mnist-cifar_aff_resnet8-c1-last.params
    .venv/bin/python scripts/eval_cifar.py --dataset fashion-mnist --blocks 1 --channel-times 1 --params other/best.params
    .venv/bin/python scripts/eval_cifar.py --dataset cifar100 --coarse-labels --model-name cifar_aff_resnet32 --pretrained

``--pretrained`` evaluates the released file of the dataset's label set (CIFAR-100 fine or coarse): every released
CIFAR file has 100 outputs, and a coarse one scores the 20 superclasses on outputs 0-19, which are the ones scored.
"""
import argparse
import sys
import time
from typing import List, Optional, Tuple

from mxnet import gluon

from afflib.core.datasets import label_set
from afflib.core.modelspec import ModelSpec, cifar_flags, cifar_spec
from afflib.core.released import ReleasedFile, resolve_released
from afflib.nn.fusion import canonical_fusion
from afflib.core.runrecord import SMALL_IMAGE_DATASETS, flag_given, read_run_record, refuse_conflicts
from afflib.train import build_net, evaluate, resolve_dtype, select_contexts
from afflib.train.cifar import dataset_classes, small_image_source
from afflib.train.logs import want_progress
from afflib.core.trainflags import parse_eval
from afflib.train.runner import exit_on_error


def parse_args(argv=None) -> argparse.Namespace:
    """The flags both engines read (:func:`afflib.core.trainflags.eval_cifar_parser`); PyTorch-engine flags refused."""
    return parse_eval("eval_cifar", argv, "mxnet")


def run_model(args: argparse.Namespace, argv: List[str]) -> Optional[ModelSpec]:
    """The spec of the run ``--params`` comes from (``run_config.json`` beside it), its dataset set on ``args``;
    a model or dataset flag given on the command line that contradicts the run is refused. None: no run record."""
    record = read_run_record(args.params)
    if record is None:
        return None
    if record.dataset not in SMALL_IMAGE_DATASETS:
        raise ValueError(f"{args.params} is from a {record.dataset} run ({record.path}); use eval_imagenet.py")
    recorded = cifar_flags(record.spec)
    checks = [("--dataset", lambda: args.dataset, record.dataset),
              ("--coarse-labels", lambda: args.coarse_labels, record.coarse_labels),
              ("--model-name", lambda: ModelSpec.create(args.model_name, classes=record.classes,
                                                        in_channels=record.in_channels).text(), record.spec.text()),
              ("--askc-type", lambda: canonical_fusion(args.askc_type), recorded["--askc-type"])]
    checks += [(flag, lambda flag=flag: getattr(args, flag[2:].replace("-", "_")), recorded.get(flag))
               for flag in ("--model", "--blocks", "--channel-times", "--start-layer", "--deep-stem")]
    refuse_conflicts(record, args.params, [(flag, value(), want) for flag, value, want in checks
                                           if flag_given(argv, flag)])
    args.dataset, args.coarse_labels = record.dataset, record.coarse_labels
    return record.spec


class FirstOutputs(gluon.Block):
    """``net`` scored on its first ``count`` outputs only (a released coarse-label file: superclasses 0-19 of 100)."""

    def __init__(self, net: gluon.Block, count: int) -> None:
        super().__init__()
        self.net = net
        self.count = count

    def forward(self, x):
        return self.net(x)[:, :self.count]


def released_for(model: str, dataset: str, coarse_labels: bool) -> Tuple[ReleasedFile, int]:
    """(the released file of ``model`` for the dataset's label set, how many of its outputs are that set's classes);
    a ValueError listing the released files when there is none."""
    classes, _ = dataset_classes(dataset, coarse_labels)
    labels = label_set(dataset, coarse_labels)
    entry = resolve_released(model, {"cifar100": "fine", "cifar100-coarse": "coarse"}.get(labels, labels))
    return entry, min(classes, entry.classes)


def main(argv=None) -> None:
    args = parse_args(argv)
    if bool(args.params) == bool(args.pretrained):
        raise ValueError("give exactly one of --params FILE or --pretrained")
    spec = run_model(args, sys.argv[1:] if argv is None else list(argv)) if args.params else None
    classes, channels = dataset_classes(args.dataset, args.coarse_labels)
    contexts = select_contexts(args.gpus, args.num_gpus, args.cpus)
    dtype = resolve_dtype(args.dtype, contexts)
    if args.pretrained:
        if not args.model_name:
            raise ValueError("--pretrained needs --model-name (e.g. cifar_aff_resnet32)")
        name = args.model_name
        entry, scored = released_for(name, args.dataset, args.coarse_labels)
        net = build_net(name, contexts, pretrained=entry.tag, dtype=dtype, classes=entry.classes)
        if scored < entry.classes:
            net = FirstOutputs(net, scored)
    else:
        if spec is None and args.model_name:
            spec = ModelSpec.create(args.model_name, classes=classes, in_channels=channels)
        elif spec is None:
            spec = cifar_spec(args.model, args.askc_type, args.blocks, args.channel_times, args.start_layer,
                              classes, channels, args.deep_stem)
        name = spec.text()
        net = build_net(spec, contexts, args.params, dtype=dtype)
    source = small_image_source(args.dataset, False, args.batch_size * len(contexts), args.data_dir, args.rec_dir,
                                coarse_labels=args.coarse_labels, num_workers=args.num_workers)
    tic = time.time()
    result = evaluate(net, source, contexts, dtype, want_progress(args.no_progress))
    wall = time.time() - tic
    labels = " (20 coarse labels)" if args.coarse_labels else ""
    print("model=%s dataset=%s%s images=%d" % (name, args.dataset, labels, result.samples))
    print("test accuracy: %.4f (error %.4f, top-5 error %.4f)" % (1 - result.top1_error, result.top1_error,
                                                                  result.top5_error))
    print("speed: %.1f images/sec" % (result.samples / wall))


def run() -> None:
    """Console-script entry point ``afflib-eval-cifar``."""
    exit_on_error(main)


if __name__ == "__main__":
    run()
