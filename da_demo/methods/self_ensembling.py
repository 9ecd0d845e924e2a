"""Self-ensembling (French et al., ICLR 2018): a mean teacher for domain adaptation.

A *student* classifies labeled source images and learns to agree with a *teacher*, the
exponential moving average of its own weights, on two differently perturbed views of each target
image. Only target images the teacher is confident about count, and a class-balance term keeps
the student from predicting one class everywhere:

    L = CE(student(s), y) + w · mean_{t: max teacher(t') ≥ τ} ‖student(t) − teacher(t')‖² + w_b · BCE(mean student(t), 1/K)
    teacher ← α · teacher + (1 − α) · student

The teacher is the model that is evaluated, saved and used in the app (as in the paper). With
``separate_batches`` the source and target batches go through the student one at a time, so batch
norm normalises each domain by its own statistics; with ``teacher_target_only`` the teacher sees
target images only, so its batch-norm statistics (kept for evaluation) are the target's. The
paper's reference code does both and trains from freshly initialised weights (``warm_start`` off).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.augment import augment_digits
from . import register
from .base import Hyperparameters, Method, SourceBatch
from .settings import setting, warm_start_setting


@dataclass
class SelfEnsemblingHyperparameters(Hyperparameters):
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-4
    lr_anneal: float = 0.0
    consistency_weight: float = setting(3.0, 0.0, 100.0, label="Teacher-agreement weight")
    confidence_threshold: float = setting(
        0.968,
        0.0,
        1.0,
        label="Teacher confidence threshold",
        help="target images the teacher is less sure about are left out",
    )
    class_balance_weight: float = setting(0.01, 0.0, 10.0, label="Class-balance weight")
    teacher_decay: float = setting(0.99, 0.0, 0.9999, label="Teacher averaging decay α")
    separate_batches: bool = setting(
        False,
        label="Source and target batches through the network separately",
        help="each domain's batch gets batch-norm statistics of its own, as in the paper's code",
    )
    teacher_target_only: bool = setting(
        False,
        label="Teacher sees target images only",
        help="its batch-norm statistics, kept for predicting, become the target's (the paper's code)",
    )
    warm_start: bool = warm_start_setting()


@register
class SelfEnsembling(Method):
    name = "self_ensembling"
    title = "Self-ensembling (mean teacher)"
    order = 90
    hyperparameters_class = SelfEnsemblingHyperparameters
    alignment_parameter = "consistency_weight"
    sweep_grid = {"consistency_weight": (1.0, 3.0), "confidence_threshold": (0.9, 0.968)}
    learn = r"""
A **student** learns the source labels and, on target images, to agree with a **teacher** whose
weights are the running average of the student's. The two see differently perturbed copies of each
target image (shifted, rescaled, re-lit, noisy); only images the teacher is confident about count,
and a class-balance term stops everything collapsing into one class:

$$\mathcal{L} = \mathrm{CE}(y^S, s(x^S)) + w\,\big\lVert s(\tilde x^T) - t(\hat x^T)\big\rVert^2_{\,\max t \ge \tau}
 + w_b\,\mathrm{BCE}\big(\overline{s(\tilde x^T)}, \tfrac{1}{K}\big),
 \qquad \theta_t \leftarrow \alpha\,\theta_t + (1-\alpha)\,\theta_s$$

The averaged teacher is steadier than any single student, and its confident answers become the
target's training signal. **When to prefer it:** small, similar-looking domains (digits), where it
is among the very best; it needs good augmentations.
"""

    def __init__(self, classifier, hparams: SelfEnsemblingHyperparameters) -> None:
        super().__init__(classifier, hparams)
        # ``classifier`` is the teacher (evaluated and saved); the student is trained by gradient
        for parameter in classifier.parameters():
            parameter.requires_grad_(False)
        self.student = copy.deepcopy(classifier)
        for parameter in self.student.parameters():
            parameter.requires_grad_(True)
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=hparams.lr)
        self.generator = torch.Generator().manual_seed(torch.initial_seed() % 2**31)

    @torch.no_grad()
    def _update_teacher(self) -> None:
        """Average the weights only: the teacher keeps batch-norm statistics of its own (see
        ``training_step``), which match its averaged weights; the student's would not."""
        decay = self.hparams.teacher_decay
        for teacher, student in zip(self.classifier.parameters(), self.student.parameters()):
            teacher.mul_(decay).add_(student.detach(), alpha=1 - decay)

    def _logits(self, network, source_images: torch.Tensor, target_images: torch.Tensor) -> tuple:
        """``(source logits, target logits)``: one pass over both batches, or one per domain."""
        if self.hparams.separate_batches:
            return network(source_images)[0], network(target_images)[0]
        logits = network(torch.cat([source_images, target_images]))[0]
        return logits[: len(source_images)], logits[len(source_images) :]

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        hp = self.hparams
        student_view = augment_digits(target_images, self.generator)
        teacher_view = augment_digits(target_images, self.generator)
        with torch.no_grad():
            # in training mode: the teacher's batch-norm statistics stay those of its own weights,
            # gathered on the student's domains or, with ``teacher_target_only``, on the target's
            if hp.teacher_target_only:
                teacher_logits = self.classifier(teacher_view)[0]
            else:
                _, teacher_logits = self._logits(self.classifier, source.images, teacher_view)
            teacher_probabilities = F.softmax(teacher_logits.float(), 1)
        source_logits, target_logits = self._logits(self.student, source.images, student_view)
        class_loss = F.cross_entropy(source_logits.float(), source.labels)
        student_probabilities = F.softmax(target_logits.float(), dim=1)
        confident = (teacher_probabilities.max(1).values >= hp.confidence_threshold).float()
        squared = ((student_probabilities - teacher_probabilities) ** 2).sum(1)
        consistency = (squared * confident).mean()
        mean_prediction = student_probabilities.mean(0)
        uniform = torch.full_like(mean_prediction, 1.0 / mean_prediction.numel())
        balance = F.binary_cross_entropy(mean_prediction.clamp(1e-6, 1 - 1e-6), uniform)
        loss = class_loss + hp.consistency_weight * consistency + hp.class_balance_weight * balance
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._update_teacher()
        return {
            "loss": loss.detach(),
            "class_loss": class_loss.detach(),
            "consistency_loss": consistency.detach(),
            "class_balance_loss": balance.detach(),
            "confident_fraction": confident.mean().detach(),
        }
