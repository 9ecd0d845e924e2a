import numpy as np

from da_demo.engine.alignment import domain_probe_accuracy, mmd, sinkhorn_distance, transport_view


def clouds(shift: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, 8)) * 4
    labels = np.arange(300) % 10
    source = centres[labels] + rng.normal(size=(300, 8))
    target = centres[labels] + rng.normal(size=(300, 8)) + shift
    return source.astype(np.float32), labels, target.astype(np.float32), labels.copy()


def test_alignment_figures_tell_aligned_from_shifted_clouds():
    aligned_source, _, aligned_target, _ = clouds(0.0)
    shifted_source, _, shifted_target, _ = clouds(3.0)
    assert domain_probe_accuracy(aligned_source, aligned_target) < 0.65
    assert domain_probe_accuracy(shifted_source, shifted_target) > 0.9
    assert mmd(aligned_source, aligned_target) < 0.2 * mmd(shifted_source, shifted_target)
    assert sinkhorn_distance(aligned_source, aligned_target) < sinkhorn_distance(
        shifted_source, shifted_target
    )


def test_transport_view_is_sorted_and_scores_the_plan():
    source, source_labels, target, target_labels = clouds(3.0)
    view = transport_view(source, source_labels, target, target_labels)
    assert np.all(np.diff(view.source_labels) >= 0) and np.all(np.diff(view.target_labels) >= 0)
    assert np.isclose(view.plan.sum(), 1.0, atol=1e-6)
    assert view.same_class_mass > 0.8  # a shift keeps the classes' arrangement: OT follows it
    assert view.knn_after > view.knn_before  # mapped source features classify the target better
