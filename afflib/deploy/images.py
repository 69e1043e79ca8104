"""Image files for inference: expand folders, read files with a clear per-file error."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Union

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "ImageReadError", "list_images", "read_image"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageReadError(ValueError):
    """A file could not be read as an image."""


def list_images(paths: Iterable[Union[str, Path]]) -> List[Path]:
    """Files as given, folders expanded (sorted, recursive) to their files with image suffixes.

    A missing path is kept, so that reading it reports the error for that path."""
    found: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found


def read_image(path: Union[str, Path]) -> np.ndarray:
    """HWC uint8 RGB array of ``path``; :class:`ImageReadError` says why a file is not a readable image."""
    from PIL import Image, UnidentifiedImageError
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file (Pillow cannot identify its format)") from None
    except (OSError, SyntaxError, ValueError) as err:   # truncated or corrupt data, unreadable file
        raise ImageReadError(f"{path}: cannot decode the image ({err})") from None
