"""Adam's state in the training-state file: what is left out, and that a resume from it steps identically."""

from __future__ import annotations

import pytest
import torch

from train.state import optimizer_from_state, optimizer_to_state


def adam(params, beta1: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=0.01, betas=(beta1, 0.99), eps=1e-8)


def step(opt: torch.optim.Adam, params: list[torch.Tensor], seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt.zero_grad()
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 10 ** float(torch.randint(-3, 3, [], generator=gen))
    opt.step()


@pytest.mark.parametrize("beta1", [0.0, 0.9])
def test_a_restored_adam_steps_bit_identically(beta1):
    torch.manual_seed(0)
    original = [torch.randn(5, 3), torch.randn(7)]
    copy = [p.clone() for p in original]
    opt = adam(original, beta1)
    for seed in range(3):
        step(opt, original, seed)
    tensors, scalars = optimizer_to_state("G_opt", opt)
    tensors = {k: t.clone() for k, t in tensors.items()}  # as read back from the file: no aliasing of opt's state
    assert any(k.endswith(".exp_avg") for k in tensors) == (beta1 != 0)  # beta1 = 0: the first moment is left out
    assert sum(k.endswith(".exp_avg_sq") for k in tensors) == 2
    with torch.no_grad():
        for p, q in zip(copy, original, strict=True):
            p.copy_(q)
    restored = adam(copy, beta1)
    optimizer_from_state("G_opt", restored, tensors, scalars)
    for seed in range(3, 6):
        step(opt, original, seed)
        step(restored, copy, seed)
        for p, q in zip(copy, original, strict=True):
            assert torch.equal(p, q)
