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
the unlabeled target images, never their labels, to close that gap, in the pixels (CycleGAN), in
the feature distributions (DANN, CORAL, MMD, LMMD, DeepJDOT, MI maximization) or after the fact
(optimal transport of features).

One shared trick: every method that trains on target images here also lowers the **entropy** of its
target predictions a little (weight 0.1 by default; 0.3 for MI maximization on USPS, 0 for DeepCORAL
on MNIST-M), $H = -\sum_k p_k \log p_k$, which pushes target points away
from class boundaries once the domains overlap. It is a hyperparameter (`entropy_weight`) you can set
to 0 in the Adapt tab to see the plain method.
"""


def build(context: AppContext) -> None:
    gr.Markdown(INTRODUCTION, latex_delimiters=LATEX)
    for name in method_names():
        method = get_method(name)
        with gr.Accordion(method.title, open=name == "source_only"):
            gr.Markdown(method.learn.strip(), latex_delimiters=LATEX, elem_id=f"learn_{name}")
