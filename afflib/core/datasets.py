"""Dataset facts both engines share, in one table: classes, channels, input size, crop ratio, mean/std, label sets.

The numbers are the release's (see ``params/README.md`` and the paper): ImageNet mean/std on the 0-255 scale as
GluonCV's record iterator takes them, CIFAR mean/std on the 0-1 scale, Fashion-MNIST the training-pixel statistics.
Engines read :data:`DATASETS` (or :func:`dataset_facts`); nothing else spells these numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "CIFAR_MEAN", "CIFAR_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
           "EVAL_CROP_RATIO", "CIFAR10_CLASSES", "CIFAR100_FINE_CLASSES", "CIFAR100_COARSE_CLASSES",
           "FASHION_MNIST_CLASSES", "DatasetFacts", "DATASETS", "SMALL_IMAGE_DATASETS", "LABEL_SETS", "dataset_key",
           "dataset_facts", "label_set", "class_names", "label_set_classes", "FASHION_MNIST_SCENES_MEAN",
           "FASHION_MNIST_SCENES_STD"]

IMAGENET_MEAN = (123.68, 116.779, 103.939)  # 0-255 scale, RGB
IMAGENET_STD = (58.393, 57.12, 57.375)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # 0-1 scale, RGB
CIFAR_STD = (0.2023, 0.1994, 0.2010)
FASHION_MNIST_MEAN = (0.2860,)  # 0-1 scale, one channel; training-set pixel statistics
FASHION_MNIST_STD = (0.3530,)
# the generated segmentation scenes (afflib.core.segscenes): pixel mean/std of all 60,000 scenes of the train split
# as load_scenes("train") makes them (default SceneSpec, 64 px canvas, seed 0); 0-1 scale, one channel
FASHION_MNIST_SCENES_MEAN = (0.1716,)
FASHION_MNIST_SCENES_STD = (0.2089,)
EVAL_CROP_RATIO = 0.875  # ImageNet evaluation: centre crop / resized shorter side (224 of 256)

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_COARSE_CLASSES = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
    "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2"]
CIFAR100_FINE_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm"]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]


@dataclass(frozen=True)
class DatasetFacts:
    """What a network trained on one dataset expects: ``mean``/``std`` per channel on the 0-1 scale.

    ``label_sets`` maps a label-set name to its class names (``None`` where the engine supplies them, as GluonCV's
    ImageNet names); the first one is the default. ``crop_ratio`` is the evaluation centre crop / resized shorter
    side (1.0: no crop, the image is resized to ``input_size``).
    """

    name: str
    classes: int
    channels: int
    input_size: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    crop_ratio: float = 1.0
    label_sets: Mapping[str, Optional[List[str]]] = field(default_factory=dict)


DATASETS: Dict[str, DatasetFacts] = {
    "imagenet": DatasetFacts("imagenet", 1000, 3, 224, tuple(m / 255 for m in IMAGENET_MEAN),
                             tuple(s / 255 for s in IMAGENET_STD), EVAL_CROP_RATIO, {"imagenet": None}),
    "cifar10": DatasetFacts("cifar10", 10, 3, 32, CIFAR_MEAN, CIFAR_STD, 1.0, {"cifar10": CIFAR10_CLASSES}),
    "cifar100": DatasetFacts("cifar100", 100, 3, 32, CIFAR_MEAN, CIFAR_STD, 1.0,
                             {"cifar100": CIFAR100_FINE_CLASSES, "cifar100-coarse": CIFAR100_COARSE_CLASSES}),
    "fashion-mnist": DatasetFacts("fashion-mnist", 10, 1, 28, FASHION_MNIST_MEAN, FASHION_MNIST_STD, 1.0,
                                  {"fashion-mnist": FASHION_MNIST_CLASSES}),
    # segmentation (11 classes = background + the garments; its binary task has 2): no label set, so the
    # classification tools' LABEL_SETS leave it out; the mask class names are SceneSpec.class_names
    "fashion-mnist-scenes": DatasetFacts("fashion-mnist-scenes", 11, 1, 64, FASHION_MNIST_SCENES_MEAN,
                                         FASHION_MNIST_SCENES_STD),
}
# the small-image datasets of scripts/train_cifar.py -> (classes, input channels), read by afflib.train.cifar
# and afflib.core.runrecord
SMALL_IMAGE_DATASETS: Dict[str, Tuple[int, int]] = {
    name: (DATASETS[name].classes, DATASETS[name].channels) for name in ("cifar10", "cifar100", "fashion-mnist")}
# label set -> dataset (``cifar100-coarse``: the 20 superclasses every CIFAR number of the paper is measured on)
LABEL_SETS: Dict[str, str] = {name: facts.name for facts in DATASETS.values() for name in facts.label_sets}


def dataset_key(name: str) -> str:
    """The table key of ``name`` (case, ``_`` and ``fashionmnist`` spellings accepted); ValueError lists the keys."""
    key = name.strip().lower().replace("_", "-")
    key = "fashion-mnist" if key in ("fashion-mnist", "fashionmnist") else key
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {sorted(DATASETS)}")
    return key


def dataset_facts(name: str) -> DatasetFacts:
    """The :class:`DatasetFacts` of ``name`` (see :func:`dataset_key`)."""
    return DATASETS[dataset_key(name)]


def label_set(dataset: str, coarse_labels: bool = False) -> str:
    """The label-set name of a run: ``cifar100-coarse`` for CIFAR-100 with ``coarse_labels``, else the dataset."""
    key = dataset_key(dataset)
    if coarse_labels and key != "cifar100":
        raise ValueError(f"coarse labels only apply to cifar100 (20 superclasses), not {dataset}")
    return "cifar100-coarse" if coarse_labels else key


def _label_set(name: str) -> Tuple[DatasetFacts, Optional[List[str]]]:
    key = name.strip().lower().replace("_", "-")
    if key not in LABEL_SETS:
        raise ValueError(f"unknown label set {name!r}; valid: {', '.join(LABEL_SETS)}")
    facts = DATASETS[LABEL_SETS[key]]
    return facts, facts.label_sets[key]


def class_names(name: str) -> Optional[List[str]]:
    """Class names of a label set (or dataset) in label order; ``None`` for ImageNet (the engine supplies them)."""
    names = _label_set(name)[1]
    return None if names is None else list(names)


def label_set_classes(name: str) -> int:
    """Number of classes of a label set: 20 for ``cifar100-coarse``, the dataset's otherwise."""
    facts, names = _label_set(name)
    return facts.classes if names is None else len(names)
