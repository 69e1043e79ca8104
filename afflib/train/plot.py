"""Training-history plot: framework-free, in :mod:`afflib.core.plot` (both engines draw it); re-exported here."""
from afflib.core.plot import plot_history

__all__ = ["plot_history"]
