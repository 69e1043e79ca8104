import random

import mxnet as mx
import numpy as np
import pytest

from afflib.data import transforms as T


def position_image(height, width):
    """R = column / 4, G = row / 4 (mod 256): a pixel's values tell where it came from."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x // 4) % 256, (y // 4) % 256, np.zeros_like(x)], axis=-1).astype(np.uint8)


def test_eval_resize_and_center_crop():
    assert T.eval_resize(224, 0.875) == 256 and T.eval_resize(64, 0.875) == 74
    with pytest.raises(ValueError, match="crop_ratio"):
        T.eval_resize(224, 0)
    image = position_image(300, 400)  # shorter side 300 -> 256, long side 341
    out = T.ImageNetEvalTransform(224, 0.875)(image)
    assert out.shape == (224, 224, 3)
    scale = 300 / 256
    centre_row, centre_col = (112 + 16) * scale, (112 + (341 - 224) // 2) * scale  # source pixel of the centre
    assert abs(int(out[112, 112, 1]) - centre_row / 4) <= 1 and abs(int(out[112, 112, 0]) - centre_col / 4) <= 1


def test_eval_preprocess_per_dataset():
    mean = np.array(T.IMAGENET_MEAN)
    constant = np.broadcast_to(np.round(mean).astype(np.uint8), (300, 400, 3)).copy()
    out = T.eval_preprocess("imagenet", 224)(constant)
    assert isinstance(out, mx.nd.NDArray) and out.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(out.asnumpy(), ((np.round(mean) - mean) / T.IMAGENET_STD)[None, :, None, None]
                               * np.ones((1, 3, 224, 224)), atol=1e-4)
    cifar = T.eval_preprocess("cifar10")(np.full((32, 32, 3), 255, np.uint8)).asnumpy()
    np.testing.assert_allclose(cifar[0, :, 0, 0], (1 - np.array(T.CIFAR_MEAN)) / T.CIFAR_STD, rtol=1e-5)
    fashion = T.eval_preprocess("fashion-mnist")(mx.nd.array(np.full((56, 40, 3), 255), dtype=np.uint8))
    assert fashion.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(fashion.asnumpy(), (1 - T.FASHION_MNIST_MEAN[0]) / T.FASHION_MNIST_STD[0], rtol=1e-5)
    valid = r"valid: \['cifar10', 'cifar100', 'fashion-mnist', 'fashion-mnist-scenes', 'imagenet'\]"
    with pytest.raises(ValueError, match=valid):
        T.eval_preprocess("svhn")


def test_random_resized_crop_boxes_respect_area_and_aspect_ranges():
    transform = T.ImageNetTrainTransform(64, seed=0)
    rng = random.Random(0)
    for _ in range(500):
        top, left, h, w = transform._crop_box(120, 160, rng)
        assert 0 <= top and top + h <= 120 and 0 <= left and left + w <= 160
        assert 0.08 * 0.9 <= h * w / (120 * 160) <= 1.0
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1 or (h, w) == (120, 120)


def test_imagenet_train_transform_output_and_reproducibility():
    image = position_image(80, 100)
    outs = [T.ImageNetTrainTransform(48, auto_augment=True, seed=5)(image) for _ in range(2)]
    assert outs[0].shape == (48, 48, 3) and outs[0].dtype == np.float32
    assert 0 <= outs[0].min() and outs[0].max() <= 255
    np.testing.assert_array_equal(outs[0], outs[1])
    transform = T.ImageNetTrainTransform(48, seed=5)
    assert not np.array_equal(transform(image), transform(image)), "each call draws new augmentations"


def test_cifar_train_transform_is_a_padded_crop_with_optional_flip():
    image = position_image(32, 32) + 1  # no zeros inside the image
    transform = T.CifarTrainTransform(seed=1)
    padded = np.zeros((40, 40, 3), np.uint8)
    padded[4:36, 4:36] = image
    flips = 0
    for _ in range(20):
        out = transform(image)
        assert out.shape == (32, 32, 3)
        windows = [padded[t:t + 32, l:l + 32] for t in range(9) for l in range(9)]
        direct = any(np.array_equal(out, w) for w in windows)
        flipped = any(np.array_equal(out[:, ::-1], w) for w in windows)
        assert direct or flipped
        flips += flipped and not direct
    assert 0 < flips < 20


def test_record_iterator_arguments_follow_the_recipe():
    train = T.imagenet_record_args(True, 224)
    assert (train["min_random_area"], train["max_aspect_ratio"], train["brightness"], train["pca_noise"]) == \
        (0.08, 4 / 3, 0.4, 0.1)
    assert train["mean_r"] == 123.68 and train["std_b"] == 57.375
    assert T.imagenet_record_args(False, 224, 0.875)["resize"] == 256


def test_colour_jitter_formulas():
    x = np.random.RandomState(0).uniform(0, 255, (20, 30, 3)).astype(np.float32)
    luma = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    J = T.ImageNetTrainTransform
    np.testing.assert_allclose(J._brightness(x, 1.3), x * 1.3, rtol=1e-5)
    np.testing.assert_allclose(J._contrast(x, 0.7), x * 0.7 + luma.mean() * 0.3, rtol=1e-4)
    np.testing.assert_allclose(J._saturation(x, 0.7), x * 0.7 + luma[:, :, None] * 0.3, rtol=1e-4, atol=1e-3)


def test_core_record_crop_equals_the_record_iterator(tmp_path):
    """afflib.core.preprocess.record_eval_crop is what ImageRecordIter(resize=256) gives (the release's validation
    pipeline): PNG records (lossless), raw pixels (no mean/std)."""
    from afflib.core.preprocess import eval_resize, record_eval_crop
    shapes = [(375, 500), (500, 375), (300, 300), (512, 768), (150, 90), (333, 257), (257, 256)]
    images = [((position_image(h, w).astype(int) * 5 + np.random.RandomState(i).randint(0, 40, (h, w, 3))) % 256
               ).astype(np.uint8) for i, (h, w) in enumerate(shapes)]
    writer = mx.recordio.MXIndexedRecordIO(str(tmp_path / "v.idx"), str(tmp_path / "v.rec"), "w")
    for i, image in enumerate(images):
        header = mx.recordio.IRHeader(0, float(i), i, 0)
        writer.write_idx(i, mx.recordio.pack_img(header, image[:, :, ::-1], img_fmt=".png"))
    writer.close()
    for size in (224, 64):
        records = mx.io.ImageRecordIter(path_imgrec=str(tmp_path / "v.rec"), path_imgidx=str(tmp_path / "v.idx"),
                                        batch_size=1, data_shape=(3, size, size), resize=eval_resize(size, 0.875),
                                        shuffle=False, preprocess_threads=1)
        compared = 0
        for image, batch in zip(images, records):  # the iterator reuses its output buffer: compare at once
            expected = batch.data[0][0].asnumpy().transpose(1, 2, 0)
            np.testing.assert_array_equal(record_eval_crop(image, size, 0.875).astype(np.float32), expected)
            compared += 1
        assert compared == len(images)
