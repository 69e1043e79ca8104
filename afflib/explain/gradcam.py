"""Grad-CAM (Selvaraju et al., ICCV 2017) for afflib and GluonCV networks.

The network is run in two parts without knowing its ``hybrid_forward``: a forward hook on the target
block (a residual stage by default) detaches the block's output as a new leaf with ``attach_grad`` and
switches autograd recording on, so only the rest of the network is recorded and the class score's
gradient stops at the stage output. This works for every network whose stages are child blocks: afflib's
``features`` HybridSequential families, afflib's and GluonCV's ``layerN`` ResNets and GluonCV's
``features`` ResNets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import Block, nn

__all__ = ["GradCAM", "GradCAMResult", "find_stages", "resolve_layer", "upsample_cam", "cam_peak"]

_SEQUENTIAL = (nn.Sequential, nn.HybridSequential)
_POINTWISE = (nn.BatchNorm, nn.Activation, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.Swish)


def _children(block: Block) -> List[Tuple[str, Block]]:
    # Gluon 1.x keeps registered children in this OrderedDict (name -> block, in registration order).
    return list(block._children.items())


def _is_stage(block: Block) -> bool:
    """A stage is a sequential container of composite blocks (residual blocks), not of plain layers."""
    children = _children(block)
    return isinstance(block, _SEQUENTIAL) and bool(children) and all(_children(c) for _, c in children)


def find_stages(net: Block) -> List[Tuple[str, Block]]:
    """The residual stages of ``net`` in forward order, as (dotted name, block) pairs.

    Sequential containers are searched (``features`` and the like); a stage is a sequential container
    whose children are all composite blocks, e.g. ``layer4`` of a ResNet or ``features.4`` of an afflib
    CIFAR network. The deep stem (a sequence of plain conv/BN layers) is not a stage.
    """
    stages: List[Tuple[str, Block]] = []

    def visit(block: Block, prefix: str) -> None:
        for name, child in _children(block):
            path = prefix + name
            if _is_stage(child):
                stages.append((path, child))
            elif isinstance(child, _SEQUENTIAL):
                visit(child, path + ".")

    visit(net, "")
    return stages


def resolve_layer(net: Block, stage: Optional[int] = None, layer: Optional[str] = None) -> Tuple[str, Block]:
    """The block whose output Grad-CAM explains: ``layer`` (dotted child path such as ``'layer3'`` or
    ``'features.5'``), else residual stage number ``stage`` (1-based; negative counts from the end),
    else the last stage. A stage's output includes BatchNorm / activation layers that directly follow it
    (the final BN-ReLU of pre-activation networks)."""
    if layer is not None and stage is not None:
        raise ValueError("give either stage or layer, not both")
    if layer is not None:
        block = net
        for part in layer.split("."):
            named = dict(_children(block))
            if part not in named:
                valid = ", ".join(named) or "(none)"
                raise ValueError(f"layer {layer!r}: {type(block).__name__} has no child {part!r}; its children: {valid}")
            block = named[part]
        return layer, block
    stages = find_stages(net)
    if not stages:
        raise ValueError(f"found no residual stages in {type(net).__name__}; name the block with layer=")
    index = -1 if stage is None else stage
    if index == 0 or not -len(stages) <= index <= len(stages):
        raise ValueError(f"stage {stage} out of range: {type(net).__name__} has stages 1..{len(stages)} "
                         f"({', '.join(name for name, _ in stages)})")
    name, _ = stages[index - 1 if index > 0 else index]
    return _with_trailing_pointwise(net, name)


def _with_trailing_pointwise(net: Block, stage_name: str) -> Tuple[str, Block]:
    """The stage, or the last of the BatchNorm / activation layers that directly follow it in its container.

    Pre-activation networks (afflib's CIFAR ResNets) normalise and rectify the last stage's sum only after
    the stage; that rectified map is the one the classifier pools, as a post-activation ResNet's stage
    output is.
    """
    parent_name, _, child = stage_name.rpartition(".")
    parent = resolve_layer(net, layer=parent_name)[1] if parent_name else net
    names = [name for name, _ in _children(parent)]
    siblings = dict(_children(parent))
    chosen = child
    for name in names[names.index(child) + 1:]:
        if not isinstance(siblings[name], _POINTWISE):
            break
        chosen = name
    path = f"{parent_name}.{chosen}" if parent_name else chosen
    return path, siblings[chosen]


@dataclass
class GradCAMResult:
    """Grad-CAM maps of a batch.

    Attributes
    ----------
    cams : ndarray (N, h, w)
        ReLU of the gradient-weighted activation sum at the target layer's resolution, scaled to max 1
        (all zeros where no location has positive evidence).
    classes : ndarray (N,)
        The explained class of each image.
    probabilities : ndarray (N, classes)
        Softmax of the network's output.
    layer : str
        Dotted name of the explained block.
    """

    cams: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    layer: str

    @property
    def class_probabilities(self) -> np.ndarray:
        """Probability of the explained class of each image."""
        return self.probabilities[np.arange(len(self.classes)), self.classes]


class GradCAM:
    """Gradient-weighted class activation maps at one block of a network.

    Parameters
    ----------
    net : Block
        An initialised classifier (afflib or GluonCV). Its hybridization is switched off: the forward hook
        needs the stages to run imperatively.
    stage : int, optional
        Residual stage to explain (1-based, negative from the end); default the last stage.
    layer : str, optional
        Dotted child path of any block instead of a stage (see :func:`resolve_layer`).
    """

    def __init__(self, net: Block, stage: Optional[int] = None, layer: Optional[str] = None):
        self.net = net
        self.layer, self.block = resolve_layer(net, stage, layer)

    def __call__(self, data: mx.nd.NDArray, class_index: Union[None, int, Sequence[int]] = None) -> GradCAMResult:
        """Explain a preprocessed batch ``data`` (N, C, H, W) for the predicted class or ``class_index``
        (one index for all images or one per image)."""
        self.net.hybridize(active=False)
        captured: List[mx.nd.NDArray] = []

        def detach_stage_output(block, inputs, output):
            if not isinstance(output, mx.nd.NDArray):
                raise TypeError(f"Grad-CAM needs one output array from {self.layer!r}, got {type(output).__name__}")
            if captured:
                raise RuntimeError(f"{self.layer!r} ran twice in one forward pass; choose another layer")
            output.attach_grad()
            captured.append(output)
            autograd.set_recording(True)

        handle = self.block.register_forward_hook(detach_stage_output)
        was_training = autograd.set_training(False)
        was_recording = autograd.set_recording(False)
        try:
            logits = self.net(data)
            if not captured:
                raise RuntimeError(f"{self.layer!r} did not run in the forward pass of {type(self.net).__name__}")
            classes = self._classes(logits, class_index)
            score = (logits * mx.nd.one_hot(mx.nd.array(classes, ctx=logits.context), logits.shape[1])).sum()
            autograd.set_recording(False)
            score.backward()
        finally:
            autograd.set_recording(was_recording)
            autograd.set_training(was_training)
            handle.detach()
        activations = captured[0]
        weights = activations.grad.mean(axis=(2, 3), keepdims=True)
        cams = mx.nd.relu((weights * activations).sum(axis=1)).asnumpy()
        peak = cams.reshape(len(cams), -1).max(axis=1)
        cams = cams / np.where(peak > 0, peak, 1.0)[:, None, None]
        probabilities = mx.nd.softmax(logits.detach()).asnumpy()
        return GradCAMResult(cams=cams, classes=classes, probabilities=probabilities, layer=self.layer)

    @staticmethod
    def _classes(logits: mx.nd.NDArray, class_index: Union[None, int, Sequence[int]]) -> np.ndarray:
        count, num_classes = logits.shape
        if class_index is None:
            return logits.argmax(axis=1).asnumpy().astype(np.int64)
        classes = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (count,)).copy()
        bad = classes[(classes < 0) | (classes >= num_classes)]
        if bad.size:
            raise ValueError(f"class index {int(bad[0])} out of range: the network has {num_classes} classes "
                             f"(0..{num_classes - 1})")
        return classes


def _interpolation_matrix(size_out: int, size_in: int) -> np.ndarray:
    """(size_out, size_in) linear interpolation weights with half-pixel centres (each input cell covers
    ``size_out / size_in`` output pixels)."""
    source = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = source - low
    matrix = np.zeros((size_out, size_in))
    matrix[np.arange(size_out), low] += 1 - frac
    matrix[np.arange(size_out), high] += frac
    return matrix


def upsample_cam(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of one (h, w) map to (height, width), aligned so each cell covers its stride."""
    rows = _interpolation_matrix(height, cam.shape[0])
    cols = _interpolation_matrix(width, cam.shape[1])
    return rows @ cam @ cols.T


def cam_peak(cam: np.ndarray, height: int, width: int) -> Tuple[int, int]:
    """(row, column) of the maximum of ``cam`` upsampled to the image size."""
    up = upsample_cam(cam, height, width)
    row, col = np.unravel_index(int(np.argmax(up)), up.shape)
    return int(row), int(col)
