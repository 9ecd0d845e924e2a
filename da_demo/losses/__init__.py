"""Pure loss functions (no state): each docstring gives its formula and tensor shapes."""

from .class_confusion import class_confusion_loss
from .coral import coral_loss, covariance
from .entropy import entropy_loss
from .gan import cycle_consistency_loss, identity_loss, least_squares_gan_loss
from .mmd import gaussian_kernels, lmmd_loss, mmd_loss
from .mutual_information import confident_pseudo_labels, jsd_mi_bound
from .ot import exact_plan, jdot_cost, jdot_plan_cost, unbalanced_plan

__all__ = [
    "class_confusion_loss",
    "confident_pseudo_labels",
    "coral_loss",
    "covariance",
    "cycle_consistency_loss",
    "entropy_loss",
    "exact_plan",
    "gaussian_kernels",
    "identity_loss",
    "jdot_cost",
    "jdot_plan_cost",
    "jsd_mi_bound",
    "least_squares_gan_loss",
    "lmmd_loss",
    "mmd_loss",
    "unbalanced_plan",
]
