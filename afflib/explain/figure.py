"""Grad-CAM figures: the input image next to one heatmap overlay per explained model (PNG, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from afflib.core.fileio import atomic_write

from .gradcam import upsample_cam

__all__ = ["save_gradcam_figure"]


def save_gradcam_figure(path: Union[str, Path], image: np.ndarray, panels: Sequence[Tuple[str, np.ndarray]],
                        image_title: Optional[str] = None, alpha: float = 0.5) -> Path:
    """Write ``image`` (H x W x 3 or H x W uint8) and, per ``(title, cam)`` panel, the map upsampled to the
    image and overlaid on it. The PNG is written to a temporary file and renamed, so an existing figure is
    never left half-written. Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    image = np.asarray(image)
    gray = image.ndim == 2 or image.shape[-1] == 1
    shown = image.reshape(image.shape[:2]) if gray else image
    figure = Figure(figsize=(3.2 * (1 + len(panels)), 3.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 1 + len(panels), squeeze=False)[0]
    axes[0].imshow(shown, cmap="gray" if gray else None)
    axes[0].set_title(image_title or "input", fontsize=9)
    for axis, (title, cam) in zip(axes[1:], panels):
        heat = upsample_cam(np.asarray(cam, dtype=np.float64), image.shape[0], image.shape[1])
        axis.imshow(shown, cmap="gray" if gray else None)
        axis.imshow(heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        axis.set_title(title, fontsize=9)
    for axis in axes:
        axis.axis("off")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    return path
