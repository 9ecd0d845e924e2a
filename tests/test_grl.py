import math

import torch

from da_demo.models import GradientReversal, grl_lambda, reverse_gradient


def test_reverse_gradient_is_identity_forward_and_negates_scaled_gradient_backward():
    inputs = torch.randn(4, 3, requires_grad=True)
    weights = torch.randn(4, 3)
    outputs = reverse_gradient(inputs, 0.25)
    assert torch.equal(outputs, inputs)
    (outputs * weights).sum().backward()
    assert torch.allclose(inputs.grad, -0.25 * weights)


def test_layer_uses_its_current_scale():
    layer = GradientReversal()
    inputs = torch.ones(2, requires_grad=True)
    layer.scale = 3.0
    layer(inputs).sum().backward()
    assert torch.allclose(inputs.grad, torch.full((2,), -3.0))


def test_lambda_schedule_starts_at_zero_rises_and_tends_to_its_maximum():
    values = [grl_lambda(p / 10, max_value=0.5) for p in range(11)]
    assert values[0] == 0.0
    assert all(later > earlier for earlier, later in zip(values, values[1:]))
    assert math.isclose(values[-1], 0.5 * (2 / (1 + math.exp(-10)) - 1))
    assert grl_lambda(5.0) == grl_lambda(1.0)  # progress is clipped to [0, 1]
