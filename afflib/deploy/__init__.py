"""Inference outside training: build a classifier with its weights, dataset presets, top-k prediction on image
files, and export to MXNet symbol files or ONNX with a check against the exporting network."""
from .images import ImageReadError, list_images, read_image
from .models import RunModel, load_from_run, load_model
from .predict import Guess, Prediction, format_table, predict_files
from .presets import DATASETS, DatasetPreset, dataset_class_names, dataset_preset, read_class_names

__all__ = ["ImageReadError", "list_images", "read_image", "RunModel", "load_from_run", "load_model", "Guess",
           "Prediction", "format_table", "predict_files", "DATASETS", "DatasetPreset", "dataset_class_names",
           "dataset_preset", "read_class_names"]
