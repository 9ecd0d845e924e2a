import pytest
import torch

from da_demo.losses import cycle_consistency_loss, identity_loss
from da_demo.methods.cyclegan import translate
from da_demo.models.cyclegan import Generator, PatchDiscriminator


def test_cycle_and_identity_losses_of_identity_generators_are_zero():
    source, target = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    identity = torch.nn.Identity()
    assert (
        cycle_consistency_loss(source, identity(identity(source)), target, identity(identity(target))).item()
        == 0.0
    )
    assert identity_loss(source, identity(source), target, identity(target)).item() == 0.0
    brighter = lambda images: (images + 0.1).clamp(0, 1)  # noqa: E731
    assert cycle_consistency_loss(source, brighter(source), target, target).item() > 0.0


@pytest.mark.parametrize("channels", [1, 3])
def test_translation_keeps_shape_and_value_range(channels):
    torch.manual_seed(0)
    forward, backward = (
        Generator(channels, width=8, residual_blocks=1).eval(),
        Generator(channels, 8, 1).eval(),
    )
    images = torch.rand(5, channels, 28, 28)
    translated, reconstructed = translate(forward, backward, images)
    assert translated.shape == reconstructed.shape == images.shape
    assert 0.0 <= translated.min() and translated.max() <= 1.0
    single_translated, single_reconstructed = translate(forward, backward, images[0])
    assert single_translated.shape == (channels, 28, 28) and single_reconstructed.shape == (channels, 28, 28)
    assert PatchDiscriminator(channels)(images).shape == (5, 1, 7, 7)
