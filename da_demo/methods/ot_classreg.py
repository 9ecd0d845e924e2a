"""Class-regularised optimal transport (Courty, Flamary, Tuia & Rakotomamonjy, TPAMI 2017), the
work the OT blog follows: the Sinkhorn mapping of ``ot_sinkhorn``, with a plan that also respects
the source labels.

A group-lasso (ℓp–ℓ1) penalty on the plan makes each target point receive mass from source points
of **one class**:

    γ* = argmin_{γ ∈ Π(a, b)} ⟨γ, C⟩ − ε H(γ) + η Σ_j Σ_c ‖γ(I_c, j)‖_p^{1/2}

(POT's ``SinkhornLpl1Transport``, solved by majorisation–minimisation). Everything else, the
features, the barycentric map and the 1-NN classification, is the plain mapping's.
"""

from __future__ import annotations

from dataclasses import dataclass

import ot

from . import register
from .ot_sinkhorn import SinkhornMapping, SinkhornMappingHyperparameters
from .settings import setting


@dataclass
class ClassRegularisedOTHyperparameters(SinkhornMappingHyperparameters):
    reg_e: float = 0.1
    reg_cl: float = setting(
        0.1,
        0.0,
        100.0,
        label="Class regularisation η",
        help="how strongly each target point is made to take mass from one source class only",
    )
    max_iter: int = setting(10, 1, 1000, label="Majorisation–minimisation iterations")


@register
class ClassRegularisedOT(SinkhornMapping):
    name = "ot_classreg"
    title = "OT: class-regularised mapping + 1-NN"
    order = 65
    hyperparameters_class = ClassRegularisedOTHyperparameters
    alignment_parameter = "reg_cl"
    sweep_grid = {"reg_e": (0.01, 0.1), "reg_cl": (0.1, 1.0)}
    learn = r"""
The Sinkhorn mapping, with a plan that **respects the source labels**: a group-lasso penalty makes
each target point take its mass from source points of a single class, so a target 7 is not moved
half onto the 1s and half onto the 7s:

$$\gamma^\star = \arg\min_{\gamma \in \Pi(a, b)} \langle \gamma, C \rangle - \varepsilon H(\gamma)
 + \eta \sum_j \sum_c \lVert \gamma(\mathcal{I}_c, j) \rVert_p^{1/2}$$

(Courty et al., TPAMI 2017; POT's `SinkhornLpl1Transport`). **When to prefer it:** over the plain
mapping whenever source labels are at hand, which in this setting is always.
"""

    def transport(self) -> ot.da.BaseTransport:
        hp = self.hparams
        return ot.da.SinkhornLpl1Transport(
            reg_e=hp.reg_e, reg_cl=hp.reg_cl, norm="max", max_iter=hp.max_iter, out_of_sample_map="ferradans"
        )
