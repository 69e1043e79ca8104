"""Training-history plot (PNG, matplotlib's Agg backend, no display needed), for both engines' runs."""
from __future__ import annotations

from typing import Any, Dict, List

from .fileio import atomic_write

__all__ = ["plot_history"]


def plot_history(history: List[Dict[str, Any]], path: str, title: str = "") -> str:
    """Plot training loss and train/validation error per epoch into ``path`` (written atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_err, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    ax_err.plot(epochs, [1 - h["train_accuracy"] for h in history], "o-", label="train error")
    val = [(h["epoch"], h["val_top1_error"]) for h in history if h.get("val_top1_error") is not None]
    if val:
        ax_err.plot([e for e, _ in val], [v for _, v in val], "s-", label="validation error")
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("top-1 error")
    ax_err.grid(alpha=0.3)
    ax_err.legend()
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", color="tab:red")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()

    def save(tmp: str) -> None:
        fig.savefig(tmp, format="png", dpi=100)
    atomic_write(path, save)
    plt.close(fig)
    return path
