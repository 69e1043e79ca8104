"""The dataset table both engines read: the release's numbers, label sets, lookups with errors that list the keys."""
import pytest

from afflib.core import datasets as D


def test_the_release_numbers():
    imagenet = D.DATASETS["imagenet"]
    assert (imagenet.classes, imagenet.channels, imagenet.input_size, imagenet.crop_ratio) == (1000, 3, 224, 0.875)
    assert imagenet.mean == tuple(m / 255 for m in (123.68, 116.779, 103.939))
    assert imagenet.std == tuple(s / 255 for s in (58.393, 57.12, 57.375))
    for name in ("cifar10", "cifar100"):
        facts = D.DATASETS[name]
        assert facts.mean == (0.4914, 0.4822, 0.4465) and facts.std == (0.2023, 0.1994, 0.2010)
        assert (facts.channels, facts.input_size) == (3, 32)
    fashion = D.DATASETS["fashion-mnist"]
    assert (fashion.classes, fashion.channels, fashion.input_size, fashion.mean, fashion.std) == (
        10, 1, 28, (0.2860,), (0.3530,))


def test_small_image_datasets_as_the_training_scripts_read_them():
    assert D.SMALL_IMAGE_DATASETS == {"cifar10": (10, 3), "cifar100": (100, 3), "fashion-mnist": (10, 1)}


def test_label_sets():
    assert list(D.LABEL_SETS) == ["imagenet", "cifar10", "cifar100", "cifar100-coarse", "fashion-mnist"]
    assert [D.label_set_classes(name) for name in D.LABEL_SETS] == [1000, 10, 100, 20, 10]
    assert D.class_names("cifar100-coarse")[0] == "aquatic_mammals" and D.class_names("cifar10")[-1] == "truck"
    assert D.class_names("fashion-mnist")[9] == "Ankle boot" and D.class_names("imagenet") is None
    assert D.label_set("cifar100", coarse_labels=True) == "cifar100-coarse" and D.label_set("CIFAR10") == "cifar10"
    with pytest.raises(ValueError, match="only apply to cifar100"):
        D.label_set("cifar10", coarse_labels=True)
    with pytest.raises(ValueError, match="valid: imagenet, cifar10, cifar100, cifar100-coarse, fashion-mnist"):
        D.class_names("svhn")


def test_lookup_spellings_and_errors():
    assert D.dataset_key("Fashion_MNIST") == D.dataset_key("fashionmnist") == "fashion-mnist"
    assert D.dataset_facts("ImageNet") is D.DATASETS["imagenet"]
    with pytest.raises(ValueError, match=r"valid: \['cifar10', 'cifar100', 'fashion-mnist', 'fashion-mnist-scenes', "
                                         r"'imagenet'\]"):
        D.dataset_key("svhn")
