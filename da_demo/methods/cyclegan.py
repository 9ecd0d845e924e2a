"""CycleGAN pixel-level adaptation (Zhu et al. 2017; the lecture's recipe).

Phase 1 (the first ``gan_fraction`` of training): two generators, ``G: source → target`` and ``F: target → source``, and
one least-squares discriminator per domain learn to translate styles without paired images:

    L_G = (D_T(G(s)) − 1)² + (D_S(F(t)) − 1)²
          + 10 · (|F(G(s)) − s| + |G(F(t)) − t|)      cycle consistency
          + 3 · (|G(t) − t| + |F(s) − s|)             identity: leave in-style images alone

Phase 2 (the remaining steps): the classifier is fine-tuned on source images translated into the
target style, ``CE(classifier(G(s)), y_s)``: it learns the target's look with the source labels,
and keeps classifying the source images themselves, ``+ CE(classifier(s), y_s)``, so it does not
forget ordinary handwriting (fine-tuned on translations alone it lost 10 points on drawn digits).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import cycle_consistency_loss, identity_loss, least_squares_gan_loss
from ..models.cyclegan import Generator, PatchDiscriminator
from . import register
from .base import Hyperparameters, Method, SourceBatch
from .settings import setting


@dataclass
class CycleGANHyperparameters(Hyperparameters):
    steps: int = 1500
    gan_fraction: float = setting(
        0.6,
        0.0,
        1.0,
        label="Share of steps training the GAN",
        help="the rest fine-tunes the classifier on translated source images",
    )
    batch_size: int = 32
    lr: float = 2e-4  # generators and discriminators (Adam, β1 = 0.5)
    beta1: float = setting(0.5, 0.0, 0.999, label="Adam β1 (GAN)")
    cycle_weight: float = setting(10.0, 0.0, 1000.0, label="Cycle-consistency weight")
    identity_weight: float = setting(3.0, 0.0, 1000.0, label="Identity weight")
    classifier_lr: float = setting(1e-4, 1e-6, 1.0, label="Classifier learning rate")
    generator_width: int = setting(16, 4, 128, label="Generator width (channels)")
    residual_blocks: int = setting(2, 0, 9, label="Generator residual blocks")


@register
class CycleGAN(Method):
    name = "cyclegan"
    title = "CycleGAN (pixel-level)"
    order = 10
    hyperparameters_class = CycleGANHyperparameters
    alignment_parameter = "cycle_weight"
    sweep_grid = {"cycle_weight": (5.0, 10.0), "classifier_lr": (1e-4, 3e-4)}
    late_metrics = ("class_loss",)
    learn = r"""
Adapt the **pixels** instead of the features. Two generators learn to restyle images, $G$: source → target
and $F$: target → source, each judged by a discriminator of its output domain. Without paired images,
the **cycle-consistency** term keeps the content: translating and coming back must give the input again.

$$\mathcal{L} = \mathcal{L}_{GAN}(G, D_T) + \mathcal{L}_{GAN}(F, D_S)
 + 10\,\big(\lVert F(G(s)) - s\rVert_1 + \lVert G(F(t)) - t\rVert_1\big)
 + 3\,\big(\lVert G(t) - t\rVert_1 + \lVert F(s) - s\rVert_1\big)$$

Then the classifier is trained on $G(s)$ with the source labels: labeled images that look like the target
(and on the source images themselves, so it still reads ordinary handwriting).
**When to prefer it:** the shift is about appearance (colour, texture, stroke style) and you want to *see*
the adaptation. It struggles with geometric changes such as digit size, and it is the slowest to train.
"""

    def __init__(self, classifier, hparams: CycleGANHyperparameters) -> None:
        super().__init__(classifier, hparams)
        channels = classifier.in_channels
        self.source_to_target = Generator(channels, hparams.generator_width, hparams.residual_blocks)
        self.target_to_source = Generator(channels, hparams.generator_width, hparams.residual_blocks)
        self.target_critic = PatchDiscriminator(channels)
        self.source_critic = PatchDiscriminator(channels)
        betas = (hparams.beta1, 0.999)
        self.generator_optimizer = torch.optim.Adam(
            [*self.source_to_target.parameters(), *self.target_to_source.parameters()],
            lr=hparams.lr,
            betas=betas,
        )
        self.critic_optimizer = torch.optim.Adam(
            [*self.target_critic.parameters(), *self.source_critic.parameters()], lr=hparams.lr, betas=betas
        )
        self.classifier_optimizer = torch.optim.Adam(classifier.parameters(), lr=hparams.classifier_lr)

    def extra_state(self) -> dict[str, nn.Module]:
        return {"source_to_target": self.source_to_target, "target_to_source": self.target_to_source}

    def training_step(self, source: SourceBatch, target_images: torch.Tensor, progress: float) -> dict:
        if progress < self.hparams.gan_fraction:
            return self._gan_step(source.images, target_images)
        return self._classifier_step(source)

    def _gan_step(self, source_images: torch.Tensor, target_images: torch.Tensor) -> dict:
        hp = self.hparams
        fake_target = self.source_to_target(source_images)
        fake_source = self.target_to_source(target_images)
        adversarial = least_squares_gan_loss(
            self.target_critic(fake_target), real=True
        ) + least_squares_gan_loss(self.source_critic(fake_source), real=True)
        cycle = cycle_consistency_loss(
            source_images,
            self.target_to_source(fake_target),
            target_images,
            self.source_to_target(fake_source),
        )
        identity = identity_loss(
            source_images,
            self.target_to_source(source_images),
            target_images,
            self.source_to_target(target_images),
        )
        generator_loss = adversarial + hp.cycle_weight * cycle + hp.identity_weight * identity
        self.generator_optimizer.zero_grad(set_to_none=True)
        generator_loss.backward()
        self.generator_optimizer.step()

        critic_loss = 0.5 * (
            least_squares_gan_loss(self.target_critic(target_images), real=True)
            + least_squares_gan_loss(self.target_critic(fake_target.detach()), real=False)
            + least_squares_gan_loss(self.source_critic(source_images), real=True)
            + least_squares_gan_loss(self.source_critic(fake_source.detach()), real=False)
        )
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        return {
            "loss": generator_loss.detach(),
            "adversarial_loss": adversarial.detach(),
            "cycle_loss": cycle.detach(),
            "identity_loss": identity.detach(),
            "critic_loss": critic_loss.detach(),
        }

    def _classifier_step(self, source: SourceBatch) -> dict:
        with torch.no_grad():
            translated = self.source_to_target(source.images)
        logits, _ = self.classifier(torch.cat([translated, source.images]))
        count = source.images.shape[0]
        translated_loss = F.cross_entropy(logits[:count].float(), source.labels)
        source_loss = F.cross_entropy(logits[count:].float(), source.labels)
        class_loss = translated_loss + source_loss
        self.classifier_optimizer.zero_grad(set_to_none=True)
        class_loss.backward()
        self.classifier_optimizer.step()
        return {
            "loss": class_loss.detach(),
            "class_loss": translated_loss.detach(),
            "source_loss": source_loss.detach(),
        }


def load_generators(
    extras: dict[str, dict[str, torch.Tensor]], hyperparameters: dict, channels: int
) -> tuple[Generator, Generator]:
    """Rebuild ``(source_to_target, target_to_source)`` from a CycleGAN checkpoint's extras (eval mode)."""
    generators = []
    for name in ("source_to_target", "target_to_source"):
        generator = Generator(
            channels, hyperparameters["generator_width"], hyperparameters["residual_blocks"]
        )
        generator.load_state_dict(extras[name])
        generators.append(generator.eval())
    return generators[0], generators[1]


@torch.no_grad()
def translate(
    forward: Generator, backward: Generator, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One domain to the other and back: ``images (B, C, H, W)`` or ``(C, H, W)`` in [0, 1] →
    ``(translated, reconstructed)`` of the same shape and range."""
    single = images.dim() == 3
    batch = images.unsqueeze(0) if single else images
    translated = forward(batch)
    reconstructed = backward(translated)
    return (translated[0], reconstructed[0]) if single else (translated, reconstructed)
