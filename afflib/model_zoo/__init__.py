"""AFF networks, their registry and the released-weights store."""
from .blocks import BasicBlock, Bottleneck, PreActBasicBlock, ResNeXtBlock
from .fpn import AFFResNetFPN, CIFARFPN
from .networks import AFFResNet, AFFResNeXt, CIFARAFFResNet, CIFARAFFResNeXt
from .registry import get_model, get_model_list, model_spec, register_model

__all__ = ["AFFResNet", "AFFResNeXt", "CIFARAFFResNet", "CIFARAFFResNeXt", "CIFARFPN", "AFFResNetFPN", "BasicBlock",
           "Bottleneck", "PreActBasicBlock", "ResNeXtBlock", "get_model", "get_model_list", "model_spec", "register_model"]
