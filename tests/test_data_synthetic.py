import cv2
import numpy as np

from afflib.data.synthetic import make_tiny_imagenet


def _mean_colours(folder):
    features, labels = [], []
    for label, class_dir in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        for path in sorted(class_dir.glob("*.jpg")):
            image = cv2.imread(str(path))
            assert image.shape == (48, 48, 3)
            hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float64)
            angle = hsv[:, 0] * np.pi / 90  # OpenCV hue is 0..180
            features.append([np.median(np.cos(angle)), np.median(np.sin(angle))])
            labels.append(label)
    return np.array(features), np.array(labels)


def test_tiny_imagenet_layout_and_visible_classes(tmp_path):
    folders = make_tiny_imagenet(tmp_path, classes=4, per_class=12, val_per_class=6, size=48, seed=2)
    names = sorted(p.name for p in folders["train"].iterdir())
    assert names == sorted(p.name for p in folders["val"].iterdir()) and len(names) == 4
    assert [len(list((folders["val"] / n).glob("*.jpg"))) for n in names] == [6] * 4
    # The class is visible: nearest class centroid of the median background hue classifies the val images.
    train_x, train_y = _mean_colours(folders["train"])
    val_x, val_y = _mean_colours(folders["val"])
    centroids = np.stack([train_x[train_y == k].mean(axis=0) for k in range(4)])
    predicted = np.argmin(((val_x[:, None] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (predicted == val_y).mean() >= 0.9  # measured 1.0 for generator seeds 0-7
    again = make_tiny_imagenet(tmp_path / "again", classes=4, per_class=12, val_per_class=6, size=48, seed=2)
    first = sorted((folders["train"] / names[0]).iterdir())[0]
    assert (again["train"] / names[0] / first.name).read_bytes() == first.read_bytes(), "seeded: reproducible"
