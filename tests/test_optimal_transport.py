import numpy as np
import ot
import torch

from da_demo.losses import exact_plan, jdot_cost, unbalanced_plan


def test_exact_plan_marginals_equal_the_weights():
    generator = torch.Generator().manual_seed(0)
    cost = torch.rand(7, 5, generator=generator)
    a = torch.tensor([0.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1])
    b = torch.tensor([0.3, 0.1, 0.2, 0.2, 0.2])
    plan = exact_plan(cost, a, b)
    assert torch.allclose(plan.sum(1), a, atol=1e-6) and torch.allclose(plan.sum(0), b, atol=1e-6)
    uniform = exact_plan(cost)
    assert torch.allclose(uniform.sum(1), torch.full((7,), 1 / 7), atol=1e-6)
    assert (uniform >= 0).all()


def test_an_unbalanced_plan_leaves_behind_mass_that_has_nowhere_cheap_to_go():
    # two source classes in equal shares, the target all of the first: a balanced plan must send
    # half the mass to the expensive pairs, an unbalanced one (JUMBOT) mostly keeps it back
    cost = torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    balanced = exact_plan(cost)
    assert torch.isclose(balanced[2:].sum(), torch.tensor(0.5))
    plan = unbalanced_plan(cost, epsilon=0.1, marginal_penalty=1.0)
    assert (plan >= 0).all() and plan[2:].sum() < 0.05 * plan[:2].sum()
    # a heavy marginal penalty brings back the balanced plan's shares
    strict = unbalanced_plan(cost, epsilon=0.1, marginal_penalty=100.0)
    assert torch.allclose(strict.sum(1), torch.full((4,), 0.25), atol=0.02)


def sinkhorn(reg_e=1e-2, max_iter=1000):
    """Configured as the OT mapping method configures it."""
    return ot.da.SinkhornTransport(
        reg_e=reg_e, norm="max", method="sinkhorn", max_iter=max_iter, out_of_sample_map="ferradans"
    )


def test_sinkhorn_plan_marginals_equal_the_weights():
    rng = np.random.default_rng(0)
    source, target = rng.normal(size=(60, 4)), rng.normal(loc=2.0, size=(40, 4))
    transport = sinkhorn(max_iter=5000).fit(Xs=source, Xt=target)
    assert np.allclose(transport.coupling_.sum(1), 1 / 60, atol=1e-6)
    assert np.allclose(transport.coupling_.sum(0), 1 / 40, atol=1e-4)


def test_barycentric_map_of_a_cloud_onto_itself_is_near_identity():
    rng = np.random.default_rng(1)
    cloud = rng.normal(size=(200, 3)) * 3
    transport = sinkhorn().fit(Xs=cloud, Xt=cloud)
    mapped = transport.transform(Xs=cloud)
    # entropic blur pulls points slightly inwards, but each stays closest to where it started
    assert np.abs(mapped - cloud).mean() < 0.15 * np.abs(cloud).mean()
    assert (ot.dist(mapped, cloud).argmin(axis=1) == np.arange(len(cloud))).mean() > 0.8


def test_mapped_source_lands_nearer_the_target():
    rng = np.random.default_rng(2)
    source = rng.normal(size=(150, 5))
    target = rng.normal(size=(150, 5)) * 0.5 + 4.0
    transport = sinkhorn().fit(Xs=source, Xt=target)
    mapped = transport.transform(Xs=source)
    out_of_sample = transport.transform(Xs=rng.normal(size=(50, 5)))  # through nearest fitted neighbours

    def mean_nearest_distance(points):
        return ot.dist(points, target, metric="euclidean").min(axis=1).mean()

    assert mean_nearest_distance(mapped) < 0.5 * mean_nearest_distance(source)
    assert np.linalg.norm(out_of_sample.mean(0) - target.mean(0)) < 1.0


def test_jdot_cost_combines_feature_distance_and_label_loss():
    source = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    target = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1])
    target_logits = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
    cost = jdot_cost(source, target, labels, target_logits, feature_weight=1.0, label_weight=0.0)
    assert torch.allclose(cost, torch.tensor([[0.0, 4.0], [1.0, 5.0]]))
    label_only = jdot_cost(source, target, labels, target_logits, feature_weight=0.0, label_weight=1.0)
    expected = -torch.log(torch.tensor([[0.9, 0.2], [0.1, 0.8]]))
    assert torch.allclose(label_only, expected, atol=1e-6)


def test_deepjdot_with_relative_distances_is_blind_to_the_features_scale():
    from da_demo.methods import get_method
    from da_demo.methods.base import SourceBatch
    from da_demo.models import build_classifier

    method_class = get_method("deepjdot")
    torch.manual_seed(0)
    features, logits = torch.randn(16, 128).relu(), torch.randn(16, 10)
    batch = SourceBatch(torch.zeros(8, 1, 28, 28), torch.arange(8) % 10)

    def transport(relative: bool, scale: float) -> float:
        hparams = method_class.hyperparameters_class(relative_distances=relative, label_weight=0.0)
        method = method_class(build_classifier("lean", 1), hparams)
        loss, _ = method.alignment(batch, logits, scale * features, 0.0)
        return float(loss)

    # unbounded ReLU features 10× larger: 100× the alignment term, unless distances are relative
    assert np.isclose(transport(False, 10.0), 100 * transport(False, 1.0), rtol=1e-4)
    assert np.isclose(transport(True, 10.0), transport(True, 1.0), rtol=1e-4)
    # relative to their first batch's mean, the distances of that batch average 1: the term is about α
    assert 0 < transport(True, 1.0) < method_class.hyperparameters_class().feature_weight


def test_deepjdot_with_a_bounded_embedding_trains_a_sigmoid_variant_from_its_own_start_model():
    from da_demo.engine.spec import RunSpec
    from da_demo.models import build_classifier

    spec = RunSpec.resolve("mnist-usps", "deepjdot", {"bounded_embedding": True, "unbalanced": True})
    assert (spec.backbone, spec.start.backbone) == ("lean_sigmoid", "lean_sigmoid")
    assert RunSpec.resolve("mnist-usps", "deepjdot").backbone == "lean"
    # asked for the variant by name (as a stored model's metadata does), the name stays the same
    named = RunSpec.resolve("mnist-usps", "deepjdot", {"bounded_embedding": True}, backbone="lean_sigmoid")
    assert named.backbone == "lean_sigmoid"
    both = RunSpec.resolve("mnist-usps", "deepjdot", {"bounded_embedding": True, "standardised_input": True})
    assert (both.backbone, both.start.backbone, both.base_backbone) == ("lean_in_sigmoid", "lean_in_sigmoid", "lean")
    _, features = build_classifier("lean_sigmoid", 1)(torch.randn(4, 1, 28, 28) * 5)
    assert features.shape == (4, 128) and ((features > 0) & (features < 1)).all()
