"""StyleGAN2 loss phases with StyleGAN2-ADA's maths and hyperparameters.

Gmain: non-saturating logistic loss softplus(-D(G(z))). Greg: path-length regularisation on a batch shrunk by
`pl_batch_shrink`, with a running mean `pl_mean` (decay 0.01) and weight 2. Dmain: softplus(D(G(z))) +
softplus(-D(x)). Dreg: R1 = gamma/2 * |grad_x D(x)|^2 on reals. Style mixing swaps the ws after a random cutoff with
probability 0.9. Reals and fakes go through the augment pipe before D (R1's gradient is taken w.r.t. the
un-augmented reals). The main passes run G and D with `main_dtype` (e.g. bf16 fast ops), the regularisers with
`reg_dtype` (fp32), so the precision of the cheap passes never touches R1 and path length; None is the exact path.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")

Report = Callable[[str, torch.Tensor], None]
Reduce = Callable[[torch.Tensor], torch.Tensor]


class StyleGAN2Loss:
    """Accumulates the gradients of one phase for one chunk of the batch (the caller zeroes and steps)."""

    def __init__(self, G: nn.Module, D: nn.Module, augment_pipe: nn.Module | None = None, r1_gamma: float = 10.0,
                 style_mixing_prob: float = 0.9, pl_weight: float = 2.0, pl_batch_shrink: int = 2,
                 pl_decay: float = 0.01, force_fp32: bool = False, main_dtype: torch.dtype | None = None,
                 reg_dtype: torch.dtype | None = None, report: Report | None = None,
                 mean_over_ranks: Reduce | None = None):
        self.G, self.D, self.augment_pipe = G, D, augment_pipe
        self.r1_gamma, self.style_mixing_prob = r1_gamma, style_mixing_prob
        self.pl_weight, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_batch_shrink, pl_decay
        self.force_fp32, self.main_dtype, self.reg_dtype = force_fp32, main_dtype, reg_dtype
        self.report = report or (lambda name, value: None)
        self.mean_over_ranks = mean_over_ranks or (lambda t: t)
        self.pl_mean = torch.zeros([], device=next(G.parameters()).device)
        self._w_means: list[torch.Tensor] = []
        self._pl_means: list[torch.Tensor] = []

    def run_G(self, z: torch.Tensor, c: torch.Tensor,
              fast_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """G(z) with style mixing. The main mapping pass feeds w_avg (see `finish_phase`), the mixing pass not."""
        ws = self.G.mapping(z, c, update_emas=False)
        self._w_means.append(ws[:, 0].detach().float().mean(dim=0))
        num_ws = ws.shape[1]
        if self.style_mixing_prob > 0 and num_ws > 1:
            cutoff = int(torch.randint(1, num_ws, []))
            if float(torch.rand([])) < self.style_mixing_prob:
                mixed = self.G.mapping(torch.randn_like(z), c, update_emas=False)
                ws = torch.cat([ws[:, :cutoff], mixed[:, cutoff:]], dim=1)
        return self.G.synthesis(ws, force_fp32=self.force_fp32, fast_dtype=fast_dtype), ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor, fast_dtype: torch.dtype | None = None) -> torch.Tensor:
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return self.D(img, c, force_fp32=self.force_fp32, fast_dtype=fast_dtype).float()

    def accumulate_gradients(self, phase: str, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor,
                             gen_c: torch.Tensor, gain: float = 1.0) -> None:
        """Backpropagate `gain` times the phase's mean loss over this chunk into the .grad of the parameters."""
        if phase == "Gmain":
            self._g_main(gen_z, gen_c, gain)
        elif phase == "Greg":
            if self.pl_weight != 0:
                self._g_pl(gen_z, gen_c, gain)
        elif phase == "Dmain":
            self._d_main(real_img, real_c, gen_z, gen_c, gain)
        elif phase == "Dreg":
            if self.r1_gamma != 0:
                self._d_r1(real_img, real_c, gain)
        else:
            raise ValueError(f"unknown loss phase {phase!r} (expected one of {', '.join(PHASES)})")

    @torch.no_grad()
    def finish_phase(self) -> None:
        """Update the running means once per phase from every chunk on every rank: w_avg (beta = w_avg_beta) and
        pl_mean (decay 0.01). One update per phase, from the mean over the whole global batch, is what makes N
        ranks and one process with N rounds train identically (NVlabs updates per chunk and per rank, so its
        ranks drift apart in these two buffers)."""
        mapping = self.G.mapping
        if self._w_means and getattr(mapping, "w_avg_beta", None) is not None:
            w_mean = self.mean_over_ranks(torch.stack(self._w_means).mean(dim=0))
            mapping.w_avg.copy_(w_mean.lerp(mapping.w_avg, mapping.w_avg_beta))
        if self._pl_means:
            pl_mean = self.mean_over_ranks(torch.stack(self._pl_means).mean())
            self.pl_mean.copy_(self.pl_mean.lerp(pl_mean, self.pl_decay))
        self._w_means.clear()
        self._pl_means.clear()

    def _g_main(self, gen_z, gen_c, gain):
        gen_img, _ = self.run_G(gen_z, gen_c, self.main_dtype)
        gen_logits = self.run_D(gen_img, gen_c, self.main_dtype)
        self.report("Loss/scores/fake", gen_logits)
        self.report("Loss/signs/fake", gen_logits.sign())
        loss = F.softplus(-gen_logits)
        self.report("Loss/G/loss", loss)
        loss.mean().mul(gain).backward()

    def _g_pl(self, gen_z, gen_c, gain):
        n = gen_z.shape[0] // self.pl_batch_shrink
        gen_img, gen_ws = self.run_G(gen_z[:n], gen_c[:n], self.reg_dtype)
        pl_noise = torch.randn_like(gen_img) / math.sqrt(gen_img.shape[2] * gen_img.shape[3])
        (pl_grads,) = torch.autograd.grad(outputs=[(gen_img * pl_noise).sum()], inputs=[gen_ws], create_graph=True)
        pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(pl_lengths.mean(), self.pl_decay)
        self._pl_means.append(pl_lengths.mean().detach())
        pl_penalty = (pl_lengths - pl_mean).square()
        self.report("Loss/pl_penalty", pl_penalty)
        loss = pl_penalty * self.pl_weight
        self.report("Loss/G/reg", loss)
        loss.mean().mul(gain).backward()

    def _d_main(self, real_img, real_c, gen_z, gen_c, gain):
        with torch.no_grad():
            gen_img, _ = self.run_G(gen_z, gen_c, self.main_dtype)
        gen_logits = self.run_D(gen_img, gen_c, self.main_dtype)
        self.report("Loss/scores/fake", gen_logits)
        self.report("Loss/signs/fake", gen_logits.sign())
        loss_gen = F.softplus(gen_logits)
        loss_gen.mean().mul(gain).backward()
        real_logits = self.run_D(real_img.detach(), real_c, self.main_dtype)
        self.report("Loss/scores/real", real_logits)
        self.report("Loss/signs/real", real_logits.sign())
        loss_real = F.softplus(-real_logits)
        self.report("Loss/D/loss", loss_gen.detach() + loss_real.detach())
        loss_real.mean().mul(gain).backward()

    def _d_r1(self, real_img, real_c, gain):
        real = real_img.detach().requires_grad_(True)
        real_logits = self.run_D(real, real_c, self.reg_dtype)
        (r1_grads,) = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real], create_graph=True)
        self.report("Loss/scores/real", real_logits)
        self.report("Loss/signs/real", real_logits.sign())
        r1_penalty = r1_grads.square().sum([1, 2, 3])
        self.report("Loss/r1_penalty", r1_penalty)
        loss = r1_penalty * (self.r1_gamma / 2)
        self.report("Loss/D/reg", loss)
        loss.mean().mul(gain).backward()
