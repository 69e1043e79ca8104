"""The PyTorch training engine: the MXNet engine's loop, checkpoints, log lines and exit codes on torch.

Small modules with explicit arguments: the run's session (:mod:`.session`; ``distributed`` adds DDP's), the
optimizer and its per-update learning rate (:mod:`.optim`), targets and losses (:mod:`.losses`), the small-image
training data (:mod:`.smalldata`), checkpoint sets (:mod:`.checkpoint`), the loop (:mod:`.loop`) and what the
training tools do once their flags are parsed (:mod:`.runner`). Everything framework-free comes from
:mod:`afflib.core` (schedule, recipe, metrics, log lines, run folders, checkpoint names and records).
"""
