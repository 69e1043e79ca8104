"""afflib's framework-free core: what both engines (MXNet/Gluon in ``afflib``, PyTorch in ``afflib_torch``) share.

Stdlib and NumPy only: importing any module here imports neither MXNet nor torch (``tests/test_core_import.py``
checks it in both environments). Engines instantiate the plans, tables and records defined here.
"""
