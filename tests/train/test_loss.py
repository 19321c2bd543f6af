"""The StyleGAN2 loss phases on tiny networks: finite gradients, the R1 and path-length formulas, style mixing,
and agreement of the fast training ops with NVlabs' exact op order."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from model import fast
from model.networks import Discriminator, Generator
from train.augment import AugmentPipe
from train.loss import PHASES, StyleGAN2Loss

RES = 16


def tiny_nets(seed: int = 0, c_dim: int = 0) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    G = Generator(z_dim=16, c_dim=c_dim, w_dim=16, img_resolution=RES, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=128, channel_max=16))
    D = Discriminator(c_dim=c_dim, img_resolution=RES, img_channels=3, channel_base=128, channel_max=16)
    return G.train().requires_grad_(False), D.train().requires_grad_(False)


def batch(n: int = 4, c_dim: int = 0, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    real = torch.rand([n, 3, RES, RES], generator=gen) * 2 - 1
    z = torch.randn([n, 16], generator=gen)
    c = torch.nn.functional.one_hot(torch.arange(n) % max(c_dim, 1), max(c_dim, 1)).float()[:, :c_dim]
    return real, c, z, c


def dtypes(precision: str):
    if precision == "exact":
        return {}
    return dict(main_dtype=fast.DTYPES[precision], reg_dtype=torch.float32)


@pytest.mark.parametrize("precision", ["exact", "fp32", "bf16"])
def test_every_phase_gives_finite_nonzero_gradients_through_the_augment_pipe(precision):
    G, D = tiny_nets(c_dim=2)
    pipe = AugmentPipe.from_preset("bgc")
    pipe.p.fill_(0.5)
    reported = {}
    loss = StyleGAN2Loss(G, D, pipe, r1_gamma=1.0, report=lambda k, v: reported.setdefault(k, v),
                         force_fp32=precision == "exact", **dtypes(precision))
    real, real_c, z, c = batch(c_dim=2)
    for phase in PHASES:
        module = G if phase.startswith("G") else D
        module.requires_grad_(True)
        loss.accumulate_gradients(phase, real, real_c, z, c, gain=1.0)
        module.requires_grad_(False)
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads, phase
        assert all(torch.isfinite(g).all() for g in grads), phase
        assert sum(float(g.abs().sum()) for g in grads) > 0, phase
        for p in module.parameters():
            p.grad = None
    for name in ("Loss/G/loss", "Loss/D/loss", "Loss/r1_penalty", "Loss/pl_penalty", "Loss/signs/real"):
        assert torch.isfinite(reported[name]).all(), name


class LinearD(nn.Module):
    """D(x) = <W, x>: its input gradient is W for every sample, so R1 = gamma/2 * |W|^2 exactly."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn([1, 3, RES, RES]))

    def forward(self, img, c, force_fp32=False, fast_dtype=None):
        return (img * self.W).sum(dim=[1, 2, 3]).unsqueeze(1)


def test_r1_penalty_is_the_squared_input_gradient_norm():
    G, _ = tiny_nets()
    D = LinearD()
    reported = {}
    gamma = 3.0
    loss = StyleGAN2Loss(G, D, None, r1_gamma=gamma, report=lambda k, v: reported.setdefault(k, v.detach()))
    real, c, z, _ = batch()
    loss.accumulate_gradients("Dreg", real, c, z, c, gain=16.0)
    expected = D.W.detach().square().sum()
    assert torch.allclose(reported["Loss/r1_penalty"], expected.expand(4), rtol=1e-5)
    # d/dW of gain * mean(gamma/2 * |W|^2) = gain * gamma * W (the lazy-regularisation gain multiplies in).
    assert torch.allclose(D.W.grad, 16.0 * gamma * D.W.detach(), rtol=1e-5)


def test_path_length_penalty_follows_the_running_mean_formula():
    G, D = tiny_nets()
    reported = {}
    loss = StyleGAN2Loss(G, D, None, style_mixing_prob=0.0, pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2,
                         report=lambda k, v: reported.setdefault(k, v.detach()))
    loss.pl_mean.fill_(0.5)
    real, c, z, _ = batch(n=8)
    G.requires_grad_(True)
    torch.manual_seed(7)
    loss.accumulate_gradients("Greg", real, c, z, c)
    # The same pass by hand, with the same random numbers: noise inputs first, then the projection noise.
    torch.manual_seed(7)
    with torch.enable_grad():
        ws = G.mapping(z[:4], c[:4]).detach().requires_grad_(True)
        img = G.synthesis(ws)
        y = torch.randn_like(img) / math.sqrt(RES * RES)
        (g,) = torch.autograd.grad((img * y).sum(), ws)
    lengths = g.square().sum(2).mean(1).sqrt()
    running = 0.5 + 0.01 * (lengths.mean() - 0.5)
    assert torch.allclose(reported["Loss/pl_penalty"], (lengths - running).square(), rtol=1e-4, atol=1e-7)
    assert torch.allclose(reported["Loss/G/reg"], 2.0 * (lengths - running).square(), rtol=1e-4, atol=1e-7)
    loss.finish_phase()
    assert torch.allclose(loss.pl_mean, running, rtol=1e-5)


def test_style_mixing_swaps_the_ws_after_a_cutoff():
    G, D = tiny_nets()
    seen = []
    synthesis = G.synthesis.forward
    G.synthesis.forward = lambda ws, **kw: (seen.append(ws.detach()), synthesis(ws, **kw))[1]
    _, c, z, _ = batch()
    for prob, mixed in ((0.0, False), (1.0, True)):
        seen.clear()
        loss = StyleGAN2Loss(G, D, None, style_mixing_prob=prob)
        for seed in range(5):
            torch.manual_seed(seed)
            loss.run_G(z, c)
        for ws in seen:
            differs = [not torch.equal(ws[:, 0], ws[:, i]) for i in range(G.num_ws)]
            assert any(differs) == mixed
            if mixed:  # one cutoff: every index from it on comes from the second latent
                cutoff = differs.index(True)
                assert 1 <= cutoff < G.num_ws and all(differs[cutoff:])
                assert all(torch.equal(ws[:, cutoff], ws[:, i]) for i in range(cutoff, G.num_ws))


def test_w_avg_moves_once_per_phase_toward_the_batch_mean():
    G, D = tiny_nets()
    loss = StyleGAN2Loss(G, D, None, style_mixing_prob=0.0)
    _, c, z, _ = batch()
    before = G.mapping.w_avg.clone()
    loss.run_G(z[:2], c[:2])
    loss.run_G(z[2:], c[2:])
    assert torch.equal(G.mapping.w_avg, before)  # nothing moves until the phase ends
    loss.finish_phase()
    w = G.mapping(z, c)[:, 0]
    expected = before * 0.995 + w.mean(dim=0) * 0.005
    assert torch.allclose(G.mapping.w_avg, expected, atol=1e-6)


@pytest.mark.parametrize("phase", ["Gmain", "Dmain", "Dreg", "Greg"])
def test_fast_fp32_ops_give_the_gradients_of_the_exact_path(phase):
    grads = {}
    for precision in ("exact", "fp32"):
        G, D = tiny_nets(seed=3)
        loss = StyleGAN2Loss(G, D, None, r1_gamma=1.0, force_fp32=precision == "exact", **dtypes(precision))
        real, c, z, _ = batch()
        module = G if phase.startswith("G") else D
        module.requires_grad_(True)
        torch.manual_seed(11)
        loss.accumulate_gradients(phase, real, c, z, c)
        grads[precision] = torch.cat([p.grad.flatten() for p in module.parameters() if p.grad is not None])
    a, b = grads["exact"], grads["fp32"]
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-5 * float(a.abs().max()))
