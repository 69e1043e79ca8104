"""Command-line tools of the PyTorch engine, installed as console scripts (``afflib-convert``)."""
