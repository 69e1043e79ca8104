"""afflib: Attentional Feature Fusion (Dai et al., WACV 2021): MXNet/Gluon engine, PyTorch engine, framework-free core.

Install one engine per environment (gluoncv refuses to import beside torch>=2, MXNet needs numpy<1.24):
    pip install "afflib[mxnet]"          # MXNet 1.9.1 CPU build (same as [cpu]); [cu101] ... [cu117] for GPU builds
    pip install "afflib[torch]"          # PyTorch engine: no MXNet, no GluonCV, any numpy
The core (``afflib.core``) needs only NumPy, so it is all that ``install_requires`` holds.
"""
from setuptools import find_packages, setup

MXNET_VERSION = "1.9.1"
CUDA_BUILDS = ("cu101", "cu102", "cu110", "cu112", "cu117")
# What the MXNet engine imports besides MXNet itself. gluoncv alone resolves numpy 2, which breaks `import mxnet`
# (np.bool): the numpy bound lives here, in the MXNet extras, not in install_requires.
MXNET_SIDE = ["gluoncv==0.10.5.post0", "numpy<1.24", "tqdm", "Pillow", "opencv-python", "scipy", "matplotlib"]
TORCH_SIDE = ["torch>=2.0", "Pillow", "matplotlib"]   # matplotlib: the training-curve PNG

extras = {
    "mxnet": [f"mxnet=={MXNET_VERSION}"] + MXNET_SIDE,
    "cpu": [f"mxnet=={MXNET_VERSION}"] + MXNET_SIDE,
    "torch": TORCH_SIDE,
    # NVIDIA DALI (CUDA 12 build on PyPI): --dali reads ImageNet records with GPU JPEG decode (afflib_torch/dali.py)
    "dali": TORCH_SIDE + ["nvidia-dali-cuda120"],
    "dev": ["pytest>=7", "Pillow", "matplotlib"],
    "onnx": ["onnx>=1.14,<=1.18", "onnxruntime>=1.16"],
}
for build in CUDA_BUILDS:
    extras[build] = [f"mxnet-{build}=={MXNET_VERSION}"] + MXNET_SIDE

# Command-line tools (afflib/cli, afflib_torch/cli; also `python -m afflib.cli.<tool>`); scripts/<tool>.py stays a
# thin wrapper of each for the checkout (scripts/render_params_table.py, a checkout-only dev tool, is no entry point).
CONSOLE_SCRIPTS = [
    "afflib-download-params = afflib.cli:run_download_params",
    "afflib-pack-fashion-mnist = afflib.cli:run_pack_fashion_mnist",
    "afflib-prepare-imagenet = afflib.cli:run_prepare_imagenet",
    "afflib-train-cifar = afflib.core.engines:train_cifar",
    "afflib-train-imagenet = afflib.core.engines:train_imagenet",
    "afflib-eval-cifar = afflib.core.engines:eval_cifar",
    "afflib-eval-imagenet = afflib.core.engines:eval_imagenet",
    "afflib-predict = afflib.cli:run_predict",
    "afflib-export = afflib.cli:run_export",
    "afflib-gradcam = afflib.cli:run_gradcam",
    "afflib-summary = afflib.cli:run_summary",
    "afflib-benchmark = afflib.cli:run_benchmark",
    "afflib-launch = afflib.cli:run_launch",
    "afflib-demo = afflib.core.engines:demo",
    "afflib-train-segmentation = afflib.core.engines:train_segmentation",
    "afflib-eval-segmentation = afflib.core.engines:eval_segmentation",
    "afflib-convert = afflib_torch.cli:run_convert",
    "afflib-eval-torch = afflib_torch.cli:run_eval_torch",
    "afflib-benchmark-torch = afflib_torch.cli:run_benchmark_torch",
]

setup(
    name="afflib",
    version="0.1.0",
    description="Attentional Feature Fusion (MS-CAM, AFF, iAFF) and AFF-ResNet/ResNeXt for MXNet Gluon and PyTorch",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=("tests", "tests.*", "tests_core", "tests_core.*", "tests_torch",
                                    "tests_torch.*", "scripts", "scripts.*")),
    # The core and the PyTorch engine run on any current Python; the MXNet extras need < 3.12 (gluoncv's
    # version check imports distutils), which their own wheels do not declare: see README "Install".
    python_requires=">=3.8",
    install_requires=["numpy"],
    extras_require=extras,
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
    include_package_data=True,
    package_data={"afflib": ["py.typed"], "afflib.core": ["released.json", "recipes/*.json", "recipes/segmentation/*.json"]},
)
