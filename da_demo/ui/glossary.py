"""Plain-language names of what training reports, each with a one-line explanation (for the live
curves and their legend)."""

from __future__ import annotations

#: metric name → (name on the plot, what it means)
METRICS: dict[str, tuple[str, str]] = {
    "loss": ("total loss", "everything the method minimises, added up"),
    "class_loss": ("source classification loss", "how wrong the model is on labeled MNIST digits"),
    "source_loss": ("plain-source loss", "CycleGAN's classifier on the source images as they are"),
    "domain_loss": (
        "domain-classifier loss",
        "how hard it is to tell source features from target ones; adaptation pushes it up",
    ),
    "target_entropy": ("target uncertainty", "how unsure the predictions on target images are (entropy)"),
    "coral_loss": ("covariance gap (CORAL)", "difference between source and target feature covariances"),
    "mmd_loss": ("distribution gap (MMD)", "distance between the source and target feature distributions"),
    "lmmd_loss": ("class-wise gap (LMMD)", "MMD measured class by class, with target classes guessed"),
    "mcc_loss": ("class confusion (MCC)", "how much target predictions share probability between classes"),
    "transport_loss": (
        "transport cost",
        "how far target samples are from the source samples they are paired with",
    ),
    "mi_bound": (
        "shared information",
        "how well same-class source and target features are matched (higher is better)",
    ),
    "adversarial_loss": (
        "generator fooling loss",
        "how badly the translated images fail to fool the critics",
    ),
    "cycle_loss": ("round-trip error", "a digit translated there and back should come back unchanged"),
    "identity_loss": ("identity error", "an image already in the right style should be left alone"),
    "critic_loss": ("critic loss", "how well the critics tell real images from translated ones"),
    "pseudo_label_loss": ("pseudo-label loss", "agreement with labels guessed from class centroids"),
    "diversity": (
        "class diversity",
        "how evenly the target predictions use the ten classes (higher is better)",
    ),
    "consistency_loss": (
        "teacher disagreement",
        "difference between student and teacher on perturbed target images",
    ),
    "class_balance_loss": ("class-balance loss", "stops every target image landing in one class"),
    "target_vat_loss": (
        "smoothness loss (VAT)",
        "how much the worst small nudge of a target image changes its prediction",
    ),
    "kl_loss": ("step-size loss", "how far DIRT-T has moved from the previous model"),
    "domain_acc": (
        "domain classifier",
        "accuracy of telling source from target (50% = the domains look alike)",
    ),
    "source_acc": ("source test", "accuracy on MNIST test digits"),
    "target_acc": (
        "target test",
        "accuracy on the target's test set: the number that matters, never used to train",
    ),
}

#: metrics drawn on the loss plot (besides every "..._loss")
PLOTTED = ("mi_bound", "target_entropy", "diversity")


def plain_name(metric: str) -> str:
    return METRICS.get(metric, (metric.replace("_", " "), ""))[0]


def plotted(metric: str) -> bool:
    return metric.endswith("loss") or metric in PLOTTED


def explanations(metrics: list[str]) -> str:
    """Markdown: a line per metric, in the order given."""
    return "\n".join(
        f"- **{plain_name(name)}**: {METRICS[name][1]}" for name in dict.fromkeys(metrics) if name in METRICS
    )
