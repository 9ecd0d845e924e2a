"""Learn: each method's idea, formula and when to prefer it (the text lives with each method)."""

from __future__ import annotations

import gradio as gr

from ..methods import get_method, method_names
from .context import AppContext

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

INTRODUCTION = r"""
**Unsupervised domain adaptation**: we have labeled images from a *source* domain (MNIST) and
unlabeled images from a *target* domain (USPS, MNIST-M, noisy MNIST). A classifier trained on the
source alone loses accuracy on the target because the images look different. Each method below uses
the unlabeled target images, never their labels, to close that gap: in the pixels (CycleGAN), in
the feature distributions (DANN, CORAL, MMD, LMMD, DeepJDOT, MI maximization), by trusting its own
confident answers on the target (SHOT, self-ensembling, VADA → DIRT-T), or after the fact (optimal
transport of features). **SHOT is the one method that needs no source data at adaptation time**: only
the source model and unlabeled target images.

One shared trick: several methods also lower the **entropy** of their target predictions,
$H = -\sum_k p_k \log p_k$, which pushes target points away from class boundaries once the domains
overlap. Whether it helps is itself a setting (`entropy_weight`): the shipped models' settings were
chosen without target labels (see the Results tab), and you can set it to 0 in the Adapt tab to see
the plain method.
"""


def build(context: AppContext) -> None:
    gr.Markdown(INTRODUCTION, latex_delimiters=LATEX)
    for name in method_names():
        method = get_method(name)
        with gr.Accordion(method.title, open=name == "source_only"):
            gr.Markdown(method.learn.strip(), latex_delimiters=LATEX, elem_id=f"learn_{name}")
