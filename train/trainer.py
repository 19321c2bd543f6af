"""One StyleGAN2-ADA training step and the state it needs: networks, Adam, EMA, ADA, counters.

A minibatch runs the phases Gmain, Greg (every 4th), Dmain, Dreg (every 16th), each over `rounds` chunks of
`batch_gpu` images on each rank, then an EMA update of G_ema and, every 4th minibatch, an ADA update of p.
Lazy regularisation keeps Adam consistent with its schedule: a phase that also has a lazy regulariser every k
steps uses lr * k/(k+1) and betas ** (k/(k+1)), and the regulariser's loss is scaled by k (NVlabs).

Randomness: before each chunk, torch's generators are seeded from (seed, minibatch, phase, chunk). Latents,
noise inputs, style-mixing cutoffs, augmentations and path-length noise are therefore a function of where the
chunk is in training, not of how many ranks share the batch or whether the run was resumed.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from model import fast
from model.networks import Discriminator, Generator
from model.spec import PRECISIONS

from .augment import AugmentPipe, ada_adjust
from .config import ConfigError, TrainConfig
from .distributed import Dist, average_gradients
from .loss import StyleGAN2Loss
from .state import capture_rng, optimizer_from_state, optimizer_to_state, restore_rng
from .stats import SignAverage, StatsCollector


@dataclass
class Phase:
    name: str
    module: nn.Module
    opt: torch.optim.Optimizer
    interval: int
    seconds: list[float] = field(default_factory=list)


def resolve_precision(precision: str, device: torch.device) -> str:
    """auto -> fp16 on CUDA (NVlabs' mixed precision); on the CPU bf16 where model.fast says it pays (a demo-config
    step 1.6x faster with AMX, 1.5x with AMD's AVX512-BF16, 0.87x on an Intel VM that hides AMX:
    benchmarks/train.py), else fp32; fp16 needs CUDA."""
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if device.type == "cpu" and fast.choose_precision(device) == "bf16" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA device (use bf16 or fp32 on the CPU)")
    return precision


def precision_dtypes(precision: str) -> tuple[torch.dtype | None, torch.dtype | None]:
    """fast_dtype of (main passes, regularisers). 'exact' (None) is NVlabs' op order in fp32; the others use
    model.fast's mathematically equal ops, with the main passes in the chosen dtype and the regularisers in fp32."""
    if precision == "exact":
        return None, None
    return fast.DTYPES[precision], torch.float32


def chunk_seed(seed: int, batch_idx: int, phase_idx: int, chunk: int) -> int:
    return int(np.random.SeedSequence([seed, batch_idx, phase_idx, chunk]).generate_state(1, np.uint64)[0])


def build_augment_pipe(cfg: TrainConfig, device: torch.device) -> nn.Module | None:
    if cfg.augment == "noaug":
        return None
    pipe = AugmentPipe.from_preset(cfg.augpipe).train().requires_grad_(False).to(device)
    pipe.p.copy_(torch.as_tensor(cfg.augment_p))
    return pipe


class Trainer:
    """Owns G, D, G_ema, the optimisers, the loss and the counters of one rank."""

    def __init__(self, cfg: TrainConfig, labels: np.ndarray, device: torch.device, d: Dist | None = None):
        self.cfg, self.device, self.d = cfg, device, d or Dist()
        # Rank 0's choice on every rank: where a timing probe decides on bf16, each process's probe could differ.
        self.precision = PRECISIONS[self.d.from_main(PRECISIONS.index(resolve_precision(cfg.precision, device)))]
        self.rounds = cfg.batch_size // (cfg.batch_gpu * self.d.world_size)
        if self.rounds < 1 or cfg.batch_size % (cfg.batch_gpu * self.d.world_size):
            raise ConfigError(f"batch {cfg.batch_size} does not split into rounds of {cfg.batch_gpu} on "
                              f"{self.d.world_size} process(es)")
        torch.manual_seed(cfg.random_seed)  # identical initial networks on every rank
        self.G = Generator(**cfg.G_kwargs).train().requires_grad_(False).to(device)
        self.D = Discriminator(**cfg.D_kwargs).train().requires_grad_(False).to(device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.augment_pipe = build_augment_pipe(cfg, device)
        self.labels = torch.from_numpy(np.asarray(labels, np.float32)).to(device)
        self.stats = StatsCollector()
        self.ada_signs = SignAverage()
        main_dtype, reg_dtype = precision_dtypes(self.precision)
        self.loss = StyleGAN2Loss(self.G, self.D, self.augment_pipe, **cfg.loss_kwargs,
                                  force_fp32=self.precision == "exact", main_dtype=main_dtype,
                                  reg_dtype=reg_dtype, report=self._report, mean_over_ranks=self.d.mean)
        self.phases = self._make_phases()
        self.cur_nimg = 0
        self.batch_idx = 0

    def _make_phases(self) -> list[Phase]:
        cfg = self.cfg
        phases = []
        for name, module, opt_kwargs, interval in [("G", self.G, cfg.G_opt_kwargs, cfg.G_reg_interval),
                                                   ("D", self.D, cfg.D_opt_kwargs, cfg.D_reg_interval)]:
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=opt_kwargs["lr"] * ratio,
                                   betas=tuple(b ** ratio for b in opt_kwargs["betas"]), eps=opt_kwargs["eps"])
            phases.append(Phase(f"{name}main", module, opt, 1))
            phases.append(Phase(f"{name}reg", module, opt, interval))
        return phases

    def _report(self, name: str, value: torch.Tensor) -> None:
        self.stats.report(name, value)
        if name == "Loss/signs/real":
            self.ada_signs.add(value)

    @property
    def augment_p(self) -> float:
        return float(self.augment_pipe.p) if self.augment_pipe is not None else 0.0

    def step(self, real_img: torch.Tensor, real_c: torch.Tensor) -> None:
        """One minibatch: this rank's uint8 reals [rounds * batch_gpu, C, H, W] and their labels."""
        cfg = self.cfg
        real_img = (real_img.to(self.device).to(torch.float32) / 127.5 - 1).split(cfg.batch_gpu)
        real_c = real_c.to(self.device).split(cfg.batch_gpu)
        for phase_idx, phase in enumerate(self.phases):
            if self.batch_idx % phase.interval != 0:
                continue
            if phase.name == "Greg" and cfg.loss_kwargs["pl_weight"] == 0:
                continue
            if phase.name == "Dreg" and cfg.loss_kwargs["r1_gamma"] == 0:
                continue
            start = time.perf_counter()
            phase.opt.zero_grad(set_to_none=True)
            phase.module.requires_grad_(True)
            for j in range(self.rounds):
                torch.manual_seed(chunk_seed(cfg.random_seed, self.batch_idx, phase_idx,
                                             self.d.rank * self.rounds + j))
                gen_z = torch.randn([cfg.batch_gpu, self.G.z_dim], device=self.device)
                gen_c = self._sample_labels(cfg.batch_gpu)
                self.loss.accumulate_gradients(phase.name, real_img[j], real_c[j], gen_z, gen_c,
                                               gain=phase.interval / self.rounds)
            phase.module.requires_grad_(False)
            self.loss.finish_phase()
            average_gradients(list(phase.module.parameters()), self.d)
            phase.opt.step()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            phase.seconds.append(time.perf_counter() - start)
        self._update_ema()
        self.cur_nimg += cfg.batch_size
        self.batch_idx += 1
        self._update_ada()

    def _sample_labels(self, n: int) -> torch.Tensor:
        if self.G.c_dim == 0:
            return torch.zeros([n, 0], device=self.device)
        return self.labels[torch.randint(len(self.labels), [n]).to(self.device)]

    @torch.no_grad()
    def _update_ema(self) -> None:
        cfg = self.cfg
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    @torch.no_grad()
    def _update_ada(self) -> None:
        cfg = self.cfg
        if self.augment_pipe is None or cfg.ada_target is None or self.batch_idx % cfg.ada_interval != 0:
            return
        r_t = self.ada_signs.take(self.d.sum)
        if r_t is None:
            return
        p = ada_adjust(self.augment_p, r_t, cfg.ada_target, cfg.batch_size * cfg.ada_interval, cfg.ada_kimg)
        self.augment_pipe.p.fill_(p)

    # -----------------------------------------------------------------------------------------------------
    # Starting points and the exact-resume state

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def copy_matching(self, networks: dict[str, nn.Module]) -> int:
        """Transfer learning as NVlabs does it: copy every parameter and buffer whose name and shape match (e.g. a
        pretrained unconditional G into a conditional one keeps its fresh label embedding). Returns the count."""
        copied = 0
        for name, net in self.networks().items():
            if name not in networks:
                continue
            src = networks[name].state_dict()
            dst = net.state_dict()
            with torch.no_grad():
                for key, t in dst.items():
                    if key in src and src[key].shape == t.shape:
                        t.copy_(src[key])
                        copied += 1
        return copied

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything an exact resume needs, networks included, as (tensors, JSON scalars)."""
        tensors, scalars = {}, {}
        for name, net in self.networks().items():
            tensors.update({f"net.{name}.{k}": t.to(torch.float32) for k, t in net.state_dict().items()})
        for key, opt in (("G_opt", self.phases[0].opt), ("D_opt", self.phases[2].opt)):
            t, s = optimizer_to_state(key, opt)
            tensors.update(t)
            scalars[key] = s
        tensors["pl_mean"] = self.loss.pl_mean
        if self.augment_pipe is not None:
            tensors["augment_p"] = self.augment_pipe.p
        rng_t, rng_s = capture_rng()
        tensors.update(rng_t)
        scalars.update(rng_s)
        scalars.update(cur_nimg=self.cur_nimg, batch_idx=self.batch_idx, ada_signs=[self.ada_signs.total,
                                                                                     self.ada_signs.count])
        return tensors, scalars

    def load_state(self, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
        for name, net in self.networks().items():
            prefix = f"net.{name}."
            net.load_state_dict({k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)}, strict=True)
        optimizer_from_state("G_opt", self.phases[0].opt, tensors, scalars["G_opt"])
        optimizer_from_state("D_opt", self.phases[2].opt, tensors, scalars["D_opt"])
        self.loss.pl_mean.copy_(tensors["pl_mean"])
        if self.augment_pipe is not None and "augment_p" in tensors:
            self.augment_pipe.p.copy_(tensors["augment_p"])
        restore_rng(tensors, scalars)
        self.cur_nimg, self.batch_idx = int(scalars["cur_nimg"]), int(scalars["batch_idx"])
        self.ada_signs.total, self.ada_signs.count = scalars["ada_signs"]

    def broadcast(self) -> None:
        """Rank 0's networks and ADA p everywhere (cheap insurance; every rank built or loaded the same)."""
        for net in self.networks().values():
            self.d.broadcast_module(net)
        if self.augment_pipe is not None:
            self.d.broadcast_module(self.augment_pipe)
