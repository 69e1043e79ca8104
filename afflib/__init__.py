"""afflib: Attentional Feature Fusion (Dai et al., WACV 2021) for MXNet Gluon."""
from .model_zoo import get_model, get_model_list

__version__ = "0.1.0"
__all__ = ["get_model", "get_model_list", "__version__"]
