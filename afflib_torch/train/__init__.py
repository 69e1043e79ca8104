"""PyTorch training (stand-in package file; the loop part owns and replaces it)."""
