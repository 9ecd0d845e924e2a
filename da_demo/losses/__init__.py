"""Pure loss functions (no state): each docstring gives its formula and tensor shapes."""

from .coral import coral_loss, covariance
from .entropy import entropy_loss

__all__ = ["coral_loss", "covariance", "entropy_loss"]
