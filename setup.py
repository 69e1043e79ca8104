"""afflib: Attentional Feature Fusion (Dai et al., WACV 2021) for MXNet/Gluon."""
from setuptools import find_packages, setup

MXNET_VERSION = "1.9.1"
CUDA_BUILDS = ("cu101", "cu102", "cu110", "cu112", "cu117")

extras = {
    "cpu": [f"mxnet=={MXNET_VERSION}"],
    "dev": ["pytest>=7", "Pillow", "matplotlib"],
    "onnx": ["onnx>=1.14,<=1.18", "onnxruntime>=1.16"],
}
for build in CUDA_BUILDS:
    extras[build] = [f"mxnet-{build}=={MXNET_VERSION}"]

setup(
    name="afflib",
    version="0.1.0",
    description="Attentional Feature Fusion (MS-CAM, AFF, iAFF) and AFF-ResNet/ResNeXt for MXNet Gluon",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=("tests", "tests.*")),
    python_requires=">=3.8,<3.12",
    # The MXNet build itself is an extra (cpu / cuXXX) so that GPU users do not get the CPU wheel too.
    install_requires=["gluoncv==0.10.5.post0", "numpy<1.24", "tqdm", "requests", "Pillow", "opencv-python",
                      "scipy", "matplotlib"],
    extras_require=extras,
    include_package_data=True,
    package_data={"afflib": ["py.typed"], "afflib.core": ["released.json", "recipes/*.json"]},
)
