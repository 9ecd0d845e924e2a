import torch
import torch.nn.functional as F

from da_demo.losses import confident_pseudo_labels, jsd_mi_bound


def test_pseudo_labels_respect_the_threshold():
    probabilities = torch.tensor(
        [[0.95, 0.05, 0.0], [0.89, 0.11, 0.0], [0.0, 0.9, 0.1], [0.4, 0.3, 0.3], [0.02, 0.02, 0.96]]
    )
    indices, labels = confident_pseudo_labels(probabilities.clamp(min=1e-9).log(), threshold=0.9)
    assert indices.tolist() == [0, 2, 4]  # 0.89 and 0.4 are left out; 0.9 itself is kept
    assert labels.tolist() == [0, 1, 2]
    random_logits = torch.randn(1000, 10) * 3
    indices, _ = confident_pseudo_labels(random_logits, 0.9)
    assert (F.softmax(random_logits[indices], 1).max(1).values >= 0.9).all()


def test_mi_bound_is_higher_for_matched_pairs_than_for_shuffled_ones():
    generator = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(10, 32, generator=generator), dim=1)
    labels = torch.arange(200) % 10
    source = centres[labels] + 0.1 * torch.randn(200, 32, generator=generator)
    target = centres[labels] + 0.1 * torch.randn(200, 32, generator=generator)
    scores = 5 * source @ target.T  # a critic that rewards aligned features
    matched = jsd_mi_bound(scores, labels.unsqueeze(1) == labels.unsqueeze(0))
    shuffled_labels = labels[torch.randperm(200, generator=generator)]
    shuffled = jsd_mi_bound(scores, labels.unsqueeze(1) == shuffled_labels.unsqueeze(0))
    assert matched > shuffled + 1.0
