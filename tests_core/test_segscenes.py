"""The generated segmentation dataset (fashion-mnist-scenes): deterministic, masks equal to the pasted garments,
occlusion, scales, the binary task, and the cache (written atomically, reused, corrupt files regenerated)."""
import gzip
import hashlib
import os
import struct
import warnings

import numpy as np
import pytest

from afflib.core import segscenes
from afflib.core.datasets import DATASETS
from afflib.core.segscenes import (DEFAULT_DATA_DIR, SceneSpec, generate_scenes, load_scenes, read_fashion_mnist,
                                   resize_bilinear, scene_layout, scenes_cache_dir, scenes_cache_path)

ONE = SceneSpec(min_objects=1, max_objects=1)
CLEAN = SceneSpec(min_objects=1, max_objects=1, background=0, grain=0)


def garments(count=12, seed=0):
    """Small stand-in garments: a bright blob with a dark rim and random texture, labels cycling 0..9."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    blob = np.clip(255 - 12 * np.hypot(yy - 13.5, xx - 13.5), 0, 255)
    images = np.clip(blob[None] * rng.uniform(0.5, 1.0, (count, 28, 28)), 0, 255).astype(np.uint8)
    return images, np.arange(count) % 10


def painted(images, labels, spec, seed, index):
    """Scene ``index``'s mask and clean image (no background, no grain) painted from its layout, in paste order."""
    mask = np.zeros((spec.canvas, spec.canvas), np.uint8)
    image = np.zeros((spec.canvas, spec.canvas))
    for source, size, top, left in scene_layout(spec, seed, index, len(images)):
        garment = resize_bilinear(images[source], size, size)
        inside = garment > spec.threshold
        mask[top:top + size, left:left + size][inside] = labels[source] + 1
        image[top:top + size, left:left + size][inside] = np.rint(garment[inside])
    return mask, image


def test_resize_bilinear_hand_computed():
    up = resize_bilinear(np.array([[0, 4], [8, 12]], np.uint8), 4, 4)
    np.testing.assert_allclose(up, [[0, 1, 3, 4], [2, 3, 5, 6], [6, 7, 9, 10], [8, 9, 11, 12]])
    down = resize_bilinear(np.arange(16).reshape(4, 4), 2, 2)
    np.testing.assert_allclose(down, [[2.5, 4.5], [10.5, 12.5]])
    square = np.arange(28 * 28).reshape(28, 28) % 251
    np.testing.assert_allclose(resize_bilinear(square, 28, 28), square)
    assert resize_bilinear(np.full((28, 28), 7), 9, 50).shape == (9, 50)
    stack = np.stack([square, square.T, 255 - square]).astype(np.uint8)  # a batch: each image as alone
    batch = resize_bilinear(stack, 11, 47)
    for image, resized in zip(stack, batch):
        assert resized.tobytes() == resize_bilinear(image, 11, 47).tobytes()
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\) images and sizes >= 1"):
        resize_bilinear(np.zeros(28), 5, 5)


def test_same_seed_same_bytes_other_seed_differs_scene_independent_of_count():
    images, labels = garments()
    scenes, masks = generate_scenes(images, labels, 10, SceneSpec(), seed=3)
    again = generate_scenes(images, labels, 10, SceneSpec(), seed=3)
    assert scenes.tobytes() == again[0].tobytes() and masks.tobytes() == again[1].tobytes()
    assert scenes.dtype == masks.dtype == np.uint8 and scenes.shape == masks.shape == (10, 64, 64)
    other = generate_scenes(images, labels, 10, SceneSpec(), seed=4)
    assert not np.array_equal(scenes, other[0]) and not np.array_equal(masks, other[1])
    longer = generate_scenes(images, labels, 20, SceneSpec(), seed=3)
    np.testing.assert_array_equal(longer[0][:10], scenes)
    np.testing.assert_array_equal(longer[1][5], masks[5])


def test_the_drawing_is_pinned_and_does_not_depend_on_the_chunking(monkeypatch):
    # a change of how scenes are drawn must bump segscenes.FORMAT_VERSION (cache file names) and this hash
    images, labels = garments()
    scenes, masks = generate_scenes(images, labels, 40, SceneSpec(), seed=0)
    assert hashlib.sha1(scenes.tobytes() + masks.tobytes()).hexdigest() == "5ca098f0867fc65b49a94792b549444ac15ff91a"
    monkeypatch.setattr(segscenes, "_CHUNK", 3)
    again = generate_scenes(images, labels, 40, SceneSpec(), seed=0)
    assert again[0].tobytes() == scenes.tobytes() and again[1].tobytes() == masks.tobytes()


def test_single_garment_mask_is_the_thresholded_resized_garment_at_its_place():
    images, labels = garments()
    scenes, masks = generate_scenes(images, labels, 24, CLEAN, seed=1)
    for i in range(24):
        (source, size, top, left), = scene_layout(CLEAN, 1, i, len(images))
        assert source == i % len(images)  # every garment of the split is used in turn
        garment = resize_bilinear(images[source], size, size)
        expected = np.zeros((64, 64), np.uint8)
        expected[top:top + size, left:left + size] = np.where(garment > 32, labels[source] + 1, 0)
        np.testing.assert_array_equal(masks[i], expected)
        assert set(np.unique(masks[i])) <= {0, labels[source] + 1}
        # no background, no grain: the image is the rounded garment where the mask is set, 0 elsewhere
        np.testing.assert_array_equal(scenes[i], painted(images, labels, CLEAN, 1, i)[1])
    # with background and grain the masks are the same (the mask is drawn from the garment, not the image)
    noisy = generate_scenes(images, labels, 24, ONE, seed=1)
    np.testing.assert_array_equal(noisy[1], masks)
    assert (noisy[0][masks == 0] > 0).mean() > 0.5


def test_later_garments_occlude_earlier_ones():
    images = np.full((10, 28, 28), 200, np.uint8)  # solid squares: every pasted pixel is foreground
    labels = np.arange(10)
    spec = SceneSpec(min_scale=1.6, min_objects=2, max_objects=3, background=0, grain=0)
    scenes, masks = generate_scenes(images, labels, 15, spec, seed=7)
    for i in range(15):
        layout = scene_layout(spec, 7, i, 10)
        expected, image = painted(images, labels, spec, 7, i)
        np.testing.assert_array_equal(masks[i], expected)
        np.testing.assert_array_equal(scenes[i], image)
        last = layout[-1]  # squares of >= 45 px on 64: the last one is whole, on top of the others
        assert (masks[i][last.top:last.top + last.size, last.left:last.left + last.size] == labels[last.source]
                + 1).all()


def test_scales_positions_and_object_counts_within_the_spec():
    spec = SceneSpec()
    layouts = [scene_layout(spec, 0, i, 100) for i in range(600)]
    sizes = [p.size for layout in layouts for p in layout]
    assert min(sizes) >= 7 and max(sizes) <= 56
    assert min(sizes) <= 9 and max(sizes) >= 50  # the whole range is drawn
    assert {len(layout) for layout in layouts} == {1, 2, 3}
    for layout in layouts:
        for p in layout:
            assert 0 <= p.top <= 64 - p.size and 0 <= p.left <= 64 - p.size and 0 <= p.source < 100
    # a single pasted garment's mask stays inside its square
    images, labels = garments()
    _, masks = generate_scenes(images, labels, 12, ONE, seed=2)
    for i in range(12):
        (_, size, top, left), = scene_layout(ONE, 2, i, len(images))
        rows, cols = np.nonzero(masks[i])
        assert rows.min() >= top and rows.max() < top + size and cols.min() >= left and cols.max() < left + size


def test_binary_task_one_class_against_everything_else():
    images, labels = garments()
    scenes, masks = generate_scenes(images, labels, 30, SceneSpec(), seed=5)
    spec = SceneSpec(binary_class=3)
    assert spec.classes == 2 and spec.class_names == ["background", "Dress"]
    assert SceneSpec().classes == 11 and SceneSpec().class_names[:2] == ["background", "T-shirt/top"]
    binary = generate_scenes(images, labels, 30, spec, seed=5)
    np.testing.assert_array_equal(binary[0], scenes)
    np.testing.assert_array_equal(binary[1], (masks == 4).astype(np.uint8))
    assert binary[1].max() == 1 and (masks[binary[1] == 0] != 4).all()


def test_bad_specs_and_inputs_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="max_scale 3.*larger than the 64 px canvas"):
        SceneSpec(max_scale=3)
    with pytest.raises(ValueError, match="binary_class must be None or a Fashion-MNIST class 0..9"):
        SceneSpec(binary_class=10)
    with pytest.raises(ValueError, match="min_objects <= max_objects"):
        SceneSpec(min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match="threshold"):
        SceneSpec(threshold=255)
    images, labels = garments()
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, 28, 28\)"):
        generate_scenes(images[:, :20], labels, 2)
    with pytest.raises(ValueError, match="labels must have shape"):
        generate_scenes(images, labels[:3], 2)
    with pytest.raises(ValueError, match="labels must be Fashion-MNIST classes"):
        generate_scenes(images, labels + 5, 2)
    with pytest.raises(ValueError, match="count must be >= 1"):
        generate_scenes(images, labels, 0)
    with pytest.raises(ValueError, match="split must be one of"):
        load_scenes("val")


def idx_bytes(array):
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.astype(np.uint8).tobytes()


@pytest.fixture
def idx_dir(tmp_path):
    """A folder with a tiny Fashion-MNIST in IDX form (train .gz, test plain)."""
    folder = tmp_path / "idx"
    folder.mkdir()
    for split, seed in (("train", 0), ("t10k", 1)):
        images, labels = garments(12, seed)
        for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            content = idx_bytes(array)
            if split == "train":
                (folder / f"{split}-{kind}.gz").write_bytes(gzip.compress(content))
            else:
                (folder / f"{split}-{kind}").write_bytes(content)
    return folder


def test_cache_written_reused_without_the_sources_and_regenerated_when_corrupt(idx_dir, tmp_path):
    cache = tmp_path / "cache"
    scenes, masks = load_scenes("train", count=6, seed=2, data_dir=idx_dir, cache_dir=cache, progress=False)
    path = scenes_cache_path("train", SceneSpec(), 2, 6, cache)
    assert path.is_file() and path.name.startswith("train-6-seed2-") and path.suffix == ".npz"
    assert os.listdir(cache) == [path.name]  # no temporary file left behind
    expected = generate_scenes(*read_fashion_mnist("train", idx_dir), 6, SceneSpec(), 2)
    np.testing.assert_array_equal(scenes, expected[0])
    np.testing.assert_array_equal(masks, expected[1])
    stamp = path.stat().st_mtime_ns, path.read_bytes()
    for name in os.listdir(idx_dir):  # a second call must not need the IDX files
        os.remove(idx_dir / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_scenes("train", count=6, seed=2, data_dir=idx_dir, cache_dir=cache, progress=False)
        binary = load_scenes("train", SceneSpec(binary_class=0), count=6, seed=2, data_dir=idx_dir,
                             cache_dir=cache, progress=False)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == stamp
    np.testing.assert_array_equal(again[0], scenes)
    np.testing.assert_array_equal(again[1], masks)
    np.testing.assert_array_equal(binary[1], (masks == 1).astype(np.uint8))
    # another seed, count or spec is another file; a missing source folder says what to install
    assert scenes_cache_path("train", SceneSpec(), 3, 6, cache) != path
    assert scenes_cache_path("train", SceneSpec(canvas=96), 2, 6, cache) != path
    assert scenes_cache_path("train", SceneSpec(binary_class=4), 2, 6, cache) == path
    with pytest.raises(FileNotFoundError, match=f"{idx_dir}.*dataset-fashion-mnist"):
        load_scenes("train", count=7, data_dir=idx_dir, cache_dir=cache, progress=False)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape"])
def test_a_damaged_cache_file_is_regenerated_with_a_warning(idx_dir, tmp_path, damage):
    cache = tmp_path / "cache"
    scenes, masks = load_scenes("test", count=5, data_dir=idx_dir, cache_dir=cache, progress=False)
    path = scenes_cache_path("test", SceneSpec(), 0, 5, cache)
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with np.load(path) as content:
            key = content["key"]
        with open(path, "wb") as f:
            np.savez(f, key=key, scenes=scenes[:4], masks=masks[:4])
    with pytest.warns(UserWarning, match=f"scene cache {path} is not usable"):
        again = load_scenes("test", count=5, data_dir=idx_dir, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again[0], scenes)
    np.testing.assert_array_equal(again[1], masks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_scenes("test", count=5, data_dir=idx_dir, cache_dir=cache, progress=False)  # repaired


def test_cache_folder_default_and_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("AFFLIB_DATA_HOME", raising=False)
    assert scenes_cache_dir() == (tmp_path.home() / ".afflib" / "datasets" / "fashion-mnist-scenes")
    monkeypatch.setenv("AFFLIB_DATA_HOME", str(tmp_path))
    assert scenes_cache_dir() == tmp_path / "fashion-mnist-scenes"
    assert scenes_cache_dir(tmp_path / "x") == tmp_path / "x"


def test_progress_bar_drawn_when_asked(capsys):
    images, labels = garments()
    generate_scenes(images, labels, 3, SceneSpec(), progress=True)
    assert "generating scenes" in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_DATA_DIR.is_dir(), reason="Fashion-MNIST IDX files not installed")
def test_real_garments_from_the_installed_split():
    images, labels = read_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    scenes, masks = generate_scenes(images, labels, 20, CLEAN, seed=0)
    for i in range(20):
        np.testing.assert_array_equal(masks[i], painted(images, labels, CLEAN, 0, i)[0])
        assert set(np.unique(masks[i])) == {0, labels[i] + 1}


@pytest.mark.skipif(not DEFAULT_DATA_DIR.is_dir(), reason="Fashion-MNIST IDX files not installed")
def test_dataset_table_normalisation_matches_generated_train_scenes():
    # the table's numbers were measured on all 60,000 train scenes; the first 2,000 agree within sampling noise
    facts = DATASETS["fashion-mnist-scenes"]
    assert (facts.classes, facts.channels, facts.input_size) == (SceneSpec().classes, 1, SceneSpec().canvas)
    scenes, _ = generate_scenes(*read_fashion_mnist("train"), 2000, SceneSpec(), seed=0)
    pixels = scenes / 255.0
    assert pixels.mean() == pytest.approx(facts.mean[0], abs=0.005)
    assert pixels.std() == pytest.approx(facts.std[0], abs=0.005)
