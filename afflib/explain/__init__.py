"""Explanations of afflib (and GluonCV) classifiers: Grad-CAM maps and their figures."""
from .gradcam import GradCAM, GradCAMResult, cam_peak, find_stages, resolve_layer, upsample_cam

__all__ = ["GradCAM", "GradCAMResult", "cam_peak", "find_stages", "resolve_layer", "upsample_cam"]
