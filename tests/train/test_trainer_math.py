"""The trainer's maths against StyleGAN2-ADA (NVlabs training_loop.py / loss.py): the G_ema update with its ramp-up,
the non-finite gradient guard, the loss formulas on toy networks with closed-form gradients, fixed/no augmentation
and the ADA adjustment of p. Expected numbers are derived here by separate code, never by calling the trainer's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from train.config import TrainOptions, resolve
from train.distributed import Dist, average_gradients
from train.loss import StyleGAN2Loss
from train.trainer import Trainer


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets on a busy machine: one intra-op thread is ~50x faster than two contending ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_trainer(batch: int = 4, batch_gpu: int | None = None, **changes) -> Trainer:
    """A 16x16 trainer (a few thousand parameters per layer); `changes` override resolved TrainConfig fields."""
    aug = changes.pop("aug", "ada")
    p = changes.pop("p", None)
    opts = TrainOptions(data="d", outdir="o", batch=batch, batch_gpu=batch_gpu, cbase=128, cmax=16, map=1,
                        precision="fp32", aug=aug, p=p)
    cfg = resolve(opts, 16, 3, 0, "d", 16)
    for key, value in changes.items():
        setattr(cfg, key, value)
    return Trainer(cfg, np.zeros([16, 0], np.float32), torch.device("cpu"))


def reals(n: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, [n, 3, 16, 16], dtype=torch.uint8, generator=gen), torch.zeros([n, 0])


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


# ---------------------------------------------------------------------------------------------------------
# 1. G_ema


def ema_beta(cfg, cur_nimg: int) -> float:
    """NVlabs: ema_nimg = ema_kimg * 1000, ramped up to cur_nimg * ema_rampup; beta = 0.5 ** (batch / ema_nimg)."""
    ema_nimg = cfg.ema_kimg * 1000.0
    if cfg.ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * cfg.ema_rampup)
    return 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))


def assert_ema(trainer: Trainer, g_ema_before: list[torch.Tensor], beta: float, other_beta: float) -> None:
    for p_ema, p, before in zip(trainer.G_ema.parameters(), trainer.G.parameters(), g_ema_before, strict=True):
        expected = (1 - beta) * p.detach().double() + beta * before.double()
        assert torch.allclose(p_ema.double(), expected, rtol=1e-6, atol=1e-6)
    # The test tells the candidate betas apart: G moved far enough in this minibatch for them to differ.
    gap = max(float(((other_beta - beta) * (b.double() - p.detach().double())).abs().max())
              for p, b in zip(trainer.G.parameters(), g_ema_before, strict=True))
    assert gap > 1e-4
    for b_ema, b in zip(trainer.G_ema.buffers(), trainer.G.buffers(), strict=True):
        assert torch.equal(b_ema, b)  # buffers (w_avg, const noise) are copied, not averaged


def test_ema_ramp_up_uses_cur_nimg_before_the_increment():
    """NVlabs updates G_ema after the phases with cur_nimg not yet incremented: with ramp-up the first minibatch
    (cur_nimg 0) gives beta 0, i.e. G_ema = G; the second (cur_nimg = batch) gives 0.5 ** (batch / (batch * ramp))."""
    trainer = tiny_trainer(ema_kimg=10.0, ema_rampup=1.0)
    img, c = reals()
    w_avg_before = trainer.G.mapping.w_avg.clone()
    g_before = snapshot(trainer.G)
    trainer.step(img, c)
    assert ema_beta(trainer.cfg, 0) == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters(), strict=True))
    for p_ema, p in zip(trainer.G_ema.parameters(), trainer.G.parameters(), strict=True):
        assert torch.equal(p_ema, p)
    assert not torch.equal(trainer.G.mapping.w_avg, w_avg_before)
    assert torch.equal(trainer.G_ema.mapping.w_avg, trainer.G.mapping.w_avg)

    g_ema_before = snapshot(trainer.G_ema)
    trainer.step(*reals(seed=1))
    beta = ema_beta(trainer.cfg, 4)  # 0.5 ** (4 / 4)
    assert beta == pytest.approx(0.5)
    assert_ema(trainer, g_ema_before, beta, other_beta=ema_beta(trainer.cfg, 8))
    assert trainer.cur_nimg == 8


def test_ema_without_ramp_up_has_the_half_life_of_ema_kimg():
    """Without ramp-up (NVlabs when starting from a network) beta = 0.5 ** (batch / (ema_kimg * 1000)) from the
    first minibatch on."""
    trainer = tiny_trainer(ema_kimg=0.008, ema_rampup=None)
    g_ema_before = snapshot(trainer.G_ema)
    trainer.step(*reals())
    beta = ema_beta(trainer.cfg, 0)
    assert beta == pytest.approx(0.5 ** 0.5)
    assert_ema(trainer, g_ema_before, beta, other_beta=0.0)


# ---------------------------------------------------------------------------------------------------------
# 2. Non-finite gradients


def test_average_gradients_replaces_nan_and_inf_like_nvlabs():
    """NVlabs: nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5) before the optimiser step; finite values and
    parameters without a gradient are left alone."""
    a = nn.Parameter(torch.zeros(5))
    b = nn.Parameter(torch.zeros(2, 2))
    unused = nn.Parameter(torch.zeros(3))
    a.grad = torch.tensor([float("nan"), float("inf"), -float("inf"), 2.5, -1e-3])
    b.grad = torch.tensor([[1.0, float("nan")], [3e6, -float("inf")]])
    average_gradients([a, b, unused], Dist())
    assert a.grad.tolist() == [0.0, 1e5, -1e5, 2.5, pytest.approx(-1e-3)]
    assert b.grad.tolist() == [[1.0, 0.0], [3e6, -1e5]]
    assert unused.grad is None


def test_trainer_steps_see_sanitised_gradients_and_stay_finite():
    """Every phase's optimiser step sees the nan_to_num'd gradient (NaN/Inf injected after the backward), the
    lazy regularisers get gain = interval (NVlabs: Greg 4, Dreg 16) and G, D and G_ema stay finite."""
    trainer = tiny_trainer()
    poisoned: dict[str, tuple[nn.Parameter, torch.Tensor]] = {}
    gains: dict[str, float] = {}
    seen: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    accumulate = trainer.loss.accumulate_gradients

    def poisoning(phase, *args, gain):
        accumulate(phase, *args, gain=gain)
        gains[phase] = gain
        module = trainer.G if phase.startswith("G") else trainer.D
        param = next(p for p in module.parameters() if p.grad is not None and p.numel() >= 4)
        clean = param.grad.detach().clone()
        flat = param.grad.view(-1)
        flat[0], flat[1], flat[2] = float("nan"), float("inf"), -float("inf")
        poisoned[phase] = (param, clean)

    def record(opt, args, kwargs):
        for phase, (param, clean) in poisoned.items():
            if any(param is p for group in opt.param_groups for p in group["params"]):
                seen.append((phase, param.grad.detach().clone(), clean))
        poisoned.clear()

    trainer.loss.accumulate_gradients = poisoning
    for opt in {id(ph.opt): ph.opt for ph in trainer.phases}.values():
        opt.register_step_pre_hook(record)
    trainer.step(*reals())
    assert gains == {"Gmain": 1.0, "Greg": 4.0, "Dmain": 1.0, "Dreg": 16.0}
    assert [phase for phase, _, _ in seen] == ["Gmain", "Greg", "Dmain", "Dreg"]
    for phase, grad, clean in seen:
        flat, clean = grad.view(-1), clean.view(-1)
        assert flat[:3].tolist() == [0.0, 1e5, -1e5], phase
        assert torch.equal(flat[3:], clean[3:]), phase
    for net in trainer.networks().values():
        assert all(torch.isfinite(p).all() for p in net.parameters())


# ---------------------------------------------------------------------------------------------------------
# 3. Loss formulas on toy networks with closed-form derivatives

NUM_WS = 2


class ToyMapping(nn.Module):
    """ws[:, i] = a * z for every i."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, ))

    def forward(self, z, c, update_emas=False):
        return (self.a * z).unsqueeze(1).repeat(1, NUM_WS, 1)


class ToySynthesis(nn.Module):
    """img = s * sum_i ws[:, i] ** 2 as a [N, 1, 2, 2] image, so d img / d ws_i = 2 s ws_i (diagonal)."""

    def __init__(self, s: float):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(s, ))

    def forward(self, ws, force_fp32=False, fast_dtype=None):
        return (self.s * ws.square().sum(1)).reshape(-1, 1, 2, 2)


class ToyG(nn.Module):
    def __init__(self, a: float = 0.8, s: float = 0.5):
        super().__init__()
        self.mapping, self.synthesis = ToyMapping(a), ToySynthesis(s)


class ToyD(nn.Module):
    """D(x) = w * |x|^2 + b, so grad_x D = 2 w x."""

    def __init__(self, w: float = -0.3, b: float = 0.2):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, ))
        self.b = nn.Parameter(torch.tensor(b, ))

    def forward(self, img, c, force_fp32=False, fast_dtype=None):
        return (self.w * img.square().sum([1, 2, 3]) + self.b).unsqueeze(1)


def toy_loss(**kwargs):
    G, D = ToyG().requires_grad_(False), ToyD().requires_grad_(False)  # the trainer unfreezes one per phase
    reported: dict[str, torch.Tensor] = {}
    loss = StyleGAN2Loss(G, D, None, style_mixing_prob=0.0, report=lambda k, v: reported.setdefault(k, v.detach()),
                         **kwargs)
    gen = np.random.default_rng(3)  # float32 inputs, as the loss gets them; expected values in float64
    z = gen.standard_normal([8, 4]).astype(np.float32).astype(np.float64)
    real = gen.uniform(-1, 1, [8, 1, 2, 2]).astype(np.float32).astype(np.float64)
    return G, D, loss, reported, z, real


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tensors(*arrays):
    return [torch.from_numpy(np.asarray(x, np.float32)) for x in arrays]


def test_gmain_is_the_non_saturating_logistic_loss():
    """NVlabs Gmain: mean softplus(-D(G(z))) times gain, backpropagated into G only."""
    G, D, loss, reported, z, real = toy_loss()
    a, s, w, b = 0.8, 0.5, -0.3, 0.2
    gen_img = s * NUM_WS * (a * z) ** 2  # [N, 4]
    q = (gen_img ** 2).sum(1)
    logits = w * q + b
    G.requires_grad_(True)
    zt, realt = tensors(z, real)
    loss.accumulate_gradients("Gmain", realt, torch.zeros([8, 0]), zt, torch.zeros([8, 0]), gain=1.0)
    assert np.allclose(reported["Loss/G/loss"].numpy().ravel(), softplus(-logits), rtol=1e-5)
    # d/ds and d/da of mean softplus(-logit): logit - b = w * s^2 * (...) = w * a^4 * (...).
    dlogit = -sigmoid(-logits)
    assert G.synthesis.s.grad.item() == pytest.approx(np.mean(dlogit * 2 * w * q / s), rel=1e-5)
    assert G.mapping.a.grad.item() == pytest.approx(np.mean(dlogit * 4 * w * q / a), rel=1e-5)
    assert D.w.grad is None and D.b.grad is None


def test_dmain_is_softplus_fake_plus_softplus_minus_real():
    """NVlabs Dmain: mean softplus(D(G(z))) + mean softplus(-D(x)); G gets no gradient from it."""
    G, D, loss, reported, z, real = toy_loss()
    a, s, w, b = 0.8, 0.5, -0.3, 0.2
    q_fake = ((s * NUM_WS * (a * z) ** 2) ** 2).sum(1)
    q_real = (real ** 2).sum((1, 2, 3))
    fake, rl = w * q_fake + b, w * q_real + b
    D.requires_grad_(True)
    G.requires_grad_(True)
    zt, realt = tensors(z, real)
    gain = 2.0
    loss.accumulate_gradients("Dmain", realt, torch.zeros([8, 0]), zt, torch.zeros([8, 0]), gain=gain)
    assert np.allclose(reported["Loss/D/loss"].numpy().ravel(), softplus(fake) + softplus(-rl), rtol=1e-5)
    assert np.array_equal(reported["Loss/signs/real"].numpy().ravel(), np.sign(rl))
    expected_w = gain * (np.mean(sigmoid(fake) * q_fake) - np.mean(sigmoid(-rl) * q_real))
    expected_b = gain * (np.mean(sigmoid(fake)) - np.mean(sigmoid(-rl)))
    assert D.w.grad.item() == pytest.approx(expected_w, rel=1e-5)
    assert D.b.grad.item() == pytest.approx(expected_b, rel=1e-5)
    assert G.mapping.a.grad is None and G.synthesis.s.grad is None


def test_r1_is_half_gamma_times_the_squared_input_gradient_times_the_lazy_gain():
    """NVlabs Dr1: gamma/2 * |grad_x sum D(x)|^2 per real, mean, times gain = D_reg_interval; the double backward
    reaches D's weights (here d/dw of gain * gamma/2 * mean |2 w x|^2 = 4 gain gamma w mean |x|^2)."""
    gamma, gain = 3.0, 16.0
    G, D, loss, reported, z, real = toy_loss(r1_gamma=gamma)
    w = -0.3
    q_real = (real ** 2).sum((1, 2, 3))
    D.requires_grad_(True)
    zt, realt = tensors(z, real)
    loss.accumulate_gradients("Dreg", realt, torch.zeros([8, 0]), zt, torch.zeros([8, 0]), gain=gain)
    assert np.allclose(reported["Loss/r1_penalty"].numpy(), 4 * w ** 2 * q_real, rtol=1e-5)
    assert np.allclose(reported["Loss/D/reg"].numpy(), gamma / 2 * 4 * w ** 2 * q_real, rtol=1e-5)
    assert D.w.grad.item() == pytest.approx(4 * gain * gamma * w * np.mean(q_real), rel=1e-5)
    assert D.b.grad is None or D.b.grad.item() == 0.0


def test_path_length_penalty_and_running_mean():
    """NVlabs Gpl on half the batch: y = randn / sqrt(H*W), L = sqrt(mean_i |J_i^T y|^2) over the ws, m = lerp(pl_mean,
    mean L, decay) (with gradient), loss = pl_weight * (L - m)^2 times gain; pl_mean becomes m."""
    pl_weight, pl_decay, gain, m0 = 2.0, 0.01, 4.0, 0.7
    G, D, loss, reported, z, real = toy_loss(pl_weight=pl_weight, pl_decay=pl_decay, pl_batch_shrink=2)
    loss.pl_mean.fill_(m0)
    a, s = 0.8, 0.5
    torch.manual_seed(5)
    y = torch.randn([4, 1, 2, 2]).double().numpy().reshape(4, 4) / math.sqrt(2 * 2)
    # J_i^T y = 2 s ws_i * y with ws_i = a z, the same for every i: L = 2 s a |z * y|.
    lengths = 2 * s * a * np.sqrt(((z[:4] * y) ** 2).sum(1))
    m = m0 + pl_decay * (lengths.mean() - m0)
    penalty = (lengths - m) ** 2
    G.requires_grad_(True)
    zt, realt = tensors(z, real)
    torch.manual_seed(5)
    loss.accumulate_gradients("Greg", realt, torch.zeros([8, 0]), zt, torch.zeros([8, 0]), gain=gain)
    assert np.allclose(reported["Loss/pl_penalty"].numpy(), penalty, rtol=1e-5)
    assert np.allclose(reported["Loss/G/reg"].numpy(), pl_weight * penalty, rtol=1e-5)
    # L is linear in s and in a, m through mean L too: d/ds = gain * w * mean 2 (L - m) (L - decay * mean L) / s.
    dshared = gain * pl_weight * np.mean(2 * (lengths - m) * (lengths - pl_decay * lengths.mean()))
    assert G.synthesis.s.grad.item() == pytest.approx(dshared / s, rel=1e-5)
    assert G.mapping.a.grad.item() == pytest.approx(dshared / a, rel=1e-5)
    assert torch.equal(loss.pl_mean, torch.tensor(m0))  # the running mean moves once per phase
    loss.finish_phase()
    assert float(loss.pl_mean) == pytest.approx(m, rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# 4-5. Augmentation probability


def force_signs(trainer: Trainer, sign: float) -> None:
    """Replace the sign(D(real)) the loss reports with `sign`, leaving everything else as it is."""

    def forced(name, value):
        trainer._report(name, torch.full_like(value, sign) if name == "Loss/signs/real" else value)

    trainer.loss.report = forced


def test_fixed_augmentation_keeps_p():
    """NVlabs --aug fixed --p 0.3: augment_p = 0.3 and no ADA target, so p never moves, even when D overfits."""
    trainer = tiny_trainer(aug="fixed", p=0.3)
    assert trainer.cfg.ada_target is None and trainer.loss.augment_pipe is trainer.augment_pipe
    force_signs(trainer, 1.0)
    p0 = torch.tensor(0.3, dtype=torch.float32)
    for i in range(8):  # two ADA intervals
        trainer.step(*reals(seed=i))
        assert torch.equal(trainer.augment_pipe.p, p0)
    assert trainer.augment_p == float(p0)
    assert trainer.ada_signs.count > 0  # the forced signs were seen; only the update is off


def test_noaug_builds_no_pipe_and_d_sees_the_reals():
    """NVlabs --aug noaug: no augment pipe, p reported as 0, D gets the reals as they are."""
    trainer = tiny_trainer(aug="noaug")
    assert trainer.augment_pipe is None and trainer.loss.augment_pipe is None
    inputs = []
    trainer.D.register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach().clone()))
    img, c = reals()
    trainer.step(img, c)
    assert trainer.augment_p == 0.0
    expected = img.float() / 127.5 - 1
    assert any(x.shape == expected.shape and torch.allclose(x, expected, atol=1e-6) for x in inputs)


@pytest.mark.parametrize("batch, batch_gpu", [(4, 4), (8, 4)])
def test_ada_moves_p_by_one_adjustment_every_four_minibatches(batch, batch_gpu):
    """NVlabs ADA: every ada_interval (4) minibatches p += sign(r_t - target) * batch * 4 / (ada_kimg * 1000) with the
    global batch, clamped at 0 from below."""
    ada_kimg = 0.1
    trainer = tiny_trainer(batch=batch, batch_gpu=batch_gpu, ada_kimg=ada_kimg)
    assert trainer.cfg.ada_target == 0.6 and trainer.cfg.ada_interval == 4 and trainer.augment_p == 0.0
    step = batch * 4 / (ada_kimg * 1000)
    force_signs(trainer, 1.0)  # r_t = 1 > 0.6: up
    for i in range(4):
        trainer.step(*reals(batch, seed=i))
        expected = 0.0 if i < 3 else step
        assert torch.equal(trainer.augment_pipe.p, torch.tensor(expected, dtype=torch.float32)), i
    start = step / 4
    trainer.augment_pipe.p.fill_(start)
    force_signs(trainer, -1.0)  # r_t = -1 < 0.6: down, but not below 0
    for i in range(4):
        trainer.step(*reals(batch, seed=10 + i))
        expected = start if i < 3 else 0.0
        assert torch.equal(trainer.augment_pipe.p, torch.tensor(expected, dtype=torch.float32)), i
