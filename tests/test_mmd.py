import torch
import torch.nn.functional as F

from da_demo.losses import lmmd_loss, mmd_loss


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_mean_shift():
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(300, 8, generator=generator)
    target = torch.randn(300, 8, generator=generator)
    same = mmd_loss(source, target).item()
    shifts = [mmd_loss(source, target + shift).item() for shift in (0.25, 0.5, 1.0, 2.0)]
    assert abs(same) < 0.01
    assert shifts[0] > 5 * abs(same)
    assert all(later > earlier for earlier, later in zip(shifts, shifts[1:]))


def class_clusters(labels: torch.Tensor, centres: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return centres[labels] + 0.5 * torch.randn(len(labels), centres.shape[1], generator=generator)


def test_lmmd_is_near_zero_when_classes_match_even_if_proportions_differ():
    centres = 3 * torch.randn(10, 16, generator=torch.Generator().manual_seed(1))
    source_labels = torch.arange(300) % 10  # balanced
    target_labels = torch.cat([torch.zeros(200, dtype=torch.long), torch.arange(100) % 10])  # 2/3 zeros
    source = class_clusters(source_labels, centres, 2)
    target = class_clusters(target_labels, centres, 3)
    target_probabilities = F.one_hot(target_labels, 10).float()
    matched = lmmd_loss(source, target, source_labels, target_probabilities).item()
    assert abs(matched) < 0.02
    assert mmd_loss(source, target).item() > 20 * abs(matched)  # plain MMD sees the proportions
    shifted = lmmd_loss(source, target + 1.0, source_labels, target_probabilities).item()
    assert shifted > 20 * abs(matched)


def test_lmmd_sees_a_class_wise_mismatch_that_plain_mmd_misses():
    centres = 3 * torch.randn(10, 16, generator=torch.Generator().manual_seed(4))
    labels = torch.arange(400) % 10
    source = class_clusters(labels, centres, 5)
    target = class_clusters(labels, centres, 6)
    swapped = (labels + 1) % 10  # the target's class c sits where the source's class c+1 sits
    target_probabilities = F.one_hot(swapped, 10).float()
    assert abs(mmd_loss(source, target).item()) < 0.02
    assert lmmd_loss(source, target, labels, target_probabilities).item() > 0.5
