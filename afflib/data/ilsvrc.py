"""ILSVRC2012 sources for record packing: the train tar (one tar per class inside), the val tar with the devkit
ground truth, or class-folder trees; and :func:`prepare_imagenet`, which packs them into ``train``/``val``
``.lst/.rec/.idx`` plus ``classes.txt`` (one class folder / WordNet id per line, in label order).
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .records import IMAGE_EXTENSIONS, Entry, ImageEncoder, OutputsExistError, check_record_file, \
    class_folder_entries, read_files, write_records

__all__ = ["train_tar_entries", "val_tar_entries", "read_train_tar", "read_val_tar", "load_devkit",
           "prepare_imagenet"]

Reader = Callable[[Sequence[Entry]], Iterator[bytes]]


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def train_tar_entries(tar_path: os.PathLike) -> Tuple[List[str], List[Entry]]:
    """Classes (sorted WordNet ids of the inner ``<wnid>.tar`` files) and ``("<wnid>/<image>", label)`` entries."""
    entries: List[Entry] = []
    with tarfile.open(tar_path) as outer:
        class_tars = sorted((m for m in outer.getmembers() if m.isfile() and m.name.endswith(".tar")),
                            key=lambda m: m.name)
        if not class_tars:
            raise ValueError(f"{tar_path}: no per-class .tar files inside; expected ILSVRC2012_img_train.tar "
                             "(for a folder tree use --train-dir)")
        classes = [Path(m.name).stem for m in class_tars]
        for label, member in enumerate(class_tars):
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                names = sorted(m.name for m in inner.getmembers() if m.isfile() and _is_image(m.name))
            entries.extend((f"{classes[label]}/{name}", label) for name in names)
    return classes, entries


def read_train_tar(tar_path: os.PathLike) -> Reader:
    """Reader of ``train_tar_entries`` entries: streams each class tar once, in entry order."""
    def read(entries: Sequence[Entry]) -> Iterator[bytes]:
        with tarfile.open(tar_path) as outer:
            class_tars = {m.name: m for m in outer.getmembers()}
            current, inner, members = None, None, {}
            try:
                for path, _ in entries:
                    wnid, name = path.split("/", 1)
                    if wnid != current:
                        if inner is not None:
                            inner.close()
                        inner = tarfile.open(fileobj=outer.extractfile(class_tars[f"{wnid}.tar"]))
                        members = {m.name: m for m in inner.getmembers()}  # tarfile's own lookup is linear
                        current = wnid
                    yield inner.extractfile(members[name]).read()
            finally:
                if inner is not None:
                    inner.close()
    return read


def load_devkit(devkit: os.PathLike) -> Tuple[Dict[int, str], List[int]]:
    """ILSVRC2012 devkit (the ``.tar.gz`` or its unpacked folder): ILSVRC2012_ID -> WordNet id of the 1000 classes,
    and the validation ground-truth ILSVRC2012_IDs in image order."""
    from scipy.io import loadmat
    devkit = Path(devkit)
    wanted = ("meta.mat", "ILSVRC2012_validation_ground_truth.txt")
    found: Dict[str, bytes] = {}
    if devkit.is_dir():
        for name in wanted:
            matches = sorted(devkit.rglob(name))
            if matches:
                found[name] = matches[0].read_bytes()
    elif devkit.is_file():
        with tarfile.open(devkit) as archive:
            for member in archive.getmembers():
                if Path(member.name).name in wanted and member.isfile():
                    found[Path(member.name).name] = archive.extractfile(member).read()
    else:
        raise FileNotFoundError(f"devkit {devkit} not found (ILSVRC2012_devkit_t12.tar.gz or its folder)")
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValueError(f"devkit {devkit} lacks {missing} (expected data/meta.mat and "
                         "data/ILSVRC2012_validation_ground_truth.txt)")
    synsets = loadmat(io.BytesIO(found["meta.mat"]), squeeze_me=True)["synsets"]
    id_to_wnid = {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets if int(s["num_children"]) == 0}
    truth = [int(line) for line in found["ILSVRC2012_validation_ground_truth.txt"].decode().split()]
    return id_to_wnid, truth


def val_tar_entries(tar_path: os.PathLike, devkit: os.PathLike, classes: Sequence[str]) -> List[Entry]:
    """``(image name, label)`` of the val tar (images sorted by name = ground-truth order), labels in ``classes``."""
    id_to_wnid, truth = load_devkit(devkit)
    index = {wnid: i for i, wnid in enumerate(classes)}
    with tarfile.open(tar_path) as archive:
        names = sorted(m.name for m in archive.getmembers() if m.isfile() and _is_image(m.name))
    if len(names) != len(truth):
        raise ValueError(f"{tar_path} has {len(names)} images but the devkit ground truth has {len(truth)} labels")
    unknown = sorted({id_to_wnid.get(i, str(i)) for i in truth} - set(index))
    if unknown:
        raise ValueError(f"devkit classes {unknown[:5]} are not among the training classes")
    return [(name, index[id_to_wnid[i]]) for name, i in zip(names, truth)]


def read_val_tar(tar_path: os.PathLike) -> Reader:
    """Reader of ``val_tar_entries`` entries (flat tar of images)."""
    def read(entries: Sequence[Entry]) -> Iterator[bytes]:
        with tarfile.open(tar_path) as archive:
            members = {m.name: m for m in archive.getmembers()}  # tarfile's own lookup is linear
            for name, _ in entries:
                yield archive.extractfile(members[name]).read()
    return read


def prepare_imagenet(out_dir: os.PathLike, train_tar: Optional[os.PathLike] = None,
                     train_dir: Optional[os.PathLike] = None, val_tar: Optional[os.PathLike] = None,
                     devkit: Optional[os.PathLike] = None, val_dir: Optional[os.PathLike] = None,
                     resize: int = 480, quality: int = 95, workers: int = 1, force: bool = False,
                     progress: Optional[bool] = None, log: Callable[[str], None] = print) -> Dict[str, dict]:
    """Pack ImageNet (or any class-folder dataset) into ``out_dir/{train,val}.{lst,rec,idx}`` + ``classes.txt``.

    Give exactly one of ``train_tar``/``train_dir`` (it defines the classes) and optionally the val split as
    ``val_tar`` + ``devkit`` or ``val_dir``. Finished splits are kept (rebuilt only with ``force``; when every
    requested split is finished, :class:`OutputsExistError`; a finished split that fails :func:`check_record_file`,
    :class:`RecordFileError`); an interrupted split resumes on the next call.
    ``resize`` is the shorter side in pixels (0 keeps it), ``quality`` the JPEG quality.
    """
    if (train_tar is None) == (train_dir is None):
        raise ValueError("give exactly one of train_tar (--train-tar) or train_dir (--train-dir)")
    if val_tar is not None and devkit is None:
        raise ValueError("val_tar (--val-tar) needs the devkit (--devkit) for its labels")
    if val_tar is not None and val_dir is not None:
        raise ValueError("give at most one of val_tar (--val-tar) or val_dir (--val-dir)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    if train_tar is not None:
        classes, entries = train_tar_entries(train_tar)
        jobs.append(("train", entries, read_train_tar(train_tar)))
    else:
        classes, entries = class_folder_entries(train_dir)
        jobs.append(("train", entries, read_files(train_dir)))
    if val_tar is not None:
        jobs.append(("val", val_tar_entries(val_tar, devkit, classes), read_val_tar(val_tar)))
    elif val_dir is not None:
        jobs.append(("val", class_folder_entries(val_dir, classes)[1], read_files(val_dir)))
    finished = [name for name, _, _ in jobs
                if (out_dir / f"{name}.rec").exists() and (out_dir / f"{name}.idx").exists()]
    for name in finished if not force else []:  # a damaged finished pair is never reported as finished
        check_record_file(out_dir / f"{name}.rec", out_dir / f"{name}.idx", fix="pass --force to rebuild it")
    if finished and not force and len(finished) == len(jobs):
        paths = ", ".join(str(out_dir / f"{name}.rec") for name in finished)
        raise OutputsExistError(f"finished outputs already exist: {paths}; pass --force to rebuild them (old files "
                                "are replaced only when the new ones are complete)")
    classes_file = out_dir / "classes.txt"
    classes_text = "".join(f"{c}\n" for c in classes)
    if finished and not force and classes_file.exists() and classes_file.read_text() != classes_text:
        raise ValueError(f"{classes_file} lists other classes than the training data now has; the finished "
                         f"{finished} outputs would not match: pass --force to rebuild everything")
    tmp = classes_file.with_name(classes_file.name + ".partial")
    tmp.write_text(classes_text)
    os.replace(tmp, classes_file)
    encoder = ImageEncoder(resize=resize, quality=quality)
    results = {}
    for name, entries, read in jobs:
        if name in finished and not force:
            log(f"{name}: {out_dir / name}.rec is finished, kept (--force rebuilds it)")
            continue
        log(f"{name}: {len(entries)} images in {len(classes)} classes -> {out_dir / name}.rec")
        results[name] = write_records(out_dir / name, entries, read, encoder, workers=workers, force=force,
                                      progress=progress, desc=name)
        if results[name]["resumed_from"]:
            log(f"{name}: resumed after {results[name]['resumed_from']} records already packed")
        if results[name]["skipped"]:
            log(f"{name}: skipped {len(results[name]['skipped'])} undecodable images: {results[name]['skipped'][:5]}")
    return results
