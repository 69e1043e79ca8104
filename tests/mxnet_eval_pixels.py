"""The MXNet engine's ImageNet evaluation batch of an image folder, for the PyTorch suite to compare against.

usage: mxnet_eval_pixels.py ROOT OUT_DIR SIZE...  (run in the MXNet environment, the checkout on PYTHONPATH)

ROOT holds ``<class>/<image>`` files; OUT_DIR/<SIZE>.npz gets ``data`` (the normalised NCHW float32 batch of the folder
pipeline: OpenCV decoding, :class:`ImageNetEvalTransform`, ``stack_batch``), ``labels`` and ``crops`` (HWC uint8).
"""
import functools
import sys

import numpy as np

from afflib.core.datasets import DATASETS
from afflib.data.batches import stack_batch
from afflib.data.imagenet import FolderImageDataset
from afflib.data.transforms import ImageNetEvalTransform


def main(root: str, out_dir: str, *sizes: str) -> None:
    facts = DATASETS["imagenet"]
    for size in sizes:
        dataset = FolderImageDataset(root, ImageNetEvalTransform(int(size)))
        samples = [dataset[i] for i in range(len(dataset))]
        data, labels = functools.partial(stack_batch, mean=facts.mean, std=facts.std)(samples)
        np.savez(f"{out_dir}/{size}.npz", data=data, labels=labels, crops=np.stack([image for image, _ in samples]))


if __name__ == "__main__":
    main(*sys.argv[1:])
